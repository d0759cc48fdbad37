"""The real CLI with ``SHITSHOVELA_SOURCE=graph``: the plugin is listed, and a run moves a
folder's messages into tickets (list, claim, read the MIME, create, delete, unflag)."""

from __future__ import annotations

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
