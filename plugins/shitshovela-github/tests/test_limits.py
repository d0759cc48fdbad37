"""Politeness by GitHub's rules (I6): rate-limit answers (403 or 429) are waited out as
GitHub asks, within the time budget or with a clean stop, a create that was
throttled is sent again (GitHub did not act on it) and never twice, and a run
keeps under the secondary limit of 80 writes a minute on its own."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from ghkit import REPO, TOKEN, EngineWorld, make_tickets, wall_clock
from shitshovela_github.api import BACKOFF
from shitshovela_github.tickets import GitHubTickets
from shitshovela_github_emulator import GitHubEmulator, TokenConfig
from shitshovela_testkit.clock import ManualClock

from shitshovela_core import DeadlineReached, Flag, Origin, TicketDraft
from shitshovela_core.deadline import Budget
from shitshovela_core.errors import ExitCode

pytestmark = pytest.mark.servers

Start = Callable[..., GitHubEmulator]
FLAG = Flag("a")
ORIGIN = Origin("imap", "imap://ops@mail/INBOX", "4711", "77", "sha256:abc")
DRAFT = TicketDraft(title="Disk full", body="on db1")


def budget(clock: ManualClock, runtime: float = 600.0) -> Budget:
    return Budget(runtime, started=clock(), clock=clock, sleep=clock.sleep, margin=1.0)


def ready(tickets: GitHubTickets) -> None:
    """What a run reads before its first create: the setup and the identity."""
    tickets.prepare(FLAG)
    tickets.identity()


def creates(gh: GitHubEmulator) -> list[int | None]:
    return [
        r.status for r in gh.requests if (r.method, r.path) == ("POST", f"/repos/{REPO}/issues")
    ]


@pytest.mark.parametrize("status", [403, 429])
def test_a_secondary_limit_with_retry_after_is_waited_out(start_github: Start, status: int) -> None:
    clock = ManualClock()
    gh = start_github(clock=wall_clock(clock))
    tickets = make_tickets(gh, "a", budget=budget(clock))
    ready(tickets)
    gh.faults.throttle(1, status=status, retry_after=37)
    started = clock()
    ticket = tickets.create(DRAFT, FLAG, ORIGIN)
    assert creates(gh) == [status, 201], "the throttled create was sent once more, not twice"
    assert clock() - started >= 37.0
    assert [i.number for i in gh.issues()] == [1] and ticket.flagged


def test_without_retry_after_the_wait_is_at_least_a_minute(start_github: Start) -> None:
    clock = ManualClock()
    gh = start_github(clock=wall_clock(clock))
    tickets = make_tickets(gh, "a", budget=budget(clock))
    ready(tickets)
    gh.faults.throttle(1, status=403, retry_after=None)
    started = clock()
    tickets.create(DRAFT, FLAG, ORIGIN)
    assert creates(gh) == [403, 201]
    assert clock() - started >= BACKOFF


def test_a_spent_quota_waits_for_its_reset(start_github: Start) -> None:
    clock = ManualClock()
    gh = start_github(clock=wall_clock(clock))
    tickets = make_tickets(gh, "a", budget=budget(clock))
    ready(tickets)
    gh.faults.throttle(1, status=403, retry_after=90, kind="primary")  # reset in 90 s
    started = clock()
    tickets.create(DRAFT, FLAG, ORIGIN)
    assert creates(gh) == [403, 201]
    assert clock() - started >= 80.0


def test_a_wait_that_does_not_fit_stops_cleanly_and_creates_nothing(start_github: Start) -> None:
    clock = ManualClock()
    gh = start_github(clock=wall_clock(clock))
    tickets = make_tickets(gh, "a", budget=budget(clock, runtime=120.0))
    ready(tickets)
    gh.faults.throttle(5, status=403, retry_after=3600)
    with pytest.raises(DeadlineReached, match="does not fit"):
        tickets.create(DRAFT, FLAG, ORIGIN)
    assert creates(gh) == [403] and gh.issues() == []


def test_the_last_request_of_the_quota_pauses_the_next(start_github: Start) -> None:
    """An answer saying no request is left this hour stops the run cleanly before the
    request GitHub would refuse."""
    clock = ManualClock()
    gh = start_github(clock=wall_clock(clock))
    gh.set_token(TOKEN, TokenConfig(login="ticket-bot", rate_limit=5))
    tickets = make_tickets(gh, "a", budget=budget(clock))
    tickets.prepare(FLAG)  # GET repo, GET label (404), POST label, then GET /user: 4 of 5
    tickets.create(TicketDraft(title="first", body=""), FLAG, ORIGIN)  # the last request
    with pytest.raises(DeadlineReached):
        tickets.create(TicketDraft(title="second", body=""), FLAG, ORIGIN)
    assert creates(gh) == [201], "the second create waited for the reset (an hour away)"
    assert all(r.status != 403 for r in gh.requests)


ITEMS = {f"item-{n:02d}": f"Alert {n}\nbody {n}" for n in range(45)}


@pytest.mark.parametrize("budgeted", [True, False], ids=["budgeted", "unbudgeted"])
def test_a_run_keeps_under_the_secondary_limit(start_github: Start, budgeted: bool) -> None:
    """45 items are 91 writes (a label, then a create and an unflag each), more than
    GitHub's 80 a minute. The run's write budget spreads them so that GitHub never
    has to refuse one; without it (*can fail*: the budget lifted as on a GitHub
    Enterprise Server without limits) GitHub answers 403 with retry-after."""
    clock = ManualClock()
    gh = start_github(clock=wall_clock(clock))
    world = EngineWorld(gh, ITEMS, clock=clock)
    started = clock()
    settings = {} if budgeted else {"WRITES_PER_MINUTE": 100_000}
    summary = world.run(**settings)
    assert summary is not None and summary.exit_code == ExitCode.OK, summary
    assert world.tickets_per_item() == {key: 1 for key in ITEMS}
    assert world.flags_left() == 0 and world.remaining() == []
    refused = [r for r in gh.requests if r.status == 403]
    if budgeted:
        assert refused == []
        assert clock() - started >= 60.0
        assert world.providers[-1].writes.taken == 91
    else:
        assert refused, "the emulator's secondary limit must bite without the budget"
