"""How the process ends, through the real CLI: on a signal at any moment, and before
its deadline whatever the machine's load (I5).

A signal (SIGTERM, SIGINT, SIGHUP) gives a last log line naming it and the exit
code 128 + the signal from the job's first line on, imports included. Before
that line the interpreter is still starting (tens of milliseconds), and no
program can answer a signal then: the tests wait until the handlers show as
caught in ``/proc/<pid>/status`` (``SigCgt``), the earliest moment there is,
or until a later moment after the spawn, and then send the signal.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from plugin_dists import install_files_plugin

pytestmark = pytest.mark.unit

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_files_plugin(tmp_path_factory.mktemp("site"))


@pytest.fixture
def default_dispositions() -> Iterator[None]:
    """Children inherit ignored signals: start them with the default disposition,
    as a scheduler does (the job leaves a signal it was started ignoring ignored)."""
    saved = {signum: signal.getsignal(signum) for signum in SIGNALS}
    for signum, handler in saved.items():
        if handler == signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)
    yield
    for signum, handler in saved.items():
        if handler == signal.SIG_IGN:
            signal.signal(signum, handler)


def hanging_job(site: Path, tmp_path: Path, **extra: str) -> dict[str, str]:
    """A run that lasts: its source hangs for a minute, ignoring the budget."""
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    (inbox / "item.txt").write_text("Alert\nbody")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHITSHOVELA_")}
    env.update(
        PYTHONPATH=str(site),
        SHITSHOVELA_SOURCE="dir",
        SHITSHOVELA_TICKET_SYSTEM="jsonfile",
        SHITSHOVELA_INSTANCE="ending",
        SHITSHOVELA_LOG_FORMAT="json",
        SHITSHOVELA_MAX_RUNTIME="60",
        SHITSHOVELA_DIR__PATH=str(inbox),
        SHITSHOVELA_DIR__HANG="60",
        SHITSHOVELA_JSONFILE__PATH=str(tmp_path / "tickets.json"),
        SHITSHOVELA_JSONFILE__TOKEN="a-test-token",
    )
    env.update(extra)
    return env


def caught(pid: int) -> set[int]:
    """The signals process ``pid`` has handlers for (``SigCgt`` in ``/proc``)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("SigCgt:"):
                mask = int(line.split()[1], 16)
                return {n for n in range(1, 65) if mask & (1 << (n - 1))}
    return set()


def wait_for_handlers(process: subprocess.Popen[str], timeout: float = 30) -> float:
    """Wait until ``process`` catches every signal of `SIGNALS`; how long that took."""
    started = time.monotonic()
    while not set(SIGNALS) <= caught(process.pid):
        assert process.poll() is None, "the process ended before it caught the signals"
        assert time.monotonic() - started < timeout, "the signal handlers never appeared"
        time.sleep(0.002)
    return time.monotonic() - started


# -- signals at any moment ------------------------------------------------------------


