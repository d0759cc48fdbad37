"""Outlook's throttling, per app and mailbox: a request budget, an upload budget, concurrency.

For each (app, mailbox) pair, on the emulator's clock (`Throttling` holds the
numbers, Graph's by default):

* at most ``requests_per_window`` requests in any ``window`` seconds (10,000 in
  10 minutes); one more is answered 429 with ``Retry-After`` (whole seconds
  until the oldest request in the window leaves it);
* at most ``upload_bytes_per_window`` bytes of ``PATCH``/``POST``/``PUT``
  bodies in ``upload_window`` seconds (150 MB in 5 minutes); the same 429;
* at most ``max_concurrent`` requests at once (4); one more is answered 429
  "Application is over its MailboxConcurrency limit." with ``Retry-After:
  concurrency_retry_after``.

A refused request is not counted. One mailbox's limits never touch another's.
Thread-safe.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .config import Throttling
from .wire import GraphResponse, error

__all__ = ["Limits", "Usage", "throttled"]

_UPLOADS = frozenset({"PATCH", "POST", "PUT"})


def throttled(message: str, retry_after: int | None) -> GraphResponse:
    """Graph's 429 (``ApplicationThrottled``), with ``Retry-After`` unless None."""
    resp = error(429, "ApplicationThrottled", message)
    if retry_after is not None:
        resp.headers["Retry-After"] = str(retry_after)
    return resp


@dataclass(frozen=True)
class Usage:
    """One app's use of one mailbox right now."""

    requests: int  # in the last window
    upload_bytes: int  # in the last upload window
    in_flight: int


@dataclass
class _Bucket:
    times: deque[float] = field(default_factory=deque)
    uploads: deque[tuple[float, int]] = field(default_factory=deque)
    in_flight: int = 0


class Limits:
    """The budgets of every (app, mailbox) pair."""

    def __init__(self, clock: Callable[[], float], settings: Throttling) -> None:
        self.clock = clock
        self.settings = settings
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def _bucket(self, app_id: str, mailbox: str, now: float) -> _Bucket:
        bucket = self._buckets.setdefault((app_id.casefold(), mailbox), _Bucket())
        s = self.settings
        while bucket.times and now - bucket.times[0] >= s.window:
            bucket.times.popleft()
        while bucket.uploads and now - bucket.uploads[0][0] >= s.upload_window:
            bucket.uploads.popleft()
        return bucket

    def enter(self, app_id: str, mailbox: str, method: str, size: int) -> GraphResponse | None:
        """Count one request (and let it in); Graph's 429 when it is one too many."""
        s = self.settings
        with self._lock:
            now = self.clock()
            bucket = self._bucket(app_id, mailbox, now)
            if bucket.in_flight >= s.max_concurrent:
                return throttled(
                    "Application is over its MailboxConcurrency limit.", s.concurrency_retry_after
                )
            if len(bucket.times) >= s.requests_per_window:
                oldest = bucket.times[len(bucket.times) - s.requests_per_window]
                return throttled(
                    "Application is over its MailboxRequestRate limit.",
                    max(1, math.ceil(oldest + s.window - now)),
                )
            upload = size if method in _UPLOADS else 0
            used = sum(n for _t, n in bucket.uploads)
            if upload and used + upload > s.upload_bytes_per_window and bucket.uploads:
                return throttled(
                    "Application is over its IncomingBytes limit.",
                    max(1, math.ceil(bucket.uploads[0][0] + s.upload_window - now)),
                )
            bucket.times.append(now)
            if upload:
                bucket.uploads.append((now, upload))
            bucket.in_flight += 1
            return None

    def leave(self, app_id: str, mailbox: str) -> None:
        """The request let in by `enter` has been answered."""
        with self._lock:
            bucket = self._buckets.get((app_id.casefold(), mailbox))
            if bucket is not None:
                bucket.in_flight -= 1

    def usage(self, app_id: str, mailbox: str) -> Usage:
        with self._lock:
            bucket = self._bucket(app_id, mailbox, self.clock())
            return Usage(len(bucket.times), sum(n for _t, n in bucket.uploads), bucket.in_flight)

    def reset(self) -> None:
        """Forget every budget used so far."""
        with self._lock:
            for bucket in self._buckets.values():
                bucket.times.clear()
                bucket.uploads.clear()
