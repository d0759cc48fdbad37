"""A collection answer: the query options read, rows filtered, sorted and cut into pages.

`read_query` reads ``$select``, ``$orderby``, ``$filter``, ``$expand``, ``$top``,
``$skip``, ``$skiptoken`` and ``$count`` (``$search`` is not modelled: 501).
`page` filters and sorts the rows and cuts out one page; when more follow, the
answer carries ``@odata.nextLink``, the whole URL of the next page (the query
as sent, ``$`` written ``%24`` as Graph does, on the host the client addressed),
which a client follows as it is:

* ``skip`` (the default, as Outlook's message lists do): the link carries
  ``$skip=N``, an offset into the list *as it is when the link is followed*, so
  an item removed from the folder in between (a delete, a move) shifts the rest
  forward and one item is passed over;
* ``skiptoken``: the link carries an opaque ``$skiptoken``, a cursor after the
  last item served, so removals in between skip nothing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

from .odata import (
    Filter,
    OrderBy,
    QueryError,
    parse_expand,
    parse_filter,
    parse_orderby,
    parse_select,
    sort,
    sort_key_after,
    value_at,
)
from .site import Site
from .wire import GraphRequest, GraphResponse, Reject, error

__all__ = ["Query", "page", "query_error", "read_query"]

T = TypeVar("T")


def query_error(exc: QueryError) -> Reject:
    return Reject(error(400, exc.code, exc.message))


@dataclass
class Query:
    """The query options of one request."""

    select: list[str] | None = None
    orderby: list[OrderBy] = field(default_factory=list)
    filter: Filter | None = None
    expand: dict[str, str | None] = field(default_factory=dict)
    top: int | None = None
    skip: int = 0
    skiptoken: str | None = None
    count: bool = False


def _int(req: GraphRequest, name: str) -> int | None:
    raw = req.q1(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise Reject(error(400, "BadRequest", f"Invalid value '{raw}' for {name}.")) from None


def read_query(
    req: GraphRequest,
    *,
    entity: str,
    known: Collection[str],
    selectable: Collection[str],
    expandable: Collection[str] = (),
) -> Query:
    """The request's query options, checked against the entity's properties."""
    if req.q("$search"):
        raise Reject(error(501, "NotImplemented", "$search is not modelled by the Graph emulator."))
    try:
        query = Query(
            select=parse_select(req.q("$select"), selectable, entity),
            orderby=parse_orderby(req.q("$orderby"), known, entity),
            expand=parse_expand(req.q("$expand")),
        )
        text = req.q1("$filter")
        if text is not None:
            query.filter = parse_filter(text, known, entity)
    except QueryError as exc:
        raise query_error(exc) from None
    for name in query.expand:
        if name not in expandable:
            raise Reject(
                error(
                    400,
                    "RequestBroker--ParseUri",
                    f"Could not find a navigation property named '{name}' on type "
                    f"'microsoft.graph.{entity}'.",
                )
            )
    query.top = _int(req, "$top")
    query.skip = _int(req, "$skip") or 0
    query.skiptoken = req.q1("$skiptoken")
    query.count = (req.q1("$count") or "").lower() == "true"
    if query.skip < 0:
        raise Reject(error(400, "BadRequest", "Invalid value for $skip: it must not be negative."))
    return query


def _token(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def _untoken(token: str) -> list[Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except ValueError:
        raise Reject(error(400, "BadRequest", "Invalid $skiptoken value.")) from None
    if not isinstance(values, list) or not values:
        raise Reject(error(400, "BadRequest", "Invalid $skiptoken value."))
    return values


def _link(site: Site, req: GraphRequest, name: str, value: str) -> str:
    kept = [(k, v) for k, v in req.query if k not in ("$skip", "$skiptoken")]
    kept.append((name, value))
    safe = ",:'()/@"
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe=safe)}" for k, v in kept)
    return f"{site.api_for(req)}{req.api_path}?{query}"


def page(
    site: Site,
    req: GraphRequest,
    query: Query,
    rows: Sequence[tuple[Mapping[str, Any], int, T]],
    *,
    default_order: Sequence[OrderBy] = (),
    render: Callable[[T], dict[str, Any]],
    context: str,
) -> GraphResponse:
    """The page of ``rows`` (``(what $filter sees, arrival number, item)``) the query asks
    for, as Graph's collection answer."""
    settings = site.settings
    size = settings.page_size if query.top is None else query.top
    if not 1 <= size <= settings.max_page_size:
        raise Reject(
            error(
                400,
                "BadRequest",
                f"The value of $top must be between 1 and {settings.max_page_size}.",
            )
        )
    chosen = [r for r in rows if query.filter is None or query.filter.matches(r[0])]
    keys = list(query.orderby or default_order)
    ordered = sort([(r[0], r[1]) for r in chosen], keys)
    items = {r[1]: r[2] for r in chosen}
    start = query.skip
    if query.skiptoken is not None:
        if settings.paging != "skiptoken":
            raise Reject(error(400, "BadRequest", "Invalid $skiptoken value."))
        start += sort_key_after(ordered, keys, _untoken(query.skiptoken))
    window = ordered[start : start + size]
    body: dict[str, Any] = {"@odata.context": context}
    if query.count:
        body["@odata.count"] = len(ordered)
    body["value"] = [render(items[seq]) for _row, seq in window]
    if start + size < len(ordered) and window:
        if settings.paging == "skip":
            body["@odata.nextLink"] = _link(site, req, "$skip", str(start + size))
        else:
            last_row, last_seq = window[-1]
            values = [value_at(last_row, k.path) for k in keys] + [last_seq]
            body["@odata.nextLink"] = _link(site, req, "$skiptoken", _token(values))
    return GraphResponse(200, body)
