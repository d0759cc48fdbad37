"""End to end: the real ``shitshovela run`` with the example in-house plugin
(``spool`` -> ``jsonl``) and a real Pushgateway, read back from its /metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from shitshovela_prometheus import metrics
from shitshovela_testkit.faultproxy import FaultProxy, Hang, Script
from shitshovela_testservers.pushgateway import Pushgateway

pytestmark = pytest.mark.e2e

PASSWORD = "0x1F s3cr3t"


def shitshovela_run(
    tmp_path: Path, gateway_url: str, *, timeout: float = 60, **extra: str
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, object]], float]:
    """Run the job as a process; return it, its JSON log events and its wall time."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHITSHOVELA_")}
    env.update(
        SHITSHOVELA_SOURCE="spool",
        SHITSHOVELA_TICKET_SYSTEM="jsonl",
        SHITSHOVELA_INSTANCE="inhouse",
        SHITSHOVELA_SPOOL__PATH=str(tmp_path / "spool"),
        SHITSHOVELA_JSONL__PATH=str(tmp_path / "tickets.jsonl"),
        SHITSHOVELA_LOG_FORMAT="json",
        SHITSHOVELA_PROMETHEUS__PUSHGATEWAY=gateway_url,
        SHITSHOVELA_PROMETHEUS__USERNAME="pusher",
        SHITSHOVELA_PROMETHEUS__PASSWORD=PASSWORD,
    )
    env.update(extra)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "shitshovela_core", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert PASSWORD not in result.stdout + result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result, events, elapsed


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    folder = tmp_path / "spool"
    folder.mkdir()
    (folder / "001-disk.txt").write_text("Disk almost full on db1\nFrom: monitor@db.example.com\n")
    (folder / "002-net.txt").write_text("Packet loss on uplink 2\n3% loss\n")
    (folder / "003-empty.txt").write_text("")  # poison: set aside
    return folder


def test_a_run_then_a_failed_run_as_the_pushgateway_sees_them(
    gateway: Pushgateway, spool: Path, tmp_path: Path
) -> None:
    result, events, _ = shitshovela_run(tmp_path, gateway.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert events[-1]["event"] == "run_finished"
    assert [e["hook"] for e in events if e["event"] == "metrics_pushed"] == [
        "run_started",
        "run_ended",
    ]
    first = gateway.group("inhouse")
    assert first[metrics.EXIT_CODE] == 0
    assert first[metrics.COUNTS["created"]] == 2
    assert first[metrics.COUNTS["set_aside"]] == 1
    assert first[metrics.MAX_RUNTIME] == 600
    assert first[metrics.DURATION] == pytest.approx(events[-1]["duration"], abs=0.002)
    assert first[metrics.SUCCESS] == first[metrics.FINISHED]

    # The next run fails: its ticket system cannot be read (a folder, not a file).
    (spool / "004-later.txt").write_text("Later alert\n")
    broken = tmp_path / "broken"
    broken.mkdir()
    result, events, _ = shitshovela_run(tmp_path, gateway.url, SHITSHOVELA_JSONL__PATH=str(broken))
    assert result.returncode not in (0, 2), result.stdout
    assert events[-1]["event"] == "run_failed"
    second = gateway.group("inhouse")
    assert second[metrics.EXIT_CODE] == result.returncode
    assert second[metrics.SUCCESS] == first[metrics.SUCCESS]
    assert second[metrics.FINISHED] > first[metrics.FINISHED]
    assert second[metrics.STARTED] > first[metrics.STARTED]
    assert second[metrics.COUNTS["created"]] == 0


@pytest.mark.alone
def test_a_hung_pushgateway_changes_nothing_but_two_warnings(
    gateway: Pushgateway, spool: Path, tmp_path: Path
) -> None:
    # The start push is cut after a tenth of the time left (0.35 s), the end push
    # after TIMEOUT; test_push.py shows a push cut by the deadline itself.
    with FaultProxy(("127.0.0.1", gateway.port), Script(default=Hang())) as proxy:
        result, events, elapsed = shitshovela_run(
            tmp_path,
            proxy.url,
            SHITSHOVELA_MAX_RUNTIME="4",
            SHITSHOVELA_PROMETHEUS__TIMEOUT="1.5",
            timeout=30,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert events[-1]["event"] == "run_finished"
    assert events[-1]["created"] == 2
    failed = [e for e in events if e["level"] in ("warning", "error")]
    kinds = [(e["event"], e.get("hook")) for e in failed if e["event"] != "item_set_aside"]
    assert kinds == [("metrics_push_failed", "run_started"), ("metrics_push_failed", "run_ended")]
    assert 1.8 < elapsed < 4.0, elapsed  # measured from outside the process
    assert gateway.samples() == {}
