"""The budget's window for observers: after the work's stop, before the watchdog."""

from __future__ import annotations

import threading
import time

import pytest
from shitshovela_testkit.clock import ManualClock

from shitshovela_core.deadline import Budget, Watchdog, default_margin, watchdog_lead
from shitshovela_core.errors import DeadlineReached

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("max_runtime", [1.0, 2.0, 8.0, 30.0, 600.0, 3600.0])
def test_observers_stop_between_the_work_and_the_watchdog(max_runtime: float) -> None:
    clock = ManualClock()
    budget = Budget(max_runtime, started=clock(), clock=clock, sleep=clock.sleep)
    observers = budget.for_observers()
    assert budget.watchdog_at == budget.deadline - watchdog_lead(default_margin(max_runtime))
    assert budget.stop_at < observers.stop_at < budget.watchdog_at
    # Most of the gap stays for closing providers, the last log line and the exit.
    spare = budget.watchdog_at - observers.stop_at
    assert spare == pytest.approx(2 * (observers.stop_at - budget.stop_at))
    assert (observers.started, observers.deadline) == (budget.started, budget.deadline)
    assert observers.watchdog_at == budget.watchdog_at
    assert observers.for_observers().stop_at <= budget.watchdog_at


def test_the_default_run_gives_observers_seconds_after_its_deadline() -> None:
    clock = ManualClock()
    budget = Budget(600, started=clock(), clock=clock, sleep=clock.sleep)
    clock.now = budget.stop_at  # the work stopped at its deadline
    assert budget.remaining() <= 0
    observers = budget.for_observers()
    assert observers.timeout(30.0) == pytest.approx((10 - 10 / 3) / 3)
    assert budget.watchdog_at - clock() == pytest.approx(10 - 10 / 3)


def test_a_tiny_runtime_gives_observers_no_more_than_the_work() -> None:
    clock = ManualClock()
    budget = Budget(0.6, started=clock(), clock=clock, sleep=clock.sleep)
    assert budget.watchdog_at < budget.stop_at  # the watchdog's 0.4 s lead is above the margin
    observers = budget.for_observers()
    assert observers.stop_at == budget.watchdog_at
    clock.now = budget.watchdog_at
    with pytest.raises(DeadlineReached):
        observers.timeout(1.0)


def test_the_watchdog_fires_at_the_budgets_watchdog_time() -> None:
    budget = Budget(1.5, started=time.monotonic())
    fired = threading.Event()
    fired_at: list[float] = []

    def on_fire() -> None:
        fired_at.append(time.monotonic())
        fired.set()

    Watchdog(budget, on_fire).start()
    assert fired.wait(5)
    assert budget.watchdog_at <= fired_at[0] < budget.deadline
    assert fired_at[0] > budget.for_observers().stop_at


def test_a_rearmed_watchdog_fires_at_the_new_budgets_time() -> None:
    """The entry point arms the watchdog from MAX_RUNTIME as set; the run moves it to
    its validated budget, earlier or later, at once (no wait for a poll)."""
    fired = threading.Event()
    fired_at: list[float] = []

    def on_fire() -> None:
        fired_at.append(time.monotonic())
        fired.set()

    watchdog = Watchdog(Budget(600, started=time.monotonic()), on_fire).start()
    later = Budget(3600, started=time.monotonic())
    watchdog.rearm(later)
    assert watchdog.fire_at == later.watchdog_at
    sooner = Budget(1.0, started=time.monotonic())
    watchdog.rearm(sooner)
    assert fired.wait(5)
    assert sooner.watchdog_at <= fired_at[0] < sooner.backstop_at < sooner.deadline


@pytest.mark.parametrize("max_runtime", [3.0, 8.0, 20.0, 60.0, 600.0, 7 * 24 * 3600.0])
def test_the_run_ends_between_the_work_and_the_watchdog_even_when_slow(
    max_runtime: float,
) -> None:
    """What follows the work's stop (the last step's end, closing the providers, the
    last line) takes tenths of a second on a loaded machine: at least 0.6 s lie
    between the work's stop and the watchdog (0.1 s with the old 0.5 s margin,
    where a full 8 s run on busy CPUs ended by the watchdog, exit 7)."""
    budget = Budget(max_runtime, started=0.0, clock=lambda: 0.0)
    assert budget.watchdog_at - budget.stop_at >= 0.6 - 1e-9
    assert budget.watchdog_at < budget.backstop_at < budget.deadline
