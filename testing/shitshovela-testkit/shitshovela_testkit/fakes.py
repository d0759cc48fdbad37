"""In-memory providers that can fail at any step, for tests only.

`FakeStore` backs a `FakeSource`; `FakeTracker` backs a `FakeTicketSystem`.
Both count every provider call as two steps, *before* and *after* its effect,
and `Faults` turns a chosen step into a hard stop (`HardStop`, a
`BaseException` that no engine code catches, like a SIGKILL) or into an error.
A fault *after* an effect models "the server committed it but we never heard"
(I4). These fakes are never registered through entry points: tests register
`FakePlugin` in a plugin manager of their own.
"""

from __future__ import annotations

import functools
import hashlib
import io
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs

from shitshovela_core.errors import (
    ItemRejected,
    OutcomeUnknown,
    SetAsideUnavailable,
    TransientError,
    Unreachable,
)
from shitshovela_core.hookspecs import hookimpl
from shitshovela_core.models import Attachment, Flag, Item, Origin, PoisonItem, Ticket, TicketDraft
from shitshovela_core.providers import ProviderContext, ProviderKind, Register, Source, TicketSystem
from shitshovela_core.settings import ProviderSettings

if TYPE_CHECKING:
    from shitshovela_core.deadline import Budget
    from shitshovela_core.safety import SafetyPolicy


class HardStop(BaseException):
    """The process died here (SIGKILL, power loss). Nothing after it runs."""


@attrs.define
class Faults:
    """Which step fails, and how. Steps are numbered from 1 across both fakes."""

    fail_at: int | None = None
    kind: str = "hardstop"  # "hardstop" or "error"
    #: Alternatively, fail at the first step with this name (``tickets.create.after``).
    fail_on: str | None = None
    count: int = 0
    log: list[str] = attrs.field(factory=list)
    #: Actions to run once at the first step with a given name (`when`).
    actions: dict[str, Callable[[], None]] = attrs.field(factory=dict)

    def when(self, name: str, action: Callable[[], None]) -> None:
        """Run ``action`` once, at the first step called ``name``, before that step
        goes on: another run of the instance starting mid-run, a person's edit."""
        self.actions[name] = action

    def step(self, name: str, error: Callable[[], BaseException] | None = None) -> None:
        """Count one step called ``name``; run its `when` action; raise if it is the
        chosen one."""
        self.count += 1
        self.log.append(name)
        action = self.actions.pop(name, None)
        if action is not None:
            action()
        chosen = self.fail_at is not None and self.count == self.fail_at
        if chosen or (self.fail_on is not None and name == self.fail_on):
            self.fail_at = None
            self.fail_on = None
            if self.kind == "hardstop" or error is None:
                raise HardStop(f"hard stop at step {self.count} ({name})")
            raise error()

    def clear(self) -> None:
        """No more faults; reset the step count."""
        self.fail_at = None
        self.fail_on = None
        self.count = 0
        self.log.clear()
        self.actions.clear()


@attrs.define
class StoredItem:
    """One item in a `FakeStore`; ``version`` grows when the name is overwritten."""

    name: str
    content: str
    version: int
    poison: str = ""
    #: Claim times by instance (`FakeSource.claim`).
    claims: dict[str, datetime] = attrs.field(factory=dict)
    #: Grows with every claim: what a compare-and-set claim compares.
    revision: int = 0
    #: Names of the item's attachments (each holds its own name as content).
    files: tuple[str, ...] = ()


