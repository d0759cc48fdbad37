"""`HttpClient.download`: a body streamed into a file under the safety policy, and a cap on it.

A large body (a message's MIME, an export) must never be held whole in memory,
must stop at a size limit without being fetched to its end, and must still obey
everything `HttpClient.request` does: retries of a lost transfer (a GET is
idempotent), the deadline over the whole transfer, 429 with ``Retry-After``.
Faults happen on the wire (the fault proxy between the client and a stand-in).
"""

from __future__ import annotations

import io
import tempfile
import time
from typing import Any

import pytest
from shitshovela_testkit.faultproxy import Answer, Delay, Drip, ResetAfterBytes, Script
from shitshovela_testkit.standin import Request, Response, StandInServer

from shitshovela_core.deadline import Budget
from shitshovela_core.errors import CutOff, TransferTooSlow
from shitshovela_core.safehttp import DOWNLOAD_CHUNK, HttpClient
from shitshovela_core.safety import SafetyPolicy

pytestmark = pytest.mark.servers

#: A body of many chunks, each byte telling its place (a cut or a mix-up shows).
BODY = bytes(i % 251 for i in range(5 * DOWNLOAD_CHUNK + 123))


class Files(StandInServer):
    """Serves `BODY` at ``/blob`` (chunked), and a JSON 404 anywhere else."""

    def handle(self, request: Request) -> Response:
        if request.path == "/blob":
            return Response(200, raw=BODY, content_type="application/octet-stream", chunk_size=8192)
        return Response(404, {"error": "no such file"})


def client(url: str, *, runtime: float = 20.0, timeout: float = 30.0) -> HttpClient:
    budget = Budget(runtime, started=time.monotonic(), margin=0.5)
    return HttpClient(SafetyPolicy("files", budget, 50.0), url, timeout=timeout)


def test_a_body_is_streamed_into_the_file_never_whole_in_memory(stand_in: Any) -> None:
    server = stand_in(Files())
    with tempfile.SpooledTemporaryFile(max_size=DOWNLOAD_CHUNK) as sink:
        response = client(server.url).download("/blob", sink)
        assert response.status_code == 200
        assert sink.tell() == len(BODY)
        assert sink._rolled  # type: ignore[attr-defined]  # on disk: more than max_size came
        sink.seek(0)
        assert sink.read() == BODY


def test_a_body_over_the_limit_stops_one_byte_past_it(stand_in: Any) -> None:
    server = stand_in(Files())
    sink = io.BytesIO()
    client(server.url).download("/blob", sink, limit=2 * DOWNLOAD_CHUNK + 5)
    assert sink.getvalue() == BODY[: 2 * DOWNLOAD_CHUNK + 6]
    exact = io.BytesIO()
    client(server.url).download("/blob", exact, limit=len(BODY))
    assert exact.getvalue() == BODY, "a body of exactly the limit is whole"


def test_another_answer_is_returned_read_and_the_file_stays_empty(stand_in: Any) -> None:
    server = stand_in(Files())
    sink = io.BytesIO(b"left over")
    response = client(server.url).download("/missing", sink)
    assert response.status_code == 404
    assert response.json() == {"error": "no such file"}
    assert sink.getvalue() == b""


def test_a_transfer_lost_halfway_starts_over_and_a_429_is_waited_out(
    stand_in: Any, fault_proxy: Any
) -> None:
    server = stand_in(Files())
    proxy = fault_proxy(
        server,
        Script(http={1: ResetAfterBytes(3 * DOWNLOAD_CHUNK), 2: Answer(429, retry_after=1)}),
    )
    sink = io.BytesIO()
    started = time.monotonic()
    client(proxy.url).download("/blob", sink)
    assert sink.getvalue() == BODY, "the second try's body replaced the first's half"
    assert len(server.requests) == 2  # the reset one, and the one after the 429
    assert time.monotonic() - started >= 1.0, "Retry-After was not waited out"


def test_a_dripping_body_is_cut_off_at_the_deadline(stand_in: Any, fault_proxy: Any) -> None:
    server = stand_in(Files())
    proxy = fault_proxy(server, Script(default=Drip(bytes_per_second=2000)))
    started = time.monotonic()
    with pytest.raises(CutOff):
        client(proxy.url, runtime=3.0).download("/blob", io.BytesIO())
    assert time.monotonic() - started < 3.0


def test_a_body_too_slow_for_the_call_s_timeout_is_not_tried_again(
    stand_in: Any, fault_proxy: Any
) -> None:
    """A body still arriving when the call's own timeout runs out (a large file on a slow
    link) would take every try as long: `TransferTooSlow` at once, one request sent.
    *Can fail*: tried again, such a body took five tries and opened the breaker, on
    every run, without a word about the timeout."""
    server = stand_in(Files())
    proxy = fault_proxy(server, Script(default=Drip(bytes_per_second=2000)))
    with pytest.raises(TransferTooSlow, match="still arriving") as info:
        client(proxy.url, timeout=1.0).download("/blob", io.BytesIO(), what="GET the blob")
    assert len(server.requests) == 1
    assert 0 < info.value.received < len(BODY) and info.value.seconds == pytest.approx(1.0)
    assert str(info.value).startswith("GET the blob: ")


def test_an_answer_that_never_began_within_the_timeout_is_tried_again(
    stand_in: Any, fault_proxy: Any
) -> None:
    server = stand_in(Files())
    proxy = fault_proxy(server, Script(http={1: Delay(2.0)}))
    sink = io.BytesIO()
    client(proxy.url, timeout=1.0).download("/blob", sink)
    assert sink.getvalue() == BODY, "a lost request, not a slow body: the policy's retry"
