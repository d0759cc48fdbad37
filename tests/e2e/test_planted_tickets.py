"""A ticket planted by another Jira account deletes nothing (I1, I7, I9; issue 13, item 2).

The adversary's attack with the real CLI, moto's S3 and the Jira emulator. The
job is killed right after its first create, so a genuine origin reference of
an S3 object exists on a flagged issue; a person then deletes that issue and,
with their own account, creates one carrying the instance's flag label and
that origin (exactly, or without its version and digest). The next run must
report the planted ticket, leave it flagged, and keep the object: only the
job's own ticket may let reconcile delete an item.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from crashkit import ORIGIN_PROPERTY, KillAfterCreate, S3Side, Scenario

from shitshovela_core.models import Flag, Origin

pytestmark = pytest.mark.e2e


def plant(scenario: Scenario, ref: str) -> str:
    """As another account of the site, create a flagged issue naming ``ref``; its key."""
    jira = scenario.jira
    jira.add_user("mallory")
    body = {
        "fields": {
            "project": {"key": "OPS"},
            "issuetype": {"name": "Task"},
            "summary": "Planted by mallory",
            "labels": [Flag(scenario.instance).label],
        },
        "properties": [{"key": ORIGIN_PROPERTY, "value": {"ref": ref, "instance": "e2e"}}],
    }
    answer = httpx.post(
        f"{jira.url}/rest/api/3/issue", json=body, headers=jira.auth_headers("mallory"), timeout=10
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["key"])


@pytest.mark.parametrize(
    "pinned", [True, False], ids=["exact-origin", "without-version-and-digest"]
)
def test_a_planted_ticket_is_reported_and_its_object_survives(moto: Any, pinned: bool) -> None:
    with Scenario(S3Side(moto), killer=KillAfterCreate()) as scenario:
        scenario.seed(2)
        window = {"SHITSHOVELA_CLAIM_WINDOW": "600"}
        killed = scenario.run(armed=True, **window)
        assert scenario.killer.fired and killed.returncode != 0
        scenario.source.expire_lease()  # the killed run's lease in the source runs out
        (genuine,) = scenario.tickets()
        origin = genuine.origin
        scenario.jira.delete_issue(genuine.key)  # a person deletes the job's ticket...
        if not pinned:
            origin = Origin(origin.provider, origin.scope, origin.key, extra=dict(origin.extra))
        planted = plant(scenario, origin.to_ref())  # ...and plants one of their own

        result = scenario.run(**window)
        assert result.returncode == 0, result.stdout[-3000:]
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        assert (summary["reconciled"], summary["foreign"]) == (0, 1), summary
        assert "flagged_ticket_not_finished" in result.stdout
        assert "item000" in scenario.source.remaining(), "the planted ticket deleted the object"
        assert Flag(scenario.instance).label in scenario.jira.issue(planted).labels
