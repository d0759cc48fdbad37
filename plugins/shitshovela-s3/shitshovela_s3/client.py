"""The few S3 REST calls the source makes, over the core's `HttpClient`.

Every call goes through an `HttpClient` on ``context.safety``: the deadline, the rate
limit, retries with backoff, ``Retry-After`` (S3's ``503 SlowDown``), the
breaker and the TLS settings apply as to every other provider. Requests are
signed per attempt by botocore (`shitshovela_s3.auth`); listing pages and
error bodies are parsed with defusedxml (no entity expansion, no external
entities). Keys and query values are percent-encoded here, once, exactly as
SigV4 signs them (``.`` and ``..`` path segments too, which an HTTP client
would otherwise "normalise" into a different key).

All calls are idempotent (GET, HEAD, conditional or versioned DELETE, PUT of a
tag set, COPY to a fixed key, a conditional PUT of the lease object whose retry
is recognised by its holder), so the safety layer may retry each of them.
Bodies are read whole by `HttpClient`, so object content is only ever fetched
with a ``Range``: at most one chunk is in memory at a time.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote_plus, urlencode, urlsplit

import attrs
import httpx

from shitshovela_core import ProviderError, TransientError, Unreachable

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from shitshovela_core import HttpClient

    from .auth import SigV4Auth

#: The largest page ListObjectsV2 returns.
PAGE_SIZE = 1000
#: Headers of an object that CopyObject with ``x-amz-metadata-directive: REPLACE``
#: forgets unless they are sent again (with the ``x-amz-meta-*`` ones).
RESTATED = frozenset(
    {"content-type", "content-encoding", "content-language", "content-disposition",
     "cache-control", "expires"}
)  # fmt: skip
_CONTENT_RANGE = re.compile(r"^bytes\s+(\d+)-(\d+)/(\d+|\*)$")


class RangeNotSatisfiable(Exception):
    """416: the object is empty, so no byte range can be served."""


class ObjectGone(Exception):
    """404 or 412: the object, or the revision asked for, is not there."""


class Conflict(Exception):
    """412 or 409 on a conditional write: the object is not as the condition said (or a
    concurrent conditional write to the key won)."""


class Unreadable(Exception):
    """403 on reading one object after the listing worked: refused for that object alone
    (an SSE-KMS key we may not use, an archived storage class, an object ACL)."""


@attrs.frozen
class Listed:
    """One entry of a listing page."""

    key: str
    etag: str
    size: int


@attrs.frozen
class Page:
    """One ListObjectsV2 page."""

    objects: tuple[Listed, ...]
    next_token: str


@attrs.frozen
class Head:
    """What S3 says about one revision of an object (from a GET or HEAD)."""

    key: str
    etag: str
    version_id: str
    size: int
    content_type: str
    last_modified: str
    #: ``x-amz-tagging-count`` of a GET (S3 sends it only when the object has tags).
    tag_count: int
    #: The object's own headers a copy that replaces its metadata must send again
    #: (``Content-Type``, ``Cache-Control``, ..., ``x-amz-meta-*``).
    restate: tuple[tuple[str, str], ...] = ()
    #: The answer's ``Date``: the time on the server's clock when it answered.
    date: str = ""


@attrs.frozen
class Written:
    """What S3 said about an object it stored (a PUT)."""

    etag: str
    #: ``x-amz-version-id`` as sent (``null`` in a suspended bucket); '' when absent.
    version_id: str


def quote_key(key: str) -> str:
    """Percent-encode a key for a URL path the way SigV4 signs it (``/`` kept)."""
    segments = []
    for segment in key.split("/"):
        if segment in (".", ".."):
            segments.append(segment.replace(".", "%2E"))
        else:
            segments.append(quote(segment, safe="~"))
    return "/".join(segments)


def query(params: Mapping[str, str | None]) -> str:
    """A query string in SigV4's canonical encoding; a None value gives a bare name."""
    parts = []
    for name in sorted(params):
        value = params[name]
        encoded = quote(name, safe="-_.~")
        parts.append(encoded if value is None else f"{encoded}={quote(value, safe='-_.~')}")
    return "&".join(parts)


def etag_of(value: str) -> str:
    """An ETag in its quoted form (some stores drop the quotes)."""
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value if value.startswith('"') else f'"{value}"'


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(element: Element, name: str) -> str:
    for child in element:
        if _local(child.tag) == name:
            return child.text or ""
    return ""


