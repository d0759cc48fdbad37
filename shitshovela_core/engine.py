"""The run: reconcile this instance's flagged tickets, then drain the source.

This is the flow of the design contract (``docs/DESIGN.md``), step for step::

    RECONCILE: for each ticket carrying this instance's flag:
        stop if time is up; delete its origin (gone = fine); remove the flag
    DRAIN: while the source has items:
        stop if time is up or the per-run cap is reached
        next item; create a ticket carrying flag + origin; delete the item; unflag

Every step checks the budget first, and the first error stops the run (I8).
`Engine.run` never raises: it returns a `RunSummary` whose ``exit_code`` and
``reason`` say how the run ended; the last log line says the same.
`Engine.plan` reads what a run would do, and changes nothing.

The engine calls plugins only through `RunHooks` (in a real run the facade
`shitshovela_core.plugins.Hooks`); it knows nothing of pluggy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

import attrs
import structlog
from structlog.typing import FilteringBoundLogger

from .deadline import Budget
from .errors import (
    DeadlineReached,
    ExitCode,
    ItemRejected,
    OutcomeUnknown,
    ProviderError,
    SetAsideUnavailable,
    ShitShovelaError,
    StopRun,
    Unreachable,
)
from .models import Flag, Item, Origin, PoisonItem, Ticket, TicketDraft
from .plan import Ownership, Plan, PlannedItem, PlannedTicket
from .providers import Source, TicketSystem
from .settings import Settings, env_name

PROGRESS_EVERY = 10.0

#: Items the ticket system may reject in a row before the run stops (I12): a
#: rejection of every item is a setup problem, not a queue of poison items.
MAX_REJECTED_IN_A_ROW = 3


@attrs.frozen
class RunInfo:
    """What a run is: which instance moves from which source to which ticket system.

    ``settings`` holds the validated settings of every settings group that
    plugins declared with the ``register_settings`` hook, each an instance of
    its class: ``MySettings.of(run.settings[group]).name`` (secrets included,
    as set: never log them; hence not in the repr).
    """

    instance: str
    source: str
    ticket_system: str
    max_runtime: float
    max_tickets: int
    settings: Mapping[str, Settings] = attrs.field(factory=dict, repr=False)


@attrs.define
class RunSummary:
    """What a run did, and why it stopped."""

    reconciled: int = 0
    created: int = 0
    set_aside: int = 0
    foreign: int = 0
    deleted: int = 0
    already_gone: int = 0
    duration: float = 0.0
    reason: str = ""
    exit_code: ExitCode = ExitCode.OK
    phase: str = "start"

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain data (the final log line's fields)."""
        data = attrs.asdict(self)
        data["exit_code"] = int(self.exit_code)
        data["duration"] = round(self.duration, 3)
        return data


class RunHooks(Protocol):
    """What the engine calls on plugins, one method per hook of a run.

    `shitshovela_core.plugins.Hooks` is the real one. The observe methods never
    raise (an observer cannot change a run); `shape_draft` raises when shaping
    fails, and the run stops before the ticket is created (I8).
    """

    def shape_draft(self, item: Item, draft: TicketDraft) -> TicketDraft:
        """``draft`` for ``item`` as the plugins shape it."""
        ...

    def run_started(self, run: RunInfo, budget: Budget) -> None:
        """The run starts."""
        ...

    def run_finished(self, run: RunInfo, summary: RunSummary, budget: Budget) -> None:
        """The run ended normally."""
        ...

    def run_failed(self, run: RunInfo, summary: RunSummary, error: str, budget: Budget) -> None:
        """The run failed; ``error`` is the scrubbed reason."""
        ...


class NoHooks:
    """`RunHooks` without plugins: the core's draft as it is, nobody observing."""

    def shape_draft(self, item: Item, draft: TicketDraft) -> TicketDraft:
        """``draft``, unchanged."""
        return draft

    def run_started(self, run: RunInfo, budget: Budget) -> None:
        """Nothing."""

    def run_finished(self, run: RunInfo, summary: RunSummary, budget: Budget) -> None:
        """Nothing."""

    def run_failed(self, run: RunInfo, summary: RunSummary, error: str, budget: Budget) -> None:
        """Nothing."""


class CapReached(StopRun):
    """The per-run ticket cap is reached."""


