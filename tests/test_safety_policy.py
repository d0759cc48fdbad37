"""The safety policy's one entry, `SafetyPolicy.attempt`, with a fake protocol.

A fake classifier reads the outcomes a test scripts (`Verdict`s to play, or
plain answers); a manual clock moves only when the policy sleeps or a test
says so, and a recording limiter shows when each slot is taken. So every
rule is checked on its own, without a socket: pacing before every try,
retries only for idempotent or unsent requests, outcome-unknown, Retry-After,
the deadline's two outcomes, the breaker, redaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from shitshovela_core.deadline import Budget
from shitshovela_core.errors import (
    CutOff,
    DeadlineReached,
    OutcomeUnknown,
    TransientError,
    Unreachable,
)
from shitshovela_core.redact import Redactor
from shitshovela_core.safety import FAIR_WAIT, Exchange, Fault, SafetyPolicy, Verdict

pytestmark = pytest.mark.unit


class Clock:
    """Monotonic seconds that move only when slept on or told to."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Limiter:
    """A rate limiter that always has a slot and writes down when it gave one."""

    def __init__(self, events: list[str], clock: Clock) -> None:
        self.events = events
        self.clock = clock
        self.blocked_until = 0.0

    def block_until(self, moment: float) -> None:
        self.blocked_until = max(self.blocked_until, moment)

    def try_acquire(self) -> float | None:
        self.events.append("slot")
        return None


class Protocol:
    """Plays one scripted outcome per try: a `Verdict`, or an answer (any other value)."""

    def __init__(self, script: Iterable[object], events: list[str], clock: Clock) -> None:
        self.script = list(script)
        self.events = events
        self.clock = clock
        self.sent_at: list[float] = []
        self.exchanges: list[Exchange] = []

    def send(self, exchange: Exchange) -> object:
        self.events.append("send")
        self.sent_at.append(self.clock())
        self.exchanges.append(exchange)
        outcome = self.script.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    @staticmethod
    def classify(outcome: object) -> Verdict | None:
        if isinstance(outcome, Verdict):
            return outcome
        if isinstance(outcome, Played):
            return outcome.verdict
        return None


