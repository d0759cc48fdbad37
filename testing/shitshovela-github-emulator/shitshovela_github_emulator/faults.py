"""Faults a test schedules at run time (from Python, or through the control API).

The levers every emulator has are the testkit's `FaultScript`
(``fail_next(operation, mode, times=1)`` with GitHub's route names such as
``"create_issue"`` or ``"remove_label"``, ``slow(n, seconds)``); GitHub's own:

* ``next_create``: the fault the next ``create_issue`` gets (set it to schedule
  only that one), as on the Jira emulator.
* ``throttle(n, status=403, retry_after=60, kind="secondary")``: the next ``n``
  requests are answered as over a secondary limit (with ``retry-after`` unless
  None) or, with ``kind="primary"``, as out of quota (``x-ratelimit-remaining: 0``).
* ``unavailable(n, retry_after=None)``: the next ``n`` requests get 503.

Every method is thread-safe. An injected answer is marked as a fault and not
checked against the OpenAPI description.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shitshovela_testkit.faultscript import FAULT_MODES, FaultScript

__all__ = ["FAULT_MODES", "Faults", "Throttle"]


@dataclass(frozen=True)
class Throttle:
    """One injected refusal: the status, its kind and the ``retry-after`` seconds."""

    status: int
    kind: Literal["primary", "secondary", "unavailable"]
    retry_after: int | None


class Faults(FaultScript[Throttle]):
    """Fault modes a test sets at run time."""

    @property
    def next_create(self) -> str | None:
        """The fault the next ``create_issue`` gets."""
        return self.peek("create_issue")

    @next_create.setter
    def next_create(self, mode: str | None) -> None:
        self.replace("create_issue", mode)

    def throttle(
        self,
        n_requests: int,
        *,
        status: int = 403,
        retry_after: int | None = 60,
        kind: Literal["primary", "secondary"] = "secondary",
    ) -> None:
        """The next ``n_requests`` requests are refused as over a limit (see the module)."""
        if status not in (403, 429):
            raise ValueError("GitHub throttles with 403 or 429")
        self.refuse(n_requests, Throttle(status, kind, retry_after))

    def unavailable(self, n_requests: int, retry_after: int | None = None) -> None:
        """The next ``n_requests`` requests get 503."""
        self.refuse(n_requests, Throttle(503, "unavailable", retry_after))

    def take_throttle(self) -> Throttle | None:
        """The refusal for this request, if one is scheduled (used up)."""
        return self.take_refusal()
