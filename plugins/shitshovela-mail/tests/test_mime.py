"""The pure functions of `shitshovela_mail.mime`: headers, structure, decoding.

Moved here from the IMAP plugin with the module; the IMAP source's tests deliver
awkward and generated mail to Dovecot and check the drafts end to end.
"""

from __future__ import annotations

import base64
import binascii

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shitshovela_mail import mime

# -- unit: headers ------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=?UTF-8?B?w4RwZmVs?= und =?ISO-8859-1?Q?Birnen_=E4?=", "Äpfel und Birnen ä"),
        ("=?koi8-r?B?" + base64.b64encode("Привет".encode("koi8-r")).decode() + "?=", "Привет"),
        ("=?x-unknown?Q?caf=C3=A9?=", "café"),
        ("=?utf-8?B?###?=", "=?utf-8?B?###?="),
        ("Caf\udce9 cr\udce8me", "Café crème"),  # raw latin-1 bytes, as the parser keeps them
        ("Gr\udcc3\udcbc\udcc3\udc9fe", "Grüße"),  # raw UTF-8 bytes
        ("folded\r\n line\tand\x00 control", "folded line and control"),
        ("", ""),
    ],
)
def test_decode_header_value(raw: str, expected: str) -> None:
    assert mime.decode_header_value(raw) == expected


@pytest.mark.unit
def test_parse_headers_of_a_broken_block_never_raises() -> None:
    headers = mime.parse_headers(
        b"From: =?utf-8?Q?J=C3=B6rg?= <JOERG@Example.COM>\r\nSubject: hi\r\n"
        b"Date: not a date\r\nMessage-ID:   <a@b> (comment)\r\n\x00\xff garbage line\r\n"
    )
    assert headers.sender == "joerg@example.com"
    assert headers.from_text == "Jörg <JOERG@Example.COM>"
    assert headers.date is None
    assert headers.message_id == "<a@b>"
    assert headers.message_id_key == "a@b"
    assert mime.parse_headers(b"\xff\xfe\x00").subject == ""


@pytest.mark.unit
@pytest.mark.parametrize(
    ("headers", "content_type", "reason"),
    [
        (b"Auto-Submitted: auto-replied\r\n", "text/plain", "Auto-Submitted: auto-replied"),
        (b"Auto-Submitted: no\r\n", "text/plain", ""),
        (b"Precedence: BULK\r\n", "text/plain", "Precedence: bulk"),
        (b"X-Autorespond: yes\r\n", "text/plain", "x-autorespond: yes"),
        (b"Return-Path: <>\r\n", "text/plain", "empty Return-Path"),
        (b"Return-Path: <a@b>\r\n", "multipart/report", "multipart/report"),
        (b"From: MAILER-DAEMON@mx.example.com\r\n", "text/plain", "sent by mailer-daemon"),
        (b"From: human@example.com\r\n", "text/plain", ""),
    ],
)
def test_auto_reply_reason(headers: bytes, content_type: str, reason: str) -> None:
    found = mime.auto_reply_reason(mime.parse_headers(headers), content_type)
    assert (reason in found) if reason else found == ""


# -- unit: structure and decoding -----------------------------------------------------------


def _leaf(maintype: bytes, subtype: bytes, **extra: object) -> tuple[object, ...]:
    params = extra.get("params", (b"charset", b"utf-8"))
    disposition = extra.get("disposition")
    size = extra.get("size", 10)
    if maintype == b"text":
        return (maintype, subtype, params, None, None, b"7bit", size, 1, None, disposition, None)
    return (maintype, subtype, params, None, None, b"base64", size, None, disposition, None)


@pytest.mark.unit
def test_structure_sections_text_choice_and_attachments() -> None:
    related = ([_leaf(b"text", b"html"), _leaf(b"image", b"png")], b"related", None)
    alternative = ([_leaf(b"text", b"plain"), related], b"alternative", None)
    pdf = _leaf(
        b"application",
        b"pdf",
        params=(b"name", b"x.pdf"),
        disposition=(b"attachment", (b"filename*", b"utf-8''Rechnung%20M%C3%A4rz.pdf")),
    )
    root = mime.parse_structure(([alternative, pdf], b"mixed", None, None))
    assert [p.section for p in root.leaves()] == ["1.1", "1.2.1", "1.2.2", "2"]
    shown = mime.text_parts(root)
    assert [p.section for p in shown] == ["1.1"]
    files = mime.attachment_parts(root, shown)
    assert [(p.section, mime.attachment_name(p)) for p in files] == [
        ("1.2.2", "part-1.2.2.png"),
        ("2", "Rechnung März.pdf"),
    ]
    html_only = mime.parse_structure(_leaf(b"text", b"html"))
    assert [p.section for p in mime.text_parts(html_only)] == ["1"]
    with pytest.raises(mime.StructureError):
        mime.parse_structure(None)


@pytest.mark.unit
def test_attachment_names_are_safe() -> None:
    part = mime.Part("3", "application", "octet-stream", disposition_params={"filename": ""})
    assert mime.attachment_name(part) == "part-3.bin"
    evil = mime.Part("2", "text", "plain", params={"name": "..\\..\\etc/pass\x07wd"})
    assert mime.attachment_name(evil) == "passwd"


@pytest.mark.unit
@given(payload=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 4000), max_size=6))
@settings(max_examples=200, deadline=None)
def test_streaming_decoders_match_whole_decoding(payload: bytes, cuts: list[int]) -> None:
    """However an encoded body is cut into chunks, the decoded stream is the same."""
    qp = binascii.b2a_qp(payload).replace(b"\n", b"\r\n")
    for encoding, encoded, expected in (
        ("base64", base64.encodebytes(payload).replace(b"\n", b"\r\n"), payload),
        ("quoted-printable", qp, binascii.a2b_qp(qp)),
        ("8bit", payload, payload),
    ):
        decoder = mime.decoder_for(encoding)
        out = b""
        last = 0
        for cut in [*sorted(c % (len(encoded) + 1) for c in cuts), len(encoded)]:
            out += decoder.feed(encoded[last:cut])
            last = cut
        out += decoder.finish()
        assert out == expected, encoding


@pytest.mark.unit
def test_lenient_base64() -> None:
    assert mime.decode_transfer(b"aGVsbG8gd29ybGQ", "base64") == b"hello world"  # no padding
    assert mime.decode_transfer(b"aGVs!!bG8=\r\nd29y", "base64").startswith(b"hello")
    assert mime.decode_transfer(b"aGk=aGk=", "base64") == b"hihi"  # concatenated blocks


@pytest.mark.unit
def test_html_to_text() -> None:
    html = "<html><style>p {}</style><script>alert(1)</script><p>Hello &amp; <b>bye</b></p>"
    assert mime.html_to_text(html) == "Hello & bye"
    assert mime.html_to_text("  ") == ""
    assert mime.html_to_text("<!-- only a comment -->") == ""
