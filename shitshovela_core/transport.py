"""The one way providers reach the network (I4, I5, I6, I8, I10).

The core builds one `Transport` per selected provider and hands it over in the
`ProviderContext`. Everything a provider sends goes through it:

- `Transport.http` builds an httpx client (`shitshovela_core.httpclient`) with
  the deadline, the rate limit, the retry policy, TLS settings and redaction
  wired in; a provider only says whether each call is idempotent.
- For other protocols (IMAP), `Transport.pace` takes a rate-limit slot,
  `Transport.timeout` gives a socket timeout clipped to the time left,
  `Transport.guard` shuts a socket down at the deadline whatever the library
  does with its timeouts, and `Transport.call` retries idempotent calls.

Retries (tenacity): exponential backoff with jitter, only idempotent calls,
only while the wait fits in the time left; a ``Retry-After`` is honoured, and
when it does not fit the run stops cleanly (`DeadlineReached`) if the system
answered earlier in the run. A system that does not answer in time is a
`CutOff` (a failure, never exit 0): see `Transport.cut_off`. After
``breaker_threshold`` consecutive failures of one system the breaker opens:
the run stops with `Unreachable` instead of hammering it.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import structlog
import tenacity

from .deadline import Budget
from .errors import CutOff, DeadlineReached, OutcomeUnknown, TransientError, Unreachable
from .ratelimit import RateLimiter
from .redact import REDACTOR, Redactor
from .settings import env_name

if TYPE_CHECKING:
    import httpx

    from .httpclient import HttpClient

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0

#: Seconds a call must have waited for its answer before being cut off at the
#: deadline counts as the system's failure (`CutOff`) rather than as the
#: deadline's (`DeadlineReached`): a healthy system answers a call started just
#: before the deadline in time or not, and that is no outage.
FAIR_WAIT = 1.0


class RetryLater(TransientError):
    """A call failed in a way worth trying again.

    ``unprocessed`` is True when the server certainly did not act on the
    request (nothing was sent, or it answered 429): then even a create may be
    sent again. ``retry_after`` is the server's wait in seconds, if it gave
    one. ``connect`` marks a failure to connect at all. ``throttled`` marks a
    server that answered but asked us to wait (429, or 503 with Retry-After).
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        unprocessed: bool = False,
        connect: bool = False,
        throttled: bool = False,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.unprocessed = unprocessed or connect
        self.connect = connect
        self.throttled = throttled


