"""Graph's JSON shapes: messages, mail folders, attachments, single-value extended properties.

The single-valued complex and enum properties (``from``, ``sender``, ``body``,
``flag``, ``importance``, …) are not nullable in the excerpt (see
``specs/graph-mail.README.md``), so a message without a sender leaves
``from``/``sender`` out rather than sending ``null``. ``$select`` keeps ``id``
and ``@odata.etag`` (as Graph does) and the selected properties;
``internetMessageHeaders`` and ``uniqueBody`` come only when selected.
`message_row` is the message as ``$filter`` and ``$orderby`` see it (every
property but the bodies, with its extended properties).
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from .mime import Address, MimeAttachment
from .state import Folder, Message, iso

__all__ = [
    "FOLDER_PROPERTIES",
    "MESSAGE_PROPERTIES",
    "attachment",
    "body_text",
    "folder",
    "message",
    "message_row",
]

#: The message properties of the excerpt's ``microsoft.graph.message`` (with ``outlookItem``
#: and ``entity``); the last four are navigation properties (``$expand``, not ``$select``).
MESSAGE_PROPERTIES: tuple[str, ...] = (
    "id", "categories", "changeKey", "createdDateTime", "lastModifiedDateTime",
    "bccRecipients", "body", "bodyPreview", "ccRecipients", "conversationId",
    "conversationIndex", "flag", "from", "hasAttachments", "importance",
    "inferenceClassification", "internetMessageHeaders", "internetMessageId",
    "isDeliveryReceiptRequested", "isDraft", "isRead", "isReadReceiptRequested",
    "parentFolderId", "receivedDateTime", "replyTo", "sender", "sentDateTime", "subject",
    "toRecipients", "uniqueBody", "webLink",
    "attachments", "extensions", "multiValueExtendedProperties", "singleValueExtendedProperties",
)  # fmt: skip
#: What ``$select`` may name on a message.
SELECTABLE = MESSAGE_PROPERTIES[:-4]
#: Shown only when ``$select`` names them.
_ONLY_SELECTED = frozenset({"internetMessageHeaders", "uniqueBody"})
FOLDER_PROPERTIES: tuple[str, ...] = (
    "id", "childFolderCount", "displayName", "isHidden", "parentFolderId", "totalItemCount",
    "unreadItemCount",
)  # fmt: skip
ATTACHMENT_PROPERTIES: tuple[str, ...] = (
    "id", "contentType", "isInline", "lastModifiedDateTime", "name", "size",
)  # fmt: skip
_TAGS = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def _recipient(address: Address) -> dict[str, Any]:
    return {"emailAddress": {"name": address.name or address.address, "address": address.address}}


def _recipients(addresses: Iterable[Address]) -> list[dict[str, Any]]:
    return [_recipient(a) for a in addresses]


def body_text(msg: Message) -> str:
    """The message's text: its text part, or its HTML without tags."""
    if msg.parsed.text is not None:
        return msg.parsed.text
    if msg.parsed.html is not None:
        return html.unescape(_TAGS.sub(" ", msg.parsed.html))
    return ""


def _body(msg: Message, body_type: str) -> dict[str, Any]:
    if body_type == "text":
        return {"contentType": "text", "content": body_text(msg)}
    if msg.parsed.html is not None:
        return {"contentType": "html", "content": msg.parsed.html}
    escaped = html.escape(msg.parsed.text or "").replace("\r\n", "\n").replace("\n", "<br>\r\n")
    content = (
        '<html><head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        f"</head><body><div>{escaped}</div></body></html>"
    )
    return {"contentType": "html", "content": content}


def _conversation_index(msg: Message) -> str:
    digest = hashlib.sha256(msg.conversation_id.encode("ascii")).digest()[:22]
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _extended(msg: Message) -> list[dict[str, Any]]:
    return [{"id": key, "value": value} for key, value in msg.extended.values()]


def _sent(msg: Message) -> str:
    sent = msg.parsed.sent
    return iso(sent.timestamp()) if sent is not None else iso(msg.received)


def _web_link(msg: Message) -> str:
    return (
        "https://outlook.office365.com/owa/?ItemID="
        + quote(msg.rest_id, safe="")
        + "&exvsurl=1&viewmodel=ReadMessageItem"
    )


Getter = Callable[[Message, bool], Any]
"""A message property's value: ``getter(message, immutable ids wanted)``."""

