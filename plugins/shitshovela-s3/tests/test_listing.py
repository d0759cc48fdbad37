"""Listing and reading: pagination, awkward keys, empty and large objects, skipped prefixes."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from shitshovela_s3 import reader
from shitshovela_s3.source import S3Source
from shitshovela_testkit.faultproxy import FaultProxy
from shitshovela_testservers.motoserver import MotoServer

from shitshovela_core.errors import TransientError
from shitshovela_core.models import Item

pytestmark = pytest.mark.servers


def put_many(s3: Any, bucket: str, keys: list[str]) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=f"{k}\nx".encode()), keys))


def test_listing_pages_through_more_than_a_thousand_keys_lazily(
    moto: MotoServer, plain_bucket: str, s3: Any, source_for: Callable[..., S3Source]
) -> None:
    expected = [f"inbox/item-{n:05d}" for n in range(1050)]
    put_many(s3, plain_bucket, expected)
    with FaultProxy(("127.0.0.1", moto.port)) as proxy:
        source = source_for(plain_bucket, endpoint=proxy.url)
        entries = iter(source.items())
        first = next(entries)
        assert first.origin.key == "inbox/item-00000"
        lists = [r for r in proxy.requests if "list-type=2" in r.target]
        assert len(lists) == 1, "items() must not list ahead of what is consumed"
        listed = [entry.key for entry in source.listing()]
        pages = [r for r in proxy.requests if "list-type=2" in r.target][1:]
        assert len(pages) == 2
        assert "continuation-token=" in pages[1].target
    assert listed == expected


AWKWARD = [
    "inbox/with space.txt",
    "inbox/ünïcödé-日本.txt",
    "inbox/plus+sign.txt",
    "inbox/percent%2Fencoded%20.txt",
    "inbox/deep/er/path.txt",
    "inbox/x/../dots/./here",
    "inbox/query?and#hash&amp=1",
    "inbox/tilde~star*quote'paren()",
]


def test_awkward_keys_round_trip_read_and_delete(
    bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
    list_keys: Callable[..., list[str]],
) -> None:
    for key in AWKWARD:
        s3.put_object(Bucket=bucket, Key=key, Body=f"title of {key}\nbody".encode())
    source = source_for(bucket)
    entries = {entry.origin.key: entry for entry in source.items()}
    assert sorted(entries) == sorted(AWKWARD)
    for key, entry in entries.items():
        assert isinstance(entry, Item)
        assert entry.title == f"title of {key}"
        again = source.read(entry.origin)
        assert again is not None
        assert again.origin == entry.origin
        assert source.delete(entry.origin) is True
        assert source.delete(entry.origin) is False
    assert list_keys(bucket) == []


def test_a_zero_byte_object_is_an_item_titled_by_its_key(
    bucket: str, s3: Any, source_for: Callable[..., S3Source]
) -> None:
    s3.put_object(Bucket=bucket, Key="inbox/alerts/empty-alert", Body=b"")
    source = source_for(bucket)
    (entry,) = list(source.items())
    assert isinstance(entry, Item)
    assert (entry.title, entry.body, entry.attachments) == ("alerts/empty-alert", "", ())
    assert source.read(entry.origin) == entry
    assert source.delete(entry.origin) is True
    assert source.delete(entry.origin) is False


def test_folder_markers_and_keys_outside_the_prefix_are_not_items(
    plain_bucket: str, s3: Any, source_for: Callable[..., S3Source]
) -> None:
    s3.put_object(Bucket=plain_bucket, Key="inbox/sub/", Body=b"")
    s3.put_object(Bucket=plain_bucket, Key="outbox/other", Body=b"x")
    s3.put_object(Bucket=plain_bucket, Key="inbox/sub/real", Body=b"x")
    assert [e.origin.key for e in source_for(plain_bucket).items()] == ["inbox/sub/real"]


def test_set_aside_and_done_prefixes_inside_the_listing_are_jumped_over(
    moto: MotoServer, plain_bucket: str, s3: Any, source_for: Callable[..., S3Source]
) -> None:
    keys = ["a-first", "aside/1", "aside/2", "aside/3", "b-middle", "done/1", "done/2", "z-last"]
    for key in keys:
        s3.put_object(Bucket=plain_bucket, Key=key, Body=b"x")
    with FaultProxy(("127.0.0.1", moto.port)) as proxy:
        source = source_for(
            plain_bucket,
            endpoint=proxy.url,
            PREFIX="",
            SET_ASIDE_PREFIX="aside/",
            DONE="move",
            DONE_PREFIX="done/",
        )
        listed = [e.origin.key for e in source.items()]
        targets = [r.target for r in proxy.requests if "list-type=2" in r.target]
    assert listed == ["a-first", "b-middle", "z-last"]
    assert len(targets) == 3
    assert "start-after=aside%2F%F4%8F%BF%BF" in targets[1]
    assert "start-after=done%2F%F4%8F%BF%BF" in targets[2]


def test_a_50_mb_object_is_truncated_in_the_body_and_streamed_whole_as_an_attachment(
    moto: MotoServer, plain_bucket: str, s3: Any, source_for: Callable[..., S3Source]
) -> None:
    size = 50 * 1024 * 1024
    line = b"0123456789abcdef" * 4 + b"\n"
    content = b"Nightly export\n" + line * ((size - 15) // len(line))
    content += b"x" * (size - len(content))
    s3.put_object(Bucket=plain_bucket, Key="inbox/export.csv", Body=content)
    digest = hashlib.md5(content, usedforsecurity=False).hexdigest()
    del content
    with FaultProxy(("127.0.0.1", moto.port)) as proxy:
        source = source_for(plain_bucket, endpoint=proxy.url, BODY_LIMIT=4096)
        tracemalloc.start()
        try:
            (item,) = list(source.items())
            _, read_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert read_peak < 1024 * 1024, f"reading the item took {read_peak} bytes"
        assert isinstance(item, Item)
        get = [r for r in proxy.requests if r.method == "GET" and "list-type" not in r.target]
        assert len(get) == 1, "reading the item must be one ranged GET"
        assert item.title == "Nightly export"
        assert len(item.body.encode()) < 4096 + 200
        assert f"of {size} bytes are shown" in item.body
        (attachment,) = item.attachments
        assert (attachment.name, attachment.size) == ("export.csv", size)

        before = len(proxy.requests)
        md5 = hashlib.md5(usedforsecurity=False)
        streamed = 0
        tracemalloc.start()
        try:
            with attachment.open() as stream:
                while chunk := stream.read(1024 * 1024):
                    md5.update(chunk)
                    streamed += len(chunk)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        ranged = proxy.requests[before:]
    assert streamed == size
    assert md5.hexdigest() == digest
    assert len(ranged) == -(-size // reader.CHUNK)
    assert all(r.method == "GET" for r in ranged)
    # One chunk (and httpx's copy of it) at a time, never the whole object.
    assert peak < 3 * reader.CHUNK, f"peak {peak} bytes while streaming {size}"


def test_an_attachment_overwritten_while_it_streams_fails_instead_of_mixing_revisions(
    bucket: str, s3: Any, source_for: Callable[..., S3Source]
) -> None:
    size = reader.CHUNK + 1000
    s3.put_object(Bucket=bucket, Key="inbox/big", Body=b"old\n" + b"o" * (size - 4))
    source = source_for(bucket, BODY_LIMIT=1000)
    (item,) = list(source.items())
    assert isinstance(item, Item)
    with item.attachments[0].open() as stream:
        first = stream.read(reader.CHUNK)
        s3.put_object(Bucket=bucket, Key="inbox/big", Body=b"new\n" + b"n" * (size - 4))
        if bucket.startswith("ver"):
            rest = stream.read()  # the version is pinned: still the old bytes
            assert set(rest) == {ord("o")}
        else:
            with pytest.raises(TransientError, match="changed or vanished"):
                stream.read()
    assert first.startswith(b"old\n")
