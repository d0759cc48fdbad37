"""A run killed mid-item, then the next run (I1, I2): one ticket, the message gone once.

The ticket system is the testkit's fake, killed (`HardStop`, as a SIGKILL) right
after the create, or after the delete before the flag is removed; the source is
the real Graph source on the emulator. The next run's reconcile reads the message
again (the same revision: key, folder, digest) and deletes it, or finds it already
in Deleted Items and touches nothing.
"""

from __future__ import annotations

import pytest
from graphkit import graph_source, mail
from shitshovela_graph_emulator import GraphEmulator
from shitshovela_testkit.fakes import FakeTracker, Faults, HardStop, fake_tickets
from shitshovela_testkit.runs import run_once

pytestmark = pytest.mark.servers


def test_a_kill_right_after_the_create_is_finished_by_the_next_run(graph: GraphEmulator) -> None:
    seeded = graph.seed_message(mail("Killed after create"))
    tracker = FakeTracker(faults=Faults(fail_on="tickets.create.after"))
    with pytest.raises(HardStop):
        run_once(graph_source(graph), fake_tickets(tracker))
    assert graph.message(seeded.id).folder == "inbox"
    assert graph.message(seeded.id).extended, "claimed before the create"
    summary = run_once(graph_source(graph), fake_tickets(tracker))
    assert summary.reconciled == 1 and summary.created == 0 and summary.deleted == 1
    assert len(tracker.tickets) == 1
    assert graph.message(seeded.id).folder == "deleteditems"


def test_a_kill_after_the_delete_leaves_the_message_in_deleted_items(graph: GraphEmulator) -> None:
    seeded = graph.seed_message(mail("Killed after delete"))
    tracker = FakeTracker(faults=Faults(fail_on="tickets.unflag.before:FAKE-1"))
    with pytest.raises(HardStop):
        run_once(graph_source(graph), fake_tickets(tracker))
    assert graph.message(seeded.id).folder == "deleteditems"
    summary = run_once(graph_source(graph), fake_tickets(tracker))
    assert summary.reconciled == 1 and summary.already_gone == 1 and summary.created == 0
    assert graph.message(seeded.id).folder == "deleteditems", "not pushed on"
    flag = "shitshovela-inprogress-test"
    assert [flag in t.labels for t in tracker.tickets.values()] == [False]
