"""Who may call: Basic ``email:api_token`` on Cloud, a Bearer personal access token on Data Center.

The site has several users (`Accounts`), each with its own credentials: the
bot the job runs as, and whoever else a test adds (a person who plants a
ticket). `authenticate` answers 401 as Jira does (with its
``WWW-Authenticate`` and ``X-Seraph-LoginReason`` headers) or lets the request
through, telling it who sent it (``JiraRequest.user``). Only ``serverInfo``
may be read anonymously.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass

from .messages import JiraRequest, JiraResponse, error
from .render import Identity

__all__ = ["ANONYMOUS_ROUTES", "Accounts", "Credentials", "authenticate"]

#: Routes Jira answers without credentials.
ANONYMOUS_ROUTES = frozenset({"server_info"})


@dataclass(frozen=True)
class Credentials:
    """What the emulated site accepts from one user."""

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


class Accounts:
    """The site's users and their credentials (tokens -> users); thread-safe."""

    def __init__(self, cloud: bool) -> None:
        self.cloud = cloud
        self._lock = threading.Lock()
        self._users: dict[str, Identity] = {}
        self._credentials: dict[str, Credentials] = {}
        self._by_header: dict[str, str] = {}

    def add(self, user: Identity, *, api_token: str, pat: str) -> Credentials:
        """Let ``user`` call the API with these tokens (Cloud: with the user's e-mail)."""
        credentials = Credentials(self.cloud, user.email, api_token, pat)
        with self._lock:
            if user.username in self._users:
                raise ValueError(f"user {user.username!r} exists already")
            if credentials.header in self._by_header:
                raise ValueError(f"user {user.username!r}: another user has these credentials")
            self._users[user.username] = user
            self._credentials[user.username] = credentials
            self._by_header[credentials.header] = user.username
        return credentials

    def user(self, username: str) -> Identity | None:
        """The user called ``username``, or None."""
        with self._lock:
            return self._users.get(username)

    def credentials(self, username: str) -> Credentials:
        """The credentials of ``username`` (`KeyError` for an unknown user)."""
        with self._lock:
            return self._credentials[username]

    def who(self, header: str) -> Identity | None:
        """The user an ``Authorization`` header authenticates, or None."""
        with self._lock:
            username = self._by_header.get(header.strip())
            return None if username is None else self._users[username]

    @property
    def challenge(self) -> str:
        """The ``WWW-Authenticate`` header of a 401."""
        return 'Basic realm="protected-by-api-token"' if self.cloud else 'Bearer realm="Jira"'


def authenticate(req: JiraRequest, route: str | None, accounts: Accounts) -> JiraResponse | None:
    """None when the request may go on (``req.user`` says who sent it); else Jira's 401."""
    given = req.headers.get("authorization")
    if given is None:
        if route in ANONYMOUS_ROUTES:
            return None
        resp = error(
            401, "You are not authenticated. Authentication required to perform this operation."
        )
        resp.headers["WWW-Authenticate"] = accounts.challenge
        return resp
    user = accounts.who(given)
    if user is not None:
        req.user = user
        return None
    resp = error(401, "Client must be authenticated to access this resource.")
    resp.headers["X-Seraph-LoginReason"] = "AUTHENTICATED_FAILED"
    resp.headers["WWW-Authenticate"] = accounts.challenge
    return resp
