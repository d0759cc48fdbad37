"""The few JQL queries the provider sends, with every value quoted and escaped.

Values never go into JQL unquoted: `quote` makes a double-quoted JQL string
literal in which quotes, backslashes and control characters are escaped, so a
value containing ``"``, ``'``, ``\\``, ``OR`` or ``AND labels = x`` stays one
value and cannot change the query. Origins are never put into JQL at all: the
provider matches them on the tickets it lists (issue properties are only
searchable where an app declares them indexed, so a JQL clause on one could
silently match nothing).
"""

from __future__ import annotations

_ESCAPES = {
    '"': '\\"',
    "'": "\\'",
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def quote(value: str) -> str:
    """``value`` as a double-quoted JQL string literal (Jira's escape rules).

    Other control characters (and DEL) become ``\\uXXXX`` escapes."""
    out: list[str] = []
    for ch in value:
        escaped = _ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def flagged(project: str, label: str) -> str:
    """Issues of ``project`` that carry ``label``, oldest key first."""
    return f"project = {quote(project)} AND labels = {quote(label)} ORDER BY key ASC"


def newest(project: str) -> str:
    """Every issue of ``project``, newest key first (the index's view of recent keys)."""
    return f"project = {quote(project)} ORDER BY key DESC"