class Transport:
    """Network access for one provider: budget, rate limiter, retries, breaker, TLS."""

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
        self.limiter = RateLimiter(rate, clock=self.clock)
        self._backoff = tenacity.wait_exponential_jitter(
            multiplier=backoff_initial, max=backoff_max, jitter=backoff_initial
        )
        self.log = structlog.get_logger("shitshovela.transport").bind(provider=provider)
        self._failures = 0
        self._failures_lock = threading.Lock()
        self.requests_sent = 0
        #: Calls this system answered well in this run (see `cut_off`).
        self.answered = 0

    # -- pacing and time ---------------------------------------------------------

    def pace(self, step: str = "the next request") -> None:
        """Block until one more request may be sent at the configured rate (I6).

        Raises `DeadlineReached` instead of waiting past the budget."""
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
            time.sleep(delay)  # the window is on the wall clock (see RateLimiter)

    def retry_after(self, seconds: float) -> None:
        """The server asked for a pause: no request to this system before it ends."""
        self.limiter.block_until(self.clock() + max(0.0, seconds))

    def timeout(self, preferred: float = DEFAULT_TIMEOUT, step: str = "a network call") -> float:
        """A per-operation timeout: ``preferred`` clipped to the time left (I5)."""
        return self.budget.timeout(preferred, step)

    def call_deadline(self, preferred_total: float = DEFAULT_TIMEOUT) -> float:
        """The monotonic time by which one whole call must be over."""
        return min(self.budget.stop_at, self.clock() + preferred_total)

    @contextlib.contextmanager
    def guard(
        self, sock: socket.socket | None, preferred_total: float = DEFAULT_TIMEOUT
    ) -> Iterator[None]:
        """Shut ``sock`` down if the call inside is still running at its deadline.

        Socket timeouts bound each read, not a whole command: a server that
        drips one byte a second never trips them. The guard ends such a call
        at the deadline; the library then sees a dead socket and raises."""
        if sock is None:
            yield
            return
        delay = max(0.0, self.call_deadline(preferred_total) - self.clock())

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

    # -- deadline outcomes ------------------------------------------------------

    def cut_off(self, what: str, text: str, started: float) -> CutOff | DeadlineReached:
        """The error for a call (begun at ``started``) that the deadline cut off.

        A system that left the call unanswered for `FAIR_WAIT` seconds or more
        did not answer in time: `CutOff`, a failure (I5 stops the process, the
        exit code says the system was down). A call cut off sooner started just
        before the deadline: a clean `DeadlineReached`."""
        waited = self.clock() - started
        if waited >= FAIR_WAIT:
            return CutOff(
                f"{self.provider}: {what}: no answer in {waited:.1f}s, cut off at the deadline "
                f"({text})"
            )
        return DeadlineReached(f"{what}: cut off at the deadline ({text})")

    def _stopped_waiting(self, reason: str, *, throttled: bool) -> CutOff | DeadlineReached:
        """The run must stop because the wait before the next try does not fit.

        After a server's own request to wait (``throttled``) from a system that
        answered earlier in the run, that is the clean stop I6 asks for. After a
        failure, or from a system that never answered this run, it is a `CutOff`."""
        if throttled and self.answered > 0:
            return DeadlineReached(reason)
        return CutOff(f"{self.provider}: {reason}")

    # -- breaker -----------------------------------------------------------------

    def record_success(self) -> None:
        """A call got a good answer: close the breaker."""
        with self._failures_lock:
            self._failures = 0
            self.answered += 1

    def record_failure(self, what: str) -> None:
        """A call failed (5xx, reset, timeout); open the breaker after too many in a row."""
        with self._failures_lock:
            self._failures += 1
            failures = self._failures
        if failures >= self.breaker_threshold:
            raise Unreachable(
                f"{self.provider}: {failures} failures in a row (last: {what}); stopping "
                "instead of hammering it"
            )

    # -- retries -----------------------------------------------------------------

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryLater) and exc.retry_after is not None:
            return exc.retry_after
        return float(self._backoff(state))

    def call(self, fn: Callable[[], T], *, idempotent: bool, what: str) -> T:
        """Run ``fn`` (one request; it paces itself, as `HttpClient` does), retrying
        `RetryLater` failures when ``idempotent`` or when the server did not act.

        A non-idempotent call whose outcome is unknown raises `OutcomeUnknown`
        at once (I4). When the next wait does not fit in the budget:
        `DeadlineReached` or `CutOff` (see `_stopped_waiting`). When attempts are
        spent: `Unreachable` for
        connection failures, else `TransientError`."""

        def retryable(exc: BaseException) -> bool:
            return isinstance(exc, RetryLater) and (idempotent or exc.unprocessed)

        def stop(state: tenacity.RetryCallState) -> bool:
            if self.clock() + state.upcoming_sleep > self.budget.stop_at:
                last = state.outcome.exception() if state.outcome else None
                raise self._stopped_waiting(
                    f"{what}: waiting {state.upcoming_sleep:.1f}s to try again does not fit in "
                    f"the {max(0.0, self.budget.remaining()):.1f}s left (last error: "
                    f"{self.redactor.scrub(str(last))})",
                    throttled=isinstance(last, RetryLater) and last.throttled,
                )
            return state.attempt_number >= self.max_attempts

        def before_sleep(state: tenacity.RetryCallState) -> None:
            last = state.outcome.exception() if state.outcome else None
            self.log.info(
                "retrying",
                call=what,
                attempt=state.attempt_number,
                wait=round(state.upcoming_sleep, 3),
                error=self.redactor.scrub(str(last)),
            )

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(retryable),
            wait=self._wait,
            stop=stop,
            sleep=self.budget.sleep,
            reraise=True,
            before_sleep=before_sleep,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return fn()
        except RetryLater as exc:
            if not (idempotent or exc.unprocessed):
                raise OutcomeUnknown(f"{what}: {exc}") from None
            if exc.connect:
                raise Unreachable(f"{what}: {exc}") from None
            raise TransientError(
                f"{what}: gave up after {self.max_attempts} attempts: {exc}"
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    # -- TLS and HTTP ------------------------------------------------------------

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

    def http(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | httpx.Auth | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        secrets: tuple[str, ...] = (),
    ) -> HttpClient:
        """An HTTP client for this provider; see `shitshovela_core.httpclient.HttpClient`."""
        from .httpclient import HttpClient

        self.redactor.add(*secrets)
        return HttpClient(self, base_url, headers=headers, auth=auth, timeout=timeout)
