"""The wheels users install carry no test tools: no test server, no testing package.

The core's and the plugins' wheels are built by deploy/container/build-wheels.sh
(the script the container recipe uses); every module in them is checked: none
may sit in a ``testing``, ``tests`` or ``emulator`` package, be a server
launcher or the fault proxy, or import the dev-only distributions (the testkit,
the emulators, the launchers) or a test framework. Those distributions
themselves are never built for an image.
"""

from __future__ import annotations

import ast
import zipfile
from pathlib import Path

import pytest

#: Packages a runtime module may not live in.
TEST_PACKAGES = frozenset({"testing", "tests", "emulator", "emulators"})
#: Module names of test servers and test tools.
TEST_MODULES = frozenset(
    {"conftest", "dovecot", "motoserver", "pushgateway", "faultproxy", "fakes", "conformance"}
)
#: What a runtime module may not import (the dev-only distributions, test frameworks).
TEST_IMPORTS = frozenset(
    {
        "shitshovela_testkit",
        "shitshovela_testservers",
        "shitshovela_jira_emulator",
        "shitshovela_github_emulator",
        "shitshovela_graph_emulator",
        "pytest",
        "hypothesis",
        "moto",
    }
)
RUNTIME = {
    "shitshovela",
    "shitshovela_mail",
    "shitshovela_imap",
    "shitshovela_s3",
    "shitshovela_jira",
    "shitshovela_github",
    "shitshovela_graph",
    "shitshovela_prometheus",
    "shitshovela_inhouse",
}


def imported(source: str) -> set[str]:
    """Top-level names of every module ``source`` imports (and ``faultproxy`` if named)."""
    names: set[str] = set()
    parts: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.module and node.level == 0:
                names.add(node.module)
            parts.update((node.module or "").split("."))
            parts.update(alias.name for alias in node.names)
    for name in names:
        parts.update(name.split("."))
    found = {name.split(".")[0] for name in names}
    if "faultproxy" in parts:
        found.add("faultproxy")
    return found


def tools_in(wheel: Path) -> list[str]:
    """Every test tool inside ``wheel``, as ``path: why``."""
    found: list[str] = []
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if not name.endswith(".py"):
                continue
            *packages, module = name.removesuffix(".py").split("/")
            if TEST_PACKAGES & set(packages):
                found.append(f"{name}: in a test package")
            elif module in TEST_MODULES or module.startswith("test_"):
                found.append(f"{name}: a test module")
            bad = imported(archive.read(name).decode("utf-8")) & (TEST_IMPORTS | {"faultproxy"})
            if bad:
                found.append(f"{name}: imports {', '.join(sorted(bad))}")
    return found


def distribution(wheel: Path) -> str:
    """``shitshovela_imap`` of ``shitshovela_imap-0.1.0-py3-none-any.whl``."""
    return wheel.name.split("-", 1)[0]


@pytest.mark.deploy
def test_the_runtime_wheels_carry_no_test_tools(built_wheels: Path) -> None:
    wheels = sorted(built_wheels.glob("*.whl"))
    assert {distribution(w) for w in wheels} == RUNTIME, "exactly the runtime distributions"
    problems = [f"{wheel.name}: {p}" for wheel in wheels for p in tools_in(wheel)]
    assert problems == []
    constraints = (built_wheels / "constraints.txt").read_text()
    for dev_only in ("moto==", "openapi-core==", "pytest==", "hypothesis=="):
        assert dev_only not in constraints, f"{dev_only} pinned for an image"


@pytest.mark.unit
def test_the_check_finds_every_kind_of_test_tool(tmp_path: Path) -> None:
    wheel = tmp_path / "shitshovela_x-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("shitshovela_x/__init__.py", '"""Fine."""\nimport httpx\n')
        archive.writestr("shitshovela_x/testing/__init__.py", "")
        archive.writestr("shitshovela_x/emulator/server.py", "")
        archive.writestr("shitshovela_x/dovecot.py", "")
        archive.writestr("shitshovela_x/test_x.py", "")
        archive.writestr(
            "shitshovela_x/probe.py", "from shitshovela_testkit.runs import run_once\n"
        )
        archive.writestr("shitshovela_x/net.py", "def f():\n    from .tools import faultproxy\n")
        archive.writestr("shitshovela_x/lazy.py", "def f():\n    import pytest\n")
        archive.writestr("shitshovela_x/proxy.py", "import shitshovela_x.faultproxy.proxy\n")
        archive.writestr("shitshovela_x-0.1.0.dist-info/METADATA", "Name: shitshovela-x\n")
    assert tools_in(wheel) == [
        "shitshovela_x/testing/__init__.py: in a test package",
        "shitshovela_x/emulator/server.py: in a test package",
        "shitshovela_x/dovecot.py: a test module",
        "shitshovela_x/test_x.py: a test module",
        "shitshovela_x/probe.py: imports shitshovela_testkit",
        "shitshovela_x/net.py: imports faultproxy",
        "shitshovela_x/lazy.py: imports pytest",
        "shitshovela_x/proxy.py: imports faultproxy",
    ]
