"""A claim and its time in IMAP keywords (I2, I11): pure functions, no I/O.

A claim is the keyword `CLAIM_KEYWORD` plus the time it was made. IMAP has no
per-message field for a time, and Maildir keeps at most 26 keywords per
mailbox, so the time is not one keyword per value: it is a *slot* number
(``floor(unix time / slot length)``) kept as bits, one keyword per bit, 13
keywords in all:

- `TIME_KEYWORDS` (``$ShitShovelaT0`` .. ``$ShitShovelaT7``): the low
  `TIME_BITS` bits of the slot;
- `SCALE_KEYWORDS` (``$ShitShovelaS0`` .. ``$ShitShovelaS3``): the slot length,
  ``2**scale`` seconds, chosen from the claim window (`scale_for`: at most an
  eighth of it, so a claim waits at most about 3/8 of a window longer than the
  window; 1 s for windows under 16 s, 64 s for the default 600 s). It is
  written with the claim, so a reader decodes a claim whatever its own window.

Reading a claim back (`claim_time`) takes the most recent slot with those low
bits that is not more than `FUTURE_SLOTS` ahead of the reader's clock, and
reports the *end* of that slot: a claim time is never read as earlier than it
was (the core's `Item.claimed_at` contract). The bits repeat after `SLOTS`
slots (16 to 32 claim windows): a claim older than ``SLOTS - FUTURE_SLOTS``
slots (12 to 24 windows) reads as younger than it is, at worst as made up to
`FUTURE_SLOTS` ahead, so it waits longer (at most 4 to 8 windows more), never
less. `FUTURE_SLOTS` (4 to 8 windows, at least a minute) covers a writer whose
clock is ahead of the reader's, and the stamps that are moved a slot or two
later on purpose:

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
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import attrs

#: The keyword that marks a claimed message. One fixed name, not one per instance:
#: Maildir keeps at most 26 keywords per mailbox.
CLAIM_KEYWORD = "$ShitShovelaClaimed"
#: How many low bits of a claim's slot are kept.
TIME_BITS = 8
#: One keyword per bit of the claim's slot, bit 0 first.
TIME_KEYWORDS = tuple(f"$ShitShovelaT{bit}" for bit in range(TIME_BITS))
#: How many bits the slot length's exponent has (slots of 1 s to 2**15 s, about 9 h).
SCALE_BITS = 4
#: One keyword per bit of the slot length's exponent, bit 0 first.
SCALE_KEYWORDS = tuple(f"$ShitShovelaS{bit}" for bit in range(SCALE_BITS))
#: Every keyword a claim uses (13).
CLAIM_KEYWORDS = (CLAIM_KEYWORD, *TIME_KEYWORDS, *SCALE_KEYWORDS)
#: Slots before the low bits repeat.
SLOTS = 1 << TIME_BITS
#: A slot is at most this fraction of the claim window (`scale_for`).
SLOTS_PER_WINDOW = 8
#: How many slots ahead of the reader's clock a claim may be and still be read as made
#: then (a quarter of the bits: 4 to 8 claim windows, at least 64 s): a writer whose
#: clock is ahead, and stamps moved later.
FUTURE_SLOTS = SLOTS // 4

_OURS = {keyword.lower() for keyword in CLAIM_KEYWORDS}
_TIME_BIT = {keyword.lower(): bit for bit, keyword in enumerate(TIME_KEYWORDS)}
_SCALE_BIT = {keyword.lower(): bit for bit, keyword in enumerate(SCALE_KEYWORDS)}
#: A flag the server sets, that a client never stores.
_RECENT = "\\recent"


def _text(flag: object) -> str:
    return flag.decode("ascii", "replace") if isinstance(flag, bytes) else str(flag)


def _bits(names: set[str], keywords: dict[str, int]) -> int:
    return sum(1 << bit for name, bit in keywords.items() if name in names)


def scale_for(window: float) -> int:
    """The slot length's exponent for a claim window of ``window`` seconds: the largest
    ``scale`` with ``2**scale`` at most ``window / SLOTS_PER_WINDOW`` (0: one second)."""
    slot = window / SLOTS_PER_WINDOW
    if slot < 2:
        return 0
    return min((1 << SCALE_BITS) - 1, int(math.log2(slot)))


@attrs.frozen
class ClaimMark:
    """What a message's keywords say about its claim: the low bits of its slot and the
    slot length's exponent."""

    #: The low `TIME_BITS` bits of the claim's slot; 0: the claim has no time keywords.
    bits: int
    #: Slots are ``2**scale`` seconds long.
    scale: int = 0

    @property
    def legacy(self) -> bool:
        """A claim without time keywords: made before claims had a time."""
        return self.bits == 0

    @property
    def slot_seconds(self) -> int:
        """The length of the claim's slot."""
        return 1 << self.scale

    def keywords(self) -> list[str]:
        """The claim keyword, then the time and scale keywords of the set bits."""
        return [
            CLAIM_KEYWORD,
            *(k for bit, k in enumerate(TIME_KEYWORDS) if self.bits >> bit & 1),
            *(k for bit, k in enumerate(SCALE_KEYWORDS) if self.scale >> bit & 1),
        ]


def read_mark(flags: Iterable[object]) -> ClaimMark | None:
    """The claim on a message with ``flags`` (bytes or str, any case); None if unclaimed.

    Time or scale keywords without the claim keyword are no claim (left over, ignored)."""
    names = {_text(flag).lower() for flag in flags}
    if CLAIM_KEYWORD.lower() not in names:
        return None
    return ClaimMark(_bits(names, _TIME_BIT), _bits(names, _SCALE_BIT))


def stamp(at: datetime, window: float, current: ClaimMark | None = None) -> ClaimMark:
    """The mark a claim made at ``at`` writes, with slots of `scale_for` ``window``: the
    slot of ``at``, or a later one when that one's low bits are zero (it would read as a
    legacy claim) or when the mark equals ``current`` (the store would change nothing).
    At most two slots later."""
    scale = scale_for(window)
    slot = math.floor(at.timestamp()) >> scale
    while slot % SLOTS == 0 or ClaimMark(slot % SLOTS, scale) == current:
        slot += 1
    return ClaimMark(slot % SLOTS, scale)


def claim_time(mark: ClaimMark, now: datetime) -> datetime:
    """When the claim ``mark`` was made, at the latest, read at ``now``: the end of the
    most recent slot with the mark's low bits up to `FUTURE_SLOTS` ahead of ``now``."""
    newest = (math.floor(now.timestamp()) >> mark.scale) + FUTURE_SLOTS
    slot = newest - (newest - mark.bits) % SLOTS
    return datetime.fromtimestamp((slot + 1) * mark.slot_seconds, UTC)


def flags_after_claim(flags: Iterable[object], mark: ClaimMark) -> list[str]:
    """The full flag set of a message with ``flags`` once claimed with ``mark``: its other
    flags as they were (``\\Recent``, which no client may store, left out), our keywords
    replaced."""
    kept = [
        text for text in map(_text, flags) if text.lower() not in _OURS and text.lower() != _RECENT
    ]
    return [*kept, *mark.keywords()]


def stale_keywords(flags: Iterable[object], mark: ClaimMark) -> list[str]:
    """Our time and scale keywords among ``flags`` that a claim with ``mark`` removes."""
    wanted = {keyword.lower() for keyword in mark.keywords()}
    return [text for text in map(_text, flags) if text.lower() in _OURS - wanted]


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
