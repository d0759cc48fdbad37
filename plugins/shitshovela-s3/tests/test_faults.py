"""Faults on the wire (FaultProxy in http mode between the source and moto): nothing is lost,
the rate and the deadline hold."""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest
from shitshovela_s3 import reader
from shitshovela_s3.source import S3Source
from shitshovela_testkit.fakes import FakeTracker, fake_tickets
from shitshovela_testkit.faultproxy import (
    Answer,
    Drip,
    FaultProxy,
    ResetAfterBytes,
    Script,
    max_in_window,
)
from shitshovela_testkit.runs import run_once
from shitshovela_testservers.motoserver import MotoServer

from shitshovela_core.deadline import Budget
from shitshovela_core.errors import ExitCode
from shitshovela_core.models import Item

pytestmark = pytest.mark.servers

SLOW_DOWN = Answer(
    503,
    retry_after=1,
    body=b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
    headers={"Content-Type": "application/xml"},
)


def seed(s3: Any, bucket: str, count: int, size: int = 0) -> dict[str, bytes]:
    objects = {}
    for n in range(count):
        body = f"alert {n}\n".encode() + b"." * size
        objects[f"inbox/{n:03d}"] = body
        s3.put_object(Bucket=bucket, Key=f"inbox/{n:03d}", Body=body)
    return objects


def test_slow_down_with_retry_after_is_honoured_and_nothing_is_lost(
    moto: MotoServer,
    bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
    list_keys: Callable[..., list[str]],
) -> None:
    seed(s3, bucket, 4)
    # Requests 1 (the run's lease), 4 and 9 each get a 503 SlowDown with Retry-After: 1.
    script = Script(http={1: SLOW_DOWN, 4: SLOW_DOWN, 9: SLOW_DOWN})
    with FaultProxy(("127.0.0.1", moto.port), script) as proxy:
        tracker = FakeTracker()
        summary = run_once(source_for(bucket, endpoint=proxy.url), fake_tickets(tracker))
        times = [r.time for r in proxy.requests]
    assert summary.exit_code == ExitCode.OK, summary.reason
    assert summary.created == 4
    assert sorted(t.title for t in tracker.tickets.values()) == [f"alert {n}" for n in range(4)]
    assert list_keys(bucket) == []
    for n in (1, 4, 9):  # nothing for the Retry-After second after each 503
        assert times[n] - times[n - 1] >= 0.95, (n, times[n] - times[n - 1])


def test_a_reset_in_the_middle_of_a_body_is_retried(
    moto: MotoServer,
    plain_bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
) -> None:
    objects = seed(s3, plain_bucket, 2, size=100_000)
    # Request 2 is the first object's GET: cut after 5,000 of its ~100 KB.
    with FaultProxy(("127.0.0.1", moto.port), Script(http={2: ResetAfterBytes(5000)})) as proxy:
        source = source_for(plain_bucket, endpoint=proxy.url, BODY_LIMIT=200_000)
        entries = list(source.items())
        gets = [r.target for r in proxy.requests if r.method == "GET"][1:]
    assert [e.origin.key for e in entries] == sorted(objects)
    for entry in entries:
        assert isinstance(entry, Item)
        assert entry.body == objects[entry.origin.key].decode().partition("\n")[2]
    assert gets[0] == gets[1], "the cut GET is sent again"


def test_a_reset_while_streaming_an_attachment_is_retried_and_the_stream_is_whole(
    moto: MotoServer,
    plain_bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
) -> None:
    size = 2 * reader.CHUNK + 12345
    pattern = bytes(range(32, 127)) + b"\n"
    content = (b"big\n" + pattern * (size // len(pattern) + 1))[:size]
    s3.put_object(Bucket=plain_bucket, Key="inbox/big", Body=content)
    with FaultProxy(("127.0.0.1", moto.port)) as proxy:
        source = source_for(plain_bucket, endpoint=proxy.url, BODY_LIMIT=1000)
        (item,) = list(source.items())
        assert isinstance(item, Item)
        # The second chunk's GET is cut after 1 MB.
        before = proxy.request_count
        proxy.set_script(Script(http={before + 2: ResetAfterBytes(1_000_000)}))
        with item.attachments[0].open() as stream:
            streamed = stream.read()
        chunks = proxy.requests[before:]
    assert hashlib.sha256(streamed).digest() == hashlib.sha256(content).digest()
    assert len(chunks) == 4, "three chunks, the cut one sent twice"
    assert chunks[1].target == chunks[2].target


def test_the_rate_holds_with_retries_included(
    moto: MotoServer,
    plain_bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
    list_keys: Callable[..., list[str]],
) -> None:
    seed(s3, plain_bucket, 6)
    rate = 5
    script = Script(http={3: ResetAfterBytes(10), 7: Answer(503)})
    with FaultProxy(("127.0.0.1", moto.port), script) as proxy:
        tracker = FakeTracker()
        source = source_for(plain_bucket, endpoint=proxy.url, RATE=float(rate))
        summary = run_once(source, fake_tickets(tracker))
        times = [r.time for r in proxy.requests]
    assert summary.exit_code == ExitCode.OK, summary.reason
    assert summary.created == 6
    assert list_keys(plain_bucket) == []
    assert len(times) >= 15, times
    # Arrival times are taken at the proxy: allow one for the window's edge.
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(times)]
    assert max_in_window(times, 1.0) <= rate + 1, f"gaps between arrivals: {gaps}"


def test_a_dripping_server_cannot_hold_the_run_past_its_deadline(
    moto: MotoServer,
    plain_bucket: str,
    s3: Any,
    source_for: Callable[..., S3Source],
    list_keys: Callable[..., list[str]],
) -> None:
    objects = seed(s3, plain_bucket, 3, size=2000)
    # The first object's GET (request 3, after the lease and the listing) drips at 50 bytes
    # a second: ~40 s for its body.
    script = Script(http={3: Drip(50)})
    with FaultProxy(("127.0.0.1", moto.port), script) as proxy:
        started = time.monotonic()
        budget = Budget(3.0, started=started, margin=0.5)
        tracker = FakeTracker()
        summary = run_once(
            source_for(plain_bucket, endpoint=proxy.url, budget=budget), fake_tickets(tracker)
        )
        elapsed = time.monotonic() - started
    assert elapsed < 3.0, f"the run took {elapsed:.2f}s of a 3 s budget"
    # The GET never finished: the system did not answer, so not exit 0 (nothing changed: 3).
    assert summary.exit_code == ExitCode.UNREACHABLE, summary.reason
    assert "cut off at the deadline" in summary.reason, summary.reason
    assert summary.created == 0
    # The run's lease may stay (no time was left to give it back): it expires by itself.
    left = [k for k in list_keys(plain_bucket) if ".shitshovela-lease-" not in k]
    assert left == sorted(objects), "nothing is lost"
