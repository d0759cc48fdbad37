"""Claims: the claim time in a single-value extended property, written with ``If-Match``.

Whether Exchange enforces ``If-Match`` on a message update is not documented
(``specs/graph-mail.README.md``, section 5). Where it does (the emulator's
``if_match="enforce"``), of two runs that listed a message only the first claim
wins; where it does not (the emulator's default), both do, which is why the
README asks for one run at a time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from graphkit import graph_source, mail
from shitshovela_graph.claims import CLAIM_SET, claim_property
from shitshovela_graph_emulator import GraphEmulator

from shitshovela_core import Flag, Item, PoisonItem

pytestmark = pytest.mark.servers

FLAG = Flag("test")


def listed(source: object) -> Item | PoisonItem:
    entries = list(source.items())  # type: ignore[attr-defined]
    assert len(entries) == 1
    entry: Item | PoisonItem = entries[0]
    return entry


def test_a_claim_keeps_its_exact_time_on_the_message_for_this_instance_only(
    graph: GraphEmulator,
) -> None:
    seeded = graph.seed_message(mail("Claim me"))
    source = graph_source(graph)
    entry = listed(source)
    assert entry.claimed_at is None and entry.claim_token == seeded.change_key
    at = datetime(2027, 1, 15, 8, 0, 0, 123456, tzinfo=UTC)
    assert source.claim(entry, FLAG, at) is True
    stored = graph.message(seeded.id).extended
    assert stored == {claim_property("test"): "2027-01-15T08:00:00.123456Z"}
    assert CLAIM_SET in claim_property("test")
    again = listed(graph_source(graph))
    assert again.claimed_at == at, "read back exactly, never rounded"
    assert again.origin.identity() == entry.origin.identity(), "a claim changes no revision"
    assert listed(graph_source(graph, instance="other")).claimed_at is None, "I7"
    later = at + timedelta(hours=1)
    assert source.claim(again, FLAG, later) is True
    assert listed(graph_source(graph)).claimed_at == later


@pytest.mark.parametrize("mode", ["enforce", "ignore"])
def test_of_two_runs_claiming_one_listed_message(make_graph: object, mode: str) -> None:
    """Enforced ``If-Match``: exactly the first claim wins. *Can fail*: where Exchange
    ignores ``If-Match`` both runs win (and both would ticket the message)."""
    graph: GraphEmulator = make_graph(if_match=mode)  # type: ignore[operator]
    graph.seed_message(mail("Contended"))
    first, second = graph_source(graph), graph_source(graph)
    mine, theirs = listed(first), listed(second)
    now = datetime.now(UTC)
    won = [first.claim(mine, FLAG, now), second.claim(theirs, FLAG, now)]
    assert won == ([True, False] if mode == "enforce" else [True, True])


def test_a_message_changed_or_moved_since_the_listing_is_not_claimed(make_graph: object) -> None:
    graph: GraphEmulator = make_graph(if_match="enforce")  # type: ignore[operator]
    changed = graph.seed_message(mail("Read by a user"))
    source = graph_source(graph)
    entry = listed(source)
    graph.update_message(changed.id, is_read=True)  # a user reads it: a new change key
    assert source.claim(entry, FLAG, datetime.now(UTC)) is False
    loose = graph_source(graph)
    entry = listed(loose)
    graph.move_message(changed.id, "archive")
    graph.settings.if_match = "ignore"  # even where If-Match is not enforced:
    assert loose.claim(entry, FLAG, datetime.now(UTC)) is False, "it left the folder"
    graph.delete_message(changed.id)
    assert loose.claim(entry, FLAG, datetime.now(UTC)) is False, "it is gone"


@pytest.mark.parametrize("mode", ["enforce", "ignore"])
def test_a_claim_whose_answer_was_lost_is_sent_again_safely(make_graph: object, mode: str) -> None:
    graph: GraphEmulator = make_graph(if_match=mode)  # type: ignore[operator]
    seeded = graph.seed_message(mail("Lost answer"))
    source = graph_source(graph)
    entry = listed(source)
    graph.faults.fail_next("update_message", "commit_then_drop")
    at = datetime.now(UTC)
    claimed = source.claim(entry, FLAG, at)
    patches = [r for r in graph.requests if r.method == "PATCH"]
    assert len(patches) == 2, "sent again after the lost answer"
    # Enforced, the repeat finds the change key changed (by the first try): not claimed
    # this run, and the message waits for its window as any claimed one does.
    assert claimed is (mode == "ignore")
    assert listed(graph_source(graph)).claimed_at is not None
    assert graph.message(seeded.id).folder == "inbox"
