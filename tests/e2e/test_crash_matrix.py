"""Exactly once, end to end: a kill at every request of a run, then fault-free runs.

Each pair runs the real CLI as a subprocess against real servers (moto's S3,
Dovecot) and the Jira emulator, with a SIGKILL right before, and separately
right after, every request of a fault-free run. ``SHITSHOVELA_E2E_ITEMS``
sets the items per scenario (2 in CI; see the README for the larger run).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from crashkit import (
    ImapOAuthSide,
    ImapSide,
    Killer,
    S3Side,
    Scenario,
    crash_points,
    requests_in_a_fault_free_run,
    row,
)

pytestmark = pytest.mark.e2e

ITEMS = int(os.environ.get("SHITSHOVELA_E2E_ITEMS", "2"))


def _matrix(pair: str, make_source: Any, items: int = ITEMS) -> None:
    def make(killer: Killer) -> Scenario:
        return Scenario(make_source(), killer=killer)

    total = requests_in_a_fault_free_run(make, items)
    assert total >= 4 * items  # create, unflag, read, delete at least
    failures = []
    for k, when in crash_points(total):
        killer = Killer(k, when)
        with make(killer) as scenario:
            scenario.seed(items)
            result = scenario.run(armed=True)
            assert killer.fired, f"request {k} never came (the run sent {killer.count})"
            # A kill after the run's last request (IMAP's LOGOUT, whose answer the job
            # does not wait for) may land after the job has already finished.
            last = when == "after" and k == total
            assert result.returncode != 0 or last, (
                f"kill {when} request {k} of {total}: the run exited 0"
            )
            scenario.settle()
            verdict = scenario.verdict()
            row(pair).add(verdict, crash=True)
            if verdict.problems:
                failures.append(f"kill {when} request {k}: {verdict.problems}")
    assert failures == []


def test_s3_to_jira_every_crash_point(moto: Any) -> None:
    _matrix("s3 -> jira", lambda: S3Side(moto))


def test_imap_to_jira_every_crash_point(dovecot: Any) -> None:
    _matrix("imap -> jira", lambda: ImapSide(dovecot))


def test_imap_with_oauth_to_jira_every_crash_point(dovecot: Any) -> None:
    """The same with an app-only token (XOAUTH2): the token request is one more crash
    point. Half the items of the other rows (at least one): the sign-in is the only
    difference, and CI stays fast."""
    _matrix("imap-oauth -> jira", lambda: ImapOAuthSide(dovecot), max(1, ITEMS // 2))
