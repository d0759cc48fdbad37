"""IMAP claims end to end (issue 13, items 2, 5 and 6): the real CLI against Dovecot
and the Jira emulator.

- Two and three runs of one instance started together: each message is claimed
  by exactly one of them (CONDSTORE's ``UNCHANGEDSINCE``), so every message is
  one ticket, none is lost, no flag is left, and every run exits 0 (I2).
- A create the server commits late: the next run finds no ticket, and the
  message's claim is younger than the claim window, so it creates nothing; the
  run after the commit finishes that one ticket (I2, I4).
- Tickets planted in Jira (the instance's flag and an origin naming a message,
  without a digest or with a wrong one, the UID and UIDVALIDITY guessed) never
  make a run expunge a message that has no ticket (I7, I9).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from crashkit import ORIGIN_PROPERTY, ImapSide, Scenario, row

from shitshovela_core.models import Flag, Origin

pytestmark = pytest.mark.e2e

#: Messages in the runs-at-once scenarios (the adversary's figure: 27-29 of 30 duplicated).
AT_ONCE = 30


def _last_line(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    line: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return line


def _together(
    scenario: Scenario, runs: int, **extra: str
) -> list[subprocess.CompletedProcess[str]]:
    """``runs`` runs of the real CLI, started together, each waited for."""
    scenario.killer.fired = True  # never armed
    env = scenario.env(**extra)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "shitshovela_core", "run"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(runs)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        scenario.outputs.append(out + err)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


@pytest.mark.parametrize("runs", [2, 3])
def test_runs_of_one_instance_started_together_ticket_each_message_once(
    dovecot: Any, runs: int
) -> None:
    with Scenario(ImapSide(dovecot)) as scenario:
        scenario.seed(AT_ONCE)
        results = _together(scenario, runs, SHITSHOVELA_IMAP__MAX_PER_SENDER="0")
        for result in results:
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        verdict = scenario.verdict()
        row(f"imap x{runs} at once").add(verdict, schedule=True)
        assert verdict.problems == []
        assert (verdict.lost, verdict.duplicated, verdict.flags_left) == (0, 0, 0)
        lines = [_last_line(result) for result in results]
        assert sum(line["created"] for line in lines) == AT_ONCE, lines
        # The runs did overlap: claims were lost to another run, or found claimed.
        assert sum(line["taken"] + line["waiting"] + line["reconciled"] for line in lines), lines


def _commit_late(scenario: Scenario) -> str:
    """What the server does with a create it held: commit it now (the last create the
    emulator received and did not answer), as an issue with the same fields and origin."""
    held = [r for r in scenario.jira.requests if r.method == "POST" and r.path.endswith("/issue")]
    body = json.loads(held[-1].body)
    fields = body["fields"]
    issue = scenario.jira.seed_issue(
        "OPS",
        fields["summary"],
        labels=fields["labels"],
        properties={p["key"]: p["value"] for p in body["properties"]},
    )
    return issue.key


def test_a_create_the_server_commits_late_is_not_made_twice(dovecot: Any) -> None:
    window = {"SHITSHOVELA_CLAIM_WINDOW": "120"}
    with Scenario(ImapSide(dovecot)) as scenario:
        scenario.seed(1)
        scenario.jira.faults.next_create = "drop"  # taken, never answered
        first = scenario.run(**window)
        assert first.returncode == 6, first.stdout[-3000:]
        assert scenario.tickets() == []
        second = scenario.run(**window)
        assert second.returncode == 0, second.stdout[-3000:]
        line = _last_line(second)
        assert (line["created"], line["waiting"]) == (0, 1), line
        assert scenario.tickets() == [] and scenario.source.remaining() == ["item000"]
        _commit_late(scenario)
        third = scenario.run(**window)
        assert third.returncode == 0, third.stdout[-3000:]
        assert (_last_line(third)["created"], _last_line(third)["reconciled"]) == (0, 1)
        verdict = scenario.verdict()
        row("imap late commit").add(verdict, schedule=True)
        assert verdict.problems == []


def _uidvalidity(side: ImapSide) -> int:
    client = side.dovecot.imap_client(side.user, password="e2e-imap-password")
    try:
        return int(client.folder_status("INBOX", ["UIDVALIDITY"])[b"UIDVALIDITY"])
    finally:
        client.logout()


def _scope(side: ImapSide) -> str:
    assert side.relay is not None
    return f"imap://{side.user}@127.0.0.1:{side.relay.port}/INBOX"


def test_planted_tickets_naming_messages_expunge_nothing(dovecot: Any) -> None:
    """Three planted tickets carrying the instance's flag and an origin that names a
    message: without a digest, with a wrong digest, and only the UID and UIDVALIDITY
    (guessed right). Reconcile runs before the drain: had it expunged a message, that
    message would have no ticket. Every message is still ticketed exactly once."""
    with Scenario(ImapSide(dovecot)) as scenario:
        side = scenario.source
        scenario.seed(3)
        validity = str(_uidvalidity(side))
        scope = _scope(side)
        planted = {
            "no digest": Origin("imap", scope, "1/item000@e2e.example.com", validity, "",
                                {"uid": "1", "message_id": "<item000@e2e.example.com>"}),
            "wrong digest": Origin("imap", scope, "2/item001@e2e.example.com", validity,
                                   "sha256:" + "0" * 64, {"uid": "2",
                                   "message_id": "<item001@e2e.example.com>"}),
            "guessed uid": Origin("imap", scope, "3", validity, "", {"uid": "3"}),
        }  # fmt: skip
        keys = {}
        for how, origin in planted.items():
            issue = scenario.jira.seed_issue(
                "OPS",
                f"planted: {how}",
                labels=[Flag(scenario.instance).label],
                properties={ORIGIN_PROPERTY: {"ref": origin.to_ref(), "instance": "e2e"}},
            )
            keys[issue.key] = how
        result = scenario.run()
        assert result.returncode == 0, result.stdout[-3000:]
        line = _last_line(result)
        assert line["created"] == 3, line
        job_tickets = [i for i in scenario.tickets() if i.key not in keys]
        titles = sorted(i.title for i in job_tickets)
        assert titles == [f"Alert {n} from imap" for n in range(3)], "each message ticketed"
        assert scenario.source.remaining() == []
        assert not any(
            label.startswith("shitshovela-inprogress-") for i in job_tickets for label in i.labels
        )
