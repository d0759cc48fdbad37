"""The crontab: a lock per instance, the right env file, an interval above MAX_RUNTIME, and
each line run for real (with the paths moved into a temporary folder)."""

from __future__ import annotations

import fcntl
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from deploykit import (
    CRONTAB,
    ENV_DIR,
    cron_interval,
    env_files,
    max_runtime,
    read_env_file,
    require_tool,
    run,
    workspace_bin,
)

ENV_PATH = re.compile(r"\. (/etc/shitshovela/([a-z0-9_-]+)\.env);")
FLOCK = re.compile(r"\bexec flock -n (/\S+\.lock) (/\S+/shitshovela) run\b")
LOG = re.compile(r">>(/var/log/shitshovela/[a-z0-9_-]+\.log) 2>&1$")


@dataclass(frozen=True)
class Entry:
    schedule: str
    user: str
    command: str

    @property
    def env_file(self) -> str:
        match = ENV_PATH.search(self.command)
        assert match, self.command
        return match.group(2)


def entries(text: str) -> list[Entry]:
    found = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#") or re.match(r"^[A-Z_]+=", line):
            continue
        fields = line.split(None, 6)
        assert len(fields) == 7, f"five schedule fields, a user and a command: {line}"
        found.append(Entry(" ".join(fields[:5]), fields[5], fields[6]))
    return found


ENTRIES = entries(CRONTAB.read_text(encoding="utf-8"))
IDS = [e.env_file for e in ENTRIES]


@pytest.mark.unit
def test_one_line_per_example_instance() -> None:
    assert sorted(IDS) == sorted(p.stem for p in env_files())


@pytest.mark.unit
@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_line_policies(entry: Entry) -> None:
    name = entry.env_file
    assert (ENV_DIR / f"{name}.env").is_file(), "the env file is one of the examples"
    assert entry.command.startswith(f"set -a; . /etc/shitshovela/{name}.env; set +a; ")
    lock = FLOCK.search(entry.command)
    assert lock, "flock -n wraps the run"
    assert lock.group(1) == f"/run/lock/shitshovela-{name}.lock", "a lock file per instance"
    log = LOG.search(entry.command)
    assert log and log.group(1) == f"/var/log/shitshovela/{name}.log"
    assert "%" not in entry.command, "cron turns % into a newline"
    assert entry.user != "root"
    runtime = max_runtime(read_env_file(ENV_DIR / f"{name}.env"))
    assert cron_interval(entry.schedule) > runtime, "the interval exceeds MAX_RUNTIME"


@pytest.mark.unit
def test_locks_are_distinct() -> None:
    locks = [FLOCK.search(e.command).group(1) for e in ENTRIES]  # type: ignore[union-attr]
    assert len(set(locks)) == len(locks)


@pytest.mark.unit
def test_the_line_parser_sees_a_bad_line() -> None:
    bad = entries("*/5 * * * * shitshovela . /etc/shitshovela/x.env; shitshovela run\n")[0]
    assert not FLOCK.search(bad.command)


def _localised(entry: Entry, tmp: Path) -> tuple[str, Path, Path]:
    """The line's command with its paths moved under tmp, and `run` made `check --offline`."""
    name = entry.env_file
    lock = tmp / f"{name}.lock"
    log = tmp / f"{name}.log"
    command = (
        entry.command.replace(f"/etc/shitshovela/{name}.env", str(ENV_DIR / f"{name}.env"))
        .replace(f"/run/lock/shitshovela-{name}.lock", str(lock))
        .replace(f"/var/log/shitshovela/{name}.log", str(log))
        .replace(
            "/opt/shitshovela/bin/shitshovela run", f"{workspace_bin()}/shitshovela check --offline"
        )
    )
    assert str(ENV_DIR) in command and str(lock) in command and "check --offline" in command
    return command, lock, log


@pytest.mark.deploy
@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_line_runs_under_sh(entry: Entry, tmp_path: Path) -> None:
    """The command as cron runs it (/bin/sh -c, cron's bare environment) loads the env file."""
    require_tool("flock", "it comes with Debian's util-linux package")
    command, _, log = _localised(entry, tmp_path)
    result = run(["/bin/sh", "-c", command], env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 0, log.read_text() if log.exists() else result.stderr
    text = log.read_text()
    assert '"check_finished"' in text and '"offline": true' in text


@pytest.mark.deploy
@pytest.mark.parametrize("entry", ENTRIES[:1], ids=IDS[:1])
def test_a_held_lock_skips_the_run(entry: Entry, tmp_path: Path) -> None:
    require_tool("flock", "it comes with Debian's util-linux package")
    command, lock, log = _localised(entry, tmp_path)
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = run(["/bin/sh", "-c", command], env={"PATH": "/usr/bin:/bin"}, timeout=20)
    assert result.returncode == 1, "flock -n gives up at once"
    assert log.read_text() == "", "the job did not start"
