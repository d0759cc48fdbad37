"""Loop and flood protection (I12): auto-replies, bounces and mail loops never become a
flood of tickets; they are set aside (or, over the per-sender cap, left) and never lost."""

from __future__ import annotations

import pytest
from imapkit import Mailbox, plain_message
from shitshovela_testkit.fakes import FakeTracker, fake_tickets
from shitshovela_testkit.runs import run_once

from shitshovela_core.models import PoisonItem

pytestmark = pytest.mark.servers

SET_ASIDE = "ShitShovela-Set-Aside"

AUTOMATIC = {
    "auto-submitted": {"Auto-Submitted": "auto-replied"},
    "auto-generated": {"Auto-Submitted": "auto-generated; type=notification"},
    "precedence-bulk": {"Precedence": "bulk"},
    "precedence-junk": {"Precedence": "junk"},
    "precedence-list": {"Precedence": "list"},
    "x-autoreply": {"X-Autoreply": "yes"},
    "x-autorespond": {"X-Autorespond": "Out of office"},
    "empty-return-path": {"Return-Path": "<>"},
}


def automatic_messages() -> list[bytes]:
    messages = [
        plain_message(n, sender=f"robot{n}@example.com", subject=name, headers=headers)
        for n, (name, headers) in enumerate(AUTOMATIC.items(), 100)
    ]
    dsn = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n"
        "To: support@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn@mx.example.com>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nI could not deliver your message.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; x@example.org\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n--b--\r\n"
    )
    return [*messages, dsn.encode()]


def test_auto_replies_and_bounces_are_set_aside(mailbox: Mailbox) -> None:
    automatic = automatic_messages()
    human = [
        plain_message(1, headers={"Auto-Submitted": "no"}),
        plain_message(2, headers={"Precedence": "first-class"}),
    ]
    mailbox.deliver(*automatic, *human)
    source = mailbox.source()
    poison = {
        e.origin.get("message_id"): e.reason for e in source.items() if isinstance(e, PoisonItem)
    }
    assert len(poison) == len(automatic)
    assert any("Auto-Submitted: auto-replied" in r for r in poison.values())
    assert any("Return-Path" in r for r in poison.values())
    assert poison["<dsn@mx.example.com>"].startswith("auto-reply or bounce")
    tracker = FakeTracker()
    summary = run_once(source, fake_tickets(tracker))
    assert summary.exit_code == 0, summary.reason
    assert (summary.created, summary.set_aside) == (2, len(automatic))
    assert sorted(t.title for t in tracker.tickets.values()) == ["Request 1", "Request 2"]
    assert mailbox.count() == 0
    assert mailbox.count(SET_ASIDE) == len(automatic), "set aside where operators see them"


def test_auto_replies_may_be_ticketed_by_choice(mailbox: Mailbox) -> None:
    mailbox.deliver(*automatic_messages())
    summary = run_once(mailbox.source(AUTO_REPLIES="ticket", MAX_PER_SENDER=0), fake_tickets())
    assert (summary.created, summary.set_aside) == (len(AUTOMATIC) + 1, 0)


def loop_messages(count: int) -> list[bytes]:
    """A mail loop: the same sender, the same subject, over and over."""
    return [
        plain_message(n, sender="loop@example.net", subject="Re: Re: Re: your ticket")
        for n in range(count)
    ]


def test_a_mail_loop_is_capped_and_the_rest_set_aside(mailbox: Mailbox) -> None:
    mailbox.deliver(*loop_messages(200), plain_message(1000, sender="human@example.org"))
    tracker = FakeTracker()
    summary = run_once(mailbox.source(), fake_tickets(tracker))  # MAX_PER_SENDER defaults to 20
    assert summary.exit_code == 0, summary.reason
    assert (summary.created, summary.set_aside) == (21, 180)
    senders = [t.title for t in tracker.tickets.values()]
    assert senders.count("Re: Re: Re: your ticket") == 20
    assert "Request 1000" in senders, "other senders still get their tickets"
    assert mailbox.count() == 0
    assert mailbox.count(SET_ASIDE) == 180


def test_a_mail_loop_over_the_cap_may_be_left_for_later_runs(mailbox: Mailbox) -> None:
    mailbox.deliver(*loop_messages(200))
    settings = {"MAX_PER_SENDER": 20, "SENDER_OVERFLOW": "leave"}
    tracker = FakeTracker()
    summary = run_once(mailbox.source(**settings), fake_tickets(tracker))
    assert (summary.created, summary.set_aside) == (20, 0)
    assert mailbox.count() == 180, "left in the mailbox, nothing lost"
    summary = run_once(mailbox.source(**settings), fake_tickets(tracker))
    assert summary.created == 20
    assert len(tracker.tickets) == 40
    assert mailbox.count() == 160
    assert mailbox.count(SET_ASIDE) == 0
