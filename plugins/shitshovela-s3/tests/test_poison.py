"""I12: objects that cannot become tickets are set aside under a prefix, or stop the run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from shitshovela_s3.source import REASON_TAG, S3Source
from shitshovela_testkit.fakes import FakeTracker, fake_tickets
from shitshovela_testkit.faultproxy import Answer, FaultProxy, Script
from shitshovela_testkit.runs import run_once
from shitshovela_testservers.motoserver import MotoServer

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


def test_an_unreadable_object_is_poison(
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
        (entry,) = list(source.items())
    assert isinstance(entry, PoisonItem)
    assert "unreadable" in entry.reason
    assert "AccessDenied" in entry.reason


def test_an_archived_object_is_poison(
    plain_bucket: str, s3: Any, source_for: Callable[..., S3Source]
) -> None:
    s3.put_object(Bucket=plain_bucket, Key="inbox/cold", Body=b"x\ny", StorageClass="GLACIER")
    (entry,) = list(source_for(plain_bucket).items())
    assert isinstance(entry, PoisonItem)
    assert "InvalidObjectState" in entry.reason
