"""The contracts a source and a ticket system fulfil, and how they are registered.

A plugin registers a `ProviderSpec` (name, settings class, factory) through
the ``register_sources`` / ``register_ticket_systems`` hooks. The factory is
imported and called only when the environment selects that provider, so a
plugin's entry point stays cheap and a broken, unselected plugin cannot break a
run. The engine talks to the built object only through `Source` and
`TicketSystem`; `shitshovela_testkit` checks an implementation against
these contracts.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs

from .errors import SetAsideUnavailable
from .settings import (
    ProviderSettings,
    Setting,
    TlsSettings,
    settings_class,
    settings_of,
)

if TYPE_CHECKING:
    from datetime import datetime

    from structlog.typing import FilteringBoundLogger

    from .deadline import Budget
    from .models import Flag, Item, Origin, PoisonItem, Ticket, TicketDraft
    from .safety import SafetyPolicy

ProviderKind = Literal["source", "ticket_system"]


@attrs.frozen
class ProviderContext:
    """What the core hands a provider's factory.

    ``settings`` is an instance of the settings class the provider registered,
    built from the validated environment and checked (its ``problems`` found
    none); read it typed with ``MySettings.of(context.settings)``. ``budget``
    is the run's time budget (I5); ``safety`` is the provider's `SafetyPolicy`:
    every network call goes through it, so that the deadline, the rate limit,
    retries, the breaker and redaction hold (I4-I6, I8, I10). HTTP providers
    build their client on it (``HttpClient(context.safety, base_url, ...)``,
    `shitshovela_core.HttpClient`); ``log`` is bound to the provider's name.
    """

    provider: str
    instance: str
    settings: ProviderSettings
    budget: Budget
    safety: SafetyPolicy
    log: FilteringBoundLogger
    claim_window: float = 600.0


class Source(ABC):
    """Where items come from: a mailbox, a bucket, an in-house queue.

    Every method is called from one thread. Network calls go through
    ``context.safety`` so that the deadline and rate limit hold.
    """

    def __init__(self, context: ProviderContext) -> None:
        self.context = context

    @property
    @abstractmethod
    def scope(self) -> str:
        """A stable name of *this* source (``s3://bucket/prefix``), stored in every
        origin. The engine deletes only origins whose provider and scope are its
        own (I7)."""

    @abstractmethod
    def items(self) -> Iterator[Item | PoisonItem]:
        """Yield the items waiting, lazily and in bounded memory (never the whole
        source at once). An item that cannot be read or must not become a
        ticket (too large, an auto-reply) is yielded as a `PoisonItem`: the
        engine decides whether it is set aside or stops the run (I12)."""

    @abstractmethod
    def read(self, origin: Origin) -> Item | PoisonItem | None:
        """Read the item at ``origin`` again; None if that exact revision is gone.

        Reconcile calls it so that a ticket system can complete a ticket (upload
        attachments) from the item's draft before the origin is deleted."""

    @abstractmethod
    def delete(self, origin: Origin) -> bool:
        """Delete exactly the revision ``origin`` names (I9); True if deleted,
        False if it was already gone. Idempotent; never deletes a newer item
        that shares the name. "Delete" may mean "move to an archive" by
        configuration: either way the item leaves the queue."""

    def set_aside(self, origin: Origin, reason: str) -> None:
        """Move the item out of the queue to where the operator can see it (I12).

        Raise `SetAsideUnavailable` when no such place is configured; the engine
        then stops the run with an error naming the item."""
        raise SetAsideUnavailable(f"{self.context.provider} has no set-aside place configured")

    #: True when `claim` marks items (I2, I11). Without claims the engine waits for
    #: the ticket system's listing lag before it reconciles, and cannot tell a
    #: create an earlier run may still have in flight. The engine reads it during
    #: the run, so it may be a property that asks the server.
    supports_claims: bool = False

    def claim(self, item: Item | PoisonItem, flag: Flag, at: datetime) -> bool:
        """Mark the item "a ticket may exist", recording the time ``at`` (UTC), before
        its ticket is created (I2, I11).

        Later runs report the mark as `Item.claimed_at` (rounded up if the source
        stores time coarsely) and leave the item alone until the claim window has
        passed. Claiming an item claimed earlier replaces the time. Where the source
        has a compare-and-set (IMAP ``UNCHANGEDSINCE``), the claim is atomic against
        the item as it was listed (``item.claim_token``): return False when another
        run changed or claimed it since, or when the item is gone; the engine then
        leaves it alone this run. A source without one holds a lease instead
        (`lease`), or says in its README that two runs at once may race."""
        raise NotImplementedError

    def lease(self, flag: Flag, until: datetime) -> bool:
        """Take this instance's run lease in the source until ``until`` (UTC, the run's
        deadline plus a margin), atomically (S3 conditional writes); False when
        another run of the instance holds an unexpired lease: the engine then ends
        the run at once, touching nothing. A lease whose time has passed is taken
        over. The default holds none and returns True: a source whose claims are
        atomic needs no lease."""
        return True

    def release_lease(self, flag: Flag) -> None:
        """Give up the lease `lease` took (only if it is still this run's). Called at the
        end of a run that took one and still has time; the default does nothing."""

    def owns(self, origin: Origin) -> bool:
        """True if ``origin`` belongs to this source (provider and scope, I7)."""
        return origin.provider == self.context.provider and origin.scope == self.scope

    def check(self) -> None:
        """Reach the source read-only (auth, permissions); raise `Unreachable`."""

    def close(self) -> None:
        """Release connections. Called once at the end of every run."""


class TicketSystem(ABC):
    """Where tickets go: Jira, GitHub Issues, an in-house tracker."""

    def __init__(self, context: ProviderContext) -> None:
        self.context = context

    #: Seconds by which `flagged` may lag behind a create (I11); 0 means the
    #: listing is read-after-write consistent (or the provider closes the gap
    #: itself, e.g. by direct reads). The engine waits this long, inside the time
    #: budget, before it trusts that a claimed item has no ticket.
    listing_lag: float = 0.0

    #: True when `complete` needs the ticket's draft: reconcile then reads the
    #: item again from the source and shapes it with the same hooks as the create
    #: (``shape_ticket_draft``) before it deletes the item. False skips that read.
    completes_from_draft: bool = False

    @abstractmethod
    def create(self, draft: TicketDraft, flag: Flag, origin: Origin) -> Ticket:
        """Create one ticket whose single create request carries ``flag.label``
        and ``origin.to_ref()`` (I3). Never retried (I4): raise `OutcomeUnknown`
        when the outcome cannot be known, `ItemRejected` when the system refuses
        the draft as invalid."""

    def prepare(self, flag: Flag) -> None:
        """Make sure creates can carry ``flag`` (I3), before the run's first one.

        The engine calls it once a run, right before the first item is claimed
        and ticketed (never in ``plan`` or ``check``, never when the drain finds
        nothing to create). A provider creates here what every create needs and
        may be missing (GitHub: the flag label), idempotently, and checks what it
        can (permissions); raise `Unreachable` (or `SetupError`) naming what to
        fix: the run then stops before the drain changed anything. The default
        does nothing."""

    @abstractmethod
    def flagged(self, flag: Flag) -> Iterator[Ticket]:
        """Yield every ticket that carries ``flag.label`` (this instance's only, I7),
        each with its parsed origin.

        Reconcile unflags tickets while it iterates, so a paginated listing must
        not page by offset over the flagged set (it would skip tickets): read
        the pages first, or page by a stable key."""

    @abstractmethod
    def unflag(self, ticket: Ticket, flag: Flag) -> None:
        """Remove ``flag.label`` from the ticket, touching nothing else. Idempotent."""

    def complete(self, ticket: Ticket, draft: TicketDraft) -> None:
        """Finish a flagged ticket from its draft (upload the draft's attachments
        the ticket lacks).

        ``draft`` is the one the create used: the item as the plugins shaped it
        (a hook that dropped an attachment dropped it here too). Called after
        the create, and again by reconcile (from the item read again and shaped
        again) before the origin is deleted, so it must be idempotent. The
        default does nothing."""

    def find(self, origin: Origin, flag: Flag) -> Ticket | None:
        """Return the flagged ticket for ``origin``, or None. The default scans
        `flagged`; a provider may search more directly."""
        for ticket in self.flagged(flag):
            if ticket.origin is not None and ticket.origin.identity() == origin.identity():
                return ticket
        return None

    def check(self, flag: Flag) -> None:
        """Reach the system read-only (auth, permissions, the flag label usable);
        raise `Unreachable`."""

    def close(self) -> None:
        """Release connections. Called once at the end of every run."""


Factory = Callable[[ProviderContext], Any]


@attrs.frozen
class ProviderSpec:
    """A registered provider: its name, settings class and how to build it.

    ``factory`` is a callable taking a `ProviderContext`, or a ``"module:attr"``
    string imported only when the provider is selected (keep heavy imports
    there). ``settings`` is a `ProviderSettings` subclass (the core reads it
    from ``SHITSHOVELA_<NAME>__*``). ``plugin`` is filled in by the core with the
    registering plugin.
    """

    name: str
    kind: ProviderKind
    factory: str | Factory = attrs.field(eq=False, repr=False)
    settings: type[ProviderSettings] = ProviderSettings
    help: str = ""
    plugin: str = ""

    @property
    def default_rate(self) -> float:
        """The default of the provider's ``RATE``."""
        rate = next(s for s in settings_of(self.settings) if s.name == "RATE")
        return float(rate.default)

    @property
    def tls(self) -> bool:
        """True when the provider has ``TLS_VERIFY`` and ``CA_BUNDLE`` (`TlsSettings`)."""
        return issubclass(self.settings, TlsSettings)

    def load(self) -> Factory:
        """Import and return the factory."""
        if callable(self.factory):
            return self.factory
        module_name, _, attr = self.factory.partition(":")
        module = importlib.import_module(module_name)
        factory: Factory = getattr(module, attr)
        return factory


class Register:
    """The ``register`` callback handed to the registration hooks.

    ``register("imap", "shitshovela_imap.source:ImapSource", settings=ImapSettings,
    help="...")`` declares one provider.
    """

    def __init__(self, kind: ProviderKind, sink: Callable[[ProviderSpec], None]) -> None:
        self._kind = kind
        self._sink = sink

    def __call__(
        self,
        name: str,
        factory: str | Factory,
        *,
        settings: type[ProviderSettings] | Sequence[Setting] = (),
        help: str = "",
        default_rate: float | None = None,
        tls: bool | None = None,
    ) -> None:
        """Register one provider called ``name`` (lower case, used in env vars).

        ``settings`` is its `ProviderSettings` subclass, which declares ``RATE``'s
        default (``rate: float = rate_setting(20.0)``) and inherits `TlsSettings`
        for ``TLS_VERIFY`` and ``CA_BUNDLE``. A plain list of `Setting` is still
        accepted: the core makes the class, with ``default_rate`` (default 5) as
        RATE's default and the TLS settings when ``tls`` is true. Raises
        `TypeError` for a class the core cannot read, or for ``default_rate``/
        ``tls`` given with a class (the class says those itself)."""
        if isinstance(settings, type):
            if default_rate is not None or tls is not None:
                raise TypeError(
                    f"provider {name!r}: a settings class declares RATE's default "
                    "(rate: float = rate_setting(...)) and TLS (inherit TlsSettings) itself"
                )
            if not issubclass(settings, ProviderSettings):
                raise TypeError(f"provider {name!r}: settings must subclass ProviderSettings")
            settings_of(settings)
            cls = settings
        else:
            cls = listed_settings(name, settings, default_rate=default_rate, tls=bool(tls))
        self._sink(
            ProviderSpec(name=name, kind=self._kind, factory=factory, settings=cls, help=help)
        )


def listed_settings(
    name: str, settings: Sequence[Setting], *, default_rate: float | None = None, tls: bool = False
) -> type[ProviderSettings]:
    """The settings class of a provider registered with a plain list of `Setting`:
    its fields typed `Any`, RATE's default ``default_rate`` (else 5), and the TLS
    settings when ``tls``."""
    declared = list(settings)
    if default_rate is not None and all(s.name != "RATE" for s in declared):
        rate = next(s for s in settings_of(ProviderSettings) if s.name == "RATE")
        declared.append(attrs.evolve(rate, default=default_rate))
    bases = (ProviderSettings, TlsSettings) if tls else (ProviderSettings,)
    cls = settings_class(name, declared, bases)
    assert issubclass(cls, ProviderSettings)
    return cls
