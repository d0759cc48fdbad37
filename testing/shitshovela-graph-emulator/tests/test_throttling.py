"""Outlook's throttling per app and mailbox, and the faults a test injects."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
import pytest
from shitshovela_graph_emulator import (
    DEFAULT_APP_ID,
    DEFAULT_MAILBOX,
    GraphEmulator,
    Throttling,
    build_mime,
)
from shitshovela_testkit.clock import ManualClock

pytestmark = pytest.mark.servers

Factory = Callable[..., GraphEmulator]

U = f"users/{DEFAULT_MAILBOX}"
OTHER = "archive@contoso.onmicrosoft.com"
OTHER_APP = "0f0e0d0c-0b0a-0908-0706-050403020100"


def test_the_request_budget_per_app_and_mailbox(make_graph: Factory, clock: ManualClock) -> None:
    graph = make_graph(
        clock=clock,
        mailboxes=[DEFAULT_MAILBOX, OTHER],
        throttling=Throttling(requests_per_window=5, window=600.0),
    )
    with graph.client() as c, graph.client(graph.make_token(OTHER_APP)) as other_app:
        answers = []
        for _ in range(5):
            answers.append(c.get(f"{U}/mailFolders").status_code)
            clock.advance(10)
        over = c.get(f"{U}/mailFolders")
        elsewhere = c.get(f"users/{OTHER}/mailFolders")
        other = other_app.get(f"{U}/mailFolders")
        clock.advance(600 - 50)  # the first request leaves the window
        later = c.get(f"{U}/mailFolders")
        full_again = c.get(f"{U}/mailFolders")
    assert answers == [200] * 5
    assert over.status_code == 429 and over.headers["Retry-After"] == "550"
    assert over.json()["error"]["code"] == "ApplicationThrottled"
    assert elsewhere.status_code == 200 and other.status_code == 200
    assert later.status_code == 200
    assert full_again.status_code == 429 and full_again.headers["Retry-After"] == "10"
    assert graph.usage(mailbox=DEFAULT_MAILBOX).requests == 5
    assert graph.usage(OTHER_APP, mailbox=DEFAULT_MAILBOX).requests == 1


def test_graph_s_budget_is_ten_thousand_in_ten_minutes_and_four_at_once() -> None:
    assert Throttling() == Throttling(
        requests_per_window=10_000,
        window=600.0,
        max_concurrent=4,
        upload_bytes_per_window=150 * 1024 * 1024,
        upload_window=300.0,
        concurrency_retry_after=1,
    )


def test_a_fifth_request_at_once_is_refused(graph: GraphEmulator) -> None:
    graph.faults.slow(4, 0.6)
    url = f"{graph.api_url}/{U}/mailFolders"
    headers = graph.auth_headers()
    statuses: list[int] = []

    def one() -> None:
        statuses.append(httpx.get(url, headers=headers, timeout=10).status_code)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    while graph.usage().in_flight < 4:
        threading.Event().wait(0.01)
    fifth = httpx.get(url, headers=headers, timeout=10)
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] * 4
    assert fifth.status_code == 429 and fifth.headers["Retry-After"] == "1"
    assert fifth.json()["error"]["message"] == "Application is over its MailboxConcurrency limit."
    assert httpx.get(url, headers=headers, timeout=10).status_code == 200  # room again
    assert graph.usage().in_flight == 0


def test_the_upload_budget(make_graph: Factory, clock: ManualClock) -> None:
    graph = make_graph(clock=clock, throttling=Throttling(upload_bytes_per_window=300))
    seeded = graph.seed_message(build_mime())
    body = {"categories": ["x" * 100]}
    with graph.client() as c:
        statuses = [c.patch(f"{U}/messages/{seeded.id}", json=body).status_code for _ in range(3)]
        clock.advance(300)
        after = c.patch(f"{U}/messages/{seeded.id}", json=body).status_code
    assert statuses == [200, 200, 429] and after == 200


def test_injected_refusals(graph: GraphEmulator) -> None:
    graph.faults.throttle(2, retry_after=7)
    graph.faults.unavailable(1, retry_after=3)
    graph.faults.gateway_timeout(1)
    with graph.client() as c:
        answers = [c.get(f"{U}/mailFolders") for _ in range(5)]
    assert [r.status_code for r in answers] == [429, 429, 503, 504, 200]
    assert [r.headers.get("Retry-After") for r in answers] == ["7", "7", "3", None, None]
    assert answers[2].json()["error"]["code"] == "ServiceNotAvailable"


@pytest.mark.parametrize(
    ("mode", "status", "moved"),
    [
        ("fail_500", 500, False),
        ("drop", 0, False),
        ("commit_then_500", 500, True),
        ("commit_then_drop", 0, True),
    ],
)
def test_faulty_moves(graph: GraphEmulator, mode: str, status: int, moved: bool) -> None:
    seeded = graph.seed_message(build_mime())
    graph.faults.fail_next("move_message", mode)
    with graph.client() as c:
        try:
            answered = c.post(
                f"{U}/messages/{seeded.id}/move", json={"destinationId": "archive"}
            ).status_code
        except httpx.RemoteProtocolError:
            answered = 0
        where = graph.message(seeded.id).folder
        again = c.post(f"{U}/messages/{seeded.id}/move", json={"destinationId": "archive"})
    assert answered == status and graph.requests[-2].status == status
    assert where == ("archive" if moved else "inbox")
    assert again.status_code == 201  # one fault, then the next request is served
    assert graph.message(seeded.id).folder == "archive"


def test_a_wildcard_fault_and_clearing(graph: GraphEmulator) -> None:
    graph.faults.fail_next("*", "fail_500", times=2)
    graph.faults.clear()
    with graph.client() as c:
        assert c.get(f"{U}/mailFolders").status_code == 200
    assert graph.usage(DEFAULT_APP_ID).requests == 1
