"""Attachments: uploaded after the create while the ticket is flagged; a crash in
between loses nothing, because reconcile completes them before the origin is deleted.

The engine runs in-process (`EngineWorld`); a `HardStop` from inside the
provider stands for the process being killed at that point.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from jirakit import EngineWorld, make_tickets
from shitshovela_jira import text
from shitshovela_jira.tickets import JiraTickets
from shitshovela_jira_emulator import JiraEmulator
from shitshovela_testkit.clock import ManualClock
from shitshovela_testkit.fakes import HardStop

from shitshovela_core import hookimpl
from shitshovela_core.engine import draft_from_item
from shitshovela_core.errors import ExitCode, OutcomeUnknown, TransientError
from shitshovela_core.models import Attachment, Flag, Item, Origin, TicketDraft
from shitshovela_core.plugins import create_plugins

pytestmark = pytest.mark.servers

Start = Callable[..., JiraEmulator]
ITEMS = {"alpha": "Printer on fire\nsee the photos", "bravo": "No attachments here\nbody"}
FILES = {
    "alpha": [
        ("photo.jpg", b"\xff\xd8\xff" + bytes(range(256)) * 40),
        ("notes.txt", b"first\r\n--boundary-lookalike\r\nsecond"),
        ("notes.txt", b"a second file with the same name"),
    ]
}


def attached(world: EngineWorld, name: str) -> list[tuple[str, bytes]]:
    return sorted(
        (a.filename, a.content) for a in world.jira.issue(world.issue_of(name).key).attachments
    )


def expected(name: str) -> list[tuple[str, bytes]]:
    return sorted(FILES.get(name, []))


def world_for(start: Start, flavour: str, *, lag: float = 86400.0) -> EngineWorld:
    clock = ManualClock(follow_real_time=True)
    return EngineWorld(start(flavour, index_lag=lag, clock=clock), ITEMS, clock=clock, files=FILES)


def kill_on_call(monkeypatch: pytest.MonkeyPatch, name: str, nth: int = 1) -> None:
    """Make the ``nth`` call of ``JiraTickets.<name>`` kill the run (once)."""
    original = getattr(JiraTickets, name)
    calls = {"n": 0}

    def dying(self: JiraTickets, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == nth:
            raise HardStop(f"killed in {name}")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(JiraTickets, name, dying)


@pytest.mark.parametrize("claims", [True, False], ids=["claims", "no-claims"])
def test_crash_between_create_and_upload_then_reconcile_completes_before_delete(
    start_jira: Start, flavour: str, claims: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = world_for(start_jira, flavour)
    with monkeypatch.context() as patch:
        kill_on_call(patch, "complete")
        assert world.run(claims=claims) is None  # killed right after alpha's create
    assert world.tickets_per_item() == {"alpha": 1}
    assert attached(world, "alpha") == []
    assert world.store.names() == ["alpha", "bravo"]

    world.clock.advance(2.0)  # type: ignore[attr-defined]
    summary = world.run(claims=claims)
    assert summary is not None and summary.exit_code == ExitCode.OK, summary
    assert world.tickets_per_item() == {"alpha": 1, "bravo": 1}
    assert attached(world, "alpha") == expected("alpha")
    assert attached(world, "bravo") == []
    assert world.flags_left() == 0 and world.store.names() == []
    uploads = [r.time for r in world.jira.requests if r.path.endswith("/attachments")]
    assert len(uploads) == 3
    assert max(uploads) < world.sources[-1].deleted_at["alpha"], "origin deleted before upload"


class DropNotes:
    """A site's hook: ``notes.txt`` files never go to Jira."""

    @hookimpl
    def shape_ticket_draft(self, item: Item, draft: TicketDraft) -> TicketDraft:
        kept = tuple(a for a in draft.attachments if a.name != "notes.txt")
        return draft.evolve(attachments=kept)


