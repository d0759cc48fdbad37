"""A conformance kit: pytest suites that check a provider against the contracts.

A plugin author writes a small *harness* for the system under test and gets a
ready pytest class::

    from shitshovela_testkit.conformance import source_suite

    class MyHarness:
        def source(self) -> Source: ...           # a Source over a test store
        def add(self, name: str, content: bytes) -> None: ...
        def replace(self, name: str, content: bytes) -> None: ...
        def names(self) -> list[str]: ...           # names still waiting
        def close(self) -> None: ...

    TestMySourceConformance = source_suite(MyHarness)

`source_suite` checks: lazy listing, origin round-trip, exact read, idempotent
delete, exact delete (I9: a newer item with the same name survives), claims
when supported. `ticket_system_suite` checks: flag and origin present on
create and returned by the flagged listing (I3), the listing scoped to the
instance (I7), idempotent unflag, `find`, and origins with awkward text.
Each check is a small named function (`SOURCE_CHECKS`, `TICKET_CHECKS`), so a
provider may also call one directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

import pytest

from shitshovela_core.models import Flag, Item, Origin, PoisonItem, Ticket, TicketDraft
from shitshovela_core.providers import Source, TicketSystem


class SourceHarness(Protocol):
    """What `source_suite` needs to drive a source under test."""

    def source(self) -> Source:
        """A fresh `Source` over the test store (empty at the start of each check)."""

    def add(self, name: str, content: bytes) -> None:
        """Put a new item called ``name`` into the store."""

    def replace(self, name: str, content: bytes) -> None:
        """Overwrite the item ``name`` with new content (a newer revision)."""

    def names(self) -> list[str]:
        """The names of the items waiting in the store."""

    def close(self) -> None:
        """Clean up."""


class TicketHarness(Protocol):
    """What `ticket_system_suite` needs to drive a ticket system under test."""

    def tickets(self, instance: str) -> TicketSystem:
        """A fresh `TicketSystem` for ``instance`` over the test tracker."""

    def settle(self) -> None:
        """Wait until the system's listing shows every write so far (its lag)."""

    def close(self) -> None:
        """Clean up."""


def _entry(source: Source, name: str) -> Item | PoisonItem:
    for entry in source.items():
        if _name_of(entry.origin) == name:
            return entry
    raise AssertionError(f"item {name!r} not listed by the source")


def _name_of(origin: Origin) -> str:
    """The harness name in an origin key: the key itself, or its last path part."""
    return origin.key.rsplit("/", 1)[-1]


# -- source checks ---------------------------------------------------------------


def check_items_are_lazy(h: SourceHarness) -> None:
    """`Source.items` returns an iterator, not a list."""
    h.add("lazy-1", b"first line\nbody")
    listing = h.source().items()
    assert isinstance(listing, Iterator), "items() must return a lazy iterator"


def check_lists_every_item_with_own_origin(h: SourceHarness) -> None:
    """Every added item is listed once, as an origin the source owns."""
    for n in range(3):
        h.add(f"listed-{n}", f"subject {n}\nbody {n}".encode())
    source = h.source()
    origins = [entry.origin for entry in source.items()]
    names = sorted(_name_of(o) for o in origins)
    assert names == ["listed-0", "listed-1", "listed-2"]
    assert all(source.owns(o) for o in origins)
    assert len({o.identity() for o in origins}) == 3


def check_origin_round_trip(h: SourceHarness) -> None:
    """An origin survives serialisation, and `read` finds the same item by it."""
    h.add("round trip + ünïcode %2F", b"subject\nbody")
    source = h.source()
    entry = _entry(source, "round trip + ünïcode %2F")
    again = Origin.from_ref(entry.origin.to_ref())
    assert again == entry.origin
    read = source.read(again)
    assert read is not None
    assert read.origin.identity() == entry.origin.identity()


def check_delete_is_idempotent(h: SourceHarness) -> None:
    """Deleting twice is fine: True, then False; the item is gone."""
    h.add("delete-me", b"subject\nbody")
    source = h.source()
    origin = _entry(source, "delete-me").origin
    assert source.delete(origin) is True
    assert source.delete(origin) is False
    assert "delete-me" not in h.names()
    assert source.read(origin) is None


def check_delete_is_exact(h: SourceHarness) -> None:
    """Deleting an old revision never removes a newer item with the same name (I9)."""
    h.add("overwritten", b"old subject\nold body")
    source = h.source()
    old = _entry(source, "overwritten").origin
    h.replace("overwritten", b"new subject\nnew body")
    source.delete(old)
    assert "overwritten" in h.names(), "the newer item was deleted"
    newer = _entry(h.source(), "overwritten")
    assert newer.origin.identity() != old.identity()
    assert isinstance(newer, Item)
    assert newer.title == "new subject"


def check_claims(h: SourceHarness) -> None:
    """A claimed item is reported as claimed, for that instance only; claiming is idempotent."""
    source = h.source()
    if not source.supports_claims:
        return
    h.add("claimed", b"subject\nbody")
    origin = _entry(source, "claimed").origin
    flag = Flag(source.context.instance)
    source.claim(origin, flag)
    source.claim(origin, flag)
    entry = _entry(h.source(), "claimed")
    assert entry.claimed is True
    assert entry.origin.identity() == origin.identity(), "a claim must not change the revision"


