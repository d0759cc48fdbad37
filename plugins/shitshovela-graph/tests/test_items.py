"""Messages become items through the mail library every mail source shares.

A message's MIME (``$value``) is spooled to a temporary file and read by
`shitshovela_mail` (the same title, text, attachments and loop protection as
the IMAP source); attachments stream from that file; a message larger than
``MAX_MESSAGE_SIZE`` is set aside with its download stopped at the limit.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import weakref
from collections.abc import Callable
from typing import Any

import pytest
import shitshovela_graph.source
from graphkit import graph_source, mail
from shitshovela_graph_emulator import GraphEmulator
from shitshovela_testkit.fakes import FakeTracker, fake_tickets
from shitshovela_testkit.faultproxy import Drip, Script
from shitshovela_testkit.runs import engine_for, run_once

from shitshovela_core import ExitCode, Item, PoisonItem

pytestmark = pytest.mark.servers


def only(source: object) -> Item | PoisonItem:
    entries = list(source.items())  # type: ignore[attr-defined]
    assert len(entries) == 1
    entry: Item | PoisonItem = entries[0]
    return entry


def test_a_message_becomes_an_item_with_its_text_and_streamed_attachments(
    graph: GraphEmulator,
) -> None:
    big = bytes(range(256)) * 12_000  # 3 MB: spooled past memory onto disk
    seeded = graph.seed_message(
        mail(
            "Disk full on db-1",
            body="The disk of db-1 is full.\nPlease look.",
            html="<p>The disk of <b>db-1</b> is full.</p>",
            sender="Alerts <alerts@example.com>",
            message_id="<disk-1@example.com>",
            attachments=[("df.txt", b"/dev/sda1 100%", "text/plain"), ("core.bin", big, "")],
        )
    )
    source = graph_source(graph)
    item = only(source)
    assert isinstance(item, Item)
    assert item.title == "Disk full on db-1"
    assert "The disk of db-1 is full." in item.body and "<b>" not in item.body
    assert item.sender == "alerts@example.com"
    assert item.meta["message_id"] == "<disk-1@example.com>"
    assert item.meta["graph_id"] == seeded.id
    names = {a.name: a for a in item.attachments}
    assert set(names) == {"df.txt", "core.bin"}
    with names["core.bin"].open() as stream:
        assert hashlib.sha256(stream.read()).digest() == hashlib.sha256(big).digest()
    with names["df.txt"].open() as stream:
        assert stream.read() == b"/dev/sda1 100%"
    origin = item.origin
    assert origin.key == f"{seeded.id}/disk-1@example.com"
    assert origin.version == graph.folder("inbox").id
    assert origin.digest.startswith("sha256:")
    assert origin.get("message_id") == "<disk-1@example.com>"
    assert origin.scope == "graph://tickets@contoso.onmicrosoft.com/inbox"
    again = source.read(origin)
    assert isinstance(again, Item) and again.origin == origin, "read again: the same revision"


@pytest.fixture
def spooled(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Watch the source's spooled files: the function returned gives the most bytes the
    files alive at one time held (on disk past 1 MiB each)."""
    spools: list[weakref.ref[Any]] = []
    peak = 0

    class Spool(tempfile.SpooledTemporaryFile):  # type: ignore[type-arg]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            spools.append(weakref.ref(self))

        def write(self, data: Any) -> int:
            nonlocal peak
            written = super().write(data)
            alive = [s for s in (ref() for ref in spools) if s is not None and not s.closed]
            peak = max(peak, sum(s.tell() if s is self else s.seek(0, 2) for s in alive))
            return written

    monkeypatch.setattr(shitshovela_graph.source.tempfile, "SpooledTemporaryFile", Spool)
    return lambda: peak


def core_dumps(graph: GraphEmulator, count: int) -> int:
    """Seed ``count`` messages of about 3 MB; the size of the largest MIME."""
    for n in range(count):
        graph.seed_message(mail(f"Core dump {n}", attachments=[("core", os.urandom(2**21), "")]))
    return max(len(m.mime) for m in graph.messages("inbox"))


def test_one_message_at_a_time_is_spooled(graph: GraphEmulator, spooled: Callable[[], int]) -> None:
    """A message's spooled file is gone before the next message is read: ``/tmp`` needs
    room for one ``MAX_MESSAGE_SIZE``, not two. *Can fail*: while the drain and the
    listing both still held the message just done, its file stayed while the next one
    downloaded (twice the disk, 100 MB at the default limit)."""
    largest = core_dumps(graph, 3)
    summary = run_once(graph_source(graph), fake_tickets(FakeTracker()))
    assert summary.created == 3
    assert largest <= spooled() <= largest + 1024, f"{spooled()} bytes spooled at once"


