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

Each check is a small named function, named after the rule it proves
(`SOURCE_CHECKS`, `TICKET_CHECKS`), so a provider may also call one directly.

`source_suite` checks: lazy listing, every item listed with its own origin,
origin round-trip, idempotent delete, exact delete (I9: a newer item with the
same name survives), claims with their time when supported, two runs of one
instance never both claiming an item (a lease or compare-and-set claims), an
origin marker in an item's content is only content, and a wrong credential makes `check` raise
`Unreachable`.

`ticket_system_suite` checks: flag and origin present on create and returned
by the flagged listing (I3); flag and origin in the create request itself, not
added after; the listing scoped to the instance (I7); closed tickets still
listed; a listing that skips nothing while reconcile unflags (pages read by
offset would); hostile origins round-trip exactly; a forged origin in a
ticket's content never wins over the real one; unflag removes the flag and
nothing else, idempotently; a create whose answer was lost raises
`OutcomeUnknown` and leaves exactly one ticket (never retried, I4); `find`;
a wrong credential makes `check` raise `Unreachable`; and a flagged ticket
another identity created is listed and found with ``by_job`` False (the job's
own with True), so reconcile never finishes a planted flag and origin.

**Capabilities.** Some checks need more of the harness than the required
methods: a way to close a ticket, to lose a create's answer, a provider built
with a wrong credential... Each is an optional method documented on
`SourceHarness` / `TicketHarness`. A harness that cannot offer one declares
it, with the reason, in its ``unsupported`` mapping (capability name ->
reason): the check then reports itself skipped with that reason (visible in
pytest's summary, ``-rs``). A capability neither offered nor declared is an
error of the harness (`HarnessIncomplete`), never a silent pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import attrs
import pytest

from shitshovela_core.errors import OutcomeUnknown, Unreachable
from shitshovela_core.models import Flag, Item, Origin, PoisonItem, Ticket, TicketDraft
from shitshovela_core.origintext import origin_marker
from shitshovela_core.providers import Source, TicketSystem


class HarnessIncomplete(Exception):
    """A check needs a capability the harness neither offers nor declares unsupported."""


@attrs.frozen
class StoredTicket:
    """A ticket as the ticket system stores it, read by the harness behind the provider's back.

    ``labels`` are every label the ticket carries; ``origin_ref`` is the origin
    reference the system holds for it (decoded from wherever the provider
    keeps it: a property, a custom field, a marker in the text), or None.
    """

    labels: tuple[str, ...]
    origin_ref: str | None = None


def capability(harness: object, name: str) -> Any:
    """The harness's ``name`` (a method or attribute), or a skip naming the reason the
    harness declared in ``unsupported``; `HarnessIncomplete` when it does neither."""
    declared: Mapping[str, str] = getattr(harness, "unsupported", {})
    if name in declared:
        pytest.skip(f"{type(harness).__name__} declares no {name}: {declared[name]}")
    found = getattr(harness, name, None)
    if found is None:
        raise HarnessIncomplete(
            f"{type(harness).__name__} has no {name!r}: implement it (see the harness "
            "protocol in shitshovela_testkit.conformance) or declare it in `unsupported` "
            "with the reason"
        )
    return found


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

    # -- capabilities: offer each, or declare it in ``unsupported`` ------------------

    #: Capability name -> why this harness cannot offer it (e.g. ``{"source_with_wrong_
    #: credential": "a local folder has no credential"}``): those checks are skipped
    #: with the reason. Optional; empty when the harness offers every capability.
    unsupported: Mapping[str, str]

    def source_with_wrong_credential(self) -> Source:
        """A `Source` over the same store, built with a wrong credential (a wrong
        password, token or secret key, everything else right): its `check` must
        raise `Unreachable`."""


class TicketHarness(Protocol):
    """What `ticket_system_suite` needs to drive a ticket system under test."""

    def tickets(self, instance: str) -> TicketSystem:
        """A fresh `TicketSystem` for ``instance`` over the test tracker."""

    def settle(self) -> None:
        """Wait until the system's listing shows every write so far (its lag)."""

    def close(self) -> None:
        """Clean up."""

    # -- capabilities: offer each, or declare it in ``unsupported`` ------------------

    #: Capability name -> why this harness cannot offer it: those checks are skipped
    #: with the reason. Optional; empty when the harness offers every capability.
    unsupported: Mapping[str, str]

    def close_ticket(self, key: str) -> None:
        """Close (resolve, mark done) the ticket ``key`` as a person would, behind the
        provider's back: a closed ticket still carries its flag and must still be
        listed (reconcile must finish it)."""

    def add_label(self, key: str, label: str) -> None:
        """Add ``label`` to the ticket ``key`` as a person would, behind the provider's back."""

    def stored(self, key: str) -> StoredTicket:
        """The ticket ``key`` as the system stores it now (read behind the provider's back)."""

    def stored_at_create(self, key: str) -> StoredTicket:
        """The ticket ``key`` as the system stored it right after the request that
        created it, before any further request (the provider's own follow-ups inside
        `create` included): e.g. from the stand-in server's record of that request,
        or the first entry of the ticket's history."""

    def lose_next_create_answer(self) -> None:
        """Make the next create take effect while its answer never reaches the
        provider (e.g. the stand-in applies it and drops the connection, or a fault
        proxy resets it after forwarding the request)."""

    def tickets_with_wrong_credential(self, instance: str) -> TicketSystem:
        """A `TicketSystem` for ``instance`` built with a wrong credential (token,
        password), everything else right: its `check` must raise `Unreachable`."""

    def plant(self, flag: Flag, origin_ref: str) -> str:
        """Create a ticket as another identity than the provider's (a person with
        access to the ticket system), carrying ``flag.label`` and the origin reference
        ``origin_ref`` where the provider reads origins from; return its key. Declare
        it unsupported where the system does not record who created a ticket."""

    #: How many tickets one page of the provider's flagged listing holds, as this
    #: harness configured the provider or the system (keep it small: the check flags
    #: two pages and one more). Declared unsupported with the reason (``"the listing
    #: is read in one piece"``), the check still runs, with `UNPAGED_COUNT` tickets.
    page_size: int


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
    """A claim records its time (rounded up at most, never down: 1 s of slack for a
    store that keeps whole seconds), for that instance only, on the same revision;
    claiming again replaces the time (I2, I11)."""
    source = h.source()
    if not source.supports_claims:
        return
    h.add("claimed", b"subject\nbody")
    entry = _entry(source, "claimed")
    assert entry.claimed_at is None, "a new item must not be listed as claimed"
    flag = Flag(source.context.instance)
    at = datetime.now(UTC)
    assert source.claim(entry, flag, at) is True, "a claim of a listed, unchanged item failed"
    claimed = _entry(h.source(), "claimed")
    assert claimed.claimed_at is not None, "a claimed item must be listed with its claim time"
    assert claimed.claimed_at >= at - timedelta(seconds=1), (
        f"claim time {claimed.claimed_at} is before the claim at {at}: round up, never down"
    )
    assert claimed.origin.identity() == entry.origin.identity(), (
        "a claim must not change the revision"
    )
    later = at + timedelta(hours=1)
    assert source.claim(claimed, flag, later) is True, "claiming a claimed item again failed"
    again = _entry(h.source(), "claimed")
    assert again.claimed_at is not None
    assert again.claimed_at >= later - timedelta(seconds=1), "a new claim must replace the time"


def check_two_runs_cannot_both_claim(h: SourceHarness) -> None:
    """Two runs of one instance at once (a double schedule) never both work on one
    item (I2): either the second cannot take the source's lease, or of two claims of
    the same listed item exactly one wins (compare-and-set)."""
    declared: Mapping[str, str] = getattr(h, "unsupported", {})
    if "exclusive_runs" in declared:
        pytest.skip(f"exclusive_runs: {declared['exclusive_runs']}")
    first, second = h.source(), h.source()
    flag = Flag(first.context.instance)
    until = datetime.now(UTC) + timedelta(minutes=5)
    assert first.lease(flag, until), "the first run could not take a free lease"
    try:
        if not second.lease(flag, until):
            return
        second.release_lease(flag)
        assert first.supports_claims, (
            "two runs of one instance both hold the lease and the source has no claims: "
            "declare unsupported['exclusive_runs'] with the reason, and say so in the README"
        )
        h.add("contended", b"subject\nbody")
        mine, theirs = _entry(first, "contended"), _entry(second, "contended")
        now = datetime.now(UTC)
        won = [first.claim(mine, flag, now), second.claim(theirs, flag, now)]
        assert won == [True, False], (
            f"claims of one listed item by two runs gave {won}: exactly the first must win "
            "(a compare-and-set claim), or the source must hold a lease"
        )
    finally:
        first.release_lease(flag)


def check_marker_in_content_is_only_content(h: SourceHarness) -> None:
    """An item whose content carries an origin marker or reference is listed with its
    own origin: a source never reads an origin out of an item's content."""
    forged = Origin("conformance", "forged://scope", "victim", "1").to_ref()
    h.add("planted", f"subject {origin_marker(forged)}\n{origin_marker(forged)}\n{forged}".encode())
    source = h.source()
    entry = _entry(source, "planted")
    assert source.owns(entry.origin), "an origin planted in the content replaced the item's own"
    assert "victim" not in entry.origin.key


def check_wrong_credential_is_unreachable(h: SourceHarness) -> None:
    """`check` with a wrong credential raises `Unreachable` (a run must not start)."""
    source = capability(h, "source_with_wrong_credential")()
    _assert_refused(source.check, "Source.check")


def _assert_refused(check: Callable[[], None], what: str) -> None:
    try:
        check()
    except Unreachable:
        return
    except Exception as exc:
        raise AssertionError(
            f"{what} with a wrong credential raised {type(exc).__name__}: {exc}, not Unreachable"
        ) from exc
    raise AssertionError(f"{what} accepted a wrong credential: it must raise Unreachable")


SOURCE_CHECKS: tuple[Callable[[SourceHarness], None], ...] = (
    check_items_are_lazy,
    check_lists_every_item_with_own_origin,
    check_origin_round_trip,
    check_delete_is_idempotent,
    check_delete_is_exact,
    check_claims,
    check_two_runs_cannot_both_claim,
    check_marker_in_content_is_only_content,
    check_wrong_credential_is_unreachable,
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


def check_create_request_carries_flag_and_origin(h: TicketHarness) -> None:
    """The request that creates the ticket carries the flag and the origin (I3): a
    crash between a create and a later "add the flag" would leave a ticket that
    no reconcile can find, and the item would be ticketed twice."""
    ts = h.tickets("conf-a")
    flag = Flag("conf-a")
    origin = sample_origin("atomic-1")
    ticket = ts.create(_draft(), flag, origin)
    first = capability(h, "stored_at_create")(ticket.key)
    assert flag.label in first.labels, (
        "the flag was not in the create request (added after the create?)"
    )
    assert first.origin_ref == origin.to_ref(), (
        "the origin was not in the create request (added after the create?)"
    )


def check_listing_includes_closed_tickets(h: TicketHarness) -> None:
    """A closed ticket that still carries the flag is listed: reconcile must finish
    it (delete its item, unflag it), or the item is ticketed again."""
    ts = h.tickets("conf-a")
    flag = Flag("conf-a")
    origin = sample_origin("closed-1")
    ticket = ts.create(_draft(), flag, origin)
    capability(h, "close_ticket")(ticket.key)
    h.settle()
    listed = _listed(ts, flag)
    assert ticket.key in listed, "a closed ticket with the flag is missing from the listing"
    assert listed[ticket.key].origin == origin


#: Tickets the paging check flags when the harness declares the listing unpaged.
UNPAGED_COUNT = 7


def check_unflag_while_listing_skips_nothing(h: TicketHarness) -> None:
    """Every flagged ticket is listed while reconcile unflags each one as it comes:
    a listing paged lazily by offset over the flagged set skips tickets as earlier
    ones leave it. The check flags more tickets than two pages hold."""
    declared: Mapping[str, str] = getattr(h, "unsupported", {})
    count = UNPAGED_COUNT if "page_size" in declared else 2 * capability(h, "page_size") + 1
    ts = h.tickets("conf-p")
    flag = Flag("conf-p")
    created = {
        ts.create(_draft(f"paged {n}"), flag, sample_origin(f"paged-{n}")).key for n in range(count)
    }
    h.settle()
    seen: list[str] = []
    for ticket in ts.flagged(flag):
        seen.append(ticket.key)
        ts.unflag(ticket, flag)
    missed = sorted(created - set(seen))
    assert not missed, (
        f"{len(missed)} of {count} flagged tickets were never listed while unflagging: "
        f"{missed[:5]} (a listing paged by offset over the flagged set?)"
    )


def hostile_origins() -> list[Origin]:
    """Origins whose keys and scopes try to break out of the text they are stored in."""
    marker = origin_marker(Origin("conformance", "forged://", "victim").to_ref())
    return [
        Origin("conformance", "scope \"with\" 'quotes'", 'key "quoted" \\ back\\slash', "1"),
        Origin("conformance", "scope\nwith\r\nnewlines", "key\nline two\n\nline four", "2"),
        Origin("conformance", "scope -->", "key --> <!-- --!> ]]> </textarea>", "3"),
        Origin("conformance", "**md** `code`", "[link](https://x) ![img](y) # head | a |", "4"),
        Origin("conformance", "long://" + "s" * 300, "k" * 2000, "5"),
        Origin("conformance", "scope ünïcödé ✓", "ключ 鍵 🔑 \u200b\u202e", "6", extra={"ü": "✓"}),
        Origin("conformance", f"scope {marker}", f"{marker} key {marker}", "7"),
    ]


def check_hostile_origins_round_trip(h: TicketHarness) -> None:
    """Origins with quotes, newlines, ``-->``, markdown, very long or non-ASCII text, or
    the origin marker's own syntax in their key or scope come back exactly: they
    never break out of the text (or field) the provider stores them in."""
    ts = h.tickets("conf-a")
    flag = Flag("conf-a")
    made = {
        ts.create(_draft(f"hostile {n}"), flag, origin).key: origin
        for n, origin in enumerate(hostile_origins())
    }
    h.settle()
    listed = _listed(ts, flag)
    for key, origin in made.items():
        assert key in listed, f"the ticket of origin {origin.key[:40]!r} is not listed"
        assert listed[key].origin == origin, (
            f"origin {origin.key[:40]!r} did not round-trip: got {listed[key].origin_ref[:120]!r}"
        )


def check_forged_origin_in_content_never_wins(h: TicketHarness) -> None:
    """A ticket whose content carries a forged origin (a marker, a reference, a field,
    as a hostile mail may) is listed with its real origin, and `find` of the forged
    origin does not return it."""
    ts = h.tickets("conf-a")
    flag = Flag("conf-a")
    real = sample_origin("forged-real")
    forged = sample_origin("forged-victim")
    marker = origin_marker(forged.to_ref())
    draft = TicketDraft(
        title="Forged origin: <!-- shitshovela:origin:v1:",
        body=f"{marker}\nA quoted ref: {forged.to_ref()}\n\n{marker}",
        labels=("conformance",),
        fields={"origin": forged.to_ref(), "shitshovela.origin": {"ref": forged.to_ref()}},
    )
    ticket = ts.create(draft, flag, real)
    h.settle()
    listed = _listed(ts, flag)
    assert ticket.key in listed
    assert listed[ticket.key].origin == real, "a forged origin in the content won"
    assert ts.find(forged, flag) is None, "find returned a ticket for the forged origin"


def check_unflag_keeps_other_labels(h: TicketHarness) -> None:
    """Unflag removes the flag and nothing else: the draft's labels and a label a
    person added stay on the ticket."""
    ts = h.tickets("conf-a")
    flag = Flag("conf-a")
    ticket = ts.create(_draft(), flag, sample_origin("labels-1"))
    capability(h, "add_label")(ticket.key, "added-by-a-person")
    ts.unflag(ticket, flag)
    labels = capability(h, "stored")(ticket.key).labels
    assert flag.label not in labels, "unflag left the flag"
    kept = {"conformance", "added-by-a-person"} - set(labels)
    assert not kept, f"unflag removed other labels: {sorted(kept)}"


def check_create_is_never_retried_after_a_lost_answer(h: TicketHarness) -> None:
    """A create whose answer was lost raises `OutcomeUnknown` and is not retried (I4):
    exactly one ticket exists for the origin."""
    ts = h.tickets("conf-a")
    flag = Flag("conf-a")
    origin = sample_origin("lost-1")
    capability(h, "lose_next_create_answer")()
    try:
        ts.create(_draft(), flag, origin)
    except OutcomeUnknown:
        pass
    except Exception as exc:
        raise AssertionError(
            f"a create whose answer was lost raised {type(exc).__name__}: {exc}, not OutcomeUnknown"
        ) from exc
    else:
        raise AssertionError(
            "a create whose answer was lost succeeded: it was retried (it must raise "
            "OutcomeUnknown)"
        )
    h.settle()
    mine = [t.key for t in ts.flagged(flag) if t.origin == origin]
    assert len(mine) == 1, f"{len(mine)} tickets for one create whose answer was lost: {mine}"


def check_ticket_by_another_identity_is_not_by_job(h: TicketHarness) -> None:
    """A flagged ticket with an origin that another identity created (someone planted
    this instance's flag and an item's origin) is listed, and found by that origin,
    with ``by_job`` False; the job's own ticket is listed with ``by_job`` True.
    Reconcile finishes only tickets the job created (I7): a planted one must never
    delete the item its origin names (I1)."""
    ts = h.tickets("conf-a")
    flag = Flag("conf-a")
    own = ts.create(_draft(), flag, sample_origin("own-1"))
    planted_origin = sample_origin("planted-1")
    planted = capability(h, "plant")(flag, planted_origin.to_ref())
    h.settle()
    listed = _listed(ts, flag)
    assert planted in listed, "a flagged ticket another identity created is not listed"
    assert listed[planted].origin == planted_origin
    assert listed[planted].by_job is False, (
        f"a ticket another identity created is listed with by_job={listed[planted].by_job!r}, "
        "not False: reconcile would delete the item its planted origin names"
    )
    assert listed[own.key].by_job is True, (
        f"the job's own ticket is listed with by_job={listed[own.key].by_job!r}, not True"
    )
    found = ts.find(planted_origin, flag)
    assert found is not None, "find does not return the planted ticket"
    assert found.key == planted
    assert found.by_job is False, f"find returned the planted ticket with by_job={found.by_job!r}"


def check_tickets_wrong_credential_is_unreachable(h: TicketHarness) -> None:
    """`check` with a wrong credential raises `Unreachable` (a run must not start)."""
    ts = capability(h, "tickets_with_wrong_credential")("conf-a")
    _assert_refused(lambda: ts.check(Flag("conf-a")), "TicketSystem.check")


TICKET_CHECKS: tuple[Callable[[TicketHarness], None], ...] = (
    check_create_carries_flag_and_origin,
    check_create_request_carries_flag_and_origin,
    check_listing_is_scoped_to_the_instance,
    check_listing_includes_closed_tickets,
    check_unflag_while_listing_skips_nothing,
    check_hostile_origins_round_trip,
    check_forged_origin_in_content_never_wins,
    check_unflag_is_idempotent,
    check_unflag_keeps_other_labels,
    check_create_is_never_retried_after_a_lost_answer,
    check_find_by_origin,
    check_tickets_wrong_credential_is_unreachable,
    check_ticket_by_another_identity_is_not_by_job,
)


def _takes_request(factory: Callable[..., Any]) -> bool:
    import inspect

    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return any(p.kind in positional for p in parameters)


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
