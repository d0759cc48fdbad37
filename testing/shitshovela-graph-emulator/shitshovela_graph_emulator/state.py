"""The mailboxes: users, their mail folders and their messages, as Exchange keeps them.

One `GraphState` per emulator, guarded by one lock (`GraphState.lock`, which
the server holds while a handler runs). Each `Mailbox` starts with the
well-known folders (`WELL_KNOWN`: ``msgfolderroot`` and its Inbox, Drafts, Sent
Items, Deleted Items, Junk Email, Outbox and Archive; the hidden Recoverable
Items folders beside it) plus the folders its `MailboxConfig` names.

A `Message` is made from MIME bytes (`seed`) and keeps them unchanged. It has
a REST id, made anew each time it moves to another folder, and an immutable id
that stays while it stays in the mailbox; a change key that changes with every
change (an update, a move); the mutable properties Graph lets a client set
(``isRead``, ``categories``, ``flag``, ``importance``,
``inferenceClassification``, single-value extended properties). A soft delete
moves a message to Deleted Items, or from there to Recoverable Items
(``recoverableitemsdeletions``); a hard delete (`purge`) removes it for good
(the emulator does not serve the Purges folder). Listings read this state as
it is: Graph's listings are consistent, so nothing here lags.

Tests see the state through frozen snapshots: `MessageRecord` and `FolderRecord`.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .config import MailboxConfig
from .ids import Ids
from .mime import ParsedMime, parse

__all__ = [
    "WELL_KNOWN",
    "FolderExists",
    "FolderRecord",
    "GraphState",
    "Mailbox",
    "Message",
    "MessageRecord",
    "iso",
]

#: (well-known name, display name, parent's well-known name or None, hidden).
WELL_KNOWN: tuple[tuple[str, str, str | None, bool], ...] = (
    ("msgfolderroot", "Top of Information Store", None, False),
    ("inbox", "Inbox", "msgfolderroot", False),
    ("drafts", "Drafts", "msgfolderroot", False),
    ("sentitems", "Sent Items", "msgfolderroot", False),
    ("deleteditems", "Deleted Items", "msgfolderroot", False),
    ("junkemail", "Junk Email", "msgfolderroot", False),
    ("outbox", "Outbox", "msgfolderroot", False),
    ("archive", "Archive", "msgfolderroot", False),
    ("recoverableitemsroot", "Recoverable Items", None, True),
    ("recoverableitemsdeletions", "Deletions", "recoverableitemsroot", True),
    ("recoverableitemspurges", "Purges", "recoverableitemsroot", True),
)


def iso(epoch: float) -> str:
    """Graph's timestamp form: ``2027-01-15T08:00:00Z`` (UTC, whole seconds)."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FolderExists(Exception):
    """A folder of that display name already exists under the parent."""


@dataclass
class Folder:
    id: str
    display_name: str
    parent_id: str | None
    well_known: str | None = None
    hidden: bool = False


@dataclass
class Message:
    immutable_id: str
    rest_id: str
    folder_id: str
    mime: bytes
    parsed: ParsedMime
    internet_message_id: str
    conversation_id: str
    received: int  # epoch seconds
    created: int
    modified: int
    seq: int
    change_key: str
    version: int = 1
    is_read: bool = False
    categories: list[str] = field(default_factory=list)
    flag_status: str = "notFlagged"
    importance: str = "normal"
    inference: str = "focused"
    #: Single-value extended properties: casefolded id -> (id as first set, value).
    extended: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class FolderRecord:
    """A mail folder as a test sees it."""

    id: str
    display_name: str
    parent_id: str | None
    well_known: str | None
    hidden: bool
    total: int
    unread: int


@dataclass(frozen=True)
class MessageRecord:
    """A message as a test sees it (not through the API)."""

    #: The immutable id (it stays across moves within the mailbox).
    id: str
    #: The REST id of its current placement (Graph's ``id`` without ``Prefer: IdType``).
    rest_id: str
    mailbox: str
    folder: str  # the folder's well-known name, or its display name
    folder_id: str
    subject: str | None
    internet_message_id: str
    received: str  # ISO, as Graph renders it
    is_read: bool
    categories: tuple[str, ...]
    #: Single-value extended properties, id -> value.
    extended: Mapping[str, str]
    change_key: str
    has_attachments: bool
    mime: bytes


