"""The conformance kit, run against the in-memory fakes."""

from __future__ import annotations

from typing import ClassVar

import pytest
from shitshovela_testkit import conformance
from shitshovela_testkit.clock import ManualClock
from shitshovela_testkit.conformance import StoredTicket, source_suite, ticket_system_suite
from shitshovela_testkit.fakes import (
    FakeSource,
    FakeStore,
    FakeTicketSystem,
    FakeTracker,
    fake_context,
)

from shitshovela_core.models import Flag
from shitshovela_core.providers import Source, TicketSystem

pytestmark = pytest.mark.unit


class FakeSourceHarness:
    def __init__(self) -> None:
        self.store = FakeStore("fake://conformance", token="store-token")

    def source(self) -> Source:
        return FakeSource(fake_context(instance="conf-a"), self.store, token="store-token")

    def source_with_wrong_credential(self) -> Source:
        return FakeSource(fake_context(instance="conf-a"), self.store, token="wrong")

    def add(self, name: str, content: bytes) -> None:
        self.store.put(name, content.decode())

    def replace(self, name: str, content: bytes) -> None:
        self.store.put(name, content.decode())

    def names(self) -> list[str]:
        return self.store.names()

    def close(self) -> None:
        self.store.items.clear()


class FakeTicketHarness:
    """A lagging tracker, so the kit's settle() matters."""

    unsupported: ClassVar[dict[str, str]] = {
        "page_size": "the fake lists a snapshot of the tracker in one piece"
    }

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.tracker = FakeTracker(lag=5.0, clock=self.clock)
        self.tracker.token = "tracker-token"

    def tickets(self, instance: str) -> TicketSystem:
        return FakeTicketSystem(
            fake_context(instance=instance), self.tracker, token="tracker-token"
        )

    def tickets_with_wrong_credential(self, instance: str) -> TicketSystem:
        return FakeTicketSystem(fake_context(instance=instance), self.tracker, token="wrong")

    def settle(self) -> None:
        self.clock.sleep(self.tracker.lag)

    def close_ticket(self, key: str) -> None:
        self.tracker.close(key)

    def add_label(self, key: str, label: str) -> None:
        self.tracker.add_label(key, label)

    def stored(self, key: str) -> StoredTicket:
        ticket = self.tracker.tickets[key]
        return StoredTicket(tuple(ticket.labels), ticket.origin_ref)

    def stored_at_create(self, key: str) -> StoredTicket:
        return StoredTicket(
            self.tracker.labels_at_create[key], self.tracker.tickets[key].origin_ref
        )

    def lose_next_create_answer(self) -> None:
        self.tracker.faults.kind = "error"
        self.tracker.faults.fail_on = "tickets.create.after"

    def plant(self, flag: Flag, origin_ref: str) -> str:
        return self.tracker.plant(flag, origin_ref)

    def close(self) -> None:
        self.tracker.tickets.clear()


TestFakeSourceConformance = source_suite(FakeSourceHarness)
TestFakeTicketSystemConformance = ticket_system_suite(FakeTicketHarness)


class NoSettleHarness(FakeTicketHarness):
    def settle(self) -> None:
        """Pretend the listing is consistent: the kit must notice the lag."""


class SloppySource(FakeSource):
    """Deletes by name, ignoring the revision: breaks I9."""

    def delete(self, origin):  # type: ignore[no-untyped-def]
        return self.store.items.pop(origin.key, None) is not None


class SloppyHarness(FakeSourceHarness):
    def source(self) -> Source:
        return SloppySource(fake_context(instance="conf-a"), self.store)


def test_the_kit_catches_a_lagging_listing_it_was_not_told_about() -> None:
    harness = NoSettleHarness()
    with pytest.raises(AssertionError, match="flagged listing"):
        conformance.check_create_carries_flag_and_origin(harness)


def test_the_kit_catches_a_delete_by_name() -> None:
    harness = SloppyHarness()
    with pytest.raises(AssertionError, match="newer item was deleted"):
        conformance.check_delete_is_exact(harness)


@pytest.fixture
def shared_store() -> FakeStore:
    return FakeStore("fake://from-a-fixture")


class FixtureSourceHarness(FakeSourceHarness):
    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.store = request.getfixturevalue("shared_store")
        self.store.token = "store-token"


TestFactoryWithRequest = source_suite(FixtureSourceHarness)


def test_a_factory_taking_request_gets_the_fixtures(request: pytest.FixtureRequest) -> None:
    harness = FixtureSourceHarness(request)
    assert harness.store.scope == "fake://from-a-fixture"
