"""Turning a draft into what GitHub accepts: a title, a body with the origin, labels.

GitHub has no custom fields, so the origin reference travels in the body: the
core's origin marker (`shitshovela_core.embed_origin`), base64url-encoded in an
HTML comment that Markdown hides, placed at the very end, after the item's
text. Nothing is refused for its size:

- a title longer than GitHub's 256 characters is cut with an ellipsis, and the
  full title goes into the body;
- a body longer than ``MAX_BODY`` (GitHub's 65,536 characters) is cut with a
  visible note; the marker is never cut, and the reader takes the *last*
  well-formed marker (`shitshovela_core.find_origin`), so a marker quoted in the
  item's own text never stands in for the real one.

Lengths are counted in characters (code points), as GitHub's validation counts
them ("body is too long (maximum is 65536 characters)").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from shitshovela_core import FLAG_PREFIX, Attachment, Origin, embed_origin

from .config import LABEL_MAX, TITLE_MAX

ELLIPSIS = "…"
NO_TITLE = "(no title)"
_SPACE_RUN = re.compile(r"\s+")


def title(text: str) -> tuple[str, bool]:
    """A valid issue title for ``text`` and whether it was cut: one line (each run of
    whitespace one space), never empty, at most `TITLE_MAX` characters."""
    line = _SPACE_RUN.sub(" ", text).strip() or NO_TITLE
    if len(line) <= TITLE_MAX:
        return line, False
    return line[: TITLE_MAX - len(ELLIPSIS)].rstrip() + ELLIPSIS, True


def size(count: int) -> str:
    """``1.2 MB``, ``900 bytes``: a file size for people."""
    value = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{count} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} bytes"  # pragma: no cover - the loop always returns


def attachment_lines(attachments: Sequence[Attachment]) -> list[str]:
    """The files of an item, for the body: GitHub's API cannot upload them."""
    if not attachments:
        return []
    lines = [
        "",
        f"Files of the item ({len(attachments)}), not uploaded (GitHub's API cannot take files):",
    ]
    for attachment in attachments:
        kind = attachment.content_type or "application/octet-stream"
        lines.append(f"- `{code(attachment.name)}` ({kind}, {size(attachment.size)})")
    return lines


def code(text: str) -> str:
    """``text`` made safe inside a one-line Markdown code span: no backtick, no line end."""
    return _SPACE_RUN.sub(" ", text).replace("`", "'")


def body(
    *,
    instance: str,
    origin: Origin,
    draft_title: str,
    draft_body: str,
    attachments: Sequence[Attachment],
    limit: int,
) -> str:
    """The issue body: a header, the item's text, the origin marker last (never cut)."""
    header = [f"Created by ShitShovela ({instance}) from `{code(origin.describe())}`"]
    _, cut = title(draft_title)
    if cut:
        header.append("Full title: " + _SPACE_RUN.sub(" ", draft_title).strip())
    header.extend(attachment_lines(attachments))
    text = "\n".join(header) + "\n\n---\n\n" + draft_body.replace("\r\n", "\n")
    return embed_origin(text, origin.to_ref(), limit=limit)


def labels(configured: Iterable[str], drafted: Iterable[str], flag_label: str) -> list[str]:
    """The create's labels: configured, the draft's (if GitHub can take them), the flag.

    A draft label that looks like a flag, is empty, has a comma or is longer than
    GitHub's 50 characters is left out; names are unique ignoring case, as GitHub
    compares them."""
    out: dict[str, str] = {}
    for name in configured:
        out.setdefault(name.casefold(), name)
    for raw in drafted:
        name = _SPACE_RUN.sub(" ", raw).strip()
        if (
            not name
            or len(name) > LABEL_MAX
            or "," in name
            or name.casefold().startswith(FLAG_PREFIX)
        ):
            continue
        out.setdefault(name.casefold(), name)
    out[flag_label.casefold()] = flag_label
    return list(out.values())
