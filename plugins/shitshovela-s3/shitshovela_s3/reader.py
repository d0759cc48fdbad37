"""A file-like reader that streams one revision of an object with ranged GETs.

`HttpClient` reads every answer whole, so a large object is fetched one
``Range`` at a time (``CHUNK`` bytes): memory holds at most one chunk, however
large the object. Each chunk is pinned to the revision the ticket was made
from (the version id, or ``If-Match`` on the ETag): if the object is
overwritten or deleted while it streams, reading fails instead of mixing two
revisions. Each chunk is a separate request under the safety rules (rate,
deadline, retries).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

from shitshovela_core import TransientError

from .client import ObjectGone, RangeNotSatisfiable

if TYPE_CHECKING:
    from .client import S3Client

#: Bytes fetched per ranged GET while streaming an attachment.
CHUNK = 4 * 1024 * 1024


class RangedReader(io.RawIOBase):
    """Read-only, forward-only stream over one revision of an object."""

    def __init__(
        self,
        client: S3Client,
        key: str,
        *,
        size: int,
        version_id: str,
        etag: str,
        chunk: int = CHUNK,
    ) -> None:
        super().__init__()
        self._client = client
        self._key = key
        self._size = size
        self._version_id = version_id
        self._etag = "" if version_id else etag
        self._chunk = chunk
        self._position = 0
        self._buffer = b""
        self._offset = 0
        #: Ranged GETs sent so far (for tests and the bench).
        self.requests = 0

    def readable(self) -> bool:
        """Always True."""
        return True

    def _fill(self) -> None:
        last = min(self._size, self._position + self._chunk) - 1
        try:
            _, data = self._client.get(
                self._key,
                version_id=self._version_id,
                if_match=self._etag,
                first=self._position,
                last=last,
            )
        except ObjectGone:
            raise TransientError(
                f"S3: {self._key!r} changed or vanished while it was being read"
            ) from None
        except RangeNotSatisfiable:
            raise TransientError(f"S3: {self._key!r} is shorter than expected") from None
        self.requests += 1
        if not data:
            raise TransientError(f"S3: {self._key!r} ended early at byte {self._position}")
        self._buffer = data
        self._offset = 0

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Copy the next bytes into ``buffer``; 0 at the end of the object."""
        if self._position >= self._size:
            return 0
        if self._offset >= len(self._buffer):
            self._fill()
        view = memoryview(buffer).cast("B")
        count = min(len(view), len(self._buffer) - self._offset, self._size - self._position)
        view[:count] = memoryview(self._buffer)[self._offset : self._offset + count]
        self._offset += count
        self._position += count
        if self._offset >= len(self._buffer):
            self._buffer = b""
            self._offset = 0
        return count


def opener(
    client: S3Client, key: str, *, size: int, version_id: str, etag: str
) -> contextlib.AbstractContextManager[IO[bytes]]:
    """Open one revision of an object as a buffered binary stream (an `Attachment` opener)."""

    @contextlib.contextmanager
    def stream() -> Iterator[IO[bytes]]:
        raw = RangedReader(client, key, size=size, version_id=version_id, etag=etag)
        # A small buffer: chunks are already large, this only smooths tiny reads.
        with io.BufferedReader(raw, buffer_size=64 * 1024) as buffered:
            yield buffered

    return stream()
