"""Fixtures: spec-checked Graph emulators that fail the test on any violation.

Every emulator a test starts checks each request and answer against Graph's
OpenAPI excerpt (``specs/graph-mail.openapi.json``); a violation is answered 500
(the source then fails loudly) and fails the test at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from shitshovela_graph_emulator import GraphEmulator, graph_openapi

Factory = Callable[..., GraphEmulator]


@pytest.fixture
def make_graph() -> Iterator[Factory]:
    """Start emulators (spec-checked); stop them after the test, failing on a violation."""
    started: list[GraphEmulator] = []

    def make(**kwargs: Any) -> GraphEmulator:
        kwargs.setdefault("validate_spec", graph_openapi())
        emulator = GraphEmulator(**kwargs).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()
    for emulator in started:
        emulator.assert_no_violations()


@pytest.fixture
def graph(make_graph: Factory) -> GraphEmulator:
    """One spec-checked emulator with the default mailbox."""
    return make_graph()
