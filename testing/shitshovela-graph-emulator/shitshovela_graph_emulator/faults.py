"""Faults a test schedules at run time (from Python, or through the control API).

The levers every emulator has are the testkit's `FaultScript`
(``fail_next(operation, mode, times=1)`` with Graph's route names such as
``"delete_message"`` or ``"move_message"``, ``slow(n, seconds)``, a slow
request counted in flight meanwhile); Graph's refusals, in its words:

* ``throttle(n, retry_after=…)``: the next ``n`` requests get 429
  ``ApplicationThrottled`` (with ``Retry-After`` unless None).
* ``unavailable(n, retry_after=…)``: the next ``n`` requests get 503
  ``ServiceNotAvailable``; ``gateway_timeout(n)``: 504 ``UnknownError``.

Injected answers are checked against the OpenAPI description like any other
(they are Graph error bodies); a dropped connection has nothing to check.
Every method is thread-safe.
"""

from __future__ import annotations

from dataclasses import dataclass

from shitshovela_testkit.faultscript import FAULT_MODES, FaultScript

__all__ = ["FAULT_MODES", "Faults", "Injected"]


@dataclass(frozen=True)
class Injected:
    """One injected refusal: its status, code, message and ``Retry-After`` seconds."""

    status: int
    code: str
    message: str
    retry_after: int | None


class Faults(FaultScript[Injected]):
    """Fault modes a test sets at run time."""

    def throttle(self, n_requests: int, *, retry_after: int | None = 30) -> None:
        """The next ``n_requests`` requests get 429 ``ApplicationThrottled``."""
        self.refuse(
            n_requests,
            Injected(
                429,
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency limit.",
                retry_after,
            ),
        )

    def unavailable(self, n_requests: int, *, retry_after: int | None = None) -> None:
        """The next ``n_requests`` requests get 503 ``ServiceNotAvailable``."""
        self.refuse(
            n_requests,
            Injected(
                503, "ServiceNotAvailable", "The service is temporarily unavailable.", retry_after
            ),
        )

    def gateway_timeout(self, n_requests: int) -> None:
        """The next ``n_requests`` requests get 504 ``UnknownError``."""
        self.refuse(n_requests, Injected(504, "UnknownError", "Gateway Timeout", None))
