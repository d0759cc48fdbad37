"""A message made an `Item`, whatever protocol read it.

A mail source knows how to reach a message's header block, its MIME tree
(`Part`) and the bytes of a part; what the ticket shows is decided here, once
for every mail source:

- `shown_parts`: the text parts shown, up to about `TEXT_LIMIT` bytes in all;
- `mail_item`: the Item itself (title, text, sender, date, meta, attachments);
- `part_attachment`: one part as an `Attachment` streamed by the source's opener.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import IO

from shitshovela_core import Attachment, Item, Origin

from .mime import MessageHeaders, Part, attachment_name, attachment_parts, part_text, text_parts

#: Bytes of one text part read for the ticket; longer text is cut (ticket systems cap
#: their bodies far below this) and the part is attached whole.
TEXT_LIMIT = 1024 * 1024

#: The title of a message without a subject.
NO_SUBJECT = "(no subject)"


def shown_parts(root: Part) -> list[Part]:
    """The text parts to show, up to about `TEXT_LIMIT` bytes in all (the parts after
    that become attachments: nothing is dropped)."""
    shown: list[Part] = []
    left = TEXT_LIMIT
    for part in text_parts(root):
        if shown and left <= 0:
            break
        shown.append(part)
        left -= min(part.size, TEXT_LIMIT)
    return shown


def part_attachment(
    part: Part, opener: Callable[[], AbstractContextManager[IO[bytes]]]
) -> Attachment:
    """``part`` as an `Attachment`: its safe name (`attachment_name`), its type, its
    decoded size (`Part.decoded_size`), and ``opener`` to stream its decoded content."""
    return Attachment(
        name=attachment_name(part),
        content_type=part.content_type,
        size=part.decoded_size(),
        opener=opener,
    )


def mail_item(
    origin: Origin,
    headers: MessageHeaders,
    root: Part,
    shown: Sequence[Part],
    texts: Mapping[str, bytes],
    attachment: Callable[[Part], Attachment],
    meta: Mapping[str, str],
    created: datetime | None,
    claimed_at: datetime | None = None,
    claim_token: str = "",
) -> Item:
    """The Item for one message.

    ``shown`` are its `shown_parts`; ``texts`` maps each shown part's section to its
    first `TEXT_LIMIT` raw (transfer-encoded) bytes. The body is their texts joined
    by a blank line; a text longer than `TEXT_LIMIT` is cut there and attached whole
    (a note at the end of the body says so). The attachments are the other leaves
    (`attachment_parts`), each made by ``attachment`` (the source's opener factory).
    The title is the subject, or "(no subject)"; ``created`` is the Date header, else
    the given time (the server's arrival time). ``meta`` (the source's own entries:
    mailbox, uid, ...) follows the header entries (from, to, cc, reply_to, date,
    message_id); empty values are dropped."""
    bodies: list[str] = []
    for part in shown:
        text = part_text(part, texts.get(part.section, b""))
        if text.strip():
            bodies.append(text)
    body = "\n\n".join(bodies)
    long_texts = [p for p in shown if p.size > TEXT_LIMIT]
    if long_texts:  # cut here, attached whole: nothing is lost with the message
        names = ", ".join(attachment_name(p) for p in long_texts)
        body += (
            f"\n\n[The text was longer than {TEXT_LIMIT} bytes; it is attached whole as {names}.]"
        )
    files = [*attachment_parts(root, shown), *long_texts]
    entries = {
        "from": headers.from_text,
        "to": headers.to,
        "cc": headers.cc,
        "reply_to": headers.reply_to,
        "date": headers.get("date").strip(),
        "message_id": headers.message_id,
        **meta,
    }
    return Item(
        origin=origin,
        title=headers.subject or NO_SUBJECT,
        body=body,
        sender=headers.sender,
        created=headers.date or created,
        meta={k: v for k, v in entries.items() if v},
        attachments=tuple(attachment(part) for part in files),
        claimed_at=claimed_at,
        claim_token=claim_token,
    )
