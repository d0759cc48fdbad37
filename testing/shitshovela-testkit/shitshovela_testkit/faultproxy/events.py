"""What a `FaultProxy` records: connections, request heads and upstream answers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

from .faults import Fault

__all__ = ["ConnectionEvent", "Event", "RequestEvent", "ResponseEvent", "max_in_window"]


@dataclass(frozen=True)
class ConnectionEvent:
    """A client connection was accepted (``connection`` is its 1-based number)."""

    connection: int
    time: float
    fault: Fault


@dataclass(frozen=True)
class RequestEvent:
    """An HTTP request head arrived from the client (``time`` is ``time.monotonic()``)."""

    request: int
    connection: int
    time: float
    method: str
    target: str
    fault: Fault

    @property
    def request_line(self) -> str:
        """``"METHOD target"``, e.g. ``"POST /rest/api/2/issue"``."""
        return f"{self.method} {self.target}"


@dataclass(frozen=True)
class ResponseEvent:
    """The upstream began its final response to ``request``: the request reached the server."""

    request: int
    connection: int
    time: float
    status: int


Event: TypeAlias = ConnectionEvent | RequestEvent | ResponseEvent
"""Anything recorded in :attr:`FaultProxy.events`."""


def max_in_window(times: Iterable[float], window: float) -> int:
    """Return the largest number of ``times`` inside any interval ``[t, t + window)``.

    E.g. ``max_in_window([e.time for e in proxy.requests], 1.0) <= 5`` asserts that no sliding
    one-second window saw more than five requests.
    """
    if not window > 0:
        raise ValueError(f"window must be > 0, got {window!r}")
    ordered = sorted(times)
    best = 0
    low = 0
    for high, t in enumerate(ordered):
        while t - ordered[low] >= window:
            low += 1
        best = max(best, high - low + 1)
    return best