@pytest.mark.parametrize("crash", [False, True], ids=["after-create", "after-reconcile"])
def test_an_attachment_a_hook_drops_is_never_uploaded(
    start_jira: Start, flavour: str, crash: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = world_for(start_jira, flavour)
    hooks = create_plugins(extra=[("drop", DropNotes())], entry_points=False).hooks()
    if crash:  # killed right after alpha's create: reconcile completes it
        with monkeypatch.context() as patch:
            kill_on_call(patch, "complete")
            assert world.run(claims=True, hooks=hooks) is None
        world.clock.advance(2.0)  # type: ignore[attr-defined]
    summary = world.run(claims=True, hooks=hooks)
    assert summary is not None and summary.exit_code == ExitCode.OK, summary
    assert summary.reconciled == (1 if crash else 0)
    photo = [f for f in FILES["alpha"] if f[0] == "photo.jpg"]
    assert attached(world, "alpha") == photo
    assert world.flags_left() == 0 and world.store.names() == []


def test_crash_between_two_uploads_uploads_only_what_is_missing(
    start_jira: Start, flavour: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = world_for(start_jira, flavour)
    with monkeypatch.context() as patch:
        kill_on_call(patch, "_upload", nth=2)
        assert world.run(claims=True) is None
    assert len(attached(world, "alpha")) == 1
    summary = world.run(claims=True)
    assert summary is not None and summary.exit_code == ExitCode.OK
    assert attached(world, "alpha") == expected("alpha")  # each once: none twice
    assert world.flags_left() == 0 and world.store.names() == []


def item_with(files: list[tuple[str, bytes]], *, title: str = "t", body: str = "b") -> Item:
    def opener(data: bytes) -> Callable[[], io.BytesIO]:
        return lambda: io.BytesIO(data)

    attachments = tuple(
        Attachment(name, "application/octet-stream", len(data), opener=opener(data))
        for name, data in files
    )
    return Item(
        origin=Origin("fake", "fake://x", "k"), title=title, body=body, attachments=attachments
    )


def test_complete_twice_uploads_nothing_more(start_jira: Start, flavour: str) -> None:
    jira = start_jira(flavour)
    tickets = make_tickets(jira, "a")
    item = item_with(FILES["alpha"])
    ticket = tickets.create(TicketDraft(title="t", body="b"), Flag("a"), item.origin)
    tickets.complete(ticket, draft_from_item(item))
    tickets.complete(ticket, draft_from_item(item))
    tickets.complete(ticket, draft_from_item(item))
    assert sorted((a.filename, a.content) for a in jira.issue(ticket.key).attachments) == sorted(
        FILES["alpha"]
    )
    assert len([r for r in jira.requests if r.path.endswith("/attachments")]) == 3
    headers = [r.headers for r in jira.requests if r.path.endswith("/attachments")]
    assert all(h.get("X-Atlassian-Token") == "no-check" for h in headers)


def test_awkward_file_names_upload_once_under_the_draft_s_name(
    start_jira: Start, flavour: str
) -> None:
    """A name decoded from a hostile mail (a lone surrogate from UTF-7, I12) or merely
    unusual: the draft's name is well-formed, uploads, and a second ``complete`` (what
    reconcile does) finds it present instead of uploading it again (a double quote,
    which multipart sends as ``%22``, is not in the draft's name)."""
    jira = start_jira(flavour)
    tickets = make_tickets(jira, "a")
    files = [("\ud83d.bin", b"x"), ('say "hi".txt', b"q"), ("Rechnung März;v=2 %41.pdf", b"p")]
    item = item_with(files)
    ticket = tickets.create(TicketDraft(title="t", body="b"), Flag("a"), item.origin)
    tickets.complete(ticket, draft_from_item(item))
    tickets.complete(ticket, draft_from_item(item))
    assert sorted((a.filename, a.content) for a in jira.issue(ticket.key).attachments) == sorted(
        [("\ufffd.bin", b"x"), ("say 'hi'.txt", b"q"), files[2]]
    )
    assert len([r for r in jira.requests if r.path.endswith("/attachments")]) == 3


def test_no_attachments_and_short_text_cost_no_request(start_jira: Start) -> None:
    jira = start_jira("cloud")
    tickets = make_tickets(jira, "a")
    item = item_with([])
    ticket = tickets.create(TicketDraft(title="t", body="b"), Flag("a"), item.origin)
    before = len(jira.requests)
    tickets.complete(ticket, draft_from_item(item))
    assert len(jira.requests) == before


def test_files_over_the_limit_are_listed_in_the_description(
    start_jira: Start, flavour: str
) -> None:
    jira = start_jira(flavour)
    tickets = make_tickets(jira, "a", MAX_ATTACHMENT=1000)
    item = item_with([("small.txt", b"s" * 10), ("huge.bin", b"h" * 5000)])
    draft = TicketDraft(title="t", body="b", attachments=item.attachments)
    ticket = tickets.create(draft, Flag("a"), item.origin)
    tickets.complete(ticket, draft_from_item(item))
    issue = jira.issue(ticket.key)
    assert [a.filename for a in issue.attachments] == ["small.txt"]
    assert "Not attached, larger than 1000 bytes: huge.bin (5000 bytes)" in (
        issue.description or ""
    )


def test_files_the_server_refuses_as_too_large_get_a_comment(start_jira: Start) -> None:
    jira = start_jira("datacenter", attachment_max_bytes=100)  # lower than the setting says
    tickets = make_tickets(jira, "a")
    item = item_with([("ok.txt", b"o" * 50), ("big.bin", b"b" * 500)])
    ticket = tickets.create(TicketDraft(title="t", body="b"), Flag("a"), item.origin)
    tickets.complete(ticket, draft_from_item(item))
    issue = jira.issue(ticket.key)
    assert [a.filename for a in issue.attachments] == ["ok.txt"]
    (comment,) = issue.comments
    assert "big.bin (500 bytes)" in str(comment)


def test_a_cut_description_gets_the_full_text_attached_once(
    start_jira: Start, flavour: str
) -> None:
    jira = start_jira(flavour)
    tickets = make_tickets(jira, "a")
    body = "".join(f"line {n}: some words that make the text long\n" for n in range(2000))
    item = item_with([], title="Long one", body=body)
    ticket = tickets.create(TicketDraft(title=item.title, body=body), Flag("a"), item.origin)
    tickets.complete(ticket, draft_from_item(item))
    tickets.complete(ticket, draft_from_item(item))
    issue = jira.issue(ticket.key)
    assert "cut by ShitShovela" in (issue.description or "")
    (full,) = issue.attachments
    assert full.filename == text.FULL_TEXT_NAME
    assert full.content == ("Long one\n\n" + body).encode()


def test_an_upload_with_unknown_outcome_stops_the_run_without_exit_6(start_jira: Start) -> None:
    jira = start_jira("cloud")
    tickets = make_tickets(jira, "a")
    item = item_with([("one.txt", b"1" * 10)])
    ticket = tickets.create(TicketDraft(title="t", body="b"), Flag("a"), item.origin)
    jira.faults.unavailable(1)  # the upload gets a 503 without Retry-After
    with pytest.raises(TransientError, match="the next run completes") as caught:
        tickets._upload(ticket.key, "one.txt", "text/plain", item.attachments[0].open)
    assert not isinstance(caught.value, OutcomeUnknown)
    tickets.complete(ticket, draft_from_item(item))
    assert [a.filename for a in jira.issue(ticket.key).attachments] == ["one.txt"]
