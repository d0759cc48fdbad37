"""What an emulator's OpenAPI checks found, and how a test fails on it.

`SpecFindings` is the base of an emulator's ``SpecCheck``: it loads the
excerpt's validator (`shitshovela_testkit.openapicheck`) when given a spec
file, and keeps, thread-safe, every `Violation` (a request or an answer that
broke the description, or a crash of the emulator itself) and the requests
answered without a check. `SpecFindings.check_request` checks a request
against the operation its route serves and `SpecFindings.checked_answer`
says whether its answer is to be checked; the subclass knows its vendor: how
a request maps onto the excerpt and which answers are checked against what.

`CheckedEmulator` is the test-facing side, mixed into an emulator that has a
``spec``: ``violations``, ``unvalidated``, ``clear_violations`` and
``assert_no_violations``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

from .openapicheck import Operation, SpecCall, SpecValidator, load_validator

if TYPE_CHECKING:
    from .standin import Request

__all__ = ["Checked", "CheckedEmulator", "Exchange", "RouteLike", "SpecFindings", "Violation"]

Checked = tuple[SpecCall, Operation] | None
"""A request as checked and its operation; None when it was not checked."""


@dataclass(frozen=True)
class Violation:
    """A request or answer that broke the description, or an emulator crash."""

    kind: str  # "request" | "response" | "emulator"
    method: str
    path: str
    operation: str
    message: str
    status: int | None = None

    def __str__(self) -> str:
        where = f"{self.method} {self.path} ({self.operation})"
        extra = f" [status {self.status}]" if self.status is not None else ""
        return f"{self.kind} {where}{extra}: {self.message}"


class Exchange(Protocol):
    """What a finding names of a request (the stand-in server's `Request` has it)."""

    method: str
    path: str


class RouteLike(Protocol):
    """What the checks use of an emulator's route."""

    @property
    def method(self) -> str: ...
    @property
    def template(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def unvalidated(self) -> str | None:
        """Why it is answered without a check (None: it is checked)."""


class SpecFindings:
    """One emulator's OpenAPI validator (None: nothing is checked) and its findings.

    Thread-safe. Without a spec file only the emulator's own crashes are recorded.
    """

    def __init__(self, spec: Path | str | None) -> None:
        self.validator: SpecValidator | None = None
        if spec is not None:
            self.validator = load_validator(spec)
        self._lock = threading.Lock()
        self._violations: list[Violation] = []
        self._unvalidated: list[str] = []

    @property
    def violations(self) -> list[Violation]:
        """Everything that broke the description so far (and the emulator's own crashes)."""
        with self._lock:
            return list(self._violations)

    @property
    def unvalidated(self) -> list[str]:
        """Requests answered without a spec check (``"METHOD /path: why"``)."""
        with self._lock:
            return list(self._unvalidated)

    def clear(self) -> None:
        """Forget the violations found so far (the unvalidated requests stay listed)."""
        with self._lock:
            self._violations.clear()

    def forget_unvalidated(self) -> None:
        """Forget the requests answered without a check."""
        with self._lock:
            self._unvalidated.clear()

    def record(self, violation: Violation) -> None:
        """Record one violation."""
        with self._lock:
            self._violations.append(violation)

    def record_crash(self, request: Exchange, error: BaseException) -> None:
        """Record an exception the emulator raised while answering (a bug of the emulator)."""
        self.record(Violation("emulator", request.method, request.path, "-", repr(error), 500))

    def note_unvalidated(self, request: Exchange, why: str) -> None:
        """List a request that was answered without a check (when checking is on)."""
        if self.validator is None:
            return
        with self._lock:
            self._unvalidated.append(f"{request.method} {request.path}: {why}")

    def violate(
        self,
        kind: str,
        request: Exchange,
        operation: str,
        messages: Sequence[str],
        status: int | None = None,
    ) -> list[str]:
        """Record each message as a violation of ``operation``; return them."""
        for message in messages:
            self.record(Violation(kind, request.method, request.path, operation, message, status))
        return list(messages)

    def check_request(
        self, request: Request, route: RouteLike | None, path: str, *, body: bytes | None = None
    ) -> tuple[Checked, list[str]]:
        """Check ``request`` against the operation of the excerpt its route serves.

        ``path`` is where the excerpt has it (below the server's base path);
        ``body``, if given, is checked in place of the request's own (a quirk of the
        excerpt undone). Returns what was checked (None: nothing, when checking is
        off, there is no route or the route is answered unchecked) and what breaks
        the description, recorded. A checked route the excerpt lacks is the
        emulator's own violation."""
        if self.validator is None or route is None or route.unvalidated is not None:
            return None, []
        op = self.validator.operation(request.method, path)
        if op is None:
            where = f"{route.method} {route.template}"
            return None, self.violate(
                "emulator", request, route.name, [f"the route {where} is not in the excerpt"]
            )
        call = SpecCall.of(request, path, body=body)
        return (call, op), self.violate(
            "request", request, op.id, self.validator.check_request(call)
        )

    def checked_answer(
        self, request: Exchange, route: RouteLike | None, checked: Checked
    ) -> tuple[SpecCall, Operation] | None:
        """The request and operation to check an answer against, or None: checking is off,
        or the request was not checked (then it is listed in `unvalidated` with its
        route's reason)."""
        if self.validator is None:
            return None
        if checked is None:
            why = route.unvalidated if route is not None else None
            self.note_unvalidated(request, why or "no such operation in the emulator")
        return checked


class CheckedEmulator:
    """The test-facing findings of an emulator whose ``spec`` checks its exchanges.

    ``described_as`` names the description in the failure message
    (``"GitHub's OpenAPI description"``).
    """

    spec: SpecFindings
    described_as: ClassVar[str] = "the OpenAPI description"

    @property
    def violations(self) -> list[Violation]:
        """Requests and answers that broke the vendor's OpenAPI description (and crashes)."""
        return self.spec.violations

    @property
    def unvalidated(self) -> list[str]:
        """Requests answered without a spec check (``"METHOD /path: why"``)."""
        return self.spec.unvalidated

    def clear_violations(self) -> None:
        """Forget the violations found so far."""
        self.spec.clear()

    def assert_no_violations(self) -> None:
        """Fail, listing them, if any request or answer broke the description."""
        found = self.violations
        if found:
            lines = "\n".join(f"  - {v}" for v in found)
            raise AssertionError(
                f"{len(found)} request/response(s) do not match {self.described_as} "
                f"(or crashed the emulator):\n{lines}"
            )
