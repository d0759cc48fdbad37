"""GitHub's side of the HTTP exchange: requests with their caller, answers, error bodies.

`GitHubRequest` is the stand-in server's request plus who sent it (filled in
once the credentials are checked); `GitHubResponse` an answer that may be
marked as an injected fault (not checked against the OpenAPI description).
`error` builds GitHub's error body (``message``, ``documentation_url``,
``status``), `validation_failed` its 422 with ``errors``; a handler raises
`Reject` to answer with one at once from deep inside a check.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shitshovela_testkit.standin import Request, Response

if TYPE_CHECKING:
    from .caller import Caller

__all__ = [
    "DOCS",
    "GitHubRequest",
    "GitHubResponse",
    "Reject",
    "error",
    "json_body",
    "validation_failed",
]

#: GitHub's documentation root, as its error bodies name it.
DOCS = "https://docs.github.com/rest"


@dataclass
class GitHubRequest(Request):
    """A request to the emulator; ``caller`` is set once its credentials are accepted."""

    caller: Caller | None = None
    #: The path with an Enterprise Server prefix (``/api/v3``) removed.
    api_path: str = ""
    #: The documentation page of the operation its route serves (named in error bodies).
    doc: str = DOCS

    def who(self) -> Caller:
        """The authenticated caller (a handler only runs once there is one)."""
        if self.caller is None:
            raise RuntimeError("the request has no authenticated caller")
        return self.caller


@dataclass
class GitHubResponse(Response):
    """An answer of the emulator; ``fault`` marks one injected on purpose (not spec-checked)."""

    content_type: str = "application/json; charset=utf-8"
    fault: bool = False


class Reject(Exception):
    """Raised inside a handler to answer with an error at once."""

    def __init__(self, response: GitHubResponse) -> None:
        super().__init__(response.status)
        self.response = response


def error(status: int, message: str, documentation_url: str = DOCS) -> GitHubResponse:
    """GitHub's error body: ``{"message", "documentation_url", "status"}``."""
    return GitHubResponse(
        status,
        {"message": message, "documentation_url": documentation_url, "status": str(status)},
    )


def validation_failed(
    errors: Sequence[Mapping[str, Any]], documentation_url: str = DOCS
) -> GitHubResponse:
    """GitHub's 422: ``{"message": "Validation Failed", "errors": [...], ...}``."""
    return GitHubResponse(
        422,
        {
            "message": "Validation Failed",
            "errors": [dict(e) for e in errors],
            "documentation_url": documentation_url,
            "status": "422",
        },
    )


def json_body(req: GitHubRequest, *, required: bool = True) -> Any:
    """The body as JSON; GitHub's 400 "Problems parsing JSON" when it is not JSON.

    An empty body is None when not ``required``."""
    if not req.body.strip():
        if required:
            raise Reject(error(400, "Problems parsing JSON"))
        return None
    try:
        return json.loads(req.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Reject(error(400, "Problems parsing JSON")) from None
