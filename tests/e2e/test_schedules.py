"""Random fault schedules, two instances on one Jira (I7), and an overwrite mid-run (I9).

Schedules are drawn by hypothesis (seeded, bounded): a kill at some request,
429/503 storms, resets after the server committed, drips, an index lag, and a
short max runtime; then fault-free runs, and the same checks as the matrix.
"""

from __future__ import annotations

from typing import Any

import pytest
from crashkit import GraphSide, ImapSide, Killer, S3Side, Scenario, row
from graphschedule import (
    KINDS,
    GraphFaults,
    graph_answer,
    removal_problems,
    requests_bound,
    retry_after_problems,
)
from hypothesis import HealthCheck, example, given, settings
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


#: What Graph (or a gateway before it) does to one request: throttles it (429 with
#: Retry-After), is busy with or without Retry-After, times out at a gateway (504), loses
#: the answer after applying the request or drops it before, or drips the answer.
THROTTLED = graph_answer(
    429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.", 2
)
BUSY = graph_answer(503, "ServiceNotAvailable", "The service is temporarily unavailable.", 1)
UNAVAILABLE = graph_answer(503, "ServiceNotAvailable", "The service is temporarily unavailable.")
GATEWAY_TIMEOUT = graph_answer(504, "UnknownError", "Gateway Timeout")
GRAPH_FAULTS = st.sampled_from(
    [
        THROTTLED,
        BUSY,
        UNAVAILABLE,
        GATEWAY_TIMEOUT,
        Reset(after_forward=True),
        Reset(after_forward=False),
        Drip(bytes_per_second=800),
    ]
)
#: Which Graph request a fault meets: the n-th of the run, or the n-th of a kind (a
#: delete or move, a claim, ...), so that faults land on the requests that matter.
GRAPH_AIMS = st.one_of(
    st.tuples(st.just("any"), st.integers(1, 14)),
    st.tuples(st.sampled_from(KINDS[1:]), st.integers(1, 3)),
)
GRAPH_SCRIPTS = st.dictionaries(GRAPH_AIMS, GRAPH_FAULTS, min_size=1, max_size=3)
#: Messages a Graph schedule starts with.
GRAPH_ITEMS = 3
#: Schedules tried before the drawn ones (with each ``done``), one for each rule the
#: test checks: a removal Graph applied whose answer was lost, and one that never came;
#: 429 and 503 with Retry-After on a claim and a removal; 503 without it, 504, a drip,
#: and a folder made whose answer was lost (the done folder, ``DONE=move``); one
#: message's removal lost three times (the run stops; the next one finishes it).
GRAPH_PINNED: list[dict[str, Any]] = [
    {
        "graph_faults": {
            ("removal", 1): Reset(after_forward=True),
            ("removal", 2): Reset(after_forward=False),
        },
        "jira_faults": {3: Answer(429, retry_after="1")},
        "entra": True,
    },
    {"graph_faults": {("claim", 1): THROTTLED, ("removal", 1): BUSY, ("mime", 2): UNAVAILABLE}},
    {
        "graph_faults": {
            ("folders", 1): Reset(after_forward=True),
            ("folders", 3): Reset(after_forward=True),
            ("listing", 1): GATEWAY_TIMEOUT,
            ("removal", 2): UNAVAILABLE,
            ("check", 1): Drip(bytes_per_second=800),
        }
    },
    {"graph_faults": {("removal", n): Reset(after_forward=False) for n in (1, 2, 3)}},
]


def _pinned(test: Any) -> Any:
    """``test`` with `GRAPH_PINNED` as explicit examples (fault-free otherwise, no kill)."""
    defaults = {"kill": None, "jira_faults": {}, "entra": False, "runtime": "30"}
    for schedule in reversed(GRAPH_PINNED):
        test = example(**{**defaults, **schedule})(test)
    return test


@pytest.mark.parametrize("done", ["delete", "move"])
@settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@_pinned
@given(
    kill=st.one_of(st.none(), st.tuples(st.integers(1, 20), st.sampled_from(["before", "after"]))),
    graph_faults=GRAPH_SCRIPTS,
    jira_faults=SCRIPTS,
    entra=st.booleans(),
    runtime=st.sampled_from(["4", "8", "30"]),
)
def test_random_fault_schedules_graph_to_jira(
    graph: Any,
    done: str,
    kill: tuple[int, str] | None,
    graph_faults: dict[tuple[str, int], Any],
    jira_faults: dict[int, Any],
    entra: bool,
    runtime: str,
) -> None:
    """Microsoft Graph (the emulator, every exchange checked against Graph's excerpt)
    into Jira, done messages deleted or moved: a kill at some request (Graph's,
    Jira's, or Entra ID's for ``entra``), Graph's faults aimed at a kind of request
    (`graphschedule.GraphFaults`), Jira's at request numbers, then fault-free runs,
    and the matrix's verdict. Besides: after an answer with Retry-After, the next
    request to Graph came no sooner than it said; a delete or move Graph applied was
    never sent again (the message is read again instead), and each message is where
    ``done`` puts it (Deleted Items, not on in Recoverable Items; or the done folder);
    no run sent more Graph requests than `graphschedule.requests_bound` allows.
    Split in two by ``done`` (each half about 30 s), like the matrix's shards."""
    killer = Killer(*kill) if kill else Killer()
    faults = GraphFaults(graph_faults, held=lambda: kill is not None and killer.fired)
    with Scenario(GraphSide(graph, entra=entra, done=done), killer=killer) as scenario:
        side = scenario.source
        assert side.proxy is not None
        side.proxy.on_event(faults)
        scenario.seed(GRAPH_ITEMS)
        scenario.jira_proxy.set_script(Script(http=jira_faults))
        faults.arm()
        scenario.run(armed=kill is not None, SHITSHOVELA_MAX_RUNTIME=runtime)
        faults.arm(False)
        scenario.jira_proxy.set_script(None)
        faulted = side.proxy.events
        scenario.settle(rounds=5)
        verdict = scenario.verdict()
        row("graph -> jira").add(verdict, schedule=True)
        problems = verdict.problems + retry_after_problems(faulted, faults.applied)
        problems += removal_problems(side.proxy.events)
        arrivals = [e.time for e in side.proxy.requests]
        for number, (start, end) in enumerate(scenario.spans, 1):
            sent = sum(start <= t <= end for t in arrivals)
            met = sum(start <= f.time <= end for f in faults.applied)
            if sent > requests_bound(GRAPH_ITEMS, met):
                problems.append(f"run {number} sent {sent} Graph requests ({met} faults met)")
        where = "deleteditems" if done == "delete" else "Done"
        if len(graph.messages(where, mailbox=side.mailbox)) != GRAPH_ITEMS:
            problems.append(f"not every message is in {where}")
        if graph.messages("recoverableitemsdeletions", mailbox=side.mailbox):
            problems.append("a message was deleted twice, on into Recoverable Items")
    assert problems == []


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
