"""One concern per module, and no import cycle between them, not even one for type hints only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[1] / "shitshovela_graph_emulator"


def imports_of(path: Path) -> set[str]:
    """The package's own modules ``path`` imports, anywhere in it (``TYPE_CHECKING`` too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:
                found.update(alias.name for alias in node.names)
            elif node.module and node.module.startswith("shitshovela_graph_emulator."):
                found.add(node.module.split(".")[1])
    return found


def graph() -> dict[str, set[str]]:
    return {p.stem: imports_of(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, if there is any."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_modules_import_each_other_without_a_cycle() -> None:
    edges = graph()
    assert len(edges) >= 20
    assert cycle(edges) is None


def test_the_check_finds_a_cycle_through_type_hints() -> None:
    assert cycle({"wire": {"auth"}, "auth": {"wire"}}) == ["auth", "wire", "auth"]
    assert cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_handlers_never_reach_the_server_or_its_levers() -> None:
    edges = graph()
    for handler in ("folders", "listing", "mail", "paging", "render", "site", "state"):
        reached: set[str] = set()
        todo = [handler]
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in reached:
                    reached.add(nxt)
                    todo.append(nxt)
        assert not reached & {"server", "control", "levers", "auth", "throttle"}, handler
