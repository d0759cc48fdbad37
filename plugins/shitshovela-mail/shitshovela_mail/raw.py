"""A whole RFC 822 message in a file, read as the MIME tree an IMAP server describes.

Microsoft Graph hands out a message's MIME whole (``GET .../messages/{id}/$value``);
the Graph source spools it to a file (a ``tempfile.SpooledTemporaryFile``) and
`scan_message` reads that file once, line by line, into the same `Part` tree the
IMAP source gets from the server's ``BODYSTRUCTURE``: the same section numbers
(``1``, ``1.2``, ...; a multipart at the top is ``TEXT``, a message that is not
multipart has its body as section ``1``; a ``message/rfc822`` part is one leaf,
an attachment, not descended into), the same ``params``, ``encoding``,
``disposition`` and ``size`` (the encoded size), and each part's ``offset`` in the
file. `open_part` then streams one part's content, transfer-decoded, from its byte
range; `part_texts` reads the beginning of the parts shown as text.

Why not the standard library's ``email`` parser: it keeps every part's payload in
memory (a 25 MB attachment costs several times that, decoded copies included).
Here memory is bounded by one line (`LINE_LIMIT`) or one header block
(`HEADER_LIMIT`), never by a body. Each header block is still parsed by the
standard library (``email.parser.BytesHeaderParser``); only the boundary
splitting is ours, following what Dovecot does (RFC 2046 section 5.1.1):

- a boundary line starts with ``--`` and the boundary at the start of a line;
  the innermost multipart's boundary is tried first, and of boundaries that are
  prefixes of one another the longest that matches wins;
- the line break before a boundary line belongs to it, not to the part;
- a part ends at the next boundary line of any enclosing multipart (a missing
  close delimiter ends the multipart there, or at the end of the file);
- a part without ``Content-Type`` is ``text/plain; charset=us-ascii``
  (``message/rfc822`` inside ``multipart/digest``);
- LF-only line ends are read like CRLF; preamble and epilogue are skipped.

Where Dovecot and this scanner differ on purpose: a multipart in which no part
can be found (no ``boundary`` parameter, or one that never occurs) gets one
``text/plain`` part spanning its whole body, so that its bytes are shown rather
than lost (Dovecot reports an empty text part there). Malformed input never
raises anything but `StructureError`, and that only for a file that cannot be
read as a message at all (an I/O error, no bytes).
"""

from __future__ import annotations

import contextlib
import email.message
import email.parser
import email.policy
import io
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import IO, Any

import attrs

from .items import TEXT_LIMIT
from .mime import Part, StructureError, _undo_surrogates, decoded_params, decoder_for, well_formed

#: Longest piece of a line read at once; a longer line is read in pieces (only the
#: first piece of a line can be a boundary).
LINE_LIMIT = 64 * 1024
#: Bytes of a header block kept (for the top block: `ScannedMessage.header`); the rest
#: of a longer block is read past, not kept.
HEADER_LIMIT = 256 * 1024
#: Deepest nesting of multiparts followed; a multipart deeper than this is one leaf, its
#: raw content a file (``application/octet-stream``).
MAX_DEPTH = 64
#: Most parts described; the rest of a message with more is one last leaf, a file.
MAX_PARTS = 10_000
#: The type of a part that holds raw MIME not descended into (too deep, too many parts).
_REST_TYPE = "application/octet-stream"
#: Bytes read from the file per step while a part streams.
CHUNK_SIZE = 256 * 1024

_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)


@attrs.frozen
class ScannedMessage:
    """A message read by `scan_message`: its top header block (the bytes up to and
    including the blank line that ends it, at most `HEADER_LIMIT`), its MIME tree with
    each leaf's ``offset`` in the file, and its size in bytes."""

    header: bytes
    root: Part
    size: int


#: One piece of a line: (offset in the file, bytes, True if it starts a line).
_Line = tuple[int, bytes, bool]
#: A boundary line met: (level of the multipart in the stack, True for a close
#: delimiter ``--boundary--``, the line itself).
_Hit = tuple[int, bool, _Line]


class _Lines:
    """The file's lines in pieces of at most `LINE_LIMIT` bytes, one piece of push-back."""

    def __init__(self, file: IO[bytes]) -> None:
        self._readline = file.readline
        self.offset = 0
        self._starts = True
        self._back: _Line | None = None

    def next(self) -> _Line | None:
        """The next piece, or None at the end of the file."""
        if self._back is not None:
            line, self._back = self._back, None
            return line
        data = self._readline(LINE_LIMIT)
        if not data:
            return None
        line = (self.offset, data, self._starts)
        self.offset += len(data)
        self._starts = data.endswith(b"\n")
        return line

    def push(self, line: _Line) -> None:
        """Give ``line`` back: `next` returns it again."""
        self._back = line


