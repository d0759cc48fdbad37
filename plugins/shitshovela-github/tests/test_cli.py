"""The plugin as installed: discovery, a cheap entry point, and the real CLI (the in-house
example's spool folder into the emulator): ``check`` names the identity and its push
access, ``run`` makes one issue per file, a token without push access is a clear
stop, and no output carries the token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from ghkit import BOT, NO_PUSH_TOKEN, READER, REPO, TOKEN
from shitshovela_github_emulator import GitHubEmulator

from shitshovela_core import FLAG_PREFIX

Start = Callable[..., GitHubEmulator]


def shitshovela(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHITSHOVELA_")}
    return subprocess.run(
        [sys.executable, "-m", "shitshovela_core", *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=120,
        check=False,
    )


@pytest.mark.unit
def test_plugin_is_installed_with_its_settings() -> None:
    result = shitshovela("plugins", "--json")
    assert result.returncode == 0, result.stderr
    providers = {p["name"]: p for p in json.loads(result.stdout)["providers"]}
    github = providers["github"]
    assert github["plugin"] == "github" and github["kind"] == "ticket_system"
    settings = {s["env"]: s for s in github["settings"]}
    for secret in ("TOKEN", "APP_PRIVATE_KEY"):
        assert settings[f"SHITSHOVELA_GITHUB__{secret}"]["secret"] is True
    assert settings["SHITSHOVELA_GITHUB__REPO"]["required"] is True
    assert settings["SHITSHOVELA_GITHUB__API_URL"]["default"] == "https://api.github.com"
    assert settings["SHITSHOVELA_GITHUB__RATE"]["default"] == 1.0
    assert settings["SHITSHOVELA_GITHUB__LISTING_LAG"]["default"] == 60.0
    assert settings["SHITSHOVELA_GITHUB__WRITES_PER_MINUTE"]["default"] == 80
    assert settings["SHITSHOVELA_GITHUB__WRITES_PER_HOUR"]["default"] == 500
    assert settings["SHITSHOVELA_GITHUB__ATTACHMENTS"]["default"] == "list"
    for name in ("APP_ID", "INSTALLATION_ID", "LABELS", "PROBE_GAP", "MAX_BODY", "TLS_VERIFY"):
        assert f"SHITSHOVELA_GITHUB__{name}" in settings


@pytest.mark.unit
def test_entry_point_import_is_cheap() -> None:
    code = (
        "import sys\n"
        "import shitshovela_github\n"
        "heavy = ('httpx', 'jwt', 'cryptography', 'shitshovela_github.tickets',\n"
        "         'shitshovela_github_emulator', 'shitshovela_core.safety')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
        "from shitshovela_core.plugins import load_plugins\n"
        "spec = load_plugins().select('ticket_system', 'github', 'X')\n"
        "print(spec.load().__name__, 'httpx' in sys.modules, 'jwt' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    loaded, selected = result.stdout.splitlines()
    assert loaded == "", f"the entry point imported {loaded}"
    assert selected == "GitHubTickets True False"  # PyJWT only for an App, when it signs


def job_env(gh: GitHubEmulator, spool: Path, token: str = TOKEN) -> dict[str, str]:
    return {
        "SHITSHOVELA_SOURCE": "spool",
        "SHITSHOVELA_TICKET_SYSTEM": "github",
        "SHITSHOVELA_INSTANCE": "cli",
        "SHITSHOVELA_MAX_RUNTIME": "60",
        "SHITSHOVELA_LOG_FORMAT": "json",
        "SHITSHOVELA_SPOOL__PATH": str(spool),
        "SHITSHOVELA_GITHUB__API_URL": gh.api_url,
        "SHITSHOVELA_GITHUB__REPO": REPO,
        "SHITSHOVELA_GITHUB__TOKEN": token,
        "SHITSHOVELA_GITHUB__RATE": "200",
        "SHITSHOVELA_GITHUB__LISTING_LAG": "0",
    }


def events(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.mark.servers
def test_the_real_cli_checks_then_moves_a_spool_into_github(
    start_github: Start, tmp_path: Path
) -> None:
    gh = start_github()
    for n in range(3):
        (tmp_path / f"alert-{n}.txt").write_text(f"Alert {n}\nDisk {n} is full\n")
    env = job_env(gh, tmp_path)
    check = shitshovela("check", env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    (found,) = [e for e in events(check.stdout) if e["event"] == "github_check"]
    assert found["identity"] == BOT and found["push"] is True and found["repo"] == REPO
    run = shitshovela("run", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    issues = gh.issues()
    assert sorted(i.title for i in issues) == ["Alert 0", "Alert 1", "Alert 2"]
    assert not any(label.startswith(FLAG_PREFIX) for i in issues for label in i.labels)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == []
    for output in (check.stdout, check.stderr, run.stdout, run.stderr):
        assert TOKEN not in output


@pytest.mark.servers
def test_the_real_cli_stops_clearly_without_push_access(
    start_github: Start, tmp_path: Path
) -> None:
    gh = start_github()
    (tmp_path / "alert.txt").write_text("Alert\nDisk full\n")
    env = job_env(gh, tmp_path, token=NO_PUSH_TOKEN)
    for command in ("check", "run", "run"):
        result = shitshovela(command, env=env)
        assert result.returncode == 3, result.stdout + result.stderr
        assert f"{READER} has no push access to {REPO}" in result.stdout
        assert NO_PUSH_TOKEN not in result.stdout + result.stderr
    assert gh.issues() == [] and [p.name for p in tmp_path.iterdir()] == ["alert.txt"]
    wrong = shitshovela("check", env=job_env(gh, tmp_path, token="ghp_wrongToken0000000000000"))
    assert wrong.returncode == 3
    assert "SHITSHOVELA_GITHUB__TOKEN" in wrong.stdout
    assert "ghp_wrongToken0000000000000" not in wrong.stdout + wrong.stderr
