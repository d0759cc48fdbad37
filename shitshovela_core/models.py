"""The values that flow through a run: origins, items, drafts, tickets, flags.

All are frozen `attrs` classes. An `Origin` is the one value that crosses from
the source to the ticket system and back: it is serialised into the create
request (I3) and parsed again by reconcile, so it is small, versioned and
round-trips exactly (`Origin.to_ref` / `Origin.from_ref`).

What reaches a ticket system is well-formed text (I12): a `TicketDraft`'s
title, body and labels and an `Attachment`'s name replace lone UTF-16
surrogates with U+FFFD when they are made (`well_formed`), so a source whose
decoding let one through (UTF-7 and Python's escape codecs make them) cannot
make every run fail at that item; an attachment's name is also a plain file
name (`file_name`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import IO, Any

import attrs

#: Version of the origin reference format written by this code.
ORIGIN_SCHEMA = 1

#: An instance name: lowercase letters, digits, ``-`` and ``_``; at most 27
#: characters so that the flag label stays within GitHub's 50 and fits Jira's
#: label syntax (no spaces).
INSTANCE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,26}$")

#: The start of every in-progress flag label (`Flag.label` is this and the instance):
#: a ticket system keeps such labels out of the labels a draft asks for.
FLAG_PREFIX = "shitshovela-inprogress-"


#: The name of an attachment whose own name is empty once made safe.
UNNAMED_ATTACHMENT = "attachment"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_FILE_NAME_CHARACTERS = str.maketrans({"/": "_", "\\": "_", '"': "'"})


def well_formed(text: str) -> str:
    """``text`` with every lone UTF-16 surrogate replaced by U+FFFD, so that it encodes
    as UTF-8 (a high and low surrogate in a row become the one character they spell)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _well_formed_all(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(well_formed(v) for v in values)


def file_name(name: str) -> str:
    """``name`` as a safe file name: well-formed, no control characters, each path
    separator (``/``, ``\\``) made ``_``, a double quote made ``'`` (a multipart upload
    sends it as ``%22``, so the ticket system would keep another name than the one
    sent), no surrounding whitespace; `UNNAMED_ATTACHMENT` when nothing (or only dots)
    is left."""
    safe = _CONTROL.sub("", well_formed(name)).translate(_FILE_NAME_CHARACTERS).strip()
    return safe if safe.strip(".") else UNNAMED_ATTACHMENT


def _extra(value: Mapping[str, str] | tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple(sorted((str(k), str(v)) for k, v in items))


@attrs.frozen
class Origin:
    """Where an item came from, precisely enough to delete exactly it (I9).

    ``provider`` and ``scope`` name the source (I7: a run only deletes origins
    whose provider and scope are its own); ``key`` names the item inside it;
    ``version`` pins the exact revision (S3 version id or ETag, IMAP
    ``UIDVALIDITY``); ``digest`` is a content digest; ``extra`` holds a few
    provider-specific strings (an IMAP Message-ID).
    """

    provider: str
    scope: str
    key: str
    version: str = ""
    digest: str = ""
    extra: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_extra)
    schema: int = ORIGIN_SCHEMA

    def get(self, name: str, default: str = "") -> str:
        """Return the ``extra`` value called ``name``."""
        return dict(self.extra).get(name, default)

    def identity(self) -> tuple[str, str, str, str]:
        """The fields that say "the same revision of the same item"."""
        return (self.provider, self.scope, self.key, self.version)

    def to_ref(self) -> str:
        """Serialise to a compact, stable JSON string (sorted keys, ASCII only)."""
        data: dict[str, Any] = {
            "v": self.schema,
            "p": self.provider,
            "s": self.scope,
            "k": self.key,
        }
        if self.version:
            data["ver"] = self.version
        if self.digest:
            data["d"] = self.digest
        if self.extra:
            data["x"] = dict(self.extra)
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)

    @classmethod
    def from_ref(cls, ref: str) -> Origin:
        """Parse a reference written by `to_ref`; raise `ValueError` if it is not one."""
        try:
            data = json.loads(ref)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"not an origin reference: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError("not an origin reference: not a JSON object")
        schema = data.get("v")
        if schema != ORIGIN_SCHEMA:
            raise ValueError(f"unsupported origin reference version {schema!r}")
        try:
            extra = data.get("x", {})
            if not isinstance(extra, dict):
                raise TypeError("x")
            fields = [data["p"], data["s"], data["k"], data.get("ver", ""), data.get("d", "")]
            if not all(isinstance(f, str) for f in fields):
                raise TypeError("field")
            return cls(fields[0], fields[1], fields[2], fields[3], fields[4], extra, schema)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not an origin reference: missing or bad field {exc}") from None

    def describe(self) -> str:
        """A short, human-readable form for logs: ``provider:scope/key@version``."""
        version = f"@{self.version}" if self.version else ""
        return f"{self.provider}:{self.scope}/{self.key}{version}"


