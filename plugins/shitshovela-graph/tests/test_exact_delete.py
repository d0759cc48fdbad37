"""Exact delete (I9): only the message that was ticketed, only while it is in the queue.

Before it deletes or moves, the source reads the message by its immutable id:
gone, or no longer in the folder it was ticketed from (a user filed it, or an
earlier run's delete already put it in Deleted Items), is "already gone" and
nothing is touched; a message whose Internet message id is not the origin's is
refused. ``DELETE`` is Exchange's soft delete, into Deleted Items.
"""

from __future__ import annotations

import attrs
import pytest
from graphkit import graph_source, mail
from shitshovela_graph_emulator import GraphEmulator
from shitshovela_testkit.fakes import FakeTracker, fake_tickets
from shitshovela_testkit.runs import run_once

from shitshovela_core import Item, Origin, ProviderError

pytestmark = pytest.mark.servers


def origin_of(graph: GraphEmulator, **settings: object) -> Origin:
    entries = [e for e in graph_source(graph, **settings).items() if isinstance(e, Item)]
    assert len(entries) == 1
    return entries[0].origin


def test_delete_is_a_soft_delete_into_deleted_items_and_idempotent(graph: GraphEmulator) -> None:
    seeded = graph.seed_message(mail("Ticketed"))
    origin = origin_of(graph)
    source = graph_source(graph)
    assert source.delete(origin) is True
    assert graph.message(seeded.id).folder == "deleteditems", "recoverable, not purged"
    assert source.delete(origin) is False, "in Deleted Items: it left the queue"
    assert graph.message(seeded.id).folder == "deleteditems", "not pushed on to Recoverable Items"
    assert not [r for r in graph.requests if "permanentDelete" in r.path]


def test_a_message_a_user_filed_elsewhere_is_never_touched(graph: GraphEmulator) -> None:
    seeded = graph.seed_message(mail("Filed by a user"))
    origin = origin_of(graph)
    graph.move_message(seeded.id, "archive")
    source = graph_source(graph)
    assert source.delete(origin) is False
    assert source.read(origin) is None
    assert graph.message(seeded.id).folder == "archive"
    assert not [r for r in graph.requests if r.method == "DELETE"]


def test_a_message_gone_for_good_is_already_gone(graph: GraphEmulator) -> None:
    seeded = graph.seed_message(mail("Purged"))
    origin = origin_of(graph)
    graph.delete_message(seeded.id, permanent=True)
    assert graph_source(graph).delete(origin) is False


def test_an_origin_naming_another_message_is_refused(graph: GraphEmulator) -> None:
    victim = graph.seed_message(mail("Someone else's", message_id="<victim@example.com>"))
    origin = origin_of(graph)
    planted = attrs.evolve(origin, extra={**dict(origin.extra), "message_id": "<ours@example>"})
    with pytest.raises(ProviderError, match="refused, nothing deleted"):
        graph_source(graph).delete(planted)
    undigested = attrs.evolve(origin, digest="")
    with pytest.raises(ProviderError, match="no digest"):
        graph_source(graph).delete(undigested)
    assert graph.message(victim.id).folder == "inbox"


def test_a_lost_delete_answer_is_read_again_never_deleted_twice(graph: GraphEmulator) -> None:
    """A second ``DELETE`` of a message already in Deleted Items would push it on into
    Recoverable Items: after a lost answer the message is read again first."""
    seeded = graph.seed_message(mail("Lost answer"))
    origin = origin_of(graph)
    graph.faults.fail_next("delete_message", "commit_then_drop")
    assert graph_source(graph).delete(origin) is True
    assert graph.message(seeded.id).folder == "deleteditems"
    assert [r.method for r in graph.requests if r.method == "DELETE"] == ["DELETE"]


def test_a_delete_that_failed_unapplied_is_sent_again(graph: GraphEmulator) -> None:
    seeded = graph.seed_message(mail("Failed"))
    origin = origin_of(graph)
    graph.faults.fail_next("delete_message", "fail_500")
    assert graph_source(graph).delete(origin) is True
    assert graph.message(seeded.id).folder == "deleteditems"
    assert [r.status for r in graph.requests if r.method == "DELETE"] == [500, 204]


def test_done_move_files_the_message_keeping_its_id(graph: GraphEmulator) -> None:
    seeded = graph.seed_message(mail("Done"))
    tracker = FakeTracker()
    summary = run_once(
        graph_source(graph, DONE="move", DONE_FOLDER="Inbox/Done/2027"), fake_tickets(tracker)
    )
    assert summary.created == 1 and summary.deleted == 1
    moved = graph.message(seeded.id)
    assert moved.folder == "2027" and moved.folder_id == graph.folder("Inbox/Done/2027").id
    assert graph.messages("inbox") == []


def test_a_lost_move_answer_is_read_again(graph: GraphEmulator) -> None:
    seeded = graph.seed_message(mail("Lost move"))
    origin = origin_of(graph, DONE="move", DONE_FOLDER="Done")
    graph.faults.fail_next("move_message", "commit_then_drop")
    assert graph_source(graph, DONE="move", DONE_FOLDER="Done").delete(origin) is True
    assert graph.message(seeded.id).folder == "Done"
    assert len([r for r in graph.requests if r.path.endswith("/move")]) == 1
