"""The key probe on its own: which keys it reads past a lagging index, and when it stops.

`tests/test_lag.py` shows against the emulator that the probe prevents the
duplicate a lagging index would cause; these tests pin down its reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from shitshovela_jira import probe
from shitshovela_jira.probe import KeyProbe, key_number

from shitshovela_core import Flag, Ticket, TransientError

pytestmark = pytest.mark.unit

FLAG = Flag("mail-a")


class Project:
    """Issues by key number, an index that knows some of them, and every read."""

    def __init__(self, flagged: set[int], other: set[int], indexed: set[int]) -> None:
        self.flagged = flagged
        self.existing = flagged | other
        self.indexed = indexed
        self.reads: list[str] = []
        self.queries: list[tuple[str, int]] = []

    def newest(self, query: str, n: int) -> Iterable[Mapping[str, Any]]:
        self.queries.append((query, n))
        return [{"key": f"OPS-{k}"} for k in sorted(self.indexed, reverse=True)[:n]]

    def read(self, key: str, flag: Flag) -> Ticket | None:
        self.reads.append(key)
        number = int(key.rpartition("-")[2])
        if number not in self.existing:
            return None
        return Ticket(key=key, origin=None, flagged=number in self.flagged)

    def probe(self, gap: int = 3) -> KeyProbe:
        return KeyProbe(project="OPS", gap=gap, newest=self.newest, read=self.read)


def test_key_numbers() -> None:
    assert key_number("OPS-12") == ("OPS", 12)
    assert key_number("MY-PROJ-3") == ("MY-PROJ", 3)
    assert key_number("OPS") is None
    assert key_number("OPS-x") is None


def test_finds_flagged_tickets_above_the_index_until_gap_misses_in_a_row() -> None:
    # 1-5 indexed; 6 (ours), 7 (not ours), 9 (ours, after one deleted key) are not.
    project = Project(flagged={3, 6, 9}, other={1, 2, 4, 5, 7}, indexed={1, 2, 3, 4, 5})
    found = list(project.probe().unindexed(FLAG, seen={"OPS-3"}))
    assert [t.key for t in found] == ["OPS-6", "OPS-9"]
    assert project.reads == [f"OPS-{n}" for n in range(6, 13)]
    assert project.queries == [('project = "OPS" ORDER BY key DESC', probe.WINDOW)]


def test_reads_keys_missing_inside_the_window_newest_first() -> None:
    project = Project(flagged={2, 4}, other={1, 5}, indexed={1, 3, 5})
    seen: set[str] = set()
    found = list(project.probe(gap=1).unindexed(FLAG, seen))
    assert [t.key for t in found] == ["OPS-4", "OPS-2"]
    assert project.reads == ["OPS-4", "OPS-2", "OPS-6"]
    assert seen == {"OPS-4", "OPS-2"}


def test_skips_tickets_already_listed() -> None:
    project = Project(flagged={2}, other={1}, indexed={1})
    assert list(project.probe(gap=1).unindexed(FLAG, seen={"OPS-2"})) == []


def test_an_empty_index_starts_at_key_one() -> None:
    project = Project(flagged={1}, other=set(), indexed=set())
    assert [t.key for t in project.probe(gap=2).unindexed(FLAG, set())] == ["OPS-1"]
    assert project.reads == ["OPS-1", "OPS-2", "OPS-3"]


def test_an_index_too_far_behind_stops_the_run() -> None:
    project = Project(flagged=set(), other=set(range(1, 1000)), indexed={1})
    with pytest.raises(TransientError, match="more than 500 issues of OPS"):
        list(project.probe().unindexed(FLAG, set()))
    assert len(project.reads) == probe.MAX_PROBES
