"""The safety layer through the real CLI in a subprocess, with faults on the wire.

I5: the process exits before ``start + max runtime`` against a hung server, a
dripping server and a silent TLS handshake, and not with 0 (a system that
never answered is an outage). I4: a create whose response is
lost stops the run (exit 6) and the next run's reconcile finishes the ticket.
I6: the rate holds through a whole run under a 429 storm. I8: failures stop
the run. I10: no secret in any output, whatever fails.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from httptracker import Tracker
from plugin_dists import http_job_env, install_http_plugin
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

pytestmark = pytest.mark.servers

TOKEN = '12345"@format {env[HOME]}'


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_http_plugin(tmp_path_factory.mktemp("site"))


@pytest.fixture
def tracker() -> Iterator[Tracker]:
    with Tracker(TOKEN) as running:
        yield running


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    for n in range(5):
        (folder / f"item-{n}.txt").write_text(f"Alert {n}\nbody {n}")
    return folder


def run_cli(
    site: Path, inbox: Path, url: str, **env: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    clean = http_job_env(site, inbox, url, TOKEN, **env)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "shitshovela_core", "run"],
        env=clean, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return result, time.monotonic() - started


def final(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    event: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return event


def assert_no_secret(result: subprocess.CompletedProcess[str]) -> None:
    """Not as set, nor as JSON or Python's repr would escape it, nor any part of it."""
    output = result.stdout + result.stderr
    for form in (TOKEN, json.dumps(TOKEN)[1:-1], repr(TOKEN)[1:-1], "12345", "@format {env"):
        assert form not in output


def upstream(tracker: Tracker) -> tuple[str, int]:
    return ("127.0.0.1", tracker.port)


# -- I5 -------------------------------------------------------------------------------


@pytest.mark.alone
@pytest.mark.parametrize(
    ("fault", "mode", "scheme"),
    [
        pytest.param(Hang(), "http", "http", id="hung-server"),
        pytest.param(Drip(bytes_per_second=1.0), "http", "http", id="dripping-server"),
        pytest.param(Hang(), "tcp", "https", id="silent-tls-handshake"),
    ],
)
def test_process_exits_before_its_deadline(
    site: Path, inbox: Path, tracker: Tracker, fault: object, mode: str, scheme: str
) -> None:
    runtime = 5.0  # work stops 1 s before: room for a slow start-up on a loaded machine
    with FaultProxy(upstream(tracker), Script(default=fault), mode=mode) as proxy:  # type: ignore[arg-type]
        result, elapsed = run_cli(
            site, inbox, f"{scheme}://127.0.0.1:{proxy.port}", SHITSHOVELA_MAX_RUNTIME=str(runtime)
        )
        assert proxy.connection_count >= 1  # the fault was met
    assert elapsed < runtime, f"exited {elapsed:.2f}s after start, deadline {runtime}s"
    # The system never answered: not a success (exit 3: nothing had changed).
    assert result.returncode == 3, result.stdout
    event = final(result)
    assert event["event"] == "run_failed"
    assert "cut off at the deadline" in str(event["reason"])
    assert len(list(inbox.iterdir())) == 5
    assert_no_secret(result)


# -- I4 -------------------------------------------------------------------------------


def test_lost_create_response_stops_the_run_and_the_next_run_finishes_it(
    site: Path, inbox: Path, tracker: Tracker
) -> None:
    # Request 1 is the reconcile listing; request 2 the first create.
    script = Script(http={2: Reset(after_forward=True)})
    with FaultProxy(upstream(tracker), script) as proxy:
        result, _ = run_cli(site, inbox, proxy.url)
    assert result.returncode == 6, result.stdout
    assert "outcome unknown" in str(final(result)["reason"])
    assert tracker.creates() == 1 and len(list(inbox.iterdir())) == 5
    again, _ = run_cli(site, inbox, tracker.url)
    assert again.returncode == 0, again.stdout
    assert final(again)["reconciled"] == 1 and final(again)["created"] == 4
    titles = sorted(t["title"] for t in tracker.tickets)
    assert titles == [f"Alert {n}" for n in range(5)]
    assert all(t["labels"] == [] for t in tracker.tickets)
    assert list(inbox.iterdir()) == []
    assert_no_secret(result)


# -- I6 -------------------------------------------------------------------------------


