"""The command line, run as a real subprocess with a file-backed test plugin installed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from plugin_dists import install_dist, install_files_plugin

pytestmark = pytest.mark.unit

SECRET = '@format {env[HOME]} "1e3"'


def cli(
    site: Path, *args: str, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHITSHOVELA_")}
    clean["PYTHONPATH"] = str(site)
    clean["SHITSHOVELA_LOG_FORMAT"] = "json"
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "shitshovela_core", *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return install_files_plugin(tmp_path / "site")


@pytest.fixture
def job(tmp_path: Path) -> dict[str, str]:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for n in range(3):
        (inbox / f"item-{n}.txt").write_text(f"Alert {n}\nbody {n}")
    return {
        "SHITSHOVELA_SOURCE": "dir",
        "SHITSHOVELA_TICKET_SYSTEM": "jsonfile",
        "SHITSHOVELA_INSTANCE": "cli-test",
        "SHITSHOVELA_DIR__PATH": str(inbox),
        "SHITSHOVELA_JSONFILE__PATH": str(tmp_path / "tickets.json"),
        "SHITSHOVELA_JSONFILE__TOKEN": SECRET,
    }


def last_event(output: str) -> dict[str, object]:
    lines = [line for line in output.splitlines() if line.strip()]
    event: dict[str, object] = json.loads(lines[-1])
    return event


def test_version(site: Path) -> None:
    result = cli(site, "--version")
    assert result.returncode == 0
    assert result.stdout.startswith("shitshovela, version ")


def test_plugins_json_lists_providers_and_settings(site: Path) -> None:
    result = cli(site, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    providers = {p["name"]: p for p in data["providers"]}
    assert providers["dir"]["kind"] == "source"
    assert providers["dir"]["plugin"] == "files"
    envs = {s["env"]: s for s in providers["jsonfile"]["settings"]}
    assert envs["SHITSHOVELA_JSONFILE__TOKEN"]["secret"] is True
    assert envs["SHITSHOVELA_JSONFILE__RATE"]["type"] == "float"
    assert "SHITSHOVELA_MAX_RUNTIME" in {s["env"] for s in data["core"]["settings"]}
    assert data["plugins"][0]["hooks"] == ["register_sources", "register_ticket_systems"]


def test_plugins_human_listing(site: Path) -> None:
    result = cli(site, "plugins")
    assert result.returncode == 0
    assert "SHITSHOVELA_JSONFILE__TOKEN (str) [required, secret]" in result.stdout


# An observer that is not a provider: it declares a settings group and writes
# what its hooks received into the file its settings name.
OBSERVER_PLUGIN = """
import json
import shitshovela_core
from shitshovela_core import Setting

@shitshovela_core.hookimpl
def register_settings(register):
    register("spy", help="Writes what the observe hooks get (test only).",
             settings=[Setting("OUT", help="The file."),
                       Setting("TOKEN", secret=True, help="A secret.")])

@shitshovela_core.hookimpl
def run_finished(run, summary, budget):
    settings = run.settings["spy"]
    with open(settings["OUT"], "w") as out:
        json.dump({"token": settings["TOKEN"], "created": summary.created,
                   "window": budget.for_observers().stop_at > budget.stop_at}, out)
