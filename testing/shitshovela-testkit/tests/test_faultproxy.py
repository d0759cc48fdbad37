"""Tests for the fault-injecting proxy in ``shitshovela_testkit.faultproxy``.

Each test starts a tiny upstream in-process (an HTTP server or a raw banner/echo server), puts a
:class:`FaultProxy` in front of it and talks to the proxy with ``httpx`` or plain sockets.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from shitshovela_testkit.faultproxy import (
    Answer,
    Close,
    Delay,
    Drip,
    Fault,
    FaultProxy,
    Hang,
    Pass,
    RequestEvent,
    Reset,
    ResetAfterBytes,
    ResponseEvent,
    Script,
    max_in_window,
)

BODY = b"hello from upstream!"  # 20 bytes
CREATED = b'{"key": "T-1"}'
BANNER = b"* OK test server ready\r\n"
BIG = bytes(range(256)) * 40  # what the raw server sends for "BIG"
TIMEOUT = httpx.Timeout(2.0)


# --------------------------------------------------------------------------------------------
# Upstream servers
# --------------------------------------------------------------------------------------------


class _UpstreamHTTP(ThreadingHTTPServer):
    """An HTTP/1.1 keep-alive server that records every request it handles."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self._lock = threading.Lock()
        self._hits: list[tuple[str, str, bytes]] = []

    def record(self, method: str, path: str, body: bytes) -> None:
        with self._lock:
            self._hits.append((method, path, body))

    @property
    def hits(self) -> list[tuple[str, str, bytes]]:
        with self._lock:
            return list(self._hits)

    @property
    def count(self) -> int:
        return len(self.hits)

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _UpstreamHTTP

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b""):
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def _reply(self, status: int, body: bytes = b"", *, length: bool = True) -> None:
        self.send_response(status)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        body = self._read_body() if self.command in ("POST", "PUT") else b""
        self.server.record(self.command, self.path, body)
        if self.path == "/create":
            self._reply(201, CREATED)
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(
                b"5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nchunks\r\n0\r\nX-Trailer: 1\r\n\r\n"
            )
        elif self.path in ("/204", "/304"):
            self._reply(int(self.path[1:]), length=False)
        elif self.path == "/eof":  # body delimited by the end of the connection
            self.close_connection = True
            self._reply(200, BODY, length=False)
        else:
            self._reply(200, BODY)

    do_GET = do_HEAD = do_POST = do_PUT = _handle


class _BannerEcho(socketserver.BaseRequestHandler):
    """IMAP-ish: a banner, then echo lines; ``BIG`` answers with a large blob."""

    request: socket.socket

    def handle(self) -> None:
        try:
            self.request.sendall(BANNER)
            while data := self.request.recv(4096):
                self.request.sendall(BIG if data == b"BIG\r\n" else data)
        except OSError:
            pass


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def upstream() -> Iterator[_UpstreamHTTP]:
    server = _UpstreamHTTP()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def tcp_upstream() -> Iterator[tuple[str, int]]:
    server = _TCPServer(("127.0.0.1", 0), _BannerEcho)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield ("127.0.0.1", server.server_address[1])
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture(autouse=True)
def _no_leaked_proxy_threads() -> Iterator[None]:
    yield
    assert [t for t in threading.enumerate() if t.name == "faultproxy"] == []


# --------------------------------------------------------------------------------------------
# Socket helpers
# --------------------------------------------------------------------------------------------


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=2.0)


def _request(method: str, path: str, body: bytes = b"", *, close: bool = False) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: upstream\r\n"
    if body or method == "POST":
        head += f"Content-Length: {len(body)}\r\n"
    if close:
        head += "Connection: close\r\n"
    return (head + "\r\n").encode() + body


def _recv_all(sock: socket.socket) -> tuple[bytes, str]:
    """Read until the peer ends the connection; return the data and ``"fin"`` or ``"rst"``."""
    chunks: list[bytes] = []
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            return b"".join(chunks), "rst"
        if not data:
            return b"".join(chunks), "fin"
        chunks.append(data)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, f"connection ended after {data!r}"
        data += chunk
    return data


