"""moto's server and the Pushgateway start on another port when theirs was taken.

A port is chosen free, then handed to the server: between the two, another pytest
worker (or anything) may bind it. Here that is forced: the first port offered is one
a socket of the test listens on.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from shitshovela_testservers import motoserver, pushgateway
from shitshovela_testservers.motoserver import MotoServer
from shitshovela_testservers.pushgateway import Pushgateway

pytestmark = pytest.mark.servers


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port this test listens on (nobody accepts: it only holds the port)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def offering(first: int, then: object) -> Iterator[int]:
    """``first``, then the real `free_port` of ``then``'s module, as often as asked."""
    yield first
    while True:
        yield then()  # type: ignore[operator]


def test_moto_starts_on_another_port_when_its_port_was_taken(
    taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = offering(taken_port, motoserver.free_port)
    monkeypatch.setattr(motoserver, "free_port", lambda: next(ports))
    with MotoServer() as server:
        assert server.port != taken_port
        assert server.process is not None and server.process.poll() is None
        server.client().create_bucket(Bucket="mine")
        assert [b["Name"] for b in server.client().list_buckets()["Buckets"]] == ["mine"]


def test_moto_gives_up_after_its_attempts_saying_why(
    taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(motoserver, "free_port", lambda: taken_port)
    server = MotoServer()
    with pytest.raises(motoserver.MotoStartError, match="could not bind a free port in 3"):
        server.start()
    server.stop()


def test_the_pushgateway_starts_on_another_port_when_its_port_was_taken(
    taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports = offering(taken_port, pushgateway.free_port)
    monkeypatch.setattr(pushgateway, "free_port", lambda: next(ports))
    with Pushgateway() as gateway:
        assert gateway.port != taken_port
        pushed = httpx.put(f"{gateway.url}/metrics/job/mine", content=b"up 1\n", timeout=5.0)
        assert pushed.status_code == 200
        assert gateway.group("", job="mine")["up"] == 1.0


def test_the_pushgateway_gives_up_after_its_attempts_saying_why(
    taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pushgateway, "free_port", lambda: taken_port)
    with pytest.raises(RuntimeError, match="could not bind a free port in 3 attempts"):
        Pushgateway().start()