class FakeStore:
    """The storage behind a `FakeSource`: named items with versions."""

    def __init__(
        self, scope: str = "fake://store", faults: Faults | None = None, *, token: str = ""
    ) -> None:
        self.scope = scope
        self.faults = faults or Faults()
        #: When set, `FakeSource.check` refuses a source built with another token.
        self.token = token
        self.items: dict[str, StoredItem] = {}
        self.set_aside: dict[str, str] = {}
        self.set_aside_enabled = True
        #: Run leases by instance: (until, holder) (`FakeSource.lease`).
        self.leases: dict[str, tuple[datetime, int]] = {}
        self._versions = itertools.count(1)
        self._holders = itertools.count(1)
        self.lock = threading.Lock()

    def put(
        self, name: str, content: str, *, poison: str = "", files: tuple[str, ...] = ()
    ) -> None:
        """Add or overwrite the item ``name`` (overwriting gives a new version);
        ``files`` names its attachments."""
        self.items[name] = StoredItem(name, content, next(self._versions), poison, files=files)

    def names(self) -> list[str]:
        """Names of the items still waiting."""
        return sorted(self.items)

    def new_holder(self) -> int:
        """A number for one source object (one run) taking leases."""
        return next(self._holders)


def _digest(content: str) -> str:
    return "sha256:" + hashlib.sha256(content.encode()).hexdigest()[:16]


class FakeSource(Source):
    """A `Source` over a `FakeStore`.

    Its claims are atomic (compare-and-set on the item's revision) unless
    ``atomic`` is False; with ``lease`` it also holds a run lease per instance.
    """

    supports_claims = True

    def __init__(
        self,
        context: ProviderContext,
        store: FakeStore,
        *,
        claims: bool = True,
        token: str = "",
        atomic: bool = True,
        lease: bool = False,
    ) -> None:
        super().__init__(context)
        self.store = store
        self.supports_claims = claims
        self.token = token
        self.atomic = atomic
        self.leases = lease
        self.holder = store.new_holder()

    def check(self) -> None:
        """Refuse a token other than the store's (when the store has one)."""
        if self.store.token and self.token != self.store.token:
            raise Unreachable("the fake store refused the token")

    @property
    def scope(self) -> str:
        return self.store.scope

    def _origin(self, stored: StoredItem) -> Origin:
        return Origin(
            provider=self.context.provider,
            scope=self.scope,
            key=stored.name,
            version=str(stored.version),
            digest=_digest(stored.content),
        )

    def _entry(self, stored: StoredItem) -> Item | PoisonItem:
        claimed = stored.claims.get(self.context.instance) if self.supports_claims else None
        token = str(stored.revision)
        origin = self._origin(stored)
        if stored.poison:
            return PoisonItem(origin, stored.poison, claimed_at=claimed, claim_token=token)
        title, _, body = stored.content.partition("\n")
        attachments = tuple(
            Attachment(
                name, "text/plain", len(name), opener=functools.partial(io.BytesIO, name.encode())
            )
            for name in stored.files
        )
        return Item(
            origin=origin,
            title=title,
            body=body,
            claimed_at=claimed,
            claim_token=token,
            attachments=attachments,
        )

    def items(self) -> Iterator[Item | PoisonItem]:
        for name in self.store.names():
            stored = self.store.items.get(name)
            if stored is None:
                continue
            self.store.faults.step(f"source.read:{name}", lambda: TransientError("read failed"))
            yield self._entry(stored)

    def _current(self, origin: Origin) -> StoredItem | None:
        stored = self.store.items.get(origin.key)
        if stored is None or str(stored.version) != origin.version:
            return None
        return stored

    def read(self, origin: Origin) -> Item | PoisonItem | None:
        self.store.faults.step(f"source.read:{origin.key}", lambda: TransientError("read failed"))
        stored = self._current(origin)
        return None if stored is None else self._entry(stored)

    def delete(self, origin: Origin) -> bool:
        faults = self.store.faults
        faults.step(f"source.delete.before:{origin.key}", lambda: TransientError("delete failed"))
        stored = self._current(origin)
        if stored is not None:
            del self.store.items[origin.key]
        faults.step(
            f"source.delete.after:{origin.key}", lambda: TransientError("delete reply lost")
        )
        return stored is not None

    def set_aside(self, origin: Origin, reason: str) -> None:
        if not self.store.set_aside_enabled:
            raise SetAsideUnavailable("the fake store has set-aside turned off")
        faults = self.store.faults
        faults.step(f"source.set_aside.before:{origin.key}", lambda: TransientError("move failed"))
        stored = self._current(origin)
        if stored is not None:
            del self.store.items[origin.key]
            self.store.set_aside[origin.key] = reason
        faults.step(
            f"source.set_aside.after:{origin.key}", lambda: TransientError("move reply lost")
        )

    def claim(self, item: Item | PoisonItem, flag: Flag, at: datetime) -> bool:
        origin = item.origin
        faults = self.store.faults
        faults.step(f"source.claim.before:{origin.key}", lambda: TransientError("claim failed"))
        stored = self._current(origin)
        won = stored is not None and (
            not self.atomic or not item.claim_token or item.claim_token == str(stored.revision)
        )
        if stored is not None and won:
            stored.claims[flag.instance] = at
            stored.revision += 1
        faults.step(f"source.claim.after:{origin.key}", lambda: TransientError("claim reply lost"))
        return won

    def lease(self, flag: Flag, until: datetime) -> bool:
        if not self.leases:
            return True
        self.store.faults.step("source.lease", lambda: TransientError("lease failed"))
        held = self.store.leases.get(flag.instance)
        if held is not None and held[1] != self.holder and held[0] > datetime.now(UTC):
            return False
        self.store.leases[flag.instance] = (until, self.holder)
        return True

    def release_lease(self, flag: Flag) -> None:
        held = self.store.leases.get(flag.instance)
        if held is not None and held[1] == self.holder:
            del self.store.leases[flag.instance]