def test_rate_holds_for_a_whole_run_under_a_429_storm(
    site: Path, inbox: Path, tracker: Tracker
) -> None:
    storm = {n: Answer(429, retry_after="1") for n in (2, 3, 7)}
    with FaultProxy(upstream(tracker), Script(http=storm)) as proxy:
        result, _ = run_cli(site, inbox, proxy.url, SHITSHOVELA_HTTPTICKETS__RATE="4")
        times = [e.time for e in proxy.requests]
    assert result.returncode == 0, result.stdout
    assert final(result)["created"] == 5
    # Arrival times are taken at the proxy, so allow one for the window edge.
    assert max_in_window(times, 1.0) <= 4 + 1
    for n in (2, 3, 7):
        assert times[n] - times[n - 1] >= 0.95


def test_back_to_back_runs_keep_the_rate_between_any_two_requests(
    site: Path, inbox: Path, tracker: Tracker
) -> None:
    # Three runs of one instance, each started as the one before exits, one item a run.
    # Each process starts afresh, yet no two requests, within a run or across runs,
    # come closer than 1/RATE: a run's first request waits for 1/RATE after its
    # process started, so it cannot follow the previous run's last request (sent
    # before that process exited) more closely. RATE=1: its spacing is longer than
    # the start-up, so the wait at start is what keeps it.
    for extra in sorted(inbox.iterdir())[3:]:
        extra.unlink()
    rate = 1
    jitter = 0.05  # arrival times are taken at the proxy, after loopback and scheduling
    spawned: list[tuple[float, int]] = []  # when each run was spawned, requests seen before
    with FaultProxy(upstream(tracker)) as proxy:
        for _ in range(3):
            spawned.append((time.monotonic(), len(proxy.requests)))
            result, _ = run_cli(
                site,
                inbox,
                proxy.url,
                SHITSHOVELA_HTTPTICKETS__RATE=str(rate),
                SHITSHOVELA_MAX_TICKETS="1",
            )
            assert result.returncode == 0, result.stdout
        times = [e.time for e in proxy.requests]
    assert tracker.creates() == 3 and list(inbox.iterdir()) == []
    assert len(times) == 3 * 3  # each run: the listing, a create, an unflag
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(times)]
    # Exact: a request arrives after it was sent, and a process starts after its spawn.
    firsts = [round(times[seen] - spawn, 3) for spawn, seen in spawned]
    assert min(firsts) >= 1 / rate, f"first requests after each spawn: {firsts}"
    assert min(gaps) >= 1 / rate - jitter, f"gaps between arrivals: {gaps}"
    assert max_in_window(times, 1.0 - jitter) <= rate, f"gaps between arrivals: {gaps}"
    print(f"gaps between arrivals: {gaps}; first requests after each spawn: {firsts}")


# -- I8 -------------------------------------------------------------------------------


def test_failure_in_reconcile_creates_nothing(site: Path, inbox: Path, tracker: Tracker) -> None:
    with FaultProxy(upstream(tracker), Script(default=Answer(500))) as proxy:
        result, _ = run_cli(site, inbox, proxy.url)
    assert result.returncode in (3, 4), result.stdout
    assert tracker.creates() == 0
    assert [r for r in proxy.requests if r.method == "POST"] == []


def test_failure_in_the_drain_stops_at_once(site: Path, inbox: Path, tracker: Tracker) -> None:
    # 1 listing, 2 create, 3 unflag, 4 create; then the second unflag (5) fails for
    # good: retried until the breaker opens, and nothing after it is sent.
    script = Script(http={n: Answer(500) for n in range(5, 20)})
    with FaultProxy(upstream(tracker), script) as proxy:
        result, _ = run_cli(site, inbox, proxy.url)
    assert result.returncode == 5, result.stdout
    methods = [r.method for r in proxy.requests]
    assert methods.count("POST") == 2
    assert methods[4:] == ["DELETE"] * 5
    assert len(list(inbox.iterdir())) == 3


# -- I10 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [Reset(after_forward=True), Close(after_forward=False), Answer(500), Answer(401),
     Answer(429, retry_after="999"), Drip(bytes_per_second=50)],
    ids=["reset", "close", "500", "401", "429", "drip"],
)  # fmt: skip
def test_no_secret_in_any_output_whatever_fails(
    site: Path, inbox: Path, tracker: Tracker, fault: object
) -> None:
    with FaultProxy(upstream(tracker), Script(default=fault)) as proxy:  # type: ignore[arg-type]
        result, _ = run_cli(site, inbox, proxy.url, SHITSHOVELA_MAX_RUNTIME="6",
                            SHITSHOVELA_LOG_LEVEL="debug")  # fmt: skip
    assert_no_secret(result)
    assert final(result)["event"] in {"run_finished", "run_failed"}