def parse_xml(body: bytes, what: str) -> Element:
    """Parse an S3 XML answer with defusedxml; raise `TransientError` if it is not XML."""
    import defusedxml.ElementTree as SafeET  # type: ignore[import-untyped]
    from defusedxml import DefusedXmlException

    try:
        root: Element = SafeET.fromstring(body)
    except (SafeET.ParseError, DefusedXmlException) as exc:
        raise TransientError(f"S3 {what}: the answer is not valid XML ({exc})") from None
    return root


def error_code(response: httpx.Response) -> tuple[str, str]:
    """The ``<Code>`` and ``<Message>`` of an S3 error answer ('' when there is none)."""
    if not response.content or b"<" not in response.content[:200]:
        return "", ""
    try:
        root = parse_xml(response.content, "error")
    except TransientError:
        return "", ""
    return _child_text(root, "Code"), _child_text(root, "Message")[:300]


def parse_content_range(value: str) -> int | None:
    """The total size from ``Content-Range: bytes a-b/total``."""
    match = _CONTENT_RANGE.match(value.strip())
    if match is None or match.group(3) == "*":
        return None
    return int(match.group(3))


class S3Client:
    """S3 calls for one bucket, through the core's `HttpClient`."""

    def __init__(
        self,
        http: HttpClient,
        auth: SigV4Auth,
        *,
        bucket: str,
        path_style: bool,
        redact: Callable[[str], str],
    ) -> None:
        self.http = http
        self.auth = auth
        self.bucket = bucket
        self.path_style = path_style
        self._scrub = redact

    # -- plumbing ----------------------------------------------------------------

    def url(self, key: str = "", params: Mapping[str, str | None] | None = None) -> str:
        """The request target for ``key`` (or the bucket) with ``params``."""
        path = f"/{quote(self.bucket, safe='')}/" if self.path_style else "/"
        path += quote_key(key)
        if params:
            path += "?" + query(params)
        return path

    def send(
        self,
        method: str,
        key: str = "",
        params: Mapping[str, str | None] | None = None,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send one signed request under the safety rules (always idempotent here)."""
        kwargs: dict[str, Any] = {"auth": self.auth, "headers": dict(headers or {})}
        if content is not None:
            kwargs["content"] = content
        response = self.http.request(
            method, self.url(key, params), idempotent=True, what=what, **kwargs
        )
        return response

    def fail(self, response: httpx.Response, what: str, key: str = "") -> ProviderError:
        """The error for an answer the caller did not expect."""
        code, message = error_code(response)
        where = f" {key!r}" if key else ""
        text = self._scrub(
            f"S3 {what}{where}: {response.status_code} {code or response.reason_phrase}"
            + (f": {message}" if message else "")
        )
        status = response.status_code
        if status in (401, 403) or code in {
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AuthorizationHeaderMalformed",
            "ExpiredToken",
            "InvalidToken",
            "AccessDenied",
        }:
            return Unreachable(text + " (check the credentials and the policy)")
        if status in (301, 307) or code in {"PermanentRedirect", "TemporaryRedirect"}:
            region = response.headers.get("x-amz-bucket-region", "")
            where = f"; the bucket is in {region}" if region else ""
            return Unreachable(text + f" (check REGION, ENDPOINT_URL and ADDRESSING{where})")
        if code == "NoSuchBucket":
            return Unreachable(text + " (check BUCKET)")
        return ProviderError(text)

    # -- listing -----------------------------------------------------------------

    def list_page(
        self, prefix: str, *, token: str = "", start_after: str = "", max_keys: int = PAGE_SIZE
    ) -> Page:
        """One ListObjectsV2 page of keys under ``prefix``, in key order."""
        params: dict[str, str | None] = {
            "list-type": "2",
            "encoding-type": "url",
            "max-keys": str(max_keys),
            "prefix": prefix,
        }
        if token:
            params["continuation-token"] = token
        elif start_after:
            params["start-after"] = start_after
        response = self.send("GET", "", params, what="ListObjectsV2")
        if response.status_code != 200:
            raise self.fail(response, "ListObjectsV2")
        root = parse_xml(response.content, "ListObjectsV2")
        encoded = _child_text(root, "EncodingType") == "url"
        objects = []
        for element in root:
            if _local(element.tag) != "Contents":
                continue
            key = _child_text(element, "Key")
            objects.append(
                Listed(
                    key=unquote_plus(key) if encoded else key,
                    etag=etag_of(_child_text(element, "ETag")),
                    size=int(_child_text(element, "Size") or 0),
                )
            )
        truncated = _child_text(root, "IsTruncated").lower() == "true"
        token = _child_text(root, "NextContinuationToken") if truncated else ""
        if truncated and not token:
            raise TransientError("S3 ListObjectsV2: a truncated page without a continuation token")
        return Page(objects=tuple(objects), next_token=token)

    # -- objects -----------------------------------------------------------------

    @staticmethod
    def _pins(version_id: str, if_match: str) -> tuple[dict[str, str | None], dict[str, str]]:
        params: dict[str, str | None] = {}
        headers: dict[str, str] = {}
        if version_id:
            params["versionId"] = version_id
        if if_match:
            headers["If-Match"] = if_match
        return params, headers

    def head_of(self, key: str, response: httpx.Response) -> Head:
        """The revision described by a GET or HEAD answer."""
        headers = response.headers
        size = parse_content_range(headers.get("content-range", ""))
        if size is None:
            size = int(headers.get("content-length", "0") or 0)
        count = headers.get("x-amz-tagging-count")
        version = headers.get("x-amz-version-id", "")
        return Head(
            key=key,
            etag=etag_of(headers.get("etag", "")),
            version_id="" if version == "null" else version,
            size=size,
            content_type=headers.get("content-type", "application/octet-stream"),
            last_modified=headers.get("last-modified", ""),
            tag_count=int(count) if count and count.isdigit() else 0,
            restate=tuple(
                (name, value)
                for name, value in headers.items()
                if name.lower() in RESTATED or name.lower().startswith("x-amz-meta-")
            ),
            date=headers.get("date", ""),
        )

    def get(
        self,
        key: str,
        *,
        version_id: str = "",
        if_match: str = "",
        first: int = 0,
        last: int | None = None,
    ) -> tuple[Head, bytes]:
        """GET bytes ``first..last`` (inclusive) of a revision; raise `ObjectGone` on 404/412
        and `RangeNotSatisfiable` on 416. ``last=None`` reads to the end: only for a
        revision pinned by version id or ETag that is known to be small."""
        params, headers = self._pins(version_id, if_match)
        # Keep the bytes as stored: a gzip-encoded object must not be decoded chunk by chunk.
        params["response-content-encoding"] = "identity"
        if last is not None:
            headers["Range"] = f"bytes={first}-{last}"
        response = self.send("GET", key, params, what="GetObject", headers=headers)
        status = response.status_code
        if status in (200, 206):
            return self.head_of(key, response), response.content
        if status in (404, 412):
            raise ObjectGone(key)
        if status == 416:
            raise RangeNotSatisfiable(key)
        if status == 400 and version_id and error_code(response)[0] == "InvalidArgument":
            raise ObjectGone(key)  # a version id this store does not know
        if status == 403:
            code, message = error_code(response)
            raise Unreadable(self._scrub(f"403 {code or 'Forbidden'}: {message}".rstrip(": ")))
        raise self.fail(response, "GetObject", key)

    def head(self, key: str, *, version_id: str = "", if_match: str = "") -> Head | None:
        """HEAD a revision; None if it is not there (404, 412, unknown version)."""
        params, headers = self._pins(version_id, if_match)
        response = self.send("HEAD", key, params, what="HeadObject", headers=headers)
        status = response.status_code
        if status == 200:
            return self.head_of(key, response)
        if status in (404, 412, 405) or (status == 400 and version_id):
            return None
        raise self.fail(response, "HeadObject", key)

    def delete(self, key: str, *, version_id: str = "", if_match: str = "") -> bool:
        """DELETE one object (a version, or the current one if its ETag still matches).

        True on 2xx; False on 404 (no such key or version), 412 (the ETag no longer
        matches: that revision is already gone, overwritten by a newer one) and 409 (AWS:
        a concurrent PUT or DELETE of the key succeeded first)."""
        params, headers = self._pins(version_id, if_match)
        response = self.send("DELETE", key, params, what="DeleteObject", headers=headers)
        status = response.status_code
        if 200 <= status < 300:
            return True
        if status in (404, 409, 412):
            return False
        raise self.fail(response, "DeleteObject", key)

    def copy(
        self,
        key: str,
        target: str,
        *,
        version_id: str,
        etag: str,
        tags: Mapping[str, str],
        metadata: Mapping[str, str] | None = None,
    ) -> str | None:
        """Copy one revision to ``target`` with ``tags``; return the copy's ETag, or None
        when the revision is gone (404, 412). ``metadata`` (headers, ``x-amz-meta-*``
        and the restated ones) replaces the object's metadata; None copies it."""
        source = f"/{quote(self.bucket, safe='')}/{quote_key(key)}"
        if version_id:
            source += "?versionId=" + quote(version_id, safe="")
        headers = {
            "x-amz-copy-source": source,
            "x-amz-copy-source-if-match": etag,
            "x-amz-tagging-directive": "REPLACE",
            "x-amz-tagging": urlencode(dict(tags), quote_via=quote),
        }
        if metadata is not None:
            headers["x-amz-metadata-directive"] = "REPLACE"
            headers.update(metadata)
        response = self.send("PUT", target, None, what="CopyObject", headers=headers)
        status = response.status_code
        if status in (404, 412):
            return None
        if status != 200:
            raise self.fail(response, "CopyObject", key)
        # A copy can fail after its 200 header went out: the body then holds an <Error>.
        root = parse_xml(response.content, "CopyObject")
        if _local(root.tag) == "Error":
            code = _child_text(root, "Code")
            raise TransientError(self._scrub(f"S3 CopyObject {key!r}: {code} after 200"))
        return etag_of(_child_text(root, "ETag"))

    def put(
        self,
        key: str,
        content: bytes,
        *,
        if_match: str = "",
        if_none_match: str = "",
        content_type: str = "application/json",
    ) -> Written:
        """PUT a small object, conditionally; raise `Conflict` on 412 or 409 (the condition
        failed, or a concurrent conditional write won) and `ObjectGone` on 404 (``If-Match``
        on a key that is not there)."""
        md5 = base64.b64encode(hashlib.md5(content, usedforsecurity=False).digest()).decode()
        headers = {"Content-Type": content_type, "Content-MD5": md5}
        if if_match:
            headers["If-Match"] = if_match
        if if_none_match:
            headers["If-None-Match"] = if_none_match
        response = self.send("PUT", key, None, what="PutObject", headers=headers, content=content)
        status = response.status_code
        if status == 200:
            return Written(
                etag_of(response.headers.get("etag", "")),
                response.headers.get("x-amz-version-id", ""),
            )
        if status in (409, 412):
            raise Conflict(key)
        if status == 404:
            raise ObjectGone(key)
        raise self.fail(response, "PutObject", key)

    # -- tagging -----------------------------------------------------------------

    def get_tagging(self, key: str, *, version_id: str = "") -> dict[str, str] | None:
        """The tag set of a revision; None if it is gone."""
        params, _ = self._pins(version_id, "")
        params["tagging"] = None
        response = self.send("GET", key, params, what="GetObjectTagging")
        if response.status_code in (404, 405) or (response.status_code == 400 and version_id):
            return None
        if response.status_code != 200:
            raise self.fail(response, "GetObjectTagging", key)
        root = parse_xml(response.content, "GetObjectTagging")
        tags: dict[str, str] = {}
        for element in root.iter():
            if _local(element.tag) == "Tag":
                tags[_child_text(element, "Key")] = _child_text(element, "Value")
        return tags

    def put_tagging(self, key: str, tags: Mapping[str, str], *, version_id: str = "") -> bool:
        """Replace the tag set of a revision; False if it is gone."""
        from xml.sax.saxutils import escape

        params, _ = self._pins(version_id, "")
        params["tagging"] = None
        body = "".join(
            f"<Tag><Key>{escape(k)}</Key><Value>{escape(v)}</Value></Tag>" for k, v in tags.items()
        )
        content = (
            '<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<TagSet>{body}</TagSet></Tagging>"
        ).encode()
        md5 = base64.b64encode(hashlib.md5(content, usedforsecurity=False).digest()).decode()
        headers = {"Content-MD5": md5, "Content-Type": "application/xml"}
        response = self.send(
            "PUT", key, params, what="PutObjectTagging", headers=headers, content=content
        )
        if response.status_code in (404, 405) or (response.status_code == 400 and version_id):
            return False
        if response.status_code != 200:
            raise self.fail(response, "PutObjectTagging", key)
        return True

    # -- bucket ------------------------------------------------------------------

    def versioning(self) -> str:
        """The bucket's versioning status: ``Enabled``, ``Suspended`` or ``''`` (never on)."""
        response = self.send("GET", "", {"versioning": None}, what="GetBucketVersioning")
        if response.status_code != 200:
            raise self.fail(response, "GetBucketVersioning")
        return _child_text(parse_xml(response.content, "GetBucketVersioning"), "Status")

    def iter_pages(self, prefix: str, start_after: str = "") -> Iterator[Page]:
        """Every page under ``prefix`` (after ``start_after``), one request at a time."""
        page = self.list_page(prefix, start_after=start_after)
        yield page
        while page.next_token:
            page = self.list_page(prefix, token=page.next_token)
            yield page

    def close(self) -> None:
        """Close the connections."""
        self.http.close()


def endpoint_host(url: str) -> str:
    """``host[:port]`` of an endpoint URL."""
    return urlsplit(url).netloc
