"""A ticket someone else planted never deletes an item (I1, I7, I9; issue 13, item 2).

Anyone who may create issues in the project can add an instance's flag label
and a ``shitshovela.origin`` property naming an item. The provider reads the
job's own account once per run (``GET /myself``) and each listed issue's
``creator``: an issue the job did not create is listed with ``by_job`` False,
and the engine reports it and leaves it, and the item it names, alone. The
engine runs in-process from the core's `FakeSource` into the spec-validated
emulator, whose second user plants the ticket over the REST API.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from jirakit import PLANTER, EngineWorld, make_tickets, plant
from shitshovela_jira_emulator import JiraEmulator
from shitshovela_testkit.clock import ManualClock
from shitshovela_testkit.fakes import FakeSource, fake_context

from shitshovela_core.errors import ExitCode
from shitshovela_core.models import Flag, Origin, TicketDraft

pytestmark = pytest.mark.servers

Start = Callable[..., JiraEmulator]
ITEMS = {
    "alpha": "Disk full on db1\nfree: 0%",
    "bravo": "CPU hot\n97C",
    "charlie": "Login failed\nx3",
}
FLAG = Flag("a")


def origin_of(world: EngineWorld, name: str, *, pinned: bool) -> Origin:
    """The origin the job would write for item ``name``; unpinned: without its
    version and digest (what the adversary planted)."""
    source = FakeSource(fake_context("fake", FLAG.instance), world.store)
    (origin,) = [e.origin for e in source.items() if e.origin.key == name]
    return origin if pinned else Origin(origin.provider, origin.scope, origin.key)


def job_tickets(world: EngineWorld, name: str) -> list[str]:
    """Keys of the issues the job's own account made for item ``name``."""
    return [
        issue.key
        for issue in world.jira.issues()
        if issue.creator != PLANTER
        and "shitshovela.origin" in issue.properties
        and Origin.from_ref(issue.properties["shitshovela.origin"]["ref"]).key == name
    ]


@pytest.mark.parametrize("pinned", [True, False], ids=["with-version-and-digest", "without"])
def test_a_planted_ticket_is_reported_and_left_alone_and_its_item_survives(
    start_jira: Start, flavour: str, pinned: bool
) -> None:
    world = EngineWorld(start_jira(flavour), ITEMS, clock=ManualClock(follow_real_time=True))
    planted = plant(world.jira, FLAG.label, origin_of(world, "charlie", pinned=pinned).to_ref())

    # The cap stops the drain before charlie: only reconcile could delete it.
    first = world.run(claims=True, max_tickets=2)
    assert first is not None
    assert first.exit_code == ExitCode.OK, first.reason
    assert (first.reconciled, first.foreign, first.created) == (0, 1, 2)
    assert "charlie" in world.store.names(), "the planted ticket deleted the item"
    assert FLAG.label in world.jira.issue(planted).labels, "the planted ticket was touched"

    # The next run tickets charlie itself, and leaves the planted ticket alone again.
    second = world.run(claims=True)
    assert second is not None
    assert second.exit_code == ExitCode.OK, second.reason
    assert (second.reconciled, second.foreign, second.created) == (0, 1, 1)
    assert world.store.names() == []
    assert {name: len(job_tickets(world, name)) for name in ITEMS} == {n: 1 for n in ITEMS}
    assert FLAG.label in world.jira.issue(planted).labels
    assert world.flags_left() == 1  # the planted one's, for a person to look at


def test_the_creator_says_whose_a_ticket_is(start_jira: Start, flavour: str) -> None:
    """The job's own ticket is by_job True in the listing and in the probe's reads by
    key past the index; another user's is False, and so is one whose creator Jira
    shows as null (an anonymous create, a deleted user). /myself is read once."""
    jira = start_jira(flavour, index_lag=86400.0)
    jira.seed_issue("OPS", "indexed, by a person", labels=["human"])
    tickets = make_tickets(jira, FLAG.instance)
    own = tickets.create(TicketDraft(title="own", body="x"), FLAG, Origin("fake", "s", "own", "1"))
    assert own.by_job is True
    planted = plant(jira, FLAG.label, Origin("fake", "s", "victim", "1", digest="d").to_ref())
    ghost = jira.seed_issue(
        "OPS",
        "by a deleted user",
        labels=[FLAG.label],
        properties={"shitshovela.origin": {"ref": Origin("fake", "s", "other", "1").to_ref()}},
        creator="someone-deleted",
    )
    listed = {t.key: t.by_job for t in tickets.flagged(FLAG)}  # all three past the index
    assert listed == {own.key: True, planted: False, ghost.key: False}
    jira.index_lag = 0.0
    assert {t.key: t.by_job for t in tickets.flagged(FLAG)} == listed  # and in the index
    assert [r.path.rsplit("/", 1)[-1] for r in jira.requests].count("myself") == 1
