"""`shitshovela_mail.raw`: a whole message in a file read as the MIME tree IMAP describes.

Messages built with the standard library are scanned and compared with what
``email.message_from_bytes`` makes of them (types, file names, sections, decoded
contents); malformed input never raises; a 25 MB attachment streams with memory
bounded by a chunk. That the tree equals the one IMAP's ``parse_structure`` reads from
Dovecot's BODYSTRUCTURE is checked in the IMAP plugin's tests, where Dovecot runs
(``test_raw_scan.py``).
"""

from __future__ import annotations

import base64
import email
import email.policy
import io
import os
import tempfile
import tracemalloc
from collections.abc import Iterator
from email.message import EmailMessage, Message

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shitshovela_mail import (
    Part,
    StructureError,
    attachment_parts,
    open_part,
    part_texts,
    scan_message,
    shown_parts,
    text_parts,
)
from shitshovela_mail import raw as raw_module
from shitshovela_testkit import mimegen

pytestmark = pytest.mark.unit


def stdlib_leaves(message: Message, path: str = "") -> list[tuple[str, Message]]:
    """The leaves of a message the standard library parsed, with IMAP sections (a
    message/rfc822 part is a leaf, as in BODYSTRUCTURE's view of sections)."""
    if message.get_content_maintype() != "multipart":
        return [(path or "1", message)]
    out: list[tuple[str, Message]] = []
    for number, child in enumerate(message.get_payload(), 1):
        assert isinstance(child, Message)
        out += stdlib_leaves(child, f"{path}.{number}" if path else str(number))
    return out


def read(raw: bytes, part: Part) -> bytes:
    with open_part(io.BytesIO(raw), part) as stream:
        return stream.read()


def check_like_the_standard_library(raw: bytes) -> int:
    """Every leaf the scanner finds is the standard library's leaf at that section: same
    type, file name and decoded content. Returns how many leaves were compared."""
    scanned = scan_message(io.BytesIO(raw))
    assert scanned.size == len(raw)
    expected = stdlib_leaves(email.message_from_bytes(raw, policy=email.policy.compat32))
    leaves = list(scanned.root.leaves())
    assert [p.section for p in leaves] == [section for section, _ in expected]
    for part, (_, message) in zip(leaves, expected, strict=True):
        assert part.content_type == message.get_content_type(), part.section
        assert part.filename == (message.get_filename() or ""), part.section
        assert part.encoding == message.get("content-transfer-encoding", "7bit").lower()
        if part.content_type == "message/rfc822":
            continue  # the standard library parses it into a message; compare its header
        assert read(raw, part) == message.get_payload(decode=True), part.section
    return len(leaves)


@given(raw=mimegen.stdlib_messages())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_scanned_messages_match_the_standard_library(raw: bytes) -> None:
    assert check_like_the_standard_library(raw) >= 1


def _mixed() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "a@example.com"
    message["Subject"] = "hi"
    message.set_content("plain text\n")
    message.add_alternative("<p>html</p>", subtype="html")
    message.add_attachment(
        b"\x00\x01" * 100, maintype="application", subtype="pdf", filename="Rechnung März.pdf"
    )
    message.add_attachment("caf\u00e9\n" * 3, subtype="plain", filename="a.txt", cte="8bit")
    return message


@pytest.mark.parametrize("policy", [email.policy.SMTP, email.policy.default], ids=["crlf", "lf"])
def test_a_mixed_message_has_imap_sections_and_a_header(policy: email.policy.Policy) -> None:
    raw = _mixed().as_bytes(policy=policy)
    newline = b"\r\n" if policy is email.policy.SMTP else b"\n"
    scanned = scan_message(io.BytesIO(raw))
    assert scanned.header.startswith(b"From: a@example.com" + newline)
    assert scanned.header.endswith(newline * 2)
    assert raw.startswith(scanned.header)
    root = scanned.root
    assert (root.section, root.content_type, root.size) == ("TEXT", "multipart/mixed", 0)
    assert [c.section for c in root.children] == ["1", "2", "3"]
    assert [p.section for p in root.leaves()] == ["1.1", "1.2", "2", "3"]
    shown = shown_parts(root)
    assert [p.section for p in shown] == ["1.1"]
    files = attachment_parts(root, shown)
    assert [(p.section, p.filename) for p in files] == [
        ("2", "Rechnung März.pdf"),
        ("3", "a.txt"),
    ]
    assert part_texts(io.BytesIO(raw), shown) == {"1.1": b"plain text" + newline}
    assert read(raw, files[1]) == ("café".encode() + newline) * 3
    check_like_the_standard_library(raw)


