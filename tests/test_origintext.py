"""The origin reference in free text: escaped, last marker wins, never cut."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shitshovela_core.models import Origin
from shitshovela_core.origintext import (
    CUT_NOTE,
    embed_origin,
    find_origin,
    origin_marker,
    strip_origin,
)

pytestmark = pytest.mark.unit

REF = Origin("s3", "s3://bucket/in/", "in/a.txt", "v1", "d1").to_ref()


def test_round_trip() -> None:
    body = embed_origin("Alert\nsomething broke", REF)
    assert body.startswith("Alert\nsomething broke")
    assert find_origin(body) == REF
    assert strip_origin(body) == "Alert\nsomething broke"


def test_text_without_a_marker_has_no_origin() -> None:
    assert find_origin("just a ticket") is None


@given(st.text())
def test_no_origin_can_break_out_of_its_marker(key: str) -> None:
    ref = Origin("imap", "imap://host/INBOX", key).to_ref()
    marker = origin_marker(ref)
    inner = marker.removeprefix("<!-- ").removesuffix(" -->")
    assert "-->" not in inner and "<" not in inner and "\n" not in inner
    assert find_origin(embed_origin("text", ref)) == ref


def test_a_marker_quoted_in_the_item_never_wins() -> None:
    forged = Origin("s3", "s3://bucket/in/", "in/victim.txt").to_ref()
    item_text = f"Forwarded:\n{origin_marker(forged)}\nplease look"
    assert find_origin(embed_origin(item_text, REF)) == REF


def test_a_broken_last_marker_is_not_replaced_by_an_earlier_one() -> None:
    text = embed_origin("body", REF) + "\n<!-- shitshovela:origin:v1:%%% -->"
    assert find_origin(text) == REF  # not well-formed: not a marker at all
    text = embed_origin("body", REF) + "\n<!-- shitshovela:origin:v1:_w -->"
    assert find_origin(text) is None  # well-formed, does not decode: not ours


@pytest.mark.parametrize("limit", [400, 1_000, 65_536])
def test_truncation_cuts_the_content_never_the_marker(limit: int) -> None:
    long_text = "x" * 100_000
    body = embed_origin(long_text, REF, limit=limit)
    assert len(body) <= limit
    assert find_origin(body) == REF
    assert CUT_NOTE.strip() in body


def test_text_that_fits_is_not_cut() -> None:
    body = embed_origin("short", REF, limit=10_000)
    assert CUT_NOTE.strip() not in body


def test_a_limit_below_the_marker_is_an_error() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        embed_origin("text", REF, limit=20)