"""


def install_observer(site: Path) -> None:
    install_dist(site, "shsh-spy", {"spy": "spy_plugin"}, {"spy_plugin": OBSERVER_PLUGIN})


def test_plugins_lists_the_settings_groups_of_observers(site: Path) -> None:
    install_observer(site)
    data = json.loads(cli(site, "plugins", "--json").stdout)
    groups = {g["name"]: g for g in data["settings_groups"]}
    assert groups["spy"]["plugin"] == "spy"
    envs = {s["env"]: s for s in groups["spy"]["settings"]}
    assert envs["SHITSHOVELA_SPY__TOKEN"]["secret"] is True
    text = cli(site, "plugins").stdout
    assert "  spy (from spy): Writes what the observe hooks get (test only)." in text
    assert "SHITSHOVELA_SPY__TOKEN (str) [secret]" in text


def test_observers_get_their_settings_and_the_budget(
    site: Path, job: dict[str, str], tmp_path: Path
) -> None:
    install_observer(site)
    out = tmp_path / "spy.json"
    secret = "0x1F2E3D"
    result = cli(site, "run", **job, SHITSHOVELA_SPY__OUT=str(out), SHITSHOVELA_SPY__TOKEN=secret)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(out.read_text()) == {"token": secret, "created": 3, "window": True}


def test_a_bad_observer_setting_exits_2_and_contacts_nothing(
    site: Path, job: dict[str, str], tmp_path: Path
) -> None:
    install_observer(site)
    result = cli(site, "run", **job, SHITSHOVELA_SPY__OUTT="x")
    assert result.returncode == 2
    assert "did you mean SHITSHOVELA_SPY__OUT?" in result.stdout
    assert len(list((tmp_path / "inbox").iterdir())) == 3


def test_run_moves_every_item_and_keeps_the_secret_exact_and_hidden(
    site: Path, job: dict[str, str], tmp_path: Path
) -> None:
    result = cli(site, "run", **job)
    assert result.returncode == 0, result.stdout + result.stderr
    final = last_event(result.stdout)
    assert final["event"] == "run_finished"
    assert final["created"] == 3
    assert final["exit_code"] == 0
    assert str(final["reason"]).startswith("drained")
    tickets = json.loads((tmp_path / "tickets.json").read_text())
    assert [t["title"] for t in tickets] == ["Alert 0", "Alert 1", "Alert 2"]
    assert all(t["labels"] == [] for t in tickets)
    assert {t["token"] for t in tickets} == {SECRET}
    assert list((tmp_path / "inbox").iterdir()) == []
    assert SECRET not in result.stdout + result.stderr
    events = [json.loads(line)["event"] for line in result.stdout.splitlines()]
    assert events.count("item_moved") == 3


def test_bad_config_exits_2_names_the_variable_and_contacts_nothing(
    site: Path, job: dict[str, str]
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.2)
        port = listener.getsockname()[1]
        job["SHITSHOVELA_JSONFILE__CONNECT"] = f"127.0.0.1:{port}"
        job["SHITSHOVELA_JSONFILE__PORT"] = "https"
        result = cli(site, "run", **job)
        with pytest.raises(TimeoutError):
            listener.accept()
    assert result.returncode == 2
    assert "SHITSHOVELA_JSONFILE__PORT='https' is invalid: expected an integer" in result.stdout
    assert last_event(result.stdout)["event"] == "run_failed"


def test_the_connect_probe_does_contact_when_config_is_good(
    site: Path, job: dict[str, str]
) -> None:
    """The contact check above can fail: with a good config, the listener is reached."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)
        job["SHITSHOVELA_JSONFILE__CONNECT"] = f"127.0.0.1:{listener.getsockname()[1]}"
        result = cli(site, "run", **job)
        connection, _ = listener.accept()
        connection.close()
    assert result.returncode == 0


