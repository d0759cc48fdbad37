"""The real CLI with ``SHITSHOVELA_SOURCE=graph``: the plugin is listed, and a run moves a
folder's messages into tickets (list, claim, read the MIME, create, delete, unflag)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from graphkit import cli_env, mail, run_cli, tickets
from shitshovela_graph_emulator import GraphEmulator


@pytest.mark.servers
def test_a_run_moves_every_message_into_one_ticket_each(
    graph: GraphEmulator, tmp_path: Path
) -> None:
    graph.seed_message(mail("Disk full on db-1", attachments=[("df.txt", b"100%", "text/plain")]))
    graph.seed_message(mail("Backup failed"))
    env = cli_env(graph, tmp_path)
    result = run_cli("run", env)
    assert result.returncode == 0, result.output
    made = tickets(tmp_path)
    assert sorted(t["title"] for t in made) == ["Backup failed", "Disk full on db-1"]
    assert graph.messages("inbox") == []
    assert len(graph.messages("deleteditems")) == 2
    again = run_cli("run", env)
    assert again.returncode == 0 and len(tickets(tmp_path)) == 2


@pytest.mark.servers
def test_plugins_lists_the_graph_source_and_its_settings(
    graph: GraphEmulator, tmp_path: Path
) -> None:
    result = run_cli("plugins --json", cli_env(graph, tmp_path))
    assert result.returncode == 0, result.output
    listed = json.loads(result.stdout)
    graph_source = next(p for p in listed["providers"] if p["name"] == "graph")
    assert graph_source["kind"] == "source"
    names = {s["env"].removeprefix("SHITSHOVELA_GRAPH__") for s in graph_source["settings"]}
    assert {"MAILBOX", "FOLDER", "DONE", "DONE_FOLDER", "SET_ASIDE_FOLDER", "URL", "RATE"} <= names
    assert {"TOKEN_FROM", "TENANT", "CLIENT_ID", "CLIENT_SECRET", "CERTIFICATE"} <= names


@pytest.mark.servers
def test_a_bad_configuration_exits_2_naming_each_variable_before_anything_is_contacted(
    graph: GraphEmulator, tmp_path: Path
) -> None:
    env = cli_env(
        graph,
        tmp_path,
        TOKEN_FROM="google",
        ACCESS_TOKEN="",
        SERVICE_ACCOUNT_KEY="",
        URL="http://graph.example.com/v1.0",
        DONE="move",
        SET_ASIDE_FOLDER="inbox",
    )
    for command in ("run", "check"):
        result = run_cli(command, env)
        assert result.returncode == 2, result.output
        for name in ("TOKEN_FROM", "URL", "DONE_FOLDER", "SET_ASIDE_FOLDER"):
            assert f"SHITSHOVELA_GRAPH__{name}" in result.output, name
        assert "Microsoft identity platform" in result.output
    del env["SHITSHOVELA_GRAPH__MAILBOX"]
    result = run_cli("run", env)
    assert result.returncode == 2 and "SHITSHOVELA_GRAPH__MAILBOX is not set" in result.output
    assert graph.requests == []
