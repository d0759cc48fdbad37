"""The one safety policy every network call of a provider runs under (I4, I5, I6, I8, I10).

The core builds one `SafetyPolicy` per selected provider and hands it over as
``context.safety``. A protocol sends each call through `SafetyPolicy.attempt`
and gives only two things: the call itself, and a *classifier* that reads the
protocol's own answers and errors as a `Verdict` (which `Fault`, and why).
Everything else is decided here, once for every protocol:

- **pacing**: every try takes a slot of the provider's rate limit (evenly
  spaced, the first one a spacing after the process start: `RateLimiter`), after
  any ``Retry-After`` pause the server asked for (I6); a try that sends several
  commands (connect, log in, select, then the command) takes one slot for each
  (`Exchange.next`);
- **the budget**: no try starts when the run's time is up, and each is handed a
  timeout and a deadline clipped to the time left (I5);
- **the deadline**: a try lost once the time is up was cut off by the deadline:
  a `CutOff` (a failure) when the system left it unanswered for `FAIR_WAIT`
  seconds or more, else the clean `DeadlineReached` (README, "Exit codes");
- **retries**: exponential backoff with jitter, the server's ``Retry-After``
  instead when it gave one, and only while the wait fits in the time left;
  only for idempotent calls, or for requests the server certainly did not act
  on (not sent, or answered 429). A wait that does not fit stops the run: the
  clean `DeadlineReached` after the server's own request to wait, from a system
  that answered earlier in the run; else a `CutOff`;
- **outcome unknown**: a call that is not idempotent and may have been acted on
  is never repeated: `OutcomeUnknown` (I4);
- **the breaker**: after ``breaker_threshold`` failures in a row the run stops
  with `Unreachable` instead of hammering the system (I8); a refusal
  (credentials, certificate) is `Unreachable` at once;
- **redaction**: every reason a classifier gives is scrubbed before it reaches
  a message or a log line (I10).

HTTP is layered under it in `shitshovela_core.safehttp` (`HttpClient`); the
IMAP plugin's connection uses the same entry with a classifier of its own.
`SafetyPolicy.guard` shuts a socket down at the run's stop, for socket
protocols whose library bounds each read but not a whole command.
"""

from __future__ import annotations

import contextlib
import enum
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeAlias, TypeVar

import attrs
import structlog

from .deadline import START_RESOLUTION, Budget
from .errors import (
    CutOff,
    DeadlineReached,
    OutcomeUnknown,
    ShitShovelaError,
    TransientError,
    Unreachable,
)
from .ratelimit import RateLimiter
from .redact import REDACTOR, Redactor
from .settings import env_name

T = TypeVar("T")

#: Seconds one call (or one command of a call) may take when the protocol prefers no other.
DEFAULT_TIMEOUT = 30.0

#: Seconds a call must have waited for its answer before being cut off at the
#: deadline counts as the system's failure (`CutOff`) rather than as the
#: deadline's (`DeadlineReached`): a healthy system answers a call started just
#: before the deadline in time or not, and that is no outage.
FAIR_WAIT = 1.0


class Fault(enum.Enum):
    """How one try went wrong, as the protocol's classifier reads it."""

    #: The request never reached the server (connecting failed): tried again even
    #: when the call is not idempotent; `Unreachable` once the attempts are spent.
    NOT_SENT = "not sent"
    #: The server asked us to wait and did not act on the request (HTTP 429).
    THROTTLED = "throttled"
    #: The server asked us to wait and may have acted on the request (HTTP 503
    #: with ``Retry-After``): a call that is not idempotent is `OutcomeUnknown`.
    BUSY = "busy"
    #: The request was sent and no answer came (a reset, a timeout, a dead
    #: connection): at the deadline, a cut-off; otherwise like `FAILED`.
    LOST = "lost"
    #: The server answered with a failure of its own (HTTP 5xx): retried when
    #: idempotent, else `OutcomeUnknown`; it counts towards the breaker.
    FAILED = "failed"
    #: The server refused us (credentials, certificate): `Unreachable`, never retried.
    REFUSED = "refused"


@attrs.frozen
class Verdict:
    """A classifier's reading of one try that went wrong.

    ``reason`` says what happened in the protocol's words (the policy scrubs it);
    ``retry_after`` is the server's wait in seconds, for `Fault.THROTTLED` and
    `Fault.BUSY` (None when it gave none: the policy then backs off).
    """

    fault: Fault
    reason: str
    retry_after: float | None = None