@dataclass
class Mailbox:
    config: MailboxConfig
    folders: dict[str, Folder] = field(default_factory=dict)
    well_known: dict[str, str] = field(default_factory=dict)  # name -> folder id
    messages: dict[str, Message] = field(default_factory=dict)  # immutable id -> message
    by_rest: dict[str, str] = field(default_factory=dict)  # REST id -> immutable id
    purged: list[MessageRecord] = field(default_factory=list)

    @property
    def upn(self) -> str:
        return self.config.upn

    @property
    def object_id(self) -> str:
        return self.config.object_id

    def folder_name(self, folder: Folder) -> str:
        return folder.well_known or folder.display_name


class GraphState:
    """Every mailbox of the emulated tenant (see the module docstring)."""

    def __init__(
        self, mailboxes: Iterable[MailboxConfig], clock: Callable[[], float], ids: Ids
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.ids = ids
        self.mailboxes: dict[str, Mailbox] = {}
        self._by_name: dict[str, str] = {}
        self._seq = itertools.count(1)
        for config in mailboxes:
            self.add_mailbox(config)

    # ------------------------------------------------------------------ mailboxes
    def add_mailbox(self, config: MailboxConfig) -> Mailbox:
        with self.lock:
            box = Mailbox(config)
            for name, display, parent, hidden in WELL_KNOWN:
                parent_id = box.well_known[parent] if parent else None
                folder = Folder(self.ids.folder(box.object_id), display, parent_id, name, hidden)
                box.folders[folder.id] = folder
                box.well_known[name] = folder.id
            self.mailboxes[box.object_id] = box
            self._by_name[box.object_id.casefold()] = box.object_id
            self._by_name[box.upn.casefold()] = box.object_id
            for path in config.folders:
                self.ensure_path(box, path)
            return box

    def mailbox(self, ref: str) -> Mailbox | None:
        """The mailbox of a UPN or an object id (either case), if there is one."""
        key = self._by_name.get(ref.casefold())
        return self.mailboxes.get(key) if key is not None else None

    # -------------------------------------------------------------------- folders
    def folder(self, box: Mailbox, ref: str) -> Folder | None:
        """A folder by id (exact) or well-known name (any case)."""
        found = box.folders.get(ref)
        if found is not None:
            return found
        key = box.well_known.get(ref.casefold())
        return box.folders.get(key) if key is not None else None

    def children(self, box: Mailbox, parent_id: str) -> list[Folder]:
        """The folders directly under a folder, in the order they were made."""
        return [f for f in box.folders.values() if f.parent_id == parent_id]

    def in_tree(self, box: Mailbox, folder: Folder) -> bool:
        """Whether a folder is under ``msgfolderroot`` (not in Recoverable Items)."""
        root = box.well_known["msgfolderroot"]
        current: Folder | None = folder
        while current is not None:
            if current.id == root:
                return True
            current = box.folders.get(current.parent_id) if current.parent_id else None
        return False

    def create_folder(
        self, box: Mailbox, parent_id: str, name: str, *, hidden: bool = False
    ) -> Folder:
        """A new folder under ``parent_id``; `FolderExists` when the name is taken (any case)."""
        with self.lock:
            if any(
                f.display_name.casefold() == name.casefold() for f in self.children(box, parent_id)
            ):
                raise FolderExists(name)
            folder = Folder(self.ids.folder(box.object_id), name, parent_id, None, hidden)
            box.folders[folder.id] = folder
            return folder

    def ensure_path(self, box: Mailbox, path: str) -> Folder:
        """The folder at ``"Inbox/Done"`` (display names or well-known names), made if missing."""
        with self.lock:
            current = box.folders[box.well_known["msgfolderroot"]]
            for part in (p for p in path.split("/") if p):
                found = next(
                    (
                        f
                        for f in self.children(box, current.id)
                        if part.casefold() in (f.display_name.casefold(), f.well_known)
                    ),
                    None,
                )
                current = found or self.create_folder(box, current.id, part)
            return current

    def folder_record(self, box: Mailbox, folder: Folder) -> FolderRecord:
        inside = [m for m in box.messages.values() if m.folder_id == folder.id]
        return FolderRecord(
            id=folder.id,
            display_name=folder.display_name,
            parent_id=folder.parent_id,
            well_known=folder.well_known,
            hidden=folder.hidden,
            total=len(inside),
            unread=sum(1 for m in inside if not m.is_read),
        )

    # ------------------------------------------------------------------- messages
    def seed(
        self,
        box: Mailbox,
        folder: Folder,
        mime: bytes,
        *,
        received: float | None = None,
        is_read: bool = False,
        categories: Sequence[str] = (),
    ) -> Message:
        """A message delivered into ``folder`` from its MIME."""
        with self.lock:
            parsed = parse(mime)
            now = int(self.clock())
            immutable = self.ids.immutable(box.object_id)
            message_id = parsed.internet_message_id or (
                f"<{uuid.uuid4().hex.upper()}@{box.upn.split('@')[-1]}.prod.outlook.com>"
            )
            topic = (parsed.subject or "").strip()
            while topic[:4].lower() in ("re: ", "fw: ") or topic[:4].lower() == "fwd:":
                topic = topic[4:].strip()
            msg = Message(
                immutable_id=immutable,
                rest_id=self.ids.rest(box.object_id),
                folder_id=folder.id,
                mime=mime,
                parsed=parsed,
                internet_message_id=message_id,
                conversation_id=self.ids.conversation(topic),
                received=int(received if received is not None else now),
                created=now,
                modified=now,
                seq=next(self._seq),
                change_key=self.ids.change_key(immutable, 1),
                is_read=is_read,
                categories=list(categories),
                importance=parsed.importance,
            )
            box.messages[immutable] = msg
            box.by_rest[msg.rest_id] = immutable
            return msg

    def message(self, box: Mailbox, ref: str) -> Message | None:
        """A message by its current REST id or its immutable id (exact case)."""
        found = box.messages.get(ref)
        if found is not None:
            return found
        key = box.by_rest.get(ref)
        return box.messages.get(key) if key is not None else None

    def in_folder(self, box: Mailbox, folder_id: str) -> list[Message]:
        """The messages of one folder, in arrival order."""
        return sorted(
            (m for m in box.messages.values() if m.folder_id == folder_id), key=lambda m: m.seq
        )

    def in_mailbox(self, box: Mailbox) -> list[Message]:
        """Every message under ``msgfolderroot`` (Recoverable Items left out), in arrival order."""
        visible = {f.id for f in box.folders.values() if self.in_tree(box, f)}
        return sorted(
            (m for m in box.messages.values() if m.folder_id in visible), key=lambda m: m.seq
        )

    def changed(self, msg: Message) -> None:
        """Record a change: a new change key and modification time."""
        msg.version += 1
        msg.change_key = self.ids.change_key(msg.immutable_id, msg.version)
        msg.modified = int(self.clock())

    def move(self, box: Mailbox, msg: Message, folder: Folder) -> Message:
        """Move to ``folder``: a new REST id (the old one is gone), the same immutable id."""
        with self.lock:
            box.by_rest.pop(msg.rest_id, None)
            msg.rest_id = self.ids.rest(box.object_id)
            box.by_rest[msg.rest_id] = msg.immutable_id
            msg.folder_id = folder.id
            self.changed(msg)
            return msg

    def copy(self, box: Mailbox, msg: Message, folder: Folder) -> Message:
        """A new message in ``folder`` with the same content and properties (new ids)."""
        with self.lock:
            made = self.seed(
                box,
                folder,
                msg.mime,
                received=msg.received,
                is_read=msg.is_read,
                categories=msg.categories,
            )
            made.extended = dict(msg.extended)
            made.flag_status = msg.flag_status
            made.importance = msg.importance
            made.inference = msg.inference
            return made

    def soft_delete(self, box: Mailbox, msg: Message) -> Message | None:
        """DELETE: into Deleted Items; from there into Recoverable Items; from there gone."""
        with self.lock:
            here = msg.folder_id
            if here == box.well_known["recoverableitemsdeletions"]:
                self.purge(box, msg)
                return None
            target = (
                "recoverableitemsdeletions"
                if here == box.well_known["deleteditems"]
                else "deleteditems"
            )
            return self.move(box, msg, box.folders[box.well_known[target]])

    def purge(self, box: Mailbox, msg: Message) -> None:
        """Gone for good (``permanentDelete``, or a test's hard delete)."""
        with self.lock:
            box.purged.append(self.record(box, msg))
            box.messages.pop(msg.immutable_id, None)
            box.by_rest.pop(msg.rest_id, None)

    def record(self, box: Mailbox, msg: Message) -> MessageRecord:
        folder = box.folders[msg.folder_id]
        return MessageRecord(
            id=msg.immutable_id,
            rest_id=msg.rest_id,
            mailbox=box.upn,
            folder=box.folder_name(folder),
            folder_id=folder.id,
            subject=msg.parsed.subject,
            internet_message_id=msg.internet_message_id,
            received=iso(msg.received),
            is_read=msg.is_read,
            categories=tuple(msg.categories),
            extended={key: value for key, value in msg.extended.values()},
            change_key=msg.change_key,
            has_attachments=msg.parsed.has_attachments,
            mime=msg.mime,
        )
