"""Helpers for engine tests: a world of fakes, its engines made by the testkit's `engine_for`."""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs
from shitshovela_testkit.clock import ManualClock
from shitshovela_testkit.fakes import (
    FakeSource,
    FakeStore,
    FakeTicketSystem,
    FakeTracker,
    Faults,
    HardStop,
    fake_context,
)
from shitshovela_testkit.runs import engine_for

from shitshovela_core.deadline import Budget
from shitshovela_core.engine import Engine, RunHooks, RunSummary
from shitshovela_core.models import Flag, Origin

#: The claim window of every engine a `World` makes (the setting's default).
CLAIM_WINDOW = 600.0


@attrs.define
class World:
    """One ticket system, one or more stores, a shared clock and fault plan."""

    clock: ManualClock
    faults: Faults
    tracker: FakeTracker
    stores: dict[str, FakeStore]

    @classmethod
    def make(cls, *, lag: float = 0.0, stores: tuple[str, ...] = ("a",)) -> World:
        clock = ManualClock()
        faults = Faults()
        tracker = FakeTracker(lag=lag, clock=clock, faults=faults)
        made = {name: FakeStore(f"fake://{name}", faults) for name in stores}
        return cls(clock, faults, tracker, made)

    def engine(
        self,
        instance: str = "a",
        store: str | None = None,
        *,
        claims: bool = True,
        max_tickets: int = 100,
        max_runtime: float = 3600.0,
        hooks: RunHooks | None = None,
        claim_window: float = CLAIM_WINDOW,
        atomic: bool = True,
        lease: bool = False,
    ) -> Engine:
        """An engine for one run of ``instance`` over ``store`` (its own by default)."""
        budget = Budget(
            max_runtime, started=self.clock(), clock=self.clock, sleep=self.clock.sleep, margin=1.0
        )
        context = fake_context(instance=instance, budget=budget)
        source = FakeSource(
            context, self.stores[store or instance], claims=claims, atomic=atomic, lease=lease
        )
        tickets = FakeTicketSystem(context, self.tracker)
        return engine_for(
            source, tickets, max_tickets=max_tickets, hooks=hooks, claim_window=claim_window
        )

    def run(
        self, instance: str = "a", store: str | None = None, **options: Any
    ) -> RunSummary | None:
        """One run of the engine (``options`` as for `engine`); None if it hard-stopped."""
        try:
            return self.engine(instance, store, **options).run()
        except HardStop:
            return None

    def tickets_by_origin_key(self) -> Counter[str]:
        return Counter(Origin.from_ref(t.origin_ref).key for t in self.tracker.tickets.values())

    def flags_left(self) -> int:
        return sum(
            1
            for t in self.tracker.tickets.values()
            for label in t.labels
            if label.startswith("shitshovela-inprogress-")
        )


def settle_runs(world: World, *, instance: str = "a", claims: bool = True, rounds: int = 6) -> int:
    """Fault-free runs until the source is empty and no flag is left; returns how many.

    The first comes a second after the crash; each later one after the listing lag
    and the claim window have passed (a claimed item waits out the window)."""
    world.faults.clear()
    for n in range(1, rounds + 1):
        world.clock.sleep(1.0 if n == 1 else max(world.tracker.lag, CLAIM_WINDOW) + 1.0)
        summary = world.run(instance, claims=claims)
        assert summary is not None and summary.exit_code == 0, summary
        if not world.stores[instance].items and not world.tracker.flagged_keys(Flag(instance)):
            return n
    raise AssertionError("fault-free runs did not converge")
