"""`run_once`: one engine run as the CLI does it, read from the providers' contexts."""

from __future__ import annotations

from typing import Any

import pytest
from shitshovela_testkit.clock import ManualClock
from shitshovela_testkit.fakes import (
    FakeSource,
    FakeStore,
    FakeTicketSystem,
    FakeTracker,
    Faults,
    HardStop,
    fake_context,
    fake_tickets,
)
from shitshovela_testkit.runs import run_once

from shitshovela_core import hookimpl
from shitshovela_core.deadline import Budget
from shitshovela_core.engine import RunInfo, RunSummary
from shitshovela_core.models import Flag
from shitshovela_core.plugins import create_plugins

pytestmark = pytest.mark.unit


class Closing(FakeSource):
    closed = 0

    def close(self) -> None:
        self.closed += 1


def store_with(*names: str, faults: Faults | None = None) -> FakeStore:
    store = FakeStore("fake://s", faults)
    for name in names:
        store.put(name, f"{name}\nbody")
    return store


def test_one_run_drains_the_source_and_closes_both_providers() -> None:
    tracker = FakeTracker()
    source = Closing(fake_context(instance="alpha"), store_with("a", "b"))
    summary = run_once(source, fake_tickets(tracker))
    assert (summary.exit_code, summary.created, summary.deleted) == (0, 2, 2)
    assert sorted(t.title for t in tracker.tickets.values()) == ["a", "b"]
    assert source.closed == 1
    assert tracker.flagged_keys(Flag("alpha")) == []


def test_the_run_is_described_by_the_contexts_and_the_budget() -> None:
    seen: list[RunInfo] = []

    class Observer:
        @hookimpl
        def run_started(self, run: RunInfo) -> None:
            seen.append(run)

    clock = ManualClock()
    budget = Budget(120.0, started=clock(), clock=clock, sleep=clock.sleep, margin=1.0)
    source = FakeSource(fake_context("files", "beta", budget=budget), store_with("a"))
    tickets = FakeTicketSystem(fake_context("tracker", "beta"), FakeTracker())
    hooks = create_plugins(extra=[("observer", Observer())], entry_points=False).hooks()
    group: dict[str, Any] = {"observer": {"X": 1}}
    run_once(source, tickets, max_tickets=3, hooks=hooks, settings=group)
    (run,) = seen
    assert (run.instance, run.source, run.ticket_system) == ("beta", "files", "tracker")
    assert (run.max_runtime, run.max_tickets, dict(run.settings)) == (120.0, 3, group)


def test_the_engine_reads_time_from_the_budgets_clock() -> None:
    """A listing lag is waited out on the budget's clock: a manual clock takes no time.
    (A source without claims: its run waits for the listing to settle.)"""
    clock = ManualClock()
    faults = Faults(fail_on="tickets.create.after")
    tracker = FakeTracker(lag=30.0, clock=clock, faults=faults)
    store = store_with("a", faults=faults)
    budget = Budget(600.0, started=clock(), clock=clock, sleep=clock.sleep, margin=1.0)
    with pytest.raises(HardStop):  # a kill right after the create: not caught
        run_once(
            FakeSource(fake_context(budget=budget), store, claims=False), fake_tickets(tracker)
        )
    clock.advance(1.0)
    budget = Budget(600.0, started=clock(), clock=clock, sleep=clock.sleep, margin=1.0)
    summary = run_once(
        FakeSource(fake_context(budget=budget), store, claims=False), fake_tickets(tracker)
    )
    assert (summary.exit_code, summary.created, summary.reconciled) == (0, 0, 1)
    assert clock() - budget.started >= 30.0, "the settle wait passed on the manual clock"


def test_close_false_leaves_the_providers_open() -> None:
    source = Closing(fake_context(), store_with("a"))
    summary: RunSummary = run_once(source, fake_tickets(), close=False)
    assert summary.created == 1
    assert source.closed == 0
