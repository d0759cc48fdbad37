"""I2, I11: claims are object tags holding the claim time; tagging keeps the revision; a
claim is one request; claimed items are found cheaply and wait for the claim window."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from shitshovela_s3.source import S3Source
from shitshovela_testkit.clock import ManualClock
from shitshovela_testkit.fakes import FakeTracker, Faults, HardStop, fake_tickets
from shitshovela_testkit.faultproxy import FaultProxy
from shitshovela_testkit.runs import run_once
from shitshovela_testservers.motoserver import MotoServer

from shitshovela_core.errors import ExitCode
from shitshovela_core.models import Flag, Item, PoisonItem

pytestmark = pytest.mark.servers

KEY = "inbox/alert.txt"
LABEL = "shitshovela-inprogress-conf-a"


def tags_of(s3: Any, bucket: str, key: str) -> dict[str, str]:
    tagging = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    return {t["Key"]: t["Value"] for t in tagging}


def test_a_claim_is_a_tag_that_keeps_the_etag_the_version_and_other_tags(
    bucket: str, s3: Any, source_for: Callable[..., S3Source]
) -> None:
    s3.put_object(Bucket=bucket, Key=KEY, Body=b"alert\nbody", Tagging="team=ops")
    before = s3.head_object(Bucket=bucket, Key=KEY)
    source = source_for(bucket)
    (item,) = list(source.items())
    assert item.claimed is False
    first = datetime(2026, 11, 30, 3, 36, 29, 123456, tzinfo=UTC)
    assert source.claim(item, Flag("conf-a"), first) is True
    assert source.claim(item, Flag("conf-a"), first + timedelta(seconds=5)) is True
    after = s3.head_object(Bucket=bucket, Key=KEY)
    assert after["ETag"] == before["ETag"]
    assert after.get("VersionId") == before.get("VersionId")
    versions = s3.list_object_versions(Bucket=bucket, Prefix=KEY).get("Versions", [])
    assert len(versions) == 1, "tagging must not create a version"
    tags = tags_of(s3, bucket, KEY)
    assert tags["team"] == "ops"
    assert tags[LABEL] == "2026-11-30T03:36:34.123456Z"

    (again,) = list(source_for(bucket).items())
    assert again.claimed_at == first + timedelta(seconds=5), "re-claiming replaces the time"
    assert again.origin.identity() == item.origin.identity()
    (other,) = list(source_for(bucket, instance="conf-b").items())
    assert other.claimed is False, "a claim belongs to one instance"


def test_a_claim_is_one_request_when_the_listing_saw_no_tags(
    moto: MotoServer, plain_bucket: str, s3: Any, source_for: Callable[..., S3Source]
) -> None:
    s3.put_object(Bucket=plain_bucket, Key=KEY, Body=b"alert\nbody")
    s3.put_object(Bucket=plain_bucket, Key="inbox/tagged", Body=b"x\ny", Tagging="team=ops")
    with FaultProxy(("127.0.0.1", moto.port)) as proxy:
        source = source_for(plain_bucket, endpoint=proxy.url)
        entries = {e.origin.key: e for e in source.items()}
        listed = len(proxy.requests)
        for entry in entries.values():
            assert source.claim(entry, Flag("conf-a"), datetime.now(UTC)) is True
        claims = [r.request_line for r in proxy.requests[listed:]]
    assert len(claims) == 2, claims
    assert all(line.startswith("PUT ") and "tagging" in line for line in claims)
    assert tags_of(s3, plain_bucket, "inbox/tagged")["team"] == "ops"


def test_claiming_a_revision_that_is_gone_returns_false(
    bucket: str, s3: Any, source_for: Callable[..., S3Source]
) -> None:
    s3.put_object(Bucket=bucket, Key=KEY, Body=b"alert\nbody")
    source = source_for(bucket)
    (item,) = list(source.items())
    assert isinstance(item, Item)
    vid = item.origin.get("vid")
    if vid:
        s3.delete_object(Bucket=bucket, Key=KEY, VersionId=vid)
    else:
        s3.delete_object(Bucket=bucket, Key=KEY)
    assert source.claim(item, Flag("conf-a"), datetime.now(UTC)) is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Stored to the second (earlier versions): rounded up, never down.
        ("2026-11-30T03:36:29Z", datetime(2026, 11, 30, 3, 36, 30, tzinfo=UTC)),
        ("2026-11-30T03:36:29.000001Z", datetime(2026, 11, 30, 3, 36, 29, 1, tzinfo=UTC)),
    ],
)
def test_the_claim_time_is_read_from_the_tag(
    plain_bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
    value: str,
    expected: datetime,
) -> None:
    s3.put_object(Bucket=plain_bucket, Key=KEY, Body=b"a\nb", Tagging=f"{LABEL}={value}")
    (item,) = list(source_for(plain_bucket).items())
    assert item.claimed_at == expected


def test_a_claim_tag_that_is_not_a_time_sets_the_object_aside(
    plain_bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
    list_keys: Callable[..., list[str]],
) -> None:
    # Not a time this job wrote: neither ticketed at once nor left waiting for ever.
    s3.put_object(Bucket=plain_bucket, Key=KEY, Body=b"a\nb", Tagging=f"{LABEL}=yesterday")
    (entry,) = list(source_for(plain_bucket).items())
    assert isinstance(entry, PoisonItem)
    assert "not a claim time" in entry.reason
    tracker = FakeTracker()
    summary = run_once(
        source_for(plain_bucket, SET_ASIDE_PREFIX="set-aside/"), fake_tickets(tracker)
    )
    assert (summary.exit_code, summary.set_aside, summary.created) == (ExitCode.OK, 1, 0)
    assert list_keys(plain_bucket) == ["set-aside/alert.txt"]
    assert LABEL not in tags_of(s3, plain_bucket, "set-aside/alert.txt")


def test_a_claimed_item_waits_for_its_ticket_and_is_never_ticketed_twice(
    bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
    list_keys: Callable[..., list[str]],
) -> None:
    s3.put_object(Bucket=bucket, Key=KEY, Body=b"alert\nbody")
    # A ticket system whose listing lags by 5 s (on a clock the test moves).
    clock = ManualClock()
    tracker = FakeTracker(lag=5.0, clock=clock, faults=Faults(fail_on="tickets.create.after"))
    with pytest.raises(HardStop):  # the process dies right after the create
        run_once(source_for(bucket), fake_tickets(tracker))
    assert len(tracker.tickets) == 1
    (item,) = list(source_for(bucket).items())
    assert item.claimed is True

    # The next run cannot list the ticket yet: the claimed object waits.
    waiting = run_once(source_for(bucket), fake_tickets(tracker))
    assert waiting.exit_code == ExitCode.OK
    assert (waiting.created, waiting.waiting) == (0, 1)
    assert list_keys(bucket) == [KEY]

    clock.advance(5.0)  # the listing caught up
    summary = run_once(source_for(bucket), fake_tickets(tracker))
    assert summary.exit_code == ExitCode.OK
    assert (summary.created, summary.reconciled, summary.deleted) == (0, 1, 1)
    assert len(tracker.tickets) == 1
    assert list_keys(bucket) == []
