"""The instance's run lease: one small object, taken and given back with conditional writes.

Two runs of one instance at once (a double schedule, a manual run during a
cron run, a replaced pod whose predecessor still runs) would both ticket the
same objects: S3 has no compare-and-set on tags, so a claim cannot be atomic.
Instead each run takes the instance's lease before it does anything else, and
only one run at a time can hold it:

- **take**: ``PUT PREFIX.shitshovela-lease-INSTANCE`` with ``If-None-Match: *`` and
  a JSON body ``{"instance", "holder", "seconds", "until"}``. 200: this run holds it.
  412 (or 409, a concurrent conditional write won): someone holds it; it is read
  (a ranged GET). Held by this very run (a retried PUT whose first answer was
  lost): held. Not expired: busy, the run touches nothing. Expired (its run
  died): taken over with ``If-Match: <its ETag>``, so that of several runs
  taking over the same expired lease exactly one wins.
- **release**: a DELETE of exactly the revision this run wrote: by version id
  in a versioned bucket (no delete marker is left), else with ``If-Match``. A
  lease taken over in the meantime is not this run's and stays.

A lease lasts ``seconds`` (the run's time left plus the engine's margin) from
its ``Last-Modified``, measured on the store's own clock: it has expired when
the ``Date`` of the answer that read it is at least ``Last-Modified + seconds +
1 s`` (both are whole seconds, rounded down), so the clocks of the machines that
run the job do not matter. ``until`` (the taker's clock) is for people, and the
test only where the store sends no ``Date`` or ``Last-Modified``.

AWS has honoured ``If-None-Match`` (2024-08) and ``If-Match`` (2024-11) on
PutObject and ``If-Match`` on DeleteObject (2025-09); moto 5.2.5 does too. A
store that ignores them on PUT gives no protection (two runs would both "take"
the lease); one that ignores ``If-Match`` on DELETE can only delete a lease
taken over after this run's own expired, which cannot happen while the run
lives (it ends at its deadline, the lease lasts longer).
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

import attrs

from .client import Conflict, ObjectGone, RangeNotSatisfiable, Written

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from .client import S3Client

#: The most of a lease object read: the JSON body is about 150 bytes.
READ_BYTES = 4096
_FAR_PAST = datetime(1970, 1, 1, tzinfo=UTC)


@attrs.frozen
class Holder:
    """A lease as read from the store."""

    holder: str
    #: When it runs out, on the store's clock where it can tell (see the module docstring).
    until: datetime
    #: The store's time when it answered (the reading machine's where it sent none).
    now: datetime
    etag: str
    version_id: str

    @property
    def expired(self) -> bool:
        """True when the run holding it must have ended."""
        return self.now >= self.until


def _http_date(value: str) -> datetime | None:
    try:
        return parsedate_to_datetime(value).astimezone(UTC) if value else None
    except (TypeError, ValueError):
        return None


class S3Lease:
    """One instance's run lease in one bucket (see the module docstring)."""

    def __init__(self, client: S3Client, key: str, instance: str, log: FilteringBoundLogger):
        self.client = client
        self.key = key
        self.instance = instance
        self.log = log
        #: Who this run is, for people reading the lease object (host, pid, random).
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._held: Written | None = None

    def take(self, until: datetime) -> bool:
        """Take the lease until ``until``; False when another run holds it unexpired."""
        seconds = max(0.0, (until - datetime.now(UTC)).total_seconds())
        lease = {"instance": self.instance, "holder": self.holder, "seconds": round(seconds, 3)}
        body = json.dumps({**lease, "until": until.isoformat()}, sort_keys=True).encode()
        for _ in range(3):
            try:
                self._held = self.client.put(self.key, body, if_none_match="*")
                return True
            except Conflict:
                pass
            current = self.read()
            if current is None:
                continue  # given back in the meantime: take it afresh
            if current.holder == self.holder:  # this run's own PUT, answered late
                self._held = Written(current.etag, current.version_id)
                return True
            if not current.expired:
                self.log.info(
                    "s3_lease_held", key=self.key, holder=current.holder,
                    until=current.until.isoformat(),
                )  # fmt: skip
                return False
            try:
                self._held = self.client.put(self.key, body, if_match=current.etag)
            except (Conflict, ObjectGone):
                continue  # another run took it over, or it was given back: look again
            self.log.warning(
                "s3_lease_taken_over", key=self.key, previous_holder=current.holder,
                expired=current.until.isoformat(),
                note="a run of this instance ended without giving the lease back (killed?)",
            )  # fmt: skip
            return True
        self.log.warning("s3_lease_contended", key=self.key, note="it changed hands 3 times")
        return False

    def read(self) -> Holder | None:
        """The lease as stored; None when there is none. A body that cannot be read as a
        lease counts as expired (it is taken over, and the warning says so)."""
        try:
            try:
                head, data = self.client.get(self.key, last=READ_BYTES - 1)
            except RangeNotSatisfiable:  # an empty object: read it without a range
                head, data = self.client.get(self.key)
        except ObjectGone:
            return None
        written, now = _http_date(head.last_modified), _http_date(head.date)
        try:
            fields = json.loads(data)
            holder = str(fields["holder"])
            if written is not None and now is not None:
                until = written + timedelta(seconds=float(fields["seconds"]) + 1)
            else:
                until, now = datetime.fromisoformat(fields["until"]), datetime.now(UTC)
            if until.tzinfo is None:
                raise ValueError("until has no time zone")
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            self.log.warning(
                "s3_lease_unreadable", key=self.key, error=str(exc)[:200],
                note="counted as expired: it will be taken over",
            )  # fmt: skip
            holder, until, now = "", _FAR_PAST, datetime.now(UTC)
        return Holder(holder, until, now, head.etag, head.version_id)

    def release(self) -> None:
        """Delete exactly the revision of the lease this run wrote, if it holds one."""
        held, self._held = self._held, None
        if held is None:
            return
        if held.version_id:
            self.client.delete(self.key, version_id=held.version_id)
        else:
            self.client.delete(self.key, if_match=held.etag)
