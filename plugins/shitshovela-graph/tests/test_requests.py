"""Requests per item in a fault-free run, counted in the emulator's request log.

The figures the README gives: per message, the MIME (``GET …/$value``), the claim
(``PATCH``), the exactness check (``GET``) and the delete (``DELETE``), four in
all; per run, the folder's id (one ``GET`` for a well-known name) and one listing
request a page of `PAGE_SIZE` messages. Listing again from the start after a page
whose messages left the folder (offset links) costs no more requests than following
the links would; only messages left in the folder are listed again.
"""

from __future__ import annotations

import collections

import pytest
from graphkit import graph_source, mail
from shitshovela_graph.api import path_shape
from shitshovela_graph.listing import PAGE_SIZE
from shitshovela_graph_emulator import GraphEmulator
from shitshovela_testkit.fakes import FakeTracker, fake_tickets
from shitshovela_testkit.runs import run_once

pytestmark = pytest.mark.servers

MESSAGES = 30


@pytest.mark.parametrize("paging", ["skip", "skiptoken"])
def test_four_requests_a_message_and_the_listing_amortised(make_graph: object, paging: str) -> None:
    graph: GraphEmulator = make_graph(paging=paging)  # type: ignore[operator]
    for n in range(MESSAGES):
        graph.seed_message(mail(f"Alert {n}", sender=f"host{n}@example.com"))
    source = graph_source(graph, page_size=10)
    summary = run_once(source, fake_tickets(FakeTracker()))
    assert summary.created == MESSAGES
    counted = collections.Counter(f"{r.method} {path_shape(r.path)}" for r in graph.requests)
    assert counted == {
        "GET /users/{mailbox}/mailFolders/{folder}": 1,
        "GET /users/{mailbox}/mailFolders/{folder}/messages": 3,  # a page of 10 each
        "GET /users/{mailbox}/messages/{id}/$value": MESSAGES,
        "PATCH /users/{mailbox}/messages/{id}": MESSAGES,
        "GET /users/{mailbox}/messages/{id}": MESSAGES,
        "DELETE /users/{mailbox}/messages/{id}": MESSAGES,
    }
    assert source.api.sent == counted, "the source's own count agrees"
    per_item = len(graph.requests) / MESSAGES
    assert per_item == 4 + 4 / MESSAGES
    assert PAGE_SIZE == 100  # the figure the README's "Requests" section is based on
