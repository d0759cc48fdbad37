"""The run's budget of writes under GitHub's secondary limits (I6).

GitHub limits the content-creating requests (``POST``, ``PATCH``, ``PUT``,
``DELETE``) of one identity to 80 a minute and 500 an hour, and asks for a
second between them. The second is the provider's ``RATE`` (at most 1 on
GitHub.com, every request and retry paced by the core's safety policy). The
two windows are kept here, for this run's writes: before each write the
provider takes one from `WriteBudget`, which

- spaces writes evenly, ``(60 s + SLACK) / per_minute`` apart, so that no minute
  ever holds more than ``per_minute`` of them and a run never bursts a minute's
  worth and then waits (at the default ``RATE`` of one a second this spacing,
  0.76 s, never binds; it binds where ``RATE`` is raised, on an Enterprise
  Server);
- counts the writes of the last hour, and waits until the oldest leaves it when
  ``per_hour`` are in it.

A wait that does not fit in the time left stops the run cleanly
(`DeadlineReached`). `SLACK` covers the time between taking a place and the
request reaching GitHub, so GitHub's own count never sees one write too many.
Another run or another program using the same identity is not counted (the job
keeps no state): GitHub's own answer then says "wait" (403/429 with
``retry-after``), which the provider's classifier reads.

The times are kept on the budget's clock, so a test's manual clock moves them.
"""

from __future__ import annotations

from collections import deque

from shitshovela_core import Budget

MINUTE = 60.0
HOUR = 3600.0
#: Seconds added to each window: a write's place is taken just before it is sent.
SLACK = 1.0


class WriteBudget:
    """This run's writes against ``per_minute`` and ``per_hour`` (see the module)."""

    def __init__(self, budget: Budget, *, per_minute: int, per_hour: int) -> None:
        self.budget = budget
        self.per_minute = per_minute
        self.per_hour = per_hour
        #: Seconds between two writes: ``per_minute`` of them fit in a minute (and SLACK).
        self.spacing = (MINUTE + SLACK) / per_minute
        self._times: deque[float] = deque()
        #: Writes taken so far in this run.
        self.taken = 0
        #: Seconds spent waiting for a place.
        self.waited = 0.0

    def next_free(self) -> tuple[float, str]:
        """When the next write may go (monotonic, on the budget's clock), and why then."""
        now = self.budget.clock()
        while self._times and now - self._times[0] >= HOUR + SLACK:
            self._times.popleft()
        at, why = now, ""
        if self._times and self._times[-1] + self.spacing > at:
            at, why = self._times[-1] + self.spacing, f"{self.per_minute} writes a minute"
        if len(self._times) >= self.per_hour:
            hour_free = self._times[-self.per_hour] + HOUR + SLACK
            if hour_free > at:
                at, why = hour_free, f"{self.per_hour} writes an hour"
        return at, why

    def take(self, what: str) -> None:
        """Count one write, after waiting for its place.

        Raises `DeadlineReached` (a clean stop) when the wait does not fit."""
        at, why = self.next_free()
        now = self.budget.clock()
        if at > now:
            self.budget.wait_until(at, f"GitHub's secondary limit ({why}) before {what}")
            self.waited += at - now
        self._times.append(max(at, self.budget.clock()))
        self.taken += 1