def _boundary(line: _Line, stack: list[bytes]) -> _Hit | None:
    """The boundary line ``line`` is for a multipart of ``stack`` (innermost last), or None."""
    _, data, starts = line
    if not (starts and stack and data.startswith(b"--")):
        return None
    text = data[2:].rstrip(b" \t\r\n")
    best: int | None = None
    for level in range(len(stack) - 1, -1, -1):
        boundary = stack[level]
        if text.startswith(boundary) and (best is None or len(stack[best]) < len(boundary)):
            best = level
            if len(boundary) == len(text):
                break
    if best is None:
        return None
    end = len(stack[best])
    return best, text[end : end + 2] == b"--", line


def _eol(data: bytes) -> int:
    if data.endswith(b"\r\n"):
        return 2
    return 1 if data.endswith(b"\n") else 0


@attrs.define
class _Scanner:
    lines: _Lines
    parts: int = 0

    def header(self, stack: list[bytes]) -> tuple[bytes, int, _Hit | None]:
        """Read a header block: (its bytes, where the body starts, the boundary line that
        cut it short, if one did)."""
        kept = bytearray()
        while True:
            line = self.lines.next()
            if line is None:
                return bytes(kept), self.lines.offset, None
            offset, data, starts = line
            hit = _boundary(line, stack)
            if hit is not None:
                self.lines.push(line)
                return bytes(kept), offset, hit
            if len(kept) < HEADER_LIMIT:
                kept += data[: HEADER_LIMIT - len(kept)]
            if starts and data in (b"\r\n", b"\n"):
                return bytes(kept), offset + len(data), None

    def body(self, stack: list[bytes], start: int) -> tuple[int, _Hit | None]:
        """Read a body up to the next boundary line of ``stack`` (pushed back) or the end:
        (where the body ends, the boundary line)."""
        end = start
        while True:
            line = self.lines.next()
            if line is None:
                return self.lines.offset, None
            offset, data, _ = line
            if data[:2] == b"--":
                hit = _boundary(line, stack)
                if hit is not None:
                    self.lines.push(line)
                    return max(start, end), hit
            end = offset + len(data) - _eol(data)

    def entity(
        self, path: str, stack: list[bytes], default: str, depth: int
    ) -> tuple[Part, bytes, _Hit | None]:
        """One entity (header and body) at section ``path`` ("" at the top): its Part, its
        header block, and the boundary line that ended it (None: the end of the file)."""
        self.parts += 1
        header, start, hit = self.header(stack)
        kind = _content(header, default)
        if hit is not None:  # a boundary line in the header: no body
            if kind.maintype == "multipart":
                empty = _Content("text/plain").part(f"{path}.1" if path else "1", start, 0)
                part = attrs.evolve(kind.part(path or "TEXT", start, 0), children=(empty,))
                return part, header, hit
            return kind.part(path or "1", start, 0), header, hit
        if kind.maintype != "multipart":
            end, hit = self.body(stack, start)
            return kind.part(path or "1", start, end - start), header, hit
        if depth >= MAX_DEPTH or self.parts >= MAX_PARTS:  # its raw content as one file
            end, hit = self.body(stack, start)
            return _Content(_REST_TYPE).part(path or "1", start, end - start), header, hit
        section = path or "TEXT"
        children, hit = self.children(path, kind, stack, start, depth)
        return attrs.evolve(kind.part(section, start, 0), children=children), header, hit

    def children(
        self, path: str, kind: _Content, stack: list[bytes], start: int, depth: int
    ) -> tuple[tuple[Part, ...], _Hit | None]:
        """The parts of a multipart whose body starts at ``start``, and the boundary line of
        an enclosing multipart that ended it (None: the end of the file)."""
        inner = [*stack, kind.boundary] if kind.boundary else stack
        level = len(stack)
        default = "message/rfc822" if kind.subtype == "digest" else "text/plain"
        children: list[Part] = []
        preamble_end, hit = self.body(inner, start)
        while hit is not None and hit[0] == level and not hit[1]:
            self.lines.next()  # the boundary line itself
            number = len(children) + 1
            child_path = f"{path}.{number}" if path else str(number)
            if self.parts >= MAX_PARTS:  # the rest is one last part, a file
                self.parts += 1
                rest = hit[2][0] + len(hit[2][1])
                end, hit = self.body(stack, rest)
                children.append(_Content(_REST_TYPE).part(child_path, rest, end - rest))
                return tuple(children), hit
            child, _, hit = self.entity(child_path, inner, default, depth + 1)
            children.append(child)
        if hit is not None and hit[0] == level:  # the close delimiter: skip the epilogue
            self.lines.next()
            _, hit = self.body(stack, hit[2][0] + len(hit[2][1]))
        if not children:  # no part found: the whole body as text, nothing lost
            first = f"{path}.1" if path else "1"
            children.append(_Content("text/plain").part(first, start, preamble_end - start))
        return tuple(children), hit


