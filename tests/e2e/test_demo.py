"""The README's first command: the demo runs the real job and shows its result."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def demo(*form: str, path: str = "/usr/bin:/bin") -> str:
    """Run ``examples/demo.py`` in ``form`` as the README's first command does; its
    output, after checking that it exited 0."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py"), *form],
        capture_output=True, text=True, timeout=180, check=False,
        env={"PATH": path, "SHITSHOVELA_LOG_FORMAT": "console"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_demo_moves_the_bucket_into_jira() -> None:
    out = demo()
    assert "OPS-3" in out and "OPS-4" not in out
    assert "'Disk almost full on db1'" in out
    assert "set-aside/alerts/core-dump.bin" in out
    assert "drained: the source is empty" in out
    assert "demo-secret-key" not in out and "demo-api-token" not in out


def test_demo_imap_moves_the_mailbox_into_jira() -> None:
    out = demo("--imap", path="/usr/bin:/bin:/usr/sbin:/sbin")
    assert "OPS-2" in out and "OPS-3" not in out
    assert "components=['Databases']" in out  # the example plugin's hook took part
    assert "auto-reply" in out  # the out-of-office was set aside
    assert "demo-password" not in out


def test_demo_github_moves_the_bucket_into_github() -> None:
    out = demo("--github")
    assert "reader has no push access to acme/ops-inbox" in out
    assert "exit code 3 (stopped before anything changed)" in out
    assert "#3 " in out and "#4 " not in out
    assert "'Disk almost full on db1'" in out and "by ops-bot" in out
    assert "set-aside/alerts/core-dump.bin" in out
    assert "drained: the source is empty" in out
    assert "ghp_demo" not in out and "demo-secret-key" not in out


def test_demo_graph_moves_the_mailbox_into_jira() -> None:
    out = demo("--graph")
    assert "OPS-3" in out and "OPS-4" not in out
    assert "'Disk almost full on db1'" in out
    assert "components=['Databases']" in out  # the example plugin's hook took part
    assert "attachment failed-logins-week-47.csv" in out
    assert "Set aside: 1 message(s)" in out and "'Automatic reply: Packet loss" in out
    assert "Inbox: 0 message(s)" in out and "Deleted Items: 3 message(s)" in out
    assert "matched Graph's excerpt" in out
    assert "drained: the source is empty" in out
    assert "demo-graph-client-secret" not in out and "demo-api-token" not in out
