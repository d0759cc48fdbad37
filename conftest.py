"""Shared pytest set-up for every test tree (tests/, plugins/*/tests, examples/*/tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

#: Loaded here, the root, so that the main process of a run on xdist workers (which
#: loads no conftest below the root) schedules the work and prints the crash matrix.
pytest_plugins = ["xdistplan", "matrixtable"]


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    """A test that configures logging (to a captured stream) must not leak it into others."""
    yield
    structlog.reset_defaults()