@pytest.mark.usefixtures("default_dispositions")
@pytest.mark.parametrize("moment", [0.0, 0.1, 0.3, 0.6], ids=lambda m: f"{m}s")
@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_at_any_early_moment_ends_with_a_last_line_and_128_plus_it(
    site: Path, tmp_path: Path, signum: int, moment: float
) -> None:
    """0.0: as soon as the handlers exist (before the imports); the other moments
    land in the imports, the configuration or the run, depending on the load."""
    spawned = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "shitshovela_core", "run"],
        env=hanging_job(site, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        wait_for_handlers(process)
        time.sleep(max(0.0, moment - (time.monotonic() - spawned)))
        process.send_signal(signum)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    name = signal.Signals(signum).name
    assert process.returncode == 128 + signum, (process.returncode, out[-500:], err[-500:])
    final = json.loads(out.strip().splitlines()[-1])
    assert final["event"] == "run_failed"
    assert final["reason"] == f"stopped by {name}"
    assert final["exit_code"] == 128 + signum
    assert "Aborted" not in err and "Traceback" not in err


@pytest.mark.usefixtures("default_dispositions")
@pytest.mark.parametrize(
    ("command", "log_format"), [("run", "console"), ("plan", "json")], ids=["run", "plan"]
)
def test_the_last_line_follows_the_log_format_and_the_commands_stream(
    site: Path, tmp_path: Path, command: str, log_format: str
) -> None:
    """Before logging is configured too: ``run`` logs to stdout, ``plan`` to stderr
    (its output is the plan); ``console`` lines are the readable ones."""
    process = subprocess.Popen(
        [sys.executable, "-m", "shitshovela_core", command],
        env=hanging_job(site, tmp_path, SHITSHOVELA_LOG_FORMAT=log_format),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for_handlers(process)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 143
    logs, other = (out, err) if command == "run" else (err, out)
    last = logs.strip().splitlines()[-1]
    if log_format == "json":
        assert json.loads(last)["reason"] == "stopped by SIGTERM"
    else:
        assert "[error    ] run_failed" in last and "reason='stopped by SIGTERM'" in last
    assert "stopped by" not in other


# -- the deadline on a busy machine (I5) ----------------------------------------------

RUNTIME = 3.0  # the shortest MAX_RUNTIME there is: the least room for a late exit
TOKEN = "load-test-token"


@pytest.fixture
def busy_machine() -> Iterator[int]:
    """Keep every CPU busy (one spinning process per core, and one more) for the test."""
    count = (os.cpu_count() or 1) + 1
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield count
    finally:
        for burner in burners:
            burner.kill()
        for burner in burners:
            burner.wait()


@pytest.fixture(scope="module")
def http_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from plugin_dists import install_http_plugin

    return install_http_plugin(tmp_path_factory.mktemp("http-site"))


@pytest.mark.servers
@pytest.mark.alone  # it loads every CPU: the other tests wait meanwhile
@pytest.mark.usefixtures("busy_machine")
def test_the_process_is_gone_before_its_deadline_on_a_busy_machine(
    http_site: Path, tmp_path: Path
) -> None:
    """Against a hung server, a quick run, and a source that ignores the budget:
    every process is reaped before ``MAX_RUNTIME`` after the test spawned it,
    with a last line, whatever the load makes of its start-up and its end."""
    from httptracker import Tracker
    from plugin_dists import http_job_env
    from shitshovela_testkit.faultproxy import FaultProxy, Hang, Script

    outcomes = []
    with (
        Tracker(TOKEN) as tracker,
        FaultProxy(("127.0.0.1", tracker.port), Script(default=Hang())) as hung,
    ):
        # case: (the tracker's URL, extra settings, the exit codes it may end with: 0
        # where the load left no time to reach the hung server or the source, 7 where
        # it left no time to end the run)
        cases = {
            "hung-server": (hung.url, {}, {0, 3, 7}),
            "quick-run": (tracker.url, {}, {0, 7}),
            "source-ignores-budget": (tracker.url, {"SHITSHOVELA_DIR__HANG": "60"}, {0, 7}),
        }
        for run in range(3):
            for case, (url, extra, codes) in cases.items():
                inbox = tmp_path / f"inbox-{case}-{run}"
                inbox.mkdir()
                (inbox / "item.txt").write_text("Alert\nbody")
                env = http_job_env(
                    http_site, inbox, url, TOKEN, SHITSHOVELA_MAX_RUNTIME=str(RUNTIME), **extra
                )
                started = time.monotonic()
                result = subprocess.run(
                    [sys.executable, "-m", "shitshovela_core", "run"],
                    env=env, capture_output=True, text=True, timeout=60, check=False,
                )  # fmt: skip
                elapsed = time.monotonic() - started
                lines = result.stdout.strip().splitlines()
                try:
                    final = json.loads(lines[-1])["event"] if lines else "no line"
                except ValueError:
                    final = f"not one JSON line: {lines[-1]!r}"
                expected = result.returncode in codes and final in {"run_finished", "run_failed"}
                outcomes.append((case, round(elapsed, 3), result.returncode, final, expected))
    print("(case, seconds, exit code, last event, expected):", outcomes)
    unexpected = [outcome for outcome in outcomes if not outcome[4]]
    assert not unexpected, f"unexpected ends: {unexpected} (all: {outcomes})"
    late = [outcome for outcome in outcomes if outcome[1] >= RUNTIME]
    assert not late, f"past the {RUNTIME}s deadline: {late} (all: {outcomes})"


@pytest.mark.alone
def test_a_run_that_holds_the_interpreter_is_ended_by_the_kernel_before_its_deadline(
    site: Path, tmp_path: Path
) -> None:
    """One C call that never lets the watchdog thread run (the source sums 10^12
    numbers): the kernel's timer ends the process (SIGALRM) before the deadline,
    without a line, since no Python code can run."""
    env = hanging_job(
        site, tmp_path, SHITSHOVELA_MAX_RUNTIME=str(RUNTIME), SHITSHOVELA_DIR__SPIN=str(10**12)
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "shitshovela_core", "run"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.returncode == -signal.SIGALRM, result.stdout[-500:]
    assert elapsed < RUNTIME
    assert json.loads(result.stdout.strip().splitlines()[-1])["event"] == "run_started"


@pytest.mark.parametrize("runtime", ["99999999999h", "0.0001s"])
def test_an_absurd_max_runtime_exits_2_naming_the_setting_and_its_range(
    site: Path, tmp_path: Path, runtime: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shitshovela_core", "run"],
        env=hanging_job(site, tmp_path, SHITSHOVELA_MAX_RUNTIME=runtime),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"SHITSHOVELA_MAX_RUNTIME={runtime!r} is invalid: use 3s to 168h" in result.stdout
    assert json.loads(result.stdout.strip().splitlines()[-1])["event"] == "run_failed"
    assert result.stderr == ""
    assert not (tmp_path / "tickets.json").exists()


def test_the_variables_read_before_the_configuration_are_core_settings() -> None:
    from shitshovela_core import hardstop
    from shitshovela_core.envsettings import CORE_SETTINGS
    from shitshovela_core.settings import env_name

    names = {env_name(None, s.name) for s in CORE_SETTINGS}
    assert {hardstop.MAX_RUNTIME_VARIABLE, hardstop.LOG_FORMAT_VARIABLE} <= names


def test_a_last_line_while_the_redactor_is_half_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    """A signal can land while ``shitshovela_core.redact`` is being imported: the
    module is in ``sys.modules`` without its functions yet (once an AttributeError
    in the handler, exit 1). Nothing is secret then: the line is written as is."""
    import types

    from shitshovela_core import hardstop

    monkeypatch.setitem(sys.modules, "shitshovela_core.redact", types.ModuleType("half"))
    monkeypatch.setattr(hardstop._OUTPUT, "json", True)
    line = json.loads(hardstop.format_line("run_failed", reason="stopped by SIGTERM"))
    assert line["reason"] == "stopped by SIGTERM"
