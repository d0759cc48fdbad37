"""Test helpers: a mailbox on a test Dovecot, and messages to put in it.

Used by this plugin's tests and its bench script::

    box = Mailbox(server, "user1")
    box.deliver(plain_message(1), plain_message(2))
    tracker = FakeTracker()
    summary = run_once(box.source(), fake_tickets(tracker))  # the testkit's engine run
    assert summary.created == 2 and box.uids() == []

`Mailbox.source` builds an `ImapSource` with a real core `SafetyPolicy`
(``shitshovela_testkit.fakes.fake_context``) on the server's plain
loopback port unless told otherwise. imapclient is imported only when a method
needs it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import random
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from shitshovela_testkit.fakes import fake_context
from shitshovela_testservers.dovecot import DovecotServer

from shitshovela_core.deadline import Budget

if TYPE_CHECKING:
    from shitshovela_imap.source import ImapSource

#: The pace of a test's safety policy unless it sets ``RATE``: far above what ``RATE`` allows.
UNPACED = 100_000.0


class Mailbox:
    """One user's mailbox on a `DovecotServer`, seen from a test."""

    def __init__(self, server: DovecotServer, user: str, mailbox: str = "INBOX") -> None:
        self.server = server
        self.user = user
        self.mailbox = mailbox

    @property
    def password(self) -> str:
        """The user's password."""
        return self.server.password(self.user)

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """The IMAP source's settings (by NAME) for this mailbox, plain on loopback."""
        return {
            "HOST": self.server.host,
            "PORT": self.server.port,
            "SECURITY": "plain",
            "USERNAME": self.user,
            "PASSWORD": self.password,
            "MAILBOX": self.mailbox,
            **overrides,
        }

    def source(
        self, *, instance: str = "test", budget: Budget | None = None, **overrides: Any
    ) -> ImapSource:
        """An `ImapSource` over this mailbox (settings as `settings`, plus ``overrides``);
        its safety policy paces at ``RATE`` if given, else at `UNPACED`."""
        from shitshovela_imap.source import ImapSource

        rate = overrides.pop("RATE", UNPACED)
        context = fake_context(
            "imap",
            instance,
            settings=self.settings(**overrides),
            budget=budget or Budget(600.0, started=time.monotonic()),
            rate=rate,
        )
        return ImapSource(context)

    def deliver(self, *messages: bytes, folder: str | None = None) -> int:
        """Put messages straight into the Maildir (fast, no IMAP); returns how many."""
        return self.server.deliver_many(self.user, messages, folder or self.mailbox)

    def deliver_many(self, messages: Iterable[bytes], folder: str | None = None) -> int:
        """Like `deliver`, from an iterable."""
        return self.server.deliver_many(self.user, messages, folder or self.mailbox)

    @contextlib.contextmanager
    def client(self, folder: str | None = None) -> Iterator[Any]:
        """A logged-in imapclient session (another mail client) with ``folder`` selected."""
        client = self.server.imap_client(self.user)
        try:
            name = folder or self.mailbox
            if client.folder_exists(name):
                client.select_folder(name)
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def uids(self, folder: str | None = None, *, deleted: bool = True) -> list[int]:
        """UIDs in ``folder`` (the mailbox by default); without \\Deleted ones unless
        ``deleted``."""
        with self.client(folder) as client:
            if not client.folder_exists(folder or self.mailbox):
                return []
            return sorted(client.search("ALL" if deleted else "UNDELETED"))

    def count(self, folder: str | None = None) -> int:
        """How many messages ``folder`` holds."""
        return len(self.uids(folder))

    def message_ids(self, folder: str | None = None) -> list[str]:
        """The Message-ID header values in ``folder``, in UID order."""
        with self.client(folder) as client:
            if not client.folder_exists(folder or self.mailbox):
                return []
            uids = sorted(client.search("ALL"))
            if not uids:
                return []
            found = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
            out = []
            for uid in uids:
                raw = found[uid].get(b"BODY[HEADER.FIELDS (MESSAGE-ID)]", b"")
                value = raw.decode("utf-8", "replace").partition(":")[2].strip()
                out.append(value)
            return out

    def flags(self, uid: int, folder: str | None = None) -> tuple[bytes, ...]:
        """The flags of one message."""
        with self.client(folder) as client:
            return tuple(client.get_flags([uid]).get(uid, ()))


def plain_message(
    number: int,
    *,
    sender: str = "customer@example.com",
    subject: str | None = None,
    body: str | None = None,
    message_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """A small text/plain message; ``message_id=""`` leaves the header out."""
    lines = [
        f"From: Customer {number} <{sender}>",
        "To: support@example.com",
        f"Subject: {subject if subject is not None else f'Request {number}'}",
        "Date: Mon, 02 Mar 2026 10:00:00 +0000",
    ]
    mid = f"<{number}.request@example.com>" if message_id is None else message_id
    if mid:
        lines.append(f"Message-ID: {mid}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", ""]
    text = body if body is not None else f"Please help with request {number}.\n"
    return ("\r\n".join(lines) + "\r\n" + text.replace("\n", "\r\n")).encode("utf-8")


def random_bytes(size: int, seed: int = 25) -> bytes:
    """``size`` pseudo-random bytes (reproducible from ``seed``)."""
    return random.Random(seed).randbytes(size)


def attachment_message(
    payload: bytes,
    *,
    name: str = "dump.bin",
    content_type: str = "application/octet-stream",
    text: str = "The file is attached.",
    message_id: str = "<attachment@example.com>",
) -> bytes:
    """A multipart/mixed message: a short text and ``payload`` as a base64 attachment,
    built without the email package (fast for tens of megabytes)."""
    boundary = "=_shitshovela_" + hashlib.sha256(payload[:1024]).hexdigest()[:16]
    encoded = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    head = (
        "From: Big Sender <big@example.com>\r\n"
        "To: support@example.com\r\n"
        "Subject: A large attachment\r\n"
        f"Message-ID: {message_id}\r\n"
        "Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"{text}\r\n"
        f"--{boundary}\r\n"
        f'Content-Type: {content_type}; name="{name}"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        f'Content-Disposition: attachment; filename="{name}"\r\n'
        "\r\n"
    ).encode()
    return head + encoded + f"\r\n--{boundary}--\r\n".encode()
