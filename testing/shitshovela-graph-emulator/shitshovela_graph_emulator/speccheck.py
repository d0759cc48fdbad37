"""Every exchange checked against Graph's OpenAPI excerpt, and what broke it recorded.

`SpecCheck.request` checks a request against the operation of the excerpt its
route serves; `SpecCheck.response` checks the answer, whatever its status:
Graph declares ``2XX`` and ``default`` (the error body) for every operation,
so a 401, 403, 404, 429 or 503 is checked against Graph's error shape (``error``
with its required ``code`` and ``message``). What breaks the description is
recorded as a `Violation` (a test fails on them with
`GraphEmulator.assert_no_violations`) and returned, so that the emulator can
fail loudly: it answers 500 with the reason instead (see `server`).

Before a check, two quirks of the excerpt are undone (``specs/graph-mail.README.md``,
section 4): an action called by its short name (``…/move``) is checked as the
declared ``…/microsoft.graph.move``, and the move/copy body's
``destinationId`` (the documentation's spelling) is checked as the declared
``DestinationId``, so that its type is checked too. Operations the excerpt
lacks are listed in `unvalidated` with the route's reason. Without a spec file
nothing is checked, and only the emulator's own crashes are recorded.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

from .routes import Route
from .validation import SpecCall, SpecValidator, load_validator
from .wire import GraphRequest, GraphResponse

__all__ = ["Checked", "SpecCheck", "Violation"]

Checked = tuple[SpecCall, str] | None
"""The call as checked and its operationId; None when the request was not checked."""

_ACTIONS = ("/microsoft.graph.move", "/microsoft.graph.copy")


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


def _as_declared(path: str, body: bytes) -> bytes:
    """A move/copy body with ``destinationId`` (in any case) named ``DestinationId``."""
    if not path.endswith(_ACTIONS):
        return body
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    if not isinstance(parsed, dict):
        return body
    renamed = {
        ("DestinationId" if k.casefold() == "destinationid" else k): v for k, v in parsed.items()
    }
    return json.dumps(renamed).encode("utf-8")


class SpecCheck:
    """The OpenAPI checks of one emulator, and their findings (thread-safe)."""

    def __init__(self, spec: Path | str | None) -> None:
        self.validator: SpecValidator | None = None
        if spec is not None:
            self.validator = load_validator(spec)
        self._lock = threading.Lock()
        self._violations: list[Violation] = []
        self._unvalidated: list[str] = []

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
            self._unvalidated.clear()

    def record(self, violation: Violation) -> None:
        with self._lock:
            self._violations.append(violation)

    def note_unvalidated(self, req: GraphRequest, why: str) -> None:
        """List a request that was answered without a check (when checking is on)."""
        if self.validator is None:
            return
        with self._lock:
            self._unvalidated.append(f"{req.method} {req.path}: {why}")

    def _violate(
        self, kind: str, req: GraphRequest, op: str, messages: list[str], status: int | None
    ) -> list[str]:
        for message in messages:
            self.record(Violation(kind, req.method, req.path, op, message, status))
        return messages

    def request(
        self, req: GraphRequest, route: Route | None, path: str
    ) -> tuple[Checked, list[str]]:
        """Check ``req`` (``path``: below ``/v1.0``, as the excerpt writes it); return what
        was checked and what breaks the description (recorded)."""
        if self.validator is None or route is None or route.unvalidated is not None:
            return None, []
        op = self.validator.operation(req.method, path)
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
            path=path,
            query=list(req.query),
            headers=dict(req.headers),
            body=_as_declared(path, req.body),
            content_type=req.content_type or "application/json",
        )
        problems = self.validator.check_request(call)
        return (call, op), self._violate("request", req, op, problems, None)

    def response(
        self, req: GraphRequest, route: Route | None, checked: Checked, resp: GraphResponse
    ) -> list[str]:
        """Check the answer to a checked request; what breaks the description (recorded)."""
        if self.validator is None:
            return []
        if checked is None:
            why = route.unvalidated if route is not None else None
            self.note_unvalidated(req, why or "no such operation in the emulator")
            return []
        if resp.unchecked or resp.drop:
            return []
        call, op_id = checked
        payload = resp.payload()
        if resp.status == 204 and payload:
            return self._violate("response", req, op_id, ["a 204 must not have a body"], 204)
        media = resp.content_type.split(";", 1)[0].strip() if payload else None
        problems = self.validator.check_response(call, resp.status, payload, media, resp.headers)
        return self._violate("response", req, op_id, problems, resp.status)