def test_a_message_that_is_not_multipart_is_section_1() -> None:
    raw = b"Subject: x\r\n\r\nhello\r\n"
    scanned = scan_message(io.BytesIO(raw))
    assert scanned.root == Part("1", "text", "plain", params={"charset": "us-ascii"}, size=7)
    assert scanned.root.offset == 14
    assert scanned.header == b"Subject: x\r\n\r\n"
    assert read(raw, scanned.root) == b"hello\r\n"


def test_a_forwarded_message_is_one_leaf() -> None:
    inner = EmailMessage()
    inner["Subject"] = "inner"
    inner.set_content("inner text\n")
    inner.add_attachment(b"zip", maintype="application", subtype="zip", filename="in.zip")
    outer = EmailMessage()
    outer["Subject"] = "outer"
    outer.set_content("see below\n")
    outer.add_attachment(inner)
    raw = outer.as_bytes(policy=email.policy.SMTP)
    root = scan_message(io.BytesIO(raw)).root
    assert [(p.section, p.content_type) for p in root.leaves()] == [
        ("1", "text/plain"),
        ("2", "message/rfc822"),
    ]
    forwarded = read(raw, root.children[1])
    assert forwarded.startswith(b"Subject: inner\r\n")
    assert b"in.zip" in forwarded


def test_base64_streams_decoded_and_the_range_is_the_encoded_body() -> None:
    payload = bytes(range(256)) * 50
    message = EmailMessage()
    message.add_attachment(payload, maintype="application", subtype="octet-stream", filename="b")
    raw = message.as_bytes(policy=email.policy.SMTP)
    part = next(scan_message(io.BytesIO(raw)).root.leaves())
    assert part.offset is not None and part.encoding == "base64"
    assert base64.b64decode(raw[part.offset : part.offset + part.size]) == payload
    assert read(raw, part) == payload
    assert abs(part.decoded_size() - len(payload)) <= 3


def test_streams_of_several_parts_of_one_file_read_in_turn() -> None:
    raw = _mixed().as_bytes(policy=email.policy.SMTP)
    file = io.BytesIO(raw)
    first, _, pdf, text = scan_message(file).root.leaves()
    with open_part(file, pdf) as a, open_part(file, text) as b:
        assert a.read(10) == b"\x00\x01" * 5
        assert b.read(4) == b"caf\xc3"
        assert a.read() == b"\x00\x01" * 95
        assert b.read() == b"\xa9\r\n" + "café\r\n".encode() * 2
    assert read(raw, first) == b"plain text\r\n"


# -- errors ---------------------------------------------------------------------------------


def test_an_empty_file_is_a_structure_error() -> None:
    with pytest.raises(StructureError, match="empty"):
        scan_message(io.BytesIO(b""))


def test_a_file_that_cannot_be_read_is_a_structure_error() -> None:
    file = io.BytesIO(b"Subject: x\r\n\r\nbody\r\n")
    file.close()
    with pytest.raises(StructureError, match="cannot be read"):
        scan_message(file)


def test_a_part_a_server_described_cannot_be_opened() -> None:
    with pytest.raises(ValueError, match="not scanned"):
        open_part(io.BytesIO(b"x"), Part("1", "text", "plain"))
    with pytest.raises(ValueError, match="multipart"):
        open_part(io.BytesIO(b"x"), Part("TEXT", "multipart", "mixed", offset=0))


