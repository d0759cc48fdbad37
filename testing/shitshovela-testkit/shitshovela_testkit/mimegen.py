"""Generated MIME messages for property-based tests (hypothesis; a test-only dependency).

`messages()` draws raw messages as bytes: well-formed, slightly wrong and badly broken,
built by hand rather than with the ``email`` package so that they can be wrong in the
ways real mail is: nested multiparts with missing or wrong boundaries, raw 8-bit and
RFC 2047 headers in known and unknown charsets, odd transfer encodings, missing
Message-IDs, file names with paths and control characters, auto-reply headers, and text
that decodes to lone surrogates (UTF-7 ``+2D0-``, Python's escape codecs as a charset).

`stdlib_messages()` draws well-formed messages built with the standard library
(``email.message.EmailMessage``): nested multiparts, text/plain and text/html
alternatives, attachments in base64, quoted-printable, 7bit and 8bit, forwarded
messages, with CRLF or LF line ends. What ``email.message_from_bytes`` makes of them is
the reference a MIME reader is compared with.
"""

from __future__ import annotations

import base64
import binascii
import email.policy
from email.message import EmailMessage, Message, MIMEPart
from typing import Any

from hypothesis import strategies as st

CHARSETS = (
    "utf-8",
    "iso-8859-1",
    "windows-1252",
    "koi8-r",
    "x-unknown",
    "utf-7",
    "unicode-escape",
    "rot13",
    "",
)
#: Bytes that decode to a lone surrogate in UTF-7 or an escape codec.
SURROGATES = (b"+2D0-", b"a+3b8-b", b"\\ud83d", b"\\udcff x")
ENCODINGS = ("7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "")
LEAF_TYPES = (
    "text/plain",
    "text/html",
    "text/calendar",
    "application/pdf",
    "image/png",
    "message/rfc822",
    "application/octet-stream",
)
MULTIPART = ("mixed", "alternative", "related", "signed", "report", "digest")
BOUNDARY_MODES = ("ok", "ok", "ok", "no-close", "wrong", "missing-param", "nested-same")

_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
    max_size=60,
)


def _encode(payload: bytes, encoding: str) -> bytes:
    if encoding == "base64":
        return base64.encodebytes(payload).replace(b"\n", b"\r\n")
    if encoding == "quoted-printable":
        return binascii.b2a_qp(payload).replace(b"\n", b"\r\n")
    return payload


@st.composite
def header_value(draw: st.DrawFn) -> bytes:
    """A header value: ASCII, raw 8-bit, or RFC 2047 words (some broken)."""
    text = draw(_text)
    kinds = ("ascii", "raw-utf8", "raw-latin1", "b", "q", "broken", "surrogate")
    kind = draw(st.sampled_from(kinds))
    charset = draw(st.sampled_from(CHARSETS)) or "utf-8"
    if kind == "ascii":
        return text.encode("ascii", "replace")
    if kind == "raw-utf8":
        return text.encode("utf-8")
    if kind == "raw-latin1":
        return text.encode("latin-1", "replace")
    raw = text.encode("utf-8")
    if kind == "surrogate":
        raw = draw(st.sampled_from(SURROGATES))
        kind = draw(st.sampled_from(("b", "q")))
    if kind == "b":
        return b"=?" + charset.encode() + b"?B?" + base64.b64encode(raw) + b"?="
    if kind == "q":
        return b"=?" + charset.encode() + b"?Q?" + binascii.b2a_qp(raw, header=True) + b"?="
    return b"=?" + charset.encode() + b"?B?" + base64.b64encode(raw)[:-1] + b"?"


@st.composite
def leaf(draw: st.DrawFn) -> bytes:
    """One non-multipart body part, headers included."""
    content_type = draw(st.sampled_from(LEAF_TYPES))
    encoding = draw(st.sampled_from(ENCODINGS))
    charset = draw(st.sampled_from(CHARSETS))
    payload = draw(
        st.one_of(
            st.binary(max_size=400),
            _text.map(lambda t: t.encode("utf-8")),
            st.sampled_from(SURROGATES),
        )
    )
    if content_type == "text/html":
        payload = b"<html><body><p>" + payload + b"</p><script>x()</script></body></html>"
    lines = [b"Content-Type: " + content_type.encode()]
    if charset:
        lines[0] += b"; charset=" + charset.encode()
    if encoding:
        lines.append(b"Content-Transfer-Encoding: " + encoding.encode())
    if draw(st.booleans()):
        name = draw(header_value())
        disposition = draw(st.sampled_from((b"attachment", b"inline", b"")))
        lines.append(b"Content-Disposition: " + disposition + b'; filename="' + name + b'"')
    return b"\r\n".join(lines) + b"\r\n\r\n" + _encode(payload, encoding)


def _multipart(draw: st.DrawFn, children: list[bytes]) -> bytes:
    subtype = draw(st.sampled_from(MULTIPART))
    mode = draw(st.sampled_from(BOUNDARY_MODES))
    boundary = draw(st.sampled_from((b"b1", b"=_x", b"----=_Part_0", b"a b")))
    declared = b"other" if mode == "wrong" else boundary
    head = b"Content-Type: multipart/" + subtype.encode()
    if mode != "missing-param":
        head += b'; boundary="' + declared + b'"'
    body = b"preamble\r\n"
    for child in children:
        body += b"--" + boundary + b"\r\n" + child + b"\r\n"
    if mode != "no-close":
        body += b"--" + boundary + b"--\r\n"
    return head + b"\r\n\r\n" + body


