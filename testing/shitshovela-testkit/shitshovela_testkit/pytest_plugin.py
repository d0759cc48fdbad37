"""pytest fixtures for plugin authors, loaded by pytest itself (the ``pytest11`` entry point).

Installing ``shitshovela-testkit`` in the environment the tests run in is all it
takes; no ``conftest.py`` import is needed:

- ``manual_clock``: a fresh `ManualClock` (the budget's, the engine's, a fake's).
- ``stand_in``: ``stand_in(MyServer())`` starts a `StandInServer` subclass on a
  free loopback port and returns it; at teardown it is stopped, and the test
  fails if one of its handlers raised.
- ``fault_proxy``: ``fault_proxy(upstream, script, mode="http")`` starts a
  `FaultProxy` in front of ``upstream`` (an ``(host, port)`` or a running
  stand-in) and returns it; it is closed at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from .clock import ManualClock
from .faultproxy import FaultProxy, Mode, ScriptLike
from .standin import StandInServer

__all__ = ["fault_proxy", "manual_clock", "stand_in"]

S = TypeVar("S", bound=StandInServer)


@pytest.fixture
def manual_clock() -> ManualClock:
    """A manual clock at 1000.0 that moves only when the test (or a budget's sleep) moves it."""
    return ManualClock()


class StandInFactory:
    """``stand_in(server)``: start ``server`` now, stop it when the test ends."""

    def __init__(self) -> None:
        self.started: list[StandInServer] = []

    def __call__(self, server: S) -> S:
        self.started.append(server)
        return server.start()


@pytest.fixture
def stand_in() -> Iterator[StandInFactory]:
    """Start stand-in servers for the test; stop them after it, failing on a handler's error."""
    factory = StandInFactory()
    yield factory
    errors = []
    for server in factory.started:
        server.stop()
        errors += [f"{type(server).__name__}: {error!r}" for error in server.errors]
    if errors:
        pytest.fail("a stand-in server's handler raised:\n" + "\n".join(errors))


@pytest.fixture
def fault_proxy() -> Iterator[Callable[..., FaultProxy]]:
    """Start fault proxies for the test: ``fault_proxy(upstream, script, mode="http")``."""
    started: list[FaultProxy] = []

    def start(
        upstream: tuple[str, int] | StandInServer,
        script: ScriptLike | None = None,
        *,
        mode: Mode = "http",
    ) -> FaultProxy:
        address = upstream.address if isinstance(upstream, StandInServer) else upstream
        proxy = FaultProxy(address, script, mode=mode)
        started.append(proxy)
        return proxy.start()

    yield start
    for proxy in started:
        proxy.close()
