"""The safety layer on real sockets: deadline, retries, politeness, breaker, TLS, redaction.

Faults come from the fault-injecting proxy between the client and a small
stateful tracker (tests/httptracker.py), so every fault happens on the wire.
"""

from __future__ import annotations

import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from httptracker import Tracker
from shitshovela_testkit.faultproxy import (
    Answer,
    Close,
    Drip,
    FaultProxy,
    Hang,
    Reset,
    Script,
    max_in_window,
)

from shitshovela_core.deadline import Budget
from shitshovela_core.errors import (
    CutOff,
    DeadlineReached,
    OutcomeUnknown,
    TransientError,
    Unreachable,
)
from shitshovela_core.redact import REDACTOR
from shitshovela_core.safehttp import HttpClient, parse_retry_after
from shitshovela_core.safety import FAIR_WAIT, SafetyPolicy

pytestmark = pytest.mark.servers

TOKEN = "tok:en/with+odd=chars 1e3"


@pytest.fixture
def tracker() -> Iterator[Tracker]:
    with Tracker(TOKEN) as running:
        yield running


def client(
    url: str,
    *,
    runtime: float = 30.0,
    rate: float = 50.0,
    timeout: float = 30.0,
    settings: dict[str, object] | None = None,
    **policy_options: object,
) -> HttpClient:
    budget = Budget(runtime, started=time.monotonic(), margin=0.5)
    safety = SafetyPolicy("tracker", budget, rate, settings=settings, **policy_options)  # type: ignore[arg-type]
    return HttpClient(safety, url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=timeout)


def create(http: HttpClient, title: str = "t") -> int:
    body = {"title": title, "labels": ["flag"], "origin": "{}"}
    return http.request("POST", "/tickets", idempotent=False, json=body).status_code


# -- I5: the deadline ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "mode"),
    [
        pytest.param(Drip(bytes_per_second=2.0), "http", id="drip"),
        pytest.param(Hang(), "http", id="hang"),
    ],
)
def test_a_slow_or_hung_server_is_cut_off_at_the_deadline(
    tracker: Tracker, fault: object, mode: str
) -> None:
    with FaultProxy(tracker.server.server_address[:2], Script(default=fault)) as proxy:  # type: ignore[arg-type]
        http = client(proxy.url, runtime=2.5)
        started = time.monotonic()
        with pytest.raises(CutOff, match="no answer in"):
            http.request("GET", "/tickets", idempotent=True)
        elapsed = time.monotonic() - started
    assert http.safety.budget.deadline - time.monotonic() > 0, "ran past the deadline"
    assert elapsed >= 1.0, "it did not wait at all: the fault was not exercised"


def test_a_call_started_just_before_the_deadline_is_a_clean_stop(tracker: Tracker) -> None:
    # The server answers, only later than the little time left: the deadline's
    # fault, not the system's (FAIR_WAIT), so the run may still exit 0.
    with FaultProxy(tracker.server.server_address[:2], Script(default=Hang())) as proxy:  # type: ignore[arg-type]
        http = client(proxy.url, runtime=1.1)
        started = time.monotonic()
        with pytest.raises(DeadlineReached, match="cut off at the deadline"):
            http.request("GET", "/tickets", idempotent=True)
    assert time.monotonic() - started < FAIR_WAIT


def test_a_silent_tls_handshake_is_cut_off_at_the_deadline(tracker: Tracker) -> None:
    with FaultProxy(tracker.server.server_address[:2], Script(default=Hang()), mode="tcp") as proxy:  # type: ignore[arg-type]
        http = client(f"https://127.0.0.1:{proxy.port}", runtime=2.5)
        started = time.monotonic()
        with pytest.raises(CutOff, match="still connecting"):
            http.request("GET", "/tickets", idempotent=True)
        assert time.monotonic() < http.safety.budget.deadline
        assert time.monotonic() - started >= 1.0


def test_per_call_timeout_retries_an_idempotent_call_within_the_budget(tracker: Tracker) -> None:
    script = Script(http={1: Hang()})
    with FaultProxy(tracker.server.server_address[:2], script) as proxy:  # type: ignore[arg-type]
        http = client(proxy.url, runtime=20, timeout=1.0)
        response = http.request("GET", "/tickets", idempotent=True, params={"label": "x"})
    assert response.status_code == 200
    assert len(proxy.requests) == 2


