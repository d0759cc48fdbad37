"""A stateful Microsoft Graph (mail) on loopback for tests, checked against Graph's OpenAPI.

    from shitshovela_graph_emulator import GraphEmulator, build_mime, graph_openapi

    with GraphEmulator(validate_spec=graph_openapi()) as graph:
        graph.seed_message(build_mime("Disk full"))
        with graph.client() as c:  # a valid app token, Prefer: IdType="ImmutableId"
            page = c.get("users/tickets@contoso.onmicrosoft.com/mailFolders/inbox/messages",
                         params={"$orderby": "receivedDateTime asc"}).json()
        graph.assert_no_violations()

Importing this package imports neither openapi-core nor PyJWT; only
``validate_spec=...`` and tokens do. `graph_openapi()` finds the excerpt in the
repository's ``specs/`` folder (see `specfile`).

Modules, one concern each: ``server`` (the emulator: the request pipeline, on
the testkit's stand-in server), ``routes`` (operations to handlers),
``folders``, ``listing`` and ``mail`` (the handlers), ``paging`` (collections:
query options, pages, ``@odata.nextLink``), ``odata`` (``$filter``,
``$orderby``, ``$select``, ``$expand``), ``render`` (Graph's JSON shapes),
``mime`` (what Exchange reads out of MIME), ``state`` (mailboxes, folders,
messages), ``ids`` (Exchange-shaped ids and change keys), ``site`` (what a
handler works on, the lookups), ``auth`` (tokens, permissions, access policies),
``tokens`` (key pairs and tokens for tests), ``identity`` (the caller),
``throttle`` (Outlook's limits), ``speccheck`` (the OpenAPI checks, on the
testkit's ``openapicheck`` and ``specfindings``), ``faults`` (on the testkit's
``faultscript``), ``levers`` and ``control`` (the test's levers, in Python and
over HTTP), ``config`` (what a test configures), ``wire`` (requests, answers,
error bodies), ``specfile``.
"""

from shitshovela_testkit.standin import RecordedRequest

from .auth import TrustedKey
from .config import (
    DEFAULT_APP_ID,
    DEFAULT_MAILBOX,
    DEFAULT_TENANT_ID,
    GRAPH_AUDIENCE,
    AccessPolicy,
    MailboxConfig,
    Throttling,
)
from .faults import FAULT_MODES, Faults
from .mime import build_mime
from .routes import NOT_IN_EXCERPT, ROUTES, Route
from .server import IMMUTABLE_IDS, GraphEmulator
from .site import Settings
from .speccheck import Violation
from .specfile import graph_openapi
from .state import WELL_KNOWN, FolderRecord, MessageRecord
from .throttle import Usage
from .tokens import SigningKey, make_token, v1_issuer, v2_issuer

__all__ = [
    "DEFAULT_APP_ID",
    "DEFAULT_MAILBOX",
    "DEFAULT_TENANT_ID",
    "FAULT_MODES",
    "GRAPH_AUDIENCE",
    "IMMUTABLE_IDS",
    "NOT_IN_EXCERPT",
    "ROUTES",
    "WELL_KNOWN",
    "AccessPolicy",
    "Faults",
    "FolderRecord",
    "GraphEmulator",
    "MailboxConfig",
    "MessageRecord",
    "RecordedRequest",
    "Route",
    "Settings",
    "SigningKey",
    "Throttling",
    "TrustedKey",
    "Usage",
    "Violation",
    "build_mime",
    "graph_openapi",
    "make_token",
    "v1_issuer",
    "v2_issuer",
]