@attrs.define
class FakeTicket:
    """One ticket in a `FakeTracker`."""

    key: str
    title: str
    body: str
    labels: list[str]
    origin_ref: str
    created_at: float
    labels_changed_at: float
    #: Names of the files `FakeTicketSystem.complete` attached.
    attachments: list[str] = attrs.field(factory=list)
    completed: bool = False
    #: Closed by a person (`FakeTracker.close`); the flag stays.
    closed: bool = False
    #: Who created it: `FakeTicketSystem.identity` for the job's tickets.
    author: str = "job"


class FakeTracker:
    """The storage behind a `FakeTicketSystem`, with an optional listing lag (I11)."""

    def __init__(
        self,
        *,
        lag: float = 0.0,
        clock: Callable[[], float] | None = None,
        faults: Faults | None = None,
        reject: Callable[[TicketDraft], str | None] | None = None,
    ) -> None:
        self.lag = lag
        self.clock: Callable[[], float] = clock or (lambda: 0.0)
        self.faults = faults or Faults()
        self.reject = reject
        self.tickets: dict[str, FakeTicket] = {}
        #: Each ticket's labels as the create stored them (before any later change).
        self.labels_at_create: dict[str, tuple[str, ...]] = {}
        #: When set, `FakeTicketSystem.check` refuses a system built with another token.
        self.token = ""
        #: When True, a create is held by the "server": the client sees its outcome as
        #: unknown and the ticket appears only at `commit_held` (a late commit).
        self.hold_creates = False
        self.held: list[FakeTicket] = []
        self._keys = itertools.count(1)

    def insert(self, stored: FakeTicket) -> None:
        """Store a new ticket (what one create request does), remembering its labels."""
        self.tickets[stored.key] = stored
        self.labels_at_create[stored.key] = tuple(stored.labels)

    def new_key(self) -> str:
        """The next ticket key (``FAKE-<n>``)."""
        return f"FAKE-{next(self._keys)}"

    def commit_held(self) -> list[str]:
        """Commit the creates the server held (`hold_creates`), now; their keys."""
        keys = []
        for stored in self.held:
            stored.created_at = stored.labels_changed_at = self.clock()
            self.insert(stored)
            keys.append(stored.key)
        self.held.clear()
        return keys

    def plant(self, flag: Flag, origin_ref: str, *, author: str = "someone-else") -> str:
        """Create a flagged ticket as someone else would (a planted flag and origin)."""
        now = self.clock()
        stored = FakeTicket(
            key=self.new_key(),
            title="planted",
            body="",
            labels=[flag.label],
            origin_ref=origin_ref,
            created_at=now,
            labels_changed_at=now,
            author=author,
        )
        self.insert(stored)
        return stored.key

    def add_label(self, key: str, label: str) -> None:
        """Add ``label`` to a ticket, as a person would."""
        stored = self.tickets[key]
        if label not in stored.labels:
            stored.labels.append(label)
            stored.labels_changed_at = self.clock()

    def close(self, key: str) -> None:
        """Close a ticket, as a person would (its labels stay)."""
        self.tickets[key].closed = True

    def visible(self, ticket: FakeTicket) -> bool:
        """True if the lagging listing already shows the ticket's current labels."""
        return self.clock() - ticket.labels_changed_at >= self.lag

    def flagged_keys(self, flag: Flag) -> list[str]:
        """Keys that truly carry ``flag`` now (no lag)."""
        return [t.key for t in self.tickets.values() if flag.label in t.labels]