def test_plan_spools_one_message_at_a_time(
    graph: GraphEmulator, spooled: Callable[[], int]
) -> None:
    """``plan`` shows each would-be ticket's file names, and keeps none of their files.
    *Can fail*: the plan held every draft's attachments, and so every message's spooled
    file, to the end (``--limit`` times ``MAX_MESSAGE_SIZE`` of ``/tmp``)."""
    largest = core_dumps(graph, 3)
    plan = engine_for(graph_source(graph), fake_tickets(FakeTracker())).plan(5)
    assert [[a.name for a in e.draft.attachments] for e in plan.drain if e.draft] == [["core"]] * 3
    assert largest <= spooled() <= largest + 1024, f"{spooled()} bytes spooled at once"


def test_a_message_over_the_size_limit_is_set_aside_its_download_stopped(
    graph: GraphEmulator,
) -> None:
    huge = graph.seed_message(mail("Huge", attachments=[("dump", b"x" * 400_000, "")]))
    graph.seed_message(mail("Small"))
    source = graph_source(graph, MAX_MESSAGE_SIZE=100_000)
    entries = list(source.items())
    poison = entries[0]
    assert isinstance(poison, PoisonItem)
    assert "larger than SHITSHOVELA_GRAPH__MAX_MESSAGE_SIZE" in poison.reason
    summary = run_once(graph_source(graph, MAX_MESSAGE_SIZE=100_000), fake_tickets(FakeTracker()))
    assert summary.set_aside == 1 and summary.created == 1
    assert [m.id for m in graph.messages("ShitShovela-Set-Aside")] == [huge.id]


def test_a_message_too_large_for_the_link_stops_the_run_naming_the_timeout(
    graph: GraphEmulator, fault_proxy: Any
) -> None:
    """A MIME still arriving when ``TIMEOUT`` runs out (a large message on a slow link) is
    read once, and the run stops naming the message and both ways out. *Can fail*: read
    again and again it took five tries of ``TIMEOUT`` each, then stopped with exit 3 as
    if Graph were down ("5 failures in a row ... instead of hammering it"), on every run."""
    big = graph.seed_message(mail("Big", attachments=[("dump", b"x" * 200_000, "")]))
    graph.seed_message(mail("Small"))
    # The folder and the list pass; every request after them drips.
    proxy = fault_proxy(graph, Script(http={n: Drip(20_000) for n in range(3, 20)}))
    source = graph_source(graph, URL=proxy.url + "/v1.0", TIMEOUT="1")
    tracker = FakeTracker()
    summary = run_once(source, fake_tickets(tracker))
    assert summary.exit_code == ExitCode.DRAIN_FAILED, summary.reason
    for words in (
        big.id,
        "SHITSHOVELA_GRAPH__TIMEOUT (1s)",
        "raise SHITSHOVELA_GRAPH__TIMEOUT",
        "SHITSHOVELA_GRAPH__MAX_MESSAGE_SIZE",
    ):
        assert words in summary.reason
    assert len([r for r in graph.requests if r.path.endswith("/$value")]) == 1
    assert tracker.tickets == {}
    assert [m.subject for m in graph.messages("inbox")] == ["Big", "Small"]


def test_auto_replies_and_a_mail_loop_are_set_aside(graph: GraphEmulator) -> None:
    graph.seed_message(mail("Out of office", headers=[("Auto-Submitted", "auto-replied")]))
    for n in range(4):
        graph.seed_message(mail(f"Re: loop {n}", sender="loop@example.com"))
    graph.seed_message(mail("Real alert", sender="alerts@example.com"))
    tracker = FakeTracker()
    summary = run_once(graph_source(graph, MAX_PER_SENDER=2), fake_tickets(tracker))
    assert sorted(t.title for t in tracker.tickets.values()) == [
        "Re: loop 0",
        "Re: loop 1",
        "Real alert",
    ]
    assert summary.set_aside == 3
    aside = {m.subject for m in graph.messages("ShitShovela-Set-Aside")}
    assert aside == {"Out of office", "Re: loop 2", "Re: loop 3"}
    assert graph.messages("inbox") == []


def test_over_the_cap_with_leave_stays_in_the_folder(graph: GraphEmulator) -> None:
    for n in range(3):
        graph.seed_message(mail(f"Re: loop {n}", sender="loop@example.com"))
    summary = run_once(
        graph_source(graph, MAX_PER_SENDER=1, SENDER_OVERFLOW="leave"),
        fake_tickets(FakeTracker()),
    )
    assert summary.created == 1 and summary.set_aside == 0
    assert [m.subject for m in graph.messages("inbox")] == ["Re: loop 1", "Re: loop 2"]


def test_a_message_gone_between_listing_and_reading_is_skipped(graph: GraphEmulator) -> None:
    graph.seed_message(mail("First"))
    second = graph.seed_message(mail("Second"))
    graph.seed_message(mail("Third"))
    entries = graph_source(graph).items()
    head = next(entries)  # the page holds all three; only the first one's MIME is read
    assert isinstance(head, Item) and head.title == "First"
    graph.delete_message(second.id)
    assert [e.title for e in entries if isinstance(e, Item)] == ["Third"]