#: A protocol's reading of one try: given what the try returned, or the exception it
#: raised, a `Verdict` for a try that went wrong; None for a good answer, or for an
#: exception that is the caller's business (it propagates unchanged).
Classifier: TypeAlias = Callable[[T | Exception], Verdict | None]


class Exchange:
    """One try of a call, as the protocol's function sees it.

    The policy paced it and checked the budget before handing it over.
    `timeout` is the per-operation timeout to use and `deadline` the monotonic
    time by which the whole exchange must be over, both clipped to the run's
    stop. A try that sends several commands calls `next` before each of them.
    """

    #: What the command in progress does: the call's ``what`` unless `next` named another.
    what: str
    #: When the command in progress began (monotonic).
    started: float
    #: When the command in progress must be over (monotonic).
    deadline: float

    def __init__(self, policy: SafetyPolicy, call: str, preferred: float) -> None:
        #: What the whole call does (the ``what`` given to `SafetyPolicy.attempt`).
        self.call = call
        self._policy = policy
        self._preferred = preferred
        self._fresh = True
        policy._pace(call)
        self._restart(call)

    def _restart(self, what: str) -> None:
        policy = self._policy
        policy.budget.check(what)
        self.what = what
        self.started = policy.clock()
        self.deadline = min(policy.budget.stop_at, self.started + self._preferred)

    def next(self, what: str) -> None:
        """Begin the next command of this try, called ``what``.

        The first command of a try uses the slot the policy paced already. Each
        later one takes a rate-limit slot of its own and its own time, and the
        command before it counts as answered (which closes the breaker)."""
        if self._fresh:
            self._fresh = False
        else:
            self._policy._pace(what)
            self._policy._answered()
        self._restart(what)

    @property
    def clock(self) -> Callable[[], float]:
        """The monotonic clock `started` and `deadline` are read on."""
        return self._policy.clock

    @property
    def overdue(self) -> bool:
        """True once the run's time is up: whatever the connection does now may be
        the deadline cutting it rather than the server speaking."""
        return self._policy.budget.remaining() <= 0

    def timeout(self) -> float:
        """The per-operation timeout: the preferred one clipped to the time left (I5).

        Raises `DeadlineReached` when no time is left."""
        return self._policy.budget.timeout(self._preferred, self.what)

    def about(self, reason: str) -> str:
        """``reason``, led by the command's name when it is not the call's own."""
        return reason if self.what == self.call else f"{self.what}: {reason}"


class _Again(Exception):
    """A try failed in a way worth trying again (only `SafetyPolicy.attempt` sees it)."""

    def __init__(self, message: str, verdict: Verdict) -> None:
        super().__init__(message)
        self.verdict = verdict


