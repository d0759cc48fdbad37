"""Link-header pagination and listings read whole."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from shitshovela_core.errors import ProviderError
from shitshovela_core.paging import follow_links, next_link, read_whole

pytestmark = pytest.mark.unit


def page(url: str, next_url: str | None) -> httpx.Response:
    headers = (
        {"Link": f'<{next_url}>; rel="next", <https://x/first>; rel="first"'} if next_url else {}
    )
    return httpx.Response(200, headers=headers, request=httpx.Request("GET", url))


def test_next_link_reads_rel_next() -> None:
    assert next_link(page("https://x/1", "https://x/2")) == "https://x/2"
    assert next_link(page("https://x/1", None)) is None


def test_follow_links_reads_every_page_lazily() -> None:
    chain = {"https://x/1": "https://x/2", "https://x/2": "https://x/3", "https://x/3": None}
    fetched: list[str] = []

    def fetch(url: str) -> httpx.Response:
        fetched.append(url)
        return page(url, chain[url])

    pages = follow_links(fetch, "https://x/1")
    assert next(pages).request.url == "https://x/1"
    assert fetched == ["https://x/1"]  # lazy
    assert [str(p.request.url) for p in pages] == ["https://x/2", "https://x/3"]


def test_a_looping_server_is_an_error() -> None:
    def fetch(url: str) -> httpx.Response:
        return page(url, "https://x/1")

    with pytest.raises(ProviderError, match="loop"):
        list(follow_links(fetch, "https://x/1"))


def test_an_endless_listing_stops_at_max_pages() -> None:
    def fetch(url: str) -> httpx.Response:
        return page(url, url + "+")

    with pytest.raises(ProviderError, match="more than 5 pages"):
        list(follow_links(fetch, "https://x/1", max_pages=5))


def unflag_all(listing: Callable[[list[str]], Iterator[str]]) -> list[str]:
    """Reconcile's shape: unflag each listed ticket while iterating the listing."""
    flagged = ["A", "B", "C", "D"]
    seen = []
    for key in listing(flagged):
        seen.append(key)
        flagged.remove(key)
    return seen


def offset_pages(flagged: list[str]) -> Iterator[str]:
    """Two per page, by offset over the flagged set (the mistake)."""
    offset = 0
    while batch := flagged[offset : offset + 2]:
        yield from batch
        offset += 2


def test_an_offset_listing_changed_while_iterated_skips_tickets() -> None:
    assert unflag_all(offset_pages) == ["A", "B"]  # C and D skipped


def test_read_whole_reads_before_it_yields() -> None:
    assert unflag_all(lambda flagged: read_whole(offset_pages(flagged))) == ["A", "B", "C", "D"]
