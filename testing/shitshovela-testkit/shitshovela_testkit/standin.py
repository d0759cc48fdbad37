"""A stand-in HTTP server on loopback: the base of an emulator of a system a plugin talks to.

A subclass answers one request at a time; the base does the HTTP plumbing
(HTTP/1.1 with keep-alive, ``Content-Length`` and chunked request bodies, a
free port, a thread per connection, a clean stop that drops open connections)
and records every request with the status it got::

    class Tickets(StandInServer):
        def __init__(self) -> None:
            super().__init__()
            self.tickets: list[dict[str, Any]] = []

        def handle(self, request: Request) -> Response:
            if (request.method, request.path) == ("POST", "/tickets"):
                self.tickets.append(request.json())
                return Response(201, {"key": f"T-{len(self.tickets)}"})
            return Response(404, {"error": "no such resource"})

    with Tickets() as server:
        httpx.post(f"{server.url}/tickets", json={"title": "x"})
        assert [r.status for r in server.requests] == [201]

``Response(status, body)`` sends ``body`` as JSON; ``raw=`` sends bytes as
they are (with ``chunk_size=N``, streamed in chunks of N bytes with
``Transfer-Encoding: chunked`` instead of a ``Content-Length``, as a server
that streams a large body does); ``drop=True`` closes the connection without
an answer (a lost response). A handler that raises is answered 500 and the exception is kept
in `StandInServer.errors` (override `on_error` to answer otherwise). Put the
fault proxy (`shitshovela_testkit.faultproxy`) in front of a stand-in to add
network faults.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["RecordedRequest", "Request", "Response", "StandInServer"]


@dataclass
class Request:
    """One request as a handler sees it (header names in lower case)."""

    method: str
    path: str  # decoded, without the query
    raw_path: str  # as sent, without the query
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes

    def q(self, name: str) -> list[str]:
        """Every value of the query parameter ``name``."""
        return [v for k, v in self.query if k == name]

    def q_list(self, name: str) -> list[str]:
        """The values of ``name``, each also split at commas (``?fields=a,b&fields=c``)."""
        return [i.strip() for v in self.q(name) for i in v.split(",") if i.strip()]

    def q1(self, name: str) -> str | None:
        """The last value of ``name``, if any."""
        values = self.q(name)
        return values[-1] if values else None

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header as sent (empty if none)."""
        return self.headers.get("content-type", "")

    @property
    def media_type(self) -> str:
        """The media type alone, lower-cased (``application/json``)."""
        return self.content_type.split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        """The body parsed as JSON (raises `ValueError` when it is not)."""
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    """What a handler answers: ``body`` as JSON, or ``raw`` bytes; or ``drop`` the connection."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json"
    #: Close the connection without answering (the client sees the response lost).
    drop: bool = False
    #: Send the body with ``Transfer-Encoding: chunked``, in chunks of this many bytes.
    chunk_size: int | None = None

    def payload(self) -> bytes:
        """The bytes of the body."""
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received, and the status it was answered with."""

    method: str
    path: str  # decoded, without the query
    query: dict[str, list[str]]
    time: float  # time.monotonic() when the request's head had been read
    headers: dict[str, str]  # as sent
    body: bytes
    status: int | None = None  # None until answered; 0 when the connection was dropped


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # one answer = head + body; no 40 ms delayed-ACK stalls
    timeout = 60
    server: _Server

    def version_string(self) -> str:
        """The ``Server`` header: the stand-in's own name."""
        return self.server.standin.server_name

    def setup(self) -> None:
        super().setup()
        self.server.standin._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.standin._track(self.connection, add=False)
        with contextlib.suppress(OSError):
            super().finish()

    def _dispatch(self) -> None:
        self.server.standin._serve(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the recorded requests tell what happened."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    standin: StandInServer


class StandInServer:
    """An HTTP server on ``http://127.0.0.1:<free port>`` that answers with `handle`.

    Use it as a context manager, or call `start` and `stop`. Subclasses set
    ``server_name`` (the ``Server`` header) and ``request_class`` (a `Request`
    subclass with fields of their own, filled in by `handle`).
    """

    server_name = "StandIn/1.0"
    request_class: type[Request] = Request

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._errors: list[BaseException] = []
        self._conns: set[socket.socket] = set()
        self._httpd: _Server | None = None
        self._url = ""
        self._thread: threading.Thread | None = None

    # -- what a subclass provides --------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request (called in the connection's thread)."""
        raise NotImplementedError(f"{type(self).__name__} must answer requests with handle()")

    def on_error(self, request: Request, error: Exception) -> Response:
        """Answer a request whose handler raised: 500, and the error kept in `errors`."""
        with self._lock:
            self._errors.append(error)
        return Response(500, {"error": f"{type(self).__name__} failed: {error!r}"})

    def extra_headers(self, request: Request, response: Response) -> dict[str, str]:
        """Headers added to every answer (none by default)."""
        return {}

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Self:
        """Listen and serve in a background thread; returns ``self`` (idempotent)."""
        if self._httpd is not None:
            return self
        httpd = _Server((self._host, self._port), _Handler)
        httpd.standin = self
        self._httpd = httpd
        host, port = httpd.server_address[:2]
        self._url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop every open connection (idempotent)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return self._url

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` the server listens on (for a `FaultProxy` in front of it)."""
        host, _, port = self.url.removeprefix("http://").rpartition(":")
        return host, int(port)

    # -- what happened -------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order, with its answer's status."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the requests received so far."""
        with self._lock:
            self._requests.clear()

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised by `handle` (each answered by `on_error`)."""
        with self._lock:
            return list(self._errors)

    # -- plumbing ------------------------------------------------------------------------

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def _serve(self, h: _Handler) -> None:
        received = time.monotonic()
        try:
            body = _read_body(h)
        except (ValueError, OSError):
            h.close_connection = True
            return
        split = urlsplit(h.path)
        request = self.request_class(
            method=h.command.upper(),
            path=unquote(split.path),
            raw_path=split.path,
            query=parse_qsl(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in h.headers.items()},
            body=body,
        )
        query: dict[str, list[str]] = {}
        for k, v in request.query:
            query.setdefault(k, []).append(v)
        record = RecordedRequest(
            request.method, request.path, query, received, dict(h.headers.items()), body
        )
        with self._lock:
            index = len(self._requests)
            self._requests.append(record)
        try:
            response = self.handle(request)
        except Exception as exc:  # a bug of the stand-in: answer, and let the test see it
            response = self.on_error(request, exc)
        with self._lock:
            self._requests[index] = replace(record, status=0 if response.drop else response.status)
        if response.drop:
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
            return
        _send(h, request, response, self.extra_headers(request, response))


def _read_body(h: _Handler) -> bytes:
    """The request body, ``Content-Length`` or chunked."""
    if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            line = h.rfile.readline(65537)
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while h.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(h.rfile.read(size))
            h.rfile.readline(65537)
    length = int(h.headers.get("Content-Length") or 0)
    return h.rfile.read(length) if length > 0 else b""


def _send(h: _Handler, request: Request, response: Response, extra: dict[str, str]) -> None:
    """Write the answer (the head alone for HEAD); a client that went away is no error."""
    payload = response.payload()
    chunked = response.chunk_size is not None and response.status not in (204, 304)
    try:
        h.send_response(response.status)
        if payload or response.status not in (204, 304):
            h.send_header("Content-Type", response.content_type)
        if chunked:
            h.send_header("Transfer-Encoding", "chunked")
        else:
            h.send_header("Content-Length", str(len(payload)))
        for name, value in {**extra, **response.headers}.items():
            h.send_header(name, value)
        h.end_headers()
        if request.method != "HEAD":
            if chunked:
                _write_chunked(h, payload, max(1, response.chunk_size or 1))
            else:
                h.wfile.write(payload)
        h.wfile.flush()
    except OSError:
        h.close_connection = True


def _write_chunked(h: _Handler, payload: bytes, size: int) -> None:
    """The body in chunks of ``size`` bytes (no copy of it), then the last chunk."""
    view = memoryview(payload)
    for start in range(0, len(view), size):
        piece = view[start : start + size]
        h.wfile.write(f"{len(piece):X}\r\n".encode("ascii"))
        h.wfile.write(piece)
        h.wfile.write(b"\r\n")
    h.wfile.write(b"0\r\n\r\n")
