"""Exchange-shaped identifiers: folder and message ids (REST and immutable), change keys.

Exchange's ids are opaque, case-sensitive base64url strings (``AAMkAD…AAA=``);
the emulator makes ids of the same alphabet from a counter and a per-emulator
salt, so that a client cannot read anything into them. A message has two: its
REST id, which names its current placement and is made anew each time it moves
to another folder, and its immutable id (``AAkALg…``), which stays while it
stays in the mailbox. `well_formed` tells an id of this shape from junk: Graph
answers junk with 400 ``ErrorInvalidIdMalformed``, a well-formed id it does
not know with 404 ``ErrorItemNotFound``.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import re
import threading

__all__ = ["Ids", "well_formed"]

_SHAPE = re.compile(r"^AA[A-Za-z0-9_-]{30,}={0,2}$")


def well_formed(value: str) -> bool:
    """Whether ``value`` looks like an Exchange id (it may still be unknown)."""
    return _SHAPE.match(value) is not None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


class Ids:
    """Mints the ids of one emulator (thread-safe)."""

    def __init__(self) -> None:
        self._salt = os.urandom(8)
        self._serial = itertools.count(1)
        self._lock = threading.Lock()

    def _digest(self, *parts: str, size: int = 66) -> bytes:
        with self._lock:
            n = next(self._serial)
        seed = self._salt + "\0".join((*parts, str(n))).encode("utf-8")
        out = b""
        counter = 0
        while len(out) < size:
            out += hashlib.sha256(seed + counter.to_bytes(2, "big")).digest()
            counter += 1
        return out[:size]

    def folder(self, mailbox: str) -> str:
        """A mail folder's id (folders have no separate immutable id: theirs never changes)."""
        return "AAMkA" + _b64(self._digest("folder", mailbox)) + "AAA="

    def rest(self, mailbox: str) -> str:
        """A message's REST id for one placement (a move makes a new one)."""
        return "AAMkA" + _b64(self._digest("message", mailbox)) + "AAA="

    def immutable(self, mailbox: str) -> str:
        """A message's immutable id (``Prefer: IdType="ImmutableId"``)."""
        return "AAkALg" + _b64(self._digest("immutable", mailbox, size=48)) + "AAA="

    def change_key(self, message: str, version: int) -> str:
        """The change key of one version of a message: a new one for every change."""
        digest = hashlib.sha256(self._salt + f"{message}\0{version}".encode()).digest()
        return "CQAAABYAAA" + _b64(digest[:21])

    def conversation(self, topic: str) -> str:
        """A conversation id from the normalised subject (the same thread, the same id)."""
        digest = hashlib.sha256(self._salt + topic.casefold().encode("utf-8")).digest()
        return "AAQkA" + _b64(digest * 2) + "AAA="
