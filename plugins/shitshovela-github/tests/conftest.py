"""Fixtures for the GitHub provider's tests: spec-checked emulators on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ghkit
import pytest
from shitshovela_github_emulator import GitHubEmulator, github_openapi


@pytest.fixture(scope="session")
def spec() -> Path:
    """GitHub's OpenAPI excerpt in the repository's ``specs/`` (fails loudly when missing)."""
    return github_openapi()


@pytest.fixture
def start_github(spec: Path) -> Iterator[Callable[..., GitHubEmulator]]:
    """Start emulators that check every request and answer against the excerpt; at
    teardown, stop them and fail on any violation."""
    started: list[GitHubEmulator] = []

    def start(**kwargs: Any) -> GitHubEmulator:
        made = ghkit.emulator(spec=spec, **kwargs)
        started.append(made)
        return made

    yield start
    for made in started:
        made.stop()
    for made in started:
        made.assert_no_violations()
