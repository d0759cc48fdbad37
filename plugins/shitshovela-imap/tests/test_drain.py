"""10,000 messages drained in one run of the core engine, in bounded memory.

The run uses the core `Engine` with the IMAP source and the core's in-memory
`FakeTicketSystem`. Memory and speed figures come from ``bench/bench_imap.py``; this test
checks the counts and that the source never buffers more than one batch of messages.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from imapkit import Mailbox, plain_message
from shitshovela_testkit.fakes import FakeTracker, fake_tickets
from shitshovela_testkit.runs import run_once
from shitshovela_testservers.dovecot import DovecotServer

pytestmark = pytest.mark.servers

COUNT = 10_000


@pytest.fixture(scope="module")
def big_dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    """A Dovecot told it is the only writer of its Maildirs (``maildir_very_dirty_syncs``):
    otherwise it rereads the 10,000-entry ``cur/`` directory after every change, which
    makes an expunge cost ~10 ms here (large production Maildirs set the same)."""
    server = DovecotServer(
        tmp_path_factory.mktemp("big-dovecot"),
        users={"alice": "password"},
        extra_config="maildir_very_dirty_syncs = yes\n",
    ).start()
    yield server
    server.close()


def test_10000_messages_drain_in_one_run(big_dovecot: DovecotServer) -> None:
    box = Mailbox(big_dovecot, "alice")
    senders = itertools.cycle(f"customer{n}@example.com" for n in range(500))
    box.deliver_many(plain_message(n, sender=next(senders)) for n in range(COUNT))
    with box.client() as client:  # a mail client opened it first: new/ moves to cur/
        assert client.select_folder("INBOX")[b"EXISTS"] == COUNT
    source = box.source(MAX_PER_SENDER=0)
    tracker = FakeTracker()
    summary = run_once(source, fake_tickets(tracker))
    assert summary.exit_code == 0, summary.reason
    assert (summary.created, summary.deleted, summary.set_aside) == (COUNT, COUNT, 0)
    assert len({t.origin_ref for t in tracker.tickets.values()}) == COUNT
    assert not any(t.labels for t in tracker.tickets.values())
    assert box.count() == 0
    assert source.peak_buffered <= source.batch_size, "never more than one batch in memory"
    assert source.conn.connects == 1
