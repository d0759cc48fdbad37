"""Message lists: order, pages and @odata.nextLink ($skip or $skiptoken), $filter, $count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from shitshovela_graph_emulator import DEFAULT_MAILBOX, GraphEmulator, build_mime

pytestmark = pytest.mark.servers

Factory = Callable[..., GraphEmulator]

U = f"users/{DEFAULT_MAILBOX}"
INBOX = f"{U}/mailFolders/inbox/messages"
OLDEST_FIRST = {"$orderby": "receivedDateTime asc"}
CLAIM = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name ShitShovelaClaim"


def seed(graph: GraphEmulator, n: int, start: int = 0) -> list[str]:
    """``n`` messages, one a minute apart, oldest first; their immutable ids."""
    return [
        graph.seed_message(build_mime(f"m{i}"), received=1_800_000_000 + 60 * i).id
        for i in range(start, start + n)
    ]


def subjects(page: dict[str, Any]) -> list[str]:
    return [m["subject"] for m in page["value"]]


def everything(c: httpx.Client, url: str, params: dict[str, str] | None = None) -> list[str]:
    """Every subject a client gets following @odata.nextLink."""
    found: list[str] = []
    page = c.get(url, params=params).json()
    found += subjects(page)
    while "@odata.nextLink" in page:
        page = c.get(page["@odata.nextLink"]).json()
        found += subjects(page)
    return found


def test_newest_first_ten_a_page_by_default(graph: GraphEmulator) -> None:
    seed(graph, 12)
    with graph.client() as c:
        first = c.get(INBOX).json()
        second = c.get(first["@odata.nextLink"]).json()
    assert subjects(first) == [f"m{i}" for i in range(11, 1, -1)]
    assert subjects(second) == ["m1", "m0"] and "@odata.nextLink" not in second
    assert "%24skip=10" in first["@odata.nextLink"]  # Graph writes $ as %24
    assert first["@odata.nextLink"].startswith(graph.api_url + "/users/")


def test_oldest_first_selected_and_paged_by_top(graph: GraphEmulator) -> None:
    seed(graph, 7)
    with graph.client() as c:
        page = c.get(
            INBOX, params={**OLDEST_FIRST, "$top": "3", "$select": "internetMessageId,subject"}
        ).json()
        rest = everything(c, INBOX, {**OLDEST_FIRST, "$top": "3"})
    assert subjects(page) == ["m0", "m1", "m2"]
    assert set(page["value"][0]) == {"@odata.etag", "id", "internetMessageId", "subject"}
    assert "%24top=3" in page["@odata.nextLink"] and "%24select=" in page["@odata.nextLink"]
    assert rest == [f"m{i}" for i in range(7)]


def test_ties_in_received_time_keep_arrival_order(graph: GraphEmulator) -> None:
    for i in range(4):
        graph.seed_message(build_mime(f"t{i}"), received=1_800_000_000)
    with graph.client() as c:
        assert subjects(c.get(INBOX, params=OLDEST_FIRST).json()) == ["t0", "t1", "t2", "t3"]
        assert subjects(c.get(INBOX).json()) == ["t3", "t2", "t1", "t0"]


def test_skip_links_pass_over_what_was_removed_in_between(graph: GraphEmulator) -> None:
    """Outlook's links are offsets: drain a page, follow the link, and as many are passed over."""
    seed(graph, 6)
    with graph.client() as c:
        page = c.get(INBOX, params={**OLDEST_FIRST, "$top": "2"}).json()
        for message in page["value"]:
            assert c.delete(f"{U}/messages/{message['id']}").status_code == 204
        after = c.get(page["@odata.nextLink"]).json()
        again = c.get(INBOX, params={**OLDEST_FIRST, "$top": "2"}).json()
    assert subjects(after) == ["m4", "m5"]  # m2 and m3 were passed over
    assert subjects(again) == ["m2", "m3"]  # a listing started afresh finds them


def test_skiptoken_links_are_cursors(make_graph: Factory) -> None:
    graph = make_graph(paging="skiptoken")
    seed(graph, 6)
    with graph.client() as c:
        page = c.get(INBOX, params={**OLDEST_FIRST, "$top": "2"}).json()
        for message in page["value"]:
            c.post(f"{U}/messages/{message['id']}/move", json={"destinationId": "archive"})
        after = c.get(page["@odata.nextLink"]).json()
        rest = everything(c, INBOX, {"$top": "4"})
        bad = c.get(INBOX, params={"$skiptoken": "bm9wZQ"})
    assert "%24skiptoken=" in page["@odata.nextLink"] and "%24skip=" not in page["@odata.nextLink"]
    assert subjects(after) == ["m2", "m3"]
    assert rest == ["m5", "m4", "m3", "m2"]
    assert bad.status_code == 400


