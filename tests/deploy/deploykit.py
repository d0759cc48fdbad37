"""Helpers for the deployment tests: the example files, their formats, the tools.

Everything here reads files inside the repository (``deploy/``); nothing
outside it. Tools that a test needs (systemd-analyze, flock, uv) are looked up
with `require_tool`, which fails the test loudly instead of skipping it.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from shitshovela_core.settings import parse_duration

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ENV_DIR = DEPLOY / "env"
K8S_DIR = DEPLOY / "kubernetes"
SYSTEMD_DIR = DEPLOY / "systemd"
CRONTAB = DEPLOY / "cron" / "shitshovela.crontab"
CONTAINER_DIR = DEPLOY / "container"
DOCKERFILE = CONTAINER_DIR / "Dockerfile"

#: One line of an env file: KEY=value in the portable subset that sh, systemd's
#: EnvironmentFile= and `kubectl create configmap --from-env-file` all read alike,
#: or KEY='value' (sh and systemd only: for secrets, which go into a Secret by hand).
PLAIN_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=([A-Za-z0-9@%+=:,./_-]*)$")
QUOTED_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)='([^']*)'$")

#: The uid the image runs as, and the Kubernetes examples with it.
IMAGE_UID = 10001


def shipped_plugins() -> dict[str, list[str]]:
    """Every plugin distribution the repository ships (``plugins/*``), by distribution
    name, with the names it registers in the ``shitshovela`` entry-point group. A library
    of ours (``shitshovela-mail``) registers none and is left out; so is the in-house
    example under ``examples/``."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "plugins").glob("*/pyproject.toml")):
        project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
        names = sorted(project.get("entry-points", {}).get("shitshovela", {}))
        if names:
            found[project["name"]] = names
    return found


def env_files() -> list[Path]:
    """Every example env file in deploy/ (the tests require at least the two examples)."""
    return sorted(ENV_DIR.glob("*.env"))


def read_env_file(path: Path) -> dict[str, str]:
    """Parse an example env file, refusing any line outside the portable format."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        match = PLAIN_LINE.match(line) or QUOTED_LINE.match(line)
        if match is None:
            raise ValueError(f"{path.name}:{number}: not KEY=value in the portable format: {line}")
        key, value = match.groups()
        if key in values:
            raise ValueError(f"{path.name}:{number}: {key} is set twice")
        values[key] = value
    return values


def max_runtime(values: dict[str, str]) -> float:
    """SHITSHOVELA_MAX_RUNTIME in seconds (the core's own parser; its default if unset)."""
    return parse_duration(values.get("SHITSHOVELA_MAX_RUNTIME", "600"))


def require_tool(name: str, hint: str) -> str:
    """The tool's path, or fail the test loudly (never skip) saying how to install it."""
    found = shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + "/usr/bin:/bin")
    if found is None:
        pytest.fail(f"{name} is not installed: {hint}")
    return found


def uv_binary() -> str:
    """The uv that runs this test session (`uv run` sets UV), else uv on PATH."""
    candidate = os.environ.get("UV")
    if candidate and Path(candidate).is_file():
        return candidate
    return require_tool("uv", "source scripts/ensure-uv")


def uv_env() -> dict[str, str]:
    """The machine's own settings (proxy, certificates, uv's cache), with uv on PATH."""
    uv = uv_binary()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHITSHOVELA_", "VIRTUAL_ENV"))}
    env["PATH"] = f"{Path(uv).parent}:/usr/bin:/bin"
    env["UV_PYTHON_DOWNLOADS"] = "never"
    return env


def workspace_bin() -> Path:
    """The bin folder of the virtual environment running the tests (holds `shitshovela`)."""
    return Path(sys.executable).parent


def secret_settings() -> set[str]:
    """Every secret setting of every installed provider and settings group (the metrics
    plugin's basic-auth password, say), from the plugins themselves."""
    from shitshovela_core.plugins import load_plugins
    from shitshovela_core.settings import env_name, settings_of

    plugins = load_plugins()
    secrets = {
        env_name(spec.name, setting.name)
        for spec in plugins.specs()
        for setting in settings_of(spec.settings)
        if setting.secret
    }
    secrets.update(
        env_name(group.name, setting.name)
        for group in plugins.settings_groups.values()
        for setting in settings_of(group.settings)
        if setting.secret
    )
    return secrets


# -- cron expressions ----------------------------------------------------------------------


def _field(text: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"bad step in {text!r}")
        if body == "*":
            start, end = low, high
        elif "-" in body:
            start, end = (int(x) for x in body.split("-", 1))
        else:
            start = int(body)
            end = high if step_text else start
        if not low <= start <= end <= high:
            raise ValueError(f"{part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return values


def cron_interval(expression: str) -> float:
    """The shortest gap, in seconds, between two firings of a five-field cron schedule.

    A small parser for the schedules the examples use: minute and hour fields
    with ``*``, ``N``, ``a-b``, lists and ``/step``; day, month and weekday must
    be ``*`` (anything else is refused rather than guessed).
    """
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"expected five fields: {expression!r}")
    minute, hour, *rest = fields
    if rest != ["*", "*", "*"]:
        raise ValueError(f"only schedules with day, month and weekday '*' are supported: {rest}")
    times = sorted(h * 60 + m for h in _field(hour, 0, 23) for m in _field(minute, 0, 59))
    day = 24 * 60
    gaps = [b - a for a, b in itertools.pairwise(times)]
    gaps.append(times[0] + day - times[-1])
    return 60.0 * min(gaps)


# -- Kubernetes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Instance:
    """One Kubernetes example: its ConfigMap and its CronJob."""

    name: str
    path: Path
    configmap: dict[str, Any]
    cronjob: dict[str, Any]

    @property
    def pod(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return spec

    @property
    def container(self) -> dict[str, Any]:
        containers: list[dict[str, Any]] = self.pod["containers"]
        assert len(containers) == 1, self.path.name
        return containers[0]


def k8s_documents(path: Path) -> list[dict[str, Any]]:
    """The non-empty YAML documents of a manifest file."""
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc]


def k8s_instances() -> list[Instance]:
    """Every example manifest, each one ConfigMap and one CronJob."""
    instances = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        docs = k8s_documents(path)
        kinds = sorted(doc["kind"] for doc in docs)
        assert kinds == ["ConfigMap", "CronJob"], (path.name, kinds)
        by_kind = {doc["kind"]: doc for doc in docs}
        instances.append(Instance(path.stem, path, by_kind["ConfigMap"], by_kind["CronJob"]))
    return instances


def run(
    args: list[str], *, env: dict[str, str] | None = None, timeout: float = 120, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output, never raising on its exit code."""
    return subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
