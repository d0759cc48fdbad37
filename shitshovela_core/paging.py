"""Pagination helpers for HTTP providers: link-header pages, and listings read whole.

Two rules every ticket system's listing must follow, in one place:

- **Follow the server's own next link** (RFC 8288 ``Link: <…>; rel="next"``, as
  GitHub and GitLab send) instead of counting pages by hand: `follow_links`.
  It stops on a repeated link (a server that loops) and after ``max_pages``.
- **Read a listing whole before acting on it** when the action changes what
  the listing selects: reconcile removes the flag from each ticket it lists,
  so a listing paged by offset (``page=2``) over "tickets with the flag" would
  skip tickets as earlier ones leave the set. `read_whole` reads every page
  first, then yields. (A listing paged by a stable key, such as Jira's
  ``key > last``, may stay lazy.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import httpx

from .errors import ProviderError

T = TypeVar("T")

#: The most pages `follow_links` reads in one listing unless told otherwise.
MAX_PAGES = 1000


def next_link(response: httpx.Response) -> str | None:
    """The URL of the ``rel="next"`` link of ``response``, if it has one."""
    link = response.links.get("next")
    url = link.get("url") if link else None
    return url or None


def follow_links(
    fetch: Callable[[str], httpx.Response], url: str, *, max_pages: int = MAX_PAGES
) -> Iterator[httpx.Response]:
    """Yield ``fetch(url)``, then the page its next link names, and so on (lazily).

    Raises `ProviderError` when a next link repeats an earlier one or when more
    than ``max_pages`` pages come: a listing that never ends is a server bug,
    and following it would outlast the run or hammer the server."""
    seen: set[str] = set()
    current: str | None = url
    while current is not None:
        if current in seen:
            raise ProviderError(f"the server's next-page links loop back to {current}")
        if len(seen) >= max_pages:
            raise ProviderError(f"the listing has more than {max_pages} pages; stopping")
        seen.add(current)
        response = fetch(current)
        yield response
        current = next_link(response)


def read_whole(items: Iterable[T]) -> Iterator[T]:
    """Read every item of ``items`` first, then yield them: for a listing that the
    caller changes while it iterates (see the module docstring)."""
    return iter(list(items))
