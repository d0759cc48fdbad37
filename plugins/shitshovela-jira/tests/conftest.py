"""Fixtures for the Jira provider's tests: spec-validated emulators on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jirakit
import pytest
from shitshovela_jira_emulator import JiraEmulator, jira_openapi


@pytest.fixture(scope="session")
def spec() -> Path:
    """Jira's OpenAPI excerpt in the repository's ``specs/`` (fails loudly when missing)."""
    return jira_openapi()


@pytest.fixture
def start_jira(spec: Path) -> Iterator[Callable[..., JiraEmulator]]:
    """Start emulators that check every request and response against the spec;
    at teardown, stop them and fail on any violation."""
    started: list[JiraEmulator] = []

    def start(flavour: str = "cloud", **kwargs: Any) -> JiraEmulator:
        made = jirakit.emulator(flavour, spec=spec, **kwargs)
        started.append(made)
        return made

    yield start
    for made in started:
        made.stop()
    for made in started:
        made.assert_no_violations()


@pytest.fixture(params=["cloud", "datacenter"])
def flavour(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs on Jira Cloud and on Jira Data Center."""
    return str(request.param)
