"""What Exchange reads out of a message's RFC 822 MIME: the properties Graph serves.

`parse` turns the bytes of a message into a `ParsedMime`: subject, sender and
recipients, ``Message-ID``, ``Date``, the headers, the text and HTML bodies,
importance, and each attachment's name, type, size and whether it is inline
(attached messages are item attachments). It never fails: a header or a part it
cannot read is left out, and text is always well-formed (a lone surrogate that
a broken charset decodes to becomes U+FFFD, as Exchange would never serve one).
Attachment contents are not kept: `attachment_content` reads one again from the
bytes when it is asked for. `build_mime` makes a message for tests.
"""

from __future__ import annotations

import email
import email.header
import email.policy
import email.utils
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from typing import Any

__all__ = [
    "Address",
    "MimeAttachment",
    "ParsedMime",
    "attachment_contents",
    "build_mime",
    "clean",
    "parse",
]

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


@dataclass(frozen=True)
class Address:
    """A recipient: display name and address."""

    name: str
    address: str


@dataclass(frozen=True)
class MimeAttachment:
    """One attachment as Graph lists it (its bytes are read again on demand)."""

    index: int
    name: str | None
    content_type: str
    size: int
    is_inline: bool
    content_id: str | None
    #: An attached message (``message/rfc822``): an ``itemAttachment``, no ``contentBytes``.
    is_item: bool


@dataclass(frozen=True)
class ParsedMime:
    """The properties of a message that come from its MIME."""

    subject: str | None
    sender: Address | None
    from_: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    bcc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    internet_message_id: str | None
    sent: datetime | None
    headers: tuple[tuple[str, str], ...]
    text: str | None
    html: str | None
    importance: str
    read_receipt: bool
    attachments: tuple[MimeAttachment, ...]

    @property
    def has_attachments(self) -> bool:
        """Graph's ``hasAttachments``: true when one attachment is not inline."""
        return any(not a.is_inline for a in self.attachments)


def _header(msg: Message, name: str) -> str | None:
    try:
        value = msg.get(name)
    except Exception:  # a header the parser cannot read: Exchange would show it raw
        try:
            raw = msg.get_all(name, failobj=[])
        except Exception:
            return None
        value = raw[0] if raw else None
    if value is None:
        return None
    return clean(str(value)).strip()


def _addresses(msg: Message, name: str) -> tuple[Address, ...]:
    try:
        values = msg.get_all(name, failobj=[])
        pairs = email.utils.getaddresses([str(v) for v in values])
    except Exception:
        return ()
    return tuple(Address(_decode_words(n), clean(a)) for n, a in pairs if a)


def _date(msg: Message) -> datetime | None:
    raw = _header(msg, "date")
    if not raw:
        return None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _importance(msg: Message) -> str:
    value = (_header(msg, "importance") or "").lower()
    if value in ("high", "low", "normal"):
        return value
    priority = (_header(msg, "x-priority") or "").strip()[:1]
    return {"1": "high", "2": "high", "4": "low", "5": "low"}.get(priority, "normal")


def _parts(msg: Message) -> Iterator[Message]:
    """Every leaf part and attached message, without descending into attached messages."""
    if msg.get_content_maintype() == "multipart":
        payload = msg.get_payload()
        if isinstance(payload, list):
            for part in payload:
                if isinstance(part, Message):
                    yield from _parts(part)
        return
    yield msg


def _is_attachment(part: Message) -> bool:
    disposition = part.get_content_disposition()
    if part.get_content_type() == "message/rfc822":
        return True
    if disposition == "attachment":
        return True
    try:
        filename = part.get_filename()
    except Exception:
        filename = None
    return bool(filename) or (disposition == "inline" and part.get_content_maintype() != "text")


def _decoded(part: Message) -> bytes:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return inner[0].as_bytes()
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _text(part: Message) -> str:
    data = _decoded(part)
    charset = part.get_content_charset() or "utf-8"
    try:
        return clean(data.decode(charset, errors="replace"))
    except (LookupError, TypeError):
        return clean(data.decode("utf-8", errors="replace"))


def _attachments(msg: Message) -> Iterator[tuple[int, Message]]:
    index = 0
    for part in _parts(msg):
        if _is_attachment(part):
            yield index, part
            index += 1


def _attachment(index: int, part: Message) -> MimeAttachment:
    is_item = part.get_content_type() == "message/rfc822"
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not name and is_item:
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            name = _header(inner[0], "subject")
    content_id = _header(part, "content-id")
    inline = part.get_content_disposition() == "inline" and not is_item
    return MimeAttachment(
        index=index,
        name=_decode_words(name) if name else None,
        content_type=part.get_content_type(),
        size=len(_decoded(part)),
        is_inline=inline,
        content_id=content_id.strip("<>") if content_id else None,
        is_item=is_item,
    )


def parse(data: bytes) -> ParsedMime:
    """The Graph properties of a message's MIME (never raises)."""
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    text: str | None = None
    html: str | None = None
    for part in _parts(msg):
        if _is_attachment(part):
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and text is None:
            text = _text(part)
        elif kind == "text/html" and html is None:
            html = _text(part)
    subject = _header(msg, "subject")
    if subject is not None:
        subject = _decode_words(subject)
    froms = _addresses(msg, "from")
    senders = _addresses(msg, "sender")
    message_id = _header(msg, "message-id")
    return ParsedMime(
        subject=subject,
        from_=froms[0] if froms else None,
        sender=senders[0] if senders else (froms[0] if froms else None),
        to=_addresses(msg, "to"),
        cc=_addresses(msg, "cc"),
        bcc=_addresses(msg, "bcc"),
        reply_to=_addresses(msg, "reply-to"),
        internet_message_id=message_id or None,
        sent=_date(msg),
        headers=tuple((clean(k), clean(str(v))) for k, v in _raw_headers(msg)),
        text=text,
        html=html,
        importance=_importance(msg),
        read_receipt=_header(msg, "disposition-notification-to") is not None,
        attachments=tuple(_attachment(i, p) for i, p in _attachments(msg)),
    )


def _raw_headers(msg: Message) -> Iterable[tuple[str, Any]]:
    try:
        return list(msg.items())
    except Exception:
        return []


def _decode_words(value: str) -> str:
    """An RFC 2047 encoded header (``=?utf-8?q?…?=``) as text."""
    try:
        parts = email.header.decode_header(value)
    except Exception:
        return value
    out = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            try:
                out.append(chunk.decode(charset or "ascii", errors="replace"))
            except LookupError:
                out.append(chunk.decode("utf-8", errors="replace"))
        else:
            out.append(chunk)
    return clean("".join(out))


def attachment_contents(data: bytes) -> list[bytes]:
    """The decoded bytes of every attachment of the message ``data``, in order."""
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    return [_decoded(part) for _i, part in _attachments(msg)]


def build_mime(
    subject: str = "Disk full on db-1",
    body: str = "The disk of db-1 is full.",
    *,
    sender: str = "Alerts <alerts@example.com>",
    to: str = "tickets@contoso.onmicrosoft.com",
    message_id: str | None = None,
    date: datetime | None = None,
    html: str | None = None,
    attachments: Sequence[tuple[str, bytes, str]] = (),
    headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """A message's MIME for tests: ``attachments`` are ``(file name, bytes, content type)``."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = email.utils.format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain="example.com")
    for name, value in headers:
        msg[name] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for filename, data, content_type in attachments:
        maintype, _, subtype = content_type.partition("/")
        msg.add_attachment(
            data, maintype=maintype, subtype=subtype or "octet-stream", filename=filename
        )
    return msg.as_bytes()
