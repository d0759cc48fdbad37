"""The stand-in server base: plumbing, recording, errors, drops; usable behind the fault proxy."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
from shitshovela_testkit.faultproxy import Answer, FaultProxy, Script
from shitshovela_testkit.standin import Request, Response, StandInServer

pytestmark = pytest.mark.servers


class Tickets(StandInServer):
    server_name = "Tickets/2.0"

    def __init__(self) -> None:
        super().__init__()
        self.tickets: list[dict[str, Any]] = []

    def handle(self, request: Request) -> Response:
        if (request.method, request.path) == ("POST", "/tickets"):
            self.tickets.append(request.json())
            return Response(201, {"key": f"T-{len(self.tickets)}"})
        if (request.method, request.path) == ("GET", "/tickets"):
            label = request.q1("label")
            return Response(200, [t for t in self.tickets if label in t.get("labels", [])])
        if request.path == "/echo":
            echoed = {
                "path": request.path,
                "raw_path": request.raw_path,
                "fields": request.q_list("fields"),
                "media_type": request.media_type,
                "body": request.body.decode(),
            }
            return Response(200, echoed, headers={"X-Echo": "1"})
        if request.path == "/plain":
            return Response(200, raw=b"just text", content_type="text/plain")
        if request.path == "/stream":
            return Response(
                200,
                raw=bytes(range(256)) * 40,
                content_type="application/octet-stream",
                chunk_size=4096,
            )
        if request.path == "/lost":
            return Response(500, drop=True)
        if request.path == "/crash":
            raise RuntimeError("the stand-in has a bug")
        return Response(404, {"error": "no such resource"})

    def extra_headers(self, request: Request, response: Response) -> dict[str, str]:
        return {"X-Request-Id": "r1"}


def test_answers_records_and_stops() -> None:
    with Tickets() as server:
        with httpx.Client(base_url=server.url) as client:
            created = client.post("/tickets", json={"title": "x", "labels": ["a"]})
            assert created.status_code == 201 and created.json() == {"key": "T-1"}
            assert created.headers["Server"] == "Tickets/2.0"
            assert created.headers["X-Request-Id"] == "r1"
            assert client.get("/tickets", params={"label": "a"}).json()[0]["title"] == "x"
            assert client.get("/nothing").status_code == 404
        recorded = server.requests
        assert [(r.method, r.path, r.status) for r in recorded] == [
            ("POST", "/tickets", 201),
            ("GET", "/tickets", 200),
            ("GET", "/nothing", 404),
        ]
        assert recorded[1].query == {"label": ["a"]}
        assert recorded[0].body == b'{"title":"x","labels":["a"]}'
        assert recorded[0].time <= recorded[1].time
        server.clear_requests()
        assert server.requests == []
        host, port = server.address
        assert server.url == f"http://{host}:{port}"
    with pytest.raises(RuntimeError, match="not running"):
        server.url  # noqa: B018
    with pytest.raises(ConnectionRefusedError), socket.create_connection((host, port), timeout=1):
        pass


def test_request_parts_chunked_bodies_raw_answers_and_head() -> None:
    with Tickets() as server, httpx.Client(base_url=server.url) as client:
        chunked = client.post(
            "/echo%20me/../echo",
            params=[("fields", "a,b"), ("fields", "c")],
            content=iter([b"chu", b"nked"]),  # no length: sent chunked
            headers={"Content-Type": "Text/Plain; charset=utf-8"},
        )
        echoed = chunked.json()
        assert echoed["fields"] == ["a", "b", "c"]
        assert echoed["media_type"] == "text/plain"
        assert echoed["body"] == "chunked"
        assert chunked.headers["X-Echo"] == "1"
        plain = client.get("/plain")
        assert plain.content == b"just text"
        assert plain.headers["Content-Type"] == "text/plain"
        head = client.head("/plain")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["Content-Length"] == "9"


def test_a_body_streamed_in_chunks() -> None:
    with Tickets() as server, httpx.Client(base_url=server.url) as client:
        with client.stream("GET", "/stream") as streamed:
            assert streamed.headers["Transfer-Encoding"] == "chunked"
            assert "Content-Length" not in streamed.headers
            assert b"".join(streamed.iter_raw()) == bytes(range(256)) * 40
        assert client.get("/tickets").status_code == 200  # the connection is still good
        head = client.head("/stream")
        assert head.status_code == 200 and head.content == b""


def test_a_dropped_answer_and_a_crashing_handler() -> None:
    with Tickets() as server, httpx.Client(base_url=server.url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/lost")
        crashed = client.get("/crash")
        assert crashed.status_code == 500
        assert "the stand-in has a bug" in crashed.json()["error"]
        assert [r.status for r in server.requests] == [0, 500]
        (error,) = server.errors
        assert isinstance(error, RuntimeError)


def test_a_subclass_must_answer() -> None:
    with StandInServer() as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/").status_code == 500
        (error,) = server.errors
        assert isinstance(error, NotImplementedError)


def test_behind_the_fault_proxy() -> None:
    with Tickets() as server, FaultProxy(server.address, Script(http={1: Answer(503)})) as proxy:
        with httpx.Client(base_url=proxy.url) as client:
            assert client.post("/tickets", json={"title": "x"}).status_code == 503
            assert client.post("/tickets", json={"title": "y"}).status_code == 201
        assert [t["title"] for t in server.tickets] == ["y"]
