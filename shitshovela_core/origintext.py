"""Storing an origin reference in free text: for ticket systems without custom fields.

Jira keeps the origin in an issue property; GitHub, GitLab and many in-house
trackers have nowhere to put it but the ticket's own text. That text also holds
the item's content, which anyone outside can write: a mail body may quote a
marker, a hostile sender may plant one. So the marker is built to survive that:

- **escaped**: the reference travels base64url-encoded (``A-Z a-z 0-9 - _``), so
  no origin, whatever its key or scope holds, can end the marker early or
  carry markup;
- **last marker wins**: `embed_origin` puts the marker at the very end of the
  text, after the item's content, and `find_origin` reads the *last* well-formed
  marker, so a marker quoted anywhere in the item's text never stands in for
  the real one;
- **never cut**: `embed_origin` shortens the content (with a visible note), never
  the marker, to fit the ticket system's length limit.

The marker is an HTML comment, which Markdown renderers (GitHub, GitLab) hide::

    <!-- shitshovela:origin:v1:eyJrIjoi...fQ -->
"""

from __future__ import annotations

import base64
import binascii
import re

#: What `embed_origin` writes between the content and the marker.
SEPARATOR = "\n\n"
#: The note that ends content shortened to make room for the marker.
CUT_NOTE = "\n\n… (cut to fit the ticket system's length limit; the full item is in the source)"

_OPEN = "<!-- shitshovela:origin:v1:"
_CLOSE = " -->"
_MARKER = re.compile(re.escape(_OPEN) + r"([A-Za-z0-9_-]+={0,2})" + re.escape(_CLOSE))


def origin_marker(ref: str) -> str:
    """The marker that carries ``ref`` (an `Origin.to_ref` string)."""
    encoded = base64.urlsafe_b64encode(ref.encode("utf-8")).decode("ascii")
    return f"{_OPEN}{encoded}{_CLOSE}"


def embed_origin(text: str, ref: str, *, limit: int | None = None) -> str:
    """``text`` followed by the marker for ``ref``, at most ``limit`` characters.

    When the whole does not fit, ``text`` is shortened and ends with `CUT_NOTE`;
    the marker is kept whole. Raises `ValueError` when not even the marker fits.
    """
    marker = origin_marker(ref)
    whole = f"{text}{SEPARATOR}{marker}" if text else marker
    if limit is None or len(whole) <= limit:
        return whole
    room = limit - len(marker) - len(SEPARATOR) - len(CUT_NOTE)
    if room < 0:
        raise ValueError(
            f"the origin marker ({len(marker)} characters) does not fit in {limit} characters"
        )
    return f"{text[:room]}{CUT_NOTE}{SEPARATOR}{marker}"


def find_origin(text: str) -> str | None:
    """The reference carried by the last well-formed marker in ``text``, or None.

    Only the last one counts (see the module docstring): a marker the item's
    own content carries comes before the real one. A last marker that does not
    decode is not skipped for an earlier one: the answer is None (not ours).
    """
    matches = list(_MARKER.finditer(text))
    if not matches:
        return None
    try:
        return base64.urlsafe_b64decode(matches[-1].group(1).encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def strip_origin(text: str) -> str:
    """``text`` without the trailing marker that `embed_origin` added (for display)."""
    matches = list(_MARKER.finditer(text))
    if not matches or text[matches[-1].end() :].strip():
        return text
    return text[: matches[-1].start()].rstrip("\n")
