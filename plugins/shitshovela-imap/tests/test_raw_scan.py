"""Graph's path and IMAP's path to a message's MIME tree agree (`shitshovela_mail.raw`).

The IMAP source reads the tree from the server's BODYSTRUCTURE (`parse_structure`);
the Graph source scans the message's bytes (`scan_message`). Here the same messages go
into Dovecot and through the scanner, and the two trees are compared: equal for
well-formed mail (the standard library's, and the awkward corpus of `test_mime`), the
same shape (sections and types) for generated broken mail.
"""

from __future__ import annotations

import io
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imapkit import Mailbox
from shitshovela_mail import Part, parse_structure, scan_message
from shitshovela_testkit import mimegen
from test_mime import CORPUS, NESTED

pytestmark = pytest.mark.servers

#: Corpus messages where the scanner differs from Dovecot on purpose, and how.
DIFFERENT = {
    # No part found in a multipart: Dovecot reports an empty text part, the scanner keeps
    # the body as that part's text (nothing lost).
    "wrong boundary": "size",
    # Content-Transfer-Encoding without MIME-Version: Dovecot reports 7bit, the scanner
    # what the header says (the bytes pass through either way).
    "8-bit body without charset": "encoding",
}


def _crlf(raw: bytes) -> bytes:
    """Dovecot counts sizes with CRLF line ends: give both sides the same bytes."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _both(mailbox: Mailbox, messages: list[bytes]) -> list[tuple[Part, Part]]:
    """(Dovecot's tree, the scanner's tree) for each message, in order."""
    mailbox.deliver(*messages)
    with mailbox.client() as client:
        uids = sorted(client.search("ALL"))
        found: dict[int, Any] = client.fetch(uids, ["BODYSTRUCTURE"])
        client.delete_messages(uids)
        client.expunge()
    assert len(uids) == len(messages)
    return [
        (parse_structure(found[uid][b"BODYSTRUCTURE"]), scan_message(io.BytesIO(raw)).root)
        for uid, raw in zip(uids, messages, strict=True)
    ]


def _shape(part: Part) -> list[tuple[str, str]]:
    return [(part.section, part.content_type)] + [
        entry for child in part.children for entry in _shape(child)
    ]


def test_the_corpus_scans_as_dovecot_describes_it(mailbox: Mailbox) -> None:
    trees = _both(mailbox, list(CORPUS.values()))
    for name, (imap, scanned) in zip(CORPUS, trees, strict=True):
        if name in DIFFERENT:
            assert _shape(imap) == _shape(scanned), name
            assert imap != scanned, f"{name}: no longer different; drop it from DIFFERENT"
            continue
        assert imap == scanned, name
    nested = trees[list(CORPUS).index("nested")][1]
    assert [p.section for p in nested.leaves()] == ["1.1", "1.2.1", "1.2.2", "2", "3"]


def test_the_comparison_sees_a_wrong_section_size_or_encoding(mailbox: Mailbox) -> None:
    """*can fail*: `Part` equality (offsets aside) notices each field of a leaf."""
    ((imap, scanned),) = _both(mailbox, [NESTED])
    assert imap == scanned
    first, pdf, forwarded = scanned.children
    for change in ({"size": pdf.size + 1}, {"section": "9"}, {"encoding": "7bit"}):
        wrong = (first, attrs.evolve(pdf, **change), forwarded)
        assert imap != attrs.evolve(scanned, children=wrong), change
    assert imap == attrs.evolve(scanned, offset=12345)


@given(batch=st.lists(mimegen.stdlib_messages(), min_size=1, max_size=5))
@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_standard_library_mail_scans_as_dovecot_describes_it(
    mailbox: Mailbox, batch: list[bytes]
) -> None:
    batch = [_crlf(raw) for raw in batch]
    for imap, scanned in _both(mailbox, batch):
        assert imap == scanned


@given(batch=st.lists(mimegen.messages(), min_size=1, max_size=5))
@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_broken_mail_has_the_shape_dovecot_gives_it(mailbox: Mailbox, batch: list[bytes]) -> None:
    for imap, scanned in _both(mailbox, batch):
        assert _shape(imap) == _shape(scanned)