# -- malformed MIME -------------------------------------------------------------------------


def _leaves(raw: bytes) -> list[tuple[str, str, bytes]]:
    """(section, type, decoded content) of each leaf."""
    root = scan_message(io.BytesIO(raw)).root
    return [(p.section, p.content_type, read(raw, p)) for p in root.leaves()]


def test_lines_that_are_no_header_field_do_not_end_the_header() -> None:
    """A line without ``name:``, a control character in a name, a lone CR: the standard
    library's parser would stop there; Dovecot (and the scanner) read on."""
    for junk in (b"no colon here\r\n", b"\x1f: x\r\n", b"Subject: a\rb\r\n", b"Subject: \n0\r\n"):
        raw = junk + b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>x</p>"
        (part,) = scan_message(io.BytesIO(raw)).root.leaves()
        assert (part.content_type, part.params) == ("text/html", {"charset": "utf-8"}), junk


def test_lf_only_lines_read_like_crlf() -> None:
    crlf = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\npreamble\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\nepilogue\r\n"
    )
    lf = crlf.replace(b"\r\n", b"\n")
    assert [(s, t) for s, t, _ in _leaves(crlf)] == [(s, t) for s, t, _ in _leaves(lf)]
    assert [c for _, _, c in _leaves(lf)] == [b"one", b"two"]
    assert [c for _, _, c in _leaves(crlf)] == [b"one", b"two"]


def test_a_missing_close_delimiter_ends_at_the_end_of_the_file() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n\r\nfirst\r\n'
        b"--b\r\nContent-Type: text/html\r\n\r\n<p>second, never closed</p>\r\n"
    )
    assert _leaves(raw) == [
        ("1", "text/plain", b"first"),
        ("2", "text/html", b"<p>second, never closed</p>\r\n"),
    ]


def test_a_missing_boundary_parameter_keeps_the_whole_body_as_text() -> None:
    raw = b"Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nsome text\r\n--x--\r\n"
    assert _leaves(raw) == [("1", "text/plain", b"--x\r\n\r\nsome text\r\n--x--\r\n")]


def test_a_boundary_that_never_occurs_keeps_the_whole_body_as_text() -> None:
    raw = b'Content-Type: multipart/mixed; boundary="declared"\r\n\r\n--used\r\n\r\nx\r\n'
    assert _leaves(raw) == [("1", "text/plain", b"--used\r\n\r\nx\r\n")]


def test_an_unclosed_inner_multipart_ends_at_the_outer_boundary() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n'
        b'--outer\r\nContent-Type: multipart/alternative; boundary="inner"\r\n\r\n'
        b"--inner\r\n\r\nplain\r\n"  # the inner multipart is never closed
        b"--outer\r\nContent-Type: application/pdf\r\n\r\n%PDF\r\n--outer--\r\n"
    )
    assert _leaves(raw) == [
        ("1.1", "text/plain", b"plain"),
        ("2", "application/pdf", b"%PDF"),
    ]


def test_the_same_boundary_nested_belongs_to_the_innermost_multipart() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\n\r\none\r\n'
        b"--b\r\n\r\ntwo\r\n--b--\r\n--b--\r\n"
    )
    assert _leaves(raw) == [("1.1", "text/plain", b"one"), ("1.2", "text/plain", b"two")]


def test_a_boundary_prefix_in_a_line_or_mid_line_is_content() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n\r\n'
        b"text --b in the middle\r\n -- b with a space\r\n--c another boundary\r\n"
        b"--b\r\n\r\nsecond\r\n--b--\r\n"
    )
    assert _leaves(raw) == [
        (
            "1",
            "text/plain",
            b"text --b in the middle\r\n -- b with a space\r\n--c another boundary",
        ),
        ("2", "text/plain", b"second"),
    ]


