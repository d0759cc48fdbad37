"""I12: objects that cannot become tickets are set aside under a prefix, or stop the run;
the queue moves past every object: one with S3's ten tags, one whose set-aside or done
name would be longer than S3's 1,024-byte key limit, one S3 will not even read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import pytest
from s3kit import KeyLimit
from shitshovela_s3.source import REASON_TAG, S3Source
from shitshovela_testkit.clock import ManualClock
from shitshovela_testkit.fakes import FakeTracker, fake_tickets
from shitshovela_testkit.faultproxy import Answer, FaultProxy, Script
from shitshovela_testkit.runs import run_once
from shitshovela_testservers.motoserver import MotoServer
from structlog.testing import capture_logs

from shitshovela_core.errors import ExitCode
from shitshovela_core.models import Item, PoisonItem

pytestmark = pytest.mark.servers


def tags_of(s3: Any, bucket: str, key: str) -> dict[str, str]:
    tagging = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    return {t["Key"]: t["Value"] for t in tagging}


@pytest.mark.parametrize(
    ("settings", "content", "reason"),
    [
        ({"MAX_SIZE": 100}, b"big\n" + b"x" * 200, "larger than MAX_SIZE"),
        ({}, b"title\n\xff\xfe\x00 binary", "not UTF-8 text"),
        ({"FORMAT": "json"}, b'{"title": "broken', "not valid JSON"),
        (
            {"FORMAT": "json", "JSON_MAX_SIZE": 20},
            b'{"title": "long enough to be too long"}',
            "JSON_MAX_SIZE",
        ),
    ],
    ids=["too-large", "not-utf8", "bad-json", "json-too-large"],
)
def test_poison_objects_are_set_aside_with_their_reason(
    bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
    list_keys: Callable[..., list[str]],
    settings: dict[str, Any],
    content: bytes,
    reason: str,
) -> None:
    s3.put_object(Bucket=bucket, Key="inbox/bad.dat", Body=content)
    s3.put_object(Bucket=bucket, Key="inbox/good.txt", Body=b'{"title": "good"}')
    source = source_for(bucket, SET_ASIDE_PREFIX="set-aside/", **settings)
    entries = {e.origin.key: e for e in source.items()}
    bad = entries["inbox/bad.dat"]
    assert isinstance(bad, PoisonItem)
    assert reason in bad.reason
    assert isinstance(entries["inbox/good.txt"], Item)

    tracker = FakeTracker()
    summary = run_once(source, fake_tickets(tracker))
    assert summary.exit_code == ExitCode.OK
    assert (summary.set_aside, summary.created) == (1, 1)
    assert list_keys(bucket) == ["set-aside/bad.dat"]
    moved = s3.get_object(Bucket=bucket, Key="set-aside/bad.dat")["Body"].read()
    assert moved == content, "the set-aside copy must be the poison object, byte for byte"
    assert reason.split()[0] in tags_of(s3, bucket, "set-aside/bad.dat")[REASON_TAG]


def test_without_a_set_aside_prefix_the_run_stops_naming_the_key(
    bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
    list_keys: Callable[..., list[str]],
) -> None:
    s3.put_object(Bucket=bucket, Key="inbox/bad.bin", Body=b"\xff\xff")
    summary = run_once(source_for(bucket), fake_tickets(FakeTracker()))
    assert summary.exit_code == ExitCode.DRAIN_FAILED
    assert "inbox/bad.bin" in summary.reason
    assert "SET_ASIDE_PREFIX" in summary.reason
    assert list_keys(bucket) == ["inbox/bad.bin"], "a poison object never vanishes"


def test_an_earlier_set_aside_object_with_the_same_name_is_not_overwritten(
    plain_bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
    list_keys: Callable[..., list[str]],
) -> None:
    source = source_for(plain_bucket, SET_ASIDE_PREFIX="set-aside/")
    for content in (b"\xff first", b"\xff second"):
        s3.put_object(Bucket=plain_bucket, Key="inbox/bad", Body=content)
        (poison,) = list(source.items())
        assert isinstance(poison, PoisonItem)
        source.set_aside(poison.origin, poison.reason)
    aside = list_keys(plain_bucket, "set-aside/")
    assert len(aside) == 2
    bodies = {s3.get_object(Bucket=plain_bucket, Key=k)["Body"].read() for k in aside}
    assert bodies == {b"\xff first", b"\xff second"}


def test_an_overwritten_poison_object_is_not_set_aside_in_its_place(
    bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
    list_keys: Callable[..., list[str]],
) -> None:
    s3.put_object(Bucket=bucket, Key="inbox/item", Body=b"\xff bad")
    source = source_for(bucket, SET_ASIDE_PREFIX="set-aside/")
    (poison,) = list(source.items())
    s3.put_object(Bucket=bucket, Key="inbox/item", Body=b"fixed\nnow good")
    source.set_aside(poison.origin, poison.reason)
    assert s3.get_object(Bucket=bucket, Key="inbox/item")["Body"].read() == b"fixed\nnow good"
    if not bucket.startswith("ver"):
        assert list_keys(bucket, "set-aside/") == []


def test_an_object_with_ten_tags_is_set_aside_keeping_its_tags(
    bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
    list_keys: Callable[..., list[str]],
) -> None:
    ten = {f"team{n}": f"value {n}" for n in range(10)}
    tagging = "&".join(f"{k}={v.replace(' ', '+')}" for k, v in ten.items())
    s3.put_object(
        Bucket=bucket, Key="inbox/tagged.txt", Body=b"fine\ntext", Tagging=tagging,
        ContentType="text/plain; charset=utf-8", Metadata={"origin": "monitor"},
    )  # fmt: skip
    s3.put_object(Bucket=bucket, Key="inbox/good.txt", Body=b"good\nbody")
    # A listing that lags, as Jira's does: every item is claimed before its create.
    tracker = FakeTracker(lag=1.0, clock=ManualClock())
    summary = run_once(source_for(bucket, SET_ASIDE_PREFIX="set-aside/"), fake_tickets(tracker))
    assert summary.exit_code == ExitCode.OK, summary.reason
    assert (summary.set_aside, summary.created) == (1, 1)
    assert list_keys(bucket) == ["set-aside/tagged.txt"]
    assert tags_of(s3, bucket, "set-aside/tagged.txt") == ten
    head = s3.head_object(Bucket=bucket, Key="set-aside/tagged.txt")
    assert "10 tags" in head["Metadata"]["shitshovela-set-aside-reason"]
    assert head["Metadata"]["origin"] == "monitor"
    assert head["ContentType"] == "text/plain; charset=utf-8"


#: A set-aside prefix 15 bytes longer than PREFIX ("inbox/"): a key of 1,010 bytes or
#: more has a set-aside name beyond S3's 1,024 bytes.
ASIDE = "quarantine/set-aside/"


def long_key(length: int) -> str:
    """A key of ``length`` bytes under inbox/, with two-byte characters in it."""
    middle = "\u00fc" * 200  # 400 bytes
    return "inbox/" + middle + "a" * (length - 6 - 400)


@pytest.mark.parametrize("length", [1015, 1024])
def test_a_poison_object_whose_set_aside_name_is_too_long_is_set_aside_under_a_shorter_one(
    moto: MotoServer,
    bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
    list_keys: Callable[..., list[str]],
    length: int,
) -> None:
    key = long_key(length)
    assert len(key.encode()) == length
    s3.put_object(Bucket=bucket, Key=key, Body=b"\xff\xfe not text")
    s3.put_object(Bucket=bucket, Key="inbox/good.txt", Body=b"good\nbody")
    limit = KeyLimit()
    with FaultProxy(("127.0.0.1", moto.port)) as proxy:
        proxy.on_event(limit)
        source = source_for(bucket, endpoint=proxy.url, SET_ASIDE_PREFIX=ASIDE)
        summary = run_once(source, fake_tickets(FakeTracker()))
    assert summary.exit_code == ExitCode.OK, summary.reason
    assert (summary.set_aside, summary.created) == (1, 1)
    assert limit.written and all(len(k.encode()) <= 1024 for k in limit.written)
    (aside,) = list_keys(bucket, ASIDE)
    assert len(aside.encode()) <= 1024
    assert aside.startswith(ASIDE + "\u00fc" * 200)
    assert s3.get_object(Bucket=bucket, Key=aside)["Body"].read() == b"\xff\xfe not text"
    head = s3.head_object(Bucket=bucket, Key=aside)
    assert unquote(head["Metadata"]["shitshovela-original-key"]) == key
    assert list_keys(bucket, "inbox/") == []


def test_done_move_of_a_key_whose_done_name_is_too_long_goes_under_a_shorter_one(
    moto: MotoServer,
    bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
    list_keys: Callable[..., list[str]],
) -> None:
    key = long_key(1024)
    s3.put_object(Bucket=bucket, Key=key, Body=b"title\nbody")
    limit = KeyLimit()
    with FaultProxy(("127.0.0.1", moto.port)) as proxy:
        proxy.on_event(limit)
        source = source_for(bucket, endpoint=proxy.url, DONE="move", DONE_PREFIX="archive/done/")
        tracker = FakeTracker()
        summary = run_once(source, fake_tickets(tracker))
    assert summary.exit_code == ExitCode.OK, summary.reason
    assert (summary.created, summary.deleted) == (1, 1)
    assert all(len(k.encode()) <= 1024 for k in limit.written)
    (done,) = list_keys(bucket, "archive/done/")
    assert len(done.encode()) <= 1024
    assert (
        unquote(s3.head_object(Bucket=bucket, Key=done)["Metadata"]["shitshovela-original-key"])
        == key
    )
    assert "shitshovela-done" in tags_of(s3, bucket, done)
    assert list_keys(bucket, "inbox/") == []


def test_an_object_s3_will_not_read_is_skipped_with_a_warning_on_every_run(
    plain_bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
    list_keys: Callable[..., list[str]],
) -> None:
    # Archived: GetObject and CopyObject both answer 403 InvalidObjectState.
    s3.put_object(Bucket=plain_bucket, Key="inbox/cold", Body=b"x\ny", StorageClass="GLACIER")
    s3.put_object(Bucket=plain_bucket, Key="inbox/good.txt", Body=b"good\nbody")
    tracker = FakeTracker()
    for _ in range(2):
        source = source_for(plain_bucket, SET_ASIDE_PREFIX="set-aside/")
        with capture_logs() as logs:
            summary = run_once(source, fake_tickets(tracker))
        assert summary.exit_code == ExitCode.OK, summary.reason
        skipped = [e for e in logs if e["event"] == "s3_object_skipped"]
        assert [e["key"] for e in skipped] == ["inbox/cold"]
        assert skipped[0]["log_level"] == "warning"
        assert "InvalidObjectState" in skipped[0]["why"]
    assert len(tracker.tickets) == 1
    assert list_keys(plain_bucket) == ["inbox/cold"]


def test_an_object_refused_to_this_job_alone_is_skipped(
    moto: MotoServer,
    plain_bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
) -> None:
    s3.put_object(Bucket=plain_bucket, Key="inbox/locked", Body=b"secret\nstuff")
    denied = Answer(
        403,
        body=b"<Error><Code>AccessDenied</Code><Message>KMS key not allowed</Message></Error>",
    )
    # Request 1 lists, request 2 reads the object: refused for that object alone.
    with FaultProxy(("127.0.0.1", moto.port), Script(http={2: denied})) as proxy:
        source = source_for(plain_bucket, endpoint=proxy.url)
        with capture_logs() as logs:
            assert list(source.items()) == []
    (skipped,) = [e for e in logs if e["event"] == "s3_object_skipped"]
    assert "AccessDenied" in skipped["why"]


def test_a_poison_object_too_large_to_copy_is_skipped(
    moto: MotoServer,
    plain_bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
) -> None:
    s3.put_object(Bucket=plain_bucket, Key="inbox/huge", Body=b"x")
    six_gib = Answer(
        206,
        body=b"x",
        headers={"Content-Range": f"bytes 0-0/{6 * 1024**3}", "ETag": '"1234"'},
    )
    # Request 2 reads the object: S3 says it holds 6 GiB, beyond one CopyObject.
    with FaultProxy(("127.0.0.1", moto.port), Script(http={2: six_gib})) as proxy:
        source = source_for(plain_bucket, endpoint=proxy.url, SET_ASIDE_PREFIX="set-aside/")
        with capture_logs() as logs:
            assert list(source.items()) == []
    (skipped,) = [e for e in logs if e["event"] == "s3_object_skipped"]
    assert "5 GiB" in skipped["why"]
