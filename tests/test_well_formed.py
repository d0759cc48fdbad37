"""What the core hands a ticket system is well-formed text, whatever the source read (I12).

A Python string can hold a lone UTF-16 surrogate (UTF-7 and escape codecs make them);
such a string cannot be encoded as UTF-8, so every ticket system fails on it, in every
run, at the same item. `TicketDraft` and `Attachment` replace lone surrogates with
U+FFFD when they are made (also through ``evolve``, so a hook's draft is covered), and an
attachment's name is a plain file name: no path separators, no control characters, no
double quote (which a multipart upload would send as ``%22``).
"""

from __future__ import annotations

import time

import attrs
import pytest
from shitshovela_testkit.fakes import (
    FakeSource,
    FakeStore,
    FakeTracker,
    StoredItem,
    fake_context,
    fake_tickets,
)
from shitshovela_testkit.runs import run_once

from shitshovela_core.deadline import Budget
from shitshovela_core.errors import ExitCode
from shitshovela_core.models import Attachment, Item, PoisonItem, TicketDraft

pytestmark = pytest.mark.unit

LONE_HIGH, LONE_LOW, REPLACEMENT = "\ud83d", "\udcff", "\ufffd"


def test_a_draft_replaces_lone_surrogates_and_keeps_pairs() -> None:
    draft = TicketDraft(
        title=f"a{LONE_HIGH}b",
        body=f"{LONE_LOW} and a pair \ud83d\ude00 and text ✓",
        labels=(f"l{LONE_HIGH}",),
    )
    assert draft.title == f"a{REPLACEMENT}b"
    assert draft.body == f"{REPLACEMENT} and a pair \U0001f600 and text ✓"
    assert draft.labels == (f"l{REPLACEMENT}",)
    shaped = draft.evolve(title=LONE_HIGH, labels=(LONE_LOW, "ok"))
    assert (shaped.title, shaped.labels) == (REPLACEMENT, (REPLACEMENT, "ok"))
    plain = TicketDraft(title="Printer on fire", body="see\nthe photos")
    assert (plain.title, plain.body) == ("Printer on fire", "see\nthe photos")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (f"{LONE_HIGH}.bin", f"{REPLACEMENT}.bin"),
        ("../../etc/passwd", ".._.._etc_passwd"),
        ("C:\\Users\\x\\report.pdf", "C:_Users_x_report.pdf"),
        ("bell\x07 line\r\nbreak\x00.txt", "bell linebreak.txt"),
        ("  spaced  ", "spaced"),
        ("", "attachment"),
        ("..", "attachment"),
        ("\x01\x02", "attachment"),
        ("Rechnung März.pdf", "Rechnung März.pdf"),
        ('"quoted" name.pdf', "'quoted' name.pdf"),
    ],
)
def test_an_attachment_name_is_a_well_formed_file_name(name: str, expected: str) -> None:
    assert Attachment(name, "application/octet-stream", 1).name == expected


class LeakySource(FakeSource):
    """A source whose decoding lets lone surrogates through: ``~`` in an item's text and
    file names reads as U+D83D."""

    def _entry(self, stored: StoredItem) -> Item | PoisonItem:
        entry = super()._entry(stored)
        if isinstance(entry, PoisonItem):
            return entry
        files = tuple(
            attrs.evolve(a, name=a.name.replace("~", LONE_HIGH)) for a in entry.attachments
        )
        return attrs.evolve(
            entry,
            title=entry.title.replace("~", LONE_HIGH),
            body=entry.body.replace("~", LONE_LOW),
            attachments=files,
        )


def test_a_source_item_with_lone_surrogates_becomes_a_ticket() -> None:
    """A ticket system encodes what it sends as UTF-8: here it checks that it can."""
    sent: list[str] = []

    def strict_utf8(draft: TicketDraft) -> None:
        for text in (draft.title, draft.body, *draft.labels, *(a.name for a in draft.attachments)):
            sent.append(text)
            text.encode("utf-8")  # raises on a lone surrogate, as httpx and json do

    store = FakeStore()
    store.put("bad", "title ~\nbody ~", files=("~/x.bin",))
    store.put("canary", "canary\nbody")
    tracker = FakeTracker(reject=strict_utf8)
    budget = Budget(600.0, started=time.monotonic())
    summary = run_once(LeakySource(fake_context(budget=budget), store), fake_tickets(tracker))
    assert summary.exit_code == ExitCode.OK, summary.reason
    assert summary.created == 2 and store.names() == []
    tickets = {t.title: t for t in tracker.tickets.values()}
    assert sorted(tickets) == ["canary", f"title {REPLACEMENT}"]
    assert tickets[f"title {REPLACEMENT}"].body == f"body {REPLACEMENT}"
    assert tickets[f"title {REPLACEMENT}"].attachments == [f"{REPLACEMENT}_x.bin"]
