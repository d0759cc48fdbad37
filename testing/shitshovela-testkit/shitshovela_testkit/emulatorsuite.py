"""Pieces of an emulator's own test suite: spec-checked emulators, and the checks every
emulator makes of its excerpt, its README and its imports.

* `checked_emulators(GraphEmulator, spec_path)`: a factory (for a fixture) that
  starts emulators checked against the excerpt, stops them at the end and then
  fails the test on any violation they recorded.
* `check_excerpt_finder`: ``<vendor>_openapi()`` finds ``specs/<name>`` from
  the package's own location, and outside a checkout says where it looked and
  what to do.
* `readme_operations` and `check_routes_documented`: every route the emulator
  serves is in the excerpt, or documented in its README as answered unchecked.
* `run_python`: a snippet run in a fresh interpreter (for "imports without
  openapi-core").
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, Self, TypeVar

import pytest

from .openapicheck import load_validator

__all__ = [
    "check_excerpt_finder",
    "check_routes_documented",
    "checked_emulators",
    "readme_operations",
    "run_python",
]


class _Emulator(Protocol):
    def start(self) -> Self: ...
    def stop(self) -> None: ...
    def assert_no_violations(self) -> None: ...


E = TypeVar("E", bound=_Emulator)


@contextmanager
def checked_emulators(emulator: Callable[..., E], spec_path: Path) -> Iterator[Callable[..., E]]:
    """Start emulators (spec-validated unless told otherwise); fail on any violation.

    Within the block, ``make(**kwargs)`` starts one, ``validate_spec`` defaulting
    to ``spec_path``. On leaving, every one is stopped, then each asserts that
    nothing broke the description."""
    started: list[E] = []

    def make(**kwargs: Any) -> E:
        kwargs.setdefault("validate_spec", spec_path)
        one = emulator(**kwargs).start()
        started.append(one)
        return one

    yield make
    for one in started:
        one.stop()
    for one in started:
        one.assert_no_violations()


def check_excerpt_finder(
    find: Callable[[], Path],
    specfile: ModuleType,
    expected: Path,
    *,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``find()`` is ``expected`` (a file), from any working directory; with the checkout
    moved (``specfile._CHECKOUT``) it raises naming where it looked and ``validate_spec=PATH``."""
    assert find() == expected
    assert find().is_file()
    with monkeypatch.context() as patch:
        patch.chdir(tmp_path)
        assert find() == expected
    with monkeypatch.context() as patch:
        patch.setattr(specfile, "_CHECKOUT", tmp_path)
        with pytest.raises(FileNotFoundError) as caught:
            find()
    message = str(caught.value)
    assert str(tmp_path / "specs" / expected.name) in message
    assert "validate_spec=PATH" in message


def readme_operations(readme: Path) -> dict[str, str]:
    """``{"METHOD /path": what the README says}`` from its table of operations."""
    text = readme.read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([A-Z]+ /[^`]*)` \| ([^|]+) \|", text, re.MULTILINE)
    return {op: what.strip() for op, what in rows}


class _Route(Protocol):
    method: str
    template: str
    unvalidated: str | None


def check_routes_documented(
    routes: Iterable[_Route], spec_path: Path, readme: Path, not_in_excerpt: str
) -> set[str]:
    """Every route (``"METHOD /template"``) is in the excerpt and documented "checked" in
    the README's table (`readme_operations`), or answered unchecked because it is not in
    the excerpt (``unvalidated == not_in_excerpt``) and documented so; its aliases (a
    route's ``aliases``, if it has them) are documented "checked as" the route; what the
    excerpt has and no route serves is documented "not served"; nothing else is. Returns
    the operations served (aliases included), so a caller can say what it expects."""
    in_excerpt = {f"{m} {p}" for m, p in load_validator(spec_path).operations()}
    documented = readme_operations(readme)
    served: set[str] = set()
    for route in routes:
        op = f"{route.method} {route.template}"
        served.add(op)
        if route.unvalidated is None:
            assert op in in_excerpt, f"{op} is checked but not in the excerpt"
            assert documented.get(op) == "checked", op
        else:
            assert route.unvalidated == not_in_excerpt
            assert op not in in_excerpt, f"{op} is in the excerpt: check it"
            assert documented.get(op, "").startswith("not in the excerpt"), op
        for alias in getattr(route, "aliases", ()):
            form = f"{route.method} {alias}"
            served.add(form)
            assert form not in in_excerpt
            expected = "checked as" if route.unvalidated is None else "not in the excerpt"
            assert documented.get(form, "").startswith(expected), form
    for op in in_excerpt - served:
        assert documented.get(op, "").startswith("not served"), op
    assert set(documented) == in_excerpt | served  # the table lists no stray operation
    return served


def run_python(
    code: str, *, pythonpath: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with ``pythonpath`` first on its path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(pythonpath), env.get("PYTHONPATH", "")) if p
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
