"""The public API is what plugins use: `shitshovela_core`'s exports, and nothing else.

Every built-in plugin's production code (and the in-house example's) imports
the core only as ``shitshovela_core`` and uses only names in its ``__all__``:
no submodule path, no private name. Each exported name is documented (a
docstring, and a line in the README's "The public API" table), and importing
the package stays cheap (the exports are lazy).
"""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import shitshovela_core

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
CORE = "shitshovela_core"
#: Test tools inside a plugin package, not production code.
NOT_PRODUCTION = frozenset({"testing", "emulator", "tests"})


def production_modules() -> list[Path]:
    """Every production module of the built-in plugins and the in-house example."""
    modules: list[Path] = []
    packages = [*ROOT.glob("plugins/*/shitshovela_*"), *ROOT.glob("examples/*/shitshovela_*")]
    for package in sorted(packages):
        for path in sorted(package.rglob("*.py")):
            parts = path.relative_to(package).with_suffix("").parts
            if NOT_PRODUCTION.isdisjoint(parts) and not parts[-1].startswith("test"):
                modules.append(path)
    return modules


def core_uses(source: str) -> list[str]:
    """What in ``source`` reaches into the core past its public API, one line each."""
    public = set(shitshovela_core.__all__)
    found: list[str] = []

    def check_name(line: int, name: str) -> None:
        if name.startswith("_"):
            found.append(f"line {line}: private name {CORE}.{name}")
        elif name not in public:
            found.append(f"line {line}: {CORE}.{name} is not exported (not in __all__)")

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(f"{CORE}."):
                    found.append(f"line {node.lineno}: import {alias.name} (a submodule)")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith(f"{CORE}."):
                found.append(f"line {node.lineno}: from {node.module} import ... (a submodule)")
            elif node.module == CORE:
                for alias in node.names:
                    check_name(node.lineno, alias.name)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == CORE
        ):
            check_name(node.lineno, node.attr)
    return found


def test_there_are_production_modules_to_check() -> None:
    names = {path.parent.name for path in production_modules()}
    plugins = {"imap", "s3", "jira", "github", "graph", "prometheus", "inhouse"}
    assert {f"shitshovela_{name}" for name in plugins} <= names


@pytest.mark.parametrize("path", production_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_plugins_import_only_the_public_api(path: Path) -> None:
    assert core_uses(path.read_text()) == []


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("from shitshovela_core.safehttp import HttpClient", "a submodule"),
        ("from shitshovela_core.models import FLAG_PREFIX", "a submodule"),
        ("import shitshovela_core.settings", "a submodule"),
        ("from shitshovela_core import _EXPORTS", "private name"),
        ("from shitshovela_core import PluginError", "not exported"),
        ("import shitshovela_core\nx = shitshovela_core._EXPORTS", "private name"),
        ("import shitshovela_core\nx = shitshovela_core.engine", "not exported"),
        (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from shitshovela_core.engine import RunInfo",
            "a submodule",
        ),
    ],
)
def test_the_check_finds_a_reach_past_the_api(source: str, reason: str) -> None:
    found = core_uses(source)
    assert len(found) == 1 and reason in found[0]


def test_the_check_accepts_the_public_api() -> None:
    source = (
        "import shitshovela_core\n"
        "from shitshovela_core import HttpClient, Source, env_name\n"
        "from .config import Settings\n"
        "@shitshovela_core.hookimpl\ndef f(): ...\n"
    )
    assert core_uses(source) == []


@pytest.mark.parametrize("name", shitshovela_core.__all__)
def test_every_export_has_a_docstring_of_its_own(name: str) -> None:
    value = getattr(shitshovela_core, name)
    if not (inspect.isclass(value) or inspect.isfunction(value)):
        # Constants, aliases and instances: a ``#:`` comment in their module and
        # the README table document them.
        return
    doc = value.__dict__.get("__doc__") if inspect.isclass(value) else value.__doc__
    assert doc and len(doc.split()) >= 5, f"{name} needs a docstring"


def readme_api_names() -> list[str]:
    """The names in the first column of the README's "The public API" tables."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("### The public API\n")
    end = readme.index("\n### ", start + 1)
    return re.findall(r"^\| `([^`]+)` \|", readme[start:end], re.MULTILINE)


def test_the_readme_lists_every_export_once_and_nothing_else() -> None:
    assert sorted(readme_api_names()) == sorted(shitshovela_core.__all__)


def test_importing_the_package_imports_none_of_its_modules() -> None:
    code = (
        "import sys, shitshovela_core\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith('shitshovela_core.'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_an_export_is_imported_on_first_use_only() -> None:
    code = (
        "import sys\n"
        "from shitshovela_core import Flag, Source\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith('shitshovela_core.'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = set(result.stdout.strip().split(","))
    assert {"shitshovela_core.models", "shitshovela_core.providers"} <= loaded
    assert not loaded & {"shitshovela_core.safehttp", "shitshovela_core.engine"}
