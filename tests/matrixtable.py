"""The crash-matrix table printed at the end of a run, gathered from the tests' reports.

An end-to-end test adds its outcomes to rows (``crashkit.row(pair).add(verdict)``);
``tests/e2e/conftest.py`` attaches the rows the test filled to its teardown report
(``user_properties``, as `PROPERTY`). Reports reach the main process whether the
tests ran there or on xdist workers, so the table sums every test, wherever it ran.
"""

from __future__ import annotations

from typing import Any

import pytest

#: The ``user_properties`` name of one row's counts: ``{"pair": ..., "items": 3, ...}``.
PROPERTY = "crash_matrix_row"
#: The counted columns, in the table's order.
COLUMNS = ("crash_points", "schedules", "items", "lost", "duplicated", "flags_left")

_rows: dict[str, dict[str, int]] = {}


def add(row: dict[str, Any]) -> None:
    """Add one reported row's counts to its pair's line."""
    line = _rows.setdefault(str(row["pair"]), dict.fromkeys(COLUMNS, 0))
    for column in COLUMNS:
        line[column] += int(row[column])


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Gather the rows a test's teardown report carries (main process only)."""
    if report.when != "teardown" or not report.user_properties:
        return
    for name, value in report.user_properties:
        if name == PROPERTY and isinstance(value, dict):
            add(value)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print the crash-matrix table (pair, crash points, schedules, items, outcomes)."""
    if not _rows or hasattr(config, "workerinput"):
        return
    write = terminalreporter.write_line
    write("")
    write("crash matrix (end to end, real CLI, real servers)")
    write(f"{'pair':18s} {'crash points':>12s} {'schedules':>9s} {'items':>6s} {'lost':>5s} "
          f"{'duplicated':>10s} {'flags left':>10s}")  # fmt: skip
    for pair in sorted(_rows):
        r = _rows[pair]
        write(f"{pair:18s} {r['crash_points']:12d} {r['schedules']:9d} {r['items']:6d} "
              f"{r['lost']:5d} {r['duplicated']:10d} {r['flags_left']:10d}")  # fmt: skip
