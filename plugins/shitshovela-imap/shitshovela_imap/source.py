"""The ``imap`` source: a mailbox whose messages become tickets, one each.

Listing (`ImapSource.items`) streams: UIDs come from ``UID SEARCH`` in UID
windows of about `SEARCH_WINDOW` messages, metadata (size, flags, date,
``BODYSTRUCTURE`` and the header block) is fetched in batches of `BATCH_SIZE`,
the text parts of each batch in groups of at most `TEXT_GROUP_BYTES`; bodies
are read with ``BODY.PEEK`` (never ``BODY[]``, which would set ``\\Seen``), and
attachments are fetched only when a ticket system opens them, in chunks of
`CHUNK_SIZE`. Memory stays flat in the number and the size of messages.

An origin names the mailbox (scope ``imap://user@host:port/MAILBOX``), its
UIDVALIDITY (``version``), the UID, the Message-ID and a digest of the size
and header block (I9, see `shitshovela_mail.header_digest`). Deleting
verifies that digest on the UID first and then expunges *only that UID*
(``UID STORE +FLAGS (\\Deleted)``, ``UID EXPUNGE``; never a plain ``EXPUNGE``);
when UIDVALIDITY changed, the message is located again by Message-ID (or, with
none, by size) and digest, and counts as already gone when it cannot be found.
``DONE=move`` and setting aside use ``UID MOVE`` after the same check.

Messages that must not become tickets are yielded as `PoisonItem` and moved to
``SET_ASIDE_FOLDER`` by `ImapSource.set_aside` (I12): larger than
``MAX_MESSAGE_SIZE`` (decided from RFC822.SIZE, nothing downloaded), with a
MIME structure that cannot be read, auto-replies and bounces, and a sender's
messages beyond ``MAX_PER_SENDER`` in one run (or they are left in the mailbox,
``SENDER_OVERFLOW=leave``).

Claims (I2, I11) are IMAP keywords: `CLAIM_KEYWORD`, and the claim's time and
its precision in twelve more (`shitshovela_imap.claims`); keywords never change
a UID. Where
the server has CONDSTORE (RFC 7162), the listing's metadata FETCH also reads
each message's ``MODSEQ`` (`Item.claim_token`), and a claim is one
``UID STORE <uid> (UNCHANGEDSINCE <modseq>) FLAGS.SILENT (<flags>)``: it fails
when another run (or anyone) changed the message after this run listed it, so
of two runs at once exactly one claims a message. Without CONDSTORE, claims
work but are not atomic (a warning says so when a run first opens the mailbox).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import io
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import IO, Any

import attrs
from shitshovela_mail import (
    TEXT_LIMIT,
    LoopGuard,
    MessageHeaders,
    Part,
    StructureError,
    decoder_for,
    header_digest,
    mail_item,
    parse_headers,
    parse_structure,
    part_attachment,
    shown_parts,
)

from shitshovela_core import (
    Attachment,
    Flag,
    Item,
    Origin,
    PoisonItem,
    ProviderContext,
    ProviderError,
    SetAsideUnavailable,
    Source,
    TransientError,
    Unreachable,
    env_name,
    token_provider,
)

from .claims import (
    CLAIM_KEYWORD,
    CLAIM_KEYWORDS,
    ClaimMark,
    ClaimToken,
    claim_time,
    flags_after_claim,
    read_mark,
    stale_keywords,
    stamp,
)
from .config import GOOGLE_MAIL_SCOPE, MICROSOFT_IMAP_SCOPE, ImapSettings
from .connection import (
    CommandError,
    ImapConnection,
    MailboxMissing,
    StoreAnswer,
    View,
    ViewChanged,
    store_unchanged_since,
)
from .signin import SignIn, check_token

__all__ = ["CLAIM_KEYWORD", "ImapSource"]

#: Messages whose metadata one FETCH reads.
BATCH_SIZE = 50
#: Bytes of a header block read (and digested); longer header blocks are cut.
HEADER_LIMIT = 256 * 1024
#: Most text bytes one FETCH of text parts asks for.
TEXT_GROUP_BYTES = 4 * 1024 * 1024
#: About how many UIDs one UID SEARCH window covers.
SEARCH_WINDOW = 5000
#: Bytes of an attachment fetched per command while it streams.
CHUNK_SIZE = 1024 * 1024
#: Most candidates checked when a message is located again after UIDVALIDITY changed.
RELOCATE_CANDIDATES = 200
#: How often a listing restarts because UIDVALIDITY changed, before the run stops.
MAX_RESTARTS = 5

_META_ITEMS = (
    "UID",
    "RFC822.SIZE",
    "FLAGS",
    "INTERNALDATE",
    "BODYSTRUCTURE",
    f"BODY.PEEK[HEADER]<0.{HEADER_LIMIT}>",
)
_HEADER_KEY = b"BODY[HEADER]<0>"
#: Read with the metadata where the server has CONDSTORE: what a claim compares (I2).
_MODSEQ = "MODSEQ"


def _chunks(values: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


@attrs.frozen
class _Pending:
    """A message that will be an Item once its text parts are fetched."""

    uid: int
    validity: int
    origin: Origin
    headers: MessageHeaders
    root: Part
    texts: tuple[Part, ...]
    internal_date: datetime | None
    claimed_at: datetime | None
    claim_token: str

    @property
    def text_bytes(self) -> int:
        """The most text bytes its FETCH will bring."""
        return sum(min(p.size, TEXT_LIMIT) for p in self.texts)


class _PartReader(io.RawIOBase):
    """A body part as a binary stream: partial ``BODY.PEEK[section]<offset.length>``
    fetches, transfer-decoded on the fly; at most one chunk is held."""

    def __init__(self, fetch: Callable[[int, int], bytes], encoding: str, chunk: int) -> None:
        super().__init__()
        self._fetch = fetch
        self._decoder = decoder_for(encoding)
        self._chunk = chunk
        self._offset = 0
        self._eof = False
        self._buffer = memoryview(b"")
        self._pos = 0

    def readable(self) -> bool:
        """Always readable."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the decoded chunk, fetching the next chunk when it is used up."""
        while self._pos >= len(self._buffer):
            if self._eof:
                return 0
            data = self._fetch(self._offset, self._chunk)
            self._offset += len(data)
            self._eof = len(data) < self._chunk
            decoded = self._decoder.feed(data)
            if self._eof:
                decoded += self._decoder.finish()
            self._buffer, self._pos = memoryview(decoded), 0
        view = memoryview(buffer).cast("B")
        count = min(len(view), len(self._buffer) - self._pos)
        view[:count] = self._buffer[self._pos : self._pos + count]
        self._pos += count
        return count


