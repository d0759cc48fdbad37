"""A listing that lags (I11, I2): GitHub promises no read-after-write for its issue
lists. The core's claim window decides when a claimed item without a ticket may be
ticketed again; the provider's number probe finds a ticket the listing does not
show yet, so it is finished by the very next run instead of waiting."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest
from ghkit import EngineWorld, wall_clock
from shitshovela_github.probe import Found
from shitshovela_github.tickets import GitHubTickets
from shitshovela_github_emulator import GitHubEmulator
from shitshovela_testkit.clock import ManualClock

from shitshovela_core.errors import ExitCode

pytestmark = pytest.mark.servers

Start = Callable[..., GitHubEmulator]
ITEMS = {"alpha": "Disk full\non db1", "bravo": "CPU hot\non web2", "charlie": "Mail\nqueue"}
LAG = 60.0
WINDOW = 120.0


def world_for(start_github: Start, **emulator: object) -> tuple[EngineWorld, ManualClock]:
    clock = ManualClock()
    gh = start_github(clock=wall_clock(clock), listing_lag=LAG, **emulator)
    return EngineWorld(gh, ITEMS, clock=clock), clock


def without_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every provider made from now on reads no number past the listing."""
    made = GitHubTickets.__init__

    def blind(self: GitHubTickets, *args: object, **kwargs: object) -> None:
        made(self, *args, **kwargs)  # type: ignore[arg-type]
        self.probe = attrs.evolve(self.probe, read=lambda number, flag: Found(exists=False))

    monkeypatch.setattr(GitHubTickets, "__init__", blind)


def assert_exactly_once(world: EngineWorld) -> None:
    assert world.tickets_per_item() == {key: 1 for key in ITEMS}
    assert world.flags_left() == 0
    assert world.remaining() == []


def test_lost_create_answer_then_immediate_run_gives_exactly_one_ticket(
    start_github: Start,
) -> None:
    world, clock = world_for(start_github)
    world.gh.faults.next_create = "commit_then_drop"
    first = world.run(LISTING_LAG=LAG, claim_window=WINDOW)
    assert first is not None and first.exit_code == ExitCode.OUTCOME_UNKNOWN
    clock.advance(1.0)  # the listing lags a minute: only the probe can see the issue
    second = world.run(LISTING_LAG=LAG, claim_window=WINDOW)
    assert second is not None and second.exit_code == ExitCode.OK, second
    assert second.reconciled == 1 and second.created == 2
    assert_exactly_once(world)


@pytest.mark.parametrize("probe", [True, False], ids=["probe", "no_probe"])
def test_a_listing_lagging_past_the_claim_window(
    start_github: Start, monkeypatch: pytest.MonkeyPatch, probe: bool
) -> None:
    """The listing never learns of a create whose answer was lost, and the next run
    comes after the claim window: with the probe the ticket is found and finished;
    *can fail*: without it, the item is ticketed a second time (the known limit of
    the claim window, which the probe narrows)."""
    world, clock = world_for(start_github)
    if not probe:
        without_probe(monkeypatch)
    world.gh.freeze_listing()
    clock.advance(1.0)  # every write from now on is after the freeze
    world.gh.faults.next_create = "commit_then_drop"
    first = world.run(LISTING_LAG=LAG, claim_window=WINDOW)
    assert first is not None and first.exit_code == ExitCode.OUTCOME_UNKNOWN
    clock.advance(WINDOW + 1.0)
    second = world.run(LISTING_LAG=LAG, claim_window=WINDOW)
    assert second is not None and second.exit_code == ExitCode.OK, second
    counts = world.tickets_per_item()
    if probe:
        assert counts == {key: 1 for key in ITEMS}
        assert world.flags_left() == 0 and world.remaining() == []
    else:
        assert counts["alpha"] == 2, counts


def test_a_claimed_item_without_a_ticket_waits_for_its_window(start_github: Start) -> None:
    """A create that failed before GitHub acted (a 500, nothing made): the next run
    cannot tell it from a create still to appear, leaves the item for the claim
    window, then makes exactly one ticket."""
    world, clock = world_for(start_github)
    world.gh.faults.fail_next("create_issue", "fail_500")
    first = world.run(LISTING_LAG=LAG, claim_window=WINDOW)
    assert first is not None and first.exit_code == ExitCode.OUTCOME_UNKNOWN
    clock.advance(1.0)
    second = world.run(LISTING_LAG=LAG, claim_window=WINDOW)
    assert second is not None and second.exit_code == ExitCode.OK
    assert second.waiting == 1 and "alpha" in world.remaining()
    clock.advance(WINDOW)
    third = world.run(LISTING_LAG=LAG, claim_window=WINDOW)
    assert third is not None and third.exit_code == ExitCode.OK
    assert third.created == 1
    assert_exactly_once(world)


def test_the_claim_window_must_outlast_the_listing_lag(start_github: Start) -> None:
    world, _ = world_for(start_github)
    summary = world.run(LISTING_LAG=LAG, claim_window=LAG)
    assert summary is not None and summary.exit_code == ExitCode.CONFIG
    assert "claim window" in summary.reason
    assert world.gh.issues() == []
