"""Fixtures: one real Pushgateway per test session, wiped before each test that uses it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from shitshovela_testservers.pushgateway import Pushgateway


@pytest.fixture(scope="session")
def pushgateway_server() -> Iterator[Pushgateway]:
    """Debian's prometheus-pushgateway on a free loopback port.

    Fails loudly (FileNotFoundError naming the installer) when the binary is
    missing; never skips."""
    with Pushgateway() as server:
        yield server


@pytest.fixture
def gateway(pushgateway_server: Pushgateway) -> Pushgateway:
    """The session's Pushgateway, holding no pushed group."""
    pushgateway_server.wipe()
    assert pushgateway_server.samples() == {}
    return pushgateway_server