class Played(Exception):
    """An exception carrying the verdict the fake classifier gives it."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.reason)
        self.verdict = verdict


def lost(reason: str = "connection reset") -> Played:
    return Played(Verdict(Fault.LOST, reason))


def not_sent(reason: str = "connection refused") -> Played:
    return Played(Verdict(Fault.NOT_SENT, reason))


class Rig:
    """A policy on a manual clock, with a recording limiter and a scripted protocol."""

    def __init__(
        self, *script: object, runtime: float = 600.0, margin: float = 10.0, **options: Any
    ) -> None:
        self.clock = Clock()
        self.events: list[str] = []
        self.budget = Budget(
            runtime, started=self.clock(), margin=margin, clock=self.clock, sleep=self.clock.sleep
        )
        self.redactor = Redactor()
        options = {"backoff_initial": 0.5, "backoff_max": 15.0, **options}
        self.policy = SafetyPolicy(
            "tracker", self.budget, 1000.0, redactor=self.redactor, **options
        )
        self.policy.limiter = Limiter(self.events, self.clock)  # type: ignore[assignment]
        self.protocol = Protocol(script, self.events, self.clock)

    def attempt(
        self,
        *,
        idempotent: bool = True,
        send: Callable[[Exchange], object] | None = None,
        timeout: float = 30.0,
    ) -> object:
        return self.policy.attempt(
            send or self.protocol.send,
            what="POST /tickets",
            idempotent=idempotent,
            classify=self.protocol.classify,
            timeout=timeout,
        )

    @property
    def sends(self) -> int:
        return self.events.count("send")


# -- pacing and the budget --------------------------------------------------------------


def test_every_try_is_paced_before_it_is_sent() -> None:
    rig = Rig(lost(), lost(), "ok")
    assert rig.attempt() == "ok"
    assert rig.events == ["slot", "send"] * 3
    assert rig.policy.requests_sent == 3


def test_every_command_of_a_try_takes_its_own_slot_and_time() -> None:
    rig = Rig()
    seen: list[tuple[str, float]] = []

    def handshake(exchange: Exchange) -> str:
        for command in ("connect", "LOGIN", "SELECT", "FETCH"):
            exchange.next(command)
            rig.events.append(command)
            seen.append((exchange.what, exchange.started))
            rig.clock.now += 2.0
        return "done"

    assert rig.attempt(send=handshake) == "done"
    # The first command uses the slot the policy took for the try; each later one its own.
    assert rig.events == ["slot", "connect", "slot", "LOGIN", "slot", "SELECT", "slot", "FETCH"]
    assert [started for _, started in seen] == [1000.0, 1002.0, 1004.0, 1006.0]


def test_a_try_gets_a_timeout_and_deadline_clipped_to_the_time_left() -> None:
    rig = Rig("ok", runtime=40.0, margin=10.0)  # 30 s left
    rig.clock.now += 20.0  # 10 s left
    rig.attempt(timeout=25.0)
    exchange = rig.protocol.exchanges[0]
    assert exchange.timeout() == pytest.approx(10.0)
    assert exchange.deadline == rig.budget.stop_at
    rig2 = Rig("ok")
    rig2.attempt(timeout=25.0)
    assert rig2.protocol.exchanges[0].deadline == pytest.approx(rig2.clock() + 25.0)


def test_no_try_starts_when_the_time_is_up() -> None:
    rig = Rig("ok", runtime=40.0, margin=10.0)
    rig.clock.now += 30.0
    with pytest.raises(DeadlineReached, match="deadline reached before POST /tickets"):
        rig.attempt()
    assert rig.sends == 0


# -- retries ---------------------------------------------------------------------------


def test_an_idempotent_call_is_retried_with_growing_backoff() -> None:
    rig = Rig(lost(), lost(), lost(), "ok")
    assert rig.attempt() == "ok"
    first, second, third = rig.clock.sleeps
    assert 0.5 <= first <= 1.0 and 1.0 <= second <= 1.5 and 2.0 <= third <= 2.5


@pytest.mark.parametrize(
    "fault", [lost(), Verdict(Fault.FAILED, "500 from the server")], ids=["lost", "failed"]
)
def test_a_call_that_is_not_idempotent_is_never_repeated_once_it_may_have_acted(
    fault: object,
) -> None:
    rig = Rig(fault, "ok")
    with pytest.raises(OutcomeUnknown, match="may have acted"):
        rig.attempt(idempotent=False)
    assert rig.sends == 1


def test_a_request_never_sent_is_retried_even_when_not_idempotent() -> None:
    rig = Rig(not_sent(), "created")
    assert rig.attempt(idempotent=False) == "created"
    assert rig.sends == 2


def test_a_request_never_sent_is_unreachable_once_the_attempts_are_spent() -> None:
    rig = Rig(*(not_sent() for _ in range(3)), max_attempts=3)
    with pytest.raises(Unreachable, match="cannot connect: connection refused"):
        rig.attempt()
    assert rig.sends == 3


def test_spent_attempts_are_a_transient_error() -> None:
    rig = Rig(*(lost() for _ in range(3)), max_attempts=3)
    with pytest.raises(TransientError, match="gave up after 3 attempts: connection reset"):
        rig.attempt()
    assert rig.sends == 3


def test_a_refusal_is_unreachable_at_once() -> None:
    rig = Rig(Played(Verdict(Fault.REFUSED, "login refused")), "ok")
    with pytest.raises(Unreachable, match="POST /tickets: login refused"):
        rig.attempt()
    assert rig.sends == 1


def test_an_error_the_classifier_leaves_alone_propagates_unchanged() -> None:
    class NoSuchMailbox(Exception):
        pass

    rig = Rig(NoSuchMailbox("NO [NONEXISTENT]"), "ok")
    with pytest.raises(NoSuchMailbox):
        rig.attempt()
    assert rig.sends == 1


# -- Retry-After -------------------------------------------------------------------------


def test_a_throttled_request_waits_for_retry_after_even_when_not_idempotent() -> None:
    rig = Rig(Verdict(Fault.THROTTLED, "429", retry_after=7.0), "created")
    assert rig.attempt(idempotent=False) == "created"
    assert rig.protocol.sent_at[1] - rig.protocol.sent_at[0] >= 7.0
    assert rig.policy.limiter.blocked_until == pytest.approx(rig.protocol.sent_at[0] + 7.0)


def test_a_retry_after_blocks_every_call_to_the_system() -> None:
    rig = Rig("answered")
    rig.policy.retry_after(4.0)
    rig.attempt()
    assert rig.protocol.sent_at == [1004.0]


def test_a_busy_answer_to_a_call_that_is_not_idempotent_is_outcome_unknown() -> None:
    rig = Rig(Verdict(Fault.BUSY, "503", retry_after=3.0), "ok")
    with pytest.raises(OutcomeUnknown, match="503"):
        rig.attempt(idempotent=False)
    assert rig.sends == 1
    assert rig.policy.limiter.blocked_until == pytest.approx(1003.0), "the pause still holds"


def test_a_retry_after_that_does_not_fit_is_a_clean_stop_from_a_system_that_answered() -> None:
    rig = Rig("earlier", Verdict(Fault.THROTTLED, "429", retry_after=3600.0))
    rig.attempt()
    with pytest.raises(DeadlineReached, match="does not fit"):
        rig.attempt()
    assert rig.clock.sleeps == []


def test_a_system_that_only_ever_throttles_is_cut_off() -> None:
    rig = Rig(Verdict(Fault.THROTTLED, "429", retry_after=3600.0))
    with pytest.raises(CutOff, match="does not fit"):
        rig.attempt()


# -- the deadline --------------------------------------------------------------------------


def hangs_until_the_deadline(rig: Rig, waited: float) -> Callable[[Exchange], object]:
    def send(exchange: Exchange) -> object:
        rig.events.append("send")
        rig.clock.now = max(rig.clock.now + waited, rig.budget.stop_at)
        raise lost("ReadTimeout")

    return send


def test_a_call_left_unanswered_at_the_deadline_is_cut_off() -> None:
    rig = Rig(runtime=40.0, margin=10.0)
    rig.clock.now += 25.0  # 5 s left
    with pytest.raises(CutOff, match=r"no answer in 5\.0s, cut off at the deadline"):
        rig.attempt(send=hangs_until_the_deadline(rig, 0.0))


def test_a_call_started_just_before_the_deadline_is_a_clean_stop() -> None:
    rig = Rig(runtime=40.0, margin=10.0)
    rig.clock.now = rig.budget.stop_at - FAIR_WAIT / 2
    with pytest.raises(DeadlineReached, match="cut off at the deadline"):
        rig.attempt(send=hangs_until_the_deadline(rig, 0.0))


def test_a_lost_create_at_the_deadline_is_still_outcome_unknown() -> None:
    rig = Rig(runtime=40.0, margin=10.0)
    rig.clock.now += 25.0
    with pytest.raises(OutcomeUnknown):
        rig.attempt(idempotent=False, send=hangs_until_the_deadline(rig, 0.0))


def test_a_backoff_that_does_not_fit_after_a_failure_is_cut_off() -> None:
    rig = Rig(Verdict(Fault.FAILED, "502 from the server"), runtime=40.0, margin=10.0)
    rig.clock.now = rig.budget.stop_at - 0.1
    with pytest.raises(CutOff, match="502 from the server"):
        rig.attempt()
    assert rig.sends == 1


def test_a_retry_whose_wait_overran_the_deadline_is_cut_off() -> None:
    # The backoff fitted, but the sleep overran it (a loaded machine): the retry of a
    # failing call finds no time left. Still the system's failure, not a clean stop.
    rig = Rig(Verdict(Fault.FAILED, "502 from the server"), runtime=40.0, margin=10.0)
    rig.clock.now = rig.budget.stop_at - 2.0
    overrun = rig.clock.sleep

    def late_sleep(seconds: float) -> None:
        overrun(seconds + 5.0)

    rig.budget.sleep = late_sleep
    with pytest.raises(CutOff, match="502 from the server"):
        rig.attempt()
    assert rig.sends == 1


# -- the breaker ----------------------------------------------------------------------------


def test_the_breaker_opens_after_failures_in_a_row() -> None:
    rig = Rig(*(lost() for _ in range(10)), breaker_threshold=3, max_attempts=10)
    with pytest.raises(Unreachable, match="3 failures in a row"):
        rig.attempt()
    assert rig.sends == 3


def test_an_answer_closes_the_breaker() -> None:
    rig = Rig(lost(), lost(), "ok", lost(), lost(), "ok", breaker_threshold=3)
    assert rig.attempt() == "ok"
    assert rig.attempt() == "ok"


def test_throttling_does_not_count_towards_the_breaker() -> None:
    throttled = [Verdict(Fault.THROTTLED, "429", retry_after=0.1) for _ in range(4)]
    rig = Rig(*throttled, "ok", breaker_threshold=2, max_attempts=10)
    assert rig.attempt() == "ok"


# -- redaction -------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", list(Fault), ids=[f.name for f in Fault])
def test_no_reason_carries_a_secret(fault: Fault) -> None:
    script = (Played(Verdict(fault, "token s3cr3t-t0k3n leaked")) for _ in range(5))
    rig = Rig(*script, max_attempts=2)
    rig.redactor.add("s3cr3t-t0k3n")
    with pytest.raises((OutcomeUnknown, TransientError, Unreachable)) as caught:
        rig.attempt(idempotent=False)
    assert "leaked" in str(caught.value), "the reason is shown, scrubbed"
    assert "s3cr3t-t0k3n" not in str(caught.value) + repr(caught.value)
