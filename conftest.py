"""Shared pytest set-up for every test tree (tests/, plugins/*/tests, examples/*/tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _reset_structlog() -> Iterator[None]:
    """A test that configures logging (to a captured stream) must not leak it into others."""
    yield
    structlog.reset_defaults()
