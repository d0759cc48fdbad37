"""Every exchange checked against GitHub's OpenAPI excerpt, and what broke it recorded.

`SpecCheck.request` checks a request against the operation of the excerpt
its route serves; `SpecCheck.response` checks the answer. What breaks the
description is recorded as a `Violation` (a test fails on them with
`GitHubEmulator.assert_no_violations`) and returned, so that the emulator can
fail loudly: it answers 500 with the reason instead (see `server`).

GitHub documents authentication and rate-limit answers (401, 403, 429) once
for the whole API, not per operation; an error status an operation does not
declare is checked against the description's ``basic-error`` schema (422s
against ``validation-error``), the shape every GitHub error has. A success
status an operation does not declare is a violation. Operations the
excerpt lacks are listed in `unvalidated` with the route's reason. Without a
spec file nothing is checked, and only the emulator's own crashes are
recorded.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .messages import GitHubRequest, GitHubResponse
from .routes import Route

if TYPE_CHECKING:  # typing only: openapi-core stays optional at run time
    from .validation import SpecCall, SpecValidator

__all__ = ["Checked", "SpecCheck", "Violation"]

Operation = tuple[str, frozenset[str]]
"""(operationId, the statuses it declares)."""

Checked = tuple["SpecCall", Operation] | None
"""The call as checked and its operation; None when the request was not checked."""


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


class SpecCheck:
    """The OpenAPI checks of one emulator, and their findings (thread-safe)."""

    def __init__(self, spec: Path | str | None) -> None:
        self.validator: SpecValidator | None = None
        if spec is not None:
            from .validation import load_validator

            self.validator = load_validator(spec)
        self._lock = threading.Lock()
        self._violations: list[Violation] = []
        self._unvalidated: list[str] = []

    # -- findings ------------------------------------------------------------------------

    @property
    def violations(self) -> list[Violation]:
        with self._lock:
            return list(self._violations)

    @property
    def unvalidated(self) -> list[str]:
        """Requests answered without a spec check (``"METHOD /path: why"``)."""
        with self._lock:
            return list(self._unvalidated)

    def clear(self) -> None:
        with self._lock:
            self._violations.clear()

    def record(self, violation: Violation) -> None:
        with self._lock:
            self._violations.append(violation)

    def note_unvalidated(self, req: GitHubRequest, why: str) -> None:
        """List a request that was answered without a check (when checking is on)."""
        if self.validator is None:
            return
        with self._lock:
            self._unvalidated.append(f"{req.method} {req.path}: {why}")

    def _violate(
        self, kind: str, req: GitHubRequest, op: str, messages: list[str], status: int | None
    ) -> list[str]:
        for message in messages:
            self.record(Violation(kind, req.method, req.path, op, message, status))
        return messages

    # -- requests ------------------------------------------------------------------------

    def request(self, req: GitHubRequest, route: Route | None) -> tuple[Checked, list[str]]:
        """Check ``req``; return what was checked and what breaks the description (recorded)."""
        if self.validator is None or route is None or route.unvalidated is not None:
            return None, []
        from .validation import SpecCall

        op = self.validator.operation(req.method, req.api_path.rstrip("/") or "/")
        if op is None:
            return None, self._violate(
                "emulator",
                req,
                route.name,
                [f"the route {route.method} {route.template} is not in the excerpt"],
                None,
            )
        call = SpecCall(
            method=req.method.lower(),
            path=req.api_path.rstrip("/") or "/",
            query=list(req.query),
            headers=dict(req.headers),
            body=req.body,
            content_type=req.content_type or "application/json",
        )
        problems = self.validator.check_request(call)
        return (call, op), self._violate("request", req, op[0], problems, None)

    # -- responses -----------------------------------------------------------------------

    def response(
        self, req: GitHubRequest, route: Route | None, checked: Checked, resp: GitHubResponse
    ) -> list[str]:
        """Check the answer to a checked request; what breaks the description (recorded)."""
        if self.validator is None:
            return []
        if checked is None:
            why = route.unvalidated if route is not None else None
            self.note_unvalidated(req, why or "no such operation in the emulator")
            return []
        if resp.fault:
            return []
        call, (op_id, statuses) = checked
        status = resp.status
        payload = resp.payload()
        media = resp.content_type.split(";", 1)[0].strip()
        if str(status) not in statuses and "default" not in statuses:
            if status < 400:
                return self._violate(
                    "response", req, op_id, [f"status {status} is not declared"], status
                )
            schema = "validation-error" if status == 422 else "basic-error"
            problems = self.validator.check_schema(schema, payload)
            return self._violate("response", req, op_id, problems, status)
        if status in (204, 304):
            if payload:
                return self._violate(
                    "response", req, op_id, [f"a {status} response must not have a body"], status
                )
            return []
        problems = self.validator.check_response(call, status, payload, media, resp.headers)
        return self._violate("response", req, op_id, problems, status)