# -- I4: non-idempotent calls are never retried blindly -------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(Reset(after_forward=True), id="reset-after-commit"),
        pytest.param(Close(after_forward=True), id="close-after-commit"),
        pytest.param(Answer(500), id="500"),
        pytest.param(Answer(503, retry_after="1"), id="503"),
    ],
)
def test_create_with_unknown_outcome_is_not_retried(tracker: Tracker, fault: object) -> None:
    with FaultProxy(tracker.server.server_address[:2], Script(http={1: fault})) as proxy:  # type: ignore[dict-item]
        http = client(proxy.url)
        with pytest.raises(OutcomeUnknown):
            create(http)
    assert len(proxy.requests) == 1, "a create was sent twice"


def test_create_lost_after_commit_really_was_committed(tracker: Tracker) -> None:
    with FaultProxy(
        tracker.server.server_address[:2], Script(http={1: Reset(after_forward=True)})
    ) as proxy:  # type: ignore[arg-type]
        http = client(proxy.url)
        with pytest.raises(OutcomeUnknown):
            create(http)
    assert tracker.creates() == 1 and len(tracker.tickets) == 1


def test_create_refused_before_sending_is_retried(tracker: Tracker) -> None:
    with FaultProxy(
        tracker.server.server_address[:2], Script(http={1: Reset(after_forward=False)})
    ) as proxy:  # type: ignore[arg-type]
        http = client(proxy.url)
        with pytest.raises(OutcomeUnknown):
            create(http)  # the proxy reads the request first: the outcome is unknown to us
    assert tracker.creates() == 0


def test_create_answered_429_is_retried_after_retry_after(tracker: Tracker) -> None:
    script = Script(http={1: Answer(429, retry_after="1")})
    with FaultProxy(tracker.server.server_address[:2], script) as proxy:  # type: ignore[arg-type]
        http = client(proxy.url)
        assert create(http) == 201
    times = [e.time for e in proxy.requests]
    assert len(times) == 2 and times[1] - times[0] >= 0.95
    assert tracker.creates() == 1


def test_nothing_listening_is_unreachable_after_bounded_retries() -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    http = client(f"http://127.0.0.1:{port}", max_attempts=3, backoff_initial=0.05)
    with pytest.raises(Unreachable, match="cannot connect"):
        http.request("GET", "/tickets", idempotent=True)


# -- I6: politeness -------------------------------------------------------------------


def test_rate_holds_under_a_429_storm_and_retry_after_is_observed(tracker: Tracker) -> None:
    rate = 5.0
    storm = {n: Answer(429, retry_after="1") for n in (3, 4, 9)}
    storm[12] = Answer(503, retry_after="1")
    with FaultProxy(tracker.server.server_address[:2], Script(http=storm)) as proxy:  # type: ignore[arg-type]
        http = client(proxy.url, rate=rate, runtime=60)
        for _ in range(12):
            assert http.request("GET", "/tickets", idempotent=True).status_code == 200
    times = [e.time for e in proxy.requests]
    assert len(times) == 16
    # The limiter spaces requests 1/R apart at the client (R a second); arrival times are
    # taken at the proxy, so allow one for the window edge.
    assert max_in_window(times, 1.0) <= rate + 1
    for n in (3, 4, 9, 12):  # after each 429/503, nothing for the Retry-After second
        assert times[n] - times[n - 1] >= 0.95, (n, times[n] - times[n - 1])
    print(f"max requests in any 1 s window: {max_in_window(times, 1.0)} (rate {rate})")


def test_retry_after_longer_than_the_time_left_stops_cleanly(tracker: Tracker) -> None:
    # The system answered earlier in the run: a Retry-After that does not fit is
    # the clean stop I6 asks for.
    script = Script(http={2: Answer(429, retry_after="3600")})
    with FaultProxy(tracker.server.server_address[:2], script) as proxy:  # type: ignore[arg-type]
        http = client(proxy.url, runtime=20)
        assert http.request("GET", "/tickets", idempotent=True).status_code == 200
        started = time.monotonic()
        with pytest.raises(DeadlineReached, match="does not fit"):
            http.request("GET", "/tickets", idempotent=True)
    assert time.monotonic() - started < 2.0
    assert len(proxy.requests) == 2


def test_a_system_that_only_throttles_is_not_a_clean_stop(tracker: Tracker) -> None:
    # Not one answer in the whole run, only "wait an hour": the run achieved
    # nothing while the system refused, which must not look like success.
    script = Script(http={1: Answer(429, retry_after="3600")})
    with FaultProxy(tracker.server.server_address[:2], script) as proxy:  # type: ignore[arg-type]
        http = client(proxy.url, runtime=20)
        with pytest.raises(CutOff, match="does not fit"):
            http.request("GET", "/tickets", idempotent=True)
    assert len(proxy.requests) == 1


