"""Rate limits: the headers on every answer, the primary quota, the secondary limits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
import pytest
from shitshovela_github_emulator import GitHubEmulator, TokenConfig
from shitshovela_testkit.clock import ManualClock

pytestmark = pytest.mark.servers

Factory = Callable[..., GitHubEmulator]

ISSUES = "/repos/acme/tickets/issues"
HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-used")


def quota(r: httpx.Response) -> tuple[int, int, int, int]:
    limit, remaining, reset, used = (int(r.headers[h]) for h in HEADERS)
    return limit, remaining, reset, used


def test_every_answer_carries_the_rate_limit_headers(
    make_github: Factory, clock: ManualClock
) -> None:
    github = make_github(clock=clock)
    with github.client() as c:
        answers = [
            c.post(ISSUES, json={"title": "x"}),  # 201
            c.get(f"{ISSUES}/1"),  # 200
            c.get(f"{ISSUES}/9"),  # 404
            c.post(ISSUES, json={"title": "x" * 300}),  # 422
            c.get("/nowhere"),  # 404, no such route
        ]
    assert [r.status_code for r in answers] == [201, 200, 404, 422, 404]
    assert [quota(r) for r in answers] == [
        (5000, 4999 - n, int(clock()) + 3600, n + 1) for n in range(5)
    ]
    assert all(r.headers["x-ratelimit-resource"] == "core" for r in answers)
    unauthenticated = httpx.get(f"{github.url}/user")
    assert unauthenticated.status_code == 401
    assert quota(unauthenticated)[:2] == (60, 59)  # the anonymous quota


def test_rate_limit_endpoint_is_free(github: GitHubEmulator) -> None:
    with github.client() as c:
        c.get("/user")
        first = c.get("/rate_limit")
        second = c.get("/rate_limit")
    assert first.json()["resources"]["core"]["used"] == 1
    assert second.json()["rate"]["remaining"] == 4999
    assert quota(second)[1] == 4999


@pytest.mark.parametrize("status", [403, 429])
def test_an_exhausted_primary_quota_is_refused_until_the_reset(
    make_github: Factory, clock: ManualClock, status: int
) -> None:
    github = make_github(
        clock=clock, tokens={"ghp_t": TokenConfig(rate_limit=3)}, primary_status=status
    )
    with github.client() as c:
        assert [c.get("/user").status_code for _ in range(3)] == [200, 200, 200]
        refused = c.post(ISSUES, json={"title": "x"})
        assert refused.status_code == status
        assert refused.json()["message"].startswith("API rate limit exceeded for user ID ")
        assert quota(refused) == (3, 0, int(clock()) + 3600, 3)
        assert "retry-after" not in refused.headers
        assert github.issues() == []
        clock.advance(3600)
        again = c.post(ISSUES, json={"title": "x"})
    assert again.status_code == 201 and quota(again)[1:] == (2, int(clock()) + 3600, 1)


def test_exhaust_rate_limit_is_a_shortcut(github: GitHubEmulator) -> None:
    github.exhaust_rate_limit()
    with github.client() as c:
        r = c.get("/user")
    assert r.status_code == 403 and r.headers["x-ratelimit-remaining"] == "0"


@pytest.mark.parametrize("status", [403, 429])
def test_content_creation_over_the_secondary_limit_gets_retry_after(
    make_github: Factory, clock: ManualClock, status: int
) -> None:
    github = make_github(clock=clock, secondary_per_minute=3, secondary_status=status)
    with github.client() as c:
        for n in range(3):
            assert c.post(ISSUES, json={"title": f"t{n}"}).status_code == 201
            clock.advance(10)
        assert c.get(ISSUES).status_code == 200  # reads are not content-creating
        refused = c.patch(f"{ISSUES}/1", json={"state": "closed"})
        assert refused.status_code == status
        assert "secondary rate limit" in refused.json()["message"]
        assert refused.headers["retry-after"] == "30"  # the first write leaves the minute then
        assert int(refused.headers["x-ratelimit-remaining"]) > 0  # not the primary limit
        clock.advance(30)
        assert c.patch(f"{ISSUES}/1", json={"state": "closed"}).status_code == 200
    assert github.issue(1).state == "closed"


def test_the_hourly_secondary_limit(make_github: Factory, clock: ManualClock) -> None:
    github = make_github(clock=clock, secondary_per_minute=100, secondary_per_hour=4)
    with github.client() as c:
        for n in range(4):
            assert c.post(ISSUES, json={"title": f"t{n}"}).status_code == 201
            clock.advance(60)
        refused = c.post(ISSUES, json={"title": "one too many"})
        assert refused.status_code == 403
        assert refused.headers["retry-after"] == str(3600 - 240)
        clock.advance(3600 - 240)
        assert c.post(ISSUES, json={"title": "fits again"}).status_code == 201


def test_retry_after_can_be_left_out(make_github: Factory, clock: ManualClock) -> None:
    github = make_github(clock=clock, secondary_per_minute=1, send_retry_after=False)
    with github.client() as c:
        c.post(ISSUES, json={"title": "x"})
        refused = c.post(ISSUES, json={"title": "y"})
    assert refused.status_code == 403 and "retry-after" not in refused.headers


def test_limits_are_per_token(make_github: Factory, clock: ManualClock) -> None:
    github = make_github(
        clock=clock, secondary_per_minute=1, tokens={"ghp_a": TokenConfig(), "ghp_b": TokenConfig()}
    )
    with github.client("ghp_a") as a, github.client("ghp_b") as b:
        assert a.post(ISSUES, json={"title": "x"}).status_code == 201
        assert a.post(ISSUES, json={"title": "x"}).status_code == 403
        assert b.post(ISSUES, json={"title": "x"}).status_code == 201


def test_too_many_concurrent_requests_hit_the_secondary_limit(make_github: Factory) -> None:
    github = make_github(max_concurrent=1)
    github.faults.slow(1, 1.0)
    statuses: list[int] = []

    def call() -> None:
        with github.client() as c:
            statuses.append(c.get("/repos/acme/tickets").status_code)

    slow = threading.Thread(target=call)
    slow.start()
    while not any(r.status is None for r in github.requests):
        time.sleep(0.01)  # until the slow request has arrived...
    time.sleep(0.2)  # ...and is waiting inside (its wait comes after the admission)
    call()
    slow.join()
    assert sorted(statuses) == [200, 403]
    with github.client() as c:
        assert c.get("/repos/acme/tickets").status_code == 200  # one at a time is fine
