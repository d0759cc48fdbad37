"""Fixtures: spec-checked GitHub emulators that fail the test on any violation, a manual clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from shitshovela_github_emulator import GitHubEmulator, github_openapi
from shitshovela_testkit.clock import ManualClock

Factory = Callable[..., GitHubEmulator]

#: 2027-01-15T08:00:00Z: a manual clock on the epoch scale GitHub's timestamps use.
EPOCH = 1_800_000_000.0


@pytest.fixture(scope="session")
def spec_path() -> Path:
    """GitHub's OpenAPI excerpt in the repository's ``specs/`` (raises when missing)."""
    return github_openapi()


@pytest.fixture
def make_github(spec_path: Path) -> Iterator[Factory]:
    """Start emulators (spec-validated unless told otherwise); fail on any violation."""
    started: list[GitHubEmulator] = []

    def make(**kwargs: Any) -> GitHubEmulator:
        kwargs.setdefault("validate_spec", spec_path)
        emulator = GitHubEmulator(**kwargs).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()
    for emulator in started:
        emulator.assert_no_violations()


@pytest.fixture
def github(make_github: Factory) -> GitHubEmulator:
    return make_github()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=EPOCH)
