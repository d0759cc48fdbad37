"""The claim protocol against the fakes: late commits, two runs of one instance at
once, planted tickets (issue 13's items 2, 5 and 6, at the engine's level).

Each *can fail* test shows the duplicate or the loss the protocol prevents, by
running the engine without the piece that prevents it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from enginekit import CLAIM_WINDOW, World, settle_runs
from shitshovela_testkit.conformance import check_two_runs_cannot_both_claim
from shitshovela_testkit.fakes import FakeSource, FakeStore, fake_context

from shitshovela_core.errors import ExitCode, Unreachable
from shitshovela_core.models import Flag, Origin

pytestmark = pytest.mark.unit

ITEMS = {"alpha": "Disk full\nfree: 0%", "bravo": "CPU hot\n97C", "charlie": "Login failed\nx3"}


def seeded(*, lag: float = 0.0) -> World:
    world = World.make(lag=lag)
    for key, content in ITEMS.items():
        world.stores["a"].put(key, content)
    return world


def assert_exactly_once(world: World) -> None:
    assert world.tickets_by_origin_key() == {key: 1 for key in ITEMS}
    assert world.flags_left() == 0
    assert world.stores["a"].names() == []


# -- a create the server commits late (item 5) ------------------------------------------


@pytest.mark.parametrize("committed", [True, False], ids=["commits-late", "never-commits"])
def test_a_create_committed_late_is_not_made_twice(committed: bool) -> None:
    """The server holds alpha's create: the run stops (exit 6). The next run finds no
    ticket yet and leaves alpha alone, since its claim is younger than the claim
    window; the late ticket is then reconciled, or, if the create never committed,
    alpha is ticketed once after the window."""
    world = seeded()
    world.tracker.hold_creates = True
    summary = world.run()
    assert summary is not None and summary.exit_code == ExitCode.OUTCOME_UNKNOWN
    world.tracker.hold_creates = False
    world.clock.sleep(1.0)
    summary = world.run()
    assert summary is not None and summary.exit_code == ExitCode.OK, summary
    assert (summary.created, summary.waiting) == (2, 1)
    assert world.tickets_by_origin_key()["alpha"] == 0
    if committed:
        world.tracker.commit_held()
    else:
        world.tracker.held.clear()
    world.clock.sleep(CLAIM_WINDOW / 2)
    summary = world.run()
    assert summary is not None and summary.exit_code == ExitCode.OK
    assert summary.reconciled == (1 if committed else 0)
    assert summary.waiting == (0 if committed else 1)
    world.clock.sleep(CLAIM_WINDOW / 2 + 1.0)
    settle_runs(world)
    assert_exactly_once(world)


def test_without_the_claim_window_a_late_commit_duplicates() -> None:
    """*Can fail*: a run that trusts "no ticket found" at once makes a second ticket
    when the held create commits."""
    world = seeded()
    world.tracker.hold_creates = True
    world.run(claim_window=0.0)
    world.tracker.hold_creates = False
    world.clock.sleep(1.0)
    world.run(claim_window=0.0)
    world.tracker.commit_held()
    assert world.tickets_by_origin_key()["alpha"] == 2


# -- two runs of one instance at once (item 6) -------------------------------------------


@pytest.mark.parametrize("lease", [False, True], ids=["atomic-claims", "lease"])
@pytest.mark.parametrize("step", ["tickets.create.before", "source.claim.before:alpha"])
def test_two_runs_of_one_instance_at_once_make_each_ticket_once(lease: bool, step: str) -> None:
    """A second run starts while the first is at ``step`` and runs to its end; then the
    first goes on. With atomic claims or a lease, every item gets exactly one ticket."""
    world = seeded()
    second: list[object] = []
    world.faults.when(step, lambda: second.append(world.run(lease=lease)))
    first = world.run(lease=lease)
    assert first is not None and first.exit_code == ExitCode.OK, first
    (other,) = second
    assert other is not None
    if lease:
        assert other.reason.startswith("busy"), other  # type: ignore[attr-defined]
    settle_runs(world)
    assert_exactly_once(world)


def test_three_runs_at_once_make_each_ticket_once() -> None:
    world = seeded()
    runs: list[object] = []
    world.faults.when("source.claim.before:bravo", lambda: runs.append(world.run()))
    world.faults.when("tickets.create.before", lambda: runs.append(world.run()))
    runs.append(world.run())
    assert len(runs) == 3
    settle_runs(world)
    assert_exactly_once(world)


def test_the_kit_catches_claims_that_are_not_atomic() -> None:
    """*Can fail*: the kit's two-runs check fails on a source whose claims are not
    compare-and-set and that holds no lease (both runs would ticket the item)."""
    store = FakeStore("fake://a")

    class Harness:
        def source(self) -> FakeSource:
            return FakeSource(fake_context(instance="a"), store, atomic=False)

        def add(self, name: str, content: bytes) -> None:
            store.put(name, content.decode())

    with pytest.raises(AssertionError, match=r"gave \[True, True\]"):
        check_two_runs_cannot_both_claim(Harness())  # type: ignore[arg-type]


# -- planted tickets (item 2) -------------------------------------------------------------


def _planted_ref(world: World, how: str) -> str:
    stored = world.stores["a"].items["alpha"]
    origin = Origin("fake", "fake://a", "alpha", str(stored.version), "sha256:0000")
    real = next(e.origin for e in world.engine().source.items() if e.origin.key == "alpha")
    return {
        "another-identity": real,
        "no-version": Origin("fake", "fake://a", "alpha"),
        "no-digest": Origin("fake", "fake://a", "alpha", str(stored.version)),
        "wrong-digest": origin,
    }[how].to_ref()


@pytest.mark.parametrize("how", ["another-identity", "no-version", "no-digest", "wrong-digest"])
def test_a_planted_ticket_deletes_nothing_and_is_reported(how: str) -> None:
    """Someone who can create tickets adds this instance's flag and an origin naming
    alpha: reconcile reports the ticket and touches neither it nor alpha; alpha is
    then ticketed by the drain as any item is."""
    world = seeded()
    author = "someone-else" if how == "another-identity" else "job"
    planted = world.tracker.plant(Flag("a"), _planted_ref(world, how), author=author)
    summary = world.run()
    assert summary is not None and summary.exit_code == ExitCode.OK, summary
    assert (summary.reconciled, summary.foreign, summary.created) == (0, 1, 3)
    assert Flag("a").label in world.tracker.tickets[planted].labels  # not touched
    job_tickets = [t for t in world.tracker.tickets.values() if t.key != planted]
    assert sorted(Origin.from_ref(t.origin_ref).key for t in job_tickets) == sorted(ITEMS)


def test_a_planted_ticket_for_an_item_of_the_drain_is_not_taken_as_its_ticket() -> None:
    """A claimed item whose lookup finds a planted ticket is not finished by it."""
    world = seeded(lag=30.0)
    world.stores["a"].items["alpha"].claims["a"] = world.clock.wall() - timedelta(hours=1)
    world.clock.sleep(31.0)
    planted = world.tracker.plant(
        Flag("a"), _planted_ref(world, "another-identity"), author="someone-else"
    )
    world.clock.sleep(31.0)
    summary = world.run()
    assert summary is not None and summary.exit_code == ExitCode.OK, summary
    assert summary.created == 3
    assert Flag("a").label in world.tracker.tickets[planted].labels


# -- a claim window no longer than the listing lag ----------------------------------------


def test_a_claim_window_no_longer_than_the_listing_lag_stops_the_run_untouched() -> None:
    """A claimed item would be ticketed again before its first ticket could be listed:
    the run stops at its start (exit 2) naming CLAIM_WINDOW, touching nothing."""
    world = seeded(lag=5.0)
    summary = world.run(claim_window=5.0)
    assert summary is not None and summary.exit_code == ExitCode.CONFIG, summary
    assert "SHITSHOVELA_CLAIM_WINDOW" in summary.reason
    assert summary.phase == "start"
    assert not world.tracker.tickets
    assert sorted(world.stores["a"].names()) == sorted(ITEMS)


class _SilentSource(FakeSource):
    """A source whose `supports_claims` asks a server that does not answer."""

    @property  # type: ignore[override]
    def supports_claims(self) -> bool:
        raise Unreachable("the source's server does not answer")

    @supports_claims.setter
    def supports_claims(self, value: bool) -> None:
        pass


def test_a_source_that_cannot_say_whether_it_claims_ends_the_run_as_unreachable() -> None:
    """*Can fail* (it escaped the run as an exception before): asking the source whether
    it claims is a network call like any other, so it fails the run with exit 3."""
    world = seeded(lag=5.0)
    engine = world.engine(claim_window=5.0)
    engine.source = _SilentSource(engine.source.context, world.stores["a"])
    summary = engine.run()
    assert summary.exit_code == ExitCode.UNREACHABLE, summary
    assert "does not answer" in summary.reason
    assert not world.tracker.tickets
