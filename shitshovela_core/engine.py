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
from datetime import UTC, datetime, timedelta
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
    SetupError,
    ShitShovelaError,
    StopRun,
    Unreachable,
)
from .models import Flag, Item, Origin, PoisonItem, Ticket, TicketDraft
from .plan import Ownership, Plan, PlannedItem, PlannedTicket
from .providers import Source, TicketSystem
from .settings import Settings, env_name

PROGRESS_EVERY = 10.0

#: Seconds added to the run's deadline in the lease it takes in the source. A source
#: measures the lease on its own server's clock where it can (S3: the lease object's
#: Last-Modified against the answer's Date), so clocks of the machines that run the
#: job do not matter; this covers the rounding of those times to whole seconds.
LEASE_MARGIN = 2.0

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
    #: Seconds a claimed item is left alone before it may be ticketed again (I2):
    #: ``SHITSHOVELA_CLAIM_WINDOW``.
    claim_window: float = 600.0


@attrs.define
class RunSummary:
    """What a run did, and why it stopped."""

    reconciled: int = 0
    created: int = 0
    set_aside: int = 0
    foreign: int = 0
    deleted: int = 0
    already_gone: int = 0
    #: Claimed items left alone: their claim is younger than the claim window.
    waiting: int = 0
    #: Items another run of this instance claimed first (its claim won).
    taken: int = 0
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


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _same_revision(ticketed: Origin | None, found: Origin) -> bool:
    """True when ``found`` (the item in the source) is the revision a ticket names."""
    return (
        ticketed is not None
        and ticketed.identity() == found.identity()
        and ticketed.digest == found.digest
    )


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
        wall: Callable[[], datetime] | None = None,
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
        self._wall: Callable[[], datetime] = wall or getattr(clock, "wall", None) or _utc_now
        self._leased = False
        self._prepared = False

    def now(self) -> datetime:
        """The wall-clock time (UTC): claim times are stored and compared in it.
        ``wall`` if given, else the clock's own ``wall`` (a test's manual clock
        has one), else the system's."""
        return self._wall()

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
            self.summary.phase = "start"
            self._guard(self._check_window, ExitCode.UNREACHABLE)
            self.summary.phase = "lease"
            self._guard(self._lease, ExitCode.UNREACHABLE)
            if self._leased:
                self.summary.phase = "reconcile"
                self._guard(self._reconcile, ExitCode.RECONCILE_FAILED)
                self.summary.phase = "drain"
                self._guard(self._drain, ExitCode.DRAIN_FAILED)
                self.summary.reason = "drained: the source is empty"
                if self.summary.waiting or self.summary.taken:
                    self.summary.reason = (
                        f"drained: {self.summary.waiting} claimed item(s) wait for their claim "
                        f"window, {self.summary.taken} taken by another run"
                    )
        except DeadlineReached as exc:
            self.summary.reason = f"deadline: {exc}"
        except CapReached as exc:
            self.summary.reason = f"max_tickets: {exc}"
        except _Failure as failure:
            self.summary.exit_code = failure.code
            self.summary.reason = failure.reason
        finally:
            self._release()
            self.summary.duration = self.budget.elapsed()
        if self.summary.exit_code == ExitCode.OK:
            self.hooks.run_finished(self.info, self.summary, self.budget)
        else:
            self.hooks.run_failed(self.info, self.summary, self.summary.reason, self.budget)
        return self.summary

    def _check_window(self) -> None:
        """Refuse a claim window no longer than the ticket system's listing lag when the
        source claims: a claimed item would be ticketed again before its first ticket
        could be listed. ``supports_claims`` may ask the server (IMAP), so this runs
        guarded, and only when the window would decide anything."""
        lag, window = self.tickets.listing_lag, self.info.claim_window
        if lag > 0 and window <= lag and self.source.supports_claims:
            raise _Failure(
                ExitCode.CONFIG,
                f"the claim window ({window:g}s, {env_name(None, 'CLAIM_WINDOW')}) must be "
                f"longer than the ticket system's listing lag ({lag:g}s): a claimed item would "
                "be ticketed again before its first ticket could be listed",
            )

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
        except (StopRun, _Failure):
            raise
        except OutcomeUnknown as exc:
            raise _Failure(
                ExitCode.OUTCOME_UNKNOWN, f"create outcome unknown, not retried: {exc}"
            ) from exc
        except SetupError as exc:
            raise _Failure(
                ExitCode.UNREACHABLE, f"{self.summary.phase} failed (setup): {exc}"
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

    # -- the lease -------------------------------------------------------------

    def _lease(self) -> None:
        """Take the source's run lease for this instance (two runs at once, I2)."""
        until = self.now() + timedelta(
            seconds=max(0.0, self.budget.deadline - self.clock()) + LEASE_MARGIN
        )
        self.budget.check("taking the source's lease")
        if self.source.lease(self.flag, until):
            self._leased = True
            return
        self.summary.reason = (
            "busy: another run of this instance holds the source's lease; nothing done "
            "(schedule runs so that they do not overlap)"
        )
        self.log.warning("lease_held_by_another_run", note="this run touches nothing")

    def _release(self) -> None:
        if not self._leased:
            return
        self._leased = False
        try:
            self.budget.check("releasing the source's lease")
            self.source.release_lease(self.flag)
        except Exception as exc:  # the lease runs out at the deadline anyway
            self.log.warning("lease_not_released", error=str(exc)[:300])

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
            read = self.source.read(origin)
            if read is not None and not _same_revision(origin, read.origin):
                self._leave_alone(ticket, read.origin)
                continue
            draft: TicketDraft | None = None
            if self.tickets.completes_from_draft and read is not None:
                if isinstance(read, PoisonItem):
                    # The ticket may still lack what complete() adds (attachments):
                    # keep the origin and stop rather than delete it unfinished (I1).
                    raise ProviderError(
                        f"flagged ticket {ticket.key}: its item {origin.describe()} cannot be "
                        f"read again to complete the ticket ({read.reason}); the item is kept"
                    )
                # The draft the create used: the item shaped by the same hooks.
                draft = self.draft(read)
            self._finish(ticket, origin, draft, step="reconciled")
            self.summary.reconciled += 1
        self.current = None

    def ownership(self, ticket: Ticket) -> Ownership:
        """Whose a flagged ticket is: only ``mine`` is finished by reconcile (I7).

        ``mine`` needs all of: an origin in this source, a ticket the ticket system
        does not say someone else created, and an origin that pins one revision
        (a version and a digest); reconcile then also checks that the item it
        would delete is that revision. A flag and origin planted by hand in a
        ticket therefore never delete an item (I1, I9)."""
        if ticket.origin is None:
            return "no_origin"
        if not self.source.owns(ticket.origin):
            return "other_source"
        if ticket.by_job is False:
            return "not_by_job"
        if not (ticket.origin.version and ticket.origin.digest):
            return "unpinned_origin"
        return "mine"

    def _leave_alone(self, ticket: Ticket, found: Origin | None = None) -> None:
        """Report a flagged ticket that is not this instance's to finish (I7); ``found``
        is the revision in the source when it is not the one the ticket names."""
        if self.summary.phase == "reconcile":  # the drain meets it again: count it once
            self.summary.foreign += 1
        ownership = "revision_differs" if found is not None else self.ownership(ticket)
        if ownership in ("not_by_job", "unpinned_origin", "revision_differs"):
            assert ticket.origin is not None
            self.log.warning(
                "flagged_ticket_not_finished",
                ticket=ticket.key,
                origin=ticket.origin.describe(),
                why={
                    "not_by_job": "another identity created it",
                    "unpinned_origin": "its origin names no exact revision (version and digest)",
                    "revision_differs": "the item in the source is a different revision",
                }[ownership],
                note="not touched: the flag and the origin may have been planted (I7)",
            )
        elif ticket.origin is None:
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
            del entry  # done: a source may free what it holds (a spooled file) before the next

    def _move(self, item: Item) -> None:
        origin = item.origin
        draft = self.draft(item)
        if item.claimed:
            ticket = self._find_claimed(item)
            if ticket is not None:
                self._finish(ticket, origin, draft, step="reconciled")
                self.summary.reconciled += 1
                return
            if not self._claim_expired(item):
                return
        self._prepare()
        if self.source.supports_claims:
            self.budget.check("claiming the item")
            claimed = self.source.claim(item, self.flag, self.now())
            self._changed = True
            if not claimed:
                self.summary.taken += 1
                self.log.info("item_taken_by_another_run", origin=origin.describe())
                return
        self.budget.check("creating the ticket")
        try:
            ticket = self.tickets.create(draft, self.flag, origin)
        except ItemRejected as exc:
            if exc.by_setting:  # the operator's own rule: no sign of a broken setup
                self._set_aside(origin, f"refused by the ticket system's settings: {exc}")
                return
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

    def _prepare(self) -> None:
        """Let the ticket system make sure it can take creates (`TicketSystem.prepare`),
        once a run, right before the run's first claim or create: a setup it finds
        broken stops the run before the drain changed anything."""
        if self._prepared:
            return
        self.budget.check("preparing the ticket system for creates")
        self.tickets.prepare(self.flag)
        self._prepared = True

    def _find_claimed(self, item: Item) -> Ticket | None:
        """A run claimed this item: look for its ticket before anything else (I11)."""
        self.budget.check("looking up a claimed item's ticket")
        ticket = self.tickets.find(item.origin, self.flag)
        if ticket is not None and (
            ticket.by_job is False or not _same_revision(ticket.origin, item.origin)
        ):
            self._leave_alone(ticket, item.origin if ticket.by_job is not False else None)
            ticket = None
        self.log.info(
            "claimed_item", origin=item.origin.describe(), ticket=ticket.key if ticket else None
        )
        return ticket

    def _claim_expired(self, item: Item) -> bool:
        """True when the item's claim is older than the claim window (I2): a create an
        earlier run may have sent (one whose answer was lost, one the server commits
        late, one of a run still going) would be listed by now, so the item may be
        ticketed again. Younger claims are left for a later run."""
        assert item.claimed_at is not None
        if self._claim_aged(item.claimed_at):
            return True
        age = (self.now() - item.claimed_at).total_seconds()
        self.summary.waiting += 1
        self.log.info(
            "claimed_item_waiting",
            origin=item.origin.describe(),
            claim_age=round(age, 1),
            claim_window=self.info.claim_window,
            note="an earlier create may still appear; ticketed after the window if not",
        )
        return False

    def _claim_aged(self, claimed_at: datetime) -> bool:
        return (self.now() - claimed_at).total_seconds() >= self.info.claim_window

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

    def _shown(self, item: Item) -> TicketDraft:
        """``item``'s draft as a plan shows it: its attachments' names, types and sizes
        without their content, so that a plan keeps no source's file open (a spooled
        message) while it reads the next item."""
        draft = self.draft(item)
        kept = tuple(attrs.evolve(a, opener=None) for a in draft.attachments)
        return attrs.evolve(draft, attachments=kept)

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
                del entry
                continue
            claimed = entry.claimed
            waiting = entry.claimed_at is not None and not self._claim_aged(entry.claimed_at)
            if isinstance(entry, Item) and waiting:
                drain.append(
                    PlannedItem(entry.origin, self._shown(entry), claimed=True, waiting=True)
                )
            elif creates >= self.info.max_tickets:  # the drain stops before the next entry
                drain.append(PlannedItem(entry.origin, claimed=claimed, beyond_cap=True))
            elif isinstance(entry, PoisonItem):
                drain.append(PlannedItem(entry.origin, set_aside=entry.reason, claimed=claimed))
            else:
                creates += 1
                drain.append(PlannedItem(entry.origin, self._shown(entry), claimed=claimed))
            del entry  # as in the drain: the source may free it before it reads the next
        return Plan(self.flag, reconcile, tuple(drain), limit, self.info.max_tickets)
