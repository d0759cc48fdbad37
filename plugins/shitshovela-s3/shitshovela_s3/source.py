"""The ``s3`` source: one ticket per object, then exactly that object leaves the queue.

Listing is ListObjectsV2, page by page (continuation tokens), so memory holds
one page of keys however many wait. Each listed object is read with one
ranged GET (at most ``BODY_LIMIT`` bytes, or ``JSON_MAX_SIZE`` for JSON) pinned
to the listed ETag; its answer also gives the version id, the total size and
``x-amz-tagging-count`` (only when that is non-zero is the tag set fetched, to
see a claim). Larger objects are truncated in the body and attached whole,
streamed with ranged GETs (`shitshovela_s3.reader`).

Exact delete (I9): the origin holds the bucket (in the scope), the key, the
ETag and, in a versioned bucket, the version id.

- Versioned bucket: ``DELETE ?versionId=`` removes that version only; a newer
  version of the key survives and is listed on a later run. A ``HEAD`` of the
  version first tells "already gone" (False) from "deleted" (True).
- Unversioned bucket, ``if-match`` path: ``DELETE`` with ``If-Match: <ETag>``;
  ``412`` (overwritten) and ``404`` (gone) both mean "that revision is already
  gone" (False). Exact on AWS (since 2025-09) and moto (>= 5.1.22).
- Unversioned bucket, ``head`` path, for stores that ignore ``If-Match`` on
  DELETE: ``HEAD`` with ``If-Match``, then ``DELETE``. An overwrite that lands
  between the two is deleted with it: the race window is one round trip.
- ``auto`` picks the path once per run with a probe: a conditional DELETE of
  a random key that does not exist answers 404/412 where ``If-Match`` is
  honoured and 204 where it is ignored.

"Move" (``DONE=move``) and set-aside copy the revision first (pinned by
version id and ``x-amz-copy-source-if-match``), then delete it exactly; a copy
name longer than S3's 1,024 bytes is shortened (`shitshovela_s3.keys`).

Claims (I2, I11) are a tag ``shitshovela-inprogress-<instance>`` whose value is
the claim time; two runs of one instance at once are kept apart by the run
lease (`shitshovela_s3.lease`), since S3 has no compare-and-set on tags. An
object that can be neither ticketed nor set aside (S3 refuses to read it, so a
copy would be refused too; larger than CopyObject's 5 GiB) is skipped with a
warning on every run instead of stopping the queue (I12).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from shitshovela_core import (
    Attachment,
    Flag,
    HttpClient,
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
)

from . import content as render
from .auth import SigV4Auth
from .client import (
    Head,
    Listed,
    ObjectGone,
    RangeNotSatisfiable,
    S3Client,
    Unreadable,
    endpoint_host,
)
from .config import COPY_MAX_BYTES, S3Settings
from .keys import (
    LEASE_NAME,
    MAX_METADATA_BYTES,
    ORIGINAL_KEY_META,
    REASON_META,
    fit_key,
    lease_key,
    metadata_bytes,
    original_key_metadata,
)
from .lease import S3Lease
from .reader import opener

#: Tag key whose value says why an object was set aside.
REASON_TAG = "shitshovela-set-aside-reason"
#: S3 allows ten tags per object.
MAX_TAGS = 10
_TAG_VALUE_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 +-=._:/@")


def _tag_value(text: str) -> str:
    cleaned = "".join(c if c in _TAG_VALUE_OK else "_" for c in text)
    return cleaned[:256]


def _claim_value(at: datetime) -> str:
    """A claim time as the tag stores it: ISO 8601 in UTC, to the microsecond."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_claim(value: str) -> datetime | None:
    """The claim time a tag holds, rounded up when it was stored to the second only
    (earlier versions did); None when it is not a time with a zone."""
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    if "." not in value:
        at += timedelta(seconds=1)
    return at.astimezone(UTC)


def _is_aws(host: str) -> bool:
    name = host.rsplit(":", 1)[0].lower()
    return name.endswith(".amazonaws.com") or name.endswith(".amazonaws.com.cn")


