"""Pieces of an emulator's own tests: checked emulators, the excerpt finder, the README table."""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from shitshovela_testkit.emulatorsuite import (
    check_excerpt_finder,
    check_routes_documented,
    checked_emulators,
    readme_operations,
    run_python,
)
from shitshovela_testkit.openapicheck import excerpt_in_checkout

pytestmark = pytest.mark.unit


class Emulator:
    """Records what is done to it; finds violations when told to."""

    events: list[str] = []  # noqa: RUF012 - shared by the instances of one test

    def __init__(
        self, *, validate_spec: Path | None, name: str = "e", broken: bool = False
    ) -> None:
        self.validate_spec = validate_spec
        self.name = name
        self.broken = broken

    def start(self) -> Emulator:
        self.events.append(f"start {self.name}")
        return self

    def stop(self) -> None:
        self.events.append(f"stop {self.name}")

    def assert_no_violations(self) -> None:
        self.events.append(f"check {self.name}")
        if self.broken:
            raise AssertionError(f"{self.name} broke the description")


def test_emulators_start_checked_and_are_all_stopped_before_any_fails(tmp_path: Path) -> None:
    Emulator.events = []
    spec = tmp_path / "spec.json"
    started: list[Emulator] = []
    with (  # the failure comes from leaving the block
        pytest.raises(AssertionError, match="a broke the description"),
        checked_emulators(Emulator, spec) as make,
    ):
        started += [make(name="a", broken=True), make(name="b", validate_spec=None)]
    assert [e.validate_spec for e in started] == [spec, None]
    assert Emulator.events == ["start a", "start b", "stop a", "stop b", "check a"]


def test_the_finder_check_passes_a_finder_that_uses_its_own_location(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "specs").mkdir(parents=True)
    (checkout / "specs" / "x.openapi.json").write_text("{}", encoding="utf-8")
    specfile = types.ModuleType("specfile")
    specfile._CHECKOUT = checkout  # type: ignore[attr-defined]

    def find() -> Path:
        return excerpt_in_checkout(specfile._CHECKOUT, "x.openapi.json", vendor="X's", emulator="X")

    work = tmp_path / "elsewhere"
    work.mkdir()
    expected = checkout / "specs" / "x.openapi.json"
    check_excerpt_finder(find, specfile, expected, tmp_path=work, monkeypatch=monkeypatch)


def test_the_finder_check_catches_a_finder_that_depends_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "x.openapi.json").write_text("{}", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    specfile = types.ModuleType("specfile")
    specfile._CHECKOUT = tmp_path  # type: ignore[attr-defined]

    def find() -> Path:  # relative: right only while the tests run from the checkout
        return excerpt_in_checkout(Path(), "x.openapi.json", vendor="X's", emulator="X").resolve()

    work = tmp_path / "elsewhere"
    work.mkdir()
    expected = tmp_path / "specs" / "x.openapi.json"
    with pytest.raises(FileNotFoundError):
        check_excerpt_finder(find, specfile, expected, tmp_path=work, monkeypatch=monkeypatch)


README = """\
| operation | checked? |
| --- | --- |
| `GET /things/{id}` | checked |
| `POST /things/{id}/go` | checked as `POST /things/{id}/x.go` |
| `POST /things/{id}/x.go` | checked |
| `DELETE /things/{id}` | not in the excerpt: answered as the vendor does |
| `PUT /things/{id}` | not served |
"""

NOT_IN_EXCERPT = "not in the excerpt"


@dataclass
class Route:
    method: str
    template: str
    unvalidated: str | None = None
    aliases: tuple[str, ...] = field(default_factory=tuple)


ROUTES = [
    Route("GET", "/things/{id}"),
    Route("POST", "/things/{id}/x.go", aliases=("/things/{id}/go",)),
    Route("DELETE", "/things/{id}", NOT_IN_EXCERPT),
]


def excerpt(tmp_path: Path, *operations: str) -> Path:
    """A description holding ``operations`` (``"METHOD /path"``)."""
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        method, path = op.split()
        paths.setdefault(path, {})[method.lower()] = {
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {}}],
            "responses": {"200": {"description": "ok"}},
        }
    doc = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": paths}
    path = tmp_path / f"excerpt-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


IN_EXCERPT = ("GET /things/{id}", "POST /things/{id}/x.go", "PUT /things/{id}")


def readme(tmp_path: Path, text: str = README) -> Path:
    path = tmp_path / "README.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_readme_table_is_read_and_checked_against_the_routes(tmp_path: Path) -> None:
    documented = readme_operations(readme(tmp_path))
    assert documented["DELETE /things/{id}"] == "not in the excerpt: answered as the vendor does"
    assert len(documented) == 5
    check_routes_documented(
        ROUTES, excerpt(tmp_path, *IN_EXCERPT), readme(tmp_path), NOT_IN_EXCERPT
    )


@pytest.mark.parametrize(
    ("row", "wrong"),
    [
        ("| `GET /things/{id}` | checked |", "| `GET /things/{id}` | not in the excerpt |"),
        ("| `POST /things/{id}/go` | checked as", "| `POST /things/{id}/go` | checked |"),
        ("| `PUT /things/{id}` | not served |", "| `PUT /things/{id}` | checked |"),
        ("| `PUT /things/{id}` | not served |", "| `GET /stray` | checked |"),
    ],
)
def test_a_wrong_or_stray_row_of_the_table_fails(tmp_path: Path, row: str, wrong: str) -> None:
    text = README.replace(row, wrong)
    assert text != README
    with pytest.raises(AssertionError):
        check_routes_documented(
            ROUTES, excerpt(tmp_path, *IN_EXCERPT), readme(tmp_path, text), NOT_IN_EXCERPT
        )


def test_a_route_served_unchecked_must_not_be_in_the_excerpt(tmp_path: Path) -> None:
    spec = excerpt(tmp_path, *IN_EXCERPT, "DELETE /things/{id}")
    with pytest.raises(AssertionError, match="is in the excerpt: check it"):
        check_routes_documented(ROUTES, spec, readme(tmp_path), NOT_IN_EXCERPT)


def test_a_checked_route_must_be_in_the_excerpt(tmp_path: Path) -> None:
    spec = excerpt(tmp_path, "POST /things/{id}/x.go", "PUT /things/{id}")
    with pytest.raises(AssertionError, match="is checked but not in the excerpt"):
        check_routes_documented(ROUTES, spec, readme(tmp_path), NOT_IN_EXCERPT)


def test_python_runs_fresh_with_the_given_path_first(tmp_path: Path) -> None:
    (tmp_path / "probe_module.py").write_text("WHERE = 'here'\n", encoding="utf-8")
    code = "import probe_module, sys; print(probe_module.WHERE, sys.path[1])"
    out = run_python(code, pythonpath=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["here", str(tmp_path)]
    assert "probe_module" not in sys.modules
