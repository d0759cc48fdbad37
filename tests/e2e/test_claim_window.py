"""Jira's index lagging far beyond ``INDEX_LAG`` past deleted keys (I2, I11; issue 13, item 4).

The adversary's scenario with the real CLI, moto's S3 and the Jira emulator:
the three newest issue keys of the project were deleted (as many as
``PROBE_GAP``, so the key probe stops before the job's next key), Jira's index
lags 40 s while the job is told ``INDEX_LAG=3``, and the job is killed right
after a create reached Jira. The next run cannot see that ticket at all: the
item it claimed must wait for its claim window instead of being ticketed
again. Once the index catches up, the flagged ticket is reconciled.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from crashkit import KillAfterCreate, S3Side, Scenario

pytestmark = pytest.mark.e2e

#: What the adversary set against the index's real lag.
TOLD_INDEX_LAG, REAL_INDEX_LAG = "3", 40.0
#: The core's default claim window: no test here waits for it.
CLAIM_WINDOW = "600"


def last_line(result: Any) -> dict[str, Any]:
    """The run's last log line (its summary)."""
    parsed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def test_an_index_lagging_past_deleted_keys_never_makes_a_second_ticket(moto: Any) -> None:
    with Scenario(S3Side(moto), killer=KillAfterCreate(), index_lag=REAL_INDEX_LAG) as scenario:
        jira = scenario.jira
        for n in range(5):
            jira.seed_issue("OPS", f"made by a person {n}", labels=["human"])
        for key in ("OPS-3", "OPS-4", "OPS-5"):  # the three newest keys: a gap of PROBE_GAP
            jira.delete_issue(key)
        scenario.seed(2)
        told = {
            "SHITSHOVELA_JIRA__INDEX_LAG": TOLD_INDEX_LAG,
            "SHITSHOVELA_CLAIM_WINDOW": CLAIM_WINDOW,
        }

        killed = scenario.run(armed=True, **told)
        assert scenario.killer.fired, killed.stdout[-3000:] + killed.stderr[-3000:]
        assert killed.returncode != 0
        assert [i.key for i in scenario.tickets()] == ["OPS-6"]  # made, never answered
        scenario.source.expire_lease()  # the killed run's lease in the source runs out

        again = scenario.run(**told)  # the scheduler restarts the job at once
        assert again.returncode == 0, again.stdout[-3000:]
        summary = last_line(again)
        assert (summary["created"], summary["waiting"], summary["reconciled"]) == (1, 1, 0)
        per_item = scenario.verdict().problems
        assert per_item == ["left in the source: ['item000']", "1 flag(s) left"], per_item

        jira.index_lag = 0.0  # the index catches up
        finished = scenario.run(**told)
        assert finished.returncode == 0, finished.stdout[-3000:]
        assert last_line(finished)["reconciled"] == 1
        verdict = scenario.verdict()
        assert verdict.problems == []
        assert (verdict.duplicated, verdict.flags_left, len(scenario.tickets())) == (0, 0, 2)
