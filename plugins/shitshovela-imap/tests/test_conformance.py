"""The core's conformance kit against the IMAP source on a real Dovecot.

The kit names items; here a name is a message's Message-ID (without angle brackets), which
the source puts last in the origin's key (``<UID>/<Message-ID>``). "Replacing" an item
expunges the message and delivers a new one with the same Message-ID: a newer revision
that an exact delete of the old origin must not touch (I9).
"""

from __future__ import annotations

import itertools

import pytest
from imapkit import Mailbox
from shitshovela_imap.source import ImapSource
from shitshovela_testkit.conformance import source_suite
from shitshovela_testservers.dovecot import DovecotServer

_users = itertools.count()


class _Server:
    current: DovecotServer | None = None


class ImapHarness:
    """What `source_suite` drives: one fresh user's INBOX per check."""

    def __init__(self) -> None:
        assert _Server.current is not None, "the dovecot fixture did not run"
        server = _Server.current
        user = f"conf{next(_users)}"
        server.add_user(user, "conformance")
        self.box = Mailbox(server, user)

    def source(self) -> ImapSource:
        return self.box.source(instance="conf-a")

    def add(self, name: str, content: bytes) -> None:
        title, _, body = content.decode("utf-8").partition("\n")
        message = (
            f"From: Conformance <kit@example.com>\r\nSubject: {title}\r\n"
            f"Message-ID: <{name}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        )
        self.box.deliver(message.encode("utf-8"))  # raw UTF-8 in headers, as some mailers send

    def replace(self, name: str, content: bytes) -> None:
        with self.box.client() as client:
            uids = client.search(["ALL"])
            found = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]) if uids else {}
            mine = [
                uid
                for uid, data in found.items()
                if f"<{name}>".encode() in data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"]
            ]
            client.delete_messages(mine)
            client.uid_expunge(mine)
        self.add(name, content)

    def names(self) -> list[str]:
        return [mid.strip("<>") for mid in self.box.message_ids()]

    def close(self) -> None:
        """Nothing to clean: each harness has a user of its own."""


@pytest.mark.servers
class TestImapSourceConformance(source_suite(ImapHarness)):  # type: ignore[misc]
    """Every source check of the kit, against Dovecot."""

    @pytest.fixture(autouse=True)
    def _dovecot(self, dovecot: DovecotServer) -> None:
        _Server.current = dovecot
