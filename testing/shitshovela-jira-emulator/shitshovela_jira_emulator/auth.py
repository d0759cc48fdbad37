"""Who may call: Basic ``email:api_token`` on Cloud, a Bearer personal access token on Data Center.

`Credentials.header` is the one ``Authorization`` value the emulator accepts;
`authenticate` answers 401 as Jira does (with its ``WWW-Authenticate`` and
``X-Seraph-LoginReason`` headers) or lets the request through. Only
``serverInfo`` may be read anonymously.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from .messages import JiraRequest, JiraResponse, error

__all__ = ["ANONYMOUS_ROUTES", "Credentials", "authenticate"]

#: Routes Jira answers without credentials.
ANONYMOUS_ROUTES = frozenset({"server_info"})


@dataclass(frozen=True)
class Credentials:
    """What the emulated site accepts (one set per emulator)."""

    cloud: bool
    email: str
    api_token: str
    pat: str

    @property
    def header(self) -> str:
        """The ``Authorization`` header these credentials give."""
        if self.cloud:
            token = base64.b64encode(f"{self.email}:{self.api_token}".encode()).decode()
            return f"Basic {token}"
        return f"Bearer {self.pat}"

    @property
    def challenge(self) -> str:
        """The ``WWW-Authenticate`` header of a 401."""
        return 'Basic realm="protected-by-api-token"' if self.cloud else 'Bearer realm="Jira"'


def authenticate(
    req: JiraRequest, route: str | None, credentials: Credentials
) -> JiraResponse | None:
    """None when the request may go on; else Jira's 401."""
    given = req.headers.get("authorization")
    if given is None:
        if route in ANONYMOUS_ROUTES:
            return None
        resp = error(
            401, "You are not authenticated. Authentication required to perform this operation."
        )
        resp.headers["WWW-Authenticate"] = credentials.challenge
        return resp
    if given.strip() == credentials.header:
        return None
    resp = error(401, "Client must be authenticated to access this resource.")
    resp.headers["X-Seraph-LoginReason"] = "AUTHENTICATED_FAILED"
    resp.headers["WWW-Authenticate"] = credentials.challenge
    return resp
