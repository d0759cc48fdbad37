"""Engine tests against in-process fakes: the flow, and a crash at every step."""

from __future__ import annotations

from datetime import timedelta

import pytest
from enginekit import World, settle_runs
from shitshovela_testkit.fakes import FakeTicket

from shitshovela_core import hookimpl
from shitshovela_core.errors import ExitCode
from shitshovela_core.models import Flag, Item, TicketDraft
from shitshovela_core.plugins import create_plugins

pytestmark = pytest.mark.unit

ITEMS = {
    "alpha": "Disk full on db1\nfree: 0%",
    "bravo": "CPU hot\n97C",
    "charlie": "Login failed\nx3",
}


def seeded(*, lag: float = 0.0, stores: tuple[str, ...] = ("a",)) -> World:
    world = World.make(lag=lag, stores=stores)
    for name in stores:
        for key, content in ITEMS.items():
            world.stores[name].put(key, content)
    return world


def assert_exactly_once(world: World, instance: str = "a") -> None:
    counts = world.tickets_by_origin_key()
    assert counts == {key: 1 for key in ITEMS}, counts
    assert world.flags_left() == 0
    assert world.stores[instance].names() == []
    titles = sorted(t.title for t in world.tracker.tickets.values())
    assert titles == sorted(c.partition("\n")[0] for c in ITEMS.values())


def assert_nothing_lost(world: World, instance: str = "a") -> None:
    """I1 at any moment: every item is still in the source or has a ticket."""
    ticketed = set(world.tickets_by_origin_key())
    present = set(world.stores[instance].names())
    assert set(ITEMS) <= ticketed | present, (ticketed, present)


def test_fault_free_run_moves_every_item_once() -> None:
    world = seeded()
    summary = world.run()
    assert summary is not None
    assert summary.exit_code == ExitCode.OK
    assert summary.created == 3
    assert summary.reason.startswith("drained")
    assert_exactly_once(world)


def test_order_of_steps_per_item_is_create_delete_unflag() -> None:
    world = seeded()
    world.run()
    log = world.faults.log
    create = log.index("tickets.create.after")
    delete = log.index("source.delete.before:alpha")
    unflag = log.index("tickets.unflag.before:FAKE-1")
    assert create < delete < unflag


def _count_steps(lag: float, claims: bool) -> int:
    world = seeded(lag=lag)
    world.run(claims=claims)
    return world.faults.count


CRASH_VARIANTS = [
    pytest.param(0.0, True, id="consistent-listing"),
    pytest.param(30.0, True, id="lagging-listing-with-claims"),
    pytest.param(30.0, False, id="lagging-listing-without-claims"),
]


@pytest.mark.parametrize(("lag", "claims"), CRASH_VARIANTS)
@pytest.mark.parametrize("kind", ["hardstop", "error"])
def test_crash_at_every_step_then_fault_free_runs(lag: float, claims: bool, kind: str) -> None:
    total = _count_steps(lag, claims)
    assert total >= 3 * 6  # every item passes at least read, create x2, delete x2, unflag x2
    tried = 0
    for step in range(1, total + 1):
        world = seeded(lag=lag)
        world.faults.fail_at = step
        world.faults.kind = kind
        summary = world.run(claims=claims)
        if kind == "error":
            assert summary is not None and summary.exit_code != ExitCode.OK, (step, summary)
        assert_nothing_lost(world)
        settle_runs(world, claims=claims)
        assert_exactly_once(world)
        tried += 1
    assert tried == total
    print(f"crash points tried ({kind}, lag={lag}, claims={claims}): {tried}")


def test_lagging_listing_without_the_protocol_would_duplicate() -> None:
    """The I11 test can fail: with claims ignored and no settle wait, a lagging
    listing after a lost create response gives a second ticket."""
    world = seeded(lag=30.0)
    world.faults.fail_on = "tickets.create.after"  # the first create committed, then death
    world.run()
    world.faults.clear()
    world.tracker.lag = 30.0
    # A run that trusts the lagging listing: pretend it is consistent.
    from shitshovela_testkit.fakes import FakeSource, FakeTicketSystem, fake_context
    from shitshovela_testkit.runs import run_once

    from shitshovela_core.deadline import Budget

    world.clock.sleep(1.0)
    budget = Budget(3600, started=world.clock(), clock=world.clock, sleep=world.clock.sleep)
    context = fake_context(instance="a", budget=budget)
    source = FakeSource(context, world.stores["a"], claims=False)
    tickets = FakeTicketSystem(context, world.tracker)
    tickets.listing_lag = 0.0  # the lie
    run_once(source, tickets, max_tickets=100)
    assert world.tickets_by_origin_key()["alpha"] == 2


