"""Fixtures: spec-checked Graph emulators that fail the test on any violation, a manual clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from shitshovela_graph_emulator import GraphEmulator, graph_openapi
from shitshovela_testkit.clock import ManualClock

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
    started: list[GraphEmulator] = []

    def make(**kwargs: Any) -> GraphEmulator:
        kwargs.setdefault("validate_spec", spec_path)
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
    return make_graph()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=EPOCH)