def _recv_head(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n\r\n"):
        data += _recv_exactly(sock, 1)
    return data


# --------------------------------------------------------------------------------------------
# HTTP mode
# --------------------------------------------------------------------------------------------


def test_pass_forwards_and_records_the_request(upstream: _UpstreamHTTP) -> None:
    with FaultProxy(upstream.address) as proxy:
        response = httpx.get(proxy.url + "/hello?x=1", timeout=TIMEOUT)
    assert (response.status_code, response.content) == (200, BODY)
    assert upstream.hits == [("GET", "/hello?x=1", b"")]
    [request] = proxy.requests
    assert (request.request, request.connection, request.fault) == (1, 1, Pass())
    assert request.request_line == "GET /hello?x=1"
    assert [(e.request, e.status) for e in proxy.responses] == [(1, 200)]
    assert (proxy.connection_count, proxy.request_count, proxy.errors) == (1, 1, [])


def test_keep_alive_requests_are_numbered_and_faulted_one_by_one(upstream: _UpstreamHTTP) -> None:
    script = Script(http={2: Answer(503, retry_after=1), 3: Reset(after_forward=True)})
    with (
        FaultProxy(upstream.address, script) as proxy,
        httpx.Client(base_url=proxy.url, timeout=TIMEOUT) as client,
    ):
        first, second = client.get("/1"), client.get("/2")
        with pytest.raises(httpx.ReadError):
            client.get("/3")
        fourth, fifth = client.get("/4"), client.get("/5")
    assert [r.status_code for r in (first, second, fourth, fifth)] == [200, 503, 200, 200]
    assert second.headers["Retry-After"] == "1"
    requests = proxy.requests
    assert [e.request for e in requests] == [1, 2, 3, 4, 5]
    assert [e.connection for e in requests] == [1, 1, 1, 2, 2]  # the reset killed connection 1
    assert [e.fault for e in requests] == [
        Pass(),
        Answer(503, retry_after=1),
        Reset(after_forward=True),
        Pass(),
        Pass(),
    ]
    assert [path for _, path, _ in upstream.hits] == ["/1", "/3", "/4", "/5"]
    assert [e.request for e in proxy.responses] == [1, 3, 4, 5]
    times = [e.time for e in requests]
    assert times == sorted(times)
    assert proxy.errors == []


def test_reset_after_forward_commits_but_loses_the_response(upstream: _UpstreamHTTP) -> None:
    with FaultProxy(upstream.address, [Reset(after_forward=True)]) as proxy:
        with pytest.raises(httpx.ReadError):
            httpx.post(proxy.url + "/create", content=b'{"title": "x"}', timeout=TIMEOUT)
        assert proxy.wait_for(lambda events: any(isinstance(e, ResponseEvent) for e in events))
    assert upstream.hits == [("POST", "/create", b'{"title": "x"}')]
    assert [(e.request, e.status) for e in proxy.responses] == [(1, 201)]


def test_reset_before_forward_never_reaches_upstream(upstream: _UpstreamHTTP) -> None:
    with FaultProxy(upstream.address, [Reset()]) as proxy:
        # the RST may hit httpx while it still writes the body: it then reports an empty reply
        with pytest.raises(httpx.TransportError):
            httpx.post(proxy.url + "/create", content=b"{}", timeout=TIMEOUT)
        assert [e.fault for e in proxy.requests] == [Reset()]
    assert upstream.hits == []
    assert proxy.responses == []


def test_close_gives_the_client_an_empty_reply(upstream: _UpstreamHTTP) -> None:
    with FaultProxy(upstream.address, [Close(), Close(after_forward=True)]) as proxy:
        for _ in range(2):
            with pytest.raises(httpx.RemoteProtocolError, match="without sending"):
                httpx.post(proxy.url + "/create", content=b"{}", timeout=TIMEOUT)
    assert upstream.hits == [("POST", "/create", b"{}")]  # only the after_forward one
    assert [e.request for e in proxy.responses] == [2]


@pytest.mark.parametrize(
    ("fault", "ending", "reached_upstream"),
    [
        (Reset(), "rst", 0),
        (Reset(after_forward=True), "rst", 1),
        (Close(), "fin", 0),
        (Close(after_forward=True), "fin", 1),
    ],
)
def test_reset_sends_rst_and_close_sends_fin(
    upstream: _UpstreamHTTP, fault: Fault, ending: str, reached_upstream: int
) -> None:
    with FaultProxy(upstream.address, [fault]) as proxy, _connect(proxy.port) as sock:
        sock.sendall(_request("POST", "/create", b"{}"))
        assert _recv_all(sock) == (b"", ending)
    assert upstream.count == reached_upstream
    assert len(proxy.responses) == reached_upstream


def test_answer_429_is_not_forwarded(upstream: _UpstreamHTTP) -> None:
    with FaultProxy(upstream.address, [Answer(429, retry_after="1")]) as proxy:
        response = httpx.post(proxy.url + "/create", content=b"{}", timeout=TIMEOUT)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert upstream.hits == []
    assert proxy.responses == []
    assert [e.fault for e in proxy.requests] == [Answer(429, retry_after="1")]


def test_answer_with_http_date_body_and_headers(upstream: _UpstreamHTTP) -> None:
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    script: list[Fault] = [
        Answer(503, retry_after=when),
        Answer(500, body=b"boom", headers={"X-Fault": "yes"}),
        Pass(),
    ]
    with (
        FaultProxy(upstream.address, script) as proxy,
        httpx.Client(base_url=proxy.url, timeout=TIMEOUT) as client,
    ):
        unavailable, error, ok = client.get("/a"), client.get("/b"), client.get("/c")
    assert unavailable.status_code == 503
    assert unavailable.headers["Retry-After"] == "Wed, 02 Jan 2030 03:04:05 GMT"
    assert (error.status_code, error.content, error.headers["X-Fault"]) == (500, b"boom", "yes")
    assert (ok.status_code, ok.content) == (200, BODY)
    assert proxy.connection_count == 1  # answers keep the connection alive
    assert [path for _, path, _ in upstream.hits] == ["/c"]


def test_delay_holds_the_request_back(upstream: _UpstreamHTTP) -> None:
    with FaultProxy(upstream.address, [Delay(0.3)]) as proxy:
        start = time.monotonic()
        response = httpx.get(proxy.url, timeout=TIMEOUT)
        elapsed = time.monotonic() - start
    assert response.content == BODY
    assert elapsed >= 0.29
    assert upstream.count == 1


def test_drip_slows_down_the_whole_response(upstream: _UpstreamHTTP) -> None:
    rate = 500.0
    with FaultProxy(upstream.address, [Drip(rate), Drip(5000.0)]) as proxy:
        with _connect(proxy.port) as sock:
            start = time.monotonic()
            sock.sendall(_request("GET", "/", close=True))
            data, ending = _recv_all(sock)
            elapsed = time.monotonic() - start
        dripped = httpx.get(proxy.url, timeout=TIMEOUT)
    assert data.startswith(b"HTTP/1.1 200 ")
    assert data.endswith(BODY)
    assert ending == "fin"
    assert elapsed >= 0.9 * (len(data) - 1) / rate
    assert dripped.content == BODY


def test_slow_drip_trips_the_client_read_timeout(upstream: _UpstreamHTTP) -> None:
    with FaultProxy(upstream.address, [Drip(bytes_per_second=2.0)]) as proxy:
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(proxy.url, timeout=httpx.Timeout(2.0, read=0.2))
        assert [e.fault for e in proxy.requests] == [Drip(2.0)]
    assert upstream.count == 1


def test_hang_never_answers(upstream: _UpstreamHTTP) -> None:
    with FaultProxy(upstream.address, [Hang()]) as proxy:
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(proxy.url + "/x", timeout=httpx.Timeout(2.0, read=0.3))
        assert [e.fault for e in proxy.requests] == [Hang()]
    assert upstream.count == 0


def test_reset_after_bytes_truncates_an_http_response(upstream: _UpstreamHTTP) -> None:
    with FaultProxy(upstream.address, [ResetAfterBytes(10)]) as proxy, _connect(proxy.port) as sock:
        sock.sendall(_request("GET", "/"))
        assert _recv_all(sock) == (b"HTTP/1.1 2", "rst")
    assert upstream.count == 1


def test_chunked_bodies_both_ways_keep_the_connection_usable(upstream: _UpstreamHTTP) -> None:
    def parts() -> Iterator[bytes]:
        yield b"hello "
        yield b"world"

    with (
        FaultProxy(upstream.address) as proxy,
        httpx.Client(base_url=proxy.url, timeout=TIMEOUT) as client,
    ):
        posted = client.post("/upload", content=parts())
        chunked = client.get("/chunked")
        plain = client.get("/")
    assert posted.status_code == 200
    assert upstream.hits[0] == ("POST", "/upload", b"hello world")
    assert chunked.headers["Transfer-Encoding"] == "chunked"
    assert chunked.content == b"hello chunks"
    assert plain.content == BODY
    assert proxy.connection_count == 1
    assert [e.request for e in proxy.requests] == [1, 2, 3]


def test_head_204_and_304_have_no_body(upstream: _UpstreamHTTP) -> None:
    with (
        FaultProxy(upstream.address) as proxy,
        httpx.Client(base_url=proxy.url, timeout=TIMEOUT) as client,
    ):
        responses = [client.head("/"), client.get("/204"), client.get("/304"), client.get("/")]
    assert [r.status_code for r in responses] == [200, 204, 304, 200]
    assert responses[0].headers["Content-Length"] == "20"
    assert [r.content for r in responses] == [b"", b"", b"", BODY]
    assert proxy.connection_count == 1


def test_connection_close_and_eof_delimited_bodies(upstream: _UpstreamHTTP) -> None:
    with (
        FaultProxy(upstream.address) as proxy,
        httpx.Client(base_url=proxy.url, timeout=TIMEOUT) as client,
    ):
        closing = client.get("/", headers={"Connection": "close"})
        until_eof = client.get("/eof")
        last = client.get("/")
    assert [r.content for r in (closing, until_eof, last)] == [BODY, BODY, BODY]
    assert [e.connection for e in proxy.requests] == [1, 2, 3]


def test_pipelined_requests_are_split_correctly(upstream: _UpstreamHTTP) -> None:
    with FaultProxy(upstream.address) as proxy, _connect(proxy.port) as sock:
        sock.sendall(_request("GET", "/p1") + _request("GET", "/p2", close=True))
        data, ending = _recv_all(sock)
    assert data.count(b"HTTP/1.1 200 ") == 2
    assert data.count(BODY) == 2
    assert ending == "fin"
    assert [e.target for e in proxy.requests] == ["/p1", "/p2"]


def test_expect_100_continue(upstream: _UpstreamHTTP) -> None:
    head = b"POST /create HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
    with FaultProxy(upstream.address, [Pass(), Answer(503)]) as proxy:
        with _connect(proxy.port) as sock:
            sock.sendall(head)
            assert _recv_head(sock).startswith(b"HTTP/1.1 100 ")
            sock.sendall(b"{}")
            assert _recv_head(sock).startswith(b"HTTP/1.1 201 ")
        with _connect(proxy.port) as sock:  # answered at once, the body is never sent
            sock.sendall(head)
            data, ending = _recv_all(sock)
    assert data.startswith(b"HTTP/1.1 503 ")
    assert b"\r\nConnection: close\r\n" in data
    assert ending == "fin"
    assert upstream.hits == [("POST", "/create", b"{}")]


def test_connection_level_faults_in_http_mode(upstream: _UpstreamHTTP) -> None:
    script = Script(connections={1: Reset(), 2: Answer(503)})
    with FaultProxy(upstream.address, script) as proxy:
        with pytest.raises(httpx.TransportError):
            httpx.get(proxy.url, timeout=TIMEOUT)
        with httpx.Client(base_url=proxy.url, timeout=TIMEOUT) as client:
            statuses = [client.get("/a").status_code, client.get("/b").status_code]
        last = httpx.get(proxy.url + "/c", timeout=TIMEOUT)
    assert statuses == [503, 503]  # inherited by every request on connection 2
    assert last.status_code == 200
    assert [(e.request, e.connection) for e in proxy.requests] == [(1, 2), (2, 2), (3, 3)]
    assert [path for _, path, _ in upstream.hits] == ["/c"]


def test_set_script_applies_to_later_requests(upstream: _UpstreamHTTP) -> None:
    with (
        FaultProxy(upstream.address) as proxy,
        httpx.Client(base_url=proxy.url, timeout=TIMEOUT) as client,
    ):
        before = client.get("/")
        proxy.set_script(Script(http={2: Answer(500)}))
        statuses = [client.get("/").status_code, client.get("/").status_code]
        assert proxy.script == Script(http={2: Answer(500)})
    assert before.status_code == 200
    assert statuses == [500, 200]


def test_unreachable_upstream_answers_502() -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    with FaultProxy(("127.0.0.1", port)) as proxy:
        response = httpx.get(proxy.url, timeout=TIMEOUT)
    assert response.status_code == 502
    assert proxy.responses == []


# --------------------------------------------------------------------------------------------
# Raw TCP mode
# --------------------------------------------------------------------------------------------


def test_tcp_pass_pipes_both_ways(tcp_upstream: tuple[str, int]) -> None:
    with FaultProxy(tcp_upstream, mode="tcp") as proxy, _connect(proxy.port) as sock:
        assert _recv_exactly(sock, len(BANNER)) == BANNER
        sock.sendall(b"a1 NOOP\r\n")
        assert _recv_exactly(sock, 9) == b"a1 NOOP\r\n"
        sock.shutdown(socket.SHUT_WR)  # half-close travels through; the server hangs up
        assert _recv_all(sock) == (b"", "fin")
    assert proxy.connection_count == 1
    assert proxy.requests == []


def test_tcp_faults_are_selected_per_connection(tcp_upstream: tuple[str, int]) -> None:
    script: list[Fault] = [Pass(), Reset(), Close(after_forward=True), Reset(after_forward=True)]
    with FaultProxy(tcp_upstream, mode="tcp", script=script) as proxy:
        endings = []
        for number in range(1, 6):
            with _connect(proxy.port) as sock:
                if number in (1, 5):  # passes through
                    assert _recv_exactly(sock, len(BANNER)) == BANNER
                    sock.shutdown(socket.SHUT_WR)
                endings.append(_recv_all(sock))
    assert endings == [(b"", "fin"), (b"", "rst"), (b"", "fin"), (b"", "rst"), (b"", "fin")]
    assert [e.fault for e in proxy.connections] == [*script, Pass()]


def test_tcp_reset_after_bytes_cuts_a_large_fetch(tcp_upstream: tuple[str, int]) -> None:
    script = Script(connections={1: ResetAfterBytes(len(BANNER) + 100)})
    with FaultProxy(tcp_upstream, mode="tcp", script=script) as proxy, _connect(proxy.port) as sock:
        assert _recv_exactly(sock, len(BANNER)) == BANNER
        sock.sendall(b"BIG\r\n")
        assert _recv_all(sock) == (BIG[:100], "rst")


def test_tcp_drip_delivers_at_the_given_rate(tcp_upstream: tuple[str, int]) -> None:
    rate = 50.0
    with (
        FaultProxy(tcp_upstream, mode="tcp", script=[Drip(rate)]) as proxy,
        _connect(proxy.port) as sock,
    ):
        start = time.monotonic()
        banner = _recv_exactly(sock, len(BANNER))
        elapsed = time.monotonic() - start
    assert banner == BANNER
    assert elapsed >= 0.9 * (len(BANNER) - 1) / rate


def test_tcp_delay_holds_the_connection_back(tcp_upstream: tuple[str, int]) -> None:
    with (
        FaultProxy(tcp_upstream, mode="tcp", script=[Delay(0.3)]) as proxy,
        _connect(proxy.port) as sock,
    ):
        start = time.monotonic()
        banner = _recv_exactly(sock, len(BANNER))
        elapsed = time.monotonic() - start
    assert banner == BANNER
    assert elapsed >= 0.29


def test_connection_hang_is_a_silent_tls_handshake(tcp_upstream: tuple[str, int]) -> None:
    with FaultProxy(tcp_upstream, mode="tcp", script=Script(connections={1: Hang()})) as proxy:
        with pytest.raises(httpx.ConnectTimeout):
            httpx.get(
                f"https://127.0.0.1:{proxy.port}/",
                timeout=httpx.Timeout(2.0, connect=0.3),
                verify=False,
            )
        assert [e.fault for e in proxy.connections] == [Hang()]


def test_close_unblocks_hung_and_dripping_connections(tcp_upstream: tuple[str, int]) -> None:
    proxy = FaultProxy(tcp_upstream, mode="tcp", script=[Hang(), Drip(1.0)]).start()
    with _connect(proxy.port) as hung, _connect(proxy.port) as dripping:
        hung.sendall(b"\x16\x03\x01 client hello")
        received = dripping.recv(100)
        assert BANNER.startswith(received)
        assert received
        assert proxy.wait_for(lambda events: len(events) == 2)
        start = time.monotonic()
        proxy.close()
        closing_time = time.monotonic() - start
        assert _recv_all(hung) == (b"", "fin")
        rest, _ = _recv_all(dripping)  # RST or FIN: either way it is unblocked
        assert BANNER.startswith(received + rest)
    assert closing_time < 2.0
    assert proxy.errors == []


# --------------------------------------------------------------------------------------------
# API
# --------------------------------------------------------------------------------------------


def test_max_in_window() -> None:
    assert max_in_window([], 1.0) == 0
    assert max_in_window([0.0, 0.5, 0.99, 1.0, 1.5], 1.0) == 3
    assert max_in_window([3.0, 0.0, 2.0, 1.0], 1.0) == 1  # the window is half-open
    assert max_in_window([0.0, 1.0, 2.0], 1.0001) == 2
    assert max_in_window([5.0] * 4, 0.1) == 4
    with pytest.raises(ValueError, match="window"):
        max_in_window([1.0], 0)


def test_invalid_scripts_are_rejected(upstream: _UpstreamHTTP) -> None:
    with pytest.raises(ValueError, match="keys"):
        Script(http={0: Pass()})
    with pytest.raises(TypeError, match="not a fault"):
        Script(connections={1: "reset"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="bytes_per_second"):
        Drip(0)
    with pytest.raises(ValueError, match="body"):
        Answer(204, body=b"x")
    with pytest.raises(ValueError, match="mode='http'"):
        FaultProxy(upstream.address, Script(http={1: Pass()}), mode="tcp")
    proxy = FaultProxy(upstream.address, mode="tcp")
    with pytest.raises(ValueError, match="mode='http'"):
        proxy.set_script([Answer(503)])
    assert proxy.script == Script()


def test_a_list_is_a_script_of_consecutive_requests(upstream: _UpstreamHTTP) -> None:
    with FaultProxy(upstream.address, [Pass(), Answer(500)]) as proxy:
        statuses = [httpx.get(proxy.url, timeout=TIMEOUT).status_code for _ in range(3)]
    assert statuses == [200, 500, 200]
    assert proxy.script == Script(http={1: Pass(), 2: Answer(500)})
    assert max_in_window([e.time for e in proxy.requests], 60.0) == 3


def test_on_event_listener_runs_before_the_response_is_relayed() -> None:
    """A listener sees the ResponseEvent before the client gets any byte of it."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    ).start()
    seen: list[str] = []
    try:
        with FaultProxy(("127.0.0.1", server.server_address[1])) as proxy:
            proxy.on_event(lambda event: seen.append(type(event).__name__))
            with httpx.Client(base_url=proxy.url, timeout=5) as client:
                assert client.get("/").text == "ok"
                seen.append("client-got-response")
    finally:
        server.shutdown()
        server.server_close()
    assert seen == ["ConnectionEvent", "RequestEvent", "ResponseEvent", "client-got-response"]


def test_on_event_listener_can_replace_the_fault_of_a_request() -> None:
    """Returning Hang() from the listener keeps request 2 from reaching the server."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits: list[str] = []

    class Ok(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    ).start()

    def listener(event: object) -> Hang | None:
        return Hang() if isinstance(event, RequestEvent) and event.request == 2 else None

    try:
        with FaultProxy(("127.0.0.1", server.server_address[1])) as proxy:
            proxy.on_event(listener)
            with httpx.Client(base_url=proxy.url, timeout=1.0) as client:
                assert client.get("/one").text == "ok"
                with pytest.raises(httpx.ReadTimeout):
                    client.get("/two")
    finally:
        server.shutdown()
        server.server_close()
    assert hits == ["/one"]
