"""ShitShovela's mail handling, shared by the mail sources (IMAP, Microsoft Graph).

A library, not a provider: it registers nothing. A mail source reads a message's
header block and MIME tree its own way (IMAP's ``BODYSTRUCTURE``, or Graph's raw
MIME through `scan_message`) and hands them to the functions here, so that a
message becomes the same ticket whichever protocol read it:

- `shitshovela_mail.mime`: headers (`parse_headers`, `MessageHeaders`,
  `header_digest`, `auto_reply_reason`), the MIME tree (`Part`, `parse_structure`,
  `text_parts`, `attachment_parts`, `attachment_name`), decoding (`decoder_for`,
  `part_text`, `html_to_text`, `well_formed`);
- `shitshovela_mail.items`: the Item (`TEXT_LIMIT`, `shown_parts`, `mail_item`,
  `part_attachment`);
- `shitshovela_mail.loops`: auto-replies and the per-sender cap (`LoopGuard`,
  `LoopVerdict`);
- `shitshovela_mail.settings`: the settings every mail source shares
  (`MailSettings`);
- `shitshovela_mail.raw`: a whole message in a file read as the same MIME tree
  (`scan_message`, `ScannedMessage`, `open_part`, `part_texts`), memory bounded by a
  line, never by a body.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .items import NO_SUBJECT, TEXT_LIMIT, mail_item, part_attachment, shown_parts
    from .loops import LEAVE, TAKE, LoopGuard, LoopVerdict
    from .mime import (
        Decoder,
        MessageHeaders,
        Part,
        StructureError,
        attachment_name,
        attachment_parts,
        auto_reply_reason,
        decode_bytes,
        decode_header_value,
        decode_transfer,
        decoder_for,
        header_digest,
        html_to_text,
        parse_headers,
        parse_structure,
        part_text,
        text_parts,
        well_formed,
    )
    from .raw import ScannedMessage, open_part, part_texts, scan_message
    from .settings import MailSettings

#: Each public name and the submodule it lives in. The package imports them lazily, so
#: that a source's entry point importing `MailSettings` stays cheap (no ``email``
#: parsing machinery, no html-text).
_EXPORTS = {
    "NO_SUBJECT": "items",
    "TEXT_LIMIT": "items",
    "mail_item": "items",
    "part_attachment": "items",
    "shown_parts": "items",
    "LEAVE": "loops",
    "TAKE": "loops",
    "LoopGuard": "loops",
    "LoopVerdict": "loops",
    "Decoder": "mime",
    "MessageHeaders": "mime",
    "Part": "mime",
    "StructureError": "mime",
    "attachment_name": "mime",
    "attachment_parts": "mime",
    "auto_reply_reason": "mime",
    "decode_bytes": "mime",
    "decode_header_value": "mime",
    "decode_transfer": "mime",
    "decoder_for": "mime",
    "header_digest": "mime",
    "html_to_text": "mime",
    "parse_headers": "mime",
    "parse_structure": "mime",
    "part_text": "mime",
    "text_parts": "mime",
    "well_formed": "mime",
    "ScannedMessage": "raw",
    "open_part": "raw",
    "part_texts": "raw",
    "scan_message": "raw",
    "MailSettings": "settings",
}

__all__ = [
    "LEAVE",
    "NO_SUBJECT",
    "TAKE",
    "TEXT_LIMIT",
    "Decoder",
    "LoopGuard",
    "LoopVerdict",
    "MailSettings",
    "MessageHeaders",
    "Part",
    "ScannedMessage",
    "StructureError",
    "attachment_name",
    "attachment_parts",
    "auto_reply_reason",
    "decode_bytes",
    "decode_header_value",
    "decode_transfer",
    "decoder_for",
    "header_digest",
    "html_to_text",
    "mail_item",
    "open_part",
    "parse_headers",
    "parse_structure",
    "part_attachment",
    "part_text",
    "part_texts",
    "scan_message",
    "shown_parts",
    "text_parts",
    "well_formed",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'shitshovela_mail' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
