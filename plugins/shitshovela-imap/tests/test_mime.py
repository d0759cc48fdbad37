"""From message to ticket draft: awkward and generated mail through a real Dovecot.

Server tests deliver a corpus of awkward messages and generated MIME to Dovecot and
check that each one becomes a ticket draft or is set aside: none lost, no crash. The
pure functions (`shitshovela_mail.mime`) are tested in the mail library.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import tracemalloc
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imapkit import (
    Mailbox,
    attachment_message,
    plain_message,
    random_bytes,
)
from shitshovela_testkit import mimegen
from shitshovela_testkit.fakes import fake_tickets
from shitshovela_testkit.runs import run_once
from shitshovela_testservers.dovecot import DovecotServer

from shitshovela_core.models import Item, PoisonItem

# -- servers: a corpus of awkward messages -------------------------------------------------


def _b(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


NESTED = _b(
    """From: Nested <nested@example.com>
Subject: Nested multiparts
Message-ID: <nested@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

The plain text =E2=9C=93
--alt
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: text/html; charset=utf-8

<p>The HTML text</p><img src="cid:logo">
--rel
Content-Type: image/png
Content-ID: <logo>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--rel--
--alt--
--outer
Content-Type: application/pdf; name="x.pdf"
Content-Disposition: attachment; filename*=utf-8''Rechnung%20M%C3%A4rz.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--outer
Content-Type: message/rfc822

From: inner@example.com
Subject: forwarded

