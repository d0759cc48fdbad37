"""The number probe: flagged issues GitHub's lagging listing does not show yet (I11).

GitHub promises no read-after-write for its issue listings: an issue created
just before a crash may be missing from the next run's flagged listing. A read
by number (``GET /repos/{owner}/{repo}/issues/{n}``) always sees the issue.
Issue numbers are handed out in order, one sequence per repository shared with
pull requests, so the probe asks the listing for the newest number it knows
(any issue or pull request, ``sort=created``), then reads every number above it
until ``gap`` numbers in a row do not exist. A pull request's number exists
(it is not ours); a deleted issue (410) or a transferred one (301) used its
number too.

The probe is an accelerator, never a judge: it finds a ticket sooner, but a
ticket it does not find is not taken to be missing. The claim window decides
that (a claimed item is ticketed again only once its claim is older than the
window). So the probe stops quietly after `MAX_READS` reads in one listing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import attrs

from shitshovela_core import Flag, Ticket

#: At most this many numbers are read directly per listing; then the probe stops.
MAX_READS = 60


@attrs.frozen
class Found:
    """What a read by number found: whether the number is used, and the flagged
    ticket there if it carries ``flag`` (None for a pull request, an issue without
    the flag, a deleted or transferred one)."""

    exists: bool
    ticket: Ticket | None = None


@attrs.frozen
class NumberProbe:
    """Reads past the listing of one repository; see the module docstring.

    ``newest()`` is the highest issue or pull-request number the listing shows (0
    when it shows none); ``read(number, flag)`` reads one number directly.
    ``on_stop(read)`` is told when the probe stops at `MAX_READS`."""

    gap: int
    newest: Callable[[], int]
    read: Callable[[int, Flag], Found]
    on_stop: Callable[[int], None] = lambda reads: None

    def unlisted(self, flag: Flag, seen: set[str]) -> Iterator[Ticket]:
        """Flagged tickets above the newest listed number that are not in ``seen``
        (the keys the listing gave); each found key joins ``seen``."""
        number = self.newest()
        misses = reads = 0
        while misses < self.gap:
            if reads >= MAX_READS:
                self.on_stop(reads)
                return
            number += 1
            reads += 1
            found = self.read(number, flag)
            if not found.exists:
                misses += 1
                continue
            misses = 0
            ticket = found.ticket
            if ticket is not None and ticket.flagged and ticket.key not in seen:
                seen.add(ticket.key)
                yield ticket
