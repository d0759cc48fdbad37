"""Every exchange checked against GitHub's OpenAPI excerpt, and what broke it recorded.

`SpecCheck.request` checks a request against the operation of the excerpt
its route serves; `SpecCheck.response` checks the answer. What breaks the
description is recorded as a `Violation` (a test fails on them with
`GitHubEmulator.assert_no_violations`) and returned, so that the emulator can
fail loudly: it answers 500 with the reason instead (see `server`). The
recording and the openapi-core adapter are the testkit's
(`shitshovela_testkit.specfindings`, `shitshovela_testkit.openapicheck`);
what is GitHub's is here.

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

from shitshovela_testkit.specfindings import Checked, SpecFindings, Violation

from .messages import GitHubRequest, GitHubResponse
from .routes import Route

__all__ = ["Checked", "SpecCheck", "Violation"]


class SpecCheck(SpecFindings):
    """The OpenAPI checks of one GitHub emulator, and their findings (thread-safe)."""

    def request(self, req: GitHubRequest, route: Route | None) -> tuple[Checked, list[str]]:
        """Check ``req``; return what was checked and what breaks the description (recorded)."""
        return self.check_request(req, route, req.api_path.rstrip("/") or "/")

    def response(
        self, req: GitHubRequest, route: Route | None, checked: Checked, resp: GitHubResponse
    ) -> list[str]:
        """Check the answer to a checked request; what breaks the description (recorded)."""
        found = self.checked_answer(req, route, checked)
        if found is None or self.validator is None or resp.fault:
            return []
        call, (op_id, statuses) = found
        status = resp.status
        payload = resp.payload()
        media = resp.content_type.split(";", 1)[0].strip()
        if str(status) not in statuses and "default" not in statuses:
            if status < 400:
                return self.violate(
                    "response", req, op_id, [f"status {status} is not declared"], status
                )
            schema = "validation-error" if status == 422 else "basic-error"
            problems = self.validator.check_schema(schema, payload)
            return self.violate("response", req, op_id, problems, status)
        if status in (204, 304):
            if payload:
                return self.violate(
                    "response", req, op_id, [f"a {status} response must not have a body"], status
                )
            return []
        problems = self.validator.check_response(call, status, payload, media, resp.headers)
        return self.violate("response", req, op_id, problems, status)
