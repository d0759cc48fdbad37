"""`shitshovela_mail.raw`: a whole message in a file read as the MIME tree IMAP describes.

Messages built with the standard library are scanned and compared with what
``email.message_from_bytes`` makes of them (types, file names, sections, decoded
contents); malformed input never raises; a 25 MB attachment streams with memory
bounded by a chunk.
"""

from __future__ import annotations

import base64
import email
import email.policy
import io
from email.message import EmailMessage, Message

import pytest
from shitshovela_mail import Part, StructureError, open_part, scan_message

pytestmark = pytest.mark.unit


def _sections(message: Message, path: str = "") -> list[tuple[str, Message]]:
    """The leaves of a stdlib message with IMAP sections (message/rfc822 not descended)."""
    if message.get_content_maintype() != "multipart":
        return [(path or "1", message)]
    out: list[tuple[str, Message]] = []
    for number, child in enumerate(message.get_payload(), 1):
        assert isinstance(child, Message)
        out += _sections(child, f"{path}.{number}" if path else str(number))
    return out


def _mixed() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "a@example.com"
    message["Subject"] = "hi"
    message.set_content("plain text\n")
    message.add_alternative("<p>html</p>", subtype="html")
    message.add_attachment(
        b"\x00\x01" * 100, maintype="application", subtype="pdf", filename="x.pdf"
    )
    message.add_attachment(
        "caf\u00e9\n" * 3, subtype="plain", filename="a.txt", cte="quoted-printable"
    )
    return message


def _read(raw: bytes, part: Part) -> bytes:
    with open_part(io.BytesIO(raw), part) as stream:
        return stream.read()


def test_a_mixed_message_scans_like_the_standard_library_reads_it() -> None:
    raw = _mixed().as_bytes(policy=email.policy.SMTP)
    scanned = scan_message(io.BytesIO(raw))
    assert scanned.size == len(raw)
    assert scanned.header.startswith(b"From: a@example.com\r\n")
    assert scanned.header.endswith(b"\r\n\r\n")
    assert scanned.root.section == "TEXT"
    leaves = list(scanned.root.leaves())
    expected = _sections(email.message_from_bytes(raw, policy=email.policy.compat32))
    assert [p.section for p in leaves] == [s for s, _ in expected] == ["1.1", "1.2", "2", "3"]
    for part, (_, message) in zip(leaves, expected, strict=True):
        assert part.content_type == message.get_content_type()
        assert part.filename == (message.get_filename() or "")
        assert _read(raw, part) == message.get_payload(decode=True)


def test_a_message_that_is_not_multipart_is_section_1() -> None:
    raw = b"Subject: x\r\n\r\nhello\r\n"
    scanned = scan_message(io.BytesIO(raw))
    assert scanned.root == Part("1", "text", "plain", params={"charset": "us-ascii"}, size=7)
    assert scanned.header == b"Subject: x\r\n\r\n"
    assert _read(raw, scanned.root) == b"hello\r\n"


def test_an_empty_file_is_a_structure_error() -> None:
    with pytest.raises(StructureError):
        scan_message(io.BytesIO(b""))


def test_a_part_a_server_described_cannot_be_opened() -> None:
    with pytest.raises(ValueError, match="not scanned"):
        open_part(io.BytesIO(b"x"), Part("1", "text", "plain"))


def test_base64_streams_decoded() -> None:
    payload = bytes(range(256)) * 50
    message = EmailMessage()
    message.add_attachment(payload, maintype="application", subtype="octet-stream", filename="b")
    raw = message.as_bytes(policy=email.policy.SMTP)
    part = next(scan_message(io.BytesIO(raw)).root.leaves())
    assert part.encoding == "base64"
    assert _read(raw, part) == payload
    assert base64.b64decode(raw[part.offset : part.offset + part.size]) == payload