def test_a_listing_shows_every_write_at_once(graph: GraphEmulator) -> None:
    """Graph's listings are consistent: nothing lags, there is nothing to freeze."""
    with graph.client() as c:
        assert c.get(INBOX).json()["value"] == []
        seeded = graph.seed_message(build_mime("now"))
        assert subjects(c.get(INBOX).json()) == ["now"]
        c.patch(f"{U}/messages/{seeded.id}", json={"categories": ["Claimed"]})
        listed = c.get(INBOX, params={"$filter": "categories/any(c:c eq 'claimed')"}).json()
        assert subjects(listed) == ["now"]
        c.delete(f"{U}/messages/{seeded.id}")
        assert c.get(INBOX).json()["value"] == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("isRead eq false", ["m0", "m2", "m3"]),
        ("isRead eq true or subject eq 'M3'", ["m1", "m3"]),
        ("receivedDateTime ge 2027-01-15T08:02:00Z", ["m2", "m3"]),
        ("receivedDateTime lt 2027-01-15T08:01:00Z and not(isRead)", ["m0"]),
        ("categories/any(c:c eq 'Claimed')", ["m2"]),
        ("not categories/any(c:c eq 'Claimed')", ["m0", "m1", "m3"]),
        (
            f"singleValueExtendedProperties/any(ep:ep/id eq '{CLAIM}' and ep/value eq 'run-1')",
            ["m3"],
        ),
        (
            "startswith(subject, 'm') and from/emailAddress/address eq 'alerts@example.com'",
            ["m0", "m1", "m2", "m3"],
        ),
        ("internetMessageId eq '<fixed@example.com>'", ["m1"]),
        ("hasAttachments eq true", []),
    ],
)
def test_filter(graph: GraphEmulator, text: str, expected: list[str]) -> None:
    ids = [
        graph.seed_message(
            build_mime(f"m{i}", message_id="<fixed@example.com>" if i == 1 else None),
            received=1_800_000_000 + 60 * i,
            is_read=i == 1,
            categories=["Claimed"] if i == 2 else (),
        ).id
        for i in range(4)
    ]
    graph.update_message(ids[3], extended={CLAIM: "run-1"})
    with graph.client() as c:
        found = c.get(INBOX, params={"$filter": text})  # newest first
    assert found.status_code == 200, found.text
    assert subjects(found.json()) == expected[::-1]


def test_filter_with_orderby_needs_the_sorted_property_first(graph: GraphEmulator) -> None:
    seed(graph, 3)
    with graph.client() as c:
        refused = c.get(INBOX, params={**OLDEST_FIRST, "$filter": "isRead eq false"})
        second = c.get(
            INBOX,
            params={
                **OLDEST_FIRST,
                "$filter": "isRead eq false and receivedDateTime ge 1900-01-01",
            },
        )
        first = c.get(
            INBOX,
            params={
                **OLDEST_FIRST,
                "$filter": "receivedDateTime ge 1900-01-01 and isRead eq false",
            },
        )
    for r in (refused, second):
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "InefficientFilter"
        assert r.json()["error"]["message"] == (
            "The restriction or sort order is too complex for this operation."
        )
    assert subjects(first.json()) == ["m0", "m1", "m2"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"$filter": "subject eq"}, "BadRequest"),
        ({"$filter": "nosuch eq 1"}, "RequestBroker--ParseUri"),
        ({"$orderby": "receivedDateTime sideways"}, "BadRequest"),
        ({"$top": "1001"}, "BadRequest"),
        ({"$top": "0"}, "BadRequest"),
        ({"$expand": "extensions"}, "RequestBroker--ParseUri"),
    ],
)
def test_queries_graph_refuses(graph: GraphEmulator, params: dict[str, str], code: str) -> None:
    with graph.client() as c:
        r = c.get(INBOX, params=params)
    assert r.status_code == 400 and r.json()["error"]["code"] == code


def test_count_search_and_the_whole_mailbox(graph: GraphEmulator) -> None:
    seed(graph, 3)
    graph.seed_message(build_mime("filed"), folder="archive", received=1_800_000_500)
    with graph.client() as c:
        counted = c.get(INBOX, params={"$count": "true", "$top": "1"}).json()
        searched = c.get(INBOX, params={"$search": '"disk"'})
        mailbox = c.get(f"{U}/messages").json()
    assert counted["@odata.count"] == 3 and len(counted["value"]) == 1
    assert searched.status_code == 501  # not modelled; the README says so
    assert subjects(mailbox) == ["filed", "m2", "m1", "m0"]