SOURCE_CHECKS: tuple[Callable[[SourceHarness], None], ...] = (
    check_items_are_lazy,
    check_lists_every_item_with_own_origin,
    check_origin_round_trip,
    check_delete_is_idempotent,
    check_delete_is_exact,
    check_claims,
)


# -- ticket-system checks --------------------------------------------------------


def sample_origin(key: str = "item-1") -> Origin:
    """An origin as a source would write it, with awkward text in it."""
    return Origin(
        provider="conformance",
        scope='test://scope "quoted" OR labels = x',
        key=key,
        version="7",
        digest="sha256:abc",
        extra={"message_id": "<id'with\\odd\"chars@example.com>"},
    )


def _draft(title: str = "Conformance ticket") -> TicketDraft:
    return TicketDraft(title=title, body="Body line 1\nBody line 2", labels=("conformance",))


def _listed(ts: TicketSystem, flag: Flag) -> dict[str, Ticket]:
    return {t.key: t for t in ts.flagged(flag)}


def check_create_carries_flag_and_origin(h: TicketHarness) -> None:
    """The created ticket is flagged and listed with its origin (I3)."""
    ts = h.tickets("conf-a")
    flag = Flag("conf-a")
    origin = sample_origin("create-1")
    ticket = ts.create(_draft(), flag, origin)
    assert ticket.flagged
    assert ticket.key
    h.settle()
    listed = _listed(ts, flag)
    assert ticket.key in listed, "a created ticket must be in the flagged listing"
    assert listed[ticket.key].origin == origin, "the origin must round-trip exactly"


def check_listing_is_scoped_to_the_instance(h: TicketHarness) -> None:
    """Another instance's flagged listing does not show this instance's tickets (I7)."""
    mine = h.tickets("conf-a").create(_draft(), Flag("conf-a"), sample_origin("scoped-1"))
    other = h.tickets("conf-b")
    theirs = other.create(_draft("other"), Flag("conf-b"), sample_origin("scoped-2"))
    h.settle()
    listed = _listed(other, Flag("conf-b"))
    assert mine.key not in listed
    assert theirs.key in listed


def check_unflag_is_idempotent(h: TicketHarness) -> None:
    """Unflagging twice is fine and the ticket leaves the flagged listing."""
    ts = h.tickets("conf-a")
    flag = Flag("conf-a")
    ticket = ts.create(_draft(), flag, sample_origin("unflag-1"))
    ts.unflag(ticket, flag)
    ts.unflag(ticket, flag)
    h.settle()
    assert ticket.key not in _listed(ts, flag)


def check_find_by_origin(h: TicketHarness) -> None:
    """`find` returns the flagged ticket of an origin, and None for an unknown one."""
    ts = h.tickets("conf-a")
    flag = Flag("conf-a")
    origin = sample_origin("find-1")
    ticket = ts.create(_draft(), flag, origin)
    h.settle()
    found = ts.find(origin, flag)
    assert found is not None
    assert found.key == ticket.key
    assert ts.find(sample_origin("never-created"), flag) is None


TICKET_CHECKS: tuple[Callable[[TicketHarness], None], ...] = (
    check_create_carries_flag_and_origin,
    check_listing_is_scoped_to_the_instance,
    check_unflag_is_idempotent,
    check_find_by_origin,
)


def _takes_request(factory: Callable[..., Any]) -> bool:
    import inspect

    try:
        return len(inspect.signature(factory).parameters) > 0
    except (TypeError, ValueError):
        return False


def _suite(
    name: str, checks: tuple[Callable[[Any], None], ...], factory: Callable[..., Any]
) -> type:
    def harness(self: object, request: pytest.FixtureRequest) -> Iterator[Any]:
        # A factory that takes an argument gets pytest's `request`, so it can use the
        # provider's own fixtures: `request.getfixturevalue("dovecot")`.
        made = factory(request) if _takes_request(factory) else factory()
        try:
            yield made
        finally:
            made.close()

    namespace: dict[str, Any] = {"harness": pytest.fixture(harness)}
    for check in checks:
        test_name = "test_" + check.__name__.removeprefix("check_")

        def test(self: object, harness: Any, check: Callable[[Any], None] = check) -> None:
            check(harness)

        test.__name__ = test_name
        test.__doc__ = check.__doc__
        namespace[test_name] = test
    return type(name, (), namespace)


def source_suite(factory: Callable[..., SourceHarness]) -> type:
    """A pytest class running every source check against harnesses from ``factory``
    (called with no argument, or with pytest's ``request`` if it takes one)."""
    return _suite("SourceConformance", SOURCE_CHECKS, factory)


def ticket_system_suite(factory: Callable[..., TicketHarness]) -> type:
    """A pytest class running every ticket-system check against harnesses from ``factory``
    (called with no argument, or with pytest's ``request`` if it takes one)."""
    return _suite("TicketSystemConformance", TICKET_CHECKS, factory)
