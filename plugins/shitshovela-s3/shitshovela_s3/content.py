"""How an object's content becomes a ticket's title and body (pure functions, no I/O).

``text``: UTF-8 (a BOM is dropped); the title is the first line and the body the
rest, or (``TITLE_FROM=key``) the title is the key and the body the whole
content. ``json``: one JSON object; the title is the ``TITLE_FIELD`` value, the
body the ``BODY_FIELD`` value or, without one, the other fields pretty-printed;
top-level scalar fields are also offered to plugins as ``meta["json.<name>"]``.

Content that cannot be read as the configured format raises `Undecodable`,
which the source turns into a `PoisonItem` (I12). A body longer than the
limit is cut on a character boundary and ends with a note naming the
attachment that carries the whole object.
"""

from __future__ import annotations

import codecs
import json
from typing import Any

import attrs

#: Titles are cut to this many characters (Jira's summary takes 255).
TITLE_MAX = 250
#: At most this many top-level JSON fields are copied into ``meta``.
META_FIELDS_MAX = 50
META_VALUE_MAX = 1000


class Undecodable(ValueError):
    """The content is not what the configured format expects."""


@attrs.frozen
class Rendered:
    """A ticket's text made from one object."""

    title: str
    body: str
    truncated: bool
    meta: dict[str, str] = attrs.field(factory=dict)


def key_title(key: str, prefix: str) -> str:
    """The title made from a key: the key without the listed prefix."""
    name = key[len(prefix) :] if prefix and key.startswith(prefix) else key
    return _clip_title(name or key)


def _clip_title(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= TITLE_MAX:
        return text
    return text[: TITLE_MAX - 1] + "…"


def truncation_note(shown: int, total: int, attachment: str) -> str:
    """The line that ends a truncated body."""
    return (
        f"\n\n[Truncated: the first {shown} of {total} bytes are shown; the whole object is "
        f"attached as {attachment}.]"
    )


def decode_text(data: bytes, *, complete: bool) -> str:
    """Decode UTF-8; when ``complete`` is False the data is a prefix of the object and a
    character cut at its end is dropped. Raise `Undecodable`."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        return str(decoder.decode(data, final=complete))
    except UnicodeDecodeError as exc:
        raise Undecodable(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _cut(text: str, limit: int) -> tuple[str, bool]:
    """Cut ``text`` to at most ``limit`` UTF-8 bytes on a character boundary."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text, False
    return encoded[:limit].decode("utf-8", errors="ignore"), True


def render_text(
    data: bytes,
    *,
    total: int,
    key: str,
    prefix: str,
    title_from: str,
    body_limit: int,
    attachment: str,
) -> Rendered:
    """Title and body from (the first ``len(data)`` bytes of) a text object of ``total`` bytes."""
    complete = len(data) >= total
    text = decode_text(data, complete=complete)
    if title_from == "key":
        title, body = key_title(key, prefix), text
    else:
        first, _, body = text.partition("\n")
        title = _clip_title(first.strip()) or key_title(key, prefix)
    body, cut = _cut(body, body_limit)
    truncated = cut or not complete
    if truncated:
        shown = len(data) if not cut else len(body.encode("utf-8"))
        body += truncation_note(min(shown, total), total, attachment)
    return Rendered(title=title, body=body, truncated=truncated)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


def render_json(
    data: bytes,
    *,
    total: int,
    key: str,
    prefix: str,
    title_field: str,
    body_field: str,
    body_limit: int,
    attachment: str,
) -> Rendered:
    """Title and body from a JSON object (``data`` is the whole object). Raise `Undecodable`."""
    text = decode_text(data, complete=True)
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise Undecodable(f"not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise Undecodable(f"JSON is a {type(document).__name__}, not an object")
    try:  # an escaped lone surrogate ("\ud800") parses, but is no text a ticket can hold
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise Undecodable(f"JSON strings that are not valid Unicode ({exc.reason})") from None
    raw_title = document.get(title_field)
    title = _clip_title(_as_text(raw_title)) if raw_title not in (None, "") else ""
    title = title or key_title(key, prefix)
    if body_field and body_field in document:
        body = _as_text(document[body_field])
    else:
        rest = {k: v for k, v in document.items() if k != title_field}
        body = _as_text(rest) if rest else ""
    body, truncated = _cut(body, body_limit)
    if truncated:
        body += truncation_note(len(body.encode("utf-8")), total, attachment)
    meta: dict[str, str] = {}
    for name, value in document.items():
        if len(meta) >= META_FIELDS_MAX:
            break
        if isinstance(value, str | int | float | bool):
            meta[f"json.{name}"] = str(value)[:META_VALUE_MAX]
    return Rendered(title=title, body=body, truncated=truncated, meta=meta)
