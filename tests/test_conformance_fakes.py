"""The conformance kit, run against the in-memory fakes."""

from __future__ import annotations

import pytest
from shitshovela_testkit import conformance
from shitshovela_testkit.clock import ManualClock
from shitshovela_testkit.conformance import source_suite, ticket_system_suite
from shitshovela_testkit.fakes import (
    FakeSource,
    FakeStore,
    FakeTicketSystem,
    FakeTracker,
    fake_context,
)

from shitshovela_core.providers import Source, TicketSystem

pytestmark = pytest.mark.unit


class FakeSourceHarness:
    def __init__(self) -> None:
        self.store = FakeStore("fake://conformance")

    def source(self) -> Source:
        return FakeSource(fake_context(instance="conf-a"), self.store)

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

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.tracker = FakeTracker(lag=5.0, clock=self.clock)

    def tickets(self, instance: str) -> TicketSystem:
        return FakeTicketSystem(fake_context(instance=instance), self.tracker)

    def settle(self) -> None:
        self.clock.sleep(self.tracker.lag)

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


TestFactoryWithRequest = source_suite(FixtureSourceHarness)


def test_a_factory_taking_request_gets_the_fixtures(request: pytest.FixtureRequest) -> None:
    harness = FixtureSourceHarness(request)
    assert harness.store.scope == "fake://from-a-fixture"
