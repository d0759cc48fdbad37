"""The IMAP source's own behaviour against Dovecot: streaming listing, search filter,
claims (I11; more in test_claims.py), archive moves, set-aside, TLS modes, politeness
(I6) and errors."""

from __future__ import annotations

import imaplib
import itertools
import time

import pytest
from imapkit import Mailbox, plain_message
from shitshovela_imap.claims import CLAIM_KEYWORD
from shitshovela_testkit.clock import ManualClock
from shitshovela_testkit.fakes import (
    FakeTracker,
    Faults,
    HardStop,
    fake_tickets,
)
from shitshovela_testkit.faultproxy import max_in_window
from shitshovela_testkit.runs import run_once

from shitshovela_core.errors import ExitCode, SetAsideUnavailable, TransientError, Unreachable
from shitshovela_core.models import Flag, Item

pytestmark = pytest.mark.servers


def test_listing_is_windowed_batched_and_in_uid_order(mailbox: Mailbox) -> None:
    mailbox.deliver(*(plain_message(n) for n in range(130)))
    with mailbox.client() as other:  # gaps in the UIDs
        gone = [uid for uid in other.search("ALL") if uid % 7 == 0 or 40 < uid < 70]
        other.delete_messages(gone)
        other.expunge()
    expected = mailbox.uids()
    source = mailbox.source(MAX_PER_SENDER=0)
    source.batch_size = 20
    source.search_window = 15
    uids = [int(entry.origin.get("uid")) for entry in source.items()]
    assert uids == expected
    assert source.peak_buffered <= 20
    source.close()


def test_messages_arriving_during_a_listing_are_listed_too(mailbox: Mailbox) -> None:
    mailbox.deliver(*(plain_message(n) for n in range(3)))
    source = mailbox.source()
    titles = []
    for entry in source.items():
        if not titles:
            mailbox.deliver(plain_message(10), plain_message(11))
        titles.append(entry.origin.get("uid"))
    assert titles == ["1", "2", "3", "4", "5"]
    source.close()


def test_the_search_setting_selects_messages(mailbox: Mailbox) -> None:
    mailbox.deliver(plain_message(1), plain_message(2, sender="alerts@example.com"))
    mailbox.server.deliver(mailbox.user, plain_message(3), flags=["\\Seen"])
    unseen = mailbox.source(SEARCH="UNSEEN")
    assert sorted(e.title for e in unseen.items()) == ["Request 1", "Request 2"]
    alerts = mailbox.source(SEARCH='FROM "alerts@example.com"')
    assert [e.title for e in alerts.items()] == ["Request 2"]
    bogus = mailbox.source(SEARCH="NOSUCHKEY 1")
    with pytest.raises(TransientError, match="SHITSHOVELA_IMAP__SEARCH"):
        list(bogus.items())
    for source in (unseen, alerts, bogus):
        source.close()


def test_a_claimed_item_is_not_ticketed_twice_when_the_listing_lags(mailbox: Mailbox) -> None:
    """I11: the run died right after a create; the tracker's listing lags behind. The next
    run sees the claim, does not find the ticket yet and, the claim being younger than
    the claim window, creates nothing; once the listing shows the ticket, the run after
    finishes it. At no point is a second ticket made."""
    mailbox.deliver(plain_message(1))
    listing = ManualClock()
    tracker = FakeTracker(lag=30.0, clock=listing, faults=Faults(fail_on="tickets.create.after"))
    with pytest.raises(HardStop):
        run_once(mailbox.source(), fake_tickets(tracker))
    assert CLAIM_KEYWORD.encode() in mailbox.flags(1)
    tracker.faults.clear()
    summary = run_once(mailbox.source(), fake_tickets(tracker))
    assert summary.exit_code == 0, summary.reason
    assert (summary.created, summary.reconciled, summary.waiting) == (0, 0, 1)
    assert len(tracker.tickets) == 1
    assert mailbox.count() == 1
    listing.advance(30.0)  # the listing caught up
    summary = run_once(mailbox.source(), fake_tickets(tracker))
    assert summary.exit_code == 0, summary.reason
    assert (summary.created, summary.reconciled) == (0, 1)
    assert len(tracker.tickets) == 1
    assert mailbox.count() == 0
    assert tracker.flagged_keys(Flag("test")) == []


def test_done_move_keeps_an_archive(mailbox: Mailbox) -> None:
    mailbox.deliver(plain_message(1), plain_message(2))
    summary = run_once(mailbox.source(DONE="move", DONE_FOLDER="Archive/2026"), fake_tickets())
    assert (summary.created, summary.deleted) == (2, 2)
    assert mailbox.count() == 0
    assert mailbox.message_ids("Archive/2026") == [
        "<1.request@example.com>",
        "<2.request@example.com>",
    ]


