"""One manual clock for tests: a monotonic clock that moves only when told to.

Pass it wherever the code takes a clock (``Budget(clock=..., sleep=clock.sleep)``,
``Engine(clock=...)``, the Jira emulator's index, ``FakeTracker(clock=...)``):
``sleep`` and ``advance`` move it at once instead of waiting (and its `wall`
time with it), so a run that
waits out a listing lag or a Retry-After takes no real time. Every method is
thread-safe, so an emulator's server thread may read it while a test moves it.

``ManualClock(follow_real_time=True)`` is ``time.monotonic()`` plus the jumps
made so far: it never runs behind real time, so per-call socket deadlines
(which are real time) stay as generous as the budget says, while budget waits
still take no time.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

__all__ = ["ManualClock"]


class ManualClock:
    """A monotonic clock (seconds) that tests move: ``clock()``, ``clock.now``,
    ``clock.advance(5)``, ``clock.sleep(5)``, ``clock.now = t``."""

    def __init__(self, start: float = 1000.0, *, follow_real_time: bool = False) -> None:
        self.follow_real_time = follow_real_time
        self._offset = 0.0 if follow_real_time else start
        self._lock = threading.Lock()
        self._wall_anchor = time.time() - self()

    def _base(self) -> float:
        return time.monotonic() if self.follow_real_time else 0.0

    def __call__(self) -> float:
        """The time now."""
        with self._lock:
            return self._base() + self._offset

    @property
    def now(self) -> float:
        """The time now (settable: ``clock.now = budget.stop_at``)."""
        return self()

    @now.setter
    def now(self, value: float) -> None:
        with self._lock:
            self._offset = value - self._base()

    def wall(self) -> datetime:
        """The wall-clock time (UTC) that goes with this clock: real time at creation,
        moved by every jump since. The engine reads claim times from it
        (`Engine.now`), so a test that sleeps past a claim window sees it pass."""
        return datetime.fromtimestamp(self._wall_anchor + self(), UTC)

    def advance(self, seconds: float) -> None:
        """Move forward by ``seconds`` (never backwards: negative values are ignored)."""
        with self._lock:
            self._offset += max(0.0, seconds)

    def sleep(self, seconds: float) -> None:
        """What a budget's ``sleep`` does with this clock: `advance`, without waiting."""
        self.advance(seconds)

    def __repr__(self) -> str:
        kind = ", follow_real_time=True" if self.follow_real_time else ""
        return f"ManualClock(now={self():.3f}{kind})"
