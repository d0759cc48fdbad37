"""One message: get, MIME, update, delete, move, copy, attachments.

* ``GET …/messages/{id}`` (also under ``mailFolders/{id}``, where a message in
  another folder is 404): the message, ``$select`` and ``$expand``
  (``singleValueExtendedProperties($filter=id eq '…')``, ``attachments``); its
  ``id`` is the immutable id when the request sent ``Prefer:
  IdType="ImmutableId"``, else the REST id of its current placement. Either id
  names the message in a path.
* ``GET …/messages/{id}/$value``: the MIME, byte for byte as it was delivered,
  streamed in chunks (``application/octet-stream``).
* ``PATCH …/messages/{id}``: ``categories``, ``isRead``, ``flag``,
  ``importance``, ``inferenceClassification`` and ``singleValueExtendedProperties``
  (``[{"id", "value"}]``, set or replaced); every change makes a new change
  key. Properties only a draft may change are 400
  ``ErrorInvalidPropertyUpdateSentMessage``, read-only ones 400.
* ``DELETE …/messages/{id}``: 204; the message moves to Deleted Items (a new
  REST id), or on from there to Recoverable Items; from there it is gone.
* ``POST …/messages/{id}/permanentDelete`` (``…/microsoft.graph.permanentDelete``):
  204, gone for good. Not in the excerpt: answered unchecked.
* ``POST …/messages/{id}/microsoft.graph.move`` (or ``…/move``), body
  ``{"destinationId"}`` (any case of the key; a folder id or well-known name):
  201 with the moved message, whose REST id is new (the old one is gone) and
  whose immutable id stays. ``…/microsoft.graph.copy`` (``…/copy``): 201 with
  a new message (new ids).
* ``GET …/messages/{id}/attachments`` and ``…/attachments/{id}``: the MIME's
  attachments as ``fileAttachment`` (with ``contentBytes``) or ``itemAttachment``.
"""

from __future__ import annotations

import re
from typing import Any

from . import render
from .mime import attachment_contents
from .odata import QueryError, parse_filter
from .paging import Query, page, query_error, read_query
from .site import Site, item_not_found
from .state import Folder, Mailbox, Message
from .wire import GraphRequest, GraphResponse, Reject, error, json_body

__all__ = [
    "EXPANDABLE",
    "copy_message",
    "delete_message",
    "get_attachment",
    "get_folder_message",
    "get_folder_message_content",
    "get_message",
    "get_message_content",
    "list_attachments",
    "move_message",
    "permanent_delete",
    "render_message",
    "update_message",
]

#: What ``$expand`` may name on a message.
EXPANDABLE = ("singleValueExtendedProperties", "attachments")
#: How many bytes of MIME go in one chunk of a ``$value`` answer.
CHUNK = 64 * 1024
#: Properties a client may change on a message that is not a draft.
UPDATABLE = frozenset({
    "categories", "isRead", "flag", "importance", "inferenceClassification",
    "singleValueExtendedProperties",
})  # fmt: skip
#: Properties only a draft's update may change.
DRAFT_ONLY = frozenset({
    "subject", "body", "toRecipients", "ccRecipients", "bccRecipients", "replyTo", "from",
    "sender", "internetMessageId", "isDeliveryReceiptRequested", "isReadReceiptRequested",
    "internetMessageHeaders",
})  # fmt: skip
_EXTENDED_ID = re.compile(
    r"^(Binary|Boolean|CLSID|Currency|Double|Float|Integer|Long|Object|Short|String|SystemTime)"
    r"\s+(\{[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\}\s+(Name\s+\S.*|Id\s+0x[0-9a-fA-F]+)"
    r"|0x[0-9a-fA-F]+)$"
)
_EXTENDED_ENTITY = "singleValueLegacyExtendedProperty"


def message_query(req: GraphRequest) -> Query:
    return read_query(
        req,
        entity="message",
        known=render.MESSAGE_PROPERTIES,
        selectable=render.SELECTABLE,
        expandable=EXPANDABLE,
    )


def _attachments(msg: Message, *, content: bool) -> list[dict[str, Any]]:
    items = msg.parsed.attachments
    contents = attachment_contents(msg.mime) if content and items else []
    out = []
    for item in items:
        data = contents[item.index] if content and item.index < len(contents) else None
        out.append(render.attachment(msg, item, _attachment_id(msg, item.index), data))
    return out


def _attachment_id(msg: Message, index: int) -> str:
    """An attachment's id: the same for the message's whole life in the mailbox."""
    return f"{msg.immutable_id[:-4]}ARIAEA{index:04d}"


