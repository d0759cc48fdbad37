"""Turning a draft's text into what Jira accepts: summary, labels and description.

Nothing is ever refused for its size: a title longer than Jira's 255
characters is cut with an ellipsis (the full title goes into the description),
and a body longer than the description limit is cut with a visible note (the
full text is attached by `JiraTickets.complete`).

Descriptions are built in two forms from the same lines (the provider's
flavour, `shitshovela_jira.flavours`, picks one and hands it to `description`
as ``render``):

- Cloud (REST v3): an Atlassian Document (ADF): one paragraph per block of
  non-blank lines, lines joined by ``hardBreak`` nodes, no empty text nodes.
- Data Center (REST v2): wiki markup with the whole text in one
  ``{noformat}`` block, so no character of the item is read as markup; a
  ``{noformat}`` inside the text is broken with a zero-width space.

Sizes are counted as Jira (Java) counts them, in UTF-16 code units, and for
ADF the serialised JSON document is measured, the conservative reading of the
limit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from .config import LABEL_MAX, SUMMARY_MAX

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NOFORMAT = re.compile(r"\{(noformat)", re.IGNORECASE)
_SPACE_RUN = re.compile(r"\s+")
ELLIPSIS = "…"
ZERO_WIDTH_SPACE = "\u200b"
NO_TITLE = "(no title)"
FULL_TEXT_NAME = "full-text.txt"

#: Lines to the value of a description field: `adf` or `wiki`.
Render = Callable[[Sequence[str]], str | dict[str, Any]]


def clean(text: str) -> str:
    """Normalise line ends to ``\\n`` and drop control characters Jira refuses."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def jira_length(text: str) -> int:
    """The length Jira (Java) sees: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def summary(title: str) -> tuple[str, bool]:
    """A valid Jira summary for ``title`` and whether it was cut.

    One line (every run of whitespace becomes one space), never empty, at most
    255 characters: a longer one ends in an ellipsis."""
    line = _SPACE_RUN.sub(" ", clean(title)).strip() or NO_TITLE
    if jira_length(line) <= SUMMARY_MAX:
        return line, False
    cut = line
    while jira_length(cut) > SUMMARY_MAX - 1:
        cut = cut[: -max(1, (jira_length(cut) - SUMMARY_MAX + 1) // 2)]
    return cut.rstrip() + ELLIPSIS, True


def label(value: str) -> str | None:
    """``value`` as a valid Jira label (whitespace becomes ``_``), or None if empty."""
    text = _SPACE_RUN.sub("_", clean(value).strip())
    if not text:
        return None
    return text[:LABEL_MAX]


# -- descriptions --------------------------------------------------------------------


def adf(lines: Sequence[str]) -> dict[str, Any]:
    """An Atlassian Document of paragraphs: blank lines separate paragraphs,
    other line ends become hard breaks."""
    paragraphs: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []

    def close() -> None:
        if current:
            paragraphs.append({"type": "paragraph", "content": list(current)})
            current.clear()

    for line in lines:
        if not line.strip():
            close()
            continue
        if current:
            current.append({"type": "hardBreak"})
        current.append({"type": "text", "text": line})
    close()
    return {"type": "doc", "version": 1, "content": paragraphs}


def wiki(lines: Sequence[str]) -> str:
    """Wiki markup showing ``lines`` verbatim in one ``{noformat}`` block."""
    text = "\n".join(lines).strip("\n")
    if not text:
        return ""
    safe = _NOFORMAT.sub("{" + ZERO_WIDTH_SPACE + r"\1", text)
    return "{noformat}\n" + safe + "\n{noformat}"


def size_of(value: str | dict[str, Any]) -> int:
    if isinstance(value, str):
        return jira_length(value)
    return jira_length(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def truncation_note(shown: int, total: int) -> str:
    """The visible note at the end of a cut description."""
    return (
        f"[… cut by ShitShovela: {shown} of {total} characters shown; the full text is "
        f"attached as {FULL_TEXT_NAME}]"
    )


def description(
    header: Sequence[str], body: str, *, limit: int, render: Render
) -> tuple[str | dict[str, Any], bool]:
    """The description for ``header`` lines and ``body``, within ``limit``.

    Returns the value for the ``description`` field, as ``render`` makes it
    (`adf` on Cloud, `wiki` on Data Center), and whether the body was cut.
    Header lines are kept whole (each at most 1000 characters); the body is cut
    at the longest prefix that fits together with the note."""
    head = [clean(h)[:1000] for h in header]
    text = clean(body)
    prefix = [*head, ""] if head else []
    full = render([*prefix, *text.split("\n")])
    if size_of(full) <= limit:
        return full, False

    def attempt(cut: int) -> str | dict[str, Any]:
        shown = text[:cut].rstrip()
        note = truncation_note(len(shown), len(text))
        return render([*prefix, *shown.split("\n"), "", note])

    low, high = 0, min(len(text), limit)
    while low < high:
        mid = (low + high + 1) // 2
        if size_of(attempt(mid)) <= limit:
            low = mid
        else:
            high = mid - 1
    best = attempt(low)
    if size_of(best) > limit:  # the header alone is too long: keep only the note
        note = truncation_note(0, len(text))
        best = render([note])
    return best, True