def test_claimed_item_waits_for_the_listing_then_finishes_its_ticket() -> None:
    world = seeded(lag=30.0)
    world.faults.fail_on = "tickets.create.after"
    world.run()
    assert world.tickets_by_origin_key()["alpha"] == 1
    world.faults.clear()
    world.clock.sleep(1.0)
    summary = world.run()
    assert summary is not None
    assert summary.exit_code == 0
    # The listing does not show alpha's ticket yet and its claim is young: left alone.
    assert (summary.reconciled, summary.created, summary.waiting) == (0, 2, 1)
    assert world.tickets_by_origin_key()["alpha"] == 1
    world.clock.sleep(30.0)
    summary = world.run()
    assert summary is not None and summary.exit_code == 0
    assert (summary.reconciled, summary.created, summary.waiting) == (1, 0, 0)
    assert_exactly_once(world)


def test_a_run_too_short_for_the_listing_lag_creates_nothing_again() -> None:
    world = seeded(lag=600.0)
    world.faults.fail_on = "tickets.create.after"
    world.run(claims=True, max_runtime=3600.0, claim_window=1200.0)
    world.faults.clear()
    world.clock.sleep(1.0)
    summary = world.run(max_runtime=60.0, claim_window=1200.0)
    assert summary is not None and summary.exit_code == ExitCode.CONFIG
    assert world.tickets_by_origin_key()["alpha"] == 1


def test_two_instances_share_a_tracker_and_never_touch_each_other() -> None:
    world = seeded(stores=("a", "b"))
    world.faults.fail_on = "tickets.create.after"  # instance a dies after its first create
    world.run("a")
    world.faults.clear()
    a_flagged = world.tracker.flagged_keys(Flag("a"))
    assert len(a_flagged) == 1
    summary_b = world.run("b")
    assert summary_b is not None
    assert summary_b.exit_code == 0
    assert summary_b.reconciled == 0
    assert summary_b.created == 3
    assert world.tracker.flagged_keys(Flag("a")) == a_flagged  # b left a's flag alone
    assert "alpha" in world.stores["a"].items  # and a's item
    settle_runs(world, instance="a")
    counts = world.tickets_by_origin_key()
    assert counts == {key: 2 for key in ITEMS}  # one per item per instance
    assert world.flags_left() == 0


def test_flagged_ticket_of_another_source_is_reported_not_touched() -> None:
    world = seeded(stores=("a", "c"))
    world.faults.fail_on = "tickets.create.after"
    world.run("a", store="a")
    world.faults.clear()
    # Instance a is now pointed at store c: its flagged ticket's origin is foreign.
    summary = world.run("a", store="c")
    assert summary is not None
    assert summary.exit_code == 0
    assert summary.foreign == 1
    assert "alpha" in world.stores["a"].items
    assert len(world.tracker.flagged_keys(Flag("a"))) == 1


def test_failure_in_reconcile_creates_nothing() -> None:
    world = seeded()
    world.faults.fail_on = "tickets.create.after"
    world.run()  # leaves one flagged ticket
    before = len(world.tracker.tickets)
    world.faults.clear()
    world.faults.fail_at = 1  # the flagged listing fails
    world.faults.kind = "error"
    summary = world.run()
    assert summary is not None
    assert (
        summary.exit_code == ExitCode.UNREACHABLE or summary.exit_code == ExitCode.RECONCILE_FAILED
    )
    assert len(world.tracker.tickets) == before


def test_failure_in_reconcile_after_a_change_is_a_reconcile_failure() -> None:
    world = seeded()
    world.faults.fail_on = "tickets.create.after"
    world.run()
    world.faults.clear()
    world.faults.kind = "error"
    world.faults.fail_on = "source.delete.after:alpha"  # the delete's reply is lost
    summary = world.run()
    assert summary is not None
    assert summary.exit_code == ExitCode.RECONCILE_FAILED
    assert summary.created == 0


def test_failure_in_drain_stops_at_once() -> None:
    world = seeded()
    world.faults.fail_at = 2  # the first read of the drain
    world.faults.kind = "error"
    summary = world.run()
    assert summary is not None
    assert summary.exit_code == ExitCode.DRAIN_FAILED
    assert summary.created == 0
    assert world.faults.count == 2