def render_message(site: Site, req: GraphRequest, msg: Message, query: Query) -> dict[str, Any]:
    """The message as this request asks for it (ids, body type, ``$select``, ``$expand``)."""
    extended = None
    if "singleValueExtendedProperties" in query.expand:
        text = query.expand["singleValueExtendedProperties"]
        props = [{"id": key, "value": value} for key, value in msg.extended.values()]
        if text is not None:
            try:
                wanted = parse_filter(text, ("id", "value"), _EXTENDED_ENTITY)
            except QueryError as exc:
                raise query_error(exc) from None
            props = [p for p in props if wanted.matches(p)]
        extended = props
    attachments = _attachments(msg, content=True) if "attachments" in query.expand else None
    return render.message(
        msg,
        immutable=req.immutable_ids,
        body_type=req.body_type,
        select=query.select,
        extended=extended,
        attachments=attachments,
    )


def _single(
    site: Site, req: GraphRequest, user: str, msg: Message, status: int = 200
) -> GraphResponse:
    body = render_message(site, req, msg, message_query(req))
    return GraphResponse(
        status, {"@odata.context": site.context(req, user, "/messages/$entity"), **body}
    )


def get_message(site: Site, req: GraphRequest, user_id: str, message_id: str) -> GraphResponse:
    """``GET /users/{user-id}/messages/{message-id}``."""
    box = site.mailbox_for(user_id)
    return _single(site, req, user_id, site.message_for(box, message_id))


def get_folder_message(
    site: Site, req: GraphRequest, user_id: str, mailFolder_id: str, message_id: str
) -> GraphResponse:
    """``GET /users/{user-id}/mailFolders/{mailFolder-id}/messages/{message-id}``."""
    box = site.mailbox_for(user_id)
    folder = site.folder_for(box, mailFolder_id)
    return _single(site, req, user_id, site.message_for(box, message_id, folder))


def _content(msg: Message) -> GraphResponse:
    return GraphResponse(
        200, raw=msg.mime, content_type="application/octet-stream", chunk_size=CHUNK
    )


def get_message_content(
    site: Site, req: GraphRequest, user_id: str, message_id: str
) -> GraphResponse:
    """``GET /users/{user-id}/messages/{message-id}/$value``."""
    box = site.mailbox_for(user_id)
    return _content(site.message_for(box, message_id))


def get_folder_message_content(
    site: Site, req: GraphRequest, user_id: str, mailFolder_id: str, message_id: str
) -> GraphResponse:
    """``GET /users/{user-id}/mailFolders/{mailFolder-id}/messages/{message-id}/$value``."""
    box = site.mailbox_for(user_id)
    folder = site.folder_for(box, mailFolder_id)
    return _content(site.message_for(box, message_id, folder))


def _bad(name: str) -> Reject:
    return Reject(error(400, "ErrorInvalidRequest", f"Invalid value for property '{name}'."))


def _apply(msg: Message, body: dict[str, Any]) -> None:
    """Check every change first, then make them all (an update is all or nothing)."""
    for name in body:
        if name.startswith("@odata."):
            continue
        if name in DRAFT_ONLY:
            raise Reject(
                error(400, "ErrorInvalidPropertyUpdateSentMessage",
                      "Update operation is not allowed on a sent message.")
            )  # fmt: skip
        if name not in UPDATABLE:
            raise Reject(
                error(400, "ErrorInvalidProperty", f"The property '{name}' can't be updated.")
            )
    categories = body.get("categories", msg.categories)
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise _bad("categories")
    is_read = body.get("isRead", msg.is_read)
    if not isinstance(is_read, bool):
        raise _bad("isRead")
    flag = body.get("flag", {"flagStatus": msg.flag_status})
    status = flag.get("flagStatus", msg.flag_status) if isinstance(flag, dict) else None
    if status not in ("notFlagged", "complete", "flagged"):
        raise _bad("flag")
    importance = body.get("importance", msg.importance)
    if importance not in ("low", "normal", "high"):
        raise _bad("importance")
    inference = body.get("inferenceClassification", msg.inference)
    if inference not in ("focused", "other"):
        raise _bad("inferenceClassification")
    extended = dict(msg.extended)
    given = body.get("singleValueExtendedProperties", [])
    if not isinstance(given, list):
        raise _bad("singleValueExtendedProperties")
    for prop in given:
        key = prop.get("id") if isinstance(prop, dict) else None
        value = prop.get("value") if isinstance(prop, dict) else None
        if not isinstance(key, str) or _EXTENDED_ID.match(key.strip()) is None:
            raise Reject(
                error(400, "ErrorInvalidProperty",
                      f"The extended property id '{key}' is not valid.")
            )  # fmt: skip
        if not isinstance(value, str):
            raise _bad("singleValueExtendedProperties")
        extended[key.strip().casefold()] = (key.strip(), value)
    msg.categories = list(categories)
    msg.is_read = is_read
    msg.flag_status = status
    msg.importance = importance
    msg.inference = inference
    msg.extended = extended


