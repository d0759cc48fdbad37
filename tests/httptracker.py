"""A tiny stateful HTTP ticket tracker on loopback, for safety-layer tests.

``POST /tickets`` creates (``{"title", "labels", "origin"}`` -> ``{"key"}``),
``GET /tickets?label=L`` lists, ``DELETE /tickets/KEY/labels/L`` removes a
label. It records the arrival time of every request and checks the bearer
token, so tests can count, time and authenticate what reached it.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


class Tracker:
    def __init__(self, token: str) -> None:
        self.token = token
        self.tickets: list[dict[str, Any]] = []
        self.arrivals: list[tuple[float, str, str]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        # Polled every 10 ms, so that shutdown() returns at once (the default, 0.5 s,
        # was half a second of every test that used a tracker).
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Tracker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def creates(self) -> int:
        return sum(1 for _, method, _ in self.arrivals if method == "POST")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        tracker = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def _reply(self, status: int, body: Any = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _start(self) -> bool:
                with tracker.lock:
                    tracker.arrivals.append((time.monotonic(), self.command, self.path))
                length = int(self.headers.get("Content-Length", 0))
                self.body = self.rfile.read(length) if length else b""
                if self.headers.get("Authorization") != f"Bearer {tracker.token}":
                    self._reply(401, {"error": "bad token"})
                    return False
                return True

            def do_GET(self) -> None:
                if not self._start():
                    return
                query = parse_qs(urlsplit(self.path).query)
                label = query.get("label", [""])[0]
                with tracker.lock:
                    found = [t for t in tracker.tickets if label in t["labels"]]
                self._reply(200, found)

            def do_POST(self) -> None:
                if not self._start():
                    return
                data = json.loads(self.body)
                with tracker.lock:
                    ticket = {"key": f"T-{len(tracker.tickets) + 1}", **data}
                    tracker.tickets.append(ticket)
                self._reply(201, {"key": ticket["key"]})

            def do_DELETE(self) -> None:
                if not self._start():
                    return
                parts = [unquote(p) for p in urlsplit(self.path).path.split("/")]
                _, _, key, _, label = parts
                with tracker.lock:
                    for ticket in tracker.tickets:
                        if ticket["key"] == key and label in ticket["labels"]:
                            ticket["labels"].remove(label)
                self._reply(204)

        return Handler
