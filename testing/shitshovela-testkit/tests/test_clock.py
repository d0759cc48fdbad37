"""The one manual clock: moves only when told, thread-safe, optionally on top of real time."""

from __future__ import annotations

import threading
import time

import pytest
from shitshovela_testkit.clock import ManualClock

from shitshovela_core.deadline import Budget

pytestmark = pytest.mark.unit


def test_it_moves_only_when_told() -> None:
    clock = ManualClock()
    assert clock() == clock.now == 1000.0
    time.sleep(0.01)
    assert clock() == 1000.0
    clock.advance(2.5)
    clock.sleep(0.5)
    assert clock() == 1003.0
    clock.advance(-10)  # never backwards
    assert clock() == 1003.0
    clock.now = 2000.0
    assert clock() == 2000.0


def test_a_budget_wait_takes_no_real_time() -> None:
    clock = ManualClock()
    budget = Budget(60.0, started=clock(), clock=clock, sleep=clock.sleep, margin=1.0)
    started = time.monotonic()
    budget.sleep(30.0)
    assert time.monotonic() - started < 1.0
    assert budget.remaining() == pytest.approx(29.0)


def test_following_real_time_never_runs_behind_it() -> None:
    clock = ManualClock(follow_real_time=True)
    before = time.monotonic()
    assert before <= clock() <= time.monotonic()
    clock.advance(100.0)
    assert clock() >= time.monotonic() + 99.0
    clock.now = time.monotonic() + 5.0
    assert 4.0 < clock() - time.monotonic() <= 5.0
    assert "follow_real_time=True" in repr(clock)


def test_threads_see_every_advance() -> None:
    clock = ManualClock(start=0.0)

    def push() -> None:
        for _ in range(1000):
            clock.advance(1.0)

    threads = [threading.Thread(target=push) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock() == 4000.0
