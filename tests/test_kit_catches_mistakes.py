"""The conformance kit catches each mistake a plugin author makes.

Each broken provider below carries exactly one mistake: a subclass of the
testkit's worked HTTP example (`IssueTrackerTickets`, over its GitHub-like
stand-in server) or of the fake source. The kit's check for that mistake must
fail on it, every other check must pass on it (one check per mistake), and the
correct provider passes the whole suite.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from typing import Any, ClassVar
from urllib.parse import urlencode

import attrs
import pytest
from shitshovela_testkit import conformance
from shitshovela_testkit.conformance import source_suite, ticket_system_suite
from shitshovela_testkit.fakes import FakeSource, FakeStore, StoredItem, fake_context
from shitshovela_testkit.issuetracker import IssueTrackerHarness, IssueTrackerTickets

from shitshovela_core.errors import OutcomeUnknown
from shitshovela_core.models import Flag, Item, Origin, PoisonItem, Ticket, TicketDraft
from shitshovela_core.origintext import find_origin
from shitshovela_core.paging import follow_links
from shitshovela_core.providers import Source

pytestmark = pytest.mark.unit

# -- ticket systems with one mistake each ------------------------------------------------


class SkipsClosedTickets(IssueTrackerTickets):
    """Lists with the tracker's default ``state=open``: closed tickets are never reconciled."""

    def flagged(self, flag: Flag) -> Iterator[Ticket]:
        query = urlencode({"labels": flag.label, "per_page": self.per_page})
        pages = list(follow_links(self._page, f"/issues?{query}"))
        for page in pages:
            for issue in page.json():
                yield self._ticket(issue, flag)


class PagesLazilyByOffset(IssueTrackerTickets):
    """Fetches the next page only when the previous one is used up, while reconcile unflags."""

    def flagged(self, flag: Flag) -> Iterator[Ticket]:
        query = urlencode({"labels": flag.label, "state": "all", "per_page": self.per_page})
        for page in follow_links(self._page, f"/issues?{query}"):
            for issue in page.json():
                yield self._ticket(issue, flag)


_RAW = re.compile(r"<!-- origin: (.*?) -->", re.DOTALL)


class OriginBreaksOut(IssueTrackerTickets):
    """Writes the reference into the body as it is: a ``-->`` in a key ends the marker."""

    def create(self, draft: TicketDraft, flag: Flag, origin: Origin) -> Ticket:
        raw = draft
        response = self.http.request(
            "POST",
            "/issues",
            idempotent=False,
            json={
                "title": raw.title,
                "body": f"{raw.body}\n\n<!-- origin: {origin.to_ref()} -->",
                "labels": [*raw.labels, flag.label],
            },
        )
        return self._ticket(response.json(), flag)

    @staticmethod
    def origin_in(body: str) -> str | None:
        found = _RAW.search(body)
        return found.group(1) if found else None


_MARKER = re.compile(r"<!-- shitshovela:origin:v1:([A-Za-z0-9_-]+={0,2}) -->")


class FirstMarkerWins(IssueTrackerTickets):
    """Reads the *first* origin marker of the body: one quoted in the item's text wins."""

    @staticmethod
    def origin_in(body: str) -> str | None:
        found = _MARKER.search(body)
        return base64.urlsafe_b64decode(found.group(1)).decode() if found else None


class UnflagWipesLabels(IssueTrackerTickets):
    """Unflags by writing back the labels it knew without the flag: a label added since is lost."""

    def unflag(self, ticket: Ticket, flag: Flag) -> None:
        kept = [label for label in ticket.labels if label != flag.label]
        self.http.request(
            "PATCH", f"/issues/{ticket.key}", idempotent=True, json={"labels": kept}
        ).raise_for_status()


class RetriesCreateBlindly(IssueTrackerTickets):
    """Tries the create again when its answer is lost: two tickets for one item."""

    def create(self, draft: TicketDraft, flag: Flag, origin: Origin) -> Ticket:
        try:
            return super().create(draft, flag, origin)
        except OutcomeUnknown:
            return super().create(draft, flag, origin)


class CheckAcceptsAnyToken(IssueTrackerTickets):
    """Checks nothing that needs the token: a wrong one is found only mid-run."""

    def check(self, flag: Flag) -> None:
        pass


class FlagsAfterCreate(IssueTrackerTickets):
    """Creates the issue, then adds the flag in a second request: a crash in between
    leaves a ticket no reconcile finds."""

    def create(self, draft: TicketDraft, flag: Flag, origin: Origin) -> Ticket:
        ticket = super().create(draft, Flag("never-used"), origin)
        self.http.request(
            "POST", f"/issues/{ticket.key}/labels", idempotent=False, json={"labels": [flag.label]}
        ).raise_for_status()
        return Ticket(ticket.key, origin, True, origin_ref=ticket.origin_ref)


class TrustsEveryCreator(IssueTrackerTickets):
    """Never says who created a ticket: a flag and an origin planted by anyone look
    like the job's own work, and reconcile deletes the item they name."""

    def _ticket(self, issue: dict[str, Any], flag: Flag) -> Ticket:
        return attrs.evolve(super()._ticket(issue, flag), by_job=None)


