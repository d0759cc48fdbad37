"""No tracked file reads, links or names a path outside the repository.

A clone in an empty folder must pass its tests, so nothing may depend on what
happens to lie beside the checkout or on the machine it was written on. Over
every file git knows (tracked, or new and not ignored), this fails on:

- the sibling folder of reference material (``..`` + ``/shared``), anywhere;
- machine paths: absolute paths into the top-level folders ``work``, ``root``
  or ``farm``, or into a user's home (``home/<user>``, ``Users/<user>``);
- in Markdown, a relative path starting with ``../`` (a link target or a path
  in code) that, resolved against the file's folder, leaves the repository;
- in Python, a path built from ``__file__`` (``.parent``, ``.parents[N]``,
  ``os.path.dirname``, ``/ ".."``, also through a variable) that climbs above
  the repository root for that file's depth.

Skipped: ``uv.lock`` (written by uv: package URLs and hashes only) and binary
files (a NUL byte, or not UTF-8). The forbidden strings are assembled from
pieces below, so this file does not contain them literally and is checked like
any other.
"""

from __future__ import annotations

import ast
import posixpath
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
SKIPPED = {"uv.lock"}

# Built from pieces so that this file does not name them itself.
_SHARED = ".." + "/shared"
_MACHINE = re.compile(
    r"(?<![\w.:/~-])/(?:" + "|".join(["wo" + "rk", "ro" + "ot", "fa" + "rm"]) + r")/"
    r"|(?<![\w.:/~-])/(?:" + "ho" + "me|" + "Us" + r"ers)/[A-Za-z0-9._-]+/"
)
# A relative path that starts by climbing: ../x, ../../x (not a/../b, not …/x).
_CLIMB = re.compile(r"(?<![\w./~-])((?:\.\./)+[^\s)`'\"\]>]*)")


def git_files(root: Path) -> list[str]:
    """Files git knows in ``root``: tracked ones and new ones that are not ignored."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout
    return sorted({name.decode() for name in out.split(b"\0") if name})


def text_of(path: Path) -> str | None:
    """The file's text, or None for a binary file."""
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def markdown_escapes(name: str, text: str) -> Iterator[tuple[int, str]]:
    """``(line, path)`` for each ``../`` path in a Markdown file that leaves the repo."""
    folder = posixpath.dirname(name)
    for lineno, line in enumerate(text.splitlines(), 1):
        for match in _CLIMB.finditer(line):
            target = posixpath.normpath(posixpath.join(folder, match.group(1)))
            if target == ".." or target.startswith("../"):
                yield lineno, match.group(1)


# -- Python: paths built from __file__ ------------------------------------------------

#: (offset, lowest): how many path components a value adds to ``__file__`` (negative:
#: climbed), and the lowest it got on the way.
Climb = tuple[int, int]


def _step(climb: Climb, by: int) -> Climb:
    offset = climb[0] + by
    return offset, min(climb[1], offset)


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def climb_of(node: ast.expr, names: dict[str, Climb]) -> Climb | None:
    """How ``node`` moves from ``__file__``; None if it is not a path built from it."""
    if isinstance(node, ast.Name):
        return (0, 0) if node.id == "__file__" else names.get(node.id)
    if isinstance(node, ast.Attribute) and node.attr == "parent":
        inner = climb_of(node.value, names)
        return None if inner is None else _step(inner, -1)
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "parents"
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, int)
    ):
        inner = climb_of(node.value.value, names)
        return None if inner is None else _step(inner, -(node.slice.value + 1))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        inner = climb_of(node.left, names)
        if inner is None:
            return None
        return _segments(inner, node.right)
    if isinstance(node, ast.Call):
        name = _call_name(node.func)
        if name in ("resolve", "absolute") and isinstance(node.func, ast.Attribute):
            return climb_of(node.func.value, names)
        if name in ("Path", "PurePath", "PosixPath", "abspath", "realpath") and node.args:
            return climb_of(node.args[0], names)
        if name == "dirname" and node.args:
            inner = climb_of(node.args[0], names)
            return None if inner is None else _step(inner, -1)
        if name == "joinpath" and isinstance(node.func, ast.Attribute):
            base, parts = node.func.value, node.args
        elif name == "join" and node.args:  # os.path.join(base, *parts)
            base, parts = node.args[0], node.args[1:]
        else:
            return None
        climb = climb_of(base, names)
        for part in parts:
            if climb is not None:
                climb = _segments(climb, part)
        return climb
    return None


def _segments(climb: Climb, part: ast.expr) -> Climb:
    """Follow a joined path part: ``".."`` climbs, a name descends, unknown descends one."""
    if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
        return _step(climb, 1)
    for segment in part.value.split("/"):
        if segment == "..":
            climb = _step(climb, -1)
        elif segment not in ("", "."):
            climb = _step(climb, 1)
    return climb


