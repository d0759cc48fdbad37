"""Keys the source writes: S3's 1,024-byte limit, and the names the job keeps for itself.

S3 refuses a key longer than 1,024 bytes of UTF-8 (``KeyTooLongError``; moto does
not check). A set-aside or done copy is named ``SET_ASIDE_PREFIX`` (or
``DONE_PREFIX``) + the key without ``PREFIX``, which is longer than the key it
comes from when that prefix is the longer one: a key near the limit could then
never be copied, and the run would stop at it on every run. `fit_key` keeps
such a name whole when it fits and otherwise cuts the part after the prefix
(at a character boundary) and ends it with ``~`` and a hash of the full name, so
two long keys never share a copy and the same key always gets the same copy
name (a copy written again after a crash replaces itself). The full original
key then travels in the copy's metadata (`original_key_metadata`).

The run lease (`shitshovela_s3.lease`) is one object per instance,
``PREFIX + ".shitshovela-lease-" + INSTANCE``; the listing never yields a key
that starts with ``PREFIX + LEASE_NAME``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from urllib.parse import quote

#: S3's limit on a key, in bytes of UTF-8.
MAX_KEY_BYTES = 1024
#: S3's limit on an object's user-defined metadata: names (without ``x-amz-meta-``)
#: and values, in bytes.
MAX_METADATA_BYTES = 2048
#: Metadata of a copy whose name was shortened: the original key, percent-encoded.
ORIGINAL_KEY_META = "x-amz-meta-shitshovela-original-key"
#: Metadata of a set-aside copy that has no room for the reason tag (10 tags already).
REASON_META = "x-amz-meta-shitshovela-set-aside-reason"
#: Keys under PREFIX starting with this are the job's own (the lease), never items.
LEASE_NAME = ".shitshovela-lease-"
_META = "x-amz-meta-"


def lease_key(prefix: str, instance: str) -> str:
    """The key of ``instance``'s run lease: inside PREFIX, where the job may write."""
    return f"{prefix}{LEASE_NAME}{instance}"


def fit_key(prefix: str, rest: str) -> str:
    """``prefix + rest``, shortened to S3's key limit when it is longer (see the module
    docstring); ``prefix`` is always kept whole."""
    key = prefix + rest
    raw = key.encode()
    if len(raw) <= MAX_KEY_BYTES:
        return key
    mark = "~" + hashlib.sha256(raw).hexdigest()[:32]
    room = MAX_KEY_BYTES - len(prefix.encode()) - len(mark)
    kept = rest.encode()[: max(room, 0)].decode("utf-8", errors="ignore")
    return prefix + kept + mark


def metadata_bytes(headers: Iterable[tuple[str, str]]) -> int:
    """What ``x-amz-meta-*`` headers count against S3's 2 KB of user-defined metadata."""
    return sum(
        len(name[len(_META) :].encode()) + len(value.encode())
        for name, value in headers
        if name.lower().startswith(_META)
    )


def original_key_metadata(key: str) -> str:
    """The original key as a metadata value: percent-encoded UTF-8 (ASCII, ``/`` kept)."""
    return quote(key, safe="/")