def test_of_boundaries_that_are_prefixes_the_longest_wins() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b'Content-Type: multipart/alternative; boundary="b2"\r\n\r\n--b2\r\n\r\none\r\n'
        b"--b2--\r\n--b\r\n\r\ntwo\r\n--b--\r\n"
    )
    assert _leaves(raw) == [("1.1", "text/plain", b"one"), ("2", "text/plain", b"two")]


def test_very_long_lines_are_read_in_pieces_and_never_split_a_boundary() -> None:
    long = b"x" * (3 * raw_module.LINE_LIMIT + 17)
    fake_boundary = b"y" * (raw_module.LINE_LIMIT - 2) + b"--b\r\n"  # "--b" at a piece's start
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n\r\n'
        + long
        + b"\r\n"
        + fake_boundary
        + b"--b\r\n\r\nafter\r\n--b--\r\n"
    )
    assert _leaves(raw) == [
        ("1", "text/plain", long + b"\r\n" + fake_boundary[:-2]),
        ("2", "text/plain", b"after"),
    ]


def test_a_huge_header_block_is_kept_up_to_its_limit() -> None:
    raw = b"Subject: big\r\nX-Big: " + b"x" * (2 * raw_module.HEADER_LIMIT) + b"\r\n\r\nbody\r\n"
    scanned = scan_message(io.BytesIO(raw))
    assert len(scanned.header) == raw_module.HEADER_LIMIT
    assert _leaves(raw) == [("1", "text/plain", b"body\r\n")]


@pytest.mark.parametrize(
    "raw",
    [
        b"\x00\x01\x02 just bytes \xff\xfe",
        b"no header end",
        b"\r\n\r\n",
        b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n----\r\n",
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b--\r\n',
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n'
        b"--b--",
        b"Content-Type: \xff\xfe/\x00; charset=\xff\r\nContent-Transfer-Encoding: \xff\r\n\r\n\xff",
        b'Content-Type: multipart/digest; boundary="d"\r\n\r\n--d\r\n\r\nSubject: x\r\n\r\n'
        b"y\r\n--d--",
        b"Subject: \r\r\nX\n\x1f:\r\nno colon\r\nContent-Type: text/html\r\n\r\n<p>x</p>",
        b"Content-Disposition: attachment; filename*=utf-8''%FF%FE; name*0=a; name*1=b\r\n\r\nx",
        b'Content-Type: text/plain; charset="\xe4\xf6"; name="\xc3\xa4.txt"\r\n\r\n\r',
        b"\r" * 1000 + b"\n" * 3,
    ],
)
def test_malformed_messages_never_raise(raw: bytes) -> None:
    root = scan_message(io.BytesIO(raw)).root
    for part in root.leaves():
        assert part.offset is not None and part.offset + part.size <= len(raw)
        read(raw, part)


def test_deep_nesting_stops_descending_at_the_limit() -> None:
    depth = raw_module.MAX_DEPTH + 10
    head = b"".join(
        b'--b%03d\r\nContent-Type: multipart/mixed; boundary="b%03d"\r\n\r\n' % (n, n + 1)
        for n in range(depth)
    )
    raw = (
        b'Content-Type: multipart/mixed; boundary="b000"\r\n\r\n'
        + head
        + b"--b%03d\r\n\r\nx" % depth
    )
    leaves = list(scan_message(io.BytesIO(raw)).root.leaves())
    assert len(leaves) == 1
    assert leaves[0].section.count(".") == raw_module.MAX_DEPTH - 1


def test_a_message_of_very_many_parts_keeps_the_rest_as_one_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(raw_module, "MAX_PARTS", 5)
    body = b"".join(b"--b\r\n\r\npart %d\r\n" % n for n in range(10))
    raw = b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + body + b"--b--\r\n"
    leaves = _leaves(raw)
    assert [c for _, _, c in leaves[:4]] == [b"part %d" % n for n in range(4)]
    assert leaves[4][1] == "application/octet-stream"
    # the rest as written, from the fifth part's (empty) header on: nothing lost
    assert leaves[4][2] == b"\r\n" + body[body.index(b"part 4") :] + b"--b--\r\n"
    assert len(leaves) == 5