@pytest.mark.parametrize("command", ["run", "check"])
def test_unreachable_system_exits_3_with_nothing_changed(
    site: Path, job: dict[str, str], tmp_path: Path, command: str
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    job["SHITSHOVELA_JSONFILE__CONNECT"] = f"127.0.0.1:{port}"
    result = cli(site, command, **job)
    assert result.returncode == 3
    assert f"cannot reach 127.0.0.1:{port}" in last_event(result.stdout)["reason"]  # type: ignore[operator]
    assert len(list((tmp_path / "inbox").iterdir())) == 3


def test_check_offline_validates_and_contacts_nothing(
    site: Path, job: dict[str, str], tmp_path: Path
) -> None:
    """`check --offline` builds the providers but reaches no system: the same unreachable
    configuration that `check` fails with 3 passes with 0, in one line."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.2)
        job["SHITSHOVELA_JSONFILE__CONNECT"] = f"127.0.0.1:{listener.getsockname()[1]}"
        result = cli(site, "check", "--offline", **job)
        with pytest.raises(TimeoutError):
            listener.accept()
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1
    assert json.loads(lines[0]) | {"timestamp": None} == {
        "event": "check_finished",
        "result": "ok",
        "offline": True,
        "level": "info",
        "timestamp": None,
    }
    assert SECRET not in result.stdout + result.stderr
    assert len(list((tmp_path / "inbox").iterdir())) == 3


def test_check_offline_lists_every_problem(site: Path, job: dict[str, str]) -> None:
    job["SHITSHOVELA_JSONFILE__PORT"] = "https"
    job["SHITSHOVELA_MAX_RUNTIME"] = "-1"
    result = cli(site, "check", "--offline", **job)
    assert result.returncode == 2
    assert "SHITSHOVELA_JSONFILE__PORT='https' is invalid" in result.stdout
    assert "SHITSHOVELA_MAX_RUNTIME='-1' is invalid" in result.stdout
    assert "check_finished" not in result.stdout


def test_plan_shows_drafts_and_touches_nothing(
    site: Path, job: dict[str, str], tmp_path: Path
) -> None:
    result = cli(site, "plan", **job)
    assert result.returncode == 0, result.stderr
    assert "title:  Alert 0" in result.stdout
    assert "labels: shitshovela-inprogress-cli-test" in result.stdout
    assert len(list((tmp_path / "inbox").iterdir())) == 3
    assert not (tmp_path / "tickets.json").exists()


def test_plan_marks_what_the_per_run_cap_leaves_for_the_next_run(
    site: Path, job: dict[str, str], tmp_path: Path
) -> None:
    result = cli(site, "plan", "--limit", "3", **job, SHITSHOVELA_MAX_TICKETS="2")
    assert result.returncode == 0, result.stderr
    assert "Drain (first 3, at most 2 per run):" in result.stdout
    assert "title:  Alert 1" in result.stdout and "title:  Alert 2" not in result.stdout
    (left,) = [line for line in result.stdout.splitlines() if "left for the next run" in line]
    assert "item-2.txt" in left
    assert len(list((tmp_path / "inbox").iterdir())) == 3


def test_broken_selected_plugin_exits_2(site: Path, job: dict[str, str]) -> None:
    install_dist(
        site,
        "shsh-broken",
        {"broken": "broken_plugin"},
        {"broken_plugin": "raise RuntimeError('boom at import')\n"},
    )
    result = cli(site, "run", **{**job, "SHITSHOVELA_SOURCE": "broken"})
    assert result.returncode == 2
    assert "plugin 'broken' failed to load: RuntimeError: boom at import" in result.stdout


def test_broken_unselected_plugin_does_not_stop_the_run(site: Path, job: dict[str, str]) -> None:
    install_dist(
        site,
        "shsh-broken",
        {"broken": "broken_plugin"},
        {"broken_plugin": "raise RuntimeError('boom at import')\n"},
    )
    result = cli(site, "run", **job)
    assert result.returncode == 0
    assert '"event": "plugin_broken"' in result.stdout


@pytest.mark.alone
def test_watchdog_ends_a_run_that_ignores_its_budget(site: Path, job: dict[str, str]) -> None:
    started = time.monotonic()
    result = cli(
        site, "run", timeout=30, **job, SHITSHOVELA_DIR__HANG="60", SHITSHOVELA_MAX_RUNTIME="3"
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 7
    final = last_event(result.stdout)
    assert final["event"] == "run_failed"
    assert "watchdog" in str(final["reason"])
    assert elapsed < 3.0


@pytest.mark.alone
def test_watchdog_ends_a_plan_that_ignores_its_budget(site: Path, job: dict[str, str]) -> None:
    # `plan` reads the source too: the same deadline and the same hard stop as `run`.
    started = time.monotonic()
    result = cli(
        site, "plan", timeout=30, **job, SHITSHOVELA_DIR__HANG="60", SHITSHOVELA_MAX_RUNTIME="3"
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 7, result.stdout + result.stderr
    assert "watchdog" in result.stdout + result.stderr
    assert elapsed < 3.0


def test_sigterm_stops_with_a_last_log_line(site: Path, job: dict[str, str]) -> None:
    import signal

    env = {k: v for k, v in os.environ.items() if not k.startswith("SHITSHOVELA_")}
    env.update(job, PYTHONPATH=str(site), SHITSHOVELA_LOG_FORMAT="json", SHITSHOVELA_DIR__HANG="30")
    process = subprocess.Popen(
        [sys.executable, "-m", "shitshovela_core", "run"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:  # after run_started the handler is in place
        if json.loads(line)["event"] == "run_started":
            break
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=20)
    assert process.returncode == 143
    final = json.loads(out.strip().splitlines()[-1])
    assert final["event"] == "run_failed" and final["reason"] == "stopped by SIGTERM"