def test_lost_create_response_exits_outcome_unknown_and_is_not_retried() -> None:
    world = seeded()
    world.faults.fail_on = "tickets.create.after"
    world.faults.kind = "error"
    summary = world.run()
    assert summary is not None
    assert summary.exit_code == ExitCode.OUTCOME_UNKNOWN
    assert world.faults.log.count("tickets.create.before") == 1
    assert len(world.tracker.tickets) == 1


def test_per_run_cap() -> None:
    world = seeded()
    summary = world.run(max_tickets=2)
    assert summary is not None
    assert summary.exit_code == 0
    assert summary.created == 2
    assert summary.reason.startswith("max_tickets")
    assert world.stores["a"].names() == ["charlie"]


def test_deadline_stops_before_the_next_item() -> None:
    world = seeded()
    summary = world.run(max_runtime=1.0)
    assert summary is not None
    assert summary.exit_code == 0
    assert summary.reason.startswith("deadline")
    assert summary.created == 0


def test_poison_item_is_set_aside_and_the_queue_goes_on() -> None:
    world = seeded()
    world.stores["a"].put("aaa-poison", "x", poison="unreadable MIME")
    summary = world.run()
    assert summary is not None
    assert summary.exit_code == 0
    assert summary.set_aside == 1
    assert summary.created == 3
    assert world.stores["a"].set_aside == {"aaa-poison": "unreadable MIME"}


def test_poison_item_without_set_aside_place_stops_naming_it() -> None:
    world = seeded()
    world.stores["a"].put("aaa-poison", "x", poison="unreadable MIME")
    world.stores["a"].set_aside_enabled = False
    summary = world.run()
    assert summary is not None
    assert summary.exit_code == ExitCode.DRAIN_FAILED
    assert "aaa-poison" in summary.reason
    assert "unreadable MIME" in summary.reason
    assert "aaa-poison" in world.stores["a"].items


def test_item_rejected_by_the_ticket_system_is_set_aside() -> None:
    world = seeded()
    world.tracker.reject = lambda draft: "summary too long" if draft.title == "CPU hot" else None
    summary = world.run()
    assert summary is not None
    assert summary.exit_code == 0
    assert summary.created == 2
    assert summary.set_aside == 1
    assert world.stores["a"].set_aside == {
        "bravo": "rejected by the ticket system: summary too long"
    }


class SlowTracker:
    """Makes every create take ``seconds`` on the world's clock."""

    def __init__(self, world: World, seconds: float) -> None:
        self.world = world
        self.seconds = seconds
        original = world.tracker.reject

        def slow(draft: object) -> str | None:
            world.clock.sleep(seconds)
            return original(draft) if original else None  # type: ignore[arg-type]

        world.tracker.reject = slow  # type: ignore[assignment]


def test_no_item_is_started_that_is_not_expected_to_fit() -> None:
    world = seeded()
    SlowTracker(world, 10.0)
    summary = world.run(max_runtime=26.0)  # margin 1 s: 25 s of work; items take 10 s each
    assert summary is not None and summary.exit_code == 0
    assert summary.created == 2
    assert "expected to take 10.00s" in summary.reason
    assert world.stores["a"].names() == ["charlie"]


def test_progress_line_at_least_every_ten_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from shitshovela_core.logs import configure_logging

    configure_logging("json", "info")
    world = World.make()
    for n in range(8):
        world.stores["a"].put(f"item-{n}", f"title {n}")
    SlowTracker(world, 4.0)
    world.run()
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    progress = [e for e in events if e["event"] == "progress"]
    assert len(progress) >= 2
    assert progress[-1]["created"] >= 5


def test_reconcile_keeps_an_origin_it_cannot_read_again_to_complete_the_ticket() -> None:
    world = seeded()
    world.faults.fail_on = "tickets.create.after"
    world.run()  # alpha's ticket exists, flagged, not completed
    world.faults.clear()
    world.stores["a"].items["alpha"].poison = "the server failed to read it"
    summary = world.run()
    assert summary is not None
    assert summary.exit_code == ExitCode.RECONCILE_FAILED
    assert "cannot be read again" in summary.reason and "alpha" in summary.reason
    assert "alpha" in world.stores["a"].items  # kept (I1)
    assert len(world.tracker.tickets) == 1  # and nothing new was created (I8)


def test_a_listing_lag_that_cannot_fit_in_a_run_is_a_config_error() -> None:
    world = seeded(lag=120.0)
    summary = world.run(max_runtime=60.0)
    assert summary is not None
    assert summary.exit_code == ExitCode.CONFIG
    assert "SHITSHOVELA_MAX_RUNTIME" in summary.reason
    assert world.faults.count == 0  # nothing was contacted