class SafetyPolicy:
    """How one provider reaches its system: pacing, budget, deadline, retries,
    breaker, outcome-unknown, TLS settings and redaction (see the module docstring).

    ``rate`` is the provider's ``RATE`` setting (requests a second); ``settings``
    holds its ``TLS_VERIFY`` and ``CA_BUNDLE``. The retry and breaker figures are
    the run's defaults; an observer's short push may use fewer.
    """

    def __init__(
        self,
        provider: str,
        budget: Budget,
        rate: float,
        *,
        settings: Mapping[str, Any] | None = None,
        redactor: Redactor = REDACTOR,
        max_attempts: int = 5,
        backoff_initial: float = 0.5,
        backoff_max: float = 15.0,
        breaker_threshold: int = 5,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.provider = provider
        self.budget = budget
        self.rate = rate
        self.settings: Mapping[str, Any] = settings or {}
        self.redactor = redactor
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.breaker_threshold = breaker_threshold
        self.clock = clock or budget.clock
        # The rate is a promise to the real system: the limiter keeps real time,
        # counted from this run's start (its first slot is one spacing after it).
        started = time.monotonic() - max(0.0, budget.elapsed()) + START_RESOLUTION
        self.limiter = RateLimiter(rate, started=started)
        self.log = structlog.get_logger("shitshovela.safety").bind(provider=provider)
        self._failures = 0
        self._failures_lock = threading.Lock()
        #: Requests (and commands) paced so far: every one takes a rate-limit slot.
        self.requests_sent = 0
        #: Calls this system answered well in this run (see `_stopped_waiting`).
        self.answered = 0

    # -- the one entry -------------------------------------------------------------------

    def attempt(
        self,
        send: Callable[[Exchange], T],
        *,
        what: str,
        idempotent: bool,
        classify: Classifier[T],
        timeout: float = DEFAULT_TIMEOUT,
    ) -> T:
        """Run ``send`` under the policy, trying again as the rules allow; return its result.

        Each try is paced and budget-checked, then ``send`` gets an `Exchange`
        (its timeout and deadline, ``timeout`` clipped to the time left).
        ``classify`` reads what the try returned, or the exception it raised: a
        `Verdict` for a try that went wrong, None for a good answer (returned) or
        for an exception that is the caller's business (raised unchanged, like
        every `ShitShovelaError`). ``what`` names the call in messages.

        Raises `OutcomeUnknown` (not idempotent, may have been acted on),
        `DeadlineReached` (a clean stop), `CutOff` (the system did not answer
        before the deadline, or a retry does not fit), `Unreachable` (refused,
        never reached, or the breaker opened) or `TransientError` (attempts spent).
        """
        number = 0
        last: _Again | None = None
        while True:
            number += 1
            try:
                return self._try(Exchange(self, what, timeout), send, classify, idempotent)
            except DeadlineReached as exc:
                if last is None:
                    raise
                # The deadline came while a failing call was being tried again (the
                # wait fitted, the retry did not): the system never answered in time.
                raise self._stopped_waiting(
                    f"{what}: {exc} (last error: {last})",
                    throttled=last.verdict.fault in (Fault.THROTTLED, Fault.BUSY),
                ) from None
            except _Again as again:
                last = again
                fault, wait = again.verdict.fault, again.verdict.retry_after
                if wait is None:
                    wait = self._backoff(number)
                if self.clock() + wait > self.budget.stop_at:
                    raise self._stopped_waiting(
                        f"{what}: waiting {wait:.1f}s to try again does not fit in the "
                        f"{max(0.0, self.budget.remaining()):.1f}s left (last error: {again})",
                        throttled=fault in (Fault.THROTTLED, Fault.BUSY),
                    ) from None
                if number >= self.max_attempts:
                    if fault is Fault.NOT_SENT:
                        raise Unreachable(f"{what}: {again}") from None
                    raise TransientError(
                        f"{what}: gave up after {number} attempts: {again}"
                    ) from None
                self.log.info(
                    "retrying", call=what, attempt=number, wait=round(wait, 3), error=str(again)
                )
                self.budget.sleep(wait)

    def _try(
        self,
        exchange: Exchange,
        send: Callable[[Exchange], T],
        classify: Classifier[T],
        idempotent: bool,
    ) -> T:
        """One try: ``send`` on the paced ``exchange``, its outcome judged by ``classify``."""
        try:
            result = send(exchange)
        except ShitShovelaError:
            raise
        except Exception as exc:
            verdict = classify(exc)
            if verdict is None:
                raise
            raise self._judge(verdict, exchange, idempotent) from None
        verdict = classify(result)
        if verdict is not None:
            raise self._judge(verdict, exchange, idempotent)
        self._answered()
        return result

    def _judge(self, verdict: Verdict, exchange: Exchange, idempotent: bool) -> Exception:
        """The error a try ends with: `_Again` to try again, or what the call raises."""
        name = exchange.call
        reason = exchange.about(self.redactor.scrub(verdict.reason))
        fault = verdict.fault
        if fault is Fault.REFUSED:
            return Unreachable(f"{name}: {reason}")
        if fault in (Fault.THROTTLED, Fault.BUSY):
            wait = verdict.retry_after
            self.retry_after(wait if wait is not None else self.backoff_max)
            if fault is Fault.BUSY and not idempotent:
                return OutcomeUnknown(f"{name}: {reason}; the server may have acted on it")
            self.log.warning("rate_limited", call=name, reason=reason, retry_after=wait)
            return _Again(reason, verdict)
        if fault is Fault.NOT_SENT:
            if self.budget.remaining() <= 0:
                return self._cut_off(exchange, f"still connecting: {reason}")
            return self._failed(exchange.what) or _Again(f"cannot connect: {reason}", verdict)
        if not idempotent:
            return OutcomeUnknown(f"{name}: {reason}; the server may have acted on it")
        if fault is Fault.LOST and self.budget.remaining() <= 0:
            return self._cut_off(exchange, reason)
        return self._failed(exchange.what) or _Again(reason, verdict)

    def _backoff(self, number: int) -> float:
        """The wait after try ``number``: exponential, with jitter, at most ``backoff_max``."""
        jitter = random.uniform(0, self.backoff_initial)
        return min(self.backoff_max, self.backoff_initial * 2.0 ** (number - 1) + jitter)

    # -- pacing --------------------------------------------------------------------------

    def _pace(self, step: str) -> None:
        """Block until one more request may be sent at the configured rate (I6).

        Raises `DeadlineReached` instead of waiting past the budget (a `CutOff`
        when the wait is a ``Retry-After`` that does not fit; see `_stopped_waiting`)."""
        while True:
            blocked_until = self.limiter.blocked_until
            if self.clock() < blocked_until:
                try:
                    self.budget.wait_until(blocked_until, f"the server's Retry-After before {step}")
                except DeadlineReached as exc:
                    raise self._stopped_waiting(str(exc), throttled=True) from None
            delay = self.limiter.try_acquire()
            if delay is None:
                self.requests_sent += 1
                return
            if delay >= self.budget.remaining():
                raise DeadlineReached(f"no rate-limit slot for {step} before the deadline")
            time.sleep(delay)  # the limiter keeps real time (see __init__)

    def retry_after(self, seconds: float) -> None:
        """Pause this system: no request to it before ``seconds`` from now (a
        ``Retry-After``, or a provider's own reading of a "slow down" header)."""
        self.limiter.block_until(self.clock() + max(0.0, seconds))

    # -- deadline outcomes ---------------------------------------------------------------

    def _cut_off(self, exchange: Exchange, text: str) -> CutOff | DeadlineReached:
        """The error for a command the deadline cut off.

        A system that left the command unanswered for `FAIR_WAIT` seconds or more
        did not answer in time: `CutOff`, a failure (the exit code says the system
        was down). A command cut off sooner started just before the deadline: a
        clean `DeadlineReached`."""
        waited = self.clock() - exchange.started
        if waited >= FAIR_WAIT:
            return CutOff(
                f"{self.provider}: {exchange.call}: no answer in {waited:.1f}s, cut off at the "
                f"deadline ({text})"
            )
        return DeadlineReached(f"{exchange.call}: cut off at the deadline ({text})")

    def _stopped_waiting(self, reason: str, *, throttled: bool) -> CutOff | DeadlineReached:
        """The run must stop because the wait before the next try does not fit.

        After a server's own request to wait (``throttled``) from a system that
        answered earlier in the run, that is the clean stop I6 asks for. After a
        failure, or from a system that never answered this run, it is a `CutOff`."""
        if throttled and self.answered > 0:
            return DeadlineReached(reason)
        return CutOff(f"{self.provider}: {reason}")

    # -- breaker -------------------------------------------------------------------------

    def _answered(self) -> None:
        """A command got a good answer: close the breaker."""
        with self._failures_lock:
            self._failures = 0
            self.answered += 1

    def _failed(self, what: str) -> Unreachable | None:
        """A command failed; the breaker's `Unreachable` once too many failed in a row."""
        with self._failures_lock:
            self._failures += 1
            failures = self._failures
        if failures >= self.breaker_threshold:
            return Unreachable(
                f"{self.provider}: {failures} failures in a row (last: {what}); stopping "
                "instead of hammering it"
            )
        return None

    # -- sockets and TLS -----------------------------------------------------------------

    @contextlib.contextmanager
    def guard(self, sock: socket.socket) -> Iterator[None]:
        """Shut ``sock`` down at the run's stop if it is still open then (I5).

        Socket timeouts bound each read, not a whole command: a server that
        drips one byte a second never trips them. The guard ends such a command
        at the deadline; the library then sees a dead socket and raises, and the
        classifier reads that as a lost command (`Fault.LOST`)."""
        delay = max(0.0, self.budget.stop_at - self.clock())

        def cut() -> None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

        timer = threading.Timer(delay, cut)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def ssl_context(self) -> ssl.SSLContext:
        """TLS per the provider's ``TLS_VERIFY`` and ``CA_BUNDLE`` settings.

        Verification is on by default; turning it off logs a warning every run."""
        import certifi

        bundle = self.settings.get("CA_BUNDLE") or certifi.where()
        context = ssl.create_default_context(cafile=bundle)
        if self.settings.get("TLS_VERIFY", True) is False:
            self.log.warning(
                "tls_verification_off",
                note=f"{env_name(self.provider, 'TLS_VERIFY')}=false: certificates are not checked",
            )
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context