@st.composite
def body(draw: st.DrawFn, depth: int = 0) -> bytes:
    """A MIME body with its Content-* headers: a leaf, or a (possibly broken) multipart."""
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        return draw(leaf())
    children = draw(st.lists(body(depth + 1), max_size=4))
    return _multipart(draw, children)


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    """One whole message as bytes."""
    lines = [
        b"From: " + draw(header_value()) + b" <" + draw(st.sampled_from(_SENDERS)) + b">",
        b"To: support@example.com",
        b"Subject: " + draw(header_value()),
    ]
    if draw(st.booleans()):
        lines.append(b"Message-ID: <" + draw(header_value()).replace(b">", b"") + b"@gen>")
    if draw(st.booleans()):
        lines.append(b"Date: " + draw(st.sampled_from(_DATES)))
    extra: Any = draw(st.sampled_from(_EXTRA_HEADERS))
    if extra:
        lines.append(extra)
    if draw(st.booleans()):
        lines.append(b"MIME-Version: 1.0")
    if draw(st.integers(0, 9)) == 0:  # no MIME at all: headers and raw bytes
        return b"\r\n".join(lines) + b"\r\n\r\n" + draw(st.binary(max_size=300))
    return b"\r\n".join(lines) + b"\r\n" + draw(body())


_SENDERS = (b"a@example.com", b"b@example.org", b"MAILER-DAEMON@mx.example.com", b"", b"no-at")
_DATES = (
    b"Mon, 02 Mar 2026 10:00:00 +0000",
    b"2 Mar 2026 10:00 GMT",
    b"yesterday",
    b"Mon, 31 Feb 2026 25:61:00 +9999",
)
_EXTRA_HEADERS = (
    b"",
    b"",
    b"",
    b"Auto-Submitted: auto-replied",
    b"Precedence: bulk",
    b"X-Autoreply: yes",
    b"Return-Path: <>",
    b"X-Weird: \x80\x81\xfe\xff",
    b"Received: from x by y; Mon, 02 Mar 2026 10:00:00 +0000",
)


# -- well-formed messages built with the standard library ---------------------------------

_ASCII_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=120
).map(lambda t: t + "\n")
_ANY_TEXT = st.text(
    alphabet=st.characters(exclude_categories=["Cs", "Cc"], exclude_characters="\u2028\u2029"),
    max_size=120,
).map(lambda t: t + "\n")
_FILE_NAMES = st.text(
    alphabet=st.sampled_from("abcXYZ019.-_\u00e4\u00df\u20ac\u6f22"), min_size=1, max_size=16
).filter(lambda n: n.strip("."))


def _fill_leaf(draw: st.DrawFn, part: MIMEPart) -> None:
    kind = draw(st.sampled_from(("text", "text", "file", "file", "forward")))
    if kind == "text":
        cte = draw(st.sampled_from(("7bit", "8bit", "quoted-printable", "base64")))
        text = draw(_ASCII_TEXT if cte == "7bit" else _ANY_TEXT)
        subtype = draw(st.sampled_from(("plain", "html")))
        if subtype == "html":
            text = f"<p>{text}</p>\n"
        part.set_content(text, subtype=subtype, cte=cte)
        if draw(st.booleans()):
            part.add_header("Content-Disposition", "attachment", filename=draw(_FILE_NAMES))
    elif kind == "file":
        cte = draw(st.sampled_from(("base64", "base64", "quoted-printable")))
        data = draw(st.binary(max_size=3000))
        maintype, subtype = draw(
            st.sampled_from((("application", "pdf"), ("image", "png"), ("application", "zip")))
        )
        filename = draw(st.one_of(st.none(), _FILE_NAMES))
        part.set_content(data, maintype=maintype, subtype=subtype, cte=cte, filename=filename)
    else:
        inner = EmailMessage()
        inner["From"] = "inner@example.com"
        inner["Subject"] = "forwarded"
        inner.set_content(draw(_ASCII_TEXT))
        part.set_content(inner)


def _fill_body(draw: st.DrawFn, part: MIMEPart, boundaries: list[str], depth: int = 0) -> None:
    """A leaf, or a multipart of 1-3 parts (boundaries drawn here, not by the ``random``
    module the ``email`` package would use)."""
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        _fill_leaf(draw, part)
        return
    subtype = draw(st.sampled_from(("mixed", "alternative", "related")))
    boundary = f"==_{len(boundaries):03d}_{draw(st.integers(0, 9999)):04d}_=="
    boundaries.append(boundary)
    part["Content-Type"] = f"multipart/{subtype}"
    part.set_boundary(boundary)
    children: list[Message[str, str] | str] = []
    for _ in range(draw(st.integers(1, 3))):
        child = MIMEPart()
        _fill_body(draw, child, boundaries, depth + 1)
        children.append(child)
    part.set_payload(children)


@st.composite
def stdlib_messages(draw: st.DrawFn) -> bytes:
    """One well-formed message built with ``email.message.EmailMessage``, as bytes (CRLF
    line ends, or LF)."""
    message = EmailMessage()
    message["From"] = "Customer <customer@example.com>"
    message["To"] = "support@example.com"
    message["Subject"] = draw(_ANY_TEXT).strip() or "no text"
    _fill_body(draw, message, [])
    if "MIME-Version" not in message:
        message["MIME-Version"] = "1.0"
    policy = draw(st.sampled_from((email.policy.SMTP, email.policy.default)))
    return message.as_bytes(policy=policy)
