"""The test's levers on an emulator: its mailboxes behind the client's back, tokens, policies,
throttling, faults and findings.

`Levers` is what `GraphEmulator` offers a test besides serving HTTP, and what
the control API (`control`) calls for a test whose emulator runs elsewhere. It
works on the emulator's parts directly, never through HTTP: seeding a message,
listing a folder, moving or deleting a message count against no budget and are
checked against nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

from shitshovela_testkit.specfindings import CheckedEmulator

from .auth import Authority
from .config import DEFAULT_APP_ID, AccessPolicy, MailboxConfig, Throttling
from .faults import Faults
from .site import Settings, Site
from .speccheck import SpecCheck
from .state import Folder, FolderRecord, Mailbox, Message, MessageRecord
from .throttle import Limits, Usage
from .tokens import SigningKey, make_token

__all__ = ["Levers"]


class Levers(CheckedEmulator):
    """Test-facing operations on one emulator's parts (and, from `CheckedEmulator`, the
    findings of its OpenAPI checks: ``violations``, ``assert_no_violations``, ...)."""

    described_as = "Microsoft Graph's OpenAPI description"
    spec: SpecCheck

    def __init__(
        self,
        site: Site,
        authority: Authority,
        limits: Limits,
        faults: Faults,
        spec: SpecCheck,
        signing_key: SigningKey,
    ) -> None:
        self.site = site
        self.authority = authority
        self.limits = limits
        self.faults = faults
        self.spec = spec
        self.signing_key = signing_key

    # --------------------------------------------------------------- mailboxes
    def _box(self, mailbox: str | None) -> Mailbox:
        state = self.site.state
        if mailbox is None:
            if len(state.mailboxes) != 1:
                raise ValueError("name the mailbox: the emulator has more than one")
            return next(iter(state.mailboxes.values()))
        found = state.mailbox(mailbox)
        if found is None:
            raise KeyError(mailbox)
        return found

    def add_mailbox(self, mailbox: str | MailboxConfig) -> None:
        config = MailboxConfig(mailbox) if isinstance(mailbox, str) else mailbox
        self.site.state.add_mailbox(config)

    def _message(self, box: Mailbox, message_id: str) -> Message:
        found = self.site.state.message(box, message_id)
        if found is None:
            raise KeyError(message_id)
        return found

    def _find(self, box: Mailbox, ref: str, *, create: bool = False) -> Folder:
        """A folder by id, well-known name or path of display names (``"Inbox/Done"``)."""
        state = self.site.state
        found = state.folder(box, ref)
        if found is not None:
            return found
        if create:
            return state.ensure_path(box, ref)
        current = box.folders[box.well_known["msgfolderroot"]]
        for part in (p for p in ref.split("/") if p):
            nxt = next(
                (
                    f
                    for f in state.children(box, current.id)
                    if part.casefold() in (f.display_name.casefold(), f.well_known)
                ),
                None,
            )
            if nxt is None:
                raise KeyError(ref)
            current = nxt
        return current

    def seed_message(
        self,
        mime: bytes,
        *,
        mailbox: str | None = None,
        folder: str = "inbox",
        received: datetime | float | None = None,
        is_read: bool = False,
        categories: Sequence[str] = (),
    ) -> MessageRecord:
        """Deliver a message from its MIME into a folder (id, well-known name, or a path of
        display names such as ``"Inbox/Done"``); ``received`` defaults to the clock's now."""
        state = self.site.state
        with state.lock:
            box = self._box(mailbox)
            where = self._find(box, folder, create=True)
            when = received.timestamp() if isinstance(received, datetime) else received
            msg = state.seed(
                box, where, mime, received=when, is_read=is_read, categories=categories
            )
            return state.record(box, msg)

    def messages(self, folder: str = "inbox", *, mailbox: str | None = None) -> list[MessageRecord]:
        """A folder's messages as they are now, oldest first (by arrival)."""
        state = self.site.state
        with state.lock:
            box = self._box(mailbox)
            where = self._find(box, folder)
            found = sorted(state.in_folder(box, where.id), key=lambda m: (m.received, m.seq))
            return [state.record(box, m) for m in found]

    def all_messages(self, *, mailbox: str | None = None) -> list[MessageRecord]:
        """Every message of the mailbox, Recoverable Items included, by arrival."""
        state = self.site.state
        with state.lock:
            box = self._box(mailbox)
            return [
                state.record(box, m) for m in sorted(box.messages.values(), key=lambda m: m.seq)
            ]

    def message(self, message_id: str, *, mailbox: str | None = None) -> MessageRecord:
        """One message by REST or immutable id; `KeyError` when it is not in the mailbox."""
        state = self.site.state
        with state.lock:
            box = self._box(mailbox)
            return state.record(box, self._message(box, message_id))

    def purged(self, *, mailbox: str | None = None) -> list[MessageRecord]:
        """Messages deleted for good (``permanentDelete``, or a soft delete from Recoverable
        Items), as they were last."""
        with self.site.state.lock:
            return list(self._box(mailbox).purged)

    def folders(self, *, mailbox: str | None = None) -> list[FolderRecord]:
        """Every folder of the mailbox, the well-known ones first."""
        state = self.site.state
        with state.lock:
            box = self._box(mailbox)
            return [state.folder_record(box, f) for f in box.folders.values()]

    def folder(self, ref: str, *, mailbox: str | None = None) -> FolderRecord:
        """A folder by id, well-known name or path of display names; `KeyError` if none."""
        state = self.site.state
        with state.lock:
            box = self._box(mailbox)
            found = self._find(box, ref)
            return state.folder_record(box, found)

    def create_folder(
        self, path: str, *, mailbox: str | None = None, hidden: bool = False
    ) -> FolderRecord:
        """Make the folder at a path of display names (``"Inbox/Done"``) if it is missing."""
        state = self.site.state
        with state.lock:
            box = self._box(mailbox)
            made = state.ensure_path(box, path)
            made.hidden = made.hidden or hidden
            return state.folder_record(box, made)

    def move_message(
        self, message_id: str, folder: str, *, mailbox: str | None = None
    ) -> MessageRecord:
        """Move a message behind the client's back (a user filing it): a new REST id."""
        state = self.site.state
        with state.lock:
            box = self._box(mailbox)
            where = self._find(box, folder)
            return state.record(box, state.move(box, self._message(box, message_id), where))

    def update_message(
        self,
        message_id: str,
        *,
        mailbox: str | None = None,
        is_read: bool | None = None,
        categories: Sequence[str] | None = None,
        extended: dict[str, str] | None = None,
    ) -> MessageRecord:
        """Change a message behind the client's back (a new change key)."""
        state = self.site.state
        with state.lock:
            box = self._box(mailbox)
            msg = self._message(box, message_id)
            if is_read is not None:
                msg.is_read = is_read
            if categories is not None:
                msg.categories = list(categories)
            for key, value in (extended or {}).items():
                msg.extended[key.casefold()] = (key, value)
            state.changed(msg)
            return state.record(box, msg)

    def delete_message(
        self, message_id: str, *, mailbox: str | None = None, permanent: bool = True
    ) -> None:
        """Delete a message behind the client's back: for good, or into Deleted Items."""
        state = self.site.state
        with state.lock:
            box = self._box(mailbox)
            msg = self._message(box, message_id)
            if permanent:
                state.purge(box, msg)
            else:
                state.soft_delete(box, msg)

    # ------------------------------------------------------------------ tokens
    def make_token(
        self,
        app_id: str = DEFAULT_APP_ID,
        *,
        roles: Iterable[str] | None = ("Mail.ReadWrite",),
        lifetime: int = 3599,
        tenant_id: str | None = None,
        key: SigningKey | None = None,
        **claims: Any,
    ) -> str:
        """An app-only token the emulator accepts (unless the arguments say otherwise),
        signed by the emulator's key, issued now on the emulator's clock."""
        return make_token(
            key or self.signing_key,
            tenant_id=tenant_id or self.authority.tenant_id,
            app_id=app_id,
            roles=roles,
            now=self.site.state.clock(),
            lifetime=lifetime,
            **claims,
        )

    def trust_key(self, public_pem: str, kid: str | None = None) -> None:
        """Accept tokens signed by another key (a token endpoint stand-in's)."""
        self.authority.trust(public_pem, kid)

    def set_policy(
        self,
        app_id: str,
        mailboxes: Collection[str] | None,
        access_right: Literal["RestrictAccess", "DenyAccess"] = "RestrictAccess",
    ) -> None:
        """An application access policy for the app (None: remove its policies)."""
        policies = [] if mailboxes is None else [AccessPolicy(app_id, mailboxes, access_right)]
        self.authority.set_policies(app_id, policies)

    # ------------------------------------------------------------- throttling
    @property
    def throttling(self) -> Throttling:
        return self.limits.settings

    @throttling.setter
    def throttling(self, settings: Throttling) -> None:
        self.limits.settings = settings

    def usage(self, app_id: str = DEFAULT_APP_ID, *, mailbox: str | None = None) -> Usage:
        """What one app has used of one mailbox's budgets right now."""
        with self.site.state.lock:
            box = self._box(mailbox)
        return self.limits.usage(app_id, box.object_id)

    @property
    def settings(self) -> Settings:
        """The paging form, page sizes and ``If-Match`` enforcement (change them at will)."""
        return self.site.settings
