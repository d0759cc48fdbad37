"""Setting aside (I12): poison messages moved to ``SET_ASIDE_FOLDER``, made if missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphkit import cli_env, graph_source, mail, run_cli
from shitshovela_graph.folders import Folders
from shitshovela_graph_emulator import GraphEmulator
from shitshovela_testkit.fakes import FakeTracker, fake_tickets
from shitshovela_testkit.runs import run_once

pytestmark = pytest.mark.servers

AUTO_REPLY = [("Auto-Submitted", "auto-replied")]


def test_the_set_aside_folder_is_made_once_even_nested(graph: GraphEmulator) -> None:
    first = graph.seed_message(mail("Out of office", headers=AUTO_REPLY))
    second = graph.seed_message(mail("Away", headers=AUTO_REPLY))
    source = graph_source(graph, SET_ASIDE_FOLDER="Triage/Set aside")
    summary = run_once(source, fake_tickets(FakeTracker()))
    assert summary.set_aside == 2 and summary.created == 0
    folder = graph.folder("Triage/Set aside")
    assert {m.id for m in graph.messages(folder.id)} == {first.id, second.id}
    creates = [r for r in graph.requests if r.method == "POST" and "Folders" in r.path]
    assert len(creates) == 2, "Triage, then Set aside: each once"


def test_a_folder_another_run_made_meanwhile_is_read_again(
    graph: GraphEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded = graph.seed_message(mail("Out of office", headers=AUTO_REPLY))
    graph.create_folder("ShitShovela-Set-Aside")
    looked: list[str] = []
    found = Folders._child

    def missed_once(self: Folders, parent: str | None, name: str) -> str | None:
        looked.append(name)
        return None if len(looked) == 1 else found(self, parent, name)  # it appears after

    monkeypatch.setattr(Folders, "_child", missed_once)
    summary = run_once(graph_source(graph), fake_tickets(FakeTracker()))
    assert summary.set_aside == 1
    statuses = [r.status for r in graph.requests if r.method == "POST" and "Folders" in r.path]
    assert statuses == [409], "ErrorFolderExists: read again, not a failure"
    assert graph.message(seeded.id).folder == "ShitShovela-Set-Aside"


def test_without_a_set_aside_folder_a_poison_message_stops_the_run_naming_it(
    graph: GraphEmulator, tmp_path: Path
) -> None:
    seeded = graph.seed_message(mail("Out of office", headers=AUTO_REPLY))
    result = run_cli("run", cli_env(graph, tmp_path, SET_ASIDE_FOLDER=""))
    assert result.returncode == 5, result.output
    assert seeded.id in result.last()["reason"]
    assert "SHITSHOVELA_GRAPH__SET_ASIDE_FOLDER" in result.output
    assert graph.message(seeded.id).folder == "inbox"
