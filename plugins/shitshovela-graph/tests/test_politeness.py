"""Politeness by Graph's rules (I6) and the deadline (I5).

Requests go one at a time, at most ``RATE`` a second; a ``429`` or ``503`` with
``Retry-After`` is waited out before anything else is sent to that mailbox, or
the run stops when the wait does not fit; the run never outlives its deadline.
(A failed delete is read again before it is sent again: ``test_exact_delete``.)
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from graphkit import cli_env, graph_source, mail, run_cli, tickets
from shitshovela_graph_emulator import DEFAULT_APP_ID, GraphEmulator, Throttling
from shitshovela_testkit.fakes import FakeTracker, fake_tickets
from shitshovela_testkit.runs import run_once

from shitshovela_core.deadline import Budget

pytestmark = pytest.mark.servers

#: Loopback jitter forgiven when measuring gaps between arrivals.
JITTER = 0.02


def gaps(graph: GraphEmulator) -> list[float]:
    times = [r.time for r in graph.requests]
    return [b - a for a, b in itertools.pairwise(times)]


def test_requests_keep_the_rate_one_at_a_time(graph: GraphEmulator) -> None:
    for n in range(3):
        graph.seed_message(mail(f"Alert {n}"))
    summary = run_once(graph_source(graph, RATE=10), fake_tickets(FakeTracker()))
    assert summary.created == 3
    assert len(graph.requests) >= 12
    assert min(gaps(graph)) >= 0.1 - JITTER
    assert graph.usage(DEFAULT_APP_ID).in_flight == 0


def test_429_and_503_with_retry_after_are_waited_out(graph: GraphEmulator) -> None:
    graph.seed_message(mail("Throttled"))
    graph.faults.throttle(2, retry_after=1)  # the folder lookup and its repeat
    tracker = FakeTracker()
    summary = run_once(graph_source(graph), fake_tickets(tracker))
    assert summary.created == 1
    statuses = [r.status for r in graph.requests]
    assert statuses[:3] == [429, 429, 200]
    assert all(gap >= 1.0 - JITTER for gap in gaps(graph)[:2]), "Retry-After honoured"
    graph.seed_message(mail("Busy"))
    before = len(graph.requests)
    graph.faults.unavailable(1, retry_after=1)
    summary = run_once(graph_source(graph), fake_tickets(tracker))
    assert summary.created == 1 and graph.requests[before].status == 503
    assert gaps(graph)[before] >= 1.0 - JITTER


def test_the_mailbox_budget_is_kept_by_waiting_for_room(make_graph: object) -> None:
    graph: GraphEmulator = make_graph(  # type: ignore[operator]
        throttling=Throttling(requests_per_window=6, window=3.0)
    )
    for n in range(3):
        graph.seed_message(mail(f"Alert {n}"))
    started = time.monotonic()
    summary = run_once(graph_source(graph), fake_tickets(FakeTracker()))
    assert summary.created == 3 and summary.reason.startswith("drained")
    assert 429 in [r.status for r in graph.requests], "the budget was met"
    assert time.monotonic() - started >= 3.0 - JITTER, "and waited out"


@pytest.mark.alone  # the real run's 5 s, counted from its process start, must reach Graph
def test_a_wait_that_does_not_fit_stops_the_run_before_its_deadline(
    graph: GraphEmulator, tmp_path: Path
) -> None:
    graph.seed_message(mail("Never"))
    graph.faults.throttle(1000, retry_after=60)
    started = time.monotonic()
    result = run_cli("run", cli_env(graph, tmp_path, max_runtime=5))
    assert time.monotonic() - started < 5.0
    assert result.returncode == 3, result.output  # it only ever said "wait": not a clean stop
    assert tickets(tmp_path) == []
    assert len(graph.requests) == 1, "no request while Retry-After holds"


def test_a_throttled_run_that_had_answers_stops_cleanly(graph: GraphEmulator) -> None:
    for n in range(2):
        graph.seed_message(mail(f"Alert {n}"))
    budget = Budget(4.0, started=time.monotonic(), margin=0.5)
    source = graph_source(graph, budget=budget)
    tracker = FakeTracker()
    entries = source.items()
    first = next(entries)  # the folder, the list and one MIME answered well
    graph.faults.throttle(1000, retry_after=60)
    del entries, first
    summary = run_once(source, fake_tickets(tracker), budget=budget)
    assert summary.exit_code == 0 and summary.reason.startswith("deadline"), summary.reason
    assert time.monotonic() - budget.started < 4.0
