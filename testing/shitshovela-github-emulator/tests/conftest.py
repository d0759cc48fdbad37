"""Fixtures: spec-checked GitHub emulators that fail the test on any violation, a manual clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from shitshovela_github_emulator import GitHubEmulator, github_openapi
from shitshovela_testkit.clock import ManualClock
from shitshovela_testkit.emulatorsuite import checked_emulators

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
    with checked_emulators(GitHubEmulator, spec_path) as make:
        yield make


@pytest.fixture
def github(make_github: Factory) -> GitHubEmulator:
    return make_github()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=EPOCH)