@attrs.frozen
class _Content:
    """What a header block says about its body."""

    content_type: str
    params: dict[str, str] = attrs.field(factory=dict)
    encoding: str = "7bit"
    disposition: str = ""
    disposition_params: dict[str, str] = attrs.field(factory=dict)
    boundary: bytes = b""

    @property
    def maintype(self) -> str:
        return self.content_type.partition("/")[0]

    @property
    def subtype(self) -> str:
        return self.content_type.partition("/")[2]

    def part(self, section: str, offset: int, size: int) -> Part:
        params = self.params
        if not params and self.content_type == "text/plain":
            params = {"charset": "us-ascii"}
        return Part(
            section=section,
            maintype=self.maintype,
            subtype=self.subtype,
            params=params,
            encoding=self.encoding,
            size=max(0, size) if self.maintype != "multipart" else 0,
            disposition=self.disposition,
            disposition_params=self.disposition_params,
            offset=offset,
        )


#: The header fields a part's content is read from.
_CONTENT_FIELDS = ("content-type", "content-transfer-encoding", "content-disposition")


def _content_fields(header: bytes) -> tuple[email.message.Message, bytes]:
    """The Content-* fields of a header block (the first of each) in a message of their
    own, 8-bit bytes decoded as `shitshovela_mail.mime` decodes them (UTF-8, else
    Windows-1252: the standard library would turn them into U+FFFD), and the raw bytes of
    the Content-Type value (a boundary is matched as bytes)."""
    fields = email.message.Message()
    raw_type = b""
    try:
        raw = _PARSER.parsebytes(_field_lines(header)).raw_items()
        for name, value in raw:
            key = str(name).strip().lower()
            if key in _CONTENT_FIELDS and key not in fields:
                fields[key] = _undo_surrogates(str(value))
                if key == "content-type":
                    raw_type = str(value).encode("utf-8", "surrogateescape")
    except Exception:
        return email.message.Message(), b""
    return fields, raw_type


def _field_lines(header: bytes) -> bytes:
    """The header block without the lines that are no header field (no ``name:`` of
    printable ASCII) and
    without lone CRs: the standard library's parser would take such a line for the
    start of the body (and a lone CR for a line end) and miss the fields after it;
    Dovecot reads past both."""
    kept: list[bytes] = []
    field = False
    for line in header.split(b"\n"):
        line = line.rstrip(b"\r").replace(b"\r", b" ")  # a lone CR would end the block
        if line[:1] in (b" ", b"\t"):  # a continuation of the field before
            if field:
                kept.append(line)
            continue
        name, colon, _ = line.partition(b":")
        name = name.rstrip(b" \t")
        field = bool(colon) and bool(name) and all(0x21 <= c <= 0x7E for c in name)
        if field:
            kept.append(line)
    return b"\n".join(kept) + b"\n\n"


def _params(fields: email.message.Message, header: str) -> list[tuple[str, Any]]:
    try:
        found = fields.get_params(header=header, unquote=False) or []
    except Exception:
        return []
    return [(str(name).strip(), value) for name, value in found[1:]]


def _boundary_bytes(fields: email.message.Message, raw_type: bytes) -> bytes:
    """The boundary parameter as the bytes a boundary line holds."""
    try:
        boundary = fields.get_boundary()
    except Exception:
        return b""
    if not boundary:
        return b""
    try:
        raw_type.decode("utf-8")
        codec = "utf-8"
    except UnicodeDecodeError:
        codec = "cp1252"
    return boundary.encode(codec, "replace").rstrip(b" \t")