inner body
--outer--
"""
)

CORPUS: dict[str, bytes] = {
    "latin-1 subject": b"From: a@example.com\r\nSubject: Caf\xe9 cr\xe8me\r\n\r\nbody\r\n",
    "utf-8 subject": _b("From: a@example.com\nSubject: Grüße aus Köln\n\nbody\n"),
    "rfc2047 subject": (
        b"From: a@example.com\r\nSubject: =?UTF-8?B?w4RwZmVs?= und =?ISO-8859-1?Q?Birnen_=E4?= "
        b"=?koi8-r?B?" + base64.b64encode("Привет".encode("koi8-r")) + b"?=\r\n\r\nbody\r\n"
    ),
    "unknown charset subject": (
        b"From: a@example.com\r\nSubject: =?x-unknown?Q?caf=C3=A9?=\r\n\r\nx\r\n"
    ),
    "nested": NESTED,
    "html only": _b(
        "From: a@example.com\nSubject: HTML only\nContent-Type: text/html; charset=utf-8\n\n"
        "<html><head><style>p {color: red}</style><script>evil()</script></head>"
        "<body><h1>Title</h1><p>Para &amp; more</p></body></html>\n"
    ),
    "no message-id": _b("From: a@example.com\nSubject: No Message-ID\n\nbody\n"),
    "wrong boundary": _b(
        "From: a@example.com\nSubject: Wrong boundary\n"
        'Content-Type: multipart/mixed; boundary="declared"\n\n--used\n'
        "Content-Type: text/plain\n\nsome text\n--used--\n"
    ),
    "no closing boundary": _b(
        "From: a@example.com\nSubject: No closing boundary\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\n'
        "first part\n--b\nContent-Type: text/plain\n\nsecond part, never closed\n"
    ),
    "unknown body charset": _b(
        "From: a@example.com\nSubject: Klingon\nContent-Type: text/plain; charset=x-klingon\n\n"
        "tlhIngan Hol ✓\n"
    ),
    "8-bit body without charset": (
        b"From: a@example.com\r\nSubject: 8bit\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"na\xefve caf\xe9\r\n"
    ),
    "broken base64": _b(
        "From: a@example.com\nSubject: Broken base64\nMIME-Version: 1.0\n"
        "Content-Transfer-Encoding: base64\n\n"
        "aGVsbG8g!!d29y\nbGQ\n"
    ),
    "headers only": b"From: a@example.com\r\nSubject: Headers only\r\n\r\n",
    "no headers at all": b"\x00\x01\x02 just bytes \xff\xfe\r\n",
    "huge header": b"From: a@example.com\r\nSubject: Huge header\r\nX-Big: "
    + b"x" * 300_000
    + b"\r\n\r\nbody\r\n",
}


@pytest.mark.servers
def test_awkward_messages_become_drafts(mailbox: Mailbox) -> None:
    mailbox.deliver(*CORPUS.values())
    source = mailbox.source(MAX_PER_SENDER=0)
    entries = list(source.items())
    assert len(entries) == len(CORPUS)
    assert all(isinstance(e, Item) for e in entries), [
        e.reason for e in entries if isinstance(e, PoisonItem)
    ]
    items = dict(zip(CORPUS, entries, strict=True))
    title = {name: item.title for name, item in items.items()}
    assert title["latin-1 subject"] == "Café crème"
    assert title["utf-8 subject"] == "Grüße aus Köln"
    assert title["rfc2047 subject"] == "Äpfel und Birnen äПривет"  # adjacent words join
    assert title["unknown charset subject"] == "café"
    assert title["no headers at all"] == "(no subject)"
    nested = items["nested"]
    assert isinstance(nested, Item)
    assert nested.body == "The plain text ✓"
    assert [(a.name, a.content_type) for a in nested.attachments] == [
        ("part-1.2.2.png", "image/png"),
        ("Rechnung März.pdf", "application/pdf"),
        ("part-3.eml", "message/rfc822"),
    ]
    with nested.attachments[1].open() as stream:
        assert stream.read() == b"%PDF-1.4\n"
    with nested.attachments[2].open() as stream:
        assert b"Subject: forwarded" in stream.read()
    html = items["html only"]
    assert isinstance(html, Item)
    assert html.body == "Title\n\nPara & more"
    no_id = items["no message-id"].origin
    assert no_id.key == no_id.get("uid") and "message_id" not in dict(no_id.extra)
    assert "some text" in items["wrong boundary"].body or items["wrong boundary"].body == ""
    assert "second part" in items["no closing boundary"].body
    assert items["unknown body charset"].body == "tlhIngan Hol ✓"
    assert items["8-bit body without charset"].body == "naïve café"
    assert items["broken base64"].body.startswith("hello")
    assert items["headers only"].body == ""
    assert items["huge header"].body == "body"
    assert nested.sender == "nested@example.com"
    assert mailbox.flags(int(nested.origin.get("uid"))) == (), "BODY.PEEK: nothing set \\Seen"

    summary = run_once(source, fake_tickets())
    assert summary.exit_code == 0, summary.reason
    assert summary.created == len(CORPUS)
    assert mailbox.count() == 0


@pytest.mark.servers
def test_a_message_the_server_cannot_read_is_set_aside(mailbox: Mailbox) -> None:
    paths = [mailbox.server.deliver(mailbox.user, plain_message(n)) for n in range(3)]
    os.chmod(paths[1], 0)  # Dovecot (as nobody) cannot open it: FETCH ends the session
    source = mailbox.source()
    entries = list(source.items())
    assert [type(e).__name__ for e in entries] == ["Item", "PoisonItem", "Item"]
    assert "cannot read" in entries[1].reason
    summary = run_once(mailbox.source(), fake_tickets())
    assert (summary.created, summary.set_aside) == (2, 1)
    assert mailbox.count() == 0
    assert mailbox.count("ShitShovela-Set-Aside") == 1


@pytest.mark.servers
def test_a_message_over_the_size_limit_is_set_aside_unread(mailbox: Mailbox) -> None:
    mailbox.deliver(plain_message(1, body="x" * 5000))
    source = mailbox.source(MAX_MESSAGE_SIZE=4096)
    commands: list[str] = []
    command = source.conn.command

    def spy(what: str, *args: object, **kwargs: object) -> object:
        commands.append(what)
        return command(what, *args, **kwargs)  # type: ignore[arg-type]

    source.conn.command = spy  # type: ignore[method-assign]
    (entry,) = list(source.items())
    assert isinstance(entry, PoisonItem)
    assert "MAX_MESSAGE_SIZE" in entry.reason
    assert not [c for c in commands if "text" in c or "part" in c], commands
    source.close()


@pytest.mark.servers
def test_a_25_mb_attachment_streams_in_chunks(mailbox: Mailbox) -> None:
    payload = random_bytes(25 * 1024 * 1024)
    mailbox.deliver(attachment_message(payload, name="core.dump"))
    source = mailbox.source()
    (item,) = list(source.items())
    assert isinstance(item, Item)
    assert item.body == "The file is attached."
    (attachment,) = item.attachments
    assert attachment.name == "core.dump"
    assert abs(attachment.size - len(payload)) < len(payload) // 1000
    digest = hashlib.sha256()
    tracemalloc.start()
    try:
        with attachment.open() as stream:
            while chunk := stream.read(256 * 1024):
                digest.update(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest.digest() == hashlib.sha256(payload).digest()
    assert peak < 12 * 1024 * 1024, f"{peak} bytes held while streaming 25 MiB"
    source.close()


# -- servers: generated MIME --------------------------------------------------------------

_folders = itertools.count()


@pytest.mark.servers
@given(batch=st.lists(mimegen.messages(), min_size=1, max_size=4), ticket_auto=st.booleans())
@settings(
    max_examples=100,
    deadline=timedelta(seconds=20),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_generated_mime_becomes_tickets_or_is_set_aside(
    dovecot: DovecotServer, batch: list[bytes], ticket_auto: bool
) -> None:
    box = Mailbox(dovecot, "alice", f"Generated/{next(_folders)}")
    box.deliver(*batch)
    auto = "ticket" if ticket_auto else "set_aside"  # half the cases: more drafts to build
    source = box.source(MAX_PER_SENDER=0, AUTO_REPLIES=auto)
    entries = list(source.items())
    assert len(entries) == len(batch), "every message is listed exactly once"
    for entry in entries:
        if isinstance(entry, Item):
            assert entry.title and "\n" not in entry.title
            texts = [entry.title, entry.body, entry.sender, *entry.meta.values()]
            texts += [a.name for a in entry.attachments]
            for text in texts:
                text.encode("utf-8")  # well-formed: no lone surrogate (I12)
            for attachment in entry.attachments:
                with attachment.open() as stream:
                    stream.read()
    summary = run_once(source, fake_tickets())
    assert summary.exit_code == 0, summary.reason
    assert summary.created + summary.set_aside == len(batch), "none is lost"
    assert box.count() == 0


@pytest.mark.servers
def test_long_text_is_cut_in_the_body_and_attached_whole(mailbox: Mailbox) -> None:
    long_text = "".join(f"line {n} of a very long log\n" for n in range(100_000))
    assert len(long_text) > 2 * 1024 * 1024
    part = "Content-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n"
    many = (
        "From: a@example.com\r\nSubject: Many texts\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        + "".join("--b\r\n" + part.format(c * 700_000) for c in "xyz")
        + "--b--\r\n"
    )
    mailbox.deliver(plain_message(1, body=long_text), many.encode())
    source = mailbox.source()
    long, several = list(source.items())
    assert isinstance(long, Item) and isinstance(several, Item)
    assert len(long.body) < 1_100_000
    assert long.body.endswith("it is attached whole as part-1.txt.]")
    (whole,) = long.attachments
    with whole.open() as stream:
        assert stream.read().decode().replace("\r\n", "\n").strip() == long_text.strip()
    assert several.body.count("x" * 100) and several.body.count("y" * 100)
    assert "z" * 100 not in several.body
    assert [a.name for a in several.attachments] == ["part-3.txt"]
    source.close()


@pytest.mark.servers
def test_a_draft_that_fails_to_build_is_set_aside_not_a_crash(
    mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shitshovela_mail import items as items_module

    def broken(part: object, data: bytes) -> str:
        raise UnicodeError("a decoder bug")

    monkeypatch.setattr(items_module, "part_text", broken)
    mailbox.deliver(plain_message(1))
    summary = run_once(mailbox.source(), fake_tickets())
    assert (summary.exit_code, summary.created, summary.set_aside) == (0, 0, 1)
    assert mailbox.count("ShitShovela-Set-Aside") == 1
