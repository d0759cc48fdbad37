"""The README documents every hook with its exact signature, and every hook has a test."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from shitshovela_core import hookspecs

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]


def hook_names() -> list[str]:
    return [
        name
        for name, value in vars(hookspecs).items()
        if callable(value) and hasattr(value, "shitshovela_spec")
    ]


def signature(name: str) -> str:
    text = str(inspect.signature(getattr(hookspecs, name)))
    return name + text.replace("'", "")


def test_there_are_hooks() -> None:
    assert len(hook_names()) == 7


@pytest.mark.parametrize("name", hook_names())
def test_hook_is_documented_in_the_readme(name: str) -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"`{signature(name)}`" in readme


@pytest.mark.parametrize("name", hook_names())
def test_hook_has_a_docstring(name: str) -> None:
    doc = getattr(hookspecs, name).__doc__
    assert doc
    assert len(doc.split()) > 10


@pytest.mark.parametrize("name", hook_names())
def test_hook_has_a_test(name: str) -> None:
    tests = (ROOT / "tests" / "test_hooks.py").read_text()
    assert re.search(rf"^def test_hook_{name}\(", tests, re.MULTILINE)


def test_exit_code_table_matches_the_code() -> None:
    from shitshovela_core.errors import ExitCode

    readme = (ROOT / "README.md").read_text()
    for code in ExitCode:
        assert re.search(rf"^\| {int(code)} \| ", readme, re.MULTILINE), code


def test_core_exports_resolve() -> None:
    import shitshovela_core

    assert sorted(shitshovela_core.__all__) == sorted(shitshovela_core._EXPORTS)
    for name in shitshovela_core.__all__:
        assert getattr(shitshovela_core, name) is not None
