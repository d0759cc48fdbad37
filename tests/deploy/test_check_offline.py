"""`shitshovela check --offline`: the examples pass, broken configs fail, nothing is contacted.

Each run is the real CLI in a subprocess whose environment holds only the env
file's variables (read the crontab's way, `set -a; . FILE; set +a`) and PATH.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from deploykit import env_files, read_env_file, run, workspace_bin

pytestmark = pytest.mark.deploy


def check(
    path: Path | None, *args: str, extra: dict[str, str] | None = None, timeout: float = 60
) -> tuple[int, list[dict[str, object]], str]:
    """Run `shitshovela check ARGS` with only the env file's variables (plus `extra`)."""
    env = {"PATH": f"{workspace_bin()}:/usr/bin:/bin"}
    env.update(extra or {})
    if path is None:
        argv = ["sh", "-c", 'exec shitshovela check "$@"', "sh", *args]
    else:
        script = 'set -a; . "$1"; set +a; shift; exec shitshovela check "$@"'
        argv = ["sh", "-c", script, "sh", str(path), *args]
    result = run(argv, env=env, timeout=timeout)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.returncode, lines, result.stderr


@pytest.mark.parametrize("path", env_files(), ids=lambda p: p.name)
def test_example_env_file_passes(path: Path) -> None:
    code, lines, stderr = check(path, "--offline")
    assert code == 0, (lines, stderr)
    assert len(lines) == 1, lines
    assert lines[0]["event"] == "check_finished"
    assert lines[0]["result"] == "ok"
    assert lines[0]["offline"] is True


def test_every_problem_is_listed_with_exit_2(tmp_path: Path) -> None:
    values = read_env_file(env_files()[0])
    values.pop("SHITSHOVELA_INSTANCE")
    values["SHITSHOVELA_MAX_RUNTIME"] = "soon"
    values["SHITSHOVELA_MAX_TIKETS"] = "5"
    code, lines, _ = check(None, "--offline", extra=values)
    assert code == 2
    invalid = [line for line in lines if line["event"] == "config_invalid"]
    problems = " | ".join(str(line["problem"]) for line in invalid)
    assert "SHITSHOVELA_INSTANCE is not set" in problems
    assert "SHITSHOVELA_MAX_RUNTIME='soon' is invalid" in problems
    assert "did you mean SHITSHOVELA_MAX_TICKETS?" in problems
    assert lines[-1]["event"] == "run_failed"
    assert lines[-1]["exit_code"] == 2
    assert not any(line["event"] == "check_finished" for line in lines)


def test_provider_cross_checks_run_offline() -> None:
    """Building the providers catches what only a provider knows: FLAVOUR=cloud needs a token."""
    values = read_env_file(Path(env_files()[0]))
    del values["SHITSHOVELA_JIRA__API_TOKEN"]
    code, lines, _ = check(None, "--offline", extra=values)
    assert code == 2
    text = json.dumps(lines)
    assert "SHITSHOVELA_JIRA__API_TOKEN" in text
    assert not any(line["event"] == "check_finished" for line in lines)


def test_a_broken_provider_install_fails_offline() -> None:
    """A selected provider whose plugin is blocked (as if not installed) fails with exit 2."""
    values = read_env_file(env_files()[0])
    values["SHITSHOVELA_BLOCK_PLUGINS"] = "jira"
    code, lines, _ = check(None, "--offline", extra=values)
    assert code == 2
    assert "jira" in json.dumps(lines)


class Listener:
    """A loopback TCP listener that counts (and drops) every connection made to it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def _pointed_at(values: dict[str, str], port: int) -> dict[str, str]:
    """The env file with every host it would contact replaced by the listener."""
    values = dict(values)
    values["SHITSHOVELA_MAX_RUNTIME"] = "20"
    values["SHITSHOVELA_JIRA__URL"] = f"http://127.0.0.1:{port}"
    values["SHITSHOVELA_PROMETHEUS__PUSHGATEWAY"] = f"http://127.0.0.1:{port}"
    if values["SHITSHOVELA_SOURCE"] == "imap":
        values["SHITSHOVELA_IMAP__HOST"] = "127.0.0.1"
        values["SHITSHOVELA_IMAP__PORT"] = str(port)
    if values["SHITSHOVELA_SOURCE"] == "s3":
        values["SHITSHOVELA_S3__ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
    return values


@pytest.mark.parametrize("path", env_files(), ids=lambda p: p.name)
def test_offline_contacts_nothing(path: Path, listener: Listener) -> None:
    """Neither system, nor the metrics' Pushgateway."""
    values = _pointed_at(read_env_file(path), listener.port)
    started = time.monotonic()
    code, lines, stderr = check(None, "--offline", extra=values)
    assert code == 0, (lines, stderr)
    assert lines[-1]["event"] == "check_finished"
    time.sleep(0.3)  # a connection in flight would be accepted by now
    assert listener.connections == 0
    assert time.monotonic() - started < 15


def test_online_check_does_contact_the_listener(listener: Listener) -> None:
    """The control: without --offline the same configuration reaches the listener."""
    values = _pointed_at(read_env_file(env_files()[0]), listener.port)
    values["SHITSHOVELA_MAX_RUNTIME"] = "3"  # it retries a dropped connection until then
    code, lines, _ = check(None, extra=values)
    assert code == 3, lines
    assert listener.connections >= 1


def test_help_documents_offline() -> None:
    result = run([str(workspace_bin() / "shitshovela"), "check", "--help"])
    assert result.returncode == 0
    assert "--offline" in result.stdout
    assert "nothing is contacted" in " ".join(result.stdout.split())