@given(raw=mimegen.messages())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_generated_broken_mime_never_raises_and_ranges_stay_in_the_file(raw: bytes) -> None:
    scanned = scan_message(io.BytesIO(raw))
    assert scanned.size == len(raw)
    previous_end = 0
    for part in scanned.root.leaves():
        assert part.offset is not None and previous_end <= part.offset
        previous_end = part.offset + part.size
        assert previous_end <= len(raw)
        read(raw, part)
    shown = {p.section for p in text_parts(scanned.root)}
    assert shown <= {p.section for p in scanned.root.leaves()}


@given(data=st.binary(max_size=2000))
@settings(max_examples=300, deadline=None)
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    """Any bytes scan into a tree whose parts lie inside the file; only an empty file is
    a `StructureError`."""
    if not data:
        with pytest.raises(StructureError):
            scan_message(io.BytesIO(data))
        return
    scanned = scan_message(io.BytesIO(data))
    assert scanned.size == len(data)
    for part in scanned.root.leaves():
        assert part.offset is not None and 0 <= part.offset <= part.offset + part.size <= len(data)


# -- memory ---------------------------------------------------------------------------------

ATTACHMENT = 25 * 1024 * 1024
#: The most memory scanning and streaming may take: a few chunks, far below the message.
MEMORY_BOUND = 4 * 1024 * 1024


def _spooled_message() -> Iterator[tuple[tempfile.SpooledTemporaryFile[bytes], bytes]]:
    """A message with a 25 MB base64 attachment, spooled to a temporary file as Graph's
    source does, written in pieces (never whole in memory), and the attachment's hash."""
    import hashlib

    digest = hashlib.sha256()
    file: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
        max_size=1024 * 1024
    )
    file.write(
        b"From: big@example.com\r\nSubject: big\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="big"\r\n\r\n--big\r\n'
        b"Content-Type: text/plain\r\n\r\nsee attachment\r\n--big\r\n"
        b'Content-Type: application/octet-stream; name="big.bin"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n"
    )
    left = ATTACHMENT
    while left:
        chunk = os.urandom(min(57 * 1024, left))  # 57 bytes: one 76-character line
        left -= len(chunk)
        digest.update(chunk)
        file.write(base64.encodebytes(chunk).replace(b"\n", b"\r\n"))
    file.write(b"\r\n--big--\r\n")
    yield file, digest.digest()
    file.close()


@pytest.fixture
def big_message() -> Iterator[tuple[tempfile.SpooledTemporaryFile[bytes], bytes]]:
    yield from _spooled_message()


def test_a_25_mb_attachment_is_scanned_and_streamed_in_bounded_memory(
    big_message: tuple[tempfile.SpooledTemporaryFile[bytes], bytes],
) -> None:
    import hashlib

    file, expected = big_message
    tracemalloc.start()
    try:
        scanned = scan_message(file)  # type: ignore[arg-type]
        text, attachment = scanned.root.leaves()
        digest = hashlib.sha256()
        streamed = 0
        with open_part(file, attachment) as stream:  # type: ignore[arg-type]
            while chunk := stream.read(64 * 1024):
                digest.update(chunk)
                streamed += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (text.content_type, attachment.filename) == ("text/plain", "big.bin")
    assert streamed == ATTACHMENT and digest.digest() == expected
    assert scanned.size > ATTACHMENT
    assert peak < MEMORY_BOUND, f"peak {peak} bytes: a body was held in memory"


def test_the_memory_check_catches_a_body_held_in_memory(
    big_message: tuple[tempfile.SpooledTemporaryFile[bytes], bytes],
) -> None:
    """*can fail*: the standard library's parser, which keeps every payload, breaks the
    bound that the scanner keeps."""
    file, _ = big_message
    file.seek(0)
    tracemalloc.start()
    try:
        message = email.message_from_binary_file(file)  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message.is_multipart()
    assert peak > MEMORY_BOUND
