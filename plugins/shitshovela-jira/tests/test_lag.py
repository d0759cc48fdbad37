"""I2/I3/I11 with the real engine: a create that Jira committed but whose answer was
lost, then a run started seconds later while the search index still lags.

The core's `Engine` runs in-process with the core's `FakeSource` (with and
without claims) and the Jira provider against the spec-validated emulator.
Budget, emulator and the engine's wall clock share a `ManualClock` following
real time, so waits take no real time. Every scenario must end with exactly
one ticket per item, no flag left and the source empty, whether the index lag
is inside the provider's ``INDEX_LAG`` bound or far beyond it.

What prevents the duplicate is the claim window: a claimed item whose ticket
cannot be found waits. The key probe only finds such a ticket sooner (it is
reconciled in the next run instead of after the index caught up), and cannot
when people deleted as many of the newest keys as ``PROBE_GAP``: the item then
waits for the index (``test_deleted_keys_hide_the_ticket_from_the_probe_and_the_item_waits``).
``test_without_claims_or_the_key_probe_a_long_lag_duplicates`` shows that the
assertions can fail.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from jirakit import EngineWorld
from shitshovela_jira.probe import KeyProbe
from shitshovela_jira_emulator import JiraEmulator
from shitshovela_testkit.clock import ManualClock

from shitshovela_core.engine import RunSummary
from shitshovela_core.errors import ExitCode

pytestmark = pytest.mark.servers

ITEMS = {
    "alpha": "Disk full on db1\nfree: 0%",
    "bravo": "CPU hot\n97C",
    "charlie": "Login failed\nx3",
}
HUMAN_ISSUES = 25  # issues people made before: the index knows them
INDEX_LAG = 60.0  # the provider's bound (its default)


class World(EngineWorld):
    """The engine world with people's issues already in the project (the index knows them)."""

    def __init__(
        self, start: Callable[..., JiraEmulator], flavour: str, *, lag: float, clock: Any = None
    ) -> None:
        clock = clock if clock is not None else ManualClock(follow_real_time=True)
        super().__init__(start(flavour, index_lag=lag, clock=clock), ITEMS, clock=clock)
        for n in range(HUMAN_ISSUES):
            self.jira.seed_issue("OPS", f"made by a person {n}", labels=["human"])

    def run(self, *, claims: bool, index_lag: float = INDEX_LAG, **settings: Any) -> RunSummary:
        summary = super().run(claims=claims, index_lag=index_lag, **settings)
        assert summary is not None
        return summary


def assert_exactly_once(world: World) -> None:
    assert world.tickets_per_item() == {name: 1 for name in ITEMS}
    assert world.flags_left() == 0
    assert world.store.names() == []
    assert len(world.jira.issues()) == HUMAN_ISSUES + len(ITEMS)
    assert all("human" in i.labels for i in world.jira.issues()[:HUMAN_ISSUES])


def crash_after_committed_create(
    world: World, fault: str, *, claims: bool, index_lag: float = INDEX_LAG
) -> None:
    """Run 1: the first create is committed by Jira, its answer is lost (I4)."""
    world.jira.faults.next_create = fault
    first = world.run(claims=claims, index_lag=index_lag)
    assert first.exit_code == ExitCode.OUTCOME_UNKNOWN, first.reason
    assert world.tickets_per_item() == {"alpha": 1}
    assert world.store.names() == sorted(ITEMS)  # nothing deleted: no answer, no delete


@pytest.mark.parametrize("fault", ["commit_then_500", "commit_then_drop"])
@pytest.mark.parametrize("claims", [True, False], ids=["claims", "no-claims"])
@pytest.mark.parametrize(
    "lag", [30.0, 86400.0], ids=["lag-inside-the-bound", "lag-far-beyond-the-bound"]
)
def test_lost_create_answer_then_immediate_run_gives_exactly_one_ticket(
    start_jira: Callable[..., JiraEmulator], flavour: str, fault: str, claims: bool, lag: float
) -> None:
    world = World(start_jira, flavour, lag=lag)
    crash_after_committed_create(world, fault, claims=claims)
    world.clock.advance(2.0)  # the scheduler restarts the job two seconds later
    second = world.run(claims=claims)
    assert second.exit_code == ExitCode.OK, second.reason
    assert second.created == 2
    assert second.reconciled == 1
    assert_exactly_once(world)