class FakeTicketSystem(TicketSystem):
    """A `TicketSystem` over a `FakeTracker`."""

    completes_from_draft = True
    #: Who the job is in the tracker (`FakeTicket.author` of its tickets).
    identity = "job"

    def __init__(self, context: ProviderContext, tracker: FakeTracker, *, token: str = "") -> None:
        super().__init__(context)
        self.tracker = tracker
        self.listing_lag = tracker.lag
        self.token = token

    def check(self, flag: Flag) -> None:
        """Refuse a token other than the tracker's (when the tracker has one)."""
        if self.tracker.token and self.token != self.tracker.token:
            raise Unreachable("the fake tracker refused the token")

    def _ticket(self, stored: FakeTicket) -> Ticket:
        try:
            origin: Origin | None = Origin.from_ref(stored.origin_ref)
        except ValueError:
            origin = None
        flag_labels = tuple(stored.labels)
        return Ticket(
            key=stored.key,
            origin=origin,
            flagged=any(label.startswith("shitshovela-inprogress-") for label in flag_labels),
            origin_ref=stored.origin_ref,
            labels=flag_labels,
            by_job=stored.author == self.identity,
        )

    def create(self, draft: TicketDraft, flag: Flag, origin: Origin) -> Ticket:
        tracker = self.tracker
        tracker.faults.step("tickets.create.before", lambda: OutcomeUnknown("connection reset"))
        if tracker.reject is not None:
            reason = tracker.reject(draft)
            if reason:
                raise ItemRejected(reason)
        now = tracker.clock()
        stored = FakeTicket(
            key=tracker.new_key(),
            title=draft.title,
            body=draft.body,
            labels=[*draft.labels, flag.label],
            origin_ref=origin.to_ref(),
            created_at=now,
            labels_changed_at=now,
            author=self.identity,
        )
        if tracker.hold_creates:
            tracker.held.append(stored)
            raise OutcomeUnknown("the server holds the create; it may commit later")
        tracker.insert(stored)
        tracker.faults.step("tickets.create.after", lambda: OutcomeUnknown("response lost"))
        return self._ticket(stored)

    def flagged(self, flag: Flag) -> Iterator[Ticket]:
        tracker = self.tracker
        tracker.faults.step("tickets.list", lambda: TransientError("listing failed"))
        snapshot = [
            t for t in tracker.tickets.values() if flag.label in t.labels and tracker.visible(t)
        ]
        for stored in snapshot:
            yield self._ticket(stored)

    def unflag(self, ticket: Ticket, flag: Flag) -> None:
        tracker = self.tracker
        tracker.faults.step(
            f"tickets.unflag.before:{ticket.key}", lambda: TransientError("unflag failed")
        )
        stored = tracker.tickets.get(ticket.key)
        if stored is not None and flag.label in stored.labels:
            stored.labels.remove(flag.label)
            stored.labels_changed_at = tracker.clock()
        tracker.faults.step(
            f"tickets.unflag.after:{ticket.key}", lambda: TransientError("reply lost")
        )

    def complete(self, ticket: Ticket, draft: TicketDraft) -> None:
        """Attach the draft's files, once per ticket (one step, which may fail)."""
        stored = self.tracker.tickets.get(ticket.key)
        if stored is not None and not stored.completed:
            self.tracker.faults.step(
                f"tickets.complete:{ticket.key}", lambda: TransientError("upload failed")
            )
            stored.attachments.extend(a.name for a in draft.attachments)
            stored.completed = True


