"""Faults a test schedules at run time (from Python, or through the control API).

* ``fail_next(operation, mode, times=1)``: the next ``times`` requests served by
  that route (``"create_issue"``, ``"remove_label"``, ... or ``"*"`` for any)
  fail: ``"commit_then_500"`` (apply the request, answer 500),
  ``"commit_then_drop"`` (apply it, close the connection without an answer),
  ``"fail_500"`` (answer 500, nothing applied), ``"drop"`` (close the
  connection, nothing applied). ``next_create`` is the shortcut for
  ``create_issue``, as on the Jira emulator.
* ``throttle(n, status=403, retry_after=60, kind="secondary")``: the next ``n``
  requests are answered as over a secondary limit (with ``retry-after`` unless
  None) or, with ``kind="primary"``, as out of quota (``x-ratelimit-remaining: 0``).
* ``unavailable(n, retry_after=None)``: the next ``n`` requests get 503.
* ``slow(n, seconds)``: the next ``n`` requests wait that long (real time)
  before they are answered (still counted as in flight).

Every method is thread-safe. An injected answer is marked as a fault and not
checked against the OpenAPI description.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

__all__ = ["FAULT_MODES", "Faults", "Throttle"]

FAULT_MODES = frozenset({"commit_then_500", "commit_then_drop", "fail_500", "drop"})


@dataclass(frozen=True)
class Throttle:
    """One injected refusal: the status, its kind and the ``retry-after`` seconds."""

    status: int
    kind: Literal["primary", "secondary", "unavailable"]
    retry_after: int | None


class Faults:
    """Fault modes a test sets at run time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: dict[str, list[str]] = {}  # operation -> modes, first one next
        self._throttle: list[tuple[int, Throttle]] = []  # (requests left, what they get)
        self._slow: list[tuple[int, float]] = []  # (requests left, seconds)

    # ---------------------------------------------------------------- per operation
    def fail_next(self, operation: str, mode: str, times: int = 1) -> None:
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault {mode!r}; one of {sorted(FAULT_MODES)}")
        with self._lock:
            self._next.setdefault(operation, []).extend([mode] * times)

    @property
    def next_create(self) -> str | None:
        with self._lock:
            modes = self._next.get("create_issue")
            return modes[0] if modes else None

    @next_create.setter
    def next_create(self, mode: str | None) -> None:
        with self._lock:
            self._next.pop("create_issue", None)
        if mode is not None:
            self.fail_next("create_issue", mode)

    def take(self, operation: str) -> str | None:
        """The fault for this request to ``operation``, if one is scheduled (used up)."""
        with self._lock:
            for key in (operation, "*"):
                modes = self._next.get(key)
                if modes:
                    return modes.pop(0)
            return None

    # ------------------------------------------------------------------ throttling
    def throttle(
        self,
        n_requests: int,
        *,
        status: int = 403,
        retry_after: int | None = 60,
        kind: Literal["primary", "secondary"] = "secondary",
    ) -> None:
        if status not in (403, 429):
            raise ValueError("GitHub throttles with 403 or 429")
        with self._lock:
            self._throttle.append((n_requests, Throttle(status, kind, retry_after)))

    def unavailable(self, n_requests: int, retry_after: int | None = None) -> None:
        with self._lock:
            self._throttle.append((n_requests, Throttle(503, "unavailable", retry_after)))

    def take_throttle(self) -> Throttle | None:
        with self._lock:
            while self._throttle:
                remaining, found = self._throttle[0]
                if remaining <= 0:
                    self._throttle.pop(0)
                    continue
                self._throttle[0] = (remaining - 1, found)
                return found
            return None

    # ------------------------------------------------------------------------ slow
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
            self._throttle.clear()
            self._slow.clear()