def update_message(site: Site, req: GraphRequest, user_id: str, message_id: str) -> GraphResponse:
    """``PATCH /users/{user-id}/messages/{message-id}``."""
    box = site.mailbox_for(user_id)
    msg = site.message_for(box, message_id)
    site.check_if_match(req, msg)
    body = json_body(req)
    _apply(msg, body)
    site.state.changed(msg)
    return _single(site, req, user_id, msg)


def delete_message(site: Site, req: GraphRequest, user_id: str, message_id: str) -> GraphResponse:
    """``DELETE /users/{user-id}/messages/{message-id}``: a soft delete (see the module)."""
    box = site.mailbox_for(user_id)
    msg = site.message_for(box, message_id)
    site.check_if_match(req, msg)
    site.state.soft_delete(box, msg)
    return GraphResponse(204)


def permanent_delete(site: Site, req: GraphRequest, user_id: str, message_id: str) -> GraphResponse:
    """``POST /users/{user-id}/messages/{message-id}/permanentDelete``."""
    box = site.mailbox_for(user_id)
    msg = site.message_for(box, message_id)
    site.state.purge(box, msg)
    return GraphResponse(204)


def _destination(site: Site, req: GraphRequest, box: Mailbox) -> Folder:
    body = json_body(req)
    given = [v for k, v in body.items() if k.casefold() == "destinationid"]
    if len(given) != 1 or not isinstance(given[0], str) or not given[0]:
        raise Reject(
            error(400, "ErrorInvalidParameter",
                  "The parameter 'DestinationId' is missing or not a string.")
        )  # fmt: skip
    return site.folder_for(box, given[0])


def move_message(site: Site, req: GraphRequest, user_id: str, message_id: str) -> GraphResponse:
    """``POST …/messages/{message-id}/microsoft.graph.move`` (or ``…/move``)."""
    box = site.mailbox_for(user_id)
    msg = site.message_for(box, message_id)
    folder = _destination(site, req, box)
    site.state.move(box, msg, folder)
    return _single(site, req, user_id, msg, 201)


def copy_message(site: Site, req: GraphRequest, user_id: str, message_id: str) -> GraphResponse:
    """``POST …/messages/{message-id}/microsoft.graph.copy`` (or ``…/copy``)."""
    box = site.mailbox_for(user_id)
    msg = site.message_for(box, message_id)
    folder = _destination(site, req, box)
    made = site.state.copy(box, msg, folder)
    return _single(site, req, user_id, made, 201)


def list_attachments(site: Site, req: GraphRequest, user_id: str, message_id: str) -> GraphResponse:
    """``GET /users/{user-id}/messages/{message-id}/attachments``."""
    box = site.mailbox_for(user_id)
    msg = site.message_for(box, message_id)
    query = read_query(
        req, entity="attachment", known=render.ATTACHMENT_PROPERTIES,
        selectable=render.ATTACHMENT_PROPERTIES,
    )  # fmt: skip
    rows = [(a, n, a) for n, a in enumerate(_attachments(msg, content=True))]

    def shown(item: dict[str, Any]) -> dict[str, Any]:
        if query.select is None:
            return item
        return {k: v for k, v in item.items() if k in query.select or k in ("id", "@odata.type")}

    context = site.context(req, user_id, f"/messages('{msg.rest_id}')/attachments")
    return page(site, req, query, rows, render=shown, context=context)


def get_attachment(
    site: Site, req: GraphRequest, user_id: str, message_id: str, attachment_id: str
) -> GraphResponse:
    """``GET /users/{user-id}/messages/{message-id}/attachments/{attachment-id}``."""
    box = site.mailbox_for(user_id)
    msg = site.message_for(box, message_id)
    for item in _attachments(msg, content=True):
        if item["id"] == attachment_id:
            context = site.context(req, user_id, f"/messages('{msg.rest_id}')/attachments/$entity")
            return GraphResponse(200, {"@odata.context": context, **item})
    raise item_not_found()