def python_escapes(name: str, text: str) -> Iterator[int]:
    """Lines of a Python file that build a path from ``__file__`` above the repo root."""
    depth = len(Path(name).parts)  # components from the repo root to the file itself
    tree = ast.parse(text)
    names: dict[str, Climb] = {}
    assigns = sorted(
        (n for n in ast.walk(tree) if isinstance(n, ast.Assign | ast.AnnAssign)),
        key=lambda n: (n.lineno, n.col_offset),
    )
    for assign in assigns:
        targets = assign.targets if isinstance(assign, ast.Assign) else [assign.target]
        if assign.value is None or len(targets) != 1 or not isinstance(targets[0], ast.Name):
            continue
        climb = climb_of(assign.value, names)
        if climb is not None:
            names[targets[0].id] = climb
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.expr):
            climb = climb_of(node, names)
            if climb is not None and depth + climb[1] < 0:
                lines.add(node.lineno)
    yield from sorted(lines)


def problems_in(name: str, text: str) -> list[str]:
    """Every way the file ``name`` (relative to the repo root) points outside the repo."""
    found = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if _SHARED in line:
            found.append(f"{name}:{lineno}: names the folder beside the repository")
        match = _MACHINE.search(line)
        if match:
            found.append(f"{name}:{lineno}: machine path {match.group(0)!r}")
    if name.endswith(".md"):
        found += [
            f"{name}:{lineno}: {target!r} leaves the repository"
            for lineno, target in markdown_escapes(name, text)
        ]
    if name.endswith(".py"):
        found += [
            f"{name}:{lineno}: a path from __file__ climbs above the repository root"
            for lineno in python_escapes(name, text)
        ]
    return found


def problems(root: Path) -> list[str]:
    """Every file under ``root`` that points outside it (see the module docstring)."""
    found = []
    for name in git_files(root):
        path = root / name
        if name in SKIPPED or not path.is_file():
            continue
        text = text_of(path)
        if text is not None:
            found += problems_in(name, text)
    return found


@pytest.fixture(scope="module")
def checkout() -> Path:
    """The repository root; this test needs git and a checkout (not an sdist)."""
    inside = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=ROOT, capture_output=True, text=True
    )
    if inside.returncode != 0 or Path(inside.stdout.strip()).resolve() != ROOT:
        pytest.skip("not a git checkout of the repository")
    return ROOT


def test_no_file_points_outside_the_repository(checkout: Path) -> None:
    assert problems(checkout) == []


def test_this_file_is_checked_too(checkout: Path) -> None:
    assert "tests/test_self_contained.py" in git_files(checkout)


def test_machine_paths_and_the_shared_folder_are_caught() -> None:
    home = "/" + "home" + "/alice/"
    lines = [
        f'open("{_SHARED}/specs/x.json")',
        "cd /" + "work" + "/main",
        "see /" + "root" + "/notes",
        f"cat {home}x",
        "https://example.com/" + "work" + "/ is a URL, not a machine path",
    ]
    found = problems_in("scripts/x.sh", "\n".join(lines))
    assert [f.split(":")[1] for f in found] == ["1", "2", "3", "4"]


def test_markdown_paths_are_resolved_against_their_folder() -> None:
    text = "\n".join(
        [
            "[root readme](../../README.md)",  # plugins/x/README.md -> README.md: fine
            "[out](../../../elsewhere/DESIGN.md)",
            "`../../../notes.txt`",
            "`…/attachments` and a/../b stay inside",
        ]
    )
    found = problems_in("plugins/x/README.md", text)
    assert found == [
        "plugins/x/README.md:2: '../../../elsewhere/DESIGN.md' leaves the repository",
        "plugins/x/README.md:3: '../../../notes.txt' leaves the repository",
    ]
    assert problems_in("README.md", "[x](../x)") == ["README.md:1: '../x' leaves the repository"]


@pytest.mark.parametrize(
    ("source", "escapes"),
    [
        ("ROOT = Path(__file__).resolve().parents[3]", False),  # the repo root itself
        ("ROOT = Path(__file__).resolve().parents[4]", True),
        ("X = Path(__file__).resolve().parents[3].parent / 'specs'", True),
        ("X = Path(__file__).resolve().parents[3] / '..' / 'specs'", True),
        ("X = Path(__file__).parents[2] / 'a/../../..'", True),
        ("X = Path(__file__).parent.parent.parent.parent / 'specs'", False),
        ("X = Path(__file__).parent.parent.parent.parent.parent", True),
        ("X = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))", False),
        ("X = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..')", True),
        ("R = Path(__file__).parents[3]\nS = R.parent / 'shared'", True),
        ("X = Path(module.__file__).parents[9]", False),  # another module's file
    ],
)
def test_paths_from_file_are_followed(source: str, escapes: bool) -> None:
    # plugins/p/pkg/mod.py is 4 components deep: parents[3] is the repository root.
    assert bool(list(python_escapes("plugins/p/pkg/mod.py", source))) is escapes
