"""The systemd template service and timer: verified by systemd itself, and timed right.

`systemd-analyze verify` exits 0 even for unknown keys and sections, so its
output is read; a negative control proves that this machine's systemd reports
them. The timings are parsed by systemd too (`systemd-analyze timespan` and
`calendar`), not by a re-implementation.
"""

from __future__ import annotations

import configparser
import itertools
import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from deploykit import (
    SYSTEMD_DIR,
    env_files,
    max_runtime,
    read_env_file,
    require_tool,
    run,
    workspace_bin,
)

SERVICE = SYSTEMD_DIR / "shitshovela@.service"
TIMER = SYSTEMD_DIR / "shitshovela@.timer"
HINT = "it comes with Debian's systemd package: bash .ci/install-systemd"
WARNING = re.compile(
    r"unknown|ignoring|invalid|failed|not executable|bad |missing|deprecated", re.IGNORECASE
)


def systemd_analyze() -> str:
    return require_tool("systemd-analyze", HINT)


def unit(path: Path) -> configparser.RawConfigParser:
    """The unit's keys; a key set twice keeps its last value (systemd's lists are not needed)."""
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser


def all_values(path: Path, key: str) -> list[str]:
    return [
        line.split("=", 1)[1]
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith(key + "=")
    ]


def seconds(span: str) -> float:
    """A systemd time span in seconds, as systemd parses it."""
    result = run([systemd_analyze(), "timespan", span])
    assert result.returncode == 0, result.stderr
    match = re.search(r"μs: (\d+)", result.stdout)
    assert match, result.stdout
    return int(match.group(1)) / 1e6


def calendar_interval(expression: str) -> float:
    """The shortest gap between two elapses of an OnCalendar= expression, over two days."""
    result = run([systemd_analyze(), "calendar", "--iterations=400", expression])
    assert result.returncode == 0, result.stderr
    stamps = [
        datetime.fromisoformat(m)
        for m in re.findall(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", result.stdout)
    ]
    assert len(stamps) >= 100, result.stdout
    return min((b - a).total_seconds() for a, b in itertools.pairwise(stamps))


def verify(tmp_path: Path, service_text: str, timer_text: str) -> tuple[int, str]:
    """Verify copies of the units, with ExecStart pointing at an existing binary."""
    folder = tmp_path / "units"
    folder.mkdir()
    binary = workspace_bin() / "shitshovela"
    assert binary.is_file()
    service_text = re.sub(
        r"^ExecStart=/opt/shitshovela/bin/shitshovela ",
        f"ExecStart={binary} ",
        service_text,
        flags=re.MULTILINE,
    )
    (folder / SERVICE.name).write_text(service_text)
    (folder / TIMER.name).write_text(timer_text)
    result = run(
        [systemd_analyze(), "verify", str(folder / SERVICE.name), str(folder / TIMER.name)]
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.deploy
def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    code, output = verify(tmp_path, SERVICE.read_text(), TIMER.read_text())
    assert code == 0, output
    problems = [line for line in output.splitlines() if WARNING.search(line)]
    assert problems == [], output


@pytest.mark.deploy
def test_verify_reports_unknown_keys_here(tmp_path: Path) -> None:
    """The control: systemd-analyze on this machine reports what the check looks for."""
    service = SERVICE.read_text() + "\n[Bogus]\nX=1\n"
    timer = TIMER.read_text().replace("[Timer]\n", "[Timer]\nOnCalender=daily\n")
    code, output = verify(tmp_path, service, timer)
    assert code == 0, "verify exits 0 even so: reading its output is what catches these"
    assert re.search(r"Unknown section 'Bogus'", output), output
    assert re.search(r"Unknown key '?OnCalender'?", output), output


@pytest.mark.unit
def test_service_policies() -> None:
    service = unit(SERVICE)["Service"]
    assert service["Type"] == "oneshot"
    assert service["EnvironmentFile"] == "/etc/shitshovela/%i.env"
    exec_start = service["ExecStart"]
    assert exec_start.startswith("/") and exec_start.endswith("/shitshovela run")
    assert "RuntimeMaxSec" not in service, "no effect on Type=oneshot: TimeoutStartSec= is the cap"
    assert service["KillSignal"] == "SIGTERM"
    assert service["DynamicUser"] == "yes"
    hardening = {
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectControlGroups": "yes",
        "RestrictSUIDSGID": "yes",
        "LockPersonality": "yes",
    }
    for key, value in hardening.items():
        assert service.get(key) == value, key
    assert "@system-service" in all_values(SERVICE, "SystemCallFilter")
    # The job reads /proc/uptime to count its deadline from process start.
    assert "ProcSubset" not in service
    assert "MemoryMax" in service


@pytest.mark.deploy
def test_timeouts_and_memory_fit_the_instances() -> None:
    service = unit(SERVICE)["Service"]
    timer = unit(TIMER)["Timer"]
    timeout = seconds(service["TimeoutStartSec"])
    interval = calendar_interval(timer["OnCalendar"])
    delay = seconds(timer.get("RandomizedDelaySec", "0"))
    for path in env_files():
        runtime = max_runtime(read_env_file(path))
        assert timeout >= runtime + 30, (path.name, "TimeoutStartSec above MAX_RUNTIME")
        # Even with the random delay moving two starts closer, a run ends before the next.
        assert interval - delay > runtime, path.name
    assert timeout < interval, "a stuck run is stopped before the next is due"
    memory = service["MemoryMax"]
    assert re.fullmatch(r"\d+M", memory) and 128 <= int(memory[:-1]) <= 512


@pytest.mark.unit
def test_timer_policies() -> None:
    parsed = unit(TIMER)
    timer = parsed["Timer"]
    assert timer["OnCalendar"]
    assert timer["Persistent"] == "true"
    assert "RandomizedDelaySec" in timer
    assert "Unit" not in timer, "a template timer starts the service of the same instance"
    assert parsed["Install"]["WantedBy"] == "timers.target"


@pytest.mark.unit
def test_ci_can_install_systemd() -> None:
    script = Path(__file__).resolve().parents[2] / ".ci" / "install-systemd"
    text = script.read_text()
    assert "systemd-analyze" in text and "apt-get install" in text
    assert shutil.which("bash")
