"""The faults a test schedules on an emulator: per route, refusals, slowness, each once."""

from __future__ import annotations

import threading

import pytest
from shitshovela_testkit.faultscript import FAULT_MODES, Countdown, FaultScript

pytestmark = pytest.mark.unit


def test_a_countdown_gives_each_entry_to_its_number_of_requests_in_order() -> None:
    queue: Countdown[str] = Countdown()
    assert queue.take() is None
    queue.add(2, "a")
    queue.add(0, "never")
    queue.add(1, "b")
    assert [queue.take() for _ in range(4)] == ["a", "a", "b", None]
    queue.add(5, "c")
    queue.clear()
    assert queue.take() is None


def test_a_route_fails_as_scheduled_then_any_route_then_none() -> None:
    script: FaultScript[str] = FaultScript()
    script.fail_next("create", "fail_500", times=2)
    script.fail_next("*", "drop")
    assert script.take("delete") == "drop"  # "*" serves any route
    assert script.take("delete") is None
    assert script.peek("create") == "fail_500"  # peeking uses nothing up
    assert [script.take("create") for _ in range(3)] == ["fail_500", "fail_500", None]


def test_a_route_gets_its_own_fault_before_one_for_any_route() -> None:
    script: FaultScript[str] = FaultScript()
    script.fail_next("*", "drop")
    script.fail_next("create", "commit_then_500")
    assert [script.take("create") for _ in range(3)] == ["commit_then_500", "drop", None]


def test_replacing_a_routes_faults_and_refusing_an_unknown_mode() -> None:
    script: FaultScript[str] = FaultScript()
    script.fail_next("create", "drop", times=3)
    script.replace("create", "commit_then_drop")
    assert script.peek("create") == "commit_then_drop"
    assert script.take("create") == "commit_then_drop" and script.take("create") is None
    script.fail_next("create", "drop")
    script.replace("create", None)
    assert script.take("create") is None
    with pytest.raises(ValueError, match="unknown fault 'explode'") as caught:
        script.fail_next("create", "explode")
    assert all(mode in str(caught.value) for mode in FAULT_MODES)


def test_refusals_and_delays_count_down_and_clear_forgets_everything() -> None:
    script: FaultScript[tuple[int, int]] = FaultScript()
    script.refuse(2, (429, 30))
    script.refuse(1, (503, 0))
    script.slow(1, 0.25)
    assert [script.take_refusal() for _ in range(4)] == [(429, 30), (429, 30), (503, 0), None]
    assert script.take_delay() == 0.25 and script.take_delay() == 0.0
    script.fail_next("*", "drop")
    script.refuse(1, (429, 1))
    script.slow(1, 1.0)
    script.clear()
    assert (script.take("x"), script.take_refusal(), script.take_delay()) == (None, None, 0.0)


def test_a_fault_is_handed_to_exactly_one_request_across_threads() -> None:
    script: FaultScript[int] = FaultScript()
    script.fail_next("create", "fail_500", times=1000)
    script.refuse(1000, 429)
    start = threading.Barrier(8)
    taken: list[int] = []
    lock = threading.Lock()

    def serve() -> None:
        start.wait()
        n = 0
        for _ in range(400):
            n += script.take("create") is not None
            n += script.take_refusal() is not None
        with lock:
            taken.append(n)

    threads = [threading.Thread(target=serve) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(taken) == 2000  # 8 x 400 asks each for 1000 + 1000 faults: each taken once


@pytest.mark.parametrize(
    ("mode", "applied", "answer"),
    [
        (None, True, "200"),
        ("fail_500", False, "500"),
        ("drop", False, "dropped"),
        ("commit_then_500", True, "500"),
        ("commit_then_drop", True, "dropped"),
    ],
)
def test_a_fault_mode_decides_whether_the_request_is_applied_and_how_it_is_answered(
    mode: str | None, applied: bool, answer: str
) -> None:
    script: FaultScript[str] = FaultScript()
    if mode is not None:
        script.fail_next("create", mode)
    writes: list[str] = []

    def handler() -> str:
        writes.append("written")
        return "200"

    got = script.apply("create", handler, failed=lambda: "500", dropped=lambda: "dropped")
    assert (got, writes) == (answer, ["written"] if applied else [])
    assert script.apply("create", handler, failed=lambda: "500", dropped=lambda: "x") == "200"
