"""What the emulator reads out of MIME, for any bytes it is given."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shitshovela_graph_emulator.mime import attachment_contents, build_mime, parse

pytestmark = pytest.mark.unit


def test_addresses_dates_importance_and_encoded_words() -> None:
    mime = (
        b"From: =?utf-8?q?J=C3=B6rg?= <jorg@example.com>\r\n"
        b"Sender: Relay <relay@example.com>\r\n"
        b"To: a@example.com, B <b@example.com>\r\nReply-To: r@example.com\r\n"
        b"Subject: =?iso-8859-1?q?Gr=FC=DFe?= again\r\n"
        b"Date: Fri, 15 Jan 2027 09:00:00 +0100\r\nX-Priority: 1 (Highest)\r\n"
        b"Disposition-Notification-To: jorg@example.com\r\n"
        b"Message-ID: <m1@example.com>\r\n\r\nbody\r\n"
    )
    parsed = parse(mime)
    assert parsed.subject == "Grüße again"
    assert parsed.from_ is not None and parsed.from_.name == "Jörg"
    assert parsed.sender is not None and parsed.sender.address == "relay@example.com"
    assert [a.address for a in parsed.to] == ["a@example.com", "b@example.com"]
    assert [a.address for a in parsed.reply_to] == ["r@example.com"]
    assert parsed.sent is not None and parsed.sent.isoformat() == "2027-01-15T08:00:00+00:00"
    assert parsed.importance == "high" and parsed.read_receipt is True
    assert parsed.internet_message_id == "<m1@example.com>"
    assert parsed.text == "body\r\n" and parsed.html is None


def test_attachments_and_their_bytes() -> None:
    mime = build_mime(
        "files",
        attachments=[
            ("a.bin", b"\x00\x01", "application/octet-stream"),
            ("b.txt", "é".encode(), "text/plain"),
        ],
    )
    parsed = parse(mime)
    assert [(a.name, a.size, a.is_inline, a.is_item) for a in parsed.attachments] == [
        ("a.bin", 2, False, False),
        ("b.txt", 2, False, False),
    ]
    assert attachment_contents(mime) == [b"\x00\x01", "é".encode()]
    assert parsed.has_attachments and parsed.text is not None and "files" not in parsed.text


def test_broken_mime_still_parses() -> None:
    for data in (
        b"",
        b"\xff\xfe\x00garbage",
        b"Subject: x\r\nContent-Type: multipart/mixed\r\n\r\n",
        b"Date: not a date\r\nFrom: <<<\r\nContent-Type: text/plain; charset=nonsense\r\n"
        b"\r\n\xe9t\xe9\r\n",
    ):
        parsed = parse(data)
        assert parsed.importance == "normal"
    odd = parse(b"Content-Type: text/plain; charset=nonsense\r\n\r\n\xe9t\xe9\r\n")
    assert odd.text == "\ufffdt\ufffd\r\n" and odd.sent is None


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_parse_to_well_formed_text(data: bytes) -> None:
    parsed = parse(data)
    texts = [parsed.subject, parsed.text, parsed.html, parsed.internet_message_id]
    texts += [v for pair in parsed.headers for v in pair]
    texts += [a.name for a in parsed.attachments]
    for text in filter(None, texts):
        text.encode("utf-8")  # no lone surrogate
