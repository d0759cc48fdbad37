"""Every exchange checked against Jira's OpenAPI excerpt, and what broke it recorded.

`SpecCheck.request` maps a request onto the v3 operation it is checked
against (a v2 call in its v3 form: plain text as ADF; Data Center's paged
search as the enhanced search) and records what the schema, and the rules the
schema cannot express, say about it; `SpecCheck.response` does the same for
the answer. Problems are recorded as `Violation`s (a test fails on them with
`assert_no_violations`), never answered differently: Jira answers as Jira
does. Requests that could not be checked are listed in `unvalidated`. Without
a spec file nothing is checked, and only the emulator's own crashes are
recorded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from shitshovela_testkit.openapicheck import SpecCall
from shitshovela_testkit.specfindings import Checked, SpecFindings, Violation

from . import render
from .issues import multipart
from .messages import JiraRequest, JiraResponse
from .routes import Route

__all__ = ["Checked", "SpecCheck", "Violation"]


class SpecCheck(SpecFindings):
    """The OpenAPI checks of one Jira emulator, and their findings (thread-safe)."""

    def __init__(self, spec: Path | str | None, *, cloud: bool) -> None:
        super().__init__(spec)
        self.cloud = cloud

    # -- requests ------------------------------------------------------------------------

    def request(self, req: JiraRequest, route: Route | None) -> tuple[Checked, list[str]]:
        """Check ``req``; return what was checked and the schema's problems with it.

        The problems are recorded; so are the documented rules the schema cannot
        express, which are answered as Jira answers them (403/400/415), not as a
        schema error."""
        checked = self._spec_call(req, route)
        if checked is None or self.validator is None:
            return checked, []
        call, op = checked
        problems = self.validator.check_request(call)
        self.violate("request", req, op.id, problems + self._extra_rules(req, route))
        return checked, problems

    def _spec_call(self, req: JiraRequest, route: Route | None) -> Checked:
        """Map the request onto the v3 operation of the excerpt that it is checked against."""
        if self.validator is None or route is None:
            return None
        name = route.name
        if name == "search_v2" and self.cloud:
            return None  # removed on Cloud (410); nothing to check it against
        v3_path = re.sub(r"^/rest/api/(2|latest)/", "/rest/api/3/", req.raw_path.rstrip("/"))
        query = list(req.query)
        body = req.body
        if name == "search_v2":
            # DC search: checked as the enhanced search minus its paging differences
            v3_path = "/rest/api/3/search/jql"
            query = [(k, v) for k, v in query if k not in ("startAt", "validateQuery")]
            if req.method == "POST":
                body = _v2_to_v3_body(body, drop=("startAt", "validateQuery"))
        elif req.api == "2" and req.method in ("POST", "PUT") and req.media_type.endswith("json"):
            body = _v2_to_v3_body(body)
        op = self.validator.operation(req.method, v3_path)
        if op is None:
            return None
        call = SpecCall.of(
            req, v3_path, query=query, body=body, params_only=name == "add_attachment"
        )
        return call, op

    @staticmethod
    def _extra_rules(req: JiraRequest, route: Route | None) -> list[str]:
        """Documented rules the schema cannot express (addAttachment's description)."""
        if route is None or route.name != "add_attachment":
            return []
        problems = []
        if req.headers.get("x-atlassian-token", "").lower() not in ("no-check", "nocheck"):
            problems.append("addAttachment requires the header 'X-Atlassian-Token: no-check'")
        if req.media_type != "multipart/form-data":
            problems.append(f"addAttachment needs multipart/form-data, got {req.media_type!r}")
        else:
            names = [p[0] for p in multipart(req)]
            if "file" not in names:
                problems.append(
                    f"addAttachment: the multipart part must be named 'file' (got {names})"
                )
        return problems

    # -- responses -----------------------------------------------------------------------

    def response(self, req: JiraRequest, checked: Checked, resp: JiraResponse) -> None:
        """Check the answer to a checked request (an injected fault is not checked)."""
        if self.validator is None:
            return
        if checked is None:
            self.note_unvalidated(req, "not in the OpenAPI excerpt")
            return
        if resp.fault:
            return
        call, (op_id, statuses) = checked
        status = str(resp.status)
        declared = status in statuses or "default" in statuses
        if not declared:
            if resp.status >= 400:
                self.note_unvalidated(req, f"status {status} is not declared by {op_id}")
            else:
                self.violate(
                    "response", req, op_id, [f"status {status} is not declared"], resp.status
                )
            return
        if resp.status == 204:
            if resp.payload():
                self.violate("response", req, op_id, ["a 204 response must not have a body"], 204)
            return  # the spec's 204s declare a JSON body of schema {} (specs/README.md, quirks)
        payload = resp.payload()
        if not self.cloud and op_id.startswith("searchAndReconsile") and resp.status == 200:
            # v2 DC search answer, checked as an enhanced-search page of the same issues
            page = json.loads(payload)
            payload = json.dumps(
                {
                    "issues": page.get("issues", []),
                    "isLast": page["startAt"] + len(page["issues"]) >= page["total"],
                }
            ).encode()
        problems = self.validator.check_response(
            call, resp.status, payload, resp.content_type.split(";", 1)[0]
        )
        self.violate("response", req, op_id, problems, resp.status)


def _v2_to_v3_body(body: bytes, drop: Sequence[str] = ()) -> bytes:
    """A v2 body in v3 form: plain-text description/comment -> ADF."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    if not isinstance(doc, dict):
        return body
    for key in drop:
        doc.pop(key, None)
    fields = doc.get("fields")
    if isinstance(fields, dict) and isinstance(fields.get("description"), str):
        fields["description"] = render.text_to_adf(fields["description"])
    if isinstance(doc.get("body"), str):
        doc["body"] = render.text_to_adf(doc["body"])
    upd = doc.get("update")
    if isinstance(upd, dict) and isinstance(upd.get("description"), list):
        for op in upd["description"]:
            if isinstance(op, dict) and isinstance(op.get("set"), str):
                op["set"] = render.text_to_adf(op["set"])
    return json.dumps(doc).encode()