def test_a_failing_system_at_the_deadline_is_not_a_clean_stop(tracker: Tracker) -> None:
    # Resets until the next backoff no longer fits: the system was down.
    with FaultProxy(tracker.server.server_address[:2], Script(default=Answer(502))) as proxy:  # type: ignore[arg-type]
        http = client(proxy.url, runtime=2.0, backoff_initial=0.4, breaker_threshold=100)
        with pytest.raises(CutOff, match="502"):
            http.request("GET", "/tickets", idempotent=True)
    assert len(proxy.requests) >= 1


def test_repeated_5xx_opens_the_breaker(tracker: Tracker) -> None:
    with FaultProxy(tracker.server.server_address[:2], Script(default=Answer(502))) as proxy:  # type: ignore[arg-type]
        http = client(proxy.url, backoff_initial=0.01, backoff_max=0.05, max_attempts=10)
        with pytest.raises(Unreachable, match="5 failures in a row"):
            http.request("GET", "/tickets", idempotent=True)
    assert len(proxy.requests) == 5


def test_5xx_then_success_is_retried_with_backoff(tracker: Tracker) -> None:
    script = Script(http={1: Answer(500), 2: Answer(502)})
    with FaultProxy(tracker.server.server_address[:2], script) as proxy:  # type: ignore[arg-type]
        http = client(proxy.url, backoff_initial=0.05)
        assert http.request("GET", "/tickets", idempotent=True).status_code == 200
    assert len(proxy.requests) == 3


def test_exhausted_retries_are_a_transient_error(tracker: Tracker) -> None:
    with FaultProxy(tracker.server.server_address[:2], Script(default=Answer(500))) as proxy:  # type: ignore[arg-type]
        http = client(proxy.url, backoff_initial=0.01, max_attempts=3)
        with pytest.raises(TransientError, match="gave up after 3 attempts"):
            http.request("GET", "/tickets", idempotent=True)
    assert len(proxy.requests) == 3


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "Thu, 01 Jan 2026 00:00:10 GMT"}, 10.0),
        ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1767225612"}, 12.0),
        ({"x-ratelimit-remaining": "3", "x-ratelimit-reset": "1767225612"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers, now=lambda: 1767225600.0) == expected


# -- TLS ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """An HTTPS server with a fresh self-signed certificate for 127.0.0.1."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    ).start()
    yield int(server.server_address[1]), cert
    server.shutdown()


def test_tls_is_verified_by_default(tls_server: tuple[int, Path]) -> None:
    port, _ = tls_server
    http = client(f"https://127.0.0.1:{port}", max_attempts=2, backoff_initial=0.01)
    with pytest.raises((Unreachable, TransientError), match="CERTIFICATE_VERIFY_FAILED"):
        http.request("GET", "/", idempotent=True)


def test_tls_with_a_ca_bundle(tls_server: tuple[int, Path]) -> None:
    port, cert = tls_server
    http = client(f"https://127.0.0.1:{port}", settings={"CA_BUNDLE": str(cert)})
    assert http.request("GET", "/", idempotent=True).text == "ok"


def test_tls_verification_off_needs_the_setting_and_warns(
    tls_server: tuple[int, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from shitshovela_core.logs import configure_logging

    configure_logging("json", "info")
    port, _ = tls_server
    http = client(f"https://127.0.0.1:{port}", settings={"TLS_VERIFY": False})
    assert http.request("GET", "/", idempotent=True).text == "ok"
    assert "tls_verification_off" in capsys.readouterr().out


# -- I10: no secret in any error --------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Reset(after_forward=True),
        Close(after_forward=False),
        Answer(500),
        Answer(429, retry_after="999"),
    ],
    ids=["reset", "close", "500", "429"],
)
def test_no_secret_in_errors_whatever_fails(tracker: Tracker, fault: object) -> None:
    userinfo_url_secret = "url-pass-word"
    with FaultProxy(tracker.server.server_address[:2], Script(default=fault)) as proxy:  # type: ignore[arg-type]
        http = client(
            f"http://user:{userinfo_url_secret}@127.0.0.1:{proxy.port}",
            runtime=5,
            backoff_initial=0.01,
            max_attempts=2,
        )
        for idempotent in (True, False):
            with pytest.raises(Exception) as caught:  # noqa: PT011 - any failure; its text matters
                http.request("GET", f"/tickets?token={TOKEN}", idempotent=idempotent)
            text = str(caught.value) + repr(caught.value)
            assert TOKEN not in text and userinfo_url_secret not in text
            assert TOKEN not in REDACTOR.scrub(f"Bearer {TOKEN}")


@pytest.mark.parametrize("value", ["soon", "Thu, 99 Foo 2026 99:99:99 GMT", ""])
def test_a_malformed_retry_after_means_back_off(value: str) -> None:
    assert parse_retry_after({"retry-after": value}) is None
