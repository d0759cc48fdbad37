"""GitHub end to end beyond the crash matrix: two instances on one repository (I7), and
a token without push access (a clear stop, nothing created twice)."""

from __future__ import annotations

from typing import Any

import pytest
from crashkit import GitHubSide, ImapSide, Killer, S3Side, Scenario

pytestmark = pytest.mark.e2e


def test_two_instances_with_different_sources_share_a_repository(moto: Any, dovecot: Any) -> None:
    """One instance killed mid-run leaves its flagged issue; the other instance's runs
    finish their own items and never touch it; then the first finishes its own."""
    killer = Killer(12, "after")  # after alpha's first create
    with (
        Scenario(S3Side(moto), killer=killer, instance="alpha", tickets=GitHubSide()) as alpha,
        Scenario(ImapSide(dovecot), instance="bravo", share=alpha) as bravo,
    ):
        alpha.seed(2)
        bravo.seed(2)
        alpha.run(armed=True)
        assert killer.fired
        alpha_tickets = {t.key: t.labels for t in alpha.tickets()}
        alpha_left = alpha.source.remaining()
        assert bravo.settle() >= 1
        assert {t.key: t.labels for t in alpha.tickets()} == alpha_tickets  # untouched
        assert alpha.source.remaining() == alpha_left
        assert bravo.verdict().problems == []
        alpha.settle()
        assert alpha.verdict().problems == []
        assert len(alpha.tickets()) == 2 and len(bravo.tickets()) == 2


def test_a_token_without_push_access_stops_clearly_and_creates_nothing_twice(
    moto: Any,
) -> None:
    side = GitHubSide(push=False)
    with Scenario(S3Side(moto), tickets=side) as scenario:
        scenario.seed(2)
        for _ in range(2):
            result = scenario.run()
            assert result.returncode == 3, result.stdout[-2000:]
            assert "e2e-bot has no push access to acme/e2e" in result.stdout
            assert "Issues: Read and write" in result.stdout
        assert scenario.tickets() == [] and side.github.issues() == []
        assert len(scenario.source.remaining()) == 2
        side.grant()
        scenario.settle()
        assert scenario.verdict().problems == []
