"""A fault-injecting TCP / HTTP proxy for tests.

:class:`FaultProxy` listens on ``127.0.0.1`` (a free port chosen by the OS), forwards every
connection to an upstream ``(host, port)`` and, following a *script*, injects network faults:
resets, silent closes, delays, slow drips, hangs and canned HTTP answers.  It runs its own
asyncio event loop in a background thread, so it can be used from ordinary synchronous tests.

Faults are plain data (frozen dataclasses), so a test reads as a list of faults::

    from shitshovela_testkit.faultproxy import Answer, FaultProxy, Reset, Script

    script = Script(http={3: Reset(after_forward=True), 5: Answer(429, retry_after=2)})
    with FaultProxy(upstream=("127.0.0.1", 8080), script=script) as proxy:
        client = httpx.Client(base_url=proxy.url)
        ...  # request 3 reaches the server, but its response is lost (TCP RST)
        assert [e.request for e in proxy.responses] == [1, 2, 3, 4]

For a raw protocol such as IMAP, select faults per *connection* instead::

    with FaultProxy(upstream=imap_addr, mode="tcp", script=[Pass(), ResetAfterBytes(4096)]):
        ...  # the 2nd connection is reset after the server sent 4096 bytes

Selecting faults
----------------
A :class:`Script` maps 1-based numbers to faults:

* ``Script.http[n]`` applies to the *n*-th HTTP request, counted across all connections
  (``mode="http"`` only).  Requests on a keep-alive connection are counted one by one.
* ``Script.connections[n]`` applies to the *n*-th accepted TCP connection (both modes).
* ``Script.default`` applies to everything not listed: to requests in ``mode="http"``, to
  connections in ``mode="tcp"``.

A plain list ``[f1, f2, ...]`` may be passed wherever a script is expected; ``f1`` applies to
request 1 (``mode="http"``) or connection 1 (``mode="tcp"``), and so on; everything after the
list passes through.  Replace the script at any time with :meth:`FaultProxy.set_script`; it
takes effect for the next connection or request.

What each fault does
--------------------
==================================  ===========================================================
Fault                               Effect
==================================  ===========================================================
``Pass()``                          Forward transparently.
``Delay(s)``                        Per request: wait *s* seconds, then forward the request.
                                    Per connection: wait *s* seconds before connecting upstream
                                    (nothing is forwarded in either direction meanwhile).
``Reset(after_forward=False)``      Reset the client connection (RST, ``SO_LINGER`` 0) as soon
                                    as the request head (per connection: the connection)
                                    arrives; nothing reaches the upstream.
``Reset(after_forward=True)``       Forward the request, read the upstream's complete response,
                                    discard it and reset the client: the server committed the
                                    request but the client never sees the answer.  Per raw
                                    connection: reset as soon as the upstream sends anything.
``Close(after_forward=...)``        Like :class:`Reset` but closes silently with a FIN.
``Drip(bytes_per_second)``          Forward the upstream's response (status line, headers and
                                    body) one byte at a time at that rate.  Per connection: drip
                                    everything the upstream sends.
``Hang()``                          Accept and never answer: keep the socket open, read and
                                    ignore whatever the client sends.  Per connection this is
                                    also a TLS server that never completes its handshake.
``Answer(status, ...)``             Answer the HTTP request from the proxy (e.g. 429/503 with
                                    ``Retry-After``) without forwarding it upstream.
``ResetAfterBytes(n)``              Forward, but reset the client once *n* bytes of the response
                                    (per raw connection: of everything the upstream sends) have
                                    been delivered, e.g. in the middle of a large IMAP FETCH.
==================================  ===========================================================

A connection-level fault in ``mode="http"`` works as follows: ``Hang``, ``Delay`` and
``Reset``/``Close`` with ``after_forward=False`` act when the connection is accepted; all
other faults (``Drip``, ``Answer``, ``ResetAfterBytes``, ``Reset``/``Close`` with
``after_forward=True``) apply to every request on that connection that has no entry of its own
in ``Script.http``.

Observing what happened
-----------------------
``proxy.events`` is a thread-safe snapshot of :class:`ConnectionEvent` (a client connected),
:class:`RequestEvent` (an HTTP request head arrived, with its ``time.monotonic()`` arrival time,
method, target, number and the fault applied) and :class:`ResponseEvent` (the upstream started
answering a request: the request reached the server).  :func:`max_in_window` computes the
largest number of arrivals inside any sliding window, for rate-limit assertions, and
:meth:`FaultProxy.wait_for` waits for a condition on the events without sleeping.

HTTP support
------------
HTTP/1.x with keep-alive and pipelining, ``Content-Length`` and chunked bodies in both
directions, ``Connection: close``, HTTP/1.0, responses delimited by end of stream, ``HEAD``,
1xx/204/304 responses without body, ``Expect: 100-continue`` and ``101 Switching Protocols``
(after which bytes are piped unchanged).  Each client connection gets its own upstream
connection.  If the upstream cannot be reached the proxy answers ``502``.  Not supported:
``CONNECT`` tunnelling, HTTP/2 and TLS termination (TLS bytes are proxied untouched in
``mode="tcp"``).
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import socket
import struct
import sys
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from types import MappingProxyType
from typing import Any, Literal, NoReturn, TypeAlias

__all__ = [
    "Answer",
    "Close",
    "ConnectionEvent",
    "Delay",
    "Drip",
    "Event",
    "Fault",
    "FaultProxy",
    "Hang",
    "Mode",
    "Pass",
    "RequestEvent",
    "Reset",
    "ResetAfterBytes",
    "ResponseEvent",
    "Script",
    "ScriptLike",
    "max_in_window",
]

# --------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------


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

_FAULT_TYPES = (Pass, Delay, Reset, Close, Drip, Hang, Answer, ResetAfterBytes)

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
                _check_fault(fault, f"Script.{name}[{key}]")
            object.__setattr__(self, name, MappingProxyType(dict(table)))
        _check_fault(self.default, "Script.default")

    @classmethod
    def sequence(
        cls, faults: Iterable[Fault], *, per: Literal["request", "connection"] = "request"
    ) -> Script:
        """Build a script whose i-th fault applies to the i-th request (or connection)."""
        table = {i: fault for i, fault in enumerate(faults, start=1)}
        return cls(http=table) if per == "request" else cls(connections=table)


ScriptLike: TypeAlias = Script | Sequence[Fault]
"""A :class:`Script` or a list of faults (see :meth:`Script.sequence`)."""


def _check_fault(fault: object, where: str) -> None:
    if not isinstance(fault, _FAULT_TYPES):
        raise TypeError(f"{where} is not a fault: {fault!r}")


# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionEvent:
    """A client connection was accepted (``connection`` is its 1-based number)."""

    connection: int
    time: float
    fault: Fault


@dataclass(frozen=True)
class RequestEvent:
    """An HTTP request head arrived from the client (``time`` is ``time.monotonic()``)."""

    request: int
    connection: int
    time: float
    method: str
    target: str
    fault: Fault

    @property
    def request_line(self) -> str:
        """``"METHOD target"``, e.g. ``"POST /rest/api/2/issue"``."""
        return f"{self.method} {self.target}"


@dataclass(frozen=True)
class ResponseEvent:
    """The upstream began its final response to ``request``: the request reached the server."""

    request: int
    connection: int
    time: float
    status: int


Event: TypeAlias = ConnectionEvent | RequestEvent | ResponseEvent
"""Anything recorded in :attr:`FaultProxy.events`."""


def max_in_window(times: Iterable[float], window: float) -> int:
    """Return the largest number of ``times`` inside any interval ``[t, t + window)``.

    E.g. ``max_in_window([e.time for e in proxy.requests], 1.0) <= 5`` asserts that no sliding
    one-second window saw more than five requests.
    """
    if not window > 0:
        raise ValueError(f"window must be > 0, got {window!r}")
    ordered = sorted(times)
    best = 0
    low = 0
    for high, t in enumerate(ordered):
        while t - ordered[low] >= window:
            low += 1
        best = max(best, high - low + 1)
    return best


# --------------------------------------------------------------------------------------------
# The proxy
# --------------------------------------------------------------------------------------------


class FaultProxy:
    """A fault-injecting proxy running in a background thread.

    :param upstream: ``(host, port)`` to forward to.
    :param script: a :class:`Script` or a list of faults; ``None`` passes everything.
    :param mode: ``"http"`` (HTTP/1.x aware, faults per request) or ``"tcp"`` (raw bytes).
    :param host: address to listen on.
    :param port: port to listen on; ``0`` lets the OS pick a free one.

    Use it as a context manager, or call :meth:`start` and :meth:`close`.  :meth:`close`
    terminates all connections at once, including hung and dripping ones.
    """

    def __init__(
        self,
        upstream: tuple[str, int],
        script: ScriptLike | None = None,
        *,
        mode: Mode = "http",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if mode not in ("http", "tcp"):
            raise ValueError(f"mode must be 'http' or 'tcp', got {mode!r}")
        self.upstream: tuple[str, int] = upstream
        self.mode: Mode = mode
        self._host = host
        self._requested_port = port
        self._script = self._coerce(script)
        self._lock = threading.Condition()
        self._events: list[Event] = []
        self._listeners: list[Callable[[Event], Fault | None]] = []
        self._errors: list[BaseException] = []
        self._connection_count = 0
        self._request_count = 0
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._closed = False
        self._transports: weakref.WeakSet[asyncio.WriteTransport] = weakref.WeakSet()
        # asyncio holds StreamReaders only weakly and drops a connection's task when the client
        # disconnects: without a strong reference a session still relaying an upstream response
        # could be garbage-collected mid-flight.
        self._sessions: set[asyncio.Task[Any]] = set()

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        """Start listening; returns ``self``.  Raises ``OSError`` if the port cannot be bound."""
        if self._thread is not None:
            raise RuntimeError("FaultProxy already started")
        self._thread = threading.Thread(target=self._run, name="faultproxy", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            raise self._startup_error
        return self

    def close(self, timeout: float = 10.0) -> None:
        """Stop the proxy, drop every connection and join the thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # loop already gone
                loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise RuntimeError("FaultProxy thread did not stop")

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FaultProxy(upstream={self.upstream!r}, mode={self.mode!r}, port={self._port})"

    # -- addresses ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the proxy listens on."""
        if self._port is None:
            raise RuntimeError("FaultProxy is not started")
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` the proxy listens on."""
        return (self._host, self.port)

    @property
    def url(self) -> str:
        """``http://host:port`` of the proxy (no trailing slash)."""
        return f"http://{self._host}:{self.port}"

    # -- script ---------------------------------------------------------------------------------

    @property
    def script(self) -> Script:
        """The current script."""
        return self._script

    def set_script(self, script: ScriptLike | None) -> None:
        """Replace the script; applies to connections and requests that arrive afterwards."""
        self._script = self._coerce(script)

    def _coerce(self, script: ScriptLike | None) -> Script:
        if script is None:
            result = Script()
        elif isinstance(script, Script):
            result = script
        else:
            result = Script.sequence(script, per="request" if self.mode == "http" else "connection")
        if self.mode == "tcp":
            if result.http:
                raise ValueError("Script.http needs mode='http'")
            faults = [*result.connections.values(), result.default]
            if any(isinstance(f, Answer) for f in faults):
                raise ValueError("Answer needs mode='http'")
        return result

    # -- observation ----------------------------------------------------------------------------

    @property
    def events(self) -> list[Event]:
        """A snapshot of everything recorded so far, in order."""
        with self._lock:
            return list(self._events)

    @property
    def requests(self) -> list[RequestEvent]:
        """Snapshot of the HTTP requests received, in arrival order."""
        return [e for e in self.events if isinstance(e, RequestEvent)]

    @property
    def responses(self) -> list[ResponseEvent]:
        """Snapshot of the upstream responses started (requests that reached the server)."""
        return [e for e in self.events if isinstance(e, ResponseEvent)]

    @property
    def connections(self) -> list[ConnectionEvent]:
        """Snapshot of the connections accepted."""
        return [e for e in self.events if isinstance(e, ConnectionEvent)]

    @property
    def request_count(self) -> int:
        """Number of HTTP request heads received so far."""
        with self._lock:
            return self._request_count

    @property
    def connection_count(self) -> int:
        """Number of client connections accepted so far."""
        with self._lock:
            return self._connection_count

    @property
    def errors(self) -> list[BaseException]:
        """Unexpected internal errors (bugs in the proxy); network errors are not listed."""
        with self._lock:
            return list(self._errors)

    def wait_for(self, predicate: Callable[[list[Event]], bool], timeout: float = 5.0) -> bool:
        """Wait until ``predicate(events)`` is true; return ``False`` on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: predicate(list(self._events)), timeout)

    def on_event(self, listener: Callable[[Event], Fault | None]) -> None:
        """Call ``listener(event)`` for every event, synchronously in the proxy's thread,
        *before* the proxy acts on it: a `RequestEvent` before the request is forwarded,
        a `ResponseEvent` before the response reaches the client. A crash test can kill
        the client right there (e.g. "right after the k-th request reached the server").
        For a `RequestEvent` the listener may return a fault that replaces the scripted
        one (return `Hang()` to keep the request from ever reaching the server).
        Keep listeners quick; exceptions in them are recorded in `errors`."""
        with self._lock:
            self._listeners.append(listener)

    def _record(self, event: Event) -> Fault | None:
        with self._lock:
            self._events.append(event)
            self._lock.notify_all()
            listeners = list(self._listeners)
        override: Fault | None = None
        for listener in listeners:
            try:
                chosen = listener(event)
            except Exception as exc:
                with self._lock:
                    self._errors.append(exc)
                continue
            if chosen is not None:
                _check_fault(chosen, "a listener's fault")
                override = chosen
        return override

    def _next_connection(self) -> int:
        with self._lock:
            self._connection_count += 1
            return self._connection_count

    def _next_request(self) -> int:
        with self._lock:
            self._request_count += 1
            return self._request_count

    # -- event loop thread ----------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._ready.set()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            server = await asyncio.start_server(
                self._on_client, self._host, self._requested_port, limit=_LIMIT
            )
        except OSError as exc:
            self._startup_error = exc
            return
        self._port = int(server.sockets[0].getsockname()[1])
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            server.close()
            me = asyncio.current_task()
            while others := [t for t in asyncio.all_tasks() if t is not me]:
                for task in others:
                    task.cancel()
                await asyncio.gather(*others, return_exceptions=True)
            for transport in list(self._transports):
                transport.abort()
            await server.wait_closed()
            for _ in range(3):  # let connection_lost callbacks close the sockets
                await asyncio.sleep(0)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._stop is not None
        if self._stop.is_set():
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        session = _Session(self, reader, writer)
        try:
            await session.run()
        except asyncio.CancelledError:
            pass  # the proxy is shutting down; _main aborts the transports
        except (_Abort, OSError, EOFError, asyncio.LimitOverrunError, _ProtocolError):
            pass  # the connection ended, deliberately or because a peer went away
        except Exception as exc:  # a bug: keep it for the tests to see
            with self._lock:
                self._errors.append(exc)
        finally:
            session.teardown()
            self._sessions.discard(task)


# --------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------

_LIMIT = 1 << 20  # maximum size of a header block
_CHUNK = 1 << 16
_LINGER_RESET = struct.pack("ii", 1, 0)

_Send: TypeAlias = Callable[[bytes], Awaitable[None]]


class _Abort(Exception):
    """The connection was terminated on purpose; stop handling it."""


class _ProtocolError(Exception):
    """Malformed HTTP."""


if sys.platform == "linux":
    import fcntl
    import termios

    def _unacked_bytes(fd: int) -> int:
        """Bytes in the socket's send queue not yet acknowledged by the peer."""
        buf = fcntl.ioctl(fd, termios.TIOCOUTQ, b"\0\0\0\0")
        return int(struct.unpack("i", buf)[0])

else:  # pragma: no cover - best effort elsewhere

    def _unacked_bytes(fd: int) -> int:
        """Unknown on this platform: report an empty send queue."""
        return 0


@dataclass
class _Message:
    """An HTTP request or response head."""

    raw: bytes
    first_line: str
    headers: list[tuple[str, str]]

    def values(self, name: str) -> list[str]:
        """Comma-separated values of all headers called ``name`` (lower case), lower-cased."""
        out: list[str] = []
        for key, value in self.headers:
            if key == name:
                out.extend(v.strip().lower() for v in value.split(",") if v.strip())
        return out


@dataclass(frozen=True)
class _Framing:
    """How a message body is delimited."""

    kind: Literal["none", "length", "chunked", "eof"]
    length: int = 0


_NO_BODY = _Framing("none")


def _parse_head(raw: bytes) -> _Message:
    lines = raw.decode("latin-1").split("\r\n")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _ProtocolError(f"bad header line {line!r}")
        headers.append((name.lower(), value.strip()))
    return _Message(raw, lines[0], headers)


def _body_framing(msg: _Message, *, request: bool) -> _Framing:
    codings = msg.values("transfer-encoding")
    if codings:
        if codings[-1] == "chunked":
            return _Framing("chunked")
        if request:
            raise _ProtocolError("request body without chunked framing")
        return _Framing("eof")
    lengths = set(msg.values("content-length"))
    if len(lengths) > 1:
        raise _ProtocolError("conflicting Content-Length headers")
    if lengths:
        text = lengths.pop()
        if not text.isdigit():
            raise _ProtocolError(f"bad Content-Length {text!r}")
        length = int(text)
        return _Framing("length", length) if length else _NO_BODY
    return _NO_BODY if request else _Framing("eof")


def _keeps_alive(version: str, msg: _Message) -> bool:
    tokens = msg.values("connection")
    if "close" in tokens:
        return False
    return version != "HTTP/1.0" or "keep-alive" in tokens


@dataclass
class _Request:
    msg: _Message
    method: str
    target: str
    framing: _Framing
    keep_alive: bool
    expects_continue: bool


def _parse_request(raw: bytes) -> _Request:
    msg = _parse_head(raw)
    parts = msg.first_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _ProtocolError(f"bad request line {msg.first_line!r}")
    method, target, version = parts
    return _Request(
        msg=msg,
        method=method,
        target=target,
        framing=_body_framing(msg, request=True),
        keep_alive=_keeps_alive(version, msg),
        expects_continue="100-continue" in msg.values("expect"),
    )


@dataclass
class _Response:
    msg: _Message
    status: int
    keep_alive: bool


def _parse_response(raw: bytes) -> _Response:
    msg = _parse_head(raw)
    parts = msg.first_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise _ProtocolError(f"bad status line {msg.first_line!r}")
    return _Response(msg, int(parts[1]), _keeps_alive(parts[0], msg))


async def _read_head(reader: asyncio.StreamReader) -> bytes | None:
    """Read a header block; ``None`` on a clean end of stream before it starts."""
    while True:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise
            return None
        raw = raw.lstrip(b"\r\n")  # tolerate stray CRLFs between messages
        if raw:
            return raw


async def _relay_exactly(reader: asyncio.StreamReader, size: int, send: _Send) -> None:
    while size > 0:
        data = await reader.read(min(size, _CHUNK))
        if not data:
            raise asyncio.IncompleteReadError(b"", size)
        size -= len(data)
        await send(data)


async def _relay_chunked(reader: asyncio.StreamReader, send: _Send) -> None:
    while True:
        line = await reader.readuntil(b"\r\n")
        await send(line)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _ProtocolError(f"bad chunk size line {line!r}") from None
        if size == 0:
            while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
                await send(trailer)
            await send(trailer)
            return
        await _relay_exactly(reader, size + 2, send)


async def _relay_body(reader: asyncio.StreamReader, framing: _Framing, send: _Send) -> None:
    if framing.kind == "length":
        await _relay_exactly(reader, framing.length, send)
    elif framing.kind == "chunked":
        await _relay_chunked(reader, send)
    elif framing.kind == "eof":
        while data := await reader.read(_CHUNK):
            await send(data)


async def _discard(data: bytes) -> None:
    """A sink that drops everything."""


async def _run_all(*coros: Coroutine[Any, Any, None]) -> None:
    """Run coroutines concurrently; on the first failure cancel the rest and re-raise."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                await task  # re-raise
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _format_retry_after(value: int | str | datetime) -> str:
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return format_datetime(moment, usegmt=True)
    return str(value)


def _answer_bytes(answer: Answer, *, head_only: bool, close: bool) -> bytes:
    try:
        reason = http.HTTPStatus(answer.status).phrase
    except ValueError:
        reason = "Status"
    names = {name.lower() for name in answer.headers}
    lines = [f"HTTP/1.1 {answer.status} {reason}"]
    if "content-length" not in names and answer.status not in (204, 304):
        lines.append(f"Content-Length: {len(answer.body)}")
    if answer.retry_after is not None and "retry-after" not in names:
        lines.append(f"Retry-After: {_format_retry_after(answer.retry_after)}")
    lines.extend(f"{name}: {value}" for name, value in answer.headers.items())
    if close and "connection" not in names:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + answer.body


class _Sink:
    """Writes upstream bytes to the client, applying Drip / ResetAfterBytes / reset-on-data."""

    def __init__(
        self,
        session: _Session,
        *,
        rate: float | None = None,
        limit: int | None = None,
        close_on_data: Reset | Close | None = None,
    ) -> None:
        self._session = session
        self._rate = rate
        self._limit = limit
        self._close_on_data = close_on_data
        self._sent = 0
        self._next_due = 0.0

    @classmethod
    def for_fault(cls, session: _Session, fault: Fault) -> _Sink:
        """The sink that applies ``fault`` to the bytes the upstream sends."""
        if isinstance(fault, Drip):
            return cls(session, rate=fault.bytes_per_second)
        if isinstance(fault, ResetAfterBytes):
            return cls(session, limit=fault.n)
        if isinstance(fault, Reset | Close) and fault.after_forward:
            return cls(session, close_on_data=fault)
        return cls(session)

    async def __call__(self, data: bytes) -> None:
        if not data:
            return
        session = self._session
        if self._close_on_data is not None:
            if isinstance(self._close_on_data, Reset):
                session.reset_client()
            else:
                await session.close_client()
            raise _Abort
        if self._limit is not None:
            part = data[: self._limit - self._sent]
            if part:
                await session.write_client(part)
                self._sent += len(part)
            if self._sent >= self._limit:
                await session.wait_delivered()
                session.reset_client()
                raise _Abort
        elif self._rate is not None:
            await self._drip(data, self._rate)
        else:
            await session.write_client(data)

    async def _drip(self, data: bytes, rate: float) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / rate
        for i in range(len(data)):
            now = loop.time()
            if now - self._next_due > interval:  # first byte, or after an idle gap
                self._next_due = now
            elif self._next_due > now:
                await asyncio.sleep(self._next_due - now)
            await self._session.write_client(data[i : i + 1])
            self._next_due += interval


class _Session:
    """One client connection (and its upstream connection, if any)."""

    def __init__(
        self, proxy: FaultProxy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.proxy = proxy
        self.reader = reader
        self.writer = writer
        self.number = 0
        self.upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        # With no write buffer, drain() returns once the kernel has the bytes; needed for Drip
        # pacing and so that a reset never discards bytes that should have been delivered.
        writer.transport.set_write_buffer_limits(high=0)
        proxy._transports.add(writer.transport)

    # -- client side ----------------------------------------------------------------------------

    async def write_client(self, data: bytes) -> None:
        """Send bytes to the client."""
        self.writer.write(data)
        await self.writer.drain()

    async def wait_delivered(self, timeout: float = 2.0) -> None:
        """Wait (best effort) until the client acknowledged everything sent to it."""
        sock = self.writer.get_extra_info("socket")
        if sock is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        with contextlib.suppress(OSError):
            while _unacked_bytes(sock.fileno()) > 0 and loop.time() < deadline:
                await asyncio.sleep(0.001)

    def reset_client(self) -> None:
        """Abort the client connection with a TCP RST."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        self.writer.transport.abort()

    async def close_client(self) -> None:
        """Close the client connection with a FIN after flushing pending output."""
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()

    async def hang(self) -> NoReturn:
        """Never answer: swallow client input until the client (or the proxy) gives up."""
        while await self.reader.read(_CHUNK):
            pass
        await self.close_client()
        raise _Abort

    def teardown(self) -> None:
        """Release both connections (graceful close; the proxy aborts stragglers on shutdown)."""
        if not self.writer.transport.is_closing():
            self.writer.transport.close()
        self.drop_upstream()

    # -- upstream side --------------------------------------------------------------------------

    async def connect_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """The live upstream connection, opened if needed; ``None`` if unreachable."""
        if self.upstream is not None:
            up_reader, up_writer = self.upstream
            if not up_reader.at_eof() and not up_writer.is_closing():
                return self.upstream
            self.drop_upstream()
        host, port = self.proxy.upstream
        try:
            self.upstream = await asyncio.open_connection(host, port, limit=_LIMIT)
        except OSError:
            return None
        self.proxy._transports.add(self.upstream[1].transport)
        return self.upstream

    def drop_upstream(self) -> None:
        """Close the upstream connection, if any."""
        if self.upstream is not None:
            self.upstream[1].close()
            self.upstream = None

    # -- main -----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Apply the connection-level fault, then serve the connection."""
        proxy = self.proxy
        self.number = proxy._next_connection()
        script = proxy.script
        fault = script.connections.get(self.number)
        if fault is None:
            fault = script.default if proxy.mode == "tcp" else Pass()
        proxy._record(ConnectionEvent(self.number, time.monotonic(), fault))
        if isinstance(fault, Hang):
            await self.hang()
        if isinstance(fault, Reset) and not fault.after_forward:
            self.reset_client()
            raise _Abort
        if isinstance(fault, Close) and not fault.after_forward:
            await self.close_client()
            raise _Abort
        if isinstance(fault, Delay):
            await asyncio.sleep(fault.seconds)
        if proxy.mode == "tcp":
            upstream = await self.connect_upstream()
            if upstream is None:
                await self.close_client()
                raise _Abort
            await self.pipe(*upstream, _Sink.for_fault(self, fault))
        else:
            await self.serve_http(None if isinstance(fault, Pass | Delay) else fault)

    async def pipe(
        self, up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter, sink: _Sink
    ) -> NoReturn:
        """Copy bytes both ways until both directions ended, honouring half-closes."""

        async def client_to_upstream() -> None:
            while data := await self.reader.read(_CHUNK):
                up_writer.write(data)
                await up_writer.drain()
            with contextlib.suppress(OSError):
                up_writer.write_eof()

        async def upstream_to_client() -> None:
            while data := await up_reader.read(_CHUNK):
                await sink(data)
            with contextlib.suppress(OSError):
                self.writer.write_eof()

        await _run_all(client_to_upstream(), upstream_to_client())
        await self.close_client()
        raise _Abort

    async def serve_http(self, connection_fault: Fault | None) -> None:
        """Serve HTTP requests one after another until the connection ends."""
        proxy = self.proxy
        while True:
            raw = await _read_head(self.reader)
            if raw is None:
                await self.close_client()
                return
            try:
                request = _parse_request(raw)
            except _ProtocolError:
                await self.write_client(_answer_bytes(Answer(400), head_only=False, close=True))
                await self.close_client()
                raise
            script = proxy.script
            number = proxy._next_request()
            fault = script.http.get(
                number, script.default if connection_fault is None else connection_fault
            )
            override = proxy._record(
                RequestEvent(
                    request=number,
                    connection=self.number,
                    time=time.monotonic(),
                    method=request.method,
                    target=request.target,
                    fault=fault,
                )
            )
            fault = fault if override is None else override
            if not await self.serve_request(request, number, fault):
                await self.close_client()
                return

    async def serve_request(self, request: _Request, number: int, fault: Fault) -> bool:
        """Apply ``fault`` to one request; return whether the connection stays open."""
        body_unsent = request.expects_continue and request.framing.kind != "none"
        if isinstance(fault, Hang):
            await self.hang()
        if isinstance(fault, Reset) and not fault.after_forward:
            self.reset_client()
            raise _Abort
        if isinstance(fault, Close) and not fault.after_forward:
            if not body_unsent:  # unread input would turn the FIN into a RST
                await _relay_body(self.reader, request.framing, _discard)
            await self.close_client()
            raise _Abort
        if isinstance(fault, Answer):
            return await self.answer(request, fault)
        if isinstance(fault, Delay):
            await asyncio.sleep(fault.seconds)
        return await self.forward(request, number, fault)

    async def answer(self, request: _Request, answer: Answer) -> bool:
        """Answer ``request`` from the proxy; return whether the connection stays open.

        The request body is read and dropped first, unless the client waits for a
        ``100 Continue`` before sending it: then the answer closes the connection.
        """
        body_unsent = request.expects_continue and request.framing.kind != "none"
        if not body_unsent:
            await _relay_body(self.reader, request.framing, _discard)
        tokens = [v.lower() for k, v in answer.headers.items() if k.lower() == "connection"]
        close = body_unsent or not request.keep_alive or any("close" in t for t in tokens)
        head_only = request.method == "HEAD"
        await self.write_client(_answer_bytes(answer, head_only=head_only, close=close))
        return not close

    async def forward(self, request: _Request, number: int, fault: Fault) -> bool:
        """Forward ``request`` upstream and relay (or swallow) the response."""
        upstream = await self.connect_upstream()
        if upstream is None:
            body = f"faultproxy: upstream {self.proxy.upstream} unreachable\n".encode()
            return await self.answer(
                request, Answer(502, body=body, headers={"Connection": "close"})
            )
        up_reader, up_writer = upstream
        swallow = isinstance(fault, Reset | Close)  # after_forward=True here
        final_sink: _Send = _discard if swallow else _Sink.for_fault(self, fault)
        interim_sink: _Send = self.write_client if swallow else final_sink

        async def to_upstream(data: bytes) -> None:
            up_writer.write(data)
            await up_writer.drain()

        await to_upstream(request.msg.raw)
        body_task: asyncio.Task[None] | None = None
        if request.framing.kind != "none":
            body_task = asyncio.ensure_future(
                _relay_body(self.reader, request.framing, to_upstream)
            )
        response_task = asyncio.ensure_future(
            self.relay_response(request, number, up_reader, final_sink, interim_sink)
        )
        try:
            if body_task is not None:
                await asyncio.wait([body_task, response_task], return_when=asyncio.FIRST_COMPLETED)
                if body_task.done():
                    body_task.result()  # re-raise if the client went away mid-body
            status, keep_alive = await response_task
            body_complete = body_task is None or body_task.done()
        finally:
            for task in (body_task, response_task):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

        if isinstance(fault, Reset):
            self.reset_client()
            raise _Abort
        if isinstance(fault, Close):
            await self.close_client()
            raise _Abort
        if status == 101:
            await self.pipe(up_reader, up_writer, _Sink(self))
        if not (keep_alive and body_complete):
            self.drop_upstream()
            return False
        return request.keep_alive

    async def relay_response(
        self,
        request: _Request,
        number: int,
        up_reader: asyncio.StreamReader,
        sink: _Send,
        interim_sink: _Send,
    ) -> tuple[int, bool]:
        """Relay interim and final response; return (status, upstream keeps alive)."""
        while True:
            raw = await _read_head(up_reader)
            if raw is None:  # the upstream closed without answering: mirror that
                await self.close_client()
                raise _Abort
            response = _parse_response(raw)
            if 100 <= response.status < 200 and response.status != 101:
                await interim_sink(raw)
                continue
            break
        self.proxy._record(ResponseEvent(number, self.number, time.monotonic(), response.status))
        await sink(raw)
        if response.status == 101:
            return 101, False
        if request.method == "HEAD" or response.status in (204, 304):
            framing = _NO_BODY
        else:
            framing = _body_framing(response.msg, request=False)
        await _relay_body(up_reader, framing, sink)
        return response.status, response.keep_alive and framing.kind != "eof"
