"""The per-system request rate (I6): requests evenly spaced, from the process start.

Two requests to one system are never closer than `spacing` (``1 / RATE``;
``1 / floor(RATE)`` for fractional rates above one, so that 2.5/s is 2 a
second), so no one-second window ever holds more than ``RATE`` requests and
there is never a burst. Time not used is not saved up: a caller that comes late
takes its slot at once and the next is one spacing later. The first slot is one
spacing after the *process start* (`shitshovela_core.deadline.process_age`),
not after the first request: the previous run of the instance sent its last
request before it exited, which was before this process started, so back-to-back
runs keep the spacing between any two requests too, at the cost of waiting at
most one spacing at start. Every request counts, retries included. A
``Retry-After`` answer blocks the whole system until then (`RateLimiter.block_until`).

No library does exactly this (``limits`` counts hits in windows of whole
seconds, and none starts from a given moment), so it is kept small here.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


def spacing(rate: float) -> float:
    """Seconds between two requests at ``rate`` requests a second: ``1 / rate``, with a
    fractional rate above one rounded down (no one-second window holds more than it)."""
    return 1 / math.floor(rate) if rate >= 1 else 1 / rate


class RateLimiter:
    """Hands out evenly spaced slots, the first one a `spacing` after ``started``.

    ``started`` is the process start on ``clock`` (monotonic seconds). The
    safety policy keeps it on the real clock, whatever clock its budget uses:
    the rate is a promise to the real system.
    """

    def __init__(
        self, rate: float, *, started: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.spacing = spacing(rate)
        self._clock = clock
        self._lock = threading.Lock()
        self._next_slot = started + self.spacing
        self._blocked_until = 0.0

    def block_until(self, moment: float) -> None:
        """No request before the monotonic time ``moment`` (a ``Retry-After``)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, moment)

    @property
    def blocked_until(self) -> float:
        """The monotonic time before which nothing may be sent."""
        return self._blocked_until

    def try_acquire(self) -> float | None:
        """Take a slot now and return None, or return how many seconds to wait first.

        The wait is in seconds of the limiter's clock (a ``Retry-After`` block,
        on the policy's clock, is checked by the caller through `blocked_until`)."""
        with self._lock:
            now = self._clock()
            if now < self._next_slot:
                return self._next_slot - now
            self._next_slot = now + self.spacing
            return None
