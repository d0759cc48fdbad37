"""Faults a test schedules on an emulator at run time: the script an emulator's ``Faults`` reads.

An emulator's ``Faults`` subclasses `FaultScript`, whose levers are the same on
every emulator, and adds the refusals in its vendor's words (which status, which
error body, which headers):

* ``fail_next(operation, mode, times=1)``: the next ``times`` requests served by
  that route (the emulator's route names, or ``"*"`` for any) fail, in one of
  `FAULT_MODES`: ``"commit_then_500"`` (apply the request, answer 500),
  ``"commit_then_drop"`` (apply it, close the connection without an answer),
  ``"fail_500"`` (answer 500, nothing applied), ``"drop"`` (close the
  connection, nothing applied). The pipeline answers through
  ``apply(route name, handler, failed=..., dropped=...)``, which applies them.
* refusals: ``refuse(n, refusal)`` answers the next ``n`` requests with the
  refusal (the subclass's ``throttle``, ``unavailable``, ...); the pipeline
  asks ``take_refusal()``.
* ``slow(n, seconds)``: the next ``n`` requests wait that long (real time)
  before they are answered; the pipeline asks ``take_delay()``.

`Countdown` is the queue behind "the next n requests get this", for an
emulator that keeps its own levers. Every method is thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["FAULT_MODES", "Countdown", "FaultScript"]

#: How a scheduled request fails (see the module docstring).
FAULT_MODES = frozenset({"commit_then_500", "commit_then_drop", "fail_500", "drop"})

T = TypeVar("T")
R = TypeVar("R")
A = TypeVar("A")


class Countdown(Generic[T]):
    """ "The next ``n`` requests get this", one entry after another, first added first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[tuple[int, T]] = []  # (requests left, what they get)

    def add(self, n_requests: int, value: T) -> None:
        """The next ``n_requests`` requests (after those already scheduled) get ``value``."""
        with self._lock:
            self._queue.append((n_requests, value))

    def take(self) -> T | None:
        """What this request gets, if anything is scheduled (one request used up)."""
        with self._lock:
            while self._queue:
                remaining, value = self._queue[0]
                if remaining <= 0:
                    self._queue.pop(0)
                    continue
                self._queue[0] = (remaining - 1, value)
                return value
            return None

    def clear(self) -> None:
        """Forget every scheduled entry."""
        with self._lock:
            self._queue.clear()


class FaultScript(Generic[R]):
    """Per-route failures, refusals of type ``R`` and slow answers a test schedules."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: dict[str, list[str]] = {}  # route name -> modes, first one next
        self._refusals: Countdown[R] = Countdown()
        self._slow: Countdown[float] = Countdown()

    # ---------------------------------------------------------------- per route
    def fail_next(self, operation: str, mode: str, times: int = 1) -> None:
        """The next ``times`` requests to ``operation`` (``"*"``: any) fail in ``mode``."""
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault {mode!r}; one of {sorted(FAULT_MODES)}")
        with self._lock:
            self._next.setdefault(operation, []).extend([mode] * times)

    def peek(self, operation: str) -> str | None:
        """The fault the next request to ``operation`` gets (not used up)."""
        with self._lock:
            modes = self._next.get(operation)
            return modes[0] if modes else None

    def replace(self, operation: str, mode: str | None) -> None:
        """Only ``mode`` (None: nothing) is scheduled for ``operation`` from now on."""
        with self._lock:
            self._next.pop(operation, None)
        if mode is not None:
            self.fail_next(operation, mode)

    def take(self, operation: str) -> str | None:
        """The fault for this request to ``operation``, if one is scheduled (used up)."""
        with self._lock:
            for key in (operation, "*"):
                modes = self._next.get(key)
                if modes:
                    return modes.pop(0)
            return None

    def apply(
        self,
        operation: str,
        handler: Callable[[], A],
        *,
        failed: Callable[[], A],
        dropped: Callable[[], A],
    ) -> A:
        """The answer to a request to ``operation``, with its scheduled fault applied.

        ``handler()`` applies the request and answers it. ``fail_500`` and ``drop``
        answer ``failed()`` (a 500) or ``dropped()`` (no answer) without calling it:
        nothing is applied; ``commit_then_500`` and ``commit_then_drop`` call it,
        then answer the same way: the request is applied, its answer lost."""
        mode = self.take(operation)
        if mode == "fail_500":
            return failed()
        if mode == "drop":
            return dropped()
        answer = handler()
        if mode == "commit_then_500":
            return failed()
        if mode == "commit_then_drop":
            return dropped()
        return answer

    # ---------------------------------------------------------------- refusals
    def refuse(self, n_requests: int, refusal: R) -> None:
        """The next ``n_requests`` requests are answered with ``refusal``."""
        self._refusals.add(n_requests, refusal)

    def take_refusal(self) -> R | None:
        """The refusal for this request, if one is scheduled (used up)."""
        return self._refusals.take()

    # -------------------------------------------------------------------- slow
    def slow(self, n_requests: int, seconds: float) -> None:
        """The next ``n_requests`` requests wait ``seconds`` (real time) before their answer."""
        self._slow.add(n_requests, float(seconds))

    def take_delay(self) -> float:
        """How long this request waits (0.0: not at all)."""
        return self._slow.take() or 0.0

    def clear(self) -> None:
        """Forget every scheduled fault."""
        with self._lock:
            self._next.clear()
        self._refusals.clear()
        self._slow.clear()
