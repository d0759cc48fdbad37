"""Tests of the deployment artefacts in deploy/ (container, Kubernetes, systemd, cron)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from deploykit import CONTAINER_DIR, run, uv_env


@pytest.fixture(scope="session")
def built_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder build-wheels.sh fills: the runtime wheels and constraints.txt."""
    dist = tmp_path_factory.mktemp("container") / "dist"
    built = run(
        ["sh", str(CONTAINER_DIR / "build-wheels.sh"), str(dist)], env=uv_env(), timeout=300
    )
    assert built.returncode == 0, built.stderr
    assert (dist / "constraints.txt").is_file()
    return dist
