"""The per-system request rate (I6): a moving-window limiter from ``limits``.

A moving window of one second (or more, for rates below one a second) is the
exact promise: no sliding window ever holds more requests than the configured
rate. Fractional rates above one are rounded down (2.5/s allows 2 a second);
rates below one become one request per ``ceil(1 / rate)`` seconds. Every
request counts, retries included. A ``Retry-After`` answer blocks the whole
system until then (`RateLimiter.block_until`).
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


def window_for(rate: float) -> tuple[int, int]:
    """``(requests, seconds)`` of the moving window that never exceeds ``rate``."""
    if rate >= 1:
        return math.floor(rate), 1
    return 1, math.ceil(1 / rate)


class RateLimiter:
    """Blocks until one more request may go out; never waits past ``deadline()``."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        amount, seconds = window_for(rate)
        self._item = RateLimitItemPerSecond(amount, seconds)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._key = uuid.uuid4().hex
        self._clock = clock
        self._lock = threading.Lock()
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

        The window is kept by ``limits`` on the wall clock, so the wait is in real
        seconds (a ``Retry-After`` block, on the injected clock, is checked by
        the caller through `blocked_until`)."""
        with self._lock:
            if self._limiter.hit(self._item, self._key):
                return None
            stats = self._limiter.get_window_stats(self._item, self._key)
            return max(0.001, stats.reset_time - time.time())
