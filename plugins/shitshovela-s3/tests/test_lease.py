"""I2: the run lease keeps two runs of one instance apart (S3 conditional writes, moto)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from shitshovela_s3.source import S3Source
from shitshovela_testkit.fakes import FakeTracker, fake_tickets
from shitshovela_testkit.faultproxy import Answer, FaultProxy, Reset, Script
from shitshovela_testkit.runs import run_once
from shitshovela_testservers.motoserver import MotoServer
from structlog.testing import capture_logs

from shitshovela_core.errors import ExitCode
from shitshovela_core.models import Flag

pytestmark = pytest.mark.servers

FLAG = Flag("conf-a")
LEASE = "inbox/.shitshovela-lease-conf-a"


def later(seconds: float = 60.0) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def plant_lease(s3: Any, bucket: str, *, seconds: float, until: datetime) -> None:
    """A lease as another run of the instance would have written it."""
    body = {"instance": "conf-a", "holder": "elsewhere:1:abc", "seconds": seconds}
    body["until"] = until.isoformat()
    s3.put_object(Bucket=bucket, Key=LEASE, Body=json.dumps(body).encode())


def lease_of(s3: Any, bucket: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(s3.get_object(Bucket=bucket, Key=LEASE)["Body"].read())
    return data


def test_one_run_at_a_time_holds_the_lease_and_it_is_never_an_item(
    bucket: str, s3: Any, source_for: Callable[..., S3Source], list_keys: Callable[..., list[str]]
) -> None:
    s3.put_object(Bucket=bucket, Key="inbox/item.txt", Body=b"a\nb")
    first, second = source_for(bucket), source_for(bucket)
    assert first.lease(FLAG, later()) is True
    assert list_keys(bucket) == [LEASE, "inbox/item.txt"]
    assert lease_of(s3, bucket)["holder"] == first._lease.holder
    assert second.lease(FLAG, later()) is False
    assert [e.origin.key for e in second.items()] == ["inbox/item.txt"]
    first.release_lease(FLAG)
    assert list_keys(bucket) == ["inbox/item.txt"]
    assert second.lease(FLAG, later()) is True
    second.release_lease(FLAG)
    if bucket.startswith("ver"):  # given back by version id: no version, no delete marker
        versions = s3.list_object_versions(Bucket=bucket, Prefix=LEASE)
        assert not versions.get("Versions") and not versions.get("DeleteMarkers")


def test_a_run_finding_the_lease_held_touches_nothing_and_says_busy(
    bucket: str, s3: Any, source_for: Callable[..., S3Source], list_keys: Callable[..., list[str]]
) -> None:
    s3.put_object(Bucket=bucket, Key="inbox/item.txt", Body=b"a\nb")
    plant_lease(s3, bucket, seconds=600, until=later(600))
    tracker = FakeTracker()
    summary = run_once(source_for(bucket), fake_tickets(tracker))
    assert summary.exit_code == ExitCode.OK
    assert summary.reason.startswith("busy:")
    assert tracker.tickets == {}
    assert list_keys(bucket) == [LEASE, "inbox/item.txt"]
    assert lease_of(s3, bucket)["holder"] == "elsewhere:1:abc", "another run's lease stays"


def test_an_expired_lease_is_taken_over(
    bucket: str, s3: Any, source_for: Callable[..., S3Source]
) -> None:
    plant_lease(s3, bucket, seconds=-60, until=later(-60))  # its run died a minute ago
    source = source_for(bucket)
    with capture_logs() as logs:
        assert source.lease(FLAG, later()) is True
    assert lease_of(s3, bucket)["holder"] == source._lease.holder
    assert [e["event"] for e in logs if e["event"].startswith("s3_lease")] == [
        "s3_lease_taken_over"
    ]


@pytest.mark.parametrize(
    ("seconds", "until", "taken"),
    [
        (600, later(-3600), False),  # the taker's clock was an hour behind: still held
        (-60, later(3600), True),  # the taker's clock was an hour ahead: expired all the same
    ],
    ids=["held-by-the-store-clock", "expired-by-the-store-clock"],
)
def test_the_lease_is_measured_on_the_store_s_clock(
    plain_bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
    seconds: float,
    until: datetime,
    taken: bool,
) -> None:
    plant_lease(s3, plain_bucket, seconds=seconds, until=until)
    assert source_for(plain_bucket).lease(FLAG, later()) is taken


def test_a_lease_that_is_not_a_lease_is_taken_over_with_a_warning(
    plain_bucket: str, s3: Any, source_for: Callable[..., S3Source]
) -> None:
    s3.put_object(Bucket=plain_bucket, Key=LEASE, Body=b"not json")
    source = source_for(plain_bucket)
    with capture_logs() as logs:
        assert source.lease(FLAG, later()) is True
    assert "s3_lease_unreadable" in [e["event"] for e in logs]


def test_a_retried_take_whose_first_answer_was_lost_holds_the_lease(
    moto: MotoServer, plain_bucket: str, s3: Any, source_for: Callable[..., S3Source]
) -> None:
    # The first PUT is stored but its answer is lost; the retry finds the lease: its own.
    with FaultProxy(("127.0.0.1", moto.port), Script(http={1: Reset(after_forward=True)})) as proxy:
        source = source_for(plain_bucket, endpoint=proxy.url)
        assert source.lease(FLAG, later()) is True
        lines = [r.request_line.split("?")[0] for r in proxy.requests]
        assert lease_of(s3, plain_bucket)["holder"] == source._lease.holder
        source.release_lease(FLAG)
    assert lines == [f"PUT /{plain_bucket}/{LEASE}"] * 2 + [f"GET /{plain_bucket}/{LEASE}"]
    assert "Contents" not in s3.list_objects_v2(Bucket=plain_bucket)


def test_a_lease_taken_over_meanwhile_is_not_given_back(
    bucket: str, s3: Any, source_for: Callable[..., S3Source]
) -> None:
    source = source_for(bucket)
    assert source.lease(FLAG, later()) is True
    plant_lease(s3, bucket, seconds=600, until=later(600))  # another run took it over
    source.release_lease(FLAG)
    assert lease_of(s3, bucket)["holder"] == "elsewhere:1:abc"


def test_a_policy_that_refuses_the_lease_stops_the_run_before_anything(
    moto: MotoServer, plain_bucket: str, s3: Any, source_for: Callable[..., S3Source]
) -> None:
    s3.put_object(Bucket=plain_bucket, Key="inbox/item.txt", Body=b"a\nb")
    denied = Answer(
        403, body=b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
    )
    with FaultProxy(("127.0.0.1", moto.port), Script(http={1: denied})) as proxy:
        tracker = FakeTracker()
        summary = run_once(source_for(plain_bucket, endpoint=proxy.url), fake_tickets(tracker))
        methods = [r.method for r in proxy.requests]
    assert summary.exit_code == ExitCode.UNREACHABLE
    assert "PutObject" in summary.reason and "AccessDenied" in summary.reason
    assert methods == ["PUT"], "nothing else is sent"
    assert tracker.tickets == {}