#: How each property of a listed message is made, in Graph's order.
_GETTERS: dict[str, Getter] = {
    "@odata.etag": lambda m, i: f'W/"{m.change_key}"',
    "id": lambda m, i: m.immutable_id if i else m.rest_id,
    "createdDateTime": lambda m, i: iso(m.created),
    "lastModifiedDateTime": lambda m, i: iso(m.modified),
    "changeKey": lambda m, i: m.change_key,
    "categories": lambda m, i: list(m.categories),
    "receivedDateTime": lambda m, i: iso(m.received),
    "sentDateTime": lambda m, i: _sent(m),
    "hasAttachments": lambda m, i: m.parsed.has_attachments,
    "internetMessageId": lambda m, i: m.internet_message_id,
    "subject": lambda m, i: m.parsed.subject,
    "importance": lambda m, i: m.importance,
    "parentFolderId": lambda m, i: m.folder_id,
    "conversationId": lambda m, i: m.conversation_id,
    "conversationIndex": lambda m, i: _conversation_index(m),
    "isDeliveryReceiptRequested": lambda m, i: None,
    "isReadReceiptRequested": lambda m, i: m.parsed.read_receipt,
    "isRead": lambda m, i: m.is_read,
    "isDraft": lambda m, i: False,
    "webLink": lambda m, i: _web_link(m),
    "inferenceClassification": lambda m, i: m.inference,
    "toRecipients": lambda m, i: _recipients(m.parsed.to),
    "ccRecipients": lambda m, i: _recipients(m.parsed.cc),
    "bccRecipients": lambda m, i: _recipients(m.parsed.bcc),
    "replyTo": lambda m, i: _recipients(m.parsed.reply_to),
    "flag": lambda m, i: {"flagStatus": m.flag_status},
    "sender": lambda m, i: _recipient(m.parsed.sender) if m.parsed.sender else None,
    "from": lambda m, i: _recipient(m.parsed.from_) if m.parsed.from_ else None,
    "singleValueExtendedProperties": lambda m, i: _extended(m),
}
#: Not nullable in the excerpt: left out when there is no value.
_OMIT_WHEN_NONE = frozenset({"sender", "from"})


def message_row(
    msg: Message, *, immutable: bool, only: Collection[str] | None = None
) -> dict[str, Any]:
    """The message as ``$filter``/``$orderby`` see it (no bodies; extended properties in);
    ``only``: just these properties (a listing computes what its query uses)."""
    row: dict[str, Any] = {}
    for name, getter in _GETTERS.items():
        if only is not None and name not in only:
            continue
        value = getter(msg, immutable)
        if value is None and name in _OMIT_WHEN_NONE:
            continue
        row[name] = value
    return row


def message(
    msg: Message,
    *,
    immutable: bool,
    body_type: str = "html",
    select: Sequence[str] | None = None,
    extended: Sequence[Mapping[str, Any]] | None = None,
    attachments: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The message as Graph answers it. ``extended``/``attachments``: what ``$expand`` adds."""
    row = message_row(msg, immutable=immutable)
    del row["singleValueExtendedProperties"]
    wanted = set(select) if select is not None else None

    def want(name: str) -> bool:
        return name in wanted if wanted is not None else name not in _ONLY_SELECTED

    if want("body") or want("uniqueBody"):
        body = _body(msg, body_type)
        if want("body"):
            row["body"] = body
        if want("uniqueBody"):
            row["uniqueBody"] = body
    if want("bodyPreview"):
        row["bodyPreview"] = _SPACE.sub(" ", body_text(msg)).strip()[:255]
    if want("internetMessageHeaders"):
        row["internetMessageHeaders"] = [
            {"name": name, "value": value} for name, value in msg.parsed.headers
        ]
    if wanted is not None:
        row = {k: v for k, v in row.items() if k in wanted or k in ("id", "@odata.etag")}
    if extended:
        row["singleValueExtendedProperties"] = [dict(e) for e in extended]
    if attachments is not None:
        row["attachments"] = [dict(a) for a in attachments]
    return row


def attachment(
    msg: Message, item: MimeAttachment, attachment_id: str, content: bytes | None
) -> dict[str, Any]:
    """A ``fileAttachment`` (with ``contentBytes`` when ``content`` is given) or an
    ``itemAttachment`` (an attached message)."""
    kind = "itemAttachment" if item.is_item else "fileAttachment"
    body: dict[str, Any] = {
        "@odata.type": f"#microsoft.graph.{kind}",
        "@odata.mediaContentType": item.content_type,
        "id": attachment_id,
        "lastModifiedDateTime": iso(msg.created),
        "name": item.name,
        "contentType": item.content_type,
        "size": item.size,
        "isInline": item.is_inline,
    }
    if not item.is_item:
        body["contentId"] = item.content_id
        body["contentLocation"] = None
        if content is not None:
            body["contentBytes"] = base64.b64encode(content).decode("ascii")
    return body


def folder(found: Folder, children: int, total: int, unread: int) -> dict[str, Any]:
    """A ``mailFolder``."""
    return {
        "id": found.id,
        "displayName": found.display_name,
        "parentFolderId": found.parent_id or found.id,
        "childFolderCount": children,
        "unreadItemCount": unread,
        "totalItemCount": total,
        "isHidden": found.hidden,
    }
