"""One engine run in-process, as ``shitshovela run`` does it, for tests and benchmarks.

    summary = run_once(source, fake_tickets(tracker))

`run_once` is a thin wrapper: `engine_for` reads what a run is (instance,
provider names, max runtime) from the providers' contexts and builds the
core's `Engine` around them; `run_once` runs it (reconcile, then drain) once
and closes both providers. Whatever a test wants to vary it builds itself and
passes in: the providers (real ones against a test server, or the in-memory
fakes), the budget and its clock, the plugins' hooks.
"""

from __future__ import annotations

from collections.abc import Mapping

from shitshovela_core.deadline import Budget
from shitshovela_core.engine import Engine, RunHooks, RunInfo, RunSummary
from shitshovela_core.providers import Source, TicketSystem
from shitshovela_core.settings import Settings

__all__ = ["engine_for", "run_once"]


def engine_for(
    source: Source,
    tickets: TicketSystem,
    *,
    budget: Budget | None = None,
    max_tickets: int = 1_000_000,
    hooks: RunHooks | None = None,
    settings: Mapping[str, Settings] | None = None,
    claim_window: float | None = None,
) -> Engine:
    """The engine of one run from ``source`` into ``tickets`` (not run yet).

    The instance is the source's (``source.context.instance``); the budget is
    the source's unless ``budget`` is given, and the engine reads time from the
    budget's clock (so a `ManualClock` in the budget drives the whole run).
    ``max_tickets`` is the run's cap (by default none to speak of, so a test
    that drains many items needs no setting; a test of the cap gives it).
    ``hooks`` are the plugins' (``Plugins.hooks()``; none by default) and
    ``settings`` the plugins' settings groups, as `RunInfo.settings`.
    ``claim_window`` is the source context's unless given.
    """
    budget = budget or source.context.budget
    run = RunInfo(
        instance=source.context.instance,
        source=source.context.provider,
        ticket_system=tickets.context.provider,
        max_runtime=budget.max_runtime,
        max_tickets=max_tickets,
        settings=dict(settings or {}),
        claim_window=source.context.claim_window if claim_window is None else claim_window,
    )
    return Engine(
        run=run, source=source, tickets=tickets, budget=budget, hooks=hooks, clock=budget.clock
    )


def run_once(
    source: Source,
    tickets: TicketSystem,
    *,
    budget: Budget | None = None,
    max_tickets: int = 1_000_000,
    hooks: RunHooks | None = None,
    settings: Mapping[str, Settings] | None = None,
    close: bool = True,
    claim_window: float | None = None,
) -> RunSummary:
    """Run the engine once from ``source`` into ``tickets``; return its summary.

    The run is `engine_for`'s (the same options). With ``close`` (the default,
    as the CLI does) both providers are closed afterwards, also when the run
    raised. A `HardStop` from a fake (a simulated kill) is not caught: it ends
    the run as a SIGKILL would.
    """
    engine = engine_for(
        source,
        tickets,
        budget=budget,
        max_tickets=max_tickets,
        hooks=hooks,
        settings=settings,
        claim_window=claim_window,
    )
    try:
        return engine.run()
    finally:
        if close:
            source.close()
            tickets.close()
