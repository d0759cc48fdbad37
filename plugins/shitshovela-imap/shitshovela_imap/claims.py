"""A claim and its time in IMAP keywords (I2, I11): pure functions, no I/O.

A claim is the keyword `CLAIM_KEYWORD` plus the time it was made. IMAP has no
per-message field for a time, and Maildir keeps at most 26 keywords per
mailbox, so the time is not one keyword per value: it is the low `TIME_BITS`
bits of the claim's *slot* (``floor(unix time / SLOT_SECONDS)``), one keyword
per bit (`TIME_KEYWORDS`, ``$ShitShovelaT0`` .. ``$ShitShovelaT11``), 13
keywords in all.

Reading a claim back (`claim_time`) takes the most recent slot with those low
bits that is not more than `FUTURE_SLOTS` ahead of the reader's clock, and
reports the *end* of that slot: a claim time is never read as earlier than it
was (the core's `Item.claimed_at` contract). The bits wrap after `SLOTS` slots
(about 14 days): a claim older than that reads as younger than it is, so it
waits longer, never less. `FUTURE_SLOTS` covers a writer whose clock is ahead
of the reader's, and the stamps that are moved a slot or two later on purpose:

- a slot whose low bits are all zero is never written (the next slot is), so a
  claim keyword *without* time keywords is always one from before claims had
  a time (a legacy claim, `ClaimMark.legacy`);
- a claim never writes the keywords the message already has: it would change
  nothing, and a compare-and-set store that changes nothing does not tell two
  runs apart (both would win). The next slot is written instead.

Both move a claim's time later, never earlier: the claim only waits longer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import attrs

#: The keyword that marks a claimed message. One fixed name, not one per instance:
#: Maildir keeps at most 26 keywords per mailbox.
CLAIM_KEYWORD = "$ShitShovelaClaimed"
#: How many low bits of a claim's slot are kept.
TIME_BITS = 12
#: One keyword per bit of the claim's slot, bit 0 first.
TIME_KEYWORDS = tuple(f"$ShitShovelaT{bit}" for bit in range(TIME_BITS))
#: Every keyword a claim uses (13).
CLAIM_KEYWORDS = (CLAIM_KEYWORD, *TIME_KEYWORDS)
#: The length of one slot, in seconds: a claim's time is kept to this step.
SLOT_SECONDS = 300
#: Slots before the bits repeat (4096 slots: about 14.2 days).
SLOTS = 1 << TIME_BITS
#: How far ahead of the reader's clock a claim may be and still be read as made then
#: (12 slots: an hour): a writer's clock ahead of the reader's, and stamps moved later.
FUTURE_SLOTS = 12

_OURS = {keyword.lower() for keyword in CLAIM_KEYWORDS}
_BIT_OF = {keyword.lower(): bit for bit, keyword in enumerate(TIME_KEYWORDS)}
#: A flag the server sets, that a client never stores.
_RECENT = "\\recent"


def _text(flag: object) -> str:
    return flag.decode("ascii", "replace") if isinstance(flag, bytes) else str(flag)


@attrs.frozen
class ClaimMark:
    """What a message's keywords say about its claim."""

    #: The low bits of the claim's slot; 0 when the claim keyword has no time keywords.
    bits: int

    @property
    def legacy(self) -> bool:
        """A claim without time keywords: made before claims had a time."""
        return self.bits == 0


def read_mark(flags: Iterable[object]) -> ClaimMark | None:
    """The claim on a message with ``flags`` (bytes or str, any case); None if unclaimed.

    Time keywords without the claim keyword are no claim (left over, ignored)."""
    names = {_text(flag).lower() for flag in flags}
    if CLAIM_KEYWORD.lower() not in names:
        return None
    return ClaimMark(sum(1 << bit for name, bit in _BIT_OF.items() if name in names))


def slot_of(at: datetime) -> int:
    """The slot of the time ``at`` (timezone-aware)."""
    return int(at.timestamp()) // SLOT_SECONDS


def stamp_slot(at: datetime, current: ClaimMark | None = None) -> int:
    """The slot a claim made at ``at`` writes: ``at``'s own, or a later one when that
    one's low bits are zero (it would read as a legacy claim) or equal ``current``'s
    (the store would change nothing). At most two slots later."""
    slot = slot_of(at)
    while slot % SLOTS == 0 or (current is not None and slot % SLOTS == current.bits):
        slot += 1
    return slot


def keywords_for(slot: int) -> list[str]:
    """The claim keyword and the time keywords of ``slot``'s low bits."""
    bits = slot % SLOTS
    return [CLAIM_KEYWORD, *(k for bit, k in enumerate(TIME_KEYWORDS) if bits >> bit & 1)]


def claim_time(mark: ClaimMark, now: datetime) -> datetime:
    """When the claim ``mark`` was made, at the latest, read at ``now``: the end of the
    most recent slot with the mark's low bits up to `FUTURE_SLOTS` ahead of ``now``."""
    newest = slot_of(now) + FUTURE_SLOTS
    slot = newest - (newest - mark.bits) % SLOTS
    return datetime.fromtimestamp((slot + 1) * SLOT_SECONDS, UTC)


def flags_after_claim(flags: Iterable[object], slot: int) -> list[str]:
    """The full flag set of a message with ``flags`` once claimed in ``slot``: its other
    flags as they were (``\\Recent``, which no client may store, left out), our keywords
    replaced."""
    kept = [
        text for text in map(_text, flags) if text.lower() not in _OURS and text.lower() != _RECENT
    ]
    return [*kept, *keywords_for(slot)]


def stale_keywords(flags: Iterable[object], slot: int) -> list[str]:
    """Our time keywords on a message with ``flags`` that a claim in ``slot`` removes."""
    wanted = {keyword.lower() for keyword in keywords_for(slot)}
    return [
        text for text in map(_text, flags) if text.lower() in _BIT_OF and text.lower() not in wanted
    ]


@attrs.frozen
class ClaimToken:
    """What a claim compares and rewrites (`Item.claim_token`, opaque to the core): the
    message's ``MODSEQ`` when it was listed (None without CONDSTORE) and its flags then."""

    modseq: int | None
    flags: tuple[str, ...]

    def dumps(self) -> str:
        """The token as `Item.claim_token` holds it (JSON)."""
        return json.dumps({"modseq": self.modseq, "flags": list(self.flags)})

    @classmethod
    def of(cls, flags: Sequence[object], modseq: int | None) -> ClaimToken:
        """The token of a message listed with ``flags`` and ``modseq``."""
        return cls(modseq, tuple(_text(flag) for flag in flags))

    @classmethod
    def loads(cls, text: str) -> ClaimToken | None:
        """The token `dumps` wrote; None for an empty or foreign value."""
        try:
            data = json.loads(text)
            modseq, flags = data["modseq"], data["flags"]
        except (ValueError, TypeError, KeyError):
            return None
        if (modseq is not None and not isinstance(modseq, int)) or not isinstance(flags, list):
            return None
        return cls(modseq, tuple(str(flag) for flag in flags))