class FakePlugin:
    """A plugin object registering ``fake`` source and ticket system over given stores.

    Register it in a test's own plugin manager:
    ``create_plugins(extra=[("fakes", FakePlugin(store, tracker))], entry_points=False)``.
    """

    def __init__(self, store: FakeStore, tracker: FakeTracker, *, claims: bool = True) -> None:
        self.store = store
        self.tracker = tracker
        self.claims = claims

    @hookimpl
    def register_sources(self, register: Register) -> None:
        """Register the fake source."""
        register(
            "fake",
            lambda context: FakeSource(context, self.store, claims=self.claims),
            help="In-memory test source.",
        )

    @hookimpl
    def register_ticket_systems(self, register: Register) -> None:
        """Register the fake ticket system."""
        register(
            "fake",
            lambda context: FakeTicketSystem(context, self.tracker),
            help="In-memory test tracker.",
        )


#: The rate `fake_context` gives a provider whose test names no ``RATE``.
FAKE_RATE = 1000.0


def fake_tickets(
    tracker: FakeTracker | None = None, instance: str = "test", **overrides: Any
) -> FakeTicketSystem:
    """A `FakeTicketSystem` over ``tracker`` (a new empty one unless given), with a
    `fake_context` for ``instance`` (``overrides`` as `fake_context` takes them)."""
    return FakeTicketSystem(fake_context("fake", instance, **overrides), tracker or FakeTracker())


@functools.cache
def _registered_settings(provider: str, kind: ProviderKind | None) -> type[ProviderSettings]:
    """The settings class an installed plugin registered for ``provider`` (the
    bare `ProviderSettings` for a name no installed plugin provides)."""
    from shitshovela_core.plugins import create_plugins

    plugins = create_plugins(environ={})
    kinds: tuple[ProviderKind, ...] = (kind,) if kind else ("source", "ticket_system")
    found = {
        plugins.registry(k)[provider].settings for k in kinds if provider in plugins.registry(k)
    }
    if len(found) > 1:
        raise ValueError(f"both a source and a ticket system are called {provider!r}: give kind")
    return found.pop() if found else ProviderSettings


def fake_context(
    provider: str = "fake",
    instance: str = "test",
    *,
    settings: Mapping[str, Any] | None = None,
    settings_class: type[ProviderSettings] | None = None,
    kind: ProviderKind | None = None,
    budget: Budget | None = None,
    safety: SafetyPolicy | None = None,
    rate: float | None = None,
) -> ProviderContext:
    """A `ProviderContext` for tests, its settings built through the real validation.

    ``settings`` are values by NAME (Python values, or strings as in the
    environment); they are checked and completed with the defaults of the
    settings class the provider registered (``settings_class``, else the one
    an installed plugin registered under ``provider``, else the bare
    `ProviderSettings`), and the class's own ``problems`` run: a bad value
    raises `ConfigError` as `load_config` would report it. ``RATE`` is
    `FAKE_RATE` unless given. The safety policy paces at ``rate`` if given (a test
    may go beyond what ``RATE`` allows), else at ``RATE``; it applies
    ``TLS_VERIFY``/``CA_BUNDLE``. A generous budget unless ``budget`` is given.
    """
    import structlog

    from shitshovela_core.deadline import Budget
    from shitshovela_core.envsettings import build_settings
    from shitshovela_core.safety import SafetyPolicy

    cls = settings_class or _registered_settings(provider, kind)
    values = {"RATE": FAKE_RATE, **(settings or {})}
    built = build_settings(cls, provider, values)
    budget = budget or Budget(3600.0, started=time.monotonic())
    safety = safety or SafetyPolicy(
        provider, budget, built.rate if rate is None else rate, settings=built.as_dict()
    )
    return ProviderContext(
        provider=provider,
        instance=instance,
        settings=built,
        budget=budget,
        safety=safety,
        log=structlog.get_logger("test").bind(provider=provider),
    )