def test_a_drain_failure_names_the_item() -> None:
    world = seeded()
    world.faults.fail_on = "source.delete.after:bravo"
    world.faults.kind = "error"
    summary = world.run()
    assert summary is not None
    assert summary.exit_code == ExitCode.DRAIN_FAILED
    assert "(item fake:fake://a/bravo@" in summary.reason


def test_a_ticket_system_rejecting_every_item_stops_the_run() -> None:
    world = seeded()
    world.stores["a"].put("delta", "Fourth\nbody")
    world.tracker.reject = lambda draft: "field 'labels' cannot be set"
    summary = world.run()
    assert summary is not None
    assert summary.exit_code == ExitCode.DRAIN_FAILED
    assert "rejected 3 items in a row" in summary.reason
    assert len(world.stores["a"].set_aside) == 2  # the third stays in the queue
    assert world.stores["a"].names() == ["charlie", "delta"]


class LabelEverything:
    @hookimpl
    def shape_ticket_draft(self, item: Item, draft: TicketDraft) -> TicketDraft:
        return draft.evolve(labels=("shaped",))


def test_plan_says_what_reconcile_and_the_drain_would_do_and_changes_nothing() -> None:
    world = seeded(lag=30.0, stores=("a", "b"))
    world.faults.fail_on = "tickets.create.after"
    world.run("a")  # alpha: ticket FAKE-1 flagged, the item claimed and still there
    world.faults.fail_on = "tickets.create.after"
    world.run("a", store="b")  # FAKE-2: instance a's flag, an origin in another store
    now = world.clock()
    flag = Flag("a").label
    world.tracker.tickets["FAKE-99"] = FakeTicket("FAKE-99", "t", "", [flag], "junk", now, now)
    world.stores["a"].put("apple", "unused", poison="cannot be parsed")
    # bravo: claimed longer ago than the claim window, then killed before its create.
    world.stores["a"].items["bravo"].claims["a"] = world.clock.wall() - timedelta(seconds=700)
    world.stores["a"].put("delta", "Disk slow\nio wait")
    world.clock.sleep(31.0)  # the listing shows every ticket
    hooks = create_plugins(extra=[("label", LabelEverything())], entry_points=False).hooks()
    engine = world.engine("a", max_tickets=2, hooks=hooks)
    world.faults.clear()
    stored = {key: (list(t.labels), t.completed) for key, t in world.tracker.tickets.items()}
    items = {key: (i.version, set(i.claims)) for key, i in world.stores["a"].items.items()}

    plan = engine.plan(10)

    assert {(t.key, t.ownership, t.finishes) for t in plan.reconcile} == {
        ("FAKE-1", "mine", True),
        ("FAKE-2", "other_source", False),
        ("FAKE-99", "no_origin", False),
    }
    drain = [
        (e.origin.key, e.claimed, e.set_aside, e.beyond_cap, e.draft and e.draft.title)
        for e in plan.drain
    ]
    assert drain == [  # alpha is not listed: reconcile finishes FAKE-1 and deletes it
        ("apple", False, "cannot be parsed", False, None),
        ("bravo", True, "", False, "CPU hot"),  # would look for its ticket first
        ("charlie", False, "", False, "Login failed"),  # the second create: the cap
        ("delta", False, "", True, None),  # left for the next run
    ]
    assert plan.drain[1].draft is not None and plan.drain[1].draft.labels == ("shaped",)
    assert (plan.flag, plan.limit, plan.max_tickets) == (Flag("a"), 10, 2)
    assert [e.origin.key for e in engine.plan(2).drain] == ["apple", "bravo"]
    # Only reads, and nothing changed.
    assert world.faults.log and all(
        step == "tickets.list" or step.startswith("source.read:") for step in world.faults.log
    )
    assert stored == {
        key: (list(t.labels), t.completed) for key, t in world.tracker.tickets.items()
    }
    assert items == {key: (i.version, set(i.claims)) for key, i in world.stores["a"].items.items()}
    # The run does what the plan said.
    summary = world.run("a", max_tickets=2, hooks=hooks)
    assert summary is not None and summary.exit_code == 0, summary
    assert (summary.foreign, summary.reconciled, summary.set_aside, summary.created) == (2, 1, 1, 2)
    assert world.stores["a"].names() == ["delta"]
