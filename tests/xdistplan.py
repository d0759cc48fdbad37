"""How the suite shares out over several pytest processes (pytest-xdist's ``-n N``).

`scripts/test` runs pytest twice: first the tests marked ``alone`` (``--alone=only``),
one at a time in one process, then the others (``--alone=skip``) on ``-n N`` workers
(``SHITSHOVELA_TEST_WORKERS``, 6 unless told). Most of the suite's time is waiting
(servers, claim windows, the real CLI starting), so more workers than CPUs pay; but
then the CPUs are busy, and a real run whose short deadline counts from its process
start may spend it starting up: such tests, and a test that loads every CPU itself,
are marked ``alone``. With ``-n`` and no ``--dist`` of its own (xdist's ``load``),
the work is shared out like this:

- a test file is one unit of work, run by one worker from start to end, so tests
  that share a module's state or a module's fixture stay together, as in a serial
  run; except
- under ``tests/e2e/``, where every test is its own unit: each builds its own
  scenario (a fresh bucket or mailbox user, its own emulators) on the worker's
  session servers, and the crash matrix is split into shards
  (``tests/e2e/test_crash_matrix.py``) so that no single test holds the run up;
- the slow tiers go first (``e2e``, then ``servers``, ``deploy``, unmarked, ``unit``):
  each worker sorts its collection so (the same sort on every worker, as xdist
  demands), and the order of the collection is the order of the queue. A serial
  run keeps pytest's own order.

Every worker starts the session servers it needs (Dovecot, moto, Pushgateway,
emulators) on free loopback ports and in temporary folders of its own; failures,
with their output, are reported by the main process as in a serial run. Another
``--dist`` (``loadfile``, ``loadgroup``, ...) gives xdist's own scheduling.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped,unused-ignore]

#: The marker of the tests that need the machine to themselves.
ALONE = "alone"
#: The folder whose tests are shared out one by one.
ONE_BY_ONE = "tests/e2e/"
#: Tier markers, slowest first: files go to the workers in this order.
TIERS = ("e2e", "servers", "deploy", None, "unit")


def scope_of(nodeid: str) -> str:
    """The unit of work ``nodeid`` belongs to: its file, or itself under `ONE_BY_ONE`."""
    if nodeid.startswith(ONE_BY_ONE):
        return nodeid
    return nodeid.split("::", 1)[0]


def tier_rank(item: pytest.Item) -> int:
    """The position in `TIERS` of the first tier marker ``item`` carries."""
    for rank, marker in enumerate(TIERS):
        if marker is not None and item.get_closest_marker(marker) is not None:
            return rank
    return TIERS.index(None)


class FileScheduling(LoadScopeScheduling):  # type: ignore[misc,unused-ignore]
    """xdist's scope scheduling with `scope_of` as the scope, in collection order."""

    def _split_scope(self, nodeid: str) -> str:
        return scope_of(nodeid)

    def schedule(self) -> None:
        # The collection's order is already slowest tier first (`sort_slowest_first`);
        # xdist would otherwise put the scopes with the most tests first.
        self.config.option.loadscopereorder = False
        super().schedule()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`FileScheduling` for ``-n N`` without a ``--dist`` of its own."""
    if config.getvalue("dist") != "load":
        return None
    return FileScheduling(config, log)


def sort_slowest_first(items: list[pytest.Item]) -> None:
    """Order ``items`` (in place) by the slowest tier in their unit of work; stable, so
    each unit stays together and keeps its order."""
    rank: dict[str, int] = {}
    for item in items:
        scope = scope_of(item.nodeid)
        rank[scope] = min(rank.get(scope, len(TIERS)), tier_rank(item))
    first_seen = OrderedDict.fromkeys(scope_of(item.nodeid) for item in items)
    position = {scope: n for n, scope in enumerate(first_seen)}
    items.sort(key=lambda item: (rank[scope_of(item.nodeid)], position[scope_of(item.nodeid)]))


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--alone=skip|only``: leave out the tests marked ``alone``, or run only those."""
    parser.addoption(
        "--alone",
        choices=("skip", "only"),
        default=None,
        help="skip: leave out the tests marked 'alone'; only: run only those "
        "(scripts/test runs them first, one at a time, then the rest on workers)",
    )


def split_alone(items: list[pytest.Item], keep: str | None) -> list[pytest.Item]:
    """Keep in ``items`` (in place) what ``--alone`` asks for; return what is left out."""
    if keep is None:
        return []
    wanted = keep == "only"
    kept = [item for item in items if (item.get_closest_marker(ALONE) is not None) == wanted]
    left = [item for item in items if (item.get_closest_marker(ALONE) is not None) != wanted]
    items[:] = kept
    return left


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--alone``'s choice; on an xdist worker, the slow tiers first (a serial run keeps
    pytest's order)."""
    left_out = split_alone(items, config.getoption("alone"))
    if left_out:
        config.hook.pytest_deselected(items=left_out)
    if hasattr(config, "workerinput"):
        sort_slowest_first(items)
