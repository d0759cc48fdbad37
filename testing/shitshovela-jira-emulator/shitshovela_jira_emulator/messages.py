"""Jira's side of the HTTP exchange: requests with their API version, answers, error bodies.

`JiraRequest` is the stand-in server's request plus the REST API version the
route chose (``"2"`` or ``"3"``); `JiraResponse` an answer that may be marked
as an injected fault (not checked against the OpenAPI description). `error`
builds Jira's error body, and a handler raises `Reject` to answer with one at
once from deep inside a check.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shitshovela_testkit.standin import Request, Response

from .state import now_utc

if TYPE_CHECKING:
    from .render import Identity

__all__ = ["JiraRequest", "JiraResponse", "Reject", "error", "int_param", "throttled"]


@dataclass
class JiraRequest(Request):
    """A request to the emulator; ``api`` is the REST version its route serves,
    ``user`` who sent it (None until authenticated, and for anonymous reads)."""

    api: str = "3"
    user: Identity | None = None


@dataclass
class JiraResponse(Response):
    """An answer of the emulator; ``fault`` marks one injected on purpose (not spec-checked)."""

    content_type: str = "application/json;charset=UTF-8"
    fault: bool = False


class Reject(Exception):
    """Raised inside a handler to answer with an error at once."""

    def __init__(self, response: JiraResponse) -> None:
        super().__init__(response.status)
        self.response = response


def error(status: int, *messages: str, errors: Mapping[str, str] | None = None) -> JiraResponse:
    """Jira's error body: ``{"errorMessages": [...], "errors": {field: message}}``."""
    return JiraResponse(status, {"errorMessages": list(messages), "errors": dict(errors or {})})


def int_param(value: Any, name: str, default: int) -> int:
    """An integer parameter (query or body); 400 in Jira's words when it is not one."""
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Reject(
            error(400, f"The value '{value}' is not valid for parameter '{name}'.")
        ) from None


def throttled(status: int, retry_after: str | None, reason: str | None) -> JiraResponse:
    """A 429 with Jira Cloud's rate-limit headers, or a 503; marked as an injected fault."""
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    if status == 429:
        reset = now_utc().timestamp() + float(retry_after or 1)
        headers.update(
            {
                "X-RateLimit-Limit": "100",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-NearLimit": "true",
                "X-RateLimit-Reset": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(reset + 60)),
                "RateLimit-Reason": reason or "jira-burst-based",
            }
        )
        resp = error(429, "Rate limit exceeded.")
    else:
        resp = error(503, "Service Unavailable")
    resp.headers.update(headers)
    resp.fault = True
    return resp
