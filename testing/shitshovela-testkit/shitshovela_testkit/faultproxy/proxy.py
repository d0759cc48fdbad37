"""The proxy itself: an asyncio loop in a background thread that forwards each client
connection to the upstream and applies the script's faults (see the package's guide)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import sys
import threading
import time
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

from . import http1
from .events import ConnectionEvent, Event, RequestEvent, ResponseEvent
from .faults import (
    Answer,
    Close,
    Delay,
    Drip,
    Fault,
    Hang,
    Mode,
    Pass,
    Reset,
    ResetAfterBytes,
    Script,
    ScriptLike,
    check_fault,
)

__all__ = ["FaultProxy"]

_LINGER_RESET = struct.pack("ii", 1, 0)


class _Abort(Exception):
    """The connection was terminated on purpose; stop handling it."""


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
                check_fault(chosen, "a listener's fault")
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
                self._on_client, self._host, self._requested_port, limit=http1.LIMIT
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
        except (_Abort, OSError, EOFError, asyncio.LimitOverrunError, http1.ProtocolError):
            pass  # the connection ended, deliberately or because a peer went away
        except Exception as exc:  # a bug: keep it for the tests to see
            with self._lock:
                self._errors.append(exc)
        finally:
            session.teardown()
            self._sessions.discard(task)


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
        while await self.reader.read(http1.CHUNK):
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
            self.upstream = await asyncio.open_connection(host, port, limit=http1.LIMIT)
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
            while data := await self.reader.read(http1.CHUNK):
                up_writer.write(data)
                await up_writer.drain()
            with contextlib.suppress(OSError):
                up_writer.write_eof()

        async def upstream_to_client() -> None:
            while data := await up_reader.read(http1.CHUNK):
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
            raw = await http1.read_head(self.reader)
            if raw is None:
                await self.close_client()
                return
            try:
                request = http1.parse_request(raw)
            except http1.ProtocolError:
                await self.write_client(
                    http1.answer_bytes(Answer(400), head_only=False, close=True)
                )
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

    async def serve_request(self, request: http1.Request, number: int, fault: Fault) -> bool:
        """Apply ``fault`` to one request; return whether the connection stays open."""
        body_unsent = request.expects_continue and request.framing.kind != "none"
        if isinstance(fault, Hang):
            await self.hang()
        if isinstance(fault, Reset) and not fault.after_forward:
            self.reset_client()
            raise _Abort
        if isinstance(fault, Close) and not fault.after_forward:
            if not body_unsent:  # unread input would turn the FIN into a RST
                await http1.relay_body(self.reader, request.framing, http1.discard)
            await self.close_client()
            raise _Abort
        if isinstance(fault, Answer):
            return await self.answer(request, fault)
        if isinstance(fault, Delay):
            await asyncio.sleep(fault.seconds)
        return await self.forward(request, number, fault)

    async def answer(self, request: http1.Request, answer: Answer) -> bool:
        """Answer ``request`` from the proxy; return whether the connection stays open.

        The request body is read and dropped first, unless the client waits for a
        ``100 Continue`` before sending it: then the answer closes the connection.
        """
        body_unsent = request.expects_continue and request.framing.kind != "none"
        if not body_unsent:
            await http1.relay_body(self.reader, request.framing, http1.discard)
        tokens = [v.lower() for k, v in answer.headers.items() if k.lower() == "connection"]
        close = body_unsent or not request.keep_alive or any("close" in t for t in tokens)
        head_only = request.method == "HEAD"
        await self.write_client(http1.answer_bytes(answer, head_only=head_only, close=close))
        return not close

    async def forward(self, request: http1.Request, number: int, fault: Fault) -> bool:
        """Forward ``request`` upstream and relay (or swallow) the response."""
        upstream = await self.connect_upstream()
        if upstream is None:
            body = f"faultproxy: upstream {self.proxy.upstream} unreachable\n".encode()
            return await self.answer(
                request, Answer(502, body=body, headers={"Connection": "close"})
            )
        up_reader, up_writer = upstream
        swallow = isinstance(fault, Reset | Close)  # after_forward=True here
        final_sink: http1.Send = http1.discard if swallow else _Sink.for_fault(self, fault)
        interim_sink: http1.Send = self.write_client if swallow else final_sink

        async def to_upstream(data: bytes) -> None:
            up_writer.write(data)
            await up_writer.drain()

        await to_upstream(request.msg.raw)
        body_task: asyncio.Task[None] | None = None
        if request.framing.kind != "none":
            body_task = asyncio.ensure_future(
                http1.relay_body(self.reader, request.framing, to_upstream)
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
        request: http1.Request,
        number: int,
        up_reader: asyncio.StreamReader,
        sink: http1.Send,
        interim_sink: http1.Send,
    ) -> tuple[int, bool]:
        """Relay interim and final response; return (status, upstream keeps alive)."""
        while True:
            raw = await http1.read_head(up_reader)
            if raw is None:  # the upstream closed without answering: mirror that
                await self.close_client()
                raise _Abort
            response = http1.parse_response(raw)
            if 100 <= response.status < 200 and response.status != 101:
                await interim_sink(raw)
                continue
            break
        self.proxy._record(ResponseEvent(number, self.number, time.monotonic(), response.status))
        await sink(raw)
        if response.status == 101:
            return 101, False
        if request.method == "HEAD" or response.status in (204, 304):
            framing = http1.NO_BODY
        else:
            framing = http1.body_framing(response.msg, request=False)
        await http1.relay_body(up_reader, framing, sink)
        return response.status, response.keep_alive and framing.kind != "eof"
