"""I6 at the limiter: requests evenly spaced, never a burst, the first one a spacing
after the process start (so back-to-back runs of one instance keep the rate too)."""

from __future__ import annotations

import itertools

import pytest
from shitshovela_testkit.clock import ManualClock
from shitshovela_testkit.faultproxy import max_in_window

from shitshovela_core.ratelimit import RateLimiter, spacing

pytestmark = pytest.mark.unit


def slots(
    limiter: RateLimiter, clock: ManualClock, count: int, *, work: float = 0.0
) -> list[float]:
    """Take ``count`` slots as a caller would (wait when told to), each followed by
    ``work`` seconds; return when each slot was granted."""
    granted: list[float] = []
    while len(granted) < count:
        delay = limiter.try_acquire()
        if delay is None:
            granted.append(clock())
            clock.advance(work)
        else:
            assert delay > 0
            clock.sleep(delay)
    return granted


@pytest.mark.parametrize("rate", [0.5, 1.0, 2.0, 4.0, 20.0, 1000.0])
@pytest.mark.parametrize("work", [0.0, 0.01, 0.3])
def test_slots_are_evenly_spaced_and_the_first_is_one_spacing_after_the_start(
    rate: float, work: float
) -> None:
    clock = ManualClock()
    started = clock()
    limiter = RateLimiter(rate, started=started, clock=clock)
    granted = slots(limiter, clock, 3 * int(max(rate, 2)), work=work)
    assert granted[0] == pytest.approx(started + 1 / rate)
    gaps = [b - a for a, b in itertools.pairwise(granted)]
    assert min(gaps) >= 1 / rate - 1e-9, gaps  # no burst, ever
    assert max_in_window(granted, 1.0 - 1e-9) <= max(1, rate)  # 1e-9: float sums
    if work <= 1 / rate:  # a caller that keeps up gets the full rate
        assert max(gaps) == pytest.approx(1 / rate)


def test_a_limiter_made_late_in_the_run_has_its_first_slot_at_once() -> None:
    clock = ManualClock()
    limiter = RateLimiter(2.0, started=clock() - 30.0, clock=clock)
    assert limiter.try_acquire() is None
    assert limiter.try_acquire() == pytest.approx(0.5)


def test_a_slow_caller_does_not_earn_a_burst() -> None:
    clock = ManualClock()
    limiter = RateLimiter(5.0, started=clock(), clock=clock)
    slots(limiter, clock, 1)
    clock.advance(60.0)  # idle for a minute: no credit is saved up
    idle_until = clock()
    granted = slots(limiter, clock, 5)
    assert granted[0] == idle_until
    assert [round(b - a, 9) for a, b in itertools.pairwise(granted)] == [0.2] * 4


@pytest.mark.parametrize(
    ("rate", "seconds"),
    [(2.5, 0.5), (1.9, 1.0), (1.0, 1.0), (20.0, 0.05), (0.5, 2.0), (0.3, 1 / 0.3)],
)
def test_spacing_never_lets_a_second_hold_more_than_the_rate(rate: float, seconds: float) -> None:
    # Fractional rates above one are rounded down (2.5/s is 2 a second, 0.5 s apart),
    # so that no one-second window holds more than RATE requests.
    assert spacing(rate) == pytest.approx(seconds)
    clock = ManualClock()
    granted = slots(RateLimiter(rate, started=clock(), clock=clock), clock, 12)
    assert max_in_window(granted, 1.0 - 1e-9) <= max(1, rate)  # 1e-9: float sums
