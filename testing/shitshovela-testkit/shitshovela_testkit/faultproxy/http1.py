"""HTTP/1.x framing for the proxy: message heads, body delimiting, relaying, canned answers.

Just enough of RFC 9112 to forward a request and its response byte for byte
while knowing where each message ends: ``Content-Length`` and chunked bodies,
bodies delimited by end of stream, keep-alive and ``Expect: 100-continue``.
"""

from __future__ import annotations

import asyncio
import http
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Literal, TypeAlias

from .faults import Answer

LIMIT = 1 << 20  # maximum size of a header block
CHUNK = 1 << 16

Send: TypeAlias = Callable[[bytes], Awaitable[None]]
"""Where relayed bytes go (the client, the upstream, or nowhere)."""


class ProtocolError(Exception):
    """Malformed HTTP."""


@dataclass
class Message:
    """An HTTP request or response head."""

    raw: bytes
    first_line: str
    headers: list[tuple[str, str]]

    def values(self, name: str) -> list[str]:
        """Comma-separated values of all headers called ``name`` (lower case), lower-cased."""
        out: list[str] = []
        for key, value in self.headers:
            if key == name:
                out.extend(v.strip().lower() for v in value.split(",") if v.strip())
        return out


@dataclass(frozen=True)
class Framing:
    """How a message body is delimited."""

    kind: Literal["none", "length", "chunked", "eof"]
    length: int = 0


NO_BODY = Framing("none")


def parse_head(raw: bytes) -> Message:
    """Split a header block into its first line and (lower-cased name, value) pairs."""
    lines = raw.decode("latin-1").split("\r\n")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ProtocolError(f"bad header line {line!r}")
        headers.append((name.lower(), value.strip()))
    return Message(raw, lines[0], headers)


def body_framing(msg: Message, *, request: bool) -> Framing:
    """How the body after ``msg`` is delimited (RFC 9112, section 6.3)."""
    codings = msg.values("transfer-encoding")
    if codings:
        if codings[-1] == "chunked":
            return Framing("chunked")
        if request:
            raise ProtocolError("request body without chunked framing")
        return Framing("eof")
    lengths = set(msg.values("content-length"))
    if len(lengths) > 1:
        raise ProtocolError("conflicting Content-Length headers")
    if lengths:
        text = lengths.pop()
        if not text.isdigit():
            raise ProtocolError(f"bad Content-Length {text!r}")
        length = int(text)
        return Framing("length", length) if length else NO_BODY
    return NO_BODY if request else Framing("eof")


def keeps_alive(version: str, msg: Message) -> bool:
    """Whether the connection stays open after this message."""
    tokens = msg.values("connection")
    if "close" in tokens:
        return False
    return version != "HTTP/1.0" or "keep-alive" in tokens


@dataclass
class Request:
    """A parsed request head: how its body ends and whether the connection stays open."""

    msg: Message
    method: str
    target: str
    framing: Framing
    keep_alive: bool
    expects_continue: bool


def parse_request(raw: bytes) -> Request:
    """Parse a request head; raise `ProtocolError` on anything malformed."""
    msg = parse_head(raw)
    parts = msg.first_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ProtocolError(f"bad request line {msg.first_line!r}")
    method, target, version = parts
    return Request(
        msg=msg,
        method=method,
        target=target,
        framing=body_framing(msg, request=True),
        keep_alive=keeps_alive(version, msg),
        expects_continue="100-continue" in msg.values("expect"),
    )


@dataclass
class Response:
    """A parsed status line and head."""

    msg: Message
    status: int
    keep_alive: bool


def parse_response(raw: bytes) -> Response:
    """Parse a response head; raise `ProtocolError` on a bad status line."""
    msg = parse_head(raw)
    parts = msg.first_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError(f"bad status line {msg.first_line!r}")
    return Response(msg, int(parts[1]), keeps_alive(parts[0], msg))


async def read_head(reader: asyncio.StreamReader) -> bytes | None:
    """Read a header block; ``None`` on a clean end of stream before it starts."""
    while True:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise
            return None
        raw = raw.lstrip(b"\r\n")  # tolerate stray CRLFs between messages
        if raw:
            return raw


async def relay_exactly(reader: asyncio.StreamReader, size: int, send: Send) -> None:
    """Relay exactly ``size`` bytes."""
    while size > 0:
        data = await reader.read(min(size, CHUNK))
        if not data:
            raise asyncio.IncompleteReadError(b"", size)
        size -= len(data)
        await send(data)


async def relay_chunked(reader: asyncio.StreamReader, send: Send) -> None:
    """Relay a chunked body, its chunk lines and trailers included."""
    while True:
        line = await reader.readuntil(b"\r\n")
        await send(line)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size line {line!r}") from None
        if size == 0:
            while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
                await send(trailer)
            await send(trailer)
            return
        await relay_exactly(reader, size + 2, send)


async def relay_body(reader: asyncio.StreamReader, framing: Framing, send: Send) -> None:
    """Relay one body, delimited as ``framing`` says."""
    if framing.kind == "length":
        await relay_exactly(reader, framing.length, send)
    elif framing.kind == "chunked":
        await relay_chunked(reader, send)
    elif framing.kind == "eof":
        while data := await reader.read(CHUNK):
            await send(data)


async def discard(data: bytes) -> None:
    """A sink that drops everything."""


def format_retry_after(value: int | str | datetime) -> str:
    """A ``Retry-After`` value: delta-seconds, an HTTP date, or the text as given."""
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return format_datetime(moment, usegmt=True)
    return str(value)


def answer_bytes(answer: Answer, *, head_only: bool, close: bool) -> bytes:
    """The bytes of an `Answer` (the head alone for a HEAD request)."""
    try:
        reason = http.HTTPStatus(answer.status).phrase
    except ValueError:
        reason = "Status"
    names = {name.lower() for name in answer.headers}
    lines = [f"HTTP/1.1 {answer.status} {reason}"]
    if "content-length" not in names and answer.status not in (204, 304):
        lines.append(f"Content-Length: {len(answer.body)}")
    if answer.retry_after is not None and "retry-after" not in names:
        lines.append(f"Retry-After: {format_retry_after(answer.retry_after)}")
    lines.extend(f"{name}: {value}" for name, value in answer.headers.items())
    if close and "connection" not in names:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + answer.body
