"""The suite on xdist workers: files stay whole, end-to-end tests go one by one and
first, the crash-matrix table sums every worker's rows, a failure shows its output;
``--alone`` leaves out, or keeps only, the tests marked ``alone``.

A small suite is written to a temporary folder and run by pytest in a subprocess,
on two workers (as `scripts/test` runs the real one on more) and in one process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from xdistplan import TIERS, scope_of, sort_slowest_first

pytestmark = pytest.mark.unit

HERE = Path(__file__).resolve().parent

INI = """\
[pytest]
addopts = --strict-markers -p no:cacheprovider
markers =
    unit: fast
    e2e: slow
    alone: needs the machine to itself
"""
CONFTEST = """\
import os

import pytest

pytest_plugins = ["xdistplan", "matrixtable"]


@pytest.fixture(autouse=True)
def _record(request):
    yield
    line = f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')} {request.node.nodeid}\\n"
    with open(os.environ["RECORD"], "a") as record:
        record.write(line)
"""
TOGETHER = """\
import pytest

pytestmark = pytest.mark.unit
SEEN = []


@pytest.mark.parametrize("n", range(6))
def test_in_order_in_one_process(n):
    SEEN.append(n)
    assert SEEN == list(range(n + 1))
"""
ROWS = """\
import pytest

pytestmark = pytest.mark.e2e
ROW = {"pair": "p -> q", "crash_points": 1, "schedules": 0, "items": 2, "lost": 0,
       "duplicated": 0, "flags_left": 0}


@pytest.fixture(autouse=True)
def _row(request):
    yield
    request.node.user_properties.append(("crash_matrix_row", ROW))


@pytest.mark.parametrize("n", range(4))
def test_fills_a_row(n):
    pass
"""
FAILS = """\
import pytest

pytestmark = pytest.mark.e2e


def test_fails_with_its_output():
    print("the failing test's own words")
    assert False


@pytest.mark.alone
def test_needs_the_machine_to_itself():
    pass
"""


def write_suite(root: Path) -> None:
    (root / "tests" / "e2e").mkdir(parents=True)
    (root / "pytest.ini").write_text(INI)
    (root / "conftest.py").write_text(CONFTEST)
    (root / "test_together.py").write_text(TOGETHER)  # before tests/ in pytest's order
    (root / "tests" / "e2e" / "test_rows.py").write_text(ROWS)
    (root / "tests" / "e2e" / "test_fails.py").write_text(FAILS)


def run_suite(root: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    record = root / f"record{len(list(root.glob('record*')))}.txt"
    env = {**os.environ, "PYTHONPATH": str(HERE), "RECORD": str(record)}
    env.pop("PYTEST_XDIST_WORKER", None)  # this test may itself run on a worker
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return result, record.read_text().splitlines() if record.exists() else []


def table_line(out: str) -> list[str]:
    (line,) = [line for line in out.splitlines() if line.startswith("p -> q ")]
    return line.split()[3:]


def test_two_workers_share_the_suite_as_planned(tmp_path: Path) -> None:
    write_suite(tmp_path)
    result, records = run_suite(tmp_path, "-n", "2", "--alone=skip")
    out = result.stdout
    assert result.returncode == 1, out + result.stderr  # the one failing test fails the run
    assert "the failing test's own words" in out
    assert "1 failed, 10 passed in" in out
    assert table_line(out) == ["4", "0", "8", "0", "0", "0"]  # every worker's rows
    workers = {line.split()[1]: line.split()[0] for line in records}
    assert len(workers) == 11
    assert not [nodeid for nodeid in workers if "machine_to_itself" in nodeid], "--alone=skip"
    together = {w for nodeid, w in workers.items() if "test_together" in nodeid}
    assert len(together) == 1, "a file runs whole on one worker (its order kept)"
    end_to_end = {w for nodeid, w in workers.items() if "/e2e/" in nodeid}
    assert end_to_end == {"gw0", "gw1"}, "end-to-end tests go one by one"
    (worker,) = together
    mine = [line.split()[1] for line in records if line.split()[0] == worker]
    first_unit = min(n for n, nodeid in enumerate(mine) if "test_together" in nodeid)
    assert all("/e2e/" in nodeid for nodeid in mine[:first_unit])
    assert first_unit > 0, "the slow tier went first"


def test_one_process_prints_the_same_table(tmp_path: Path) -> None:
    write_suite(tmp_path)
    result, records = run_suite(tmp_path, "-n", "0")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed, 11 passed in" in result.stdout  # without --alone: every test
    assert table_line(result.stdout) == ["4", "0", "8", "0", "0", "0"]
    assert records[0].split()[1].startswith("test_together.py::"), "pytest's own order"


def test_only_the_alone_tests_when_asked(tmp_path: Path) -> None:
    write_suite(tmp_path)
    result, records = run_suite(tmp_path, "--alone=only")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 11 deselected" in result.stdout
    assert [line.split()[1] for line in records] == [
        "tests/e2e/test_fails.py::test_needs_the_machine_to_itself"
    ]


class Item:
    """What `sort_slowest_first` reads of a pytest item."""

    def __init__(self, nodeid: str, marker: str | None) -> None:
        self.nodeid, self.marker = nodeid, marker

    def get_closest_marker(self, name: str) -> object:
        return object() if name == self.marker else None


def test_units_are_files_except_end_to_end_tests() -> None:
    assert scope_of("tests/test_a.py::test_x[1]") == "tests/test_a.py"
    assert scope_of("plugins/p/tests/test_b.py::TestC::test_d") == "plugins/p/tests/test_b.py"
    assert (
        scope_of("tests/e2e/test_m.py::test_x[shard1of4]")
        == "tests/e2e/test_m.py::test_x[shard1of4]"
    )


def test_slow_tiers_first_and_every_file_stays_whole_in_its_order() -> None:
    items = [
        Item("tests/test_a.py::t1", "unit"),
        Item("tests/test_a.py::t2", "servers"),  # a file ranks by its slowest test
        Item("tests/test_a.py::t3", "unit"),
        Item("tests/test_b.py::t1", None),
        Item("tests/e2e/test_c.py::t1", "e2e"),
        Item("tests/test_d.py::t1", "deploy"),
        Item("tests/e2e/test_c.py::t2", "e2e"),
        Item("tests/test_e.py::t1", "unit"),
    ]
    sort_slowest_first(items)  # type: ignore[arg-type]
    assert [i.nodeid for i in items] == [
        "tests/e2e/test_c.py::t1",
        "tests/e2e/test_c.py::t2",
        "tests/test_a.py::t1",
        "tests/test_a.py::t2",
        "tests/test_a.py::t3",
        "tests/test_d.py::t1",
        "tests/test_b.py::t1",
        "tests/test_e.py::t1",
    ]
    assert TIERS[0] == "e2e" and TIERS[-1] == "unit"
