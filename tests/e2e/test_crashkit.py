"""The crash harness's own pieces that need no server."""

from __future__ import annotations

import pytest
from crashkit import crash_points, shard_of

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("shards", [1, 2, 4, 7])
@pytest.mark.parametrize("total", [1, 5, 33])
def test_the_shards_of_a_matrix_hold_every_crash_point_once(total: int, shards: int) -> None:
    parts = [shard_of(crash_points(total), n, shards) for n in range(shards)]
    dealt = [point for part in parts for point in part]
    assert sorted(dealt) == sorted(crash_points(total))
    assert len(dealt) == len(set(dealt)) == 2 * total
    assert max(map(len, parts)) - min(map(len, parts)) <= 1  # evenly dealt


def test_a_shard_outside_the_count_is_refused() -> None:
    with pytest.raises(ValueError, match="shard 4 of 4"):
        shard_of(crash_points(3), 4, 4)
