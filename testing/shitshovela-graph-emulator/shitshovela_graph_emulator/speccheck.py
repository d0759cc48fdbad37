"""Every exchange checked against Graph's OpenAPI excerpt, and what broke it recorded.

`SpecCheck.request` checks a request against the operation of the excerpt its
route serves; `SpecCheck.response` checks the answer, whatever its status:
Graph declares ``2XX`` and ``default`` (the error body) for every operation,
so a 401, 403, 404, 429 or 503 is checked against Graph's error shape (``error``
with its required ``code`` and ``message``). What breaks the description is
recorded as a `Violation` (a test fails on them with
`GraphEmulator.assert_no_violations`) and returned, so that the emulator can
fail loudly: it answers 500 with the reason instead (see `server`). The
recording and the openapi-core adapter are the testkit's
(`shitshovela_testkit.specfindings`, `shitshovela_testkit.openapicheck`);
what is Graph's is here.

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

from shitshovela_testkit.specfindings import Checked, SpecFindings, Violation

from .routes import Route
from .wire import GraphRequest, GraphResponse

__all__ = ["Checked", "SpecCheck", "Violation"]

_ACTIONS = ("/microsoft.graph.move", "/microsoft.graph.copy")


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


class SpecCheck(SpecFindings):
    """The OpenAPI checks of one Graph emulator, and their findings (thread-safe)."""

    def clear(self) -> None:
        """Forget the violations and the unvalidated requests found so far."""
        super().clear()
        self.forget_unvalidated()

    def request(
        self, req: GraphRequest, route: Route | None, path: str
    ) -> tuple[Checked, list[str]]:
        """Check ``req`` (``path``: below ``/v1.0``, as the excerpt writes it); return what
        was checked and what breaks the description (recorded)."""
        return self.check_request(req, route, path, body=_as_declared(path, req.body))

    def response(
        self, req: GraphRequest, route: Route | None, checked: Checked, resp: GraphResponse
    ) -> list[str]:
        """Check the answer to a checked request; what breaks the description (recorded)."""
        found = self.checked_answer(req, route, checked)
        if found is None or self.validator is None or resp.unchecked or resp.drop:
            return []
        call, (op_id, _statuses) = found
        payload = resp.payload()
        if resp.status == 204 and payload:
            return self.violate("response", req, op_id, ["a 204 must not have a body"], 204)
        media = resp.content_type.split(";", 1)[0].strip() if payload else None
        problems = self.validator.check_response(call, resp.status, payload, media, resp.headers)
        return self.violate("response", req, op_id, problems, resp.status)
