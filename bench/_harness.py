"""Shared set-up for the benchmark scripts: the test plugins and tracker from tests/."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from httptracker import Tracker  # noqa: E402
from plugin_dists import http_job_env, install_http_plugin  # noqa: E402

TOKEN = "bench-token"


def site() -> Path:
    """A folder with the file-backed and HTTP test plugins installed."""
    return install_http_plugin(Path(tempfile.mkdtemp(prefix="shsh-bench-")) / "site")


def job_env(site_dir: Path, inbox: Path, url: str, **extra: str) -> dict[str, str]:
    """The environment of a run: dir source -> httptickets ticket system."""
    return http_job_env(site_dir, inbox, url, TOKEN, instance="bench", **extra)


def inbox(items: int = 3) -> Path:
    """A folder with ``items`` small items."""
    folder = Path(tempfile.mkdtemp(prefix="shsh-inbox-"))
    for n in range(items):
        (folder / f"item-{n:05d}.txt").write_text(f"Alert {n}\nbody {n}\n")
    return folder


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall time of a command from spawn to exit, and its exit code."""
    started = time.perf_counter()
    code = subprocess.run(cmd, env=env, capture_output=True, check=False).returncode
    return time.perf_counter() - started, code


__all__ = ["ROOT", "TOKEN", "Tracker", "inbox", "job_env", "site", "timed"]
