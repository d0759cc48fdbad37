"""Graph's side of the HTTP exchange: requests with their caller, answers, error bodies.

`GraphRequest` is the stand-in server's request plus what the pipeline learns
about it (its path under ``/v1.0``, the caller once the token is accepted, the
``Prefer`` preferences); `GraphResponse` an answer that may be marked as not to
be checked against the OpenAPI description (the emulator's own loud 500s, a
dropped connection). `error` builds Graph's error body (``{"error": {"code",
"message"}}``; the server adds ``innerError`` with the request's ids and date);
a handler raises `Reject` to answer with one at once from deep inside a check.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from shitshovela_testkit.standin import Request, Response

from .identity import Caller

__all__ = ["GraphRequest", "GraphResponse", "Reject", "error", "json_body", "preferences"]

_PREF = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*(?:=\s*(?:"([^"]*)"|([^,;\s]*)))?[^,]*')


def preferences(header: str) -> dict[str, str]:
    """``Prefer: IdType="ImmutableId", outlook.body-content-type="text"`` as ``{name: value}``
    (names lower-cased; a preference without a value maps to "")."""
    found: dict[str, str] = {}
    for part in header.split(","):
        m = _PREF.match(part)
        if m is not None and m.group(1):
            found[m.group(1).lower()] = m.group(2) if m.group(2) is not None else m.group(3) or ""
    return found


@dataclass
class GraphRequest(Request):
    """A request to the emulator; the pipeline fills in the fields below as it goes."""

    #: The path below the API version (``/users/...`` of ``/v1.0/users/...``), as sent.
    api_path: str = ""
    #: The route's operation name (``"list_folder_messages"``), once routed.
    operation: str = ""
    caller: Caller | None = None
    #: Graph's ``request-id`` of this exchange, and the client's ``client-request-id``.
    request_id: str = ""
    client_request_id: str = ""

    def who(self) -> Caller:
        """The authenticated caller (a handler only runs once there is one)."""
        if self.caller is None:
            raise RuntimeError("the request has no authenticated caller")
        return self.caller

    @property
    def prefer(self) -> dict[str, str]:
        return preferences(self.headers.get("prefer", ""))

    @property
    def immutable_ids(self) -> bool:
        """Whether the request sent ``Prefer: IdType="ImmutableId"`` (it applies to it alone)."""
        return self.prefer.get("idtype", "").lower() == "immutableid"

    @property
    def body_type(self) -> str:
        """``text`` or ``html``: ``Prefer: outlook.body-content-type``, HTML by default."""
        wanted = self.prefer.get("outlook.body-content-type", "").lower()
        return "text" if wanted == "text" else "html"


@dataclass
class GraphResponse(Response):
    """An answer of the emulator; ``unchecked`` ones are not checked against the description."""

    content_type: str = "application/json; odata.metadata=minimal; charset=utf-8"
    unchecked: bool = False


class Reject(Exception):
    """Raised inside a handler to answer with an error at once."""

    def __init__(self, response: GraphResponse) -> None:
        super().__init__(response.status)
        self.response = response


def error(status: int, code: str, message: str, **headers: str) -> GraphResponse:
    """Graph's error body ``{"error": {"code", "message"}}`` (``innerError`` comes later)."""
    resp = GraphResponse(status, {"error": {"code": code, "message": message}})
    resp.headers.update({k.replace("_", "-"): v for k, v in headers.items()})
    return resp


def json_body(req: GraphRequest) -> dict[str, Any]:
    """The body as a JSON object; Graph's 400 when it is missing, not JSON or not an object."""
    if not req.body.strip():
        raise Reject(error(400, "BadRequest", "Empty Payload. JSON content expected."))
    try:
        body = json.loads(req.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Reject(error(400, "BadRequest", "Unable to read JSON request payload.")) from None
    if not isinstance(body, dict):
        raise Reject(
            error(400, "BadRequest", "Unable to read JSON request payload: not an object.")
        )
    return body
