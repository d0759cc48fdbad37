"""Two and three runs of one S3 instance at once (I2): a double schedule, a manual run during
a cron run, a replaced pod whose predecessor still runs.

The real CLI, moto's S3 and the Jira emulator. The runs start at the same moment, and
the test makes sure they overlap without sleeping: every ticket create waits at the
Jira emulator until each run has sent its opening S3 request (the lease it takes, or,
for a job without a lease, its listing). Then every object must be exactly one ticket,
no flag left, the bucket empty, every run exit 0, and every run but one must have found
the lease held ("busy: ...") and touched nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import pytest
from crashkit import S3Side, Scenario, row
from shitshovela_testkit.faultproxy import Event, Fault, RequestEvent

pytestmark = pytest.mark.e2e

ITEMS = 30
#: How long a create waits for the runs to show up before it goes ahead anyway (a run
#: that never came then fails the test's own checks); far below the job's call timeout.
GATE_TIMEOUT = 20.0


class StartTogether:
    """Holds the job's ticket creates until ``runs`` runs have each sent their opening
    S3 request: a lease PUT, or (a job without a lease) a listing."""

    def __init__(self, runs: int) -> None:
        self.runs = runs
        self.opened = threading.Event()
        self.leases = 0
        self.listings = 0
        self._lock = threading.Lock()

    def s3_request(self, event: Event) -> Fault | None:
        """A fault-proxy listener on the S3 side: count the opening requests."""
        if isinstance(event, RequestEvent):
            target = unquote(event.target)
            with self._lock:
                if event.method == "PUT" and ".shitshovela-lease-" in target:
                    self.leases += 1
                elif event.method == "GET" and "list-type=2" in target:
                    self.listings += 1
                if max(self.leases, self.listings) >= self.runs:
                    self.opened.set()
        return None

    def hold_creates(self, handle: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """Wrap the emulator's request handler (it runs in the connection's thread)."""

        def held(request: Any) -> Any:
            if request.method == "POST" and request.path.rstrip("/").endswith("/issue"):
                self.opened.wait(GATE_TIMEOUT)
            return handle(request)

        return held


def last_reason(output: str) -> str:
    """The ``reason`` of the run's last JSON log line that has one."""
    for line in reversed(output.splitlines()):
        try:
            fields = json.loads(line)
        except ValueError:
            continue
        if isinstance(fields, dict) and "reason" in fields:
            return str(fields["reason"])
    return ""


@pytest.mark.parametrize("runs", [2, 3])
def test_runs_of_one_s3_instance_started_together_ticket_each_object_once(
    moto: Any, runs: int
) -> None:
    with Scenario(S3Side(moto)) as scenario:
        scenario.seed(ITEMS)
        gate = StartTogether(runs)
        assert scenario.source.proxy is not None
        scenario.source.proxy.on_event(gate.s3_request)
        scenario.jira.handle = gate.hold_creates(scenario.jira.handle)  # type: ignore[method-assign]
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "shitshovela_core", "run"],
                env=scenario.env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(runs)
        ]
        outputs = []
        for process in processes:
            out, err = process.communicate(timeout=180)
            outputs.append((process.returncode, out + err))
        scenario.outputs += [output for _, output in outputs]
        verdict = scenario.verdict()
        row(f"s3 -> jira, {runs} runs at once").add(verdict, schedule=True)
        assert verdict.problems == [], verdict.problems
        assert [code for code, _ in outputs] == [0] * runs, [o[-2000:] for _, o in outputs]
        reasons = sorted(last_reason(output) for _, output in outputs)
        busy = [r for r in reasons if r.startswith("busy:")]
        assert len(busy) == runs - 1, reasons
