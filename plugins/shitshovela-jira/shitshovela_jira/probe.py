"""The key probe: flagged tickets Jira's lagging search index does not show yet (I11).

JQL search is indexed, and the index lags behind writes (seconds to minutes on
Cloud, across nodes on Data Center). A ticket created just before a crash may
be missing from the flagged listing of the run that follows. The probe reads
past the index: it asks it for the project's ``WINDOW`` newest keys, then
reads by key (a direct, read-after-write read) every key missing among them
(issues indexed out of order, at most ``MAX_GAPS``) and every key above the
newest, until ``gap`` keys in a row do not exist (deleted issues leave gaps).
Issue keys are sequential per project, so such a ticket is usually found
however long the index lags, and the next run finishes it at once.

**An accelerator, not the guard.** The probe stops on an assumption, not on
evidence: deleted issues leave fewer than ``gap`` consecutive missing keys
right after the newest indexed key (people may delete any number), keys of
one project are handed out in creation order, and a project whose index is
empty starts at key 1. When it misses a ticket, what prevents a second one is
the core's claim window (the item was claimed before its create, and a
claimed item whose ticket is not found waits); the ticket is then finished
once the index lists it. Only a source without claims relies on the probe
beyond ``INDEX_LAG``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs

from shitshovela_core import Flag, Ticket, TransientError

from . import jql

#: How many of the newest indexed keys the probe looks at for gaps.
WINDOW = 20
#: At most this many gap keys inside that window are read directly.
MAX_GAPS = 40
#: A probe reading more issues than this stops the run: the index is too far behind.
MAX_PROBES = 500


def key_number(key: str) -> tuple[str, int] | None:
    """``("OPS", 12)`` for ``OPS-12``; None for a key not of that form."""
    prefix, sep, number = key.rpartition("-")
    if not sep or not number.isdigit():
        return None
    return prefix, int(number)


@attrs.frozen
class KeyProbe:
    """Reads past the index of one project; see the module docstring.

    ``newest(query, n)`` returns the first ``n`` issues the index lists for a
    JQL query; ``read(key, flag)`` reads one issue by key as a `Ticket`, or None
    when no such issue exists (it raises for any other failure).
    """

    project: str
    gap: int
    newest: Callable[[str, int], Iterable[Mapping[str, Any]]]
    read: Callable[[str, Flag], Ticket | None]

    def unindexed(self, flag: Flag, seen: set[str]) -> Iterator[Ticket]:
        """Tickets carrying ``flag`` that are not in ``seen`` (the keys the index
        listed), found by reading keys directly; each found key joins ``seen``."""
        numbers: set[int] = set()
        prefix = self.project
        for issue in self.newest(jql.newest(self.project), WINDOW):
            parsed = key_number(str(issue["key"]))
            if parsed is not None:
                prefix = parsed[0] if not numbers else prefix
                numbers.add(parsed[1])
        top = max(numbers, default=0)
        gaps = sorted(set(range(min(numbers, default=1), top)) - numbers, reverse=True)
        probes = 0

        def look(number: int) -> tuple[bool, Ticket | None]:
            """Whether issue ``number`` exists, and its ticket if it is a flagged one
            not seen yet."""
            nonlocal probes
            probes += 1
            if probes > MAX_PROBES:
                raise TransientError(
                    f"more than {MAX_PROBES} issues of {prefix} are missing from Jira's search "
                    "index; stopping instead of reading them all (try again later)"
                )
            ticket = self.read(f"{prefix}-{number}", flag)
            if ticket is None:
                return False, None
            if ticket.flagged and ticket.key not in seen:
                seen.add(ticket.key)
                return True, ticket
            return True, None

        for number in gaps[:MAX_GAPS]:
            _, found = look(number)
            if found is not None:
                yield found
        misses = 0
        number = top
        while misses < self.gap:
            number += 1
            exists, found = look(number)
            if not exists:
                misses += 1
                continue
            misses = 0
            if found is not None:
                yield found
