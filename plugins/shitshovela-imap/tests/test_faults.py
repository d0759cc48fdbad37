"""Network faults between the job and Dovecot, injected on the wire by the core's
`FaultProxy` in raw TCP mode: resets in the middle of a FETCH, a server that drips
bytes, one that never answers. Nothing is lost or duplicated, and the deadline holds (I5).
"""

from __future__ import annotations

import hashlib
import time

import pytest
from imapkit import (
    Mailbox,
    attachment_message,
    plain_message,
    random_bytes,
)
from shitshovela_testkit.fakes import FakeTracker, fake_tickets
from shitshovela_testkit.faultproxy import Drip, FaultProxy, Hang, ResetAfterBytes, Script
from shitshovela_testkit.runs import run_once

from shitshovela_core.deadline import Budget
from shitshovela_core.errors import ExitCode
from shitshovela_core.models import Item

pytestmark = pytest.mark.servers

COUNT = 40


def seed(mailbox: Mailbox) -> None:
    mailbox.deliver(
        *(plain_message(n, sender=f"s{n}@example.com", body="x" * 8000) for n in range(COUNT))
    )


def check_exactly_once(mailbox: Mailbox, tracker: FakeTracker) -> None:
    """A fault-free run finishes the job: each message exactly one ticket, no flag left (I2)."""
    summary = run_once(mailbox.source(), fake_tickets(tracker))
    assert summary.exit_code == 0, summary.reason
    titles = sorted(t.title for t in tracker.tickets.values())
    assert titles == sorted(f"Request {n}" for n in range(COUNT))
    assert not any(t.labels for t in tracker.tickets.values())
    assert mailbox.count() == 0


def test_a_reset_in_the_middle_of_a_fetch_loses_nothing(mailbox: Mailbox) -> None:
    seed(mailbox)
    upstream = (mailbox.server.host, mailbox.server.port)
    # The first connection dies after 60 kB, in the FETCH of the messages' text.
    with FaultProxy(upstream, [ResetAfterBytes(60_000)], mode="tcp") as proxy:
        source = mailbox.source(PORT=proxy.port)
        tracker = FakeTracker()
        summary = run_once(source, fake_tickets(tracker))
        assert proxy.connection_count == 2
    assert summary.exit_code == 0, summary.reason
    assert summary.created == COUNT
    assert source.conn.connects == 2, "reconnected once and went on"
    check_exactly_once(mailbox, tracker)


def test_a_reset_while_an_attachment_streams_is_retried(mailbox: Mailbox) -> None:
    payload = random_bytes(3 * 1024 * 1024, seed=7)
    mailbox.deliver(attachment_message(payload))
    upstream = (mailbox.server.host, mailbox.server.port)
    with FaultProxy(upstream, mode="tcp") as proxy:
        source = mailbox.source(PORT=proxy.port)
        (item,) = list(source.items())
        assert isinstance(item, Item)
        source.conn.discard()  # the next connection is the one that breaks
        proxy.set_script(Script(connections={2: ResetAfterBytes(1_500_000)}))
        with item.attachments[0].open() as stream:
            data = stream.read()
        assert proxy.connection_count == 3
    assert hashlib.sha256(data).digest() == hashlib.sha256(payload).digest()
    source.close()


@pytest.mark.parametrize("security", ["plain", "tls"])
@pytest.mark.parametrize(
    "fault", [pytest.param(Drip(50.0), id="drip"), pytest.param(Hang(), id="hang")]
)
def test_a_dripping_or_silent_server_is_cut_off_before_the_deadline(
    mailbox: Mailbox, fault: Drip | Hang, security: str
) -> None:
    seed(mailbox)
    server = mailbox.server
    port = server.tls_port if security == "tls" else server.port
    assert port is not None
    budget = Budget(2.5, started=time.monotonic(), margin=0.5)
    with FaultProxy((server.host, port), [fault], mode="tcp") as proxy:
        settings = {"PORT": proxy.port, "SECURITY": security, "CA_BUNDLE": str(server.ca_file)}
        source = mailbox.source(budget=budget, **settings)
        tracker = FakeTracker()
        summary = run_once(source, fake_tickets(tracker))
        ended = time.monotonic()
    assert ended < budget.deadline, "the run ended before its deadline"
    # The server never answered: a failure, not a clean deadline stop; nothing had
    # changed, so the exit code is 3.
    assert summary.exit_code == ExitCode.UNREACHABLE, summary.reason
    assert "cut off at the deadline" in summary.reason, summary.reason
    assert summary.created == 0
    check_exactly_once(mailbox, tracker)