def test_moving_without_the_move_extension_copies_then_expunges_that_uid(
    mailbox: Mailbox,
) -> None:
    mailbox.deliver(plain_message(1), plain_message(2))
    source = mailbox.source(DONE="move", DONE_FOLDER="Archive")
    first = next(iter(source.items()))
    source.conn.capabilities = source.conn.capabilities - {"MOVE"}
    assert source.delete(first.origin) is True
    assert source.delete(first.origin) is False
    assert mailbox.message_ids("Archive") == ["<1.request@example.com>"]
    assert mailbox.message_ids() == ["<2.request@example.com>"]
    source.close()


def test_without_a_set_aside_folder_a_poison_item_stops_the_run(mailbox: Mailbox) -> None:
    mailbox.deliver(plain_message(1, body="x" * 3000), plain_message(2))
    source = mailbox.source(SET_ASIDE_FOLDER="", MAX_MESSAGE_SIZE=2048)
    with pytest.raises(SetAsideUnavailable):
        source.set_aside(next(iter(source.items())).origin, "test")
    summary = run_once(source, fake_tickets())
    assert summary.exit_code == ExitCode.DRAIN_FAILED
    assert "SET_ASIDE_FOLDER" in summary.reason and "1/1.request@example.com" in summary.reason
    assert mailbox.count() == 2, "nothing was dropped"


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_modes_verify_the_server(mailbox: Mailbox, security: str) -> None:
    mailbox.deliver(plain_message(1))
    server = mailbox.server
    port = server.tls_port if security == "tls" else server.port
    trusted = mailbox.source(SECURITY=security, PORT=port, CA_BUNDLE=str(server.ca_file))
    assert [e.title for e in trusted.items()] == ["Request 1"]
    trusted.close()
    untrusted = mailbox.source(SECURITY=security, PORT=port)  # the system's CAs only
    with pytest.raises(Unreachable, match="certificate"):
        list(untrusted.items())


def test_a_missing_mailbox_is_named(mailbox: Mailbox) -> None:
    source = mailbox.source(MAILBOX="Nope")
    with pytest.raises(Unreachable, match="SHITSHOVELA_IMAP__MAILBOX"):
        list(source.items())
    with pytest.raises(Unreachable, match="Nope"):
        source.check()


def test_check_reaches_the_mailbox_read_only(mailbox: Mailbox) -> None:
    mailbox.deliver(plain_message(1))
    source = mailbox.source(DONE="move", DONE_FOLDER="Archive")
    source.check()
    assert mailbox.count() == 1
    assert mailbox.uids("Archive") == [], "check creates nothing"
    assert [e.title for e in source.items()] == ["Request 1"]
    source.close()


def test_read_finds_the_item_until_it_is_deleted(mailbox: Mailbox) -> None:
    mailbox.deliver(plain_message(1))
    source = mailbox.source()
    (entry,) = list(source.items())
    read = source.read(entry.origin)
    assert isinstance(read, Item) and read.origin == entry.origin and read.title == "Request 1"
    assert source.delete(entry.origin) is True
    assert source.read(entry.origin) is None
    source.close()


def test_every_imap_command_is_paced(mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """I6: the rate counts IMAP commands (LOGIN and SELECT included), not messages."""
    mailbox.deliver(*(plain_message(n) for n in range(12)))
    sent: list[float] = []
    command = imaplib.IMAP4._command

    def spy(self: imaplib.IMAP4, name: str, *args: object) -> object:
        sent.append(time.monotonic())
        return command(self, name, *args)

    monkeypatch.setattr(imaplib.IMAP4, "_command", spy)
    source = mailbox.source(RATE=10.0)
    limiter = source.context.safety.limiter
    granted: list[float] = []
    acquire = limiter.try_acquire
    read = limiter._clock
    seen: list[float] = []

    def clock() -> float:
        seen.append(read())
        return seen[-1]

    def counted() -> float | None:
        delay = acquire()
        if delay is None:  # granted at the time the limiter read (not when we are back)
            granted.append(seen[-1])
        return delay

    monkeypatch.setattr(limiter, "_clock", clock)

    monkeypatch.setattr(limiter, "try_acquire", counted)
    summary = run_once(source, fake_tickets())
    assert summary.created == 12
    assert len(sent) > 30
    # The rate holds where it is kept: slots granted at least 1/RATE apart, never a
    # burst, so at most 10 in any second.
    assert min(b - a for a, b in itertools.pairwise(granted)) >= 0.1 - 1e-9  # float sums
    assert max_in_window(granted, 1.0) <= 10
    # Every command took a slot. Seen on the wire (after its slot, each a little
    # later), one more can fall into a one-second window at its edge.
    assert len(granted) >= len(sent)
    assert max_in_window(sent, 1.0) <= 10 + 1


def test_secrets_never_reach_errors(mailbox: Mailbox) -> None:
    source = mailbox.source(MAILBOX="Missing")
    with pytest.raises(Unreachable) as info:
        list(source.items())
    assert mailbox.password not in str(info.value)
    assert source.context.safety.redactor.scrub(f"x {mailbox.password} y") == "x *** y"
