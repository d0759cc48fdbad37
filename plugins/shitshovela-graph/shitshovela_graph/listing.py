"""The messages of one folder, oldest first, page by page: `Listing`.

One request lists a page of `PAGE_SIZE` messages
(``/users/{mailbox}/mailFolders/{folder id}/messages``, ``$orderby=
receivedDateTime asc``), selecting only what the drain needs (the id, the
Internet message id, the change key, the received time, the folder) and the
instance's claim property; a page is yielded one message at a time, and the
next page is asked for only when the drain wants more: memory is one page,
whatever the folder holds.

**Pages by offset pass messages over.** Outlook's ``@odata.nextLink`` carries
``$skip=N``: an offset into the list *as it is when the link is followed*.
Every message this run deletes or moves out of the folder while it works
through a page shifts the rest forward, so following that link would pass as
many messages over. So a listing follows an offset link only when nothing left
the folder since its page was read (`Listing.removed` says); otherwise it
lists again from the start, skipping the messages this run has met already
(handled, or left in the folder: claimed by another run, waiting for their
claim window, over a sender's cap). A link that is a cursor (``$skiptoken``)
passes nothing over and is always followed.

What a listing remembers is bounded by what stays in the folder, not by its
size: the ids of the messages it met that are still there (left alone, or not
reached yet on the current page). A message the run takes out of the folder is
forgotten at once (`Listing.left`); one someone else took out is forgotten when
a pass from the start goes past its place without meeting it. Listing again
costs no more requests than following the links would when a run empties each
page; each message left in the folder is listed again once per later page the
run empties.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import attrs

from shitshovela_core import ProviderError

from .api import GraphApi
from .folders import answer_error

#: Messages one listing request asks for (Graph allows up to 1,000).
PAGE_SIZE = 100
#: What the drain needs of each message (and the claim property, expanded).
SELECT = ("id", "internetMessageId", "changeKey", "receivedDateTime", "parentFolderId")


@attrs.frozen
class Listed:
    """One message as the listing saw it."""

    id: str
    internet_message_id: str
    change_key: str
    received: str
    folder_id: str
    #: The extended properties expanded with it (the claim property, when claimed).
    properties: tuple[dict[str, Any], ...] = ()

    @classmethod
    def of(cls, row: dict[str, Any]) -> Listed:
        """A message as Graph lists (or reads) it."""
        properties = row.get("singleValueExtendedProperties") or []
        return cls(
            id=str(row["id"]),
            internet_message_id=str(row.get("internetMessageId") or ""),
            change_key=str(row.get("changeKey") or ""),
            received=str(row.get("receivedDateTime") or ""),
            folder_id=str(row.get("parentFolderId") or ""),
            properties=tuple(p for p in properties if isinstance(p, dict)),
        )


class Listing:
    """The messages of the folder ``folder_id``, lazily (see the module docstring).

    ``claim_property`` is the instance's claim property id. The source calls `left`
    for each message it takes out of the folder (a delete, a move, a set-aside)."""

    def __init__(
        self,
        api: GraphApi,
        folder_id: str,
        claim_property: str,
        *,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.api = api
        self.folder_id = folder_id
        self.claim_property = claim_property
        self.page_size = page_size
        #: Messages this run took out of the folder so far.
        self.removals = 0
        #: How many passes from the start the listing made (tests read it).
        self.passes = 0
        #: The most ids remembered at once (tests read it).
        self.peak_remembered = 0
        # Met on an earlier pass and not again yet, and met on this pass: id -> received.
        self._before: dict[str, str] = {}
        self._met: dict[str, str] = {}

    def left(self, message: str) -> None:
        """The run took ``message`` out of the folder: it will not be listed again (so it
        is forgotten), and an offset link read before now would pass one message over."""
        self.removals += 1
        self._before.pop(message, None)
        self._met.pop(message, None)

    def first_page(self) -> tuple[str, dict[str, str]]:
        """The first page's URL and query."""
        url = f"{self.api.user}/mailFolders/{quote(self.folder_id, safe='')}/messages"
        claim = self.claim_property.replace("'", "''")
        return url, {
            "$top": str(self.page_size),
            "$orderby": "receivedDateTime asc",
            "$select": ",".join(SELECT),
            "$expand": f"singleValueExtendedProperties($filter=id eq '{claim}')",
        }

    def __iter__(self) -> Iterator[Listed]:
        while True:
            self.passes += 1
            self._met = {}
            frontier = ""
            restart = False
            url, params = self.first_page()
            query: dict[str, str] | None = params
            while True:
                removals = self.removals
                rows, link = self._page(url, query)
                for row in rows:
                    seen = self._before.pop(row.id, None) is not None or row.id in self._met
                    self._met[row.id] = row.received
                    frontier = max(frontier, row.received)
                    self.peak_remembered = max(
                        self.peak_remembered, len(self._before) + len(self._met)
                    )
                    if not seen:
                        yield row
                if link is None:
                    break
                if self.removals != removals and _by_offset(link):
                    restart = True
                    break
                url, query = self._follow(link), None
            if not restart:
                return
            # What this pass met moves over; what it went past without meeting left the
            # folder (someone else's doing) and is forgotten; what lies beyond is kept.
            kept = {id_: at for id_, at in self._before.items() if at >= frontier}
            self._before = kept | self._met

    def _follow(self, link: str) -> str:
        if not self.api.same_service(link):
            raise ProviderError(
                f"Graph's next-page link leads to another server ({urlsplit(link).netloc}); "
                "not followed (it would carry the token there)"
            )
        return link

    def _page(self, url: str, query: dict[str, str] | None) -> tuple[list[Listed], str | None]:
        what = "list messages"
        response = self.api.call("GET", url, what=what, idempotent=True, params=query)
        if not 200 <= response.status_code < 300:
            raise answer_error(self.api, response, what)
        body = response.json()
        rows = [Listed.of(row) for row in body.get("value") or []]
        link = body.get("@odata.nextLink")
        return rows, link if isinstance(link, str) and link else None


def _by_offset(link: str) -> bool:
    """True when a next-page link pages by offset (``$skip``), not by a cursor."""
    query = parse_qs(urlsplit(link).query)
    return "$skip" in query and "$skiptoken" not in query
