"""I6 on the wire: under a 429 storm the provider stays within its rate and waits
out every ``Retry-After``, retries included (real clock, real sockets)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from jirakit import EngineWorld
from shitshovela_jira_emulator import JiraEmulator
from shitshovela_testkit.faultproxy import max_in_window

from shitshovela_core.errors import ExitCode

pytestmark = pytest.mark.servers

RATE = 4.0
ITEMS = {f"item-{n}": f"Alert {n}\nbody {n}" for n in range(4)}


def test_a_429_storm_keeps_the_rate_and_honours_retry_after(
    start_jira: Callable[..., JiraEmulator], flavour: str
) -> None:
    jira = start_jira(flavour)
    world = EngineWorld(jira, ITEMS, clock=time.monotonic)
    jira.faults.rate_limit(3, retry_after="1")  # the first three requests: 429
    summary = world.run(claims=False, index_lag=0.0, RATE=RATE)
    assert summary is not None and summary.exit_code == ExitCode.OK, summary
    assert world.tickets_per_item() == {name: 1 for name in ITEMS}
    requests = jira.requests
    times = [r.time for r in requests]
    # The limiter's spacing holds at the client, at send time; these are arrival
    # times at the server, so the window is shortened by 0.1 s of loopback jitter.
    assert max_in_window(times, 0.9) <= RATE
    assert max_in_window(times, 2.0) <= 2 * RATE + 1
    throttled = [n for n, r in enumerate(requests) if r.status == 429]
    assert len(throttled) == 3
    for n in throttled:
        assert requests[n + 1].time - requests[n].time >= 1.0, "Retry-After not honoured"
    # the storm was retried, not skipped: the same call went out again after each 429
    assert requests[throttled[-1] + 1].path == requests[throttled[-1]].path
    assert requests[throttled[-1] + 1].status == 200
    # the whole run still used at most the configured rate on average
    span = times[-1] - times[0]
    assert len(times) <= RATE * (span + 1.0)