class S3Source(Source):
    """Objects under a prefix of one bucket; see the module docstring."""

    supports_claims = True

    def __init__(self, context: ProviderContext) -> None:
        super().__init__(context)
        settings = self.settings = S3Settings.of(context.settings)
        self.bucket = settings.bucket
        self.prefix = settings.prefix
        self.region = settings.region
        self.done = settings.done
        self.done_prefix = settings.done_prefix
        self.set_aside_prefix = settings.set_aside_prefix
        self.max_size = settings.max_size
        self.body_limit = settings.body_limit
        self.format = settings.format
        self.title_from = settings.title_from
        self.title_field = settings.title_field
        self.body_field = settings.body_field
        self.json_max = settings.json_max_size
        #: The conditional-delete path in use for unversioned objects, once known.
        self.delete_path: str | None = None
        if settings.conditional_delete != "auto":
            self.delete_path = settings.conditional_delete
        access, secret, token = (
            settings.access_key_id,
            settings.secret_access_key,
            settings.session_token,
        )

        endpoint = settings.endpoint_url.rstrip("/")
        self.on_aws = not endpoint or _is_aws(endpoint_host(endpoint))
        if not endpoint:
            endpoint = f"https://s3.{self.region}.amazonaws.com"
        addressing = settings.addressing
        if addressing == "auto":
            path_style = not self.on_aws or "." in self.bucket
        else:
            path_style = addressing == "path"
        base = endpoint
        if not path_style:
            scheme, _, rest = endpoint.partition("://")
            base = f"{scheme}://{self.bucket}.{rest}"
        self.endpoint = endpoint
        redactor = context.safety.redactor
        auth = SigV4Auth(access, secret, token, self.region, redactor)
        secrets = tuple(s for s in (secret, token) if s)
        http = HttpClient(context.safety, base + "/", secrets=secrets)
        self.client = S3Client(
            http, auth, bucket=self.bucket, path_style=path_style, redact=redactor.scrub
        )
        host = endpoint_host(endpoint)
        self._scope = (
            f"s3://{self.bucket}/{self.prefix}"
            if self.on_aws
            else f"s3+{host}://{self.bucket}/{self.prefix}"
        )
        self._excluded = tuple(
            p
            for p in (self.done_prefix if self.done == "move" else "", self.set_aside_prefix)
            if p and p.startswith(self.prefix)
        )
        self.flag = Flag(context.instance)
        self._reserved = self.prefix + LEASE_NAME
        self._lease = S3Lease(
            self.client, lease_key(self.prefix, context.instance), context.instance, context.log
        )

    # -- identity ----------------------------------------------------------------

    @property
    def scope(self) -> str:
        """``s3://bucket/prefix`` on AWS; ``s3+host:port://bucket/prefix`` elsewhere."""
        return self._scope

    def owns(self, origin: Origin) -> bool:
        """The provider and scope (I7), and a key this source lists: under ``PREFIX``, not
        under the done or set-aside prefix, not the run lease. An origin naming any other
        object of the bucket (planted in a ticket, I1) is never this source's to delete."""
        key = origin.key
        return (
            super().owns(origin)
            and key.startswith(self.prefix)
            and not key.startswith(self._reserved)
            and not any(key.startswith(p) for p in self._excluded)
        )

    def _origin(self, head: Head) -> Origin:
        extra = {"bucket": self.bucket, "etag": head.etag}
        if head.version_id:
            extra["vid"] = head.version_id
        return Origin(
            provider=self.context.provider,
            scope=self.scope,
            key=head.key,
            version=head.version_id or head.etag,
            digest=f"etag:{head.etag}",
            extra=extra,
        )

    @staticmethod
    def _pins(origin: Origin) -> tuple[str, str]:
        """(version id, ETag) of an origin; a version id pins the revision by itself."""
        return origin.get("vid"), origin.get("etag") or origin.version

    # -- listing -----------------------------------------------------------------

    def listing(self) -> Iterator[Listed]:
        """Every key under the prefix, page by page; set-aside and done prefixes inside
        it are jumped over with ``start-after`` instead of being walked."""
        start_after = ""
        skipped: set[str] = set()
        while True:
            restart = ""
            for page in self.client.iter_pages(self.prefix, start_after):
                for listed in page.objects:
                    inside = next((p for p in self._excluded if listed.key.startswith(p)), "")
                    if inside:
                        if inside not in skipped:
                            skipped.add(inside)
                            restart = inside + "\U0010ffff"
                            break
                        continue
                    if listed.key.endswith("/") and listed.size == 0:
                        continue  # a "folder" marker made by consoles, not an item
                    if listed.key.startswith(self._reserved):
                        continue  # a run lease: the job's own object
                    yield listed
                if restart:
                    break
            if not restart:
                return
            start_after = restart

    def items(self) -> Iterator[Item | PoisonItem]:
        """Each waiting object as an `Item` or a `PoisonItem`, read lazily."""
        for listed in self.listing():
            entry = self._read_listed(listed)
            if entry is not None:
                yield entry

    def _want(self, size: int) -> int:
        """How many bytes to read for the ticket from an object of ``size`` bytes."""
        if size > self.max_size:
            return 1
        if self.format == "json":
            return 1 if size > self.json_max else self.json_max
        return self.body_limit

    def _read_listed(self, listed: Listed) -> Item | PoisonItem | None:
        """Read a listed object pinned to its listed ETag; follow it if it changed. None:
        gone, or skipped (it can be neither ticketed nor set aside)."""
        etag, size = listed.etag, listed.size
        for _ in range(3):
            try:
                head, data = self._fetch(listed.key, "", etag, self._want(size))
            except Unreadable as exc:
                # CopyObject reads the object as GetObject does: refused the same way.
                self._skip(listed.key, f"S3 refuses to read it ({exc})")
                return None
            except ObjectGone:
                again = self.client.head(listed.key)
                if again is None:
                    return None
                etag, size = again.etag, again.size
                continue
            entry = self._entry(head, data)
            if isinstance(entry, PoisonItem) and head.size > COPY_MAX_BYTES:
                self._skip(listed.key, f"{entry.reason}; S3 copies at most 5 GiB")
                return None
            return entry
        raise TransientError(f"S3: {listed.key!r} kept changing while it was being read")

    def _skip(self, key: str, why: str) -> None:
        """An object that can be neither ticketed nor set aside: said on every run (I12)."""
        self.context.log.warning(
            "s3_object_skipped",
            key=key,
            why=why,
            note="it can be neither ticketed nor set aside, so it stays where it is and every "
            "run skips it again: fix it, or move it away by hand",
        )

    def _fetch(self, key: str, version_id: str, etag: str, want: int) -> tuple[Head, bytes]:
        """Ranged GET of one pinned revision; an empty object answers 416 to any range."""
        if_match = "" if version_id else etag
        try:
            return self.client.get(key, version_id=version_id, if_match=if_match, last=want - 1)
        except RangeNotSatisfiable:
            # Pinned, so it is the empty revision: read it without a range.
            return self.client.get(key, version_id=version_id, if_match=if_match)

    def read(self, origin: Origin) -> Item | PoisonItem | None:
        """Read exactly the revision ``origin`` names; None if it is gone."""
        version_id, etag = self._pins(origin)
        want = self.json_max if self.format == "json" else self.body_limit
        try:
            head, data = self._fetch(origin.key, version_id, etag, want)
        except ObjectGone:
            return None
        except Unreadable as exc:
            return PoisonItem(origin, f"unreadable: {exc}")
        return self._entry(head, data)

    # -- turning content into an item ----------------------------------------------

    def _entry(self, head: Head, data: bytes) -> Item | PoisonItem:
        origin = self._origin(head)
        tags = self._tags(head)
        value = tags.get(self.flag.label)
        claimed_at = None if value is None else _parse_claim(value)
        token = json.dumps(tags)

        def poison(reason: str) -> PoisonItem:
            return PoisonItem(origin, reason, claimed_at=claimed_at, claim_token=token)

        if head.size > self.max_size:
            return poison(
                f"object of {head.size} bytes is larger than MAX_SIZE ({self.max_size} bytes)"
            )
        if self.format == "json" and head.size > self.json_max:
            return poison(
                f"JSON object of {head.size} bytes is larger than JSON_MAX_SIZE "
                f"({self.json_max} bytes)"
            )
        if value is not None and claimed_at is None:
            # Not a time this job wrote: when (or whether) it was claimed is unknown, so
            # it may be neither ticketed at once nor left waiting for ever.
            return poison(
                f"its claim tag {self.flag.label} holds {value[:40]!r}, not a claim time "
                "(edited by hand?)"
            )
        if len(tags) >= MAX_TAGS and self.flag.label not in tags:
            return poison(
                f"has S3's maximum of {MAX_TAGS} tags; no room for the claim tag {self.flag.label}"
            )
        name = head.key.rsplit("/", 1)[-1] or "object"
        try:
            if self.format == "json":
                rendered = render.render_json(
                    data,
                    total=head.size,
                    key=head.key,
                    prefix=self.prefix,
                    title_field=self.title_field,
                    body_field=self.body_field,
                    body_limit=self.body_limit,
                    attachment=name,
                )
            else:
                rendered = render.render_text(
                    data,
                    total=head.size,
                    key=head.key,
                    prefix=self.prefix,
                    title_from=self.title_from,
                    body_limit=self.body_limit,
                    attachment=name,
                )
        except render.Undecodable as exc:
            return poison(f"cannot be read as {self.format}: {exc}")
        attachments: tuple[Attachment, ...] = ()
        if rendered.truncated:
            attachments = (
                Attachment(
                    name=name,
                    content_type=head.content_type,
                    size=head.size,
                    opener=lambda: opener(
                        self.client,
                        head.key,
                        size=head.size,
                        version_id=head.version_id,
                        etag=head.etag,
                    ),
                ),
            )
        meta = {
            "s3.bucket": self.bucket,
            "s3.key": head.key,
            "s3.etag": head.etag,
            "s3.size": str(head.size),
            "s3.content_type": head.content_type,
            **({"s3.version_id": head.version_id} if head.version_id else {}),
            **rendered.meta,
        }
        return Item(
            origin=origin,
            title=rendered.title,
            body=rendered.body,
            created=self._created(head.last_modified),
            meta=meta,
            attachments=attachments,
            claimed_at=claimed_at,
            claim_token=token,
        )

    @staticmethod
    def _created(value: str) -> datetime | None:
        if not value:
            return None
        try:
            return parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None

    def _tags(self, head: Head) -> dict[str, str]:
        """The revision's tag set, fetched only when the GET said the object has tags
        (``x-amz-tagging-count``)."""
        if head.tag_count == 0:
            return {}
        return self.client.get_tagging(head.key, version_id=head.version_id) or {}

    # -- leaving the queue ---------------------------------------------------------

    def delete(self, origin: Origin) -> bool:
        """Delete (or, with ``DONE=move``, move) exactly the revision ``origin`` names; an
        origin that names no revision (no version id, no ETag) is refused."""
        if self._pins(origin) == ("", ""):
            raise ProviderError(
                f"S3: not deleting {origin.key!r}: its origin names no revision (no version "
                "id, no ETag), so the delete could remove any object of that name"
            )
        if self.done == "move":
            name = self.done_prefix + origin.key.removeprefix(self.prefix)
            target = fit_key(self.done_prefix, origin.key.removeprefix(self.prefix))
            tags = {"shitshovela-done": _tag_value(self.scope)}
            if not self._copy(origin, target, tags, self._renamed(origin, name, target, {})):
                return False
        return self._delete_exact(origin)

    def _delete_exact(self, origin: Origin) -> bool:
        version_id, etag = self._pins(origin)
        if version_id:
            if self.client.head(origin.key, version_id=version_id) is None:
                return False
            return self.client.delete(origin.key, version_id=version_id)
        # The head path's race window: an overwrite landing between this HEAD and the
        # DELETE is deleted too (only where the store ignores If-Match on DELETE).
        if self._path() == "head" and self.client.head(origin.key, if_match=etag) is None:
            return False
        return self.client.delete(origin.key, if_match=etag)

    def _path(self) -> str:
        """The conditional-delete path for unversioned objects, probed once if ``auto``."""
        if self.delete_path is None:
            probe = f"{self.prefix}.shitshovela-probe-{uuid.uuid4().hex}"
            honoured = not self.client.delete(probe, if_match='"shitshovela-probe"')
            self.delete_path = "if-match" if honoured else "head"
            self.context.log.info(
                "s3_conditional_delete",
                path=self.delete_path,
                note="DELETE honours If-Match"
                if honoured
                else "the store ignores If-Match on DELETE: HEAD check before each delete",
            )
        return self.delete_path

    @staticmethod
    def _renamed(
        origin: Origin, name: str, target: str, metadata: dict[str, str]
    ) -> dict[str, str]:
        """``metadata``, plus the original key when ``target`` is ``name`` shortened."""
        if target != name:
            metadata[ORIGINAL_KEY_META] = original_key_metadata(origin.key)
        return metadata

    def _copy(
        self, origin: Origin, target: str, tags: Mapping[str, str], metadata: dict[str, str]
    ) -> bool:
        """Copy exactly the revision to ``target`` with ``tags``, adding ``metadata`` to the
        object's own (sent again from a HEAD: a copy that adds metadata replaces it);
        False if that revision is gone."""
        version_id, etag = self._pins(origin)
        replaced: dict[str, str] | None = None
        if metadata:
            head = self.client.head(origin.key, version_id=version_id, if_match=etag)
            if head is None:
                return False
            replaced = dict(head.restate)
            for name, value in metadata.items():
                if metadata_bytes([*replaced.items(), (name, value)]) > MAX_METADATA_BYTES:
                    self.context.log.warning(
                        "s3_copy_metadata_dropped", key=origin.key, target=target,
                        dropped=name, value=value,
                        note="no room left in the object's 2 KB of metadata",
                    )  # fmt: skip
                    continue
                replaced[name] = value
        copied = self.client.copy(
            origin.key, target, version_id=version_id, etag=etag, tags=tags, metadata=replaced
        )
        if copied is None:
            return False
        if not version_id and "-" not in etag and copied != etag:
            # The store ignored x-amz-copy-source-if-match and copied a newer revision:
            # take that copy back; the revision we were asked about is gone.
            self.client.delete(target, if_match=copied)
            return False
        return True

    def set_aside(self, origin: Origin, reason: str) -> None:
        """Copy the revision under ``SET_ASIDE_PREFIX`` (tagged with the reason), then delete
        it exactly (I12)."""
        if not self.set_aside_prefix:
            raise SetAsideUnavailable(
                f"{env_name(self.context.provider, 'SET_ASIDE_PREFIX')} is not set"
            )
        rest = origin.key.removeprefix(self.prefix)
        target = fit_key(self.set_aside_prefix, rest)
        version_id, etag = self._pins(origin)
        existing = self.client.head(target)
        if existing is not None and existing.etag != etag:
            # Never overwrite an earlier set-aside object with the same name.
            rest = f"{rest}.{(version_id or etag).strip(chr(34))[:16]}"
            target = fit_key(self.set_aside_prefix, rest)
        # The copy keeps the object's tags (not the claim) and says why, in a tag when
        # there is room for one, else in its metadata.
        tags = self.client.get_tagging(origin.key, version_id=version_id)
        if tags is None:
            return  # that revision is gone: nothing to set aside
        tags.pop(self.flag.label, None)
        metadata: dict[str, str] = {}
        if len(tags) < MAX_TAGS or REASON_TAG in tags:
            tags[REASON_TAG] = _tag_value(reason)
        else:
            metadata[REASON_META] = _tag_value(reason)
        name = self.set_aside_prefix + rest
        if self._copy(origin, target, tags, self._renamed(origin, name, target, metadata)):
            self._delete_exact(origin)
            self.context.log.info("s3_set_aside", key=origin.key, target=target)

    # -- claims and the lease (I2, I11) ----------------------------------------------

    def claim(self, item: Item | PoisonItem, flag: Flag, at: datetime) -> bool:
        """Tag the revision with ``flag.label`` = ``at`` (PutObjectTagging keeps the ETag
        and the version, and the object's other tags). One request: the tag set comes
        from the listing (``item.claim_token``), read again only when the item does not
        carry it. False when the revision is gone, or has no room left for the tag.

        Not atomic (S3 has no compare-and-set on tags): `lease` keeps two runs of one
        instance apart."""
        origin = item.origin
        version_id, _ = self._pins(origin)
        try:
            listed = json.loads(item.claim_token) if item.claim_token else None
        except ValueError:
            listed = None
        tags = listed if isinstance(listed, dict) else None
        if tags is None:
            tags = self.client.get_tagging(origin.key, version_id=version_id)
            if tags is None:
                return False
        tags = {str(k): str(v) for k, v in tags.items() if k != flag.label}
        if len(tags) >= MAX_TAGS:
            self.context.log.warning(
                "s3_claim_no_room", key=origin.key,
                note=f"{MAX_TAGS} tags already; the next run sets it aside",
            )  # fmt: skip
            return False
        tags[flag.label] = _claim_value(at)
        return self.client.put_tagging(origin.key, tags, version_id=version_id)

    def lease(self, flag: Flag, until: datetime) -> bool:
        """Take the instance's run lease (``PREFIX.shitshovela-lease-INSTANCE``) with a
        conditional PUT; False when another run holds it (see `shitshovela_s3.lease`)."""
        return self._lease.take(until)

    def release_lease(self, flag: Flag) -> None:
        """Delete exactly the lease revision this run wrote."""
        self._lease.release()

    # -- housekeeping --------------------------------------------------------------

    def check(self) -> None:
        """List one key and read the versioning status (read-only)."""
        self.client.list_page(self.prefix, max_keys=1)
        try:
            status = self.client.versioning() or "never enabled"
        except Unreachable as exc:  # only s3:GetBucketVersioning is missing: not needed to run
            status = f"unknown ({exc})"
        self.context.log.info("s3_bucket", bucket=self.bucket, versioning=status, scope=self.scope)

    def close(self) -> None:
        """Close the connections."""
        self.client.close()
