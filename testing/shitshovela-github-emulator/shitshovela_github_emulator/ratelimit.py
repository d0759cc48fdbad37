"""GitHub's rate limits: the primary hourly quota, and the secondary limits.

* **Primary**: each caller (token, installation, the app's JWT) has a quota of
  requests an hour (5,000 by default), its window starting with its first
  request. Every answer carries ``x-ratelimit-limit``, ``-remaining``,
  ``-reset`` (epoch seconds), ``-used`` and ``-resource``. A request made with
  none remaining is answered 403 (or 429) with ``x-ratelimit-remaining: 0``
  and not counted.
* **Secondary**: more than `per_minute` (80) content-creating requests (``POST``,
  ``PATCH``, ``PUT``, ``DELETE``) in a minute, or `per_hour` (500) in an hour,
  or more than `max_concurrent` (100) requests of one caller at once, are
  answered 403 (or 429) "You have exceeded a secondary rate limit" with a
  ``retry-after`` header (the seconds until the window has room again; left
  out when `send_retry_after` is false, as GitHub sometimes does).

All on the emulator's clock; thread-safe.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .messages import GitHubResponse, error

__all__ = [
    "PRIMARY_DOCS",
    "SECONDARY_DOCS",
    "RateLimits",
    "Snapshot",
    "primary_exceeded",
    "secondary_exceeded",
]

PRIMARY_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits"
)
SECONDARY_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)
#: Methods that count as content-creating for the secondary limits.
CONTENT_CREATING = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass(frozen=True)
class Snapshot:
    """One caller's primary quota as the headers tell it."""

    limit: int
    remaining: int
    reset: int  # epoch seconds
    used: int

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(self.reset),
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-resource": "core",
        }


@dataclass
class _Bucket:
    limit: int
    used: int = 0
    reset_at: float = 0.0
    writes: deque[float] = field(default_factory=deque)  # times of content-creating requests
    in_flight: int = 0


class RateLimits:
    """The primary and secondary limits of every caller."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        per_minute: int = 80,
        per_hour: int = 500,
        max_concurrent: int = 100,
        send_retry_after: bool = True,
    ) -> None:
        self.clock = clock
        self.per_minute = per_minute
        self.per_hour = per_hour
        self.max_concurrent = max_concurrent
        self.send_retry_after = send_retry_after
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def _bucket(self, name: str, limit: int) -> _Bucket:
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = _Bucket(limit)
        bucket.limit = limit
        now = self.clock()
        if now >= bucket.reset_at:
            bucket.used = 0
            bucket.reset_at = now + 3600
        return bucket

    def _snapshot(self, bucket: _Bucket) -> Snapshot:
        return Snapshot(
            bucket.limit,
            max(bucket.limit - bucket.used, 0),
            math.ceil(bucket.reset_at),
            bucket.used,
        )

    # ------------------------------------------------------------------ primary
    def peek(self, name: str, limit: int) -> Snapshot:
        """The quota without counting a request (``GET /rate_limit`` is free)."""
        with self._lock:
            return self._snapshot(self._bucket(name, limit))

    def charge(self, name: str, limit: int) -> tuple[Snapshot, bool]:
        """Count one request: (the quota after it, whether there was none left)."""
        with self._lock:
            bucket = self._bucket(name, limit)
            if bucket.used >= bucket.limit:
                return self._snapshot(bucket), True
            bucket.used += 1
            return self._snapshot(bucket), False

    def exhaust(self, name: str, limit: int) -> None:
        """Use up the caller's quota (a test's shortcut to the primary limit)."""
        with self._lock:
            bucket = self._bucket(name, limit)
            bucket.used = bucket.limit

    # ---------------------------------------------------------------- secondary
    def enter(self, name: str) -> bool:
        """One more request of the caller in flight; False when that is one too many."""
        with self._lock:
            bucket = self._buckets.setdefault(name, _Bucket(5000))
            bucket.in_flight += 1
            return bucket.in_flight <= self.max_concurrent

    def leave(self, name: str) -> None:
        with self._lock:
            bucket = self._buckets.get(name)
            if bucket is not None:
                bucket.in_flight -= 1

    def content_created(self, name: str, method: str) -> float | None:
        """Count a content-creating request; the seconds to wait when it is one too many."""
        if method not in CONTENT_CREATING:
            return None
        with self._lock:
            bucket = self._buckets.setdefault(name, _Bucket(5000))
            now = self.clock()
            while bucket.writes and now - bucket.writes[0] >= 3600:
                bucket.writes.popleft()
            last_minute = [t for t in bucket.writes if now - t < 60]
            if len(last_minute) >= self.per_minute:
                return max(last_minute[-self.per_minute] + 60 - now, 1.0)
            if len(bucket.writes) >= self.per_hour:
                return max(bucket.writes[-self.per_hour] + 3600 - now, 1.0)
            bucket.writes.append(now)
            return None


def primary_exceeded(status: int, caller_kind: str, ident: int) -> GitHubResponse:
    """403 (or 429) for a caller with no request left this hour."""
    who = "installation ID" if caller_kind == "installation" else "user ID"
    return error(status, f"API rate limit exceeded for {who} {ident}.", PRIMARY_DOCS)


def secondary_exceeded(status: int, retry_after: float | None) -> GitHubResponse:
    """403 (or 429) for a caller over a secondary limit, with ``retry-after`` if given."""
    resp = error(
        status,
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
        "again. If you reach out to GitHub Support for help, please include the request ID "
        f"{uuid.uuid4().hex[:8].upper()}.",
        SECONDARY_DOCS,
    )
    if retry_after is not None:
        resp.headers["retry-after"] = str(math.ceil(retry_after))
    return resp
