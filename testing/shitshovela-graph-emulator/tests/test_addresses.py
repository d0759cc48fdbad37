"""Links name the host the client addressed: ``@odata.nextLink`` and ``@odata.context``.

Graph builds a next-page link from the host the request was sent to, so a client
behind a proxy (the crash harness's fault proxy) follows every page through it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from shitshovela_graph_emulator import DEFAULT_MAILBOX, GraphEmulator, build_mime
from shitshovela_testkit.faultproxy import FaultProxy

pytestmark = pytest.mark.servers

Factory = Callable[..., GraphEmulator]

U = f"users/{DEFAULT_MAILBOX}"
INBOX = f"{U}/mailFolders/inbox/messages"


def seed(graph: GraphEmulator, n: int) -> None:
    for i in range(n):
        graph.seed_message(build_mime(f"m{i}"), received=1_800_000_000 + 60 * i)


def pages(c: httpx.Client, url: str, params: dict[str, str]) -> list[dict[str, Any]]:
    """Every page a client gets following ``@odata.nextLink`` as it is."""
    found = [c.get(url, params=params).json()]
    while "@odata.nextLink" in found[-1]:
        found.append(c.get(found[-1]["@odata.nextLink"]).json())
    return found


@pytest.mark.parametrize("paging", ["skip", "skiptoken"])
def test_every_page_of_a_listing_goes_through_the_proxy(make_graph: Factory, paging: str) -> None:
    """*Can fail*: with links built from the emulator's own address, the second and
    later pages would reach it around the proxy, and the proxy would count one request."""
    graph = make_graph(paging=paging)
    seed(graph, 25)
    with (
        FaultProxy(graph.address) as proxy,
        httpx.Client(base_url=proxy.url + "/v1.0/", headers=graph.auth_headers()) as c,
    ):
        got = pages(c, INBOX, {"$orderby": "receivedDateTime asc", "$top": "10"})
        through = [e.target for e in proxy.requests]
    assert [len(p["value"]) for p in got] == [10, 10, 5]
    assert len(through) == 3 == len(graph.requests)  # every page, and only through the proxy
    for page in got[:-1]:
        assert page["@odata.nextLink"].startswith(f"{proxy.url}/v1.0/{U}/mailFolders/")
    for page in got:
        assert page["@odata.context"].startswith(f"{proxy.url}/v1.0/$metadata#users(")
    assert [m["subject"] for p in got for m in p["value"]] == [f"m{i}" for i in range(25)]


def test_folder_pages_and_single_answers_name_the_proxy_too(graph: GraphEmulator) -> None:
    for n in range(12):
        graph.create_folder(f"F{n:02d}")
    seed(graph, 1)
    with (
        FaultProxy(graph.address) as proxy,
        httpx.Client(base_url=proxy.url + "/v1.0/", headers=graph.auth_headers()) as c,
    ):
        folders = pages(c, f"{U}/mailFolders", {})
        message_id = c.get(INBOX).json()["value"][0]["id"]
        one = c.get(f"{U}/messages/{message_id}").json()
        made = c.post(f"{U}/mailFolders", json={"displayName": "Done"}).json()
    assert len(folders) > 1
    assert folders[0]["@odata.nextLink"].startswith(f"{proxy.url}/v1.0/{U}/mailFolders?")
    for answer in (*folders, one, made):
        assert answer["@odata.context"].startswith(f"{proxy.url}/v1.0/$metadata#")
    assert len(proxy.requests) == len(graph.requests)


def test_a_link_keeps_the_host_header_as_sent(graph: GraphEmulator) -> None:
    """A name and port the client reached the emulator by (a proxy, a tunnel) stay in the
    link, in the scheme the emulator received the request in."""
    seed(graph, 3)
    with graph.client(headers={"Host": "graph.contoso.test:8443"}) as c:
        page = c.get(INBOX, params={"$top": "2"}).json()
    assert page["@odata.nextLink"].startswith(f"http://graph.contoso.test:8443/v1.0/{U}/")
    assert page["@odata.context"].startswith("http://graph.contoso.test:8443/v1.0/$metadata#")


@pytest.mark.parametrize("host", [None, "", "evil.test/path?", "a b", "[::1"])
def test_without_a_usable_host_header_links_name_the_emulator(
    graph: GraphEmulator, host: str | None
) -> None:
    """No ``Host`` (HTTP/1.0) or one that is no host: the emulator's own address."""
    seed(graph, 3)
    head = [f"GET /v1.0/{INBOX}?%24top=2 HTTP/1.0", f"Authorization: Bearer {graph.make_token()}"]
    if host is not None:
        head.append(f"Host: {host}")
    with socket.create_connection(graph.address, timeout=10) as s:
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    status, _, rest = answer.partition(b"\r\n")
    assert b" 200 " in status, answer[:500]
    body = httpx.Response(200, content=rest.partition(b"\r\n\r\n")[2]).json()
    assert body["@odata.nextLink"].startswith(f"{graph.api_url}/{U}/")
    assert body["@odata.context"].startswith(f"{graph.api_url}/$metadata#")
