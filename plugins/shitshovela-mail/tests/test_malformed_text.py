"""Mail text that is not well-formed Unicode, through the pure functions (I12).

A charset such as UTF-7 can spell a lone UTF-16 surrogate (``+2D0-`` is U+D83D alone),
and Python offers codecs that are no mail charset at all (``unicode-escape`` turns the
text ``\\ud83d`` into that surrogate; ``rot13``, ``hex``, ``base64``, ``zlib`` are
bytes-to-bytes). A string holding a lone surrogate cannot be encoded as UTF-8, so any
ticket system fails on it. These tests check that `shitshovela_mail.mime` only ever
hands out well-formed text (lone surrogates become U+FFFD; codecs that are no charset
are refused like an unknown charset); the IMAP plugin's end-to-end tests put every
shape in a real Dovecot ahead of a canary and run the real CLI into the Jira emulator.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from shitshovela_mail import mime

REPLACEMENT = "\ufffd"
#: Python codecs that are no mail charset: read like an unknown charset (UTF-8 here).
NOT_CHARSETS = (
    "unicode-escape",
    "UNICODE_ESCAPE",
    "raw-unicode-escape",
    "punycode",
    "idna",
    "rot13",
    "hex",
    "base64",
    "zlib",
    "bz2",
    "uu",
    "quopri",
)


def well_formed(text: str) -> bool:
    """True when ``text`` encodes as UTF-8 (no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# -- unit: every shape through the pure functions ------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("data", "charset", "expected"),
    [
        (b"+2D0-", "utf-7", REPLACEMENT),
        (b"a+2D0-b+3b8-c", "utf-7", f"a{REPLACEMENT}b{REPLACEMENT}c"),  # a lone low half too
        (b"+2D3eAA-", "utf-7", "\U0001f600"),  # a real pair stays one character
        (b"caf+AOk-", "utf-7", "café"),
        (b"\\ud83d caf\\xe9", "unicode-escape", "\\ud83d caf\\xe9"),  # read as written
        (b"\\ud83d", "raw-unicode-escape", "\\ud83d"),
    ],
)
def test_decode_bytes_gives_well_formed_text(data: bytes, charset: str, expected: str) -> None:
    assert mime.decode_bytes(data, charset) == expected


@pytest.mark.unit
@pytest.mark.parametrize("charset", NOT_CHARSETS)
def test_a_codec_that_is_no_charset_reads_like_an_unknown_charset(charset: str) -> None:
    for data in (b"Uryyb caf\xc3\xa9 \\ud83d", b"xn--caf-dma 789c", b"caf\xe9"):
        assert mime.decode_bytes(data, charset) == mime.decode_bytes(data, "x-unknown")
    assert mime.decode_bytes(b"Uryyb", "rot13") == "Uryyb", "not rot13-decoded to Hello"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=?utf-7?Q?+2D0-?=", REPLACEMENT),
        ("=?UTF-7?B?" + base64.b64encode(b"+2D0-").decode() + "?=", REPLACEMENT),
        ("=?utf-7?Q?caf+AOk-?= =?utf-7?Q?+2D0-?=", f"café{REPLACEMENT}"),
        ("=?unicode-escape?Q?=5Cud83d?=", "\\ud83d"),
        ("=?rot13?Q?Uryyb?=", "Uryyb"),
    ],
)
def test_encoded_words_give_well_formed_text(raw: str, expected: str) -> None:
    assert mime.decode_header_value(raw) == expected


@pytest.mark.unit
def test_text_between_encoded_words_is_well_formed() -> None:
    """The email package hands unencoded text back as raw-unicode-escape bytes, so a
    literal ``\\ud83d`` there came back as a lone surrogate."""
    assert well_formed(mime.decode_header_value("=?utf-8?Q?a?= \\ud83d =?utf-8?Q?b?="))


@pytest.mark.unit
def test_every_header_field_is_well_formed() -> None:
    headers = mime.parse_headers(
        b"From: =?utf-7?Q?+2D0-?= <X@Example.com>\r\n"
        b"To: =?utf-7?B?KzJEMC0=?= <support@example.com>\r\n"
        b"Cc: =?unicode-escape?Q?=5Cud83d?= <cc@example.com>\r\n"
        b"Subject: =?utf-7?Q?+2D0-?= help\r\n"
        b"Date: Mon, 02 Mar 2026 10:00:00 +0000 \xff\r\n"
        b"Message-ID: <a\xff@example.com>\r\n"
        b"X-Odd: \xfe\xff\r\n"
    )
    assert headers.subject == f"{REPLACEMENT} help"
    assert headers.from_text == f"{REPLACEMENT} <X@Example.com>"
    assert headers.sender == "x@example.com"
    assert headers.cc == "\\ud83d <cc@example.com>"
    texts = [headers.subject, headers.sender, headers.from_text, headers.to, headers.cc]
    texts += [headers.reply_to, headers.message_id, *headers.fields, *headers.fields.values()]
    assert all(well_formed(t) for t in texts), texts
    assert headers.get("date").startswith("Mon, 02 Mar 2026 10:00:00 +0000")


def _attachment(params: tuple[bytes, ...], disposition: tuple[bytes, ...] | None) -> Any:
    return (
        b"application",
        b"octet-stream",
        params,
        None,
        None,
        b"base64",
        8,
        None,
        None if disposition is None else (b"attachment", disposition),
        None,
    )


@pytest.mark.unit
@pytest.mark.parametrize(
    ("params", "disposition", "expected"),
    [
        ((), (b"filename*", b"utf-7''%2B2D0-.bin"), f"{REPLACEMENT}.bin"),
        ((b"name", b"=?utf-7?Q?+2D0-?=.bin"), None, f"{REPLACEMENT}.bin"),
        ((), (b"filename*", b"unicode-escape''%5Cud83d.bin"), "ud83d.bin"),  # \ is a path
        ((), (b"filename*", b"utf-7''a%2B2D0-%2F..%5C%07b.txt"), "b.txt"),
        ((), (b"filename*", b"rot13''%2B2D0-%0D%0A.bin"), "+2D0-.bin"),
    ],
)
def test_attachment_names_are_well_formed(
    params: tuple[bytes, ...], disposition: tuple[bytes, ...], expected: str
) -> None:
    root = mime.parse_structure(_attachment(params, disposition))
    assert mime.attachment_name(root) == expected


@pytest.mark.unit
@pytest.mark.parametrize(
    ("subtype", "charset", "data", "expected"),
    [
        ("plain", "utf-7", b"+2D0-", REPLACEMENT),
        ("html", "utf-7", b"<p>+2D0- and caf+AOk-</p>", f"{REPLACEMENT} and café"),
        ("html", "utf-8", b"<p>&#xD83D;</p>", REPLACEMENT),
        ("plain", "unicode-escape", b"\\ud83d caf\\xe9", "\\ud83d caf\\xe9"),
        ("plain", "zlib", b"x\x9c\xcbH\xcd\xc9\xc9\x07\x00\x06,\x02\x15", None),
    ],
)
def test_part_text_is_well_formed(
    subtype: str, charset: str, data: bytes, expected: str | None
) -> None:
    part = mime.Part("1", "text", subtype, params={"charset": charset})
    text = mime.part_text(part, data)
    assert well_formed(text)
    if expected is not None:
        assert text == expected
