"""I9: delete exactly the revision that was ticketed, on versioned and unversioned buckets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from shitshovela_s3.source import S3Source
from shitshovela_testkit.fakes import (
    FakeTicketSystem,
    FakeTracker,
    Faults,
    HardStop,
    fake_context,
    fake_tickets,
)
from shitshovela_testkit.faultproxy import Answer, FaultProxy, Script
from shitshovela_testkit.runs import run_once
from shitshovela_testservers.motoserver import MotoServer

from shitshovela_core.errors import ExitCode
from shitshovela_core.models import Flag, Item, Origin, Ticket, TicketDraft

pytestmark = pytest.mark.servers

KEY = "inbox/report.txt"


def body_of(s3: Any, bucket: str, key: str) -> bytes:
    data: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return data


def versions(s3: Any, bucket: str) -> list[str]:
    listed = s3.list_object_versions(Bucket=bucket)
    return [v["VersionId"] for v in listed.get("Versions", [])] + [
        m["VersionId"] for m in listed.get("DeleteMarkers", [])
    ]


class OnCreateTickets(FakeTicketSystem):
    """The fake ticket system, calling ``on_create(origin)`` right after each create."""

    def __init__(self, tracker: FakeTracker, on_create: Callable[[Origin], None]) -> None:
        super().__init__(fake_context(), tracker)
        self.on_create = on_create

    def create(self, draft: TicketDraft, flag: Flag, origin: Origin) -> Ticket:
        ticket = super().create(draft, flag, origin)
        self.on_create(origin)
        return ticket


def test_an_object_overwritten_after_its_ticket_survives_and_is_ticketed_later(
    bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
    list_keys: Callable[..., list[str]],
) -> None:
    versioned = bucket.startswith("ver")
    s3.put_object(Bucket=bucket, Key=KEY, Body=b"old report\nv1")

    def overwrite(origin: Origin) -> None:
        if origin.key == KEY and b"v1" in body_of(s3, bucket, KEY):
            s3.put_object(Bucket=bucket, Key=KEY, Body=b"new report\nv2")

    tracker = FakeTracker()
    first = run_once(source_for(bucket), OnCreateTickets(tracker, overwrite))
    assert first.exit_code == ExitCode.OK
    assert first.created == 1
    assert list_keys(bucket) == [KEY], "the newer object was deleted"
    assert body_of(s3, bucket, KEY) == b"new report\nv2"
    if versioned:
        # The ticketed version itself is removed; the newer version stays current.
        assert (first.deleted, first.already_gone) == (1, 0)
        assert len(versions(s3, bucket)) == 1
    else:
        # Without versions the ticketed revision is gone with the overwrite: 412 -> False.
        assert (first.deleted, first.already_gone) == (0, 1)

    second = run_once(source_for(bucket), fake_tickets(tracker))
    assert (second.created, second.deleted) == (1, 1)
    assert [t.title for t in tracker.tickets.values()] == ["old report", "new report"]
    assert not any("shitshovela-inprogress-conf-a" in t.labels for t in tracker.tickets.values())
    assert list_keys(bucket) == []
    assert versions(s3, bucket) == []


def test_an_object_already_deleted_counts_as_done(
    bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
    list_keys: Callable[..., list[str]],
) -> None:
    s3.put_object(Bucket=bucket, Key=KEY, Body=b"report\nbody")
    # The process dies after the delete, before the flag is removed.
    tracker = FakeTracker(faults=Faults(fail_on="tickets.unflag.before:FAKE-1"))
    with pytest.raises(HardStop):
        run_once(source_for(bucket), fake_tickets(tracker))
    assert list_keys(bucket) == []
    assert tracker.flagged_keys(Flag("conf-a")) == ["FAKE-1"]

    summary = run_once(source_for(bucket), fake_tickets(tracker))
    assert summary.exit_code == ExitCode.OK
    assert (summary.reconciled, summary.already_gone, summary.created) == (1, 1, 0)
    assert tracker.flagged_keys(Flag("conf-a")) == []
    assert len(tracker.tickets) == 1


def test_moto_honours_if_match_on_delete_and_auto_detects_it(
    plain_bucket: str, s3: Any, source_for: Callable[..., S3Source]
) -> None:
    s3.put_object(Bucket=plain_bucket, Key=KEY, Body=b"a\nb")
    source = source_for(plain_bucket)
    (item,) = list(source.items())
    assert source.delete_path is None
    assert source.delete(item.origin) is True
    assert source.delete_path == "if-match"
    assert source.delete(item.origin) is False


@pytest.mark.parametrize("path", ["if-match", "head"])
def test_each_conditional_delete_path_spares_an_overwrite(
    path: str, plain_bucket: str, s3: Any, source_for: Callable[..., S3Source]
) -> None:
    s3.put_object(Bucket=plain_bucket, Key=KEY, Body=b"old\nv1")
    source = source_for(plain_bucket, CONDITIONAL_DELETE=path)
    (item,) = list(source.items())
    s3.put_object(Bucket=plain_bucket, Key=KEY, Body=b"new\nv2")
    assert source.read(item.origin) is None, "read() must not return a newer revision"
    assert source.delete(item.origin) is False
    assert body_of(s3, plain_bucket, KEY) == b"new\nv2"
    (newer,) = list(source.items())
    assert isinstance(newer, Item)
    assert newer.title == "new"
    assert source.delete(newer.origin) is True
    assert source.delete(newer.origin) is False


def test_a_store_that_ignores_if_match_gets_the_head_check_path(
    moto: MotoServer, plain_bucket: str, s3: Any, source_for: Callable[..., S3Source]
) -> None:
    s3.put_object(Bucket=plain_bucket, Key=KEY, Body=b"a\nb")
    # Requests: 1 list, 2 GET, 3 the probe: answered 204 as a store ignoring If-Match would.
    script = Script(http={3: Answer(204)})
    with FaultProxy(("127.0.0.1", moto.port), script) as proxy:
        source = source_for(plain_bucket, endpoint=proxy.url)
        (item,) = list(source.items())
        assert source.delete(item.origin) is True
        assert source.delete_path == "head"
        methods = [r.method for r in proxy.requests]
        assert methods == ["GET", "GET", "DELETE", "HEAD", "DELETE"]
        assert ".shitshovela-probe-" in proxy.requests[2].target
        assert source.delete(item.origin) is False  # the HEAD check says it is gone
        assert [r.method for r in proxy.requests][5:] == ["HEAD"]


def test_move_copies_exactly_that_revision_then_deletes_it(
    bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
    list_keys: Callable[..., list[str]],
) -> None:
    s3.put_object(Bucket=bucket, Key=KEY, Body=b"moved\nbody")
    source = source_for(bucket, DONE="move", DONE_PREFIX="done/")
    (item,) = list(source.items())
    assert source.delete(item.origin) is True
    assert list_keys(bucket) == ["done/report.txt"]
    assert body_of(s3, bucket, "done/report.txt") == b"moved\nbody"
    assert source.delete(item.origin) is False
    assert list_keys(bucket) == ["done/report.txt"]


def test_move_of_an_overwritten_object_moves_nothing(
    bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
    list_keys: Callable[..., list[str]],
) -> None:
    s3.put_object(Bucket=bucket, Key=KEY, Body=b"old\nv1")
    source = source_for(bucket, DONE="move", DONE_PREFIX="done/")
    (item,) = list(source.items())
    s3.put_object(Bucket=bucket, Key=KEY, Body=b"new\nv2")
    moved = source.delete(item.origin)
    assert body_of(s3, bucket, KEY) == b"new\nv2", "the newer object must stay in the queue"
    if bucket.startswith("ver"):
        # The old version still exists: it is archived and removed exactly.
        assert moved is True
        assert body_of(s3, bucket, "done/report.txt") == b"old\nv1"
    else:
        assert moved is False
        assert list_keys(bucket, "done/") == []


def test_read_returns_exactly_the_revision_of_the_origin(
    bucket: str, s3: Any, source_for: Callable[..., S3Source]
) -> None:
    s3.put_object(Bucket=bucket, Key=KEY, Body=b"old\nv1")
    source = source_for(bucket)
    (item,) = list(source.items())
    s3.put_object(Bucket=bucket, Key=KEY, Body=b"new\nv2")
    again = source.read(item.origin)
    if bucket.startswith("ver"):
        assert isinstance(again, Item)
        assert (again.title, again.origin) == ("old", item.origin)
    else:
        assert again is None
