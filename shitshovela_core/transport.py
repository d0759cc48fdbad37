"""The one way providers reach the network: deadline, rate limit and redaction applied.

The core builds one `Transport` per selected provider and hands it over in the
`ProviderContext`. A provider calls `Transport.pace` before every request it
sends (or uses a client built here, which does so itself) and takes its
timeouts from `Transport.timeout`, so that the run's deadline (I5) and the
system's rate (I6) hold whatever the provider does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .deadline import Budget
from .redact import REDACTOR, Redactor

DEFAULT_TIMEOUT = 30.0


class Transport:
    """Network access for one provider: a rate limiter and the run's budget."""

    def __init__(
        self,
        provider: str,
        budget: Budget,
        rate: float,
        *,
        redactor: Redactor = REDACTOR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.budget = budget
        self.rate = rate
        self.redactor = redactor
        self._clock = clock
        self._lock = threading.Lock()
        self._next_slot = 0.0

    def pace(self, step: str = "the next request") -> None:
        """Block until one more request may be sent at the configured rate (I6).

        Raises `DeadlineReached` instead of waiting past the budget."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + 1.0 / self.rate
        self.budget.wait_until(slot, step)

    def timeout(self, preferred: float = DEFAULT_TIMEOUT, step: str = "a network call") -> float:
        """A timeout for one call: ``preferred`` clipped to the time left (I5)."""
        return self.budget.timeout(preferred, step)
