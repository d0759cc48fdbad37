"""The emulated Graph host: what every handler works on, and the lookups they share.

One `Site` per emulator: the mailboxes' state, the knobs a test turns
(`Settings`: the paging form, page sizes, whether ``If-Match`` is enforced), and
the API root (known once the server listens). The lookups answer as Graph
does when something is missing: an unknown user is 404 ``ErrorInvalidUser``,
a user without a mailbox 404 ``MailboxNotEnabledForRESTAPI``, an id that is not
an Exchange id 400 ``ErrorInvalidIdMalformed``, a folder or message that is
not there (gone, moved away under its old REST id) 404 ``ErrorItemNotFound``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, urlsplit

from .ids import well_formed
from .state import Folder, GraphState, Mailbox, Message
from .wire import GraphRequest, Reject, error

__all__ = ["API_VERSION", "Paging", "Settings", "Site", "item_not_found"]

#: Graph's version segment: the API lives under ``/v1.0``.
API_VERSION = "/v1.0"

Paging = Literal["skip", "skiptoken"]
"""How ``@odata.nextLink`` goes on: ``$skip=N`` (an offset, as Outlook's message lists do)
or an opaque ``$skiptoken`` (a cursor after the last item served)."""


@dataclass
class Settings:
    """What a test may change at run time."""

    paging: Paging = "skip"
    #: Items a page holds without ``$top`` (Graph: 10 for messages and folders).
    page_size: int = 10
    #: The largest ``$top`` (Graph: 1000 for messages); larger is refused with 400.
    max_page_size: int = 1000
    #: ``"enforce"``: a ``PATCH``/``DELETE`` whose ``If-Match`` names another change key
    #: is refused with 412; ``"ignore"`` (default): ``If-Match`` is accepted and ignored.
    if_match: Literal["ignore", "enforce"] = "ignore"


#: A ``Host`` header that names a host: a name or an IPv4 address, or an IPv6 one in
#: brackets, and an optional port. Anything else is not used in a link.
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
)


def item_not_found() -> Reject:
    return Reject(
        error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    )


@dataclass
class Site:
    """One emulated Graph: the mailboxes, the knobs, the API root."""

    state: GraphState
    settings: Settings = field(default_factory=Settings)
    #: ``http://127.0.0.1:PORT`` once the server listens.
    base: str = ""

    def api_for(self, req: GraphRequest) -> str:
        """The API root as the client addressed it, for the links of its answer: the
        scheme the request came in on and its ``Host`` header as sent (Graph builds
        ``@odata.nextLink`` from the host a request was sent to, so a client behind a
        proxy follows every page through it); the emulator's own root when the request
        has no usable ``Host`` (HTTP/1.0)."""
        host = req.headers.get("host", "").strip()
        if _HOST.fullmatch(host):
            return f"{urlsplit(self.base).scheme or 'http'}://{host}{API_VERSION}"
        return self.base + API_VERSION

    def context(self, req: GraphRequest, user: str, tail: str) -> str:
        """An answer's ``@odata.context`` (``…/$metadata#users('x')/messages``), on the host
        the client addressed (`api_for`)."""
        return f"{self.api_for(req)}/$metadata#users('{quote(user, safe='@')}'){tail}"

    def mailbox_for(self, ref: str) -> Mailbox:
        """The mailbox of ``/users/{ref}``; Graph's 404 when there is none."""
        box = self.state.mailbox(ref)
        if box is None:
            raise Reject(error(404, "ErrorInvalidUser", f"The requested user '{ref}' is invalid."))
        if not box.config.enabled:
            raise Reject(
                error(
                    404,
                    "MailboxNotEnabledForRESTAPI",
                    "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
                )
            )
        return box

    def folder_for(self, box: Mailbox, ref: str) -> Folder:
        """A folder by id or well-known name."""
        found = self.state.folder(box, ref)
        if found is not None:
            return found
        if not well_formed(ref):
            raise Reject(error(400, "ErrorInvalidIdMalformed", "Id is malformed."))
        raise item_not_found()

    def message_for(self, box: Mailbox, ref: str, folder: Folder | None = None) -> Message:
        """A message by REST or immutable id (in ``folder`` when one is named)."""
        found = self.state.message(box, ref)
        if found is not None and (folder is None or found.folder_id == folder.id):
            return found
        if not well_formed(ref):
            raise Reject(error(400, "ErrorInvalidIdMalformed", "Id is malformed."))
        raise item_not_found()

    def check_if_match(self, req: GraphRequest, msg: Message) -> None:
        """With ``if_match="enforce"``: 412 when ``If-Match`` names another version."""
        given = req.headers.get("if-match")
        if self.settings.if_match != "enforce" or given is None or given.strip() == "*":
            return
        tag = given.strip().removeprefix("W/").strip('"')
        if tag != msg.change_key:
            raise Reject(
                error(
                    412,
                    "ErrorIrresolvableConflict",
                    "The send or update operation could not be performed because the change key "
                    "passed in the request does not match the current change key for the item.",
                )
            )