#: Opens an attachment's content as a binary stream; the caller closes it.
Opener = Callable[[], AbstractContextManager[IO[bytes]]]


@attrs.frozen
class Attachment:
    """A file that belongs to an item: metadata now, content streamed on demand.

    ``name`` is made a safe, well-formed file name (`file_name`) whatever the source
    passes."""

    name: str = attrs.field(converter=file_name)
    content_type: str
    size: int
    opener: Opener | None = attrs.field(default=None, eq=False, repr=False)

    def open(self) -> AbstractContextManager[IO[bytes]]:
        """Open the content as a binary stream (``with att.open() as f: ...``)."""
        if self.opener is None:
            raise ValueError(f"attachment {self.name!r} has no content to open")
        return self.opener()


@attrs.frozen
class Item:
    """One unit of work read from a source: it becomes exactly one ticket."""

    origin: Origin
    title: str
    body: str
    sender: str = ""
    created: datetime | None = None
    meta: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    attachments: tuple[Attachment, ...] = ()
    #: When a run of this instance claimed the item, at the latest (UTC): an earlier
    #: run may have created its ticket already (I2, I11). None: not claimed. A
    #: source that stores the time coarsely rounds it up, never down.
    claimed_at: datetime | None = None
    #: What the source's compare-and-set claim compares (an IMAP ``MODSEQ``): opaque
    #: to the core, handed back to `Source.claim` with the item.
    claim_token: str = ""

    @property
    def claimed(self) -> bool:
        """True when a claim of this instance is on the item."""
        return self.claimed_at is not None


@attrs.frozen
class PoisonItem:
    """An item the source cannot turn into an `Item` (I12): unreadable, too
    large, an auto-reply or a mail loop. The engine sets it aside or stops."""

    origin: Origin
    reason: str
    claimed_at: datetime | None = None
    claim_token: str = ""

    @property
    def claimed(self) -> bool:
        """True when a claim of this instance is on the item."""
        return self.claimed_at is not None


@attrs.frozen
class TicketDraft:
    """What a ticket will say, before the ticket system adds the flag and origin.

    Built by the core from an `Item`, then shaped by every plugin's
    ``shape_ticket_draft`` hook. ``fields`` carries provider-specific values
    (a Jira component, a priority) that a ticket system may read; they pass as
    given. ``title``, ``body`` and ``labels`` are made well-formed (`well_formed`)
    here, also in a copy made with `evolve`, so every draft a ticket system gets
    encodes as UTF-8 (I12).
    """

    title: str = attrs.field(converter=well_formed)
    body: str = attrs.field(converter=well_formed)
    labels: tuple[str, ...] = attrs.field(default=(), converter=_well_formed_all)
    fields: Mapping[str, Any] = attrs.field(factory=dict, hash=False)
    attachments: tuple[Attachment, ...] = ()

    def evolve(self, **changes: Any) -> TicketDraft:
        """Return a copy with ``changes`` applied (`attrs.evolve`)."""
        return attrs.evolve(self, **changes)


@attrs.frozen
class Flag:
    """The in-progress flag of one instance (I3, I7): a label unique to it."""

    instance: str

    @property
    def label(self) -> str:
        """The label a ticket carries while this instance is still working on it."""
        return FLAG_PREFIX + self.instance


@attrs.frozen
class Ticket:
    """A ticket as the ticket system reports it.

    ``origin`` is None when the ticket carries no origin reference the core can
    parse; ``origin_ref`` keeps the raw text for the report.
    """

    key: str
    origin: Origin | None
    flagged: bool
    url: str = ""
    origin_ref: str = ""
    labels: tuple[str, ...] = ()
    #: Whether the identity the job runs as created the ticket: True or False when
    #: the ticket system can tell, None when it cannot. Reconcile never finishes a
    #: ticket someone else created (a planted flag and origin, I7).
    by_job: bool | None = None