class _Failure(Exception):
    def __init__(self, code: ExitCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def draft_from_item(item: Item) -> TicketDraft:
    """The core's draft for an item, before plugins shape it."""
    return TicketDraft(title=item.title, body=item.body, attachments=item.attachments)


class Engine:
    """Runs one reconcile-then-drain pass of one instance."""

    def __init__(
        self,
        *,
        run: RunInfo,
        source: Source,
        tickets: TicketSystem,
        budget: Budget,
        hooks: RunHooks | None = None,
        log: FilteringBoundLogger | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.info = run
        self.source = source
        self.tickets = tickets
        self.budget = budget
        self.hooks: RunHooks = hooks or NoHooks()
        self.flag = Flag(run.instance)
        self.clock = clock
        self.log = (log or structlog.get_logger("shitshovela")).bind(instance=run.instance)
        self.summary = RunSummary()
        self._changed = False
        self._last_progress = clock()
        #: The item the drain is working on (named in a failure's reason).
        self.current: Origin | None = None
        self._rejected_in_a_row = 0

    # -- the run -----------------------------------------------------------------

    def run(self) -> RunSummary:
        """Reconcile, then drain; return the summary. Never raises."""
        self.hooks.run_started(self.info, self.budget)
        self.log.info(
            "run_started",
            source=self.info.source,
            ticket_system=self.info.ticket_system,
            max_runtime=self.info.max_runtime,
            max_tickets=self.info.max_tickets,
            time_left=round(self.budget.remaining(), 3),
        )
        lag = self.tickets.listing_lag
        if lag > 0 and self.budget.started + lag >= self.budget.stop_at:
            self.summary.exit_code = ExitCode.CONFIG
            self.summary.reason = (
                f"the ticket system's listing may lag {lag:g}s, but a run has only "
                f"{self.budget.stop_at - self.budget.started:.1f}s: a claimed item could never be "
                f"settled; raise {env_name(None, 'MAX_RUNTIME')} above the lag (plus a margin) "
                "or lower the ticket system's lag setting"
            )
            self.hooks.run_failed(self.info, self.summary, self.summary.reason, self.budget)
            return self.summary
        try:
            self.summary.phase = "reconcile"
            self._guard(self._reconcile, ExitCode.RECONCILE_FAILED)
            self.summary.phase = "drain"
            self._guard(self._drain, ExitCode.DRAIN_FAILED)
            self.summary.reason = "drained: the source is empty"
        except DeadlineReached as exc:
            self.summary.reason = f"deadline: {exc}"
        except CapReached as exc:
            self.summary.reason = f"max_tickets: {exc}"
        except _Failure as failure:
            self.summary.exit_code = failure.code
            self.summary.reason = failure.reason
        finally:
            self.summary.duration = self.budget.elapsed()
        if self.summary.exit_code == ExitCode.OK:
            self.hooks.run_finished(self.info, self.summary, self.budget)
        else:
            self.hooks.run_failed(self.info, self.summary, self.summary.reason, self.budget)
        return self.summary

    def _guard(self, phase: Callable[[], None], code: ExitCode) -> None:
        """Run a phase, turning any error into a `_Failure` with the right exit code;
        the reason names the item the drain was working on."""
        try:
            self._phase(phase, code)
        except _Failure as failure:
            if self.current is not None and failure.code != ExitCode.OK:
                failure.reason += f" (item {self.current.describe()})"
            raise

    def _phase(self, phase: Callable[[], None], code: ExitCode) -> None:
        try:
            phase()
        except StopRun:
            raise
        except OutcomeUnknown as exc:
            raise _Failure(
                ExitCode.OUTCOME_UNKNOWN, f"create outcome unknown, not retried: {exc}"
            ) from exc
        except Unreachable as exc:
            exit_code = code if self._changed else ExitCode.UNREACHABLE
            raise _Failure(exit_code, f"{self.summary.phase} failed: {exc}") from exc
        except ShitShovelaError as exc:
            raise _Failure(code, f"{self.summary.phase} failed: {exc}") from exc
        except Exception as exc:
            self.log.error("unexpected_error", phase=self.summary.phase, exc_info=True)
            raise _Failure(
                code, f"{self.summary.phase} failed: {type(exc).__name__}: {exc}"
            ) from exc

    # -- reconcile ---------------------------------------------------------------

    def _reconcile(self) -> None:
        lag = self.tickets.listing_lag
        if lag > 0 and not self.source.supports_claims:
            # Without claim markers the only safe listing is one taken `lag`
            # seconds after the last possible create of an earlier run (I11).
            self.log.info(
                "settle_wait", seconds=round(max(0.0, self.budget.started + lag - self.clock()), 3)
            )
            self.budget.wait_until(self.budget.started + lag, "the ticket listing to settle")
        for ticket in self.tickets.flagged(self.flag):
            self.budget.check("reconciling the next flagged ticket")
            self._progress()
            origin = ticket.origin
            self.current = origin
            if origin is None or self.ownership(ticket) != "mine":
                self._leave_alone(ticket)
                continue
            draft: TicketDraft | None = None
            if self.tickets.completes_from_draft:
                read = self.source.read(origin)
                if isinstance(read, PoisonItem):
                    # The ticket may still lack what complete() adds (attachments):
                    # keep the origin and stop rather than delete it unfinished (I1).
                    raise ProviderError(
                        f"flagged ticket {ticket.key}: its item {origin.describe()} cannot be "
                        f"read again to complete the ticket ({read.reason}); the item is kept"
                    )
                # The draft the create used: the item shaped by the same hooks.
                draft = None if read is None else self.draft(read)
            self._finish(ticket, origin, draft, step="reconciled")
            self.summary.reconciled += 1
        self.current = None

    def ownership(self, ticket: Ticket) -> Ownership:
        """Whose a flagged ticket is: only ``mine`` is finished by reconcile (I7)."""
        if ticket.origin is None:
            return "no_origin"
        return "mine" if self.source.owns(ticket.origin) else "other_source"

    def _leave_alone(self, ticket: Ticket) -> None:
        """Report a flagged ticket that is not this instance's to finish (I7)."""
        self.summary.foreign += 1
        if ticket.origin is None:
            self.log.warning(
                "flagged_ticket_without_origin",
                ticket=ticket.key,
                origin_ref=ticket.origin_ref[:200],
            )
        else:
            self.log.warning(
                "flagged_ticket_of_other_source",
                ticket=ticket.key,
                origin=ticket.origin.describe(),
                note="not touched (I7)",
            )

    # -- drain -------------------------------------------------------------------

    def _drain(self) -> None:
        entries: Iterator[Item | PoisonItem] = iter(self.source.items())
        while True:
            if self.summary.created >= self.info.max_tickets:
                raise CapReached(f"{self.summary.created} tickets created, the per-run cap")
            self.budget.check("the next item")
            if not self.budget.fits_item():
                raise DeadlineReached(
                    f"the next item is expected to take {self.budget.expected_item():.2f}s, "
                    f"only {self.budget.remaining():.2f}s left"
                )
            self._progress()
            entry = next(entries, None)
            if entry is None:
                return
            started = self.clock()
            self.current = entry.origin
            if isinstance(entry, PoisonItem):
                self._set_aside(entry.origin, entry.reason)
            else:
                self._move(entry)
            self.current = None
            self.budget.record_item(self.clock() - started)

    def _move(self, item: Item) -> None:
        origin = item.origin
        draft = self.draft(item)
        if item.claimed:
            ticket = self._find_claimed(item)
            if ticket is not None:
                self._finish(ticket, origin, draft, step="reconciled")
                self.summary.reconciled += 1
                return
        if self.tickets.listing_lag > 0 and self.source.supports_claims and not item.claimed:
            self.budget.check("claiming the item")
            self.source.claim(origin, self.flag)
            self._changed = True
        self.budget.check("creating the ticket")
        try:
            ticket = self.tickets.create(draft, self.flag, origin)
        except ItemRejected as exc:
            self._rejected_in_a_row += 1
            if self._rejected_in_a_row >= MAX_REJECTED_IN_A_ROW:
                raise _Failure(
                    ExitCode.DRAIN_FAILED,
                    f"the ticket system rejected {self._rejected_in_a_row} items in a row (last: "
                    f"{exc}); stopping instead of setting the whole queue aside: check its "
                    "configuration",
                ) from exc
            self._set_aside(origin, f"rejected by the ticket system: {exc}")
            return
        except OutcomeUnknown:
            self._changed = True
            raise
        self._changed = True
        self._rejected_in_a_row = 0
        self.summary.created += 1
        self.log.info("ticket_created", origin=origin.describe(), ticket=ticket.key, url=ticket.url)
        self._finish(ticket, origin, draft, step="moved")

    def _find_claimed(self, item: Item) -> Ticket | None:
        """An earlier run claimed this item: find its ticket before creating one (I11)."""
        lag = self.tickets.listing_lag
        if lag > 0:
            self.budget.wait_until(self.budget.started + lag, "the ticket listing to settle")
        self.budget.check("looking up a claimed item's ticket")
        ticket = self.tickets.find(item.origin, self.flag)
        self.log.info(
            "claimed_item", origin=item.origin.describe(), ticket=ticket.key if ticket else None
        )
        return ticket

    def draft(self, item: Item) -> TicketDraft:
        """The ticket draft for ``item``: the core's, shaped by the plugins' hooks.

        The create, the ``complete`` after it and reconcile's ``complete`` all
        use the draft made here, never the raw item."""
        return self.hooks.shape_draft(item, draft_from_item(item))

    # -- shared steps ------------------------------------------------------------

    def _finish(
        self, ticket: Ticket, origin: Origin, draft: TicketDraft | None, *, step: str
    ) -> None:
        """Complete the ticket (from ``draft``, if any), delete the origin, remove the
        flag: in that order (I1)."""
        if draft is not None:
            self.budget.check("completing the ticket")
            self.tickets.complete(ticket, draft)
        self.budget.check("deleting the origin")
        deleted = self.source.delete(origin)
        self._changed = True
        if deleted:
            self.summary.deleted += 1
        else:
            self.summary.already_gone += 1
        self.budget.check("removing the flag")
        self.tickets.unflag(ticket, self.flag)
        self.log.info(
            f"item_{step}", origin=origin.describe(), ticket=ticket.key, origin_deleted=deleted
        )

    def _set_aside(self, origin: Origin, reason: str) -> None:
        self.budget.check("setting an item aside")
        try:
            self.source.set_aside(origin, reason)
        except SetAsideUnavailable as exc:
            raise _Failure(
                ExitCode.DRAIN_FAILED,
                f"item {origin.describe()} cannot become a ticket ({reason}) and cannot be set "
                f"aside ({exc}): configure the source's set-aside place, or move the item away "
                "by hand",
            ) from exc
        self._changed = True
        self.summary.set_aside += 1
        self.log.warning("item_set_aside", origin=origin.describe(), reason=reason)

    def _progress(self) -> None:
        now = self.clock()
        if now - self._last_progress >= PROGRESS_EVERY:
            self._last_progress = now
            self.log.info(
                "progress",
                phase=self.summary.phase,
                reconciled=self.summary.reconciled,
                created=self.summary.created,
                set_aside=self.summary.set_aside,
                time_left=round(self.budget.remaining(), 1),
            )

    # -- plan ----------------------------------------------------------------------

    def plan(self, limit: int) -> Plan:
        """What reconcile and the first ``limit`` entries of the drain would do.

        Reads the flagged tickets and the source, shapes each item's draft with
        the plugins' hooks, and changes nothing: no create, delete, claim,
        flag or set-aside, and no wait for a lagging listing. An item whose
        flagged ticket reconcile would finish is not listed for the drain:
        reconcile deletes it first."""
        reconcile = tuple(
            PlannedTicket(ticket.key, ticket.origin, self.ownership(ticket))
            for ticket in self.tickets.flagged(self.flag)
        )
        finished = {t.origin.identity() for t in reconcile if t.origin and t.finishes}
        drain: list[PlannedItem] = []
        creates = 0
        entries = iter(self.source.items())
        while len(drain) < limit:
            entry = next(entries, None)
            if entry is None:
                break
            if entry.origin.identity() in finished:
                continue
            claimed = entry.claimed
            if creates >= self.info.max_tickets:  # the drain stops before the next entry
                drain.append(PlannedItem(entry.origin, claimed=claimed, beyond_cap=True))
            elif isinstance(entry, PoisonItem):
                drain.append(PlannedItem(entry.origin, set_aside=entry.reason, claimed=claimed))
            else:
                creates += 1
                drain.append(PlannedItem(entry.origin, self.draft(entry), claimed=claimed))
        return Plan(self.flag, reconcile, tuple(drain), limit, self.info.max_tickets)
