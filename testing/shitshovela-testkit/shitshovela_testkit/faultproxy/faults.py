"""The faults a `FaultProxy` injects, and the `Script` that says which request or
connection meets which (plain frozen data: a test reads as a list of faults)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Literal, TypeAlias

__all__ = [
    "Answer",
    "Close",
    "Delay",
    "Drip",
    "Fault",
    "Hang",
    "Mode",
    "Pass",
    "Reset",
    "ResetAfterBytes",
    "Script",
    "ScriptLike",
    "check_fault",
]


@dataclass(frozen=True)
class Pass:
    """Forward transparently."""


@dataclass(frozen=True)
class Delay:
    """Wait ``seconds`` before forwarding the request (per connection: before anything)."""

    seconds: float

    def __post_init__(self) -> None:
        if not self.seconds >= 0:
            raise ValueError(f"Delay.seconds must be >= 0, got {self.seconds!r}")


@dataclass(frozen=True)
class Reset:
    """Reset the client connection with a TCP RST.

    With ``after_forward=False`` the request never reaches the upstream.  With
    ``after_forward=True`` the request is forwarded, the upstream's complete response is read
    and discarded, and only then is the client reset ("committed, but the response was lost").
    """

    after_forward: bool = False


@dataclass(frozen=True)
class Close:
    """Close the client connection silently (FIN, no response); see :class:`Reset`."""

    after_forward: bool = False


@dataclass(frozen=True)
class Drip:
    """Deliver the upstream's response one byte at a time, ``bytes_per_second`` bytes a second."""

    bytes_per_second: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.bytes_per_second < float("inf"):
            raise ValueError(f"Drip.bytes_per_second must be > 0, got {self.bytes_per_second!r}")


@dataclass(frozen=True)
class Hang:
    """Accept the connection or request and never answer; the socket stays open."""


@dataclass(frozen=True)
class Answer:
    """Answer an HTTP request from the proxy itself, without forwarding it upstream.

    ``retry_after`` becomes a ``Retry-After`` header: an ``int`` is sent as delta-seconds, a
    :class:`~datetime.datetime` as an HTTP date (naive values are taken as UTC) and a ``str``
    verbatim (useful for malformed values).  ``Content-Length`` is added unless given in
    ``headers``; ``Connection: close`` is added when the proxy closes the connection afterwards.
    """

    status: int
    retry_after: int | str | datetime | None = None
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not 200 <= self.status <= 599:
            raise ValueError(f"Answer.status must be a final status 200..599, got {self.status}")
        if self.body and self.status in (204, 304):
            raise ValueError(f"a {self.status} answer cannot have a body")
        if isinstance(self.retry_after, bool) or (
            isinstance(self.retry_after, int) and self.retry_after < 0
        ):
            raise ValueError(f"invalid Answer.retry_after {self.retry_after!r}")
        object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))


@dataclass(frozen=True)
class ResetAfterBytes:
    """Reset the client once ``n`` bytes from the upstream have been delivered to it.

    In ``mode="http"`` the count covers the response of the request (status line and headers
    included); per raw connection it covers everything the upstream sends.  With ``n=0`` the
    client is reset as soon as the upstream sends anything.
    """

    n: int

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError(f"ResetAfterBytes.n must be >= 0, got {self.n}")


Fault: TypeAlias = Pass | Delay | Reset | Close | Drip | Hang | Answer | ResetAfterBytes
"""Any of the fault kinds."""

FAULT_TYPES = (Pass, Delay, Reset, Close, Drip, Hang, Answer, ResetAfterBytes)

Mode: TypeAlias = Literal["http", "tcp"]
"""``"http"``: parse HTTP/1.x, count requests.  ``"tcp"``: pipe raw bytes."""


@dataclass(frozen=True)
class Script:
    """Which fault applies to which request or connection (numbers are 1-based).

    :param http: faults for the n-th HTTP request, counted across all connections.
    :param connections: faults for the n-th accepted connection.
    :param default: fault for requests (``mode="http"``) or connections (``mode="tcp"``)
        without an entry of their own.
    """

    http: Mapping[int, Fault] = field(default_factory=dict, hash=False)
    connections: Mapping[int, Fault] = field(default_factory=dict, hash=False)
    default: Fault = field(default_factory=Pass)

    def __post_init__(self) -> None:
        for name in ("http", "connections"):
            table: Mapping[int, Fault] = getattr(self, name)
            for key, fault in table.items():
                if isinstance(key, bool) or not isinstance(key, int) or key < 1:
                    raise ValueError(f"Script.{name} keys must be ints >= 1, got {key!r}")
                check_fault(fault, f"Script.{name}[{key}]")
            object.__setattr__(self, name, MappingProxyType(dict(table)))
        check_fault(self.default, "Script.default")

    @classmethod
    def sequence(
        cls, faults: Iterable[Fault], *, per: Literal["request", "connection"] = "request"
    ) -> Script:
        """Build a script whose i-th fault applies to the i-th request (or connection)."""
        table = {i: fault for i, fault in enumerate(faults, start=1)}
        return cls(http=table) if per == "request" else cls(connections=table)


ScriptLike: TypeAlias = Script | Sequence[Fault]
"""A :class:`Script` or a list of faults (see :meth:`Script.sequence`)."""


def check_fault(fault: object, where: str) -> None:
    """Raise `TypeError` unless ``fault`` is one of the fault kinds."""
    if not isinstance(fault, FAULT_TYPES):
        raise TypeError(f"{where} is not a fault: {fault!r}")
