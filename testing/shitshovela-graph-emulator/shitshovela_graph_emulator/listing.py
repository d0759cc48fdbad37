"""Message lists: a folder's messages, and every message of a mailbox.

``GET /users/{id}/mailFolders/{id}/messages`` and ``GET /users/{id}/messages``
(every folder under ``msgfolderroot``, Recoverable Items left out): newest
first unless ``$orderby`` says otherwise (``receivedDateTime asc``: oldest
first), 10 a page unless ``$top`` says otherwise (1 to 1,000), ``$select``,
``$expand``, ``$filter``, ``$count``, paged by ``@odata.nextLink`` (see
`paging`). With both ``$filter`` and ``$orderby``, the sorted properties must
come first in the filter, in the same order, or Graph answers 400
``InefficientFilter`` (Microsoft's "Update to Filtering and Sorting in the
Mail, Calendar and Contacts REST API"). Listings are consistent: they show
every write at once.
"""

from __future__ import annotations

from typing import Any

from . import render
from .mail import message_query, render_message
from .odata import OrderBy, QueryError, check_sortable
from .paging import page, query_error
from .site import Site
from .state import Message
from .wire import GraphRequest, GraphResponse

__all__ = ["DEFAULT_ORDER", "list_folder_messages", "list_messages"]

#: Graph's order of a message list without ``$orderby``: newest first.
DEFAULT_ORDER = (OrderBy(("receivedDateTime",), descending=True),)


def _list(site: Site, req: GraphRequest, messages: list[Message], context: str) -> GraphResponse:
    query = message_query(req)
    try:
        check_sortable(query.filter, query.orderby)
    except QueryError as exc:
        raise query_error(exc) from None
    keys = query.orderby or list(DEFAULT_ORDER)
    needed = {k.path[0] for k in keys}
    if query.filter is not None:
        needed.update(query.filter.properties)
    immutable = req.immutable_ids
    rows = [(render.message_row(m, immutable=immutable, only=needed), m.seq, m) for m in messages]

    def shown(msg: Message) -> dict[str, Any]:
        return render_message(site, req, msg, query)

    return page(site, req, query, rows, default_order=DEFAULT_ORDER, render=shown, context=context)


def list_folder_messages(
    site: Site, req: GraphRequest, user_id: str, mailFolder_id: str
) -> GraphResponse:
    """``GET /users/{user-id}/mailFolders/{mailFolder-id}/messages``."""
    box = site.mailbox_for(user_id)
    folder = site.folder_for(box, mailFolder_id)
    context = site.context(req, user_id, f"/mailFolders('{mailFolder_id}')/messages")
    return _list(site, req, site.state.in_folder(box, folder.id), context)


def list_messages(site: Site, req: GraphRequest, user_id: str) -> GraphResponse:
    """``GET /users/{user-id}/messages``."""
    box = site.mailbox_for(user_id)
    context = site.context(req, user_id, "/messages")
    return _list(site, req, site.state.in_mailbox(box), context)