def test_without_the_key_probe_the_claimed_item_waits_for_the_index(
    start_jira: Callable[..., JiraEmulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe switched off, the index a day behind: the immediate run cannot see the
    ticket, and the claimed item waits instead of being ticketed again. Once the index
    caught up, reconcile finishes that ticket."""
    monkeypatch.setattr(KeyProbe, "unindexed", lambda self, flag, seen: iter(()))
    world = World(start_jira, "cloud", lag=86400.0)
    crash_after_committed_create(world, "commit_then_500", claims=True)
    world.clock.advance(2.0)
    second = world.run(claims=True)
    assert second.exit_code == ExitCode.OK, second.reason
    assert (second.created, second.waiting, second.reconciled) == (2, 1, 0)
    assert world.tickets_per_item()["alpha"] == 1
    world.clock.advance(86400.0)  # the index catches up
    third = world.run(claims=True)
    assert (third.reconciled, third.created) == (1, 0)
    assert_exactly_once(world)


def test_deleted_keys_hide_the_ticket_from_the_probe_and_the_item_waits(
    start_jira: Callable[..., JiraEmulator],
) -> None:
    """Issue 13, item 4: the three newest keys deleted (as many as PROBE_GAP), the index
    lagging 40 s against INDEX_LAG=3: the probe stops before the job's ticket, so the
    next run cannot find it. The claimed item waits (its claim is younger than the
    claim window); once the index caught up, its ticket is reconciled."""
    world = World(start_jira, "cloud", lag=40.0)
    for key in (f"OPS-{HUMAN_ISSUES - n}" for n in range(3)):
        world.jira.delete_issue(key)
    crash_after_committed_create(world, "commit_then_drop", claims=True, index_lag=3.0)
    world.clock.advance(2.0)
    second = world.run(claims=True, index_lag=3.0)
    assert second.exit_code == ExitCode.OK, second.reason
    assert (second.created, second.waiting, second.reconciled) == (2, 1, 0)
    assert world.tickets_per_item() == {"alpha": 1, "bravo": 1, "charlie": 1}
    assert world.store.names() == ["alpha"] and world.flags_left() == 1
    world.clock.advance(40.0)  # the index catches up, well inside the claim window
    third = world.run(claims=True, index_lag=3.0)
    assert third.exit_code == ExitCode.OK, third.reason
    assert (third.reconciled, third.created, third.waiting) == (1, 0, 0)
    assert world.tickets_per_item() == {name: 1 for name in ITEMS}
    assert world.flags_left() == 0 and world.store.names() == []


def test_without_claims_or_the_key_probe_a_long_lag_duplicates(
    start_jira: Callable[..., JiraEmulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """*Can fail*: a source without claims and the probe switched off: nothing tells the
    immediate run that alpha was ticketed, and it makes a second ticket. The
    assertions above catch that."""
    monkeypatch.setattr(KeyProbe, "unindexed", lambda self, flag, seen: iter(()))
    world = World(start_jira, "cloud", lag=86400.0)
    crash_after_committed_create(world, "commit_then_500", claims=False)
    world.clock.advance(2.0)
    assert world.run(claims=False).exit_code == ExitCode.OK
    assert world.tickets_per_item()["alpha"] == 2
    with pytest.raises(AssertionError):
        assert_exactly_once(world)


@pytest.mark.parametrize("commit", ["after the next run", "never"])
def test_a_create_jira_commits_late_is_not_made_twice(
    start_jira: Callable[..., JiraEmulator], commit: str
) -> None:
    """Issue 13, item 5: Jira holds alpha's create while the run gives up on it at its
    deadline (exit 6). The next run finds nothing and must create nothing for alpha.
    Committed then, the ticket is reconciled; never committed, alpha is ticketed once
    after the claim window."""
    world = World(start_jira, "cloud", lag=30.0)
    world.jira.faults.hold_next_create()
    first = world.run(
        claims=True, max_runtime=3.0, index_lag=1.0
    )  # the create waits until the deadline
    assert first.exit_code == ExitCode.OUTCOME_UNKNOWN, first.reason
    assert world.jira.held_creates == 1 and world.tickets_per_item() == {}
    second = world.run(claims=True, index_lag=1.0)
    assert second.exit_code == ExitCode.OK, second.reason
    assert (second.created, second.waiting) == (2, 1)
    assert "alpha" not in world.tickets_per_item() and world.store.names() == ["alpha"]
    if commit == "after the next run":
        assert len(world.jira.commit_held()) == 1
    else:
        assert world.jira.discard_held() == 1
        world.clock.advance(600.0)  # the claim window passes
    third = world.run(claims=True, index_lag=1.0)
    assert third.exit_code == ExitCode.OK, third.reason
    done = (third.reconciled, third.created)
    assert done == ((1, 0) if commit == "after the next run" else (0, 1))
    assert_exactly_once(world)


def test_real_time_lag_longer_than_the_bound(start_jira: Callable[..., JiraEmulator]) -> None:
    """Real clock, no claims: the index lags 2 s, the provider assumes 0.3 s."""
    world = World(start_jira, "cloud", lag=2.0, clock=time.monotonic)
    crash_after_committed_create(world, "commit_then_drop", claims=False, index_lag=0.3)
    started = time.monotonic()
    second = world.run(claims=False, index_lag=0.3)
    assert second.exit_code == ExitCode.OK, second.reason
    assert time.monotonic() - started < 2.0, "the run must not depend on the lag passing"
    assert_exactly_once(world)
