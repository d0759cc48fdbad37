"""Fixtures: spec-checked Graph emulators that fail the test on any violation, a manual clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from shitshovela_graph_emulator import GraphEmulator, graph_openapi
from shitshovela_testkit.clock import ManualClock
from shitshovela_testkit.emulatorsuite import checked_emulators

Factory = Callable[..., GraphEmulator]

#: 2027-01-15T08:00:00Z: a manual clock on the epoch scale Graph's timestamps and tokens use.
EPOCH = 1_800_000_000.0


@pytest.fixture(scope="session")
def spec_path() -> Path:
    """Graph's OpenAPI excerpt in the repository's ``specs/`` (raises when missing)."""
    return graph_openapi()


@pytest.fixture
def make_graph(spec_path: Path) -> Iterator[Factory]:
    """Start emulators (spec-validated unless told otherwise); fail on any violation."""
    with checked_emulators(GraphEmulator, spec_path) as make:
        yield make


@pytest.fixture
def graph(make_graph: Factory) -> GraphEmulator:
    return make_graph()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=EPOCH)
