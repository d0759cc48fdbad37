"""docs/DESIGN.md cites, for every invariant I1-I12, tests that exist.

A citation is a test id in backticks, ``path::name`` or ``path::Class::method``.
The path must be a tracked test file and the name must be defined at its top
level (a function, a class, or a name assigned there, such as a conformance
suite made by a factory); a method must be defined in that class. Renaming or
deleting a cited test therefore fails here until the design doc follows.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "docs" / "DESIGN.md"
INVARIANTS = [f"I{n}" for n in range(1, 13)]

_HEADING = re.compile(r"^### (I\d+) — .+$", re.MULTILINE)
_CITATION = re.compile(r"`([\w./-]+\.py)::([\w:]+)`")


def invariant_sections(text: str) -> dict[str, str]:
    """``{"I1": section text, ...}``: each ``### In — title`` up to the next heading."""
    sections: dict[str, str] = {}
    for match in _HEADING.finditer(text):
        rest = text[match.end() :]
        end = re.search(r"^#{1,3} ", rest, re.MULTILINE)
        sections[match.group(1)] = rest[: end.start()] if end else rest
    return sections


def citations(text: str) -> list[tuple[str, str]]:
    """Every ``(path, name)`` cited in ``text``, in order."""
    return _CITATION.findall(text)


@cache
def _top_level(path: Path) -> dict[str, ast.AST]:
    """Names defined at the top level of a Python file: defs, classes, assignments."""
    names: dict[str, ast.AST] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = node
    return names


def missing(root: Path, path: str, name: str) -> str | None:
    """Why ``path::name`` does not resolve under ``root``; None when it does."""
    file = root / path
    if not file.is_file():
        return f"{path}: no such file"
    head, *rest = name.split("::")
    node = _top_level(file).get(head)
    if node is None:
        return f"{path}::{name}: {head} is not defined there"
    if rest:
        if len(rest) > 1 or not isinstance(node, ast.ClassDef):
            return f"{path}::{name}: only Class::method can be cited below the top level"
        methods = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
        if rest[0] not in methods:
            return f"{path}::{name}: {head} has no method {rest[0]}"
    return None


def problems(text: str, root: Path) -> list[str]:
    """Everything wrong with a design doc's invariant-to-test citations."""
    sections = invariant_sections(text)
    found = [f"{inv}: no section" for inv in INVARIANTS if inv not in sections]
    found += [
        f"{inv}: cites no test"
        for inv in INVARIANTS
        if inv in sections and not citations(sections[inv])
    ]
    found += [
        why for path, name in citations(text) if (why := missing(root, path, name)) is not None
    ]
    return found


def test_every_invariant_cites_tests_that_exist() -> None:
    assert problems(DESIGN.read_text(encoding="utf-8"), ROOT) == []


def test_the_doc_has_each_invariant_once_and_many_citations() -> None:
    text = DESIGN.read_text(encoding="utf-8")
    assert [m.group(1) for m in _HEADING.finditer(text)] == INVARIANTS
    cited = sum(len(citations(s)) for s in invariant_sections(text).values())
    assert cited >= 3 * len(INVARIANTS)


def test_the_checks_can_fail(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_x.py").write_text(
        "import pytest\n"
        "def test_real(): pass\n"
        "class TestSuite:\n    def test_m(self): pass\n"
        "TestMade = object\n"
    )
    doc = "\n".join(
        [
            "### I1 — cited",
            "- `tests/test_x.py::test_real`",
            "- `tests/test_x.py::TestSuite::test_m`",
            "- `tests/test_x.py::TestMade`",
            "### I2 — uncited",
            "no tests here",
            "### I3 — broken",
            "- `tests/test_x.py::test_gone`",
            "- `tests/test_y.py::test_real`",
            "- `tests/test_x.py::TestSuite::test_nope`",
            "- `tests/test_x.py::test_real::inner`",
            "## Next",
        ]
    )
    assert problems(doc, tmp_path) == [
        *[f"I{n}: no section" for n in range(4, 13)],
        "I2: cites no test",
        "tests/test_x.py::test_gone: test_gone is not defined there",
        "tests/test_y.py: no such file",
        "tests/test_x.py::TestSuite::test_nope: TestSuite has no method test_nope",
        "tests/test_x.py::test_real::inner: only Class::method can be cited below the top level",
    ]


def test_the_readme_links_the_design_doc() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](docs/DESIGN.md)" in readme
