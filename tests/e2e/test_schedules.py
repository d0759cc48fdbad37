"""Random fault schedules, two instances on one Jira (I7), and an overwrite mid-run (I9).

Schedules are drawn by hypothesis (seeded, bounded): a kill at some request,
429/503 storms, resets after the server committed, drips, an index lag, and a
short max runtime; then fault-free runs, and the same checks as the matrix.
"""

from __future__ import annotations

from typing import Any

import pytest
from crashkit import ImapSide, Killer, S3Side, Scenario, row
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shitshovela_testkit.faultproxy import (
    Answer,
    Drip,
    Event,
    Reset,
    ResponseEvent,
    Script,
)

pytestmark = pytest.mark.e2e

FAULTS = st.sampled_from(
    [
        Answer(429, retry_after="1"),
        Answer(503, retry_after="1"),
        Answer(500),
        Reset(after_forward=True),
        Reset(after_forward=False),
        Drip(bytes_per_second=400),
    ]
)
SCRIPTS = st.dictionaries(st.integers(1, 14), FAULTS, max_size=3)


@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kill=st.one_of(st.none(), st.tuples(st.integers(1, 16), st.sampled_from(["before", "after"]))),
    jira_faults=SCRIPTS,
    s3_faults=SCRIPTS,
    index_lag=st.sampled_from([0.0, 1.0, 3.0]),
    runtime=st.sampled_from(["4", "8", "30"]),
)
def test_random_fault_schedules_s3_to_jira(
    moto: Any,
    kill: tuple[int, str] | None,
    jira_faults: dict[int, Any],
    s3_faults: dict[int, Any],
    index_lag: float,
    runtime: str,
) -> None:
    killer = Killer(*kill) if kill else Killer()
    with Scenario(S3Side(moto), killer=killer, index_lag=index_lag) as scenario:
        scenario.seed(3)
        scenario.jira_proxy.set_script(Script(http=jira_faults))
        assert scenario.source.proxy is not None
        scenario.source.proxy.set_script(Script(http=s3_faults))
        scenario.run(armed=kill is not None, SHITSHOVELA_MAX_RUNTIME=runtime)
        scenario.jira_proxy.set_script(None)
        scenario.source.proxy.set_script(None)
        scenario.settle(rounds=5)
        verdict = scenario.verdict()
        row("s3 -> jira").add(verdict, schedule=True)
        assert verdict.problems == []


@settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kill=st.one_of(st.none(), st.tuples(st.integers(1, 20), st.sampled_from(["before", "after"]))),
    jira_faults=SCRIPTS,
    index_lag=st.sampled_from([0.0, 1.0, 3.0]),
    runtime=st.sampled_from(["4", "8", "30"]),
)
def test_random_fault_schedules_imap_to_jira(
    dovecot: Any,
    kill: tuple[int, str] | None,
    jira_faults: dict[int, Any],
    index_lag: float,
    runtime: str,
) -> None:
    killer = Killer(*kill) if kill else Killer()
    with Scenario(ImapSide(dovecot), killer=killer, index_lag=index_lag) as scenario:
        scenario.seed(3)
        scenario.jira_proxy.set_script(Script(http=jira_faults))
        scenario.run(armed=kill is not None, SHITSHOVELA_MAX_RUNTIME=runtime)
        scenario.jira_proxy.set_script(None)
        scenario.settle(rounds=5)
        verdict = scenario.verdict()
        row("imap -> jira").add(verdict, schedule=True)
        assert verdict.problems == []


def test_two_instances_with_different_sources_share_jira(moto: Any, dovecot: Any) -> None:
    killer = Killer()
    with (
        Scenario(S3Side(moto), killer=killer, instance="alpha") as alpha,
        Scenario(ImapSide(dovecot), instance="bravo", share=alpha) as bravo,
    ):

        def kill_after_the_first_create(event: Event) -> None:
            created = isinstance(event, ResponseEvent) and event.status == 201
            if created and not killer.fired and killer.process is not None:
                killer.fired = True  # alpha leaves a flagged ticket behind
                killer.process.kill()

        alpha.jira_proxy.on_event(kill_after_the_first_create)  # type: ignore[arg-type]
        alpha.seed(2)
        bravo.seed(2)
        alpha.run(armed=True)
        assert killer.fired
        alpha_flagged = {i.key: i.labels for i in alpha.tickets()}
        assert alpha_flagged, "alpha's run was killed after its first create"
        alpha_left = alpha.source.remaining()
        assert bravo.settle() >= 1
        assert {i.key: i.labels for i in alpha.tickets()} == alpha_flagged  # untouched
        assert alpha.source.remaining() == alpha_left
        assert bravo.verdict().problems == []
        alpha.settle()
        assert alpha.verdict().problems == []
        assert len(alpha.tickets()) == 2 and len(bravo.tickets()) == 2


def test_an_object_overwritten_after_its_ticket_survives_and_becomes_its_own(moto: Any) -> None:
    with Scenario(S3Side(moto)) as scenario:
        scenario.seed(2)
        overwritten: list[int] = []

        def overwrite(event: Event) -> None:
            if isinstance(event, ResponseEvent) and event.status == 201 and not overwritten:
                overwritten.append(event.request)  # the first create just committed
                scenario.source.overwrite("item000", "Alert 0, second edition\nnew body")

        scenario.jira_proxy.on_event(overwrite)  # type: ignore[arg-type]
        first = scenario.run()
        assert first.returncode == 0
        assert overwritten
        assert scenario.source.remaining() == ["item000"]  # the newer object survived
        scenario.settle()
        verdict = scenario.verdict(
            {
                "item000": ["Alert 0 from s3\nbody 0", "Alert 0, second edition\nnew body"],
                "item001": ["Alert 1 from s3\nbody 1"],
            }
        )
        assert verdict.problems == []


def test_a_message_redelivered_mid_run_becomes_its_own_ticket(dovecot: Any) -> None:
    with Scenario(ImapSide(dovecot)) as scenario:
        scenario.seed(2)
        redelivered: list[int] = []

        def redeliver(event: Event) -> None:
            if isinstance(event, ResponseEvent) and event.status == 201 and not redelivered:
                redelivered.append(event.request)  # the first create just committed
                scenario.source.seed({"item000": "Alert 0 from imap\nbody 0"})

        scenario.jira_proxy.on_event(redeliver)  # type: ignore[arg-type]
        assert scenario.run().returncode == 0
        assert redelivered
        # The copy (a new UID) survives the delete of the first one; the same run or
        # the next one makes it its own ticket.
        scenario.settle()
        verdict = scenario.verdict(
            {
                "item000": ["Alert 0 from imap\nbody 0", "Alert 0 from imap\nbody 0"],
                "item001": ["Alert 1 from imap\nbody 1"],
            }
        )
        assert verdict.problems == []
