"""The time budget of a run (I5): from the process start to ``MAX_RUNTIME``.

The start is read from the operating system (``/proc/self/stat``), not taken
when the code happens to run, so slow imports count against the budget.
Every step checks the budget; every network call's timeout is clipped to the
time left; no item is started that is not expected to fit; and a `Watchdog`
thread ends the process just before the deadline if anything ignored all that.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable

from .errors import DeadlineReached

#: ``MAX_RUNTIME``'s default and its valid range, in seconds. Below 3 s a run
#: would mostly stop before its first request (start-up takes 0.4 s on a quiet
#: machine, several times that on a loaded one, and the margin kept before the
#: deadline is at least 1 s); above a week it is no batch run but a daemon,
#: and a mistake such as ``99999999999h`` would reach timeouts the platform
#: cannot wait for.
DEFAULT_RUNTIME = 600.0
MIN_RUNTIME = 3.0
MAX_RUNTIME = 7 * 24 * 3600.0

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Parse ``90``, ``90s``, ``1.5m``, ``15m`` or ``1h`` into seconds (> 0)."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError("expected seconds or a number with s, m or h, such as 90, 90s, 15m, 1h")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if not seconds > 0:
        raise ValueError("must be more than zero")
    return seconds


def check_runtime(seconds: float) -> None:
    """Raise `ValueError` unless ``seconds`` is a valid ``MAX_RUNTIME`` (3 s to a week)."""
    if not (math.isfinite(seconds) and MIN_RUNTIME <= seconds <= MAX_RUNTIME):
        raise ValueError(
            f"use {MIN_RUNTIME:g}s to {MAX_RUNTIME / 3600:g}h (a week): below that a run "
            "cannot get started, above it is no batch run"
        )


def early_runtime(raw: str | None) -> float:
    """``MAX_RUNTIME`` as set in the environment, read before the configuration is:
    the default when unset or invalid (the configuration then refuses it, exit 2)."""
    try:
        seconds = parse_duration(raw) if raw else DEFAULT_RUNTIME
        check_runtime(seconds)
    except ValueError:
        return DEFAULT_RUNTIME
    return seconds


def process_age() -> float:
    """Seconds since this process started, read from the OS (Linux ``/proc``).

    Where ``/proc`` cannot be read (not Linux) it returns 0: the budget then
    starts when the `Budget` is made, which is documented as the fallback.
    """
    try:
        with open("/proc/self/stat", encoding="ascii") as stat_file:
            stat = stat_file.read()
        fields = stat[stat.rindex(")") + 2 :].split()
        start_ticks = int(fields[19])  # field 22 of proc(5): starttime, clock ticks after boot
        with open("/proc/uptime", encoding="ascii") as uptime_file:
            uptime = float(uptime_file.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


#: How much later than `process_age` says the process may really have started:
#: ``/proc`` gives the start in clock ticks, rounded down (one tick is 10 ms on
#: Linux). The rate limiter adds it, so that its first slot is never early (I6).
START_RESOLUTION = 1 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.0


def default_margin(max_runtime: float) -> float:
    """The safety margin kept before the deadline: 5 % of the runtime, 1-10 s (at most
    half the runtime). At least a second, because what follows the work's stop
    (the last step's end, closing the providers, the last line) must fit between
    it and the watchdog on a loaded machine too, where it takes tenths of a second."""
    return min(10.0, max(1.0, 0.05 * max_runtime), max_runtime / 2)


def watchdog_lead(margin: float) -> float:
    """How long before the deadline the watchdog fires: a third of the margin, at
    least 0.4 s, so that its last line (at most 0.2 s, `hardstop.LAST_LINE_WAIT`)
    and the exit still land before the deadline (and before the kernel's timer,
    `BACKSTOP_LEAD`) even with the smallest margin."""
    return max(margin / 3, 0.4)


#: How long before the deadline the kernel's timer ends the process, should the
#: `Watchdog` (which has finished by ``watchdog_lead - LAST_LINE_WAIT`` before it,
#: 0.2 s at least) not have run: enough for the kernel to end a process on a
#: loaded machine.
BACKSTOP_LEAD = 0.1

#: The share of the time between the work's stop and the watchdog that
#: `Budget.for_observers` gives to observers; the rest is for ending the process.
OBSERVER_SHARE = 1 / 3


class Budget:
    """How much time the run has left.

    ``deadline`` is ``process start + max_runtime`` on the monotonic clock.
    Work stops at ``stop_at = deadline - margin``; the watchdog fires between
    the two, at ``watchdog_at``, and the kernel's timer later still, at
    ``backstop_at`` (`shitshovela_core.hardstop`). Times are monotonic seconds.
    """

    def __init__(
        self,
        max_runtime: float,
        *,
        started: float | None = None,
        margin: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        watchdog_at: float | None = None,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        self.max_runtime = max_runtime
        self.started = clock() - process_age() if started is None else started
        self.margin = default_margin(max_runtime) if margin is None else margin
        self.deadline = self.started + max_runtime
        self.stop_at = self.deadline - self.margin
        #: When the `Watchdog` ends the process (kept by `for_observers` budgets).
        self.watchdog_at = (
            self.deadline - watchdog_lead(self.margin) if watchdog_at is None else watchdog_at
        )
        #: When the kernel's timer ends the process, should the watchdog not have.
        self.backstop_at = self.deadline - BACKSTOP_LEAD
        self._durations: deque[float] = deque(maxlen=20)

    def for_observers(self) -> Budget:
        """A budget for observers that report a run after its work stopped.

        Its ``stop_at`` lies between the work's ``stop_at`` and ``watchdog_at``:
        a third of the way (`OBSERVER_SHARE`), the rest being left for closing
        the providers, the last log line and the exit. So a push at the end of a
        run that stopped at its deadline still gets a little time (a third of
        ``margin - watchdog_lead``: 2.2 s with the 10 s margin of a 600 s run,
        0.2 s with the smallest margin), yet a call bounded by this budget (as
        `SafetyPolicy` and `HttpClient` bound theirs) ends before the watchdog
        fires. Where the watchdog would fire before the work's stop (a runtime
        under about a second), observers get no more than the work. Same
        start, deadline, clock and watchdog time as this budget; a new record of
        item durations.
        """
        gap = max(0.0, self.watchdog_at - self.stop_at)
        stop = min(self.stop_at, self.watchdog_at) + gap * OBSERVER_SHARE
        return Budget(
            self.max_runtime,
            started=self.started,
            margin=self.deadline - stop,
            clock=self.clock,
            sleep=self.sleep,
            watchdog_at=self.watchdog_at,
        )

    def elapsed(self) -> float:
        """Seconds since the process started."""
        return self.clock() - self.started

    def remaining(self) -> float:
        """Seconds left before work must stop (may be negative)."""
        return self.stop_at - self.clock()

    def check(self, step: str) -> None:
        """Raise `DeadlineReached` if no time is left for ``step``."""
        if self.remaining() <= 0:
            raise DeadlineReached(f"deadline reached before {step}")

    def timeout(self, preferred: float, step: str = "a network call") -> float:
        """A call's timeout: ``preferred`` clipped to the time left (I5).

        Raises `DeadlineReached` when nothing is left."""
        left = self.remaining()
        if left <= 0:
            raise DeadlineReached(f"deadline reached before {step}")
        return min(preferred, left)

    def record_item(self, seconds: float) -> None:
        """Remember how long one item took, to predict the next."""
        self._durations.append(seconds)

    def expected_item(self) -> float:
        """The longest of the recent item durations (0 before the first)."""
        return max(self._durations, default=0.0)

    def fits_item(self) -> bool:
        """True if one more item is expected to finish before ``stop_at``."""
        return self.remaining() > self.expected_item()

    def wait_until(self, moment: float, step: str) -> None:
        """Sleep until the monotonic time ``moment``, if that fits in the budget.

        Raises `DeadlineReached` without sleeping when it does not (I11's settle
        wait and I6's ``Retry-After`` waits use this)."""
        if moment > self.stop_at:
            raise DeadlineReached(f"waiting for {step} does not fit in the time left")
        delay = moment - self.clock()
        if delay > 0:
            self.sleep(delay)


class Watchdog:
    """Ends the process just before the deadline if the run is still going (I5).

    ``on_fire`` runs in the watchdog thread (it logs the final line and calls
    ``os._exit``). A hard stop is safe: I1-I3 hold at every point.
    """

    def __init__(self, budget: Budget, on_fire: Callable[[], None]) -> None:
        # Early enough that the last line (at most 0.2 s) and the exit still land
        # before the deadline, even with the smallest margin (see `watchdog_lead`).
        self.fire_at = budget.watchdog_at
        self._clock = budget.clock
        self._on_fire = on_fire
        self._stopped = threading.Event()
        self._moved = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, name="shitshovela-watchdog", daemon=True
        )

    def start(self) -> Watchdog:
        """Start watching; returns self."""
        self._thread.start()
        return self

    def rearm(self, budget: Budget) -> None:
        """Fire at ``budget``'s watchdog time instead (the run's validated budget)."""
        self.fire_at = budget.watchdog_at
        self._clock = budget.clock
        self._moved.set()

    def stop(self) -> None:
        """Stop watching (the run ended in time)."""
        self._stopped.set()
        self._moved.set()

    def _watch(self) -> None:
        while not self._stopped.is_set():
            left = self.fire_at - self._clock()
            if left <= 0:
                self._on_fire()
                return
            self._moved.wait(min(left, 1.0))
            self._moved.clear()
