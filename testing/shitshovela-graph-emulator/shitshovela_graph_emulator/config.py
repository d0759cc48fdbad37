"""What a test configures: mailboxes, the tenant, application access policies, throttling.

All frozen values; the emulator copies them into its state when it is made
(`GraphEmulator.set_policy` and `GraphEmulator.throttling` change them at run
time).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DEFAULT_APP_ID",
    "DEFAULT_MAILBOX",
    "DEFAULT_TENANT_ID",
    "GRAPH_APP_ID",
    "GRAPH_AUDIENCE",
    "AccessPolicy",
    "MailboxConfig",
    "Throttling",
    "object_id_for",
]

#: The tenant the emulator trusts unless told otherwise. The testkit's token
#: endpoint stand-in uses the same id, so its tokens are for this tenant too.
DEFAULT_TENANT_ID = "8f6d3c2a-5b1e-4f7a-9c0d-2e4b6a8c0d1f"
#: The application (client) id of the tokens `GraphEmulator.make_token` makes by default.
DEFAULT_APP_ID = "6b0f4f0e-2d7c-4a8e-9d55-3c1f0e8a7b21"
#: The mailbox the emulator has unless told otherwise.
DEFAULT_MAILBOX = "tickets@contoso.onmicrosoft.com"
#: The ``aud`` of an access token for Microsoft Graph (scope ``https://graph.microsoft.com/.default``).
GRAPH_AUDIENCE = "https://graph.microsoft.com"
#: Microsoft Graph's own application id, which some tokens carry as ``aud`` instead.
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


def object_id_for(upn: str) -> str:
    """A stable user object id (a GUID) for a user principal name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "mailbox:" + upn.casefold()))


@dataclass(frozen=True)
class MailboxConfig:
    """A user and their mailbox. Reached as ``/users/{upn}`` or ``/users/{id}``."""

    #: The user principal name (also the primary SMTP address), e.g. ``tickets@contoso.com``.
    upn: str
    #: The user's object id; None: a GUID derived from the UPN (`object_id_for`).
    id: str | None = None
    display_name: str | None = None
    #: False: the user has no Exchange Online mailbox (no licence, on-premises): every
    #: mail call answers 404 ``MailboxNotEnabledForRESTAPI``.
    enabled: bool = True
    #: Folders it starts with besides the well-known ones: display names of top-level
    #: folders, or paths through existing folders (``"Inbox/Done"``).
    folders: Sequence[str] = ()

    @property
    def object_id(self) -> str:
        return self.id or object_id_for(self.upn)


@dataclass(frozen=True)
class AccessPolicy:
    """An Exchange Online application access policy (``New-ApplicationAccessPolicy``).

    ``RestrictAccess``: the app reaches only these mailboxes; ``DenyAccess``: every
    mailbox but these. ``mailboxes`` are UPNs or object ids (the members of the
    policy's mail-enabled security group). RBAC for Applications, which Microsoft now
    recommends instead, limits an app to a set of mailboxes the same way."""

    app_id: str
    mailboxes: Collection[str]
    access_right: Literal["RestrictAccess", "DenyAccess"] = "RestrictAccess"


@dataclass(frozen=True)
class Throttling:
    """Outlook's limits per app and mailbox (``specs/graph-mail.README.md``, section 5.1)."""

    #: Requests one app may make to one mailbox in `window` seconds (Graph: 10,000 in 10 minutes).
    requests_per_window: int = 10_000
    window: float = 600.0
    #: Requests of one app to one mailbox at once (Graph: 4); one more gets 429.
    max_concurrent: int = 4
    #: Bytes of PATCH, POST and PUT bodies in `upload_window` seconds (Graph: 150 MB in 5 min).
    upload_bytes_per_window: int = 150 * 1024 * 1024
    upload_window: float = 300.0
    #: The ``Retry-After`` (seconds) of a 429 for one request too many at once.
    concurrency_retry_after: int = 1