TICKET_MISTAKES: dict[type[IssueTrackerTickets], Callable[[Any], None]] = {
    SkipsClosedTickets: conformance.check_listing_includes_closed_tickets,
    PagesLazilyByOffset: conformance.check_unflag_while_listing_skips_nothing,
    OriginBreaksOut: conformance.check_hostile_origins_round_trip,
    FirstMarkerWins: conformance.check_forged_origin_in_content_never_wins,
    UnflagWipesLabels: conformance.check_unflag_keeps_other_labels,
    RetriesCreateBlindly: conformance.check_create_is_never_retried_after_a_lost_answer,
    CheckAcceptsAnyToken: conformance.check_tickets_wrong_credential_is_unreachable,
    FlagsAfterCreate: conformance.check_create_request_carries_flag_and_origin,
    TrustsEveryCreator: conformance.check_ticket_by_another_identity_is_not_by_job,
}


def test_every_new_ticket_check_has_a_broken_provider() -> None:
    new = set(conformance.TICKET_CHECKS) - {
        conformance.check_create_carries_flag_and_origin,
        conformance.check_listing_is_scoped_to_the_instance,
        conformance.check_unflag_is_idempotent,
        conformance.check_find_by_origin,
    }
    assert new == set(TICKET_MISTAKES.values())


def _outcome(check: Callable[[Any], None], provider: type[IssueTrackerTickets]) -> str:
    harness = IssueTrackerHarness(provider=provider)
    try:
        check(harness)
    except AssertionError as exc:
        return f"failed: {exc}"
    finally:
        harness.close()
    return "passed"


@pytest.mark.parametrize("provider", list(TICKET_MISTAKES), ids=lambda p: p.__name__)
def test_the_kit_catches_the_mistake(provider: type[IssueTrackerTickets]) -> None:
    check = TICKET_MISTAKES[provider]
    assert _outcome(check, provider).startswith("failed"), (
        f"{check.__name__} passed on {provider.__name__}"
    )


#: Checks that also catch a mistake, and why.
ALSO_CAUGHT: dict[type[IssueTrackerTickets], set[str]] = {
    # The create's answer is lost before the second request adds the flag: the ticket
    # exists unflagged, which is the very harm of adding the flag after the create.
    FlagsAfterCreate: {"check_create_is_never_retried_after_a_lost_answer"},
}


@pytest.mark.parametrize("provider", list(TICKET_MISTAKES), ids=lambda p: p.__name__)
def test_only_its_own_check_catches_the_mistake(provider: type[IssueTrackerTickets]) -> None:
    """One mistake, one check: every other check passes on the broken provider
    (except those `ALSO_CAUGHT` names)."""
    others = [c for c in conformance.TICKET_CHECKS if c is not TICKET_MISTAKES[provider]]
    failed = {c.__name__: o for c in others if (o := _outcome(c, provider)) != "passed"}
    assert set(failed) == ALSO_CAUGHT.get(provider, set()), failed


TestIssueTrackerConformance = ticket_system_suite(IssueTrackerHarness)


# -- sources with one mistake each -------------------------------------------------------


class SourceHarness:
    """The fake source over a store that wants a token."""

    source_class: type[FakeSource] = FakeSource

    def __init__(self) -> None:
        self.store = FakeStore("fake://kit", token="store-token")

    def _build(self, token: str) -> Source:
        return self.source_class(fake_context(instance="conf-a"), self.store, token=token)

    def source(self) -> Source:
        return self._build("store-token")

    def source_with_wrong_credential(self) -> Source:
        return self._build("wrong")

    def add(self, name: str, content: bytes) -> None:
        self.store.put(name, content.decode())

    replace = add

    def names(self) -> list[str]:
        return self.store.names()

    def close(self) -> None:
        self.store.items.clear()


class SourceCheckAcceptsAnyToken(FakeSource):
    """`check` never presents the token."""

    def check(self) -> None:
        pass


class SourceTrustsMarkersInContent(FakeSource):
    """Takes an origin marker found in the item's content for the item's origin."""

    def _entry(self, stored: StoredItem) -> Item | PoisonItem:
        entry = super()._entry(stored)
        ref = find_origin(stored.content)
        if ref is None:
            return entry
        return Item(origin=Origin.from_ref(ref), title="planted", body="")


SOURCE_MISTAKES: dict[type[FakeSource], Callable[[Any], None]] = {
    SourceCheckAcceptsAnyToken: conformance.check_wrong_credential_is_unreachable,
    SourceTrustsMarkersInContent: conformance.check_marker_in_content_is_only_content,
}


@pytest.mark.parametrize("source", list(SOURCE_MISTAKES), ids=lambda s: s.__name__)
def test_the_kit_catches_the_source_mistake(source: type[FakeSource]) -> None:
    harness = type("Broken", (SourceHarness,), {"source_class": source})()
    with pytest.raises(AssertionError):
        SOURCE_MISTAKES[source](harness)


TestFakeSourceWithToken = source_suite(SourceHarness)


# -- what a harness must say -------------------------------------------------------------


class Undeclared(IssueTrackerHarness):
    """Offers no way to close a ticket and does not say why."""

    close_ticket = None  # type: ignore[assignment]


class Declared(IssueTrackerHarness):
    unsupported: ClassVar[dict[str, str]] = {"close_ticket": "this tracker has no closed state"}


def test_a_missing_capability_is_an_error_not_a_pass() -> None:
    harness = Undeclared()
    try:
        with pytest.raises(conformance.HarnessIncomplete, match=r"close_ticket.*unsupported"):
            conformance.check_listing_includes_closed_tickets(harness)
    finally:
        harness.close()


def test_a_declared_capability_is_a_visible_skip() -> None:
    harness = Declared()
    try:
        with pytest.raises(pytest.skip.Exception, match="no closed state"):
            conformance.check_listing_includes_closed_tickets(harness)
    finally:
        harness.close()
