"""I11: claims are object tags; tagging keeps the revision; claimed items are found cheaply."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from shitshovela_s3.source import S3Source
from shitshovela_testkit.fakes import FakeTracker, Faults, HardStop, fake_tickets
from shitshovela_testkit.faultproxy import FaultProxy
from shitshovela_testkit.runs import run_once
from shitshovela_testservers.motoserver import MotoServer

from shitshovela_core.deadline import Budget
from shitshovela_core.errors import ExitCode
from shitshovela_core.models import Flag

pytestmark = pytest.mark.servers

KEY = "inbox/alert.txt"


def test_a_claim_is_a_tag_that_keeps_the_etag_the_version_and_other_tags(
    bucket: str, s3: Any, source_for: Callable[..., S3Source]
) -> None:
    s3.put_object(Bucket=bucket, Key=KEY, Body=b"alert\nbody", Tagging="team=ops")
    before = s3.head_object(Bucket=bucket, Key=KEY)
    source = source_for(bucket)
    (item,) = list(source.items())
    assert item.claimed is False
    source.claim(item.origin, Flag("conf-a"))
    source.claim(item.origin, Flag("conf-a"))
    after = s3.head_object(Bucket=bucket, Key=KEY)
    assert after["ETag"] == before["ETag"]
    assert after.get("VersionId") == before.get("VersionId")
    versions = s3.list_object_versions(Bucket=bucket, Prefix=KEY).get("Versions", [])
    assert len(versions) == 1, "tagging must not create a version"
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=KEY)["TagSet"]}
    assert tags["team"] == "ops"
    assert "shitshovela-inprogress-conf-a" in tags

    (again,) = list(source_for(bucket).items())
    assert again.claimed is True
    assert again.origin.identity() == item.origin.identity()
    (other,) = list(source_for(bucket, instance="conf-b").items())
    assert other.claimed is False, "a claim belongs to one instance"


def test_the_tag_set_is_fetched_only_for_objects_that_have_tags(
    moto: MotoServer, plain_bucket: str, s3: Any, source_for: Callable[..., S3Source]
) -> None:
    for n in range(5):
        s3.put_object(Bucket=plain_bucket, Key=f"inbox/{n}", Body=b"x\ny")
    s3.put_object_tagging(
        Bucket=plain_bucket, Key="inbox/3", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
    )
    with FaultProxy(("127.0.0.1", moto.port)) as proxy:
        entries = list(source_for(plain_bucket, endpoint=proxy.url).items())
        tagging = [r.target for r in proxy.requests if "tagging" in r.target]
    assert len(entries) == 5
    assert len(tagging) == 1
    assert "/inbox/3?" in tagging[0]


def test_a_claimed_item_whose_ticket_exists_is_not_ticketed_twice(
    bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
    list_keys: Callable[..., list[str]],
) -> None:
    s3.put_object(Bucket=bucket, Key=KEY, Body=b"alert\nbody")
    # A ticket system whose listing lags by 0.3 s: the engine claims before each create.
    tracker = FakeTracker(
        lag=0.3, clock=time.monotonic, faults=Faults(fail_on="tickets.create.after")
    )
    with pytest.raises(HardStop):  # the process dies right after the create
        run_once(source_for(bucket), fake_tickets(tracker))
    assert len(tracker.tickets) == 1
    assert list_keys(bucket) == [KEY]
    (item,) = list(source_for(bucket).items())
    assert item.claimed is True

    # A new run is a new process: its budget starts now, after the crash (the engine's
    # settle wait counts from the start of the run).
    summary = run_once(
        source_for(bucket, budget=Budget(60.0, started=time.monotonic())), fake_tickets(tracker)
    )
    assert summary.exit_code == ExitCode.OK
    assert (summary.created, summary.reconciled, summary.deleted) == (0, 1, 1)
    assert len(tracker.tickets) == 1
    assert list_keys(bucket) == []
