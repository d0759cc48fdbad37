"""GitHub end to end beyond the crash matrix: two instances on one repository (I7), and
a token without push access (a clear stop, nothing created twice)."""

from __future__ import annotations

from typing import Any

import pytest
from crashkit import GitHubSide, ImapSide, S3Side, Scenario
from shitshovela_testkit.faultproxy import Event, Fault, RequestEvent, ResponseEvent

pytestmark = pytest.mark.e2e


def kill_after_the_first_create(scenario: Scenario) -> list[int]:
    """SIGKILL the scenario's job right after its first ``POST …/issues`` reached
    GitHub (before the answer reaches the job); the list fills when it fired."""
    creates: set[int] = set()
    fired: list[int] = []

    def listener(event: Event) -> Fault | None:
        if fired:
            return None
        if isinstance(event, RequestEvent) and event.method == "POST":
            if event.target.split("?", 1)[0].endswith("/issues"):
                creates.add(event.request)
        elif isinstance(event, ResponseEvent) and event.request in creates:
            fired.append(event.request)
            if scenario.killer.process is not None:
                scenario.killer.process.kill()
        return None

    scenario.side.proxy.on_event(listener)
    return fired


def test_two_instances_with_different_sources_share_a_repository(moto: Any, dovecot: Any) -> None:
    """One instance killed right after its first create leaves a flagged issue; the
    other instance's runs finish their own items and never touch it; then the first
    finishes its own."""
    with (
        Scenario(S3Side(moto), instance="alpha", tickets=GitHubSide()) as alpha,
        Scenario(ImapSide(dovecot), instance="bravo", share=alpha) as bravo,
    ):
        alpha.seed(2)
        bravo.seed(2)
        fired = kill_after_the_first_create(alpha)
        alpha.run()
        assert fired, "alpha's first create never came"
        alpha_tickets = {t.key: t.labels for t in alpha.tickets()}
        assert len(alpha_tickets) == 1 and all(alpha_tickets.values()), "one flagged issue"
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
