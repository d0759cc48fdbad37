"""The ``graph`` source: a Microsoft 365 mail folder whose messages become tickets, one each.

**Listing** (`shitshovela_graph.listing`): the folder's messages oldest first,
a page at a time, listed again from the start rather than passing messages
over when a page link is an offset. **Items**: each message's MIME
(``GET …/messages/{id}/$value``) is streamed into a spooled temporary file
(`SPOOL_MEMORY` in memory, the rest on disk), stopped one byte past
``MAX_MESSAGE_SIZE`` (the message is then set aside), and read by the mail
library every mail source shares (`shitshovela_mail`: the same title, text,
attachments and loop protection as IMAP's). Attachments stream from that file
while the ticket system uploads them.

**Origins** name the mailbox and folder (scope ``graph://<mailbox>/<FOLDER>``),
the message's immutable id and its Message-ID header (key ``<id>/<Message-ID>``;
Graph's ``internetMessageId`` is kept beside it for the exactness check),
the folder's id (``version``: the folder it was in, like IMAP's UIDVALIDITY)
and a digest of the message's size and header block (I9). Every request
sends ``Prefer: IdType="ImmutableId"``, so the id survives moves.

**Exact delete** (I9): before it deletes or moves a message, the source reads
it (``$select=internetMessageId,parentFolderId``): gone (404), or no longer in
the folder it was ticketed from (moved by someone, or in Deleted Items after a
crash) is "already gone" and nothing is touched; a different Internet message
id is refused, never deleted. ``DONE=delete`` is ``DELETE`` (Exchange moves
the message into Deleted Items, recoverable there and from Recoverable Items
for the retention period), never ``permanentDelete`` (the README says why);
``DONE=move`` moves it to ``DONE_FOLDER``. Neither is sent again blindly after
a lost answer (a second ``DELETE`` would push the message from Deleted Items
on into Recoverable Items): the message is read again first, and only a
message still in the folder is sent the request again.

**Claims** (I2, I11, `shitshovela_graph.claims`): a single-value extended
property holding the claim time, written with ``If-Match`` on the change key
as listed. Where Exchange enforces ``If-Match`` the claim is compare-and-set;
that is not documented, so two runs of one instance at once may both claim a
message: the README tells to schedule one run at a time.

**Set aside** (I12): poison messages (too large, unreadable, auto-replies,
over the per-sender cap) are moved to ``SET_ASIDE_FOLDER``, made if missing.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO
from urllib.parse import quote

import attrs
import httpx
from shitshovela_mail import (
    LoopGuard,
    Part,
    StructureError,
    header_digest,
    mail_item,
    open_part,
    parse_headers,
    part_attachment,
    part_texts,
    scan_message,
    shown_parts,
)

from shitshovela_core import (
    AccessToken,
    Attachment,
    Flag,
    Item,
    Origin,
    OutcomeUnknown,
    PoisonItem,
    ProviderContext,
    ProviderError,
    SetAsideUnavailable,
    Source,
    TransferTooSlow,
    TransientError,
    Unreachable,
    env_name,
    token_provider,
)

from .answers import GraphError
from .api import GraphApi
from .claims import claim_in, claim_patch, claim_property, if_match
from .config import GraphSettings
from .diagnose import MAIL_ROLE, missing_folder, missing_permission
from .folders import Folders, answer_error
from .listing import PAGE_SIZE, Listed, Listing

__all__ = ["GraphSource"]

#: Bytes of a message's MIME kept in memory while it is read; the rest goes to disk.
SPOOL_MEMORY = 1024 * 1024
#: How often a delete or a move is sent (each time after reading the message again)
#: when its answer is lost, before the run stops.
REMOVE_TRIES = 3
#: What the exactness check reads of a message.
STATE_SELECT = "id,internetMessageId,changeKey,receivedDateTime,parentFolderId"


@attrs.frozen
class _Placed:
    """Where a message is now, as the exactness check read it."""

    folder_id: str
    internet_message_id: str


class GraphSource(Source):
    """A `Source` over one folder of one Exchange Online mailbox (see the module docstring)."""

    supports_claims = True

    def __init__(self, context: ProviderContext) -> None:
        super().__init__(context)
        self.settings = GraphSettings.of(context.settings)
        tokens = token_provider(
            context, self.settings, microsoft_scope=self.settings.token_scope_or_default
        )
        self.api = GraphApi(context, self.settings, tokens)
        self.folders = Folders(self.api)
        self.log = context.log.bind(scope=self.settings.scope)
        self.loops = LoopGuard(self.settings, self._env, self.log)
        self.claim_property = claim_property(context.instance)
        #: Messages one listing request asks for.
        self.page_size = PAGE_SIZE
        #: The last listing made (tests read its passes and memory).
        self.listing: Listing | None = None
        self._source_id: str | None = None

    # -- identity ----------------------------------------------------------------------

    @property
    def scope(self) -> str:
        """``graph://<mailbox>/<FOLDER>``: the folder's stable identity (I7)."""
        return self.settings.scope

    def _env(self, name: str) -> str:
        return env_name(self.context.provider, name)

    def _origin(self, listed: Listed, size: int, digest: str, header_id: str = "") -> Origin:
        """The origin of a listed message; its key ends with the Message-ID as the MIME
        has it (``header_id``), else as Graph reports it (a message not read)."""
        mid = listed.internet_message_id.strip()
        named = (header_id or mid).strip()
        if named.startswith("<") and named.endswith(">"):
            named = named[1:-1].strip()
        return Origin(
            provider=self.context.provider,
            scope=self.scope,
            key=f"{listed.id}/{named}" if named else listed.id,
            version=listed.folder_id,
            digest=digest,
            extra={"message_id": mid, "size": str(size), "received": listed.received},
        )

    def _own(self, origin: Origin) -> str:
        """The immutable id of one of this source's origins; refuse foreign ones (I7)."""
        if not self.owns(origin):
            raise ProviderError(
                f"origin {origin.describe()} is not from {self.scope}; not touched (I7)"
            )
        message = origin.key.split("/", 1)[0]
        if not message or not origin.version:
            raise ProviderError(f"origin {origin.describe()} names no Graph message")
        return message

    def _message(self, message: str) -> str:
        return f"{self.api.user}/messages/{quote(message, safe='')}"

    def _source_folder(self) -> str:
        """The id of the folder being emptied (``FOLDER``), found once a run."""
        if self._source_id is None:
            found = self.folders.find(self.settings.folder)
            if found is None:
                raise Unreachable(
                    missing_folder(
                        self.settings, self.context.provider, self.settings.folder, "FOLDER"
                    )
                )
            self._source_id = found
        return self._source_id

    # -- listing and items -------------------------------------------------------------

    def items(self) -> Iterator[Item | PoisonItem]:
        """Yield the waiting messages lazily, oldest first (see the module docstring)."""
        return self._items()

    def _writable(self, token: AccessToken) -> None:
        """Stop before anything is asked or changed when the token's roles show an app
        that may read mail but not write it (`missing_permission`)."""
        lacking = missing_permission(token.claims)
        if lacking is not None and "scp" not in token.claims:
            raise Unreachable(f"{token.identity}: {lacking}")

    def _items(self) -> Iterator[Item | PoisonItem]:
        self._writable(self.api.tokens.token())
        listing = Listing(
            self.api, self._source_folder(), self.claim_property, page_size=self.page_size
        )
        self.listing = listing
        for listed in listing:
            entry = self._entry(listed, policies=True)
            if entry is not None:
                yield entry
            del entry  # its spooled file goes before the next message is read

    def _entry(self, listed: Listed, *, policies: bool) -> Item | PoisonItem | None:
        """What one listed message becomes: an Item, a PoisonItem, or None (gone meanwhile,
        or left for a later run by the per-sender cap)."""
        claimed = claim_in(listed.properties, self.claim_property)
        token = listed.change_key
        limit = self.settings.max_message_size
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115  (the item's)
        keep = False  # True once the item's attachments read from the spool
        try:
            try:
                response = self.api.download(
                    f"{self._message(listed.id)}/$value",
                    spool,
                    limit=limit,
                    what=f"read message {listed.id[-12:]}",
                )
            except TransferTooSlow as exc:
                raise self._too_slow(listed, exc) from None
            if response.status_code == 404 and GraphError.of(response).code == "ErrorItemNotFound":
                return None  # deleted or moved since it was listed
            if not 200 <= response.status_code < 300:
                raise answer_error(self.api, response, f"read message {listed.id[-12:]}")
            size = spool.tell()
            if size > limit:
                return PoisonItem(
                    self._origin(listed, size, ""),
                    f"larger than {self._env('MAX_MESSAGE_SIZE')} (more than {limit} bytes); "
                    "its download was stopped there",
                    claimed_at=claimed,
                    claim_token=token,
                )
            entry, keep = self._read(spool, listed, claimed, policies=policies)
            return entry
        finally:
            if not keep:
                spool.close()

    def _too_slow(self, listed: Listed, exc: TransferTooSlow) -> TransferTooSlow:
        """The run's stop when a message's MIME did not arrive within ``TIMEOUT``: it names
        the message and both ways out (a longer ``TIMEOUT``, or a ``MAX_MESSAGE_SIZE`` that
        sets such messages aside). Reading it again would take as long, in every run."""
        return TransferTooSlow(
            f"message {listed.id} ({listed.internet_message_id or 'no Message-ID'}, received "
            f"{listed.received or '?'}): its MIME was still arriving when "
            f"{self._env('TIMEOUT')} ({self.settings.timeout:g}s) ran out ({exc.received} "
            f"bytes had come): raise {self._env('TIMEOUT')} for large messages on a slow "
            f"link, or lower {self._env('MAX_MESSAGE_SIZE')} "
            f"({self.settings.max_message_size}) to set such messages aside",
            received=exc.received,
            seconds=exc.seconds,
        )

    def _read(
        self, spool: IO[bytes], listed: Listed, claimed: datetime | None, *, policies: bool
    ) -> tuple[Item | PoisonItem | None, bool]:
        """The message in ``spool`` as an entry, and whether its attachments need the file."""
        token = listed.change_key
        try:
            scanned = scan_message(spool)
        except StructureError as exc:
            origin = self._origin(listed, spool.tell(), "")
            reason = f"its MIME cannot be read: {exc}"
            return PoisonItem(origin, reason, claimed_at=claimed, claim_token=token), False
        headers = parse_headers(scanned.header)
        digest = header_digest(scanned.size, scanned.header)
        origin = self._origin(listed, scanned.size, digest, headers.message_id)
        if policies and claimed is None:
            verdict = self.loops.check(headers, scanned.root.content_type)
            if verdict.action == "leave":
                return None, False
            if verdict.action == "set_aside":
                return PoisonItem(origin, verdict.reason, claim_token=token), False
        try:
            shown = shown_parts(scanned.root)
            item = mail_item(
                origin,
                headers,
                scanned.root,
                shown,
                part_texts(spool, shown),
                functools.partial(self._attachment, spool),
                {
                    "mailbox": self.settings.mailbox,
                    "folder": self.settings.folder,
                    "graph_id": listed.id,
                    "size": str(scanned.size),
                },
                _when(listed.received),
                claimed_at=claimed,
                claim_token=token,
            )
        except Exception as exc:  # never a crash of the run: set it aside, say why
            self.log.warning("draft_failed", origin=origin.describe(), exc_info=True)
            reason = f"cannot be made into a ticket draft: {type(exc).__name__}: {str(exc)[:200]}"
            return PoisonItem(origin, reason, claimed_at=claimed, claim_token=token), False
        return item, bool(item.attachments)

    @staticmethod
    def _attachment(spool: IO[bytes], part: Part) -> Attachment:
        """One part as an attachment streamed from the message's spooled file (its opener
        keeps the file, and so the item, open)."""
        return part_attachment(part, functools.partial(open_part, spool, part))

    # -- claims (I2, I11) --------------------------------------------------------------

    def claim(self, item: Item | PoisonItem, flag: Flag, at: datetime) -> bool:
        """Write the claim property (the time ``at``) with ``If-Match`` on the change key
        the listing saw; False when the message changed since (412 or 409, where Exchange
        enforces it), is gone, or left the folder.

        Sent again after a lost answer (the policy retries it): the repeat writes the same
        value, or is refused as changed (by the first try itself) and the message then
        waits for its claim window like any claimed one."""
        message = self._own(item.origin)
        what = f"claim message {message[-12:]}"
        headers = {"If-Match": if_match(item.claim_token)} if item.claim_token else {}
        response = self.api.call(
            "PATCH",
            self._message(message),
            what=what,
            idempotent=True,
            headers=headers,
            json=claim_patch(self.claim_property, at),
        )
        error = GraphError.of(response) if response.status_code >= 300 else None
        if error is not None and (
            error.status in (409, 412)
            or (error.status == 404 and error.code == "ErrorItemNotFound")
        ):
            self.log.info("claim_refused", origin=item.origin.describe(), answer=error.describe())
            return False
        if error is not None:
            raise answer_error(self.api, response, what)
        body = response.json()
        return isinstance(body, dict) and body.get("parentFolderId") == item.origin.version

    # -- reading again, deleting, setting aside (I9) -----------------------------------

    def _placed(self, message: str) -> _Placed | None:
        """Where ``message`` is now (its folder and Internet message id), None if gone."""
        what = f"check message {message[-12:]}"
        response = self.api.call(
            "GET",
            self._message(message),
            what=what,
            idempotent=True,
            params={"$select": "internetMessageId,parentFolderId"},
        )
        if response.status_code == 404 and GraphError.of(response).code == "ErrorItemNotFound":
            return None
        if not 200 <= response.status_code < 300:
            raise answer_error(self.api, response, what)
        body = response.json()
        return _Placed(str(body.get("parentFolderId") or ""), str(body.get("internetMessageId")))

    def read(self, origin: Origin) -> Item | PoisonItem | None:
        """The message ``origin`` names while it is still in the folder it was ticketed
        from; None once it is gone or has left that folder."""
        if not self.owns(origin):
            return None
        message = self._own(origin)
        what = f"read message {message[-12:]} again"
        response = self.api.call(
            "GET",
            self._message(message),
            what=what,
            idempotent=True,
            params={
                "$select": STATE_SELECT,
                "$expand": f"singleValueExtendedProperties($filter=id eq '{self.claim_property}')",
            },
        )
        if response.status_code == 404 and GraphError.of(response).code == "ErrorItemNotFound":
            return None
        if not 200 <= response.status_code < 300:
            raise answer_error(self.api, response, what)
        listed = Listed.of(response.json())
        if listed.folder_id != origin.version:
            return None
        return self._entry(listed, policies=False)

    def delete(self, origin: Origin) -> bool:
        """Delete exactly ``origin``'s message (``DELETE``: into Deleted Items), or move it
        to ``DONE_FOLDER`` (``DONE=move``); False if it was already gone (see the module
        docstring). An origin without a digest pins no message: refused (I9)."""
        if not origin.digest:
            raise ProviderError(
                f"origin {origin.describe()} has no digest: it names no exact message; "
                "not deleted (I9)"
            )
        if self.settings.done == "move":
            done = self.folders.ensure(self.settings.done_folder)
            return self._remove(origin, done, "move to DONE_FOLDER")
        return self._remove(origin, None, "delete")

    def set_aside(self, origin: Origin, reason: str) -> None:
        """Move the message to ``SET_ASIDE_FOLDER`` (made if missing, I12); nothing if it
        is gone."""
        path = self.settings.set_aside_path
        if not path:
            raise SetAsideUnavailable(f"{self._env('SET_ASIDE_FOLDER')} is empty")
        folder = self.folders.ensure(path)
        moved = self._remove(origin, folder, "set aside")
        self.log.debug("set_aside", origin=origin.describe(), folder=path, moved=moved)

    def _remove(self, origin: Origin, destination: str | None, purpose: str) -> bool:
        """Delete (``destination`` None) or move exactly ``origin``'s message, after
        reading where it is; False when it had left the folder before the first try."""
        message = self._own(origin)
        expected = origin.get("message_id")
        for attempt in range(REMOVE_TRIES):
            placed = self._placed(message)
            if placed is None or placed.folder_id != origin.version:
                return attempt > 0  # after a lost answer of ours: that was our doing
            if expected and placed.internet_message_id != expected:
                raise ProviderError(
                    f"{purpose}: message {message} is {placed.internet_message_id}, not "
                    f"{expected} as {origin.describe()} says; refused, nothing deleted (I9)"
                )
            try:
                response = self._send_removal(message, destination, purpose)
            except OutcomeUnknown as exc:
                self.log.warning(
                    "removal_outcome_unknown",
                    origin=origin.describe(),
                    purpose=purpose,
                    error=str(exc)[:300],
                    action="reading the message again before anything else",
                )
                continue
            error = GraphError.of(response) if response.status_code >= 300 else None
            if error is not None and error.status == 404 and error.code == "ErrorItemNotFound":
                return attempt > 0
            if error is not None:
                raise answer_error(self.api, response, f"{purpose} {origin.describe()}")
            if self.listing is not None:
                self.listing.left(message)
            return True
        raise TransientError(
            f"{purpose} {origin.describe()}: no answer after {REMOVE_TRIES} tries; the "
            "message is read again by the next run"
        )

    def _send_removal(self, message: str, destination: str | None, purpose: str) -> httpx.Response:
        what = f"{purpose} message {message[-12:]}"
        if destination is None:
            return self.api.call("DELETE", self._message(message), what=what, idempotent=False)
        return self.api.call(
            "POST",
            f"{self._message(message)}/move",
            what=what,
            idempotent=False,
            json={"destinationId": destination},
        )

    # -- check and close ---------------------------------------------------------------

    def check(self) -> None:
        """Obtain a token (its identity, expiry and roles are logged, never the token) and
        stop at one that may read mail but not write it; read the folder (and say whether
        the done and set-aside folders exist). Every refusal names its fix."""
        tokens = self.api.tokens
        token = tokens.token()
        roles = token.claims.get("roles")
        self.log.info(
            "token_checked",
            platform=tokens.platform,
            identity=token.identity,
            mailbox=self.settings.mailbox,
            expires=token.describe_expiry(),
            roles=roles if isinstance(roles, list) else None,
        )
        self._writable(token)
        if token.claims and MAIL_ROLE not in (roles or []) and "scp" not in token.claims:
            self.log.info(
                "no_mail_role_in_token",
                note=f"the token carries no {MAIL_ROLE} role: right with RBAC for "
                "Applications (Exchange holds the grant), else Graph will refuse the reads or "
                "the first claim",
            )
        folder = self._source_folder()
        what = f"read folder {self.settings.folder!r}"
        response = self.api.call(
            "GET",
            f"{self.api.user}/mailFolders/{quote(folder, safe='')}",
            what=what,
            idempotent=True,
            params={"$select": "id,displayName,totalItemCount"},
        )
        if not 200 <= response.status_code < 300:
            raise answer_error(self.api, response, what)
        for name, path in (
            ("DONE_FOLDER", self.settings.done_folder if self.settings.done == "move" else ""),
            ("SET_ASIDE_FOLDER", self.settings.set_aside_path),
        ):
            if path and self.folders.find(path) is None:
                self.log.info(
                    "folder_missing", setting=self._env(name), folder=path, note="made on first use"
                )
        self.log.info(
            "mailbox_checked",
            mailbox=self.settings.mailbox,
            folder=self.settings.folder,
            messages=response.json().get("totalItemCount"),
            atomic_claims="only where Exchange enforces If-Match (undocumented)",
        )

    def close(self) -> None:
        """Close the connections (Graph's and the token endpoint's)."""
        self.api.close()


def _when(text: str) -> datetime | None:
    """A Graph date-time (``2027-01-15T08:00:00Z``), or None."""
    try:
        found = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)
