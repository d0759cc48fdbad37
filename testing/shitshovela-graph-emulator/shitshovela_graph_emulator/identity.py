"""Who sent a request: the app an accepted access token names (shared by the request and auth).

A `Caller` is made by `auth` from a token's checked claims and carried on the
request (`wire.GraphRequest.caller`); handlers and throttling read it. It lives
in a module of its own so that neither of those imports the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["READ_ROLES", "WRITE_ROLES", "Caller"]

#: Application permissions that read mail (``GET``).
READ_ROLES = frozenset({"Mail.Read", "Mail.ReadWrite"})
#: Application permissions that change mail (``PATCH``, ``POST``, ``DELETE``).
WRITE_ROLES = frozenset({"Mail.ReadWrite"})


@dataclass(frozen=True)
class Caller:
    """An app signed in with the client-credentials flow, as its token says."""

    #: The application (client) id: ``appid`` (v1.0 tokens) or ``azp`` (v2.0).
    app_id: str
    tenant_id: str
    #: The application permissions the admin consented to (the ``roles`` claim).
    roles: frozenset[str]
    #: The service principal's object id (``oid``).
    object_id: str = ""
    claims: Mapping[str, Any] = field(default_factory=dict)

    def may(self, method: str) -> bool:
        """Whether its roles allow a request of this method."""
        needed = READ_ROLES if method in ("GET", "HEAD") else WRITE_ROLES
        return bool(self.roles & needed)
