"""The OData query options the emulator reads: $filter's grammar and meaning, $orderby, $expand."""

from __future__ import annotations

from typing import Any

import pytest
from shitshovela_graph_emulator.odata import (
    OrderBy,
    QueryError,
    check_sortable,
    parse_expand,
    parse_filter,
    parse_orderby,
    parse_select,
    sort,
    sort_key_after,
)

pytestmark = pytest.mark.unit

KNOWN = (
    "subject",
    "isRead",
    "receivedDateTime",
    "categories",
    "from",
    "singleValueExtendedProperties",
    "importance",
    "size",
)
ROW: dict[str, Any] = {
    "subject": "Disk FULL on db-1",
    "isRead": False,
    "receivedDateTime": "2027-01-15T08:00:00Z",
    "categories": ["Claimed", "Other"],
    "from": {"emailAddress": {"address": "alerts@example.com", "name": "Alerts"}},
    "singleValueExtendedProperties": [{"id": "String 0x0037", "value": "it's"}],
    "importance": "normal",
    "size": 12,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("subject eq 'disk full on db-1'", True),
        ("subject ne 'x'", True),
        ("isRead", False),
        ("not isRead", True),
        ("isRead eq false and importance eq 'normal'", True),
        ("isRead eq true or (importance eq 'high' or size gt 10)", True),
        ("size ge 12 and size le 12 and size lt 13", True),
        ("receivedDateTime ge 2027-01-15T08:00:00Z", True),
        ("receivedDateTime gt 2027-01-15", True),
        ("receivedDateTime lt 2027-01-15T09:00:00+01:00", False),
        ("from/emailAddress/address eq 'ALERTS@example.com'", True),
        ("from/emailAddress/nothing eq null", True),
        (
            "startswith(subject, 'disk') and contains(subject,'on DB') and endswith(subject, '-1')",
            True,
        ),
        ("categories/any(c:c eq 'claimed')", True),
        ("categories/all(c:c eq 'Claimed')", False),
        (
            "singleValueExtendedProperties/any(ep:ep/id eq 'String 0x0037' "
            "and ep/value eq 'it''s')",
            True,
        ),
        ("Subject eq 'Disk FULL on db-1'", True),  # property names in any case
    ],
)
def test_filters_mean_what_graph_means(text: str, expected: bool) -> None:
    assert parse_filter(text, KNOWN, "message").matches(ROW) is expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("subject eq", "BadRequest"),
        ("subject eq 'x' and", "BadRequest"),
        ("(subject eq 'x'", "BadRequest"),
        ("subject eq 'unterminated", "BadRequest"),
        ("subject ~ 'x'", "BadRequest"),
        ("body/content eq 'x'", "RequestBroker--ParseUri"),
        ("categories/any(c:c eq 'x') and nosuch eq 1", "RequestBroker--ParseUri"),
    ],
)
def test_filters_graph_refuses(text: str, code: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_filter(text, KNOWN, "message")
    assert caught.value.code == code


def test_the_properties_a_filter_uses_in_order() -> None:
    parsed = parse_filter(
        "receivedDateTime ge 2027-01-01 and (isRead eq false or categories/any(c:c eq 'x')) "
        "and receivedDateTime lt 2028-01-01",
        KNOWN,
        "message",
    )
    assert parsed.properties == ["receivedDateTime", "isRead", "categories"]
    keys = parse_orderby(["receivedDateTime asc"], KNOWN, "message")
    check_sortable(parsed, keys)
    with pytest.raises(QueryError, match="too complex"):
        check_sortable(parsed, parse_orderby(["isRead"], KNOWN, "message"))
    check_sortable(None, keys)


def test_select_orderby_and_expand() -> None:
    assert parse_select([], KNOWN, "message") is None
    assert parse_select(["SUBJECT,isread", "from"], KNOWN, "message") == [
        "subject",
        "isRead",
        "from",
    ]
    assert parse_orderby(["receivedDateTime desc, subject"], KNOWN, "message") == [
        OrderBy(("receivedDateTime",), descending=True),
        OrderBy(("subject",)),
    ]
    assert parse_expand(["attachments,singleValueExtendedProperties($filter=id eq 'a,b')"]) == {
        "attachments": None,
        "singleValueExtendedProperties": "id eq 'a,b'",
    }
    with pytest.raises(QueryError):
        parse_select(["subjekt"], KNOWN, "message")
    with pytest.raises(QueryError):
        parse_expand(["attachments($top=1)"])


def test_sorting_ties_and_cursors() -> None:
    rows = [({"r": "b"}, 1), ({"r": "a"}, 2), ({"r": "b"}, 3), ({"r": None}, 4)]
    asc = [OrderBy(("r",))]
    desc = [OrderBy(("r",), descending=True)]
    assert [seq for _row, seq in sort(rows, asc)] == [4, 2, 1, 3]
    assert [seq for _row, seq in sort(rows, desc)] == [3, 1, 2, 4]
    ordered = sort(rows, asc)
    assert sort_key_after(ordered, asc, ["b", 1]) == 3
    assert sort_key_after(ordered, asc, ["a", 2]) == 2
    assert sort_key_after(ordered, asc, ["z", 0]) == 4
    with pytest.raises(QueryError):
        sort_key_after(ordered, asc, ["b"])
