"""The run's budget of writes under GitHub's secondary limits (I6).

GitHub limits the content-creating requests (``POST``, ``PATCH``, ``PUT``,
``DELETE``) of one identity to 80 a minute and 500 an hour, and asks for a
second between them. The second is the provider's ``RATE`` (at most 1 on
GitHub.com, every request and retry paced by the core's safety policy); the
two windows are kept here, for this run's writes: before each write the
provider takes one from `WriteBudget`, which waits until both windows have
room, or stops the run cleanly (`DeadlineReached`) when that wait does not fit
in the time left. Another run or another program using the same identity is
not counted (the job keeps no state): GitHub's own answer then says "wait"
(403/429 with ``retry-after``), which the provider's classifier reads.

A window is a deque of the times of this run's writes on the budget's clock, so
a test's manual clock moves it (``limits`` keeps the wall clock).
"""

from __future__ import annotations

from collections import deque

from shitshovela_core import Budget

MINUTE = 60.0
HOUR = 3600.0


class WriteBudget:
    """This run's writes against ``per_minute`` and ``per_hour`` (see the module)."""

    def __init__(self, budget: Budget, *, per_minute: int, per_hour: int) -> None:
        self.budget = budget
        self.per_minute = per_minute
        self.per_hour = per_hour
        self._times: deque[float] = deque()
        #: Writes taken so far in this run.
        self.taken = 0
        #: Seconds spent waiting for a window to have room.
        self.waited = 0.0

    def _forget_old(self, now: float) -> None:
        while self._times and now - self._times[0] >= HOUR:
            self._times.popleft()

    def next_free(self) -> tuple[float, str]:
        """When the next write may go (monotonic, on the budget's clock), and why then."""
        now = self.budget.clock()
        self._forget_old(now)
        at, why = now, ""
        recent = [t for t in self._times if now - t < MINUTE]
        if len(recent) >= self.per_minute:
            at, why = recent[-self.per_minute] + MINUTE, f"{self.per_minute} writes a minute"
        if len(self._times) >= self.per_hour:
            hour_free = self._times[-self.per_hour] + HOUR
            if hour_free > at:
                at, why = hour_free, f"{self.per_hour} writes an hour"
        return at, why

    def take(self, what: str) -> None:
        """Count one write, after waiting for room in both windows.

        Raises `DeadlineReached` (a clean stop) when the wait does not fit."""
        at, why = self.next_free()
        now = self.budget.clock()
        if at > now:
            self.budget.wait_until(at, f"GitHub's secondary limit ({why}) before {what}")
            self.waited += max(0.0, at - now)
        self._times.append(max(at, self.budget.clock()))
        self.taken += 1