def _content(header: bytes, default: str) -> _Content:
    """Read a part's header block (standard library) for its type, parameters,
    transfer encoding and disposition; never raises."""
    fields, raw_type = _content_fields(header)
    fields.set_default_type(default)
    try:
        content_type = well_formed(fields.get_content_type())
    except Exception:
        content_type = default
    maintype, _, subtype = content_type.partition("/")
    if not maintype or not subtype:
        content_type = default
    disposition = fields.get("content-disposition")
    return _Content(
        content_type=content_type,
        params=decoded_params(_params(fields, "content-type")),
        encoding=_first_word(fields.get("content-transfer-encoding")) or "7bit",
        disposition=_first_word(disposition),
        disposition_params=(
            decoded_params(_params(fields, "content-disposition")) if disposition else {}
        ),
        boundary=(
            _boundary_bytes(fields, raw_type) if content_type.startswith("multipart/") else b""
        ),
    )


def _first_word(value: Any) -> str:
    """A header value's first token, lower case (``base64``, ``attachment``), or ""."""
    if value is None:
        return ""
    text = well_formed(str(value)).split(";", 1)[0].strip().lower()
    return text.split()[0] if text.split() else ""


def scan_message(file: IO[bytes]) -> ScannedMessage:
    """Read the whole message in ``file`` (seekable, binary; read from its start) into a
    `ScannedMessage` (see the module docstring). Raises `StructureError` only when the
    file cannot be read or holds no bytes; malformed MIME is read as far as it makes
    sense."""
    try:
        file.seek(0)
        scanner = _Scanner(_Lines(file))
        root, header, _ = scanner.entity("", [], "text/plain", 0)
        size = file.seek(0, io.SEEK_END)
    except (OSError, ValueError) as exc:
        raise StructureError(f"the message cannot be read: {type(exc).__name__}: {exc}") from None
    if size == 0:
        raise StructureError("the message is empty (0 bytes)")
    return ScannedMessage(header=header, root=root, size=size)


class _RangeReader(io.RawIOBase):
    """A byte range of a file as a stream, transfer-decoded on the fly; at most one
    chunk (`CHUNK_SIZE`) and its decoded form are held."""

    def __init__(self, file: IO[bytes], start: int, size: int, encoding: str) -> None:
        super().__init__()
        self._file = file
        self._position = start
        self._left = size
        self._decoder = decoder_for(encoding)
        self._buffer = memoryview(b"")
        self._used = 0
        self._finished = False

    def readable(self) -> bool:
        """Always readable."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the decoded chunk, reading the next one when it is used up."""
        while self._used >= len(self._buffer):
            if self._finished:
                return 0
            step = min(CHUNK_SIZE, self._left)
            data = b""
            if step:
                self._file.seek(self._position)
                data = self._file.read(step)
            self._position += len(data)
            self._left -= len(data)
            decoded = self._decoder.feed(data)
            if not data or self._left <= 0:
                decoded += self._decoder.finish()
                self._finished = True
            self._buffer, self._used = memoryview(decoded), 0
        view = memoryview(buffer).cast("B")
        count = min(len(view), len(self._buffer) - self._used)
        view[:count] = self._buffer[self._used : self._used + count]
        self._used += count
        return count


def open_part(file: IO[bytes], part: Part) -> AbstractContextManager[IO[bytes]]:
    """Stream ``part`` of the message in ``file`` (a part `scan_message` found there),
    transfer-decoded, reading its byte range in chunks: ``with open_part(f, p) as s:``.
    The file stays open; the stream seeks it on every read, so streams of several
    parts of one file can be read in turn. Raises `ValueError` for a part without an
    offset (one a server described) or a multipart."""
    if part.offset is None or part.is_multipart:
        raise ValueError(f"part {part.section} was not scanned from a file, or is a multipart")
    reader = _RangeReader(file, part.offset, part.size, part.encoding)
    return contextlib.closing(io.BufferedReader(reader, buffer_size=64 * 1024))


def part_texts(file: IO[bytes], parts: Iterable[Part], limit: int = TEXT_LIMIT) -> dict[str, bytes]:
    """The first ``limit`` raw (still transfer-encoded) bytes of each of ``parts`` (the
    parts shown as text), by section: what `shitshovela_mail.items.mail_item` takes as
    ``texts``."""
    out: dict[str, bytes] = {}
    for part in parts:
        if part.offset is None:
            continue
        file.seek(part.offset)
        out[part.section] = file.read(min(part.size, limit))
    return out