class ImapSource(Source):
    """A `Source` over one IMAP mailbox (see the module docstring)."""

    def __init__(self, context: ProviderContext) -> None:
        super().__init__(context)
        self.settings = ImapSettings.of(context.settings)
        context.safety.redactor.add(self.settings.password)
        tokens = None
        if self.settings.uses_token:  # app-only OAuth2: a token a run, nothing stored
            tokens = token_provider(
                context,
                self.settings,
                microsoft_scope=MICROSOFT_IMAP_SCOPE,
                google_scope=GOOGLE_MAIL_SCOPE,
                subject=self.settings.username,
            )
        self.signin = SignIn(self.settings, tokens, context.safety.redactor, context.provider)
        self.conn = ImapConnection(self.settings, context.safety, self.signin)
        self.log = context.log.bind(scope=self.settings.scope)
        self.batch_size = BATCH_SIZE
        self.search_window = SEARCH_WINDOW
        self.chunk_size = CHUNK_SIZE
        #: The most listing entries held in memory at once (tests read it).
        self.peak_buffered = 0
        self.loops = LoopGuard(self.settings, self._env, self.log)
        self._folders: set[str] = set()
        self._claims: bool | None = None
        #: The wall clock claim times are read against (UTC seconds).
        self.wall_clock: Callable[[], float] = time.time

    # -- identity ----------------------------------------------------------------------

    @property
    def scope(self) -> str:
        """``imap://user@host:port/MAILBOX``: the mailbox's stable identity (I7)."""
        return self.settings.scope

    def _env(self, name: str) -> str:
        return env_name(self.context.provider, name)

    def _origin(self, validity: int, uid: int, size: int, digest: str, message_id: str) -> Origin:
        mid_key = message_id.strip()
        if mid_key.startswith("<") and mid_key.endswith(">"):
            mid_key = mid_key[1:-1].strip()
        extra = {"mailbox": self.settings.mailbox, "uid": str(uid), "size": str(size)}
        if message_id:
            extra["message_id"] = message_id
        return Origin(
            provider=self.context.provider,
            scope=self.scope,
            key=f"{uid}/{mid_key}" if mid_key else str(uid),
            version=str(validity),
            digest=digest,
            extra=extra,
        )

    def _own(self, origin: Origin) -> tuple[int, int]:
        """(UIDVALIDITY, UID) of one of this source's origins; refuse foreign ones (I7)."""
        if not self.owns(origin):
            raise ProviderError(
                f"origin {origin.describe()} is not from {self.scope}; not touched (I7)"
            )
        try:
            uid = int(origin.get("uid") or origin.key.split("/", 1)[0])
            validity = int(origin.version or 0)
        except ValueError:
            raise ProviderError(f"origin {origin.describe()} names no IMAP UID") from None
        return validity, uid

    def _require(self, validity: int) -> None:
        """Raise `ViewChanged` unless the selected mailbox still has UIDVALIDITY ``validity``."""
        view = self.conn.view
        if view is None or view.uidvalidity != validity:
            raise ViewChanged(
                f"mailbox {self.settings.mailbox!r} changed its UIDVALIDITY "
                f"({validity} -> {view.uidvalidity if view else 'none'})"
            )

    def _view(self) -> View:
        try:
            return self.conn.ensure_view()
        except MailboxMissing:
            raise Unreachable(
                f"mailbox {self.settings.mailbox!r} does not exist on {self.settings.host} "
                f"({self._env('MAILBOX')})"
            ) from None

    # -- claims (I2, I11) --------------------------------------------------------------

    @property
    def supports_claims(self) -> bool:
        """True when the mailbox takes the claim keywords (PERMANENTFLAGS has ``\\*``, or
        all of them). Logs once when claims are not atomic (no CONDSTORE)."""
        if self._claims is None:
            self._decide_claims(self._view())
        assert self._claims is not None
        return self._claims

    @supports_claims.setter
    def supports_claims(self, value: bool) -> None:
        self._claims = value

    def _decide_claims(self, view: View) -> None:
        """Decide `supports_claims` from the first view of the mailbox, and say once
        when claims are off or not atomic (at the latest when the listing starts)."""
        if self._claims is not None:
            return
        flags = {f.lower() for f in view.permanent_flags}
        self._claims = "\\*" in flags or {k.lower() for k in CLAIM_KEYWORDS} <= flags
        if not self._claims:
            self.log.warning(
                "claims_unavailable",
                note="the mailbox refuses new keywords; reconcile waits out the ticket "
                "system's listing lag instead, and two runs of this instance at once "
                "may both ticket one message",
            )
        elif not self._atomic(view):
            self.log.warning(
                "claims_not_atomic",
                note="the server lacks CONDSTORE (or the mailbox keeps no MODSEQ): two "
                "runs of this instance at once may both ticket one message; schedule "
                "runs so that they never overlap",
            )

    def _atomic(self, view: View | None = None) -> bool:
        """True when claims can be compare-and-set (CONDSTORE, and MODSEQ kept)."""
        view = view or self.conn.view
        return self.conn.condstore and view is not None and view.modseq

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.wall_clock(), UTC)

    def claim(self, item: Item | PoisonItem, flag: Flag, at: datetime) -> bool:
        """Claim the message as of ``at`` (the claim keywords, `shitshovela_imap.claims`).

        With CONDSTORE: one ``UID STORE <uid> (UNCHANGEDSINCE <listed MODSEQ>)
        FLAGS.SILENT (<its flags, our keywords replaced>)``; False when the message
        changed after it was listed (another run claimed it) or is gone. A claim whose
        answer was lost is repeated and then finds the message changed (by itself):
        False, and the message waits for its claim window like any claimed one.
        Without CONDSTORE: ``+FLAGS`` of the keywords (after a ``-FLAGS`` of older time
        keywords when a claim is made again), not atomic; False only when it is gone."""
        validity, uid = self._own(item.origin)
        token = ClaimToken.loads(item.claim_token) or ClaimToken(None, ())
        try:
            return self._stamp(validity, uid, token, at) is not None
        except ViewChanged:  # the listed message is not in this mailbox any more
            return False

    def _stamp(
        self, validity: int, uid: int, token: ClaimToken, at: datetime
    ) -> tuple[datetime, str] | None:
        """Write a claim made at ``at`` on the message ``token`` describes (as listed).
        Its claim time and token afterwards, or None when another change won or the
        message is gone."""
        mark = stamp(at, self.context.claim_window, read_mark(token.flags))
        if token.modseq is not None and self._atomic():
            stored = self._store_if_unchanged(validity, uid, token.modseq, token.flags, mark)
        else:
            stored = self._store_keywords(validity, uid, token.flags, mark)
        if stored is None:
            return None
        flags, modseq = stored
        return claim_time(mark, self._now()), ClaimToken.of(flags, modseq).dumps()

    def _store_if_unchanged(
        self, validity: int, uid: int, modseq: int, listed: Sequence[str], mark: ClaimMark
    ) -> tuple[list[str], int | None] | None:
        """The atomic claim: one conditional STORE of the full flag set. The flags and
        MODSEQ it left, or None (changed since ``modseq``, or gone)."""
        flags = flags_after_claim(listed, mark)

        def store(client: Any) -> StoreAnswer:
            self._require(validity)
            return store_unchanged_since(client, uid, modseq, flags)

        try:
            answer = self.conn.command(f"UID STORE {uid} (UNCHANGEDSINCE {modseq}) FLAGS", store)
        except CommandError as exc:
            raise TransientError(f"cannot claim UID {uid}: {str(exc)[:200]}") from None
        return (flags, answer.modseq) if answer.stored else None

    def _store_keywords(
        self, validity: int, uid: int, listed: Sequence[str], mark: ClaimMark
    ) -> tuple[list[str], None] | None:
        """The claim without CONDSTORE (not atomic): ``-FLAGS`` of the older claim's time
        and scale keywords (those listed, or all when the flags are unknown), then
        ``+FLAGS`` of the claim's keywords. The flags it left, or None when it is gone."""
        stale = stale_keywords(listed or CLAIM_KEYWORDS, mark)
        wanted = mark.keywords()

        def remove(client: Any) -> None:
            self._require(validity)
            client.remove_flags([uid], stale, silent=True)

        def add(client: Any) -> Any:
            self._require(validity)
            return client.add_flags([uid], wanted).get(uid)

        def read(client: Any) -> Any:
            self._require(validity)
            return client.get_flags([uid]).get(uid)

        if stale:
            self.conn.command(f"UID STORE {uid} -FLAGS older claim keywords", remove)
        found = self.conn.command(f"UID STORE {uid} +FLAGS claim keywords", add)
        if found is None:  # nothing changed to report: the keywords were there, or it is gone
            found = self.conn.command(f"UID FETCH {uid} FLAGS", read)
        return None if found is None else (flags_after_claim(found, mark), None)

    # -- listing -----------------------------------------------------------------------

    def items(self) -> Iterator[Item | PoisonItem]:
        """Yield the waiting messages lazily, in UID order (see the module docstring)."""
        return self._listing()

    def _listing(self) -> Iterator[Item | PoisonItem]:
        restarts = 0
        while True:
            try:
                yield from self._list_view()
                return
            except ViewChanged as exc:
                restarts += 1
                self.log.warning("uidvalidity_changed", note=str(exc), action="listing again")
                if restarts > MAX_RESTARTS:
                    raise TransientError(
                        f"mailbox {self.settings.mailbox!r} changed its UIDVALIDITY "
                        f"{restarts} times during one run"
                    ) from None
                self.conn.view = None

    def _list_view(self) -> Iterator[Item | PoisonItem]:
        view = self.conn.select()  # a fresh view: the server syncs the mailbox on SELECT
        if view is None:
            raise Unreachable(
                f"mailbox {self.settings.mailbox!r} does not exist on {self.settings.host} "
                f"({self._env('MAILBOX')})"
            )
        self._decide_claims(view)
        validity = view.uidvalidity
        last = max(0, view.uidnext - 1)
        low = last + 1
        if view.exists:
            first = self._search(validity, "1", filtered=False)  # message 1: the lowest UID
            low = first[0] if first else 1
        while low <= last:
            width = max(self.search_window, (last - low + 1) * self.search_window // view.exists)
            high = min(last, low + width - 1)
            yield from self._process(self._search(validity, f"UID {low}:{high}"), validity)
            low = high + 1
        while True:  # messages that arrived after the SELECT (NOOP lets the server see them)
            self.conn.command("NOOP", lambda client: client.noop())
            uids = [u for u in self._search(validity, f"UID {low}:*") if u >= low]
            if not uids:
                return
            yield from self._process(uids, validity)
            low = uids[-1] + 1

    def _search(self, validity: int, where: str, *, filtered: bool = True) -> list[int]:
        criteria = f"{where} UNDELETED" if filtered else where
        if filtered and self.settings.search:
            criteria += f" ({self.settings.search})"

        def search(client: Any) -> list[int]:
            self._require(validity)
            return sorted(int(uid) for uid in client.search(criteria))

        try:
            return self.conn.command(f"UID SEARCH {where}", search)
        except CommandError as exc:
            raise TransientError(
                f"the server refused UID SEARCH {criteria!r} (check {self._env('SEARCH')}): "
                f"{self.context.safety.redactor.scrub(str(exc))[:300]}"
            ) from None

    def _process(self, uids: Sequence[int], validity: int) -> Iterator[Item | PoisonItem]:
        for batch in _chunks(uids, self.batch_size):
            yield from self._batch(batch, validity)

    def _batch(self, uids: Sequence[int], validity: int) -> Iterator[Item | PoisonItem]:
        metas = self._fetch_meta(uids, validity)
        self.peak_buffered = max(self.peak_buffered, len(metas))
        pending: list[_Pending] = []
        pending_bytes = 0
        for uid in uids:
            meta = metas.pop(uid, None)
            if meta is None:  # expunged meanwhile
                continue
            entry = self._classify(uid, meta, validity, policies=True)
            if entry is None:
                continue
            if isinstance(entry, _Pending):
                if pending and pending_bytes + entry.text_bytes > TEXT_GROUP_BYTES:
                    yield from self._complete(pending, validity)
                    pending, pending_bytes = [], 0
                pending.append(entry)
                pending_bytes += entry.text_bytes
                continue
            if pending:
                yield from self._complete(pending, validity)
                pending, pending_bytes = [], 0
            yield entry
        if pending:
            yield from self._complete(pending, validity)

    def _fetch_meta(self, uids: Sequence[int], validity: int) -> dict[int, Any]:
        """Metadata of ``uids`` (missing ones are gone); a message the server cannot
        describe gets an `Exception` instead, so that it is set aside, not lost."""

        items = [*_META_ITEMS, _MODSEQ] if self._atomic() else list(_META_ITEMS)

        def fetch(client: Any) -> dict[int, Any]:
            self._require(validity)
            return dict(client.fetch(list(uids), items))

        try:
            return self.conn.command(
                f"UID FETCH {len(uids)} message(s) metadata", fetch, bye_is_error=True
            )
        except (CommandError, ValueError, TypeError) as exc:
            if len(uids) > 1:  # one bad message spoils a batch: go one by one
                out: dict[int, Any] = {}
                for uid in uids:
                    out.update(self._fetch_meta([uid], validity))
                return out
            return {uids[0]: self._fetch_minimal(uids[0], validity, exc)}

    def _fetch_minimal(self, uid: int, validity: int, error: BaseException) -> Any:
        """What can be read of a message whose metadata failed (size and header, else its
        flags), with the reason, so that it is set aside rather than lost or blocking."""
        reason = f"the server cannot read it: {type(error).__name__}: {str(error)[:200]}"
        attempts = (["RFC822.SIZE", "FLAGS", f"BODY.PEEK[HEADER]<0.{HEADER_LIMIT}>"], ["FLAGS"])
        for items in attempts:

            def fetch(client: Any, items: list[str] = items) -> dict[int, Any]:
                self._require(validity)
                return dict(client.fetch([uid], items))

            try:
                meta = self.conn.command(
                    f"UID FETCH {uid} what can be read", fetch, bye_is_error=True
                ).get(uid)
            except (CommandError, ValueError, TypeError):
                continue
            if meta is not None:
                return {**meta, "error": reason}
        return {"error": reason}

    def _classify(
        self, uid: int, meta: Any, validity: int, *, policies: bool
    ) -> _Pending | PoisonItem | None:
        """What one message becomes: a pending Item, a PoisonItem, or None (left for later)."""
        size = int(meta.get(b"RFC822.SIZE") or 0)
        header = meta.get(_HEADER_KEY) or b""
        if not isinstance(header, bytes):
            header = b""
        claimed, token = self._claim_of(uid, validity, meta, listing=policies)
        headers = parse_headers(header)
        digest = header_digest(size, header) if b"RFC822.SIZE" in meta else ""
        origin = self._origin(validity, uid, size, digest, headers.message_id)
        if "error" in meta:
            return PoisonItem(origin, str(meta["error"]), claimed_at=claimed, claim_token=token)
        if policies and size > self.settings.max_message_size:
            return PoisonItem(
                origin,
                f"larger than {self._env('MAX_MESSAGE_SIZE')} ({size} > "
                f"{self.settings.max_message_size} bytes); not downloaded",
                claimed_at=claimed,
                claim_token=token,
            )
        try:
            root = parse_structure(meta.get(b"BODYSTRUCTURE"))
        except StructureError as exc:
            return PoisonItem(
                origin,
                f"its MIME structure cannot be read: {exc}",
                claimed_at=claimed,
                claim_token=token,
            )
        if policies and claimed is None:
            verdict = self.loops.check(headers, root.content_type)
            if verdict.action == "leave":
                return None
            if verdict.action == "set_aside":
                return PoisonItem(origin, verdict.reason, claim_token=token)
        internal = meta.get(b"INTERNALDATE")
        return _Pending(
            uid=uid,
            validity=validity,
            origin=origin,
            headers=headers,
            root=root,
            texts=tuple(shown_parts(root)),
            internal_date=internal if isinstance(internal, datetime) else None,
            claimed_at=claimed,
            claim_token=token,
        )

    def _claim_of(
        self, uid: int, validity: int, meta: Any, *, listing: bool
    ) -> tuple[datetime | None, str]:
        """The message's claim time (None: unclaimed) and claim token, from its FLAGS and
        MODSEQ. A legacy claim (no time keywords) counts as made now: a listing stamps it
        with the time now (one store), so that it expires one claim window later."""
        flags = meta.get(b"FLAGS") or ()
        found = meta.get(b"MODSEQ")
        token = ClaimToken.of(flags, int(found[0]) if found else None)
        mark = read_mark(flags)
        if mark is None:
            return None, token.dumps()
        if not mark.legacy:
            return claim_time(mark, self._now()), token.dumps()
        now = self._now()
        stamped = self._stamp(validity, uid, token, now) if listing else None
        if stamped is None:  # read again, or changed by another run meanwhile: as of now
            return now, token.dumps()
        self.log.info("legacy_claim_stamped", uid=uid, claimed_at=stamped[0].isoformat())
        return stamped

    def _complete(self, pending: Sequence[_Pending], validity: int) -> Iterator[Item | PoisonItem]:
        """Fetch the text parts of ``pending`` (one FETCH per set of sections) and
        yield the Items in order; a message whose text the server refuses is poison."""
        groups: dict[tuple[str, ...], list[int]] = collections.defaultdict(list)
        for entry in pending:
            groups[tuple(p.section for p in entry.texts)].append(entry.uid)
        texts: dict[int, Any] = {}
        for sections, uids in groups.items():
            if sections:
                texts.update(self._fetch_texts(uids, sections, validity))
        for entry in pending:
            data = texts.get(entry.uid, {})
            if isinstance(data, BaseException):
                yield PoisonItem(
                    entry.origin,
                    f"the server cannot deliver its text: {type(data).__name__}: {str(data)[:200]}",
                    claimed_at=entry.claimed_at,
                    claim_token=entry.claim_token,
                )
                continue
            try:
                item = self._item(entry, data)
            except Exception as exc:  # never a crash of the run: set it aside, say why
                self.log.warning("draft_failed", origin=entry.origin.describe(), exc_info=True)
                yield PoisonItem(
                    entry.origin,
                    f"cannot be made into a ticket draft: {type(exc).__name__}: {str(exc)[:200]}",
                    claimed_at=entry.claimed_at,
                    claim_token=entry.claim_token,
                )
                continue
            yield item

    def _fetch_texts(
        self, uids: Sequence[int], sections: Sequence[str], validity: int
    ) -> dict[int, Any]:
        items = [f"BODY.PEEK[{s}]<0.{TEXT_LIMIT}>" for s in sections]

        def fetch(client: Any) -> dict[int, Any]:
            self._require(validity)
            return dict(client.fetch(list(uids), items))

        try:
            found = self.conn.command(
                f"UID FETCH {len(uids)} message(s) text", fetch, bye_is_error=True
            )
        except (CommandError, ValueError, TypeError) as exc:
            if len(uids) == 1:
                return {uids[0]: exc}
            out: dict[int, Any] = {}
            for uid in uids:
                out.update(self._fetch_texts([uid], sections, validity))
            return out
        # A message expunged meanwhile has no answer: it shows with empty text.
        return {uid: found.get(uid, {}) for uid in uids}

    def _item(self, entry: _Pending, data: Any) -> Item:
        texts: dict[str, bytes] = {}
        for part in entry.texts:
            raw = data.get(f"BODY[{part.section}]<0>".encode()) or b""
            texts[part.section] = raw if isinstance(raw, bytes) else b""
        meta = {
            "mailbox": self.settings.mailbox,
            "uid": str(entry.uid),
            "uidvalidity": str(entry.validity),
            "size": entry.origin.get("size"),
        }
        return mail_item(
            entry.origin,
            entry.headers,
            entry.root,
            entry.texts,
            texts,
            functools.partial(self._attachment, entry.validity, entry.uid),
            meta,
            entry.internal_date,
            claimed_at=entry.claimed_at,
            claim_token=entry.claim_token,
        )

    # -- attachments -------------------------------------------------------------------

    def _attachment(self, validity: int, uid: int, part: Part) -> Attachment:
        opener = functools.partial(self._open_part, validity, uid, part.section, part.encoding)
        return part_attachment(part, opener)

    def _open_part(
        self, validity: int, uid: int, section: str, encoding: str
    ) -> AbstractContextManager[IO[bytes]]:
        """Stream one body part: fetched chunk by chunk with BODY.PEEK, decoded on the fly."""
        fetch = functools.partial(self._fetch_chunk, validity, uid, section)
        reader = _PartReader(fetch, encoding, self.chunk_size)
        return contextlib.closing(io.BufferedReader(reader, buffer_size=64 * 1024))

    def _fetch_chunk(
        self, validity: int, uid: int, section: str, offset: int, length: int
    ) -> bytes:
        key = f"BODY[{section}]<{offset}>".encode()

        def fetch(client: Any) -> bytes:
            self._require(validity)
            found = client.fetch([uid], [f"BODY.PEEK[{section}]<{offset}.{length}>"]).get(uid)
            if found is None:
                raise TransientError(
                    f"message UID {uid} left {self.settings.mailbox!r}; its part {section} "
                    "cannot be read"
                )
            data = found.get(key)
            return data if isinstance(data, bytes) else b""

        return self.conn.command(f"UID FETCH {uid} part {section} at {offset}", fetch)

    # -- reading again, deleting, setting aside (I9) -----------------------------------

    def read(self, origin: Origin) -> Item | PoisonItem | None:
        """The message ``origin`` names, located as `delete` would; None if it is gone."""
        if not self.owns(origin):
            return None
        for _ in range(MAX_RESTARTS):
            located = self._locate(origin)
            if located is None:
                return None
            validity, uid = located
            try:
                meta = self._fetch_meta([uid], validity).get(uid)
                if meta is None:
                    return None
                entry = self._classify(uid, meta, validity, policies=False)
                if isinstance(entry, _Pending):
                    return next(iter(self._complete([entry], validity)))
                return entry
            except ViewChanged:
                continue
        raise TransientError(f"mailbox {self.settings.mailbox!r} keeps changing its UIDVALIDITY")

    def _matches(self, origin: Origin, validity: int, uids: Sequence[int]) -> int | None:
        """The first of ``uids`` whose size and header digest equal ``origin``'s (an origin
        without digest, of a message that could not be read, only needs the UID to exist)."""
        if not origin.digest:
            where = "UID " + ",".join(str(u) for u in uids[:RELOCATE_CANDIDATES])

            def exists(client: Any) -> list[int]:
                self._require(validity)
                return sorted(int(u) for u in client.search(where))

            present = self.conn.command("UID SEARCH to find a message", exists) if uids else []
            return present[0] if present else None
        items = ["RFC822.SIZE", f"BODY.PEEK[HEADER]<0.{HEADER_LIMIT}>"]
        for batch in _chunks(uids, self.batch_size):

            def fetch(client: Any, batch: Sequence[int] = batch) -> dict[int, Any]:
                self._require(validity)
                return dict(client.fetch(list(batch), items))

            found = self.conn.command(f"UID FETCH {len(batch)} message(s) to verify", fetch)
            for uid in batch:
                meta = found.get(uid)
                if meta is None:
                    continue
                header = meta.get(_HEADER_KEY) or b""
                size = int(meta.get(b"RFC822.SIZE") or 0)
                if header_digest(size, header if isinstance(header, bytes) else b"") == (
                    origin.digest
                ):
                    return uid
        return None

    def _relocate(self, origin: Origin, validity: int) -> int | None:
        """After UIDVALIDITY changed: find the message by Message-ID (else by exact size),
        then by digest; None if it is not there (I9)."""
        message_id = origin.get("message_id")
        size = origin.get("size")
        criteria: list[str]
        if message_id:
            criteria = ["HEADER", "Message-ID", message_id]
        elif size.isdigit():
            criteria = ["LARGER", str(int(size) - 1), "SMALLER", str(int(size) + 1)]
        else:
            return None
        charset = None if all(c.isascii() for c in message_id) else "UTF-8"

        def search(client: Any) -> list[int]:
            self._require(validity)
            return sorted(int(uid) for uid in client.search(criteria, charset))

        candidates = self.conn.command("UID SEARCH to locate a message again", search)
        found = self._matches(origin, validity, candidates[:RELOCATE_CANDIDATES])
        self.log.info(
            "message_located_again",
            origin=origin.describe(),
            uidvalidity=validity,
            uid=found,
            candidates=len(candidates),
        )
        return found

    def _locate(self, origin: Origin) -> tuple[int, int] | None:
        """(UIDVALIDITY, UID) where exactly ``origin``'s message is now, or None if gone.

        Checked on the current view first (one FETCH); anything unexpected is checked
        again on a fresh SELECT, because a view can be stale when another client
        deleted and recreated the mailbox; then UIDVALIDITY decides."""
        validity, uid = self._own(origin)
        try:
            view: View | None = self.conn.ensure_view()
        except MailboxMissing:
            view = None
        if view is not None and view.uidvalidity == validity:
            try:
                if self._matches(origin, validity, [uid]) is not None:
                    return validity, uid
            except ViewChanged:
                pass
        view = self.conn.select()
        if view is None:
            return None
        if view.uidvalidity == validity:
            found = self._matches(origin, validity, [uid])
            return None if found is None else (validity, found)
        found = self._relocate(origin, view.uidvalidity)
        return None if found is None else (view.uidvalidity, found)

    def delete(self, origin: Origin) -> bool:
        """Remove exactly ``origin``'s message: expunge that UID only, or move it to
        ``DONE_FOLDER`` (``DONE=move``). False if it was already gone.

        An origin without a digest pins no message (only a UID, which anyone could
        guess): it is refused, nothing is touched (I9). Items this source lists always
        carry one; such an origin can only have been written by someone else."""
        if not origin.digest:
            raise ProviderError(
                f"origin {origin.describe()} has no digest: it names no exact message; "
                "not deleted (I9)"
            )
        if self.settings.done == "move":
            return self._move_out(origin, self.settings.done_folder)
        self._need("UIDPLUS", "an exact delete (UID EXPUNGE)")
        for _ in range(MAX_RESTARTS):
            located = self._locate(origin)
            if located is None:
                return False
            validity, uid = located

            def store(client: Any, validity: int = validity, uid: int = uid) -> None:
                self._require(validity)
                client.add_flags([uid], [b"\\Deleted"], silent=True)

            def expunge(client: Any, validity: int = validity, uid: int = uid) -> None:
                self._require(validity)
                client.uid_expunge([uid])

            try:
                self.conn.command(f"UID STORE {uid} +FLAGS (\\Deleted)", store)
                self.conn.command(f"UID EXPUNGE {uid}", expunge)
            except ViewChanged:
                continue
            return True
        raise TransientError(f"mailbox {self.settings.mailbox!r} keeps changing its UIDVALIDITY")

    def set_aside(self, origin: Origin, reason: str) -> None:
        """Move the message to ``SET_ASIDE_FOLDER`` (I12); nothing if it is gone."""
        folder = self.settings.set_aside_folder
        if not folder:
            raise SetAsideUnavailable(f"{self._env('SET_ASIDE_FOLDER')} is empty")
        moved = self._move_out(origin, folder)
        self.log.debug("set_aside", origin=origin.describe(), folder=folder, moved=moved)

    def _need(self, capability: str, purpose: str) -> None:
        self.conn.ensure_connected()
        if capability not in self.conn.capabilities:
            raise Unreachable(
                f"the IMAP server {self.settings.host} lacks {capability}, needed for {purpose}"
            )

    def _ensure_folder(self, folder: str) -> None:
        if folder in self._folders:
            return

        def create(client: Any) -> None:
            client.create_folder(folder)

        try:
            self.conn.command(f"CREATE {folder}", create, select=False)
        except CommandError as exc:
            if not self._folder_exists(folder):
                raise TransientError(f"cannot create folder {folder!r}: {str(exc)[:200]}") from None
        else:
            self.log.info("folder_created", folder=folder)
        self._folders.add(folder)

    def _folder_exists(self, folder: str) -> bool:
        return self.conn.command(
            f"LIST {folder}", lambda client: bool(client.folder_exists(folder)), select=False
        )

    def _move_out(self, origin: Origin, folder: str) -> bool:
        """Move exactly ``origin``'s message to ``folder``: UID MOVE, or UID COPY +
        \\Deleted + UID EXPUNGE where the server has no MOVE. False if already gone."""
        self.conn.ensure_connected()  # the capabilities are known from here on
        has_move = "MOVE" in self.conn.capabilities
        if not has_move:
            self._need("UIDPLUS", "moving a message without MOVE (UID EXPUNGE)")
        self._ensure_folder(folder)
        for _ in range(MAX_RESTARTS):
            located = self._locate(origin)
            if located is None:
                return False
            validity, uid = located

            def move(client: Any, validity: int = validity, uid: int = uid) -> None:
                self._require(validity)
                client.move([uid], folder)

            def copy(client: Any, validity: int = validity, uid: int = uid) -> None:
                self._require(validity)
                client.copy([uid], folder)
                client.add_flags([uid], [b"\\Deleted"], silent=True)

            def expunge(client: Any, validity: int = validity, uid: int = uid) -> None:
                self._require(validity)
                client.uid_expunge([uid])

            try:
                if has_move:
                    self.conn.command(f"UID MOVE {uid} {folder}", move)
                else:
                    self.conn.command(f"UID COPY {uid} {folder}", copy)
                    self.conn.command(f"UID EXPUNGE {uid}", expunge)
            except ViewChanged:
                continue
            except CommandError as exc:
                if self._locate(origin) is None:  # a repeated MOVE after a lost answer
                    return True
                raise TransientError(
                    f"moving {origin.describe()} to {folder!r} failed: {str(exc)[:200]}"
                ) from None
            return True
        raise TransientError(f"mailbox {self.settings.mailbox!r} keeps changing its UIDVALIDITY")

    # -- check and close ---------------------------------------------------------------

    def check(self) -> None:
        """Obtain a token (with AUTH=xoauth2/oauthbearer: its identity and expiry are
        logged, never the token), log in and EXAMINE the mailbox read-only; check
        UIDPLUS/MOVE; EXAMINE the set-aside (and archive) folder when it exists."""
        mailbox = self.settings.mailbox
        check_token(self.signin, self.log)

        def examine(client: Any) -> dict[bytes, Any]:
            return dict(client.select_folder(mailbox, readonly=True))

        try:
            info = self.conn.command(f"EXAMINE {mailbox}", examine, select=False)
        except CommandError as exc:
            raise Unreachable(f"cannot open mailbox {mailbox!r}: {str(exc)[:200]}") from None
        capabilities = self.conn.capabilities
        if self.settings.done == "delete" and "UIDPLUS" not in capabilities:
            raise Unreachable("the server lacks UIDPLUS: no exact delete (UID EXPUNGE) possible")
        if self.settings.done == "move" and not {"MOVE", "UIDPLUS"} & capabilities:
            raise Unreachable("the server has neither MOVE nor UIDPLUS: no exact move possible")
        for name in ("DONE_FOLDER", "SET_ASIDE_FOLDER"):
            folder = (
                self.settings.done_folder
                if name == "DONE_FOLDER"
                else (self.settings.set_aside_folder)
            )
            if not folder or (name == "DONE_FOLDER" and self.settings.done != "move"):
                continue
            if not self._folder_exists(folder):
                self.log.info(
                    "folder_missing",
                    setting=self._env(name),
                    folder=folder,
                    note="created on first use",
                )
                continue

            def examine_folder(client: Any, folder: str = folder) -> dict[bytes, Any]:
                return dict(client.select_folder(folder, readonly=True))

            try:
                self.conn.command(f"EXAMINE {folder}", examine_folder, select=False)
            except CommandError as exc:
                raise Unreachable(
                    f"cannot open folder {folder!r} ({self._env(name)}): {str(exc)[:200]}"
                ) from None
        self.log.info(
            "mailbox_checked",
            mailbox=mailbox,
            messages=int(info.get(b"EXISTS", 0)),
            uidvalidity=int(info.get(b"UIDVALIDITY", 0)),
            atomic_claims=self.conn.condstore and b"HIGHESTMODSEQ" in info,
        )
        self.conn.view = None  # EXAMINE selected it read-only: SELECT again before any change

    def close(self) -> None:
        """Log out and drop the connection (and the token endpoint's)."""
        self.conn.close()
        if self.signin.tokens is not None:
            self.signin.tokens.close()
