"""Listing a folder: oldest first, a page at a time, lazily, and nothing passed over.

Outlook's next-page links carry ``$skip=N`` (the emulator's default), an offset
into the list as it is when the link is followed: a run that deletes what it
listed and then follows the link passes as many messages over. The listing
lists again from the start instead (`shitshovela_graph.listing`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from graphkit import graph_source, mail
from shitshovela_graph import listing
from shitshovela_graph_emulator import GraphEmulator
from shitshovela_testkit.fakes import FakeTracker, fake_tickets
from shitshovela_testkit.runs import run_once

from shitshovela_core import Flag, Item

pytestmark = pytest.mark.servers

START = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)


def seed(graph: GraphEmulator, count: int, folder: str = "inbox") -> list[str]:
    """``count`` messages received a minute apart, newest last; their subjects."""
    subjects = []
    for n in range(count):
        subject = f"Alert {n:03d}"
        graph.seed_message(
            mail(subject, sender=f"host{n}@example.com"),
            folder=folder,
            received=START + timedelta(minutes=n),
        )
        subjects.append(subject)
    return subjects


def list_requests(graph: GraphEmulator) -> list[dict[str, list[str]]]:
    return [r.query for r in graph.requests if r.path.endswith("/messages")]


def test_the_listing_is_oldest_first_lazy_and_selects_only_what_the_drain_needs(
    graph: GraphEmulator,
) -> None:
    # Delivered in reverse: the listing must sort by receivedDateTime, not by arrival.
    for n in reversed(range(7)):
        graph.seed_message(mail(f"Alert {n}"), received=START + timedelta(minutes=n))
    source = graph_source(graph, page_size=3)
    entries = source.items()
    first = next(entries)
    assert isinstance(first, Item) and first.title == "Alert 0"
    assert len(list_requests(graph)) == 1, "one page asked for, not the whole folder"
    rest = [e.title for e in entries if isinstance(e, Item)]
    assert rest == [f"Alert {n}" for n in range(1, 7)]
    queries = list_requests(graph)
    assert len(queries) == 3  # pages of 3, 3 and 1
    assert queries[0]["$orderby"] == ["receivedDateTime asc"]
    assert queries[0]["$top"] == ["3"]
    assert set(queries[0]["$select"][0].split(",")) == {
        "id",
        "internetMessageId",
        "changeKey",
        "receivedDateTime",
        "parentFolderId",
    }
    assert source.claim_property in queries[0]["$expand"][0]
    assert all(r.headers.get("Prefer") == 'IdType="ImmutableId"' for r in graph.requests)
    assert source.listing is not None and source.listing.passes == 1


def test_a_run_drains_every_message_although_offset_links_shift_under_deletes(
    graph: GraphEmulator,
) -> None:
    subjects = seed(graph, 23)
    tracker = FakeTracker()
    source = graph_source(graph, page_size=4, MAX_PER_SENDER=0)
    summary = run_once(source, fake_tickets(tracker))
    assert summary.created == 23 and summary.reason.startswith("drained")
    assert sorted(t.title for t in tracker.tickets.values()) == subjects
    assert graph.messages("inbox") == []
    assert source.listing is not None and source.listing.passes > 1, "it listed again"
    assert source.listing.peak_remembered <= 4, "a page at most: handled ones are forgotten"


def test_without_listing_again_offset_links_pass_messages_over(
    graph: GraphEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """*Can fail*: the same run following every ``$skip`` link leaves messages behind."""
    seed(graph, 23)
    monkeypatch.setattr(listing, "_by_offset", lambda link: False)  # naive paging
    tracker = FakeTracker()
    summary = run_once(graph_source(graph, page_size=4, MAX_PER_SENDER=0), fake_tickets(tracker))
    assert summary.reason.startswith("drained"), "the naive run believes it drained the folder"
    assert len(graph.messages("inbox")) > 0, "naive paging passed messages over"
    assert summary.created < 23


def test_cursor_links_are_followed_and_left_messages_are_not_listed_twice(
    make_graph: object,
) -> None:
    graph = make_graph(paging="skiptoken")  # type: ignore[operator]
    seed(graph, 9)
    source = graph_source(graph, page_size=2, MAX_PER_SENDER=0)
    summary = run_once(source, fake_tickets(FakeTracker()))
    assert summary.created == 9 and graph.messages("inbox") == []
    assert source.listing is not None and source.listing.passes == 1, "a cursor skips nothing"
    assert source.listing.peak_remembered <= 2, "handled messages are forgotten"


def test_messages_left_in_the_folder_are_met_once_per_run(graph: GraphEmulator) -> None:
    seed(graph, 12)
    waiting = graph_source(graph, page_size=3, MAX_PER_SENDER=0)
    flag = Flag("test")
    now = datetime.now(UTC)
    for entry in list(waiting.items())[::3]:  # four of them claimed just now: they wait
        assert waiting.claim(entry, flag, now)
    source = graph_source(graph, page_size=3, MAX_PER_SENDER=0)
    summary = run_once(source, fake_tickets(FakeTracker()))
    assert summary.created == 8 and summary.waiting == 4
    assert len(graph.messages("inbox")) == 4
    assert source.listing is not None and source.listing.passes > 1
    assert source.listing.peak_remembered <= 4 + 3, "what stays, plus a page"
