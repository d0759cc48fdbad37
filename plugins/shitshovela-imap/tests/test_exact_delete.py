"""I9: deleting removes exactly the message that was ticketed, against a real Dovecot.

Another mail client (a second IMAP session) changes the mailbox at the worst moments:
it recreates it (a new UIDVALIDITY) with a different message under the same Message-ID,
renames it, marks other messages \\Deleted, or deletes our message first.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from imapkit import Mailbox, plain_message
from shitshovela_testkit.fakes import FakeTicketSystem, FakeTracker, fake_context, fake_tickets
from shitshovela_testkit.runs import run_once
from shitshovela_testservers.dovecot import DovecotServer

from shitshovela_core.models import Flag, Item, Origin, Ticket, TicketDraft

pytestmark = pytest.mark.servers

A = plain_message(1, subject="the original", body="first version\n")
A_PRIME = plain_message(1, subject="a replacement", body="another message, same Message-ID\n")
B = plain_message(2)
C = plain_message(3)


@pytest.fixture
def support(mailbox: Mailbox) -> Mailbox:
    """A mailbox that is not INBOX, so that another client may delete and recreate it."""
    return Mailbox(mailbox.server, mailbox.user, "Support")


def recreate(box: Mailbox, *messages: bytes) -> None:
    """Another client deletes the mailbox and creates it again (new UIDVALIDITY)."""
    with box.client("INBOX") as other:
        other.delete_folder(box.mailbox)
        other.create_folder(box.mailbox)
        for message in messages:
            other.append(box.mailbox, message)


def subjects(box: Mailbox, folder: str | None = None) -> list[str]:
    with box.client(folder) as client:
        uids = client.search("ALL")
        found = client.fetch(uids, ["ENVELOPE"]) if uids else {}
        return sorted(v[b"ENVELOPE"].subject.decode() for v in found.values())


def listed(box: Mailbox) -> dict[str, Item]:
    source = box.source()
    try:
        return {e.title: e for e in source.items() if isinstance(e, Item)}
    finally:
        source.close()


def test_uidvalidity_change_relocates_by_message_id_and_digest(support: Mailbox) -> None:
    support.deliver(A, B)
    old = listed(support)["the original"].origin
    recreate(support, A_PRIME, B)
    source = support.source()
    assert source.delete(old) is False, "the replacement shares the Message-ID, not the content"
    assert subjects(support) == ["Request 2", "a replacement"]
    assert source.conn.uidvalidity_changes == 0  # a new session: it never saw the old one
    with support.client() as other:
        other.append(support.mailbox, A)  # the very message, now with a new UID
    assert source.delete(old) is True, "found again by Message-ID and digest"
    assert source.delete(old) is False
    assert subjects(support) == ["Request 2", "a replacement"]
    source.close()


def test_rename_gives_a_new_uidvalidity_and_only_our_mailbox_is_touched(
    support: Mailbox,
) -> None:
    support.deliver(A, B)
    old = listed(support)["the original"].origin
    with support.client("INBOX") as other:
        other.rename_folder("Support", "Support-old")
        other.create_folder("Support")
        other.select_folder("Support-old")
        other.copy(other.search("ALL"), "Support")
    source = support.source()
    assert source.delete(old) is True
    assert subjects(support) == ["Request 2"]
    assert subjects(support, "Support-old") == ["Request 2", "the original"]
    source.close()


def test_a_stale_session_never_deletes_the_new_mailbox_s_message(support: Mailbox) -> None:
    support.deliver(A)
    source = support.source()
    old = next(iter(source.items())).origin  # this session has the old mailbox selected
    assert old.get("uid") == "1"
    recreate(support, C)  # the new mailbox's first message: also UID 1
    assert source.delete(old) is False
    assert subjects(support) == ["Request 3"]
    source.close()


def test_without_message_id_the_message_is_found_by_size_and_digest(support: Mailbox) -> None:
    bare = plain_message(7, message_id="", subject="no id here")
    same_size = plain_message(7, message_id="", subject="no id HERE")
    assert len(bare) == len(same_size)
    support.deliver(bare)
    old = listed(support)["no id here"].origin
    assert "message_id" not in dict(old.extra)
    assert old.key == old.get("uid")
    recreate(support, same_size, bare)
    source = support.source()
    assert source.delete(old) is True
    assert subjects(support) == ["no id HERE"]
    source.close()


def test_a_message_another_client_marked_deleted_survives_our_delete(mailbox: Mailbox) -> None:
    mailbox.deliver(A, B)
    entries = listed(mailbox)
    with mailbox.client() as other:
        b_uid = int(entries["Request 2"].origin.get("uid"))
        other.add_flags([b_uid], [b"\\Deleted"])
    source = mailbox.source()
    assert source.delete(entries["the original"].origin) is True
    assert mailbox.uids() == [b_uid], "our UID EXPUNGE must not expunge the other \\Deleted one"
    assert b"\\Deleted" in mailbox.flags(b_uid)
    assert [e.title for e in source.items()] == [], "messages marked \\Deleted are not listed"
    source.close()


class _Meddling(FakeTicketSystem):
    """A fake ticket system that lets another mail client act right after a create."""

    def __init__(self, tracker: FakeTracker, after_create: Callable[[str], None]) -> None:
        super().__init__(fake_context("fake", "test"), tracker)
        self.after_create = after_create
        self.seen_at_unflag: dict[str, list[str]] = {}
        self.box: Mailbox | None = None

    def create(self, draft: TicketDraft, flag: Flag, origin: Origin) -> Ticket:
        ticket = super().create(draft, flag, origin)
        self.after_create(draft.title)
        return ticket

    def unflag(self, ticket: Ticket, flag: Flag) -> None:
        # The engine unflags right after deleting the origin: look at the mailbox now.
        assert self.box is not None
        self.seen_at_unflag[self.tracker.tickets[ticket.key].title] = subjects(self.box)
        super().unflag(ticket, flag)


def test_uidvalidity_changes_mid_run(support: Mailbox) -> None:
    support.deliver(A, B)

    def meddle(title: str) -> None:
        if title == "the original":
            recreate(support, A_PRIME, C)

    tickets = _Meddling(FakeTracker(), meddle)
    tickets.box = support
    summary = run_once(support.source(), tickets)
    tracker = tickets.tracker
    assert summary.exit_code == 0, summary.reason
    # A's delete found the mailbox recreated: A' shares A's Message-ID but is another
    # message, so it stayed. B was gone with the old mailbox: its claim, made against
    # the old UIDVALIDITY, failed, so no ticket was made for a message no longer there.
    assert "a replacement" in tickets.seen_at_unflag["the original"]
    assert (summary.already_gone, summary.taken) == (1, 1)
    # The listing started again on the new mailbox: A' and C became tickets of their own.
    titles = sorted(t.title for t in tracker.tickets.values())
    assert titles == ["Request 3", "a replacement", "the original"]
    digests = {t.title: Origin.from_ref(t.origin_ref).digest for t in tracker.tickets.values()}
    assert digests["a replacement"] != digests["the original"]
    assert all(not t.labels for t in tracker.tickets.values()), "every flag removed"
    assert subjects(support) == []


def test_a_message_deleted_by_someone_else_counts_as_done(mailbox: Mailbox) -> None:
    mailbox.deliver(A, B)

    def meddle(title: str) -> None:
        with mailbox.client() as other:
            uids = other.search(["HEADER", "Subject", title])
            other.delete_messages(uids)
            other.expunge()

    tickets = _Meddling(FakeTracker(), meddle)
    tickets.box = mailbox
    summary = run_once(mailbox.source(), tickets)
    tracker = tickets.tracker
    assert summary.exit_code == 0, summary.reason
    assert (summary.created, summary.deleted, summary.already_gone) == (2, 0, 2)
    assert all(not t.labels for t in tracker.tickets.values())
    assert mailbox.uids() == []


def test_reconcile_after_a_crash_deletes_exactly_the_ticketed_message(
    dovecot: DovecotServer, support: Mailbox
) -> None:
    support.deliver(A, B)
    ticketed = listed(support)["the original"].origin
    tracker = FakeTracker()
    flag = Flag("test")
    # The earlier run created A's ticket and died before deleting A.
    FakeTicketSystem(fake_context("fake", "test"), tracker).create(
        TicketDraft("the original", "first version"), flag, ticketed
    )
    summary = run_once(support.source(), fake_tickets(tracker))
    assert summary.exit_code == 0, summary.reason
    assert (summary.reconciled, summary.created) == (1, 1)
    assert sorted(t.title for t in tracker.tickets.values()) == ["Request 2", "the original"]
    assert subjects(support) == []


def test_when_the_mailbox_itself_is_gone_so_is_the_message(support: Mailbox) -> None:
    support.deliver(A)
    old = listed(support)["the original"].origin
    with support.client("INBOX") as other:
        other.delete_folder(support.mailbox)
    source = support.source()
    assert source.delete(old) is False
    assert source.read(old) is None
    source.set_aside(old, "gone already")  # nothing to move, no error
    source.close()
