"""I1, I7, I9: a planted ticket deletes no object.

Anyone who can create tickets can add the instance's flag and an origin naming an S3
object. Reconcile must finish only the tickets this job created for the exact revision
it would delete: a planted ticket is reported and left alone, and the object stays.
The objects named here carry a claim of a moment ago (as a run of the instance that is
still going would leave), so the drain leaves them alone too: whatever deletes them in
these runs would be the planted ticket.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest
from shitshovela_s3.source import S3Source
from shitshovela_testkit.fakes import FakeTracker, fake_tickets
from shitshovela_testkit.runs import run_once
from structlog.testing import capture_logs

from shitshovela_core.errors import ExitCode
from shitshovela_core.models import Flag, Origin

pytestmark = pytest.mark.servers

FLAG = Flag("conf-a")
VICTIM = "inbox/victim.txt"
OUTSIDE = "elsewhere/keep.txt"


def _planted_origin(case: str, source: S3Source, s3: Any, bucket: str) -> Origin:
    (listed,) = [e.origin for e in source.items() if e.origin.key == VICTIM]
    if case == "unpinned":  # the adversary's: no version, no digest
        return Origin(provider="s3", scope=source.scope, key=VICTIM)
    if case == "wrong-digest":
        return attrs.evolve(listed, digest='etag:"00000000000000000000000000000000"')
    if case == "outside-prefix":  # exact, but not an object this source lists
        head = s3.head_object(Bucket=bucket, Key=OUTSIDE)
        extra = {"bucket": bucket, "etag": head["ETag"]}
        if head.get("VersionId"):
            extra["vid"] = head["VersionId"]
        return attrs.evolve(
            listed,
            key=OUTSIDE,
            version=head.get("VersionId") or head["ETag"],
            digest=f"etag:{head['ETag']}",
            extra=extra,
        )
    return listed  # someone-else: the exact revision, planted by another identity


@pytest.mark.parametrize("case", ["unpinned", "wrong-digest", "someone-else", "outside-prefix"])
def test_a_planted_ticket_deletes_nothing_and_is_reported(
    bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
    list_keys: Callable[..., list[str]],
    case: str,
) -> None:
    claimed = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    s3.put_object(
        Bucket=bucket, Key=VICTIM, Body=b"victim\nbody", Tagging=f"{FLAG.label}={claimed}"
    )
    s3.put_object(Bucket=bucket, Key=OUTSIDE, Body=b"keep\nbody")
    origin = _planted_origin(case, source_for(bucket), s3, bucket)
    tracker = FakeTracker()
    planted = tracker.plant(
        FLAG, origin.to_ref(), author="intruder" if case == "someone-else" else "job"
    )
    for _ in range(2):
        with capture_logs() as logs:
            summary = run_once(source_for(bucket), fake_tickets(tracker))
        assert summary.exit_code == ExitCode.OK, summary.reason
        assert (summary.reconciled, summary.deleted, summary.created) == (0, 0, 0)
        assert summary.foreign >= 1
        reported = [
            e for e in logs if e.get("ticket") == planted and "flagged_ticket" in e["event"]
        ]
        assert reported and reported[0]["log_level"] == "warning"
    assert sorted(list_keys(bucket)) == [OUTSIDE, VICTIM]
    assert FLAG.label in tracker.tickets[planted].labels, "the planted ticket is left alone"


def test_the_source_never_deletes_an_origin_that_names_no_revision(
    bucket: str, s3: Any, source_for: Callable[..., S3Source], list_keys: Callable[..., list[str]]
) -> None:
    s3.put_object(Bucket=bucket, Key=VICTIM, Body=b"victim\nbody")
    source = source_for(bucket)
    unpinned = Origin(provider="s3", scope=source.scope, key=VICTIM)
    with pytest.raises(Exception, match="names no revision"):
        source.delete(unpinned)
    assert list_keys(bucket) == [VICTIM]
