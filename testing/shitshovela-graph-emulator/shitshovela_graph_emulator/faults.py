"""Faults a test schedules at run time (from Python, or through the control API).

* ``fail_next(operation, mode, times=1)``: the next ``times`` requests served by
  that route (``"delete_message"``, ``"move_message"``, … or ``"*"`` for any)
  fail: ``"commit_then_500"`` (apply the request, answer 500),
  ``"commit_then_drop"`` (apply it, close the connection without an answer),
  ``"fail_500"`` (answer 500, nothing applied), ``"drop"`` (close the
  connection, nothing applied).
* ``throttle(n, retry_after=…)``: the next ``n`` requests get 429
  ``ApplicationThrottled`` (with ``Retry-After`` unless None).
* ``unavailable(n, retry_after=…)``: the next ``n`` requests get 503
  ``ServiceNotAvailable``; ``gateway_timeout(n)``: 504 ``UnknownError``.
* ``slow(n, seconds)``: the next ``n`` requests wait that long (real time)
  before they are answered (counted in flight meanwhile).

Injected answers are checked against the OpenAPI description like any other
(they are Graph error bodies); a dropped connection has nothing to check.
Every method is thread-safe.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["FAULT_MODES", "Faults", "Injected"]

FAULT_MODES = frozenset({"commit_then_500", "commit_then_drop", "fail_500", "drop"})


@dataclass(frozen=True)
class Injected:
    """One injected refusal: its status, code, message and ``Retry-After`` seconds."""

    status: int
    code: str
    message: str
    retry_after: int | None


class Faults:
    """Fault modes a test sets at run time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: dict[str, list[str]] = {}
        self._refusals: list[tuple[int, Injected]] = []
        self._slow: list[tuple[int, float]] = []

    def fail_next(self, operation: str, mode: str, times: int = 1) -> None:
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault {mode!r}; one of {sorted(FAULT_MODES)}")
        with self._lock:
            self._next.setdefault(operation, []).extend([mode] * times)

    def take(self, operation: str) -> str | None:
        """The fault for this request to ``operation``, if one is scheduled (used up)."""
        with self._lock:
            for key in (operation, "*"):
                modes = self._next.get(key)
                if modes:
                    return modes.pop(0)
            return None

    def _refuse(self, n_requests: int, injected: Injected) -> None:
        with self._lock:
            self._refusals.append((n_requests, injected))

    def throttle(self, n_requests: int, *, retry_after: int | None = 30) -> None:
        self._refuse(
            n_requests,
            Injected(
                429,
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency limit.",
                retry_after,
            ),
        )

    def unavailable(self, n_requests: int, *, retry_after: int | None = None) -> None:
        self._refuse(
            n_requests,
            Injected(
                503, "ServiceNotAvailable", "The service is temporarily unavailable.", retry_after
            ),
        )

    def gateway_timeout(self, n_requests: int) -> None:
        self._refuse(n_requests, Injected(504, "UnknownError", "Gateway Timeout", None))

    def take_refusal(self) -> Injected | None:
        with self._lock:
            while self._refusals:
                remaining, found = self._refusals[0]
                if remaining <= 0:
                    self._refusals.pop(0)
                    continue
                self._refusals[0] = (remaining - 1, found)
                return found
            return None

    def slow(self, n_requests: int, seconds: float) -> None:
        with self._lock:
            self._slow.append((n_requests, float(seconds)))

    def take_delay(self) -> float:
        with self._lock:
            while self._slow:
                remaining, seconds = self._slow[0]
                if remaining <= 0:
                    self._slow.pop(0)
                    continue
                self._slow[0] = (remaining - 1, seconds)
                return seconds
            return 0.0

    def clear(self) -> None:
        with self._lock:
            self._next.clear()
            self._refusals.clear()
            self._slow.clear()
