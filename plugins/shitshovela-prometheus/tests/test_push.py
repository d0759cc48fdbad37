"""Pushes to a real Pushgateway (Debian's), read back from its /metrics."""

from __future__ import annotations

import threading
import time
from collections.abc import MutableMapping
from typing import Any

import pytest
from promkit import captured, info, run_engine, settings, warnings
from shitshovela_prometheus import metrics
from shitshovela_prometheus.push import push_ended, push_started
from shitshovela_testkit.fakes import FakeStore, FakeTracker, Faults
from shitshovela_testkit.faultproxy import Answer, Drip, FaultProxy, Hang, Reset, Script
from shitshovela_testservers.pushgateway import Pushgateway, free_port

from shitshovela_core.deadline import Budget, Watchdog
from shitshovela_core.engine import RunSummary
from shitshovela_core.errors import ExitCode


def fresh(seconds: float = 60.0) -> Budget:
    """A budget that starts now: the test process itself may be older than ``seconds``
    (a whole suite in one process), and `Budget` counts from the process start."""
    return Budget(seconds, started=time.monotonic())


pytestmark = pytest.mark.servers


def store_with(*names: str, faults: Faults | None = None) -> FakeStore:
    store = FakeStore("fake://a", faults)
    for name in names:
        store.put(name, f"{name}\nbody")
    return store


def test_a_successful_run_pushes_its_outcome(gateway: Pushgateway) -> None:
    before = time.time()
    summary = run_engine(info("alpha", settings(gateway.url)), store_with("m1", "m2"))
    after = time.time()
    assert summary.exit_code == ExitCode.OK
    got = gateway.group("alpha")
    assert set(got) == {*metrics.HELP, "push_time_seconds", "push_failure_time_seconds"}
    assert got["push_failure_time_seconds"] == 0
    assert got[metrics.EXIT_CODE] == 0
    assert got[metrics.COUNTS["created"]] == 2
    assert got[metrics.COUNTS["deleted"]] == 2
    assert got[metrics.COUNTS["set_aside"]] == 0
    assert got[metrics.MAX_RUNTIME] == 60
    assert got[metrics.DURATION] == pytest.approx(summary.duration, abs=1e-6)
    assert got[metrics.STARTED] <= got[metrics.FINISHED]
    assert before - 60 < got[metrics.STARTED] <= after  # the process start
    assert before <= got[metrics.FINISHED] <= after
    assert got[metrics.SUCCESS] == got[metrics.FINISHED]


def test_a_failed_run_keeps_the_last_success_and_updates_the_exit_code(
    gateway: Pushgateway,
) -> None:
    faults = Faults()
    store = store_with("m1", faults=faults)
    tracker = FakeTracker(faults=faults)
    group = settings(gateway.url)
    assert run_engine(info("alpha", group), store, tracker).exit_code == ExitCode.OK
    first = gateway.group("alpha")
    store.put("m2", "m2\nbody")
    faults.fail_on, faults.kind = "tickets.create.after", "error"
    summary = run_engine(info("alpha", group), store, tracker)
    assert summary.exit_code == ExitCode.OUTCOME_UNKNOWN
    second = gateway.group("alpha")
    assert second[metrics.EXIT_CODE] == int(ExitCode.OUTCOME_UNKNOWN)
    assert second[metrics.SUCCESS] == first[metrics.SUCCESS]
    assert second[metrics.FINISHED] > first[metrics.FINISHED]
    assert second[metrics.STARTED] >= first[metrics.STARTED]
    assert second[metrics.COUNTS["created"]] == 0


def test_two_instances_are_separate_groups(gateway: Pushgateway) -> None:
    run_engine(info("alpha", settings(gateway.url)), store_with("m1"))
    run_engine(info("beta", settings(gateway.url, JOB="other-job")), store_with("m1", "m2", "m3"))
    assert gateway.group("alpha")[metrics.COUNTS["created"]] == 1
    assert gateway.group("beta", job="other-job")[metrics.COUNTS["created"]] == 3
    assert gateway.group("beta") == {}
    groups = {
        frozenset(labels) for (name, labels) in gateway.samples() if name == metrics.EXIT_CODE
    }
    assert groups == {
        frozenset({("job", "shitshovela"), ("instance", "alpha")}),
        frozenset({("job", "other-job"), ("instance", "beta")}),
    }


@pytest.mark.parametrize("group", [None, settings(None), settings("")])
def test_an_unset_pushgateway_pushes_nothing(gateway: Pushgateway, group: object) -> None:
    with captured() as logs:
        summary = run_engine(info("alpha", group), store_with("m1"))  # type: ignore[arg-type]
    assert summary.exit_code == ExitCode.OK
    assert gateway.samples() == {}
    assert not [e for e in logs if e["event"].startswith("metrics_")]


def assert_one_failed_push(
    logs: list[MutableMapping[str, Any]], *secrets: str
) -> MutableMapping[str, Any]:
    (warning,) = warnings(logs)
    assert warning["event"] == "metrics_push_failed"
    for secret in secrets:
        assert secret not in repr(logs)
    return warning


def test_a_dead_gateway_is_one_warning_per_push_and_the_run_goes_on() -> None:
    url = f"http://pusher:url-secret@127.0.0.1:{free_port()}"
    group = settings(url, USERNAME="", PASSWORD="")
    with captured() as logs:
        summary = run_engine(info("alpha", group), store_with("m1", "m2"))
    assert summary.exit_code == ExitCode.OK
    assert summary.created == 2
    failed = warnings(logs)
    assert [e["event"] for e in failed] == ["metrics_push_failed"] * 2
    assert [e["hook"] for e in failed] == ["run_started", "run_ended"]
    assert "url-secret" not in repr(logs)
    assert failed[0]["gateway"].startswith("http://127.0.0.1:")  # type: ignore[union-attr]


def test_a_refused_push_names_the_status_without_the_password(gateway: Pushgateway) -> None:
    answer = Answer(401, body=b"Unauthorized")
    with FaultProxy(("127.0.0.1", gateway.port), Script(default=answer)) as proxy:
        group = settings(proxy.url, USERNAME="pusher", PASSWORD="hunter22")
        with captured() as logs:
            assert not push_ended(info("alpha", group), RunSummary(), fresh(), group)
    warning = assert_one_failed_push(logs, "hunter22")
    assert warning["error"] == "PushRefused: the Pushgateway answered 401: Unauthorized"
    assert gateway.samples() == {}


# bcrypt (cost 4) of "pusher pw 1e3": the Pushgateway's web config wants a hash.
PUSHER_HASH = "$2b$04$6u.yzGf0naXATBhETNAB3OZfBOJUAt5F2BNY/volw6Y/3GiiVbBfG"


def test_basic_auth_reaches_the_gateway_and_a_wrong_password_is_one_warning() -> None:
    password = "pusher pw 1e3"  # a secret that TOML would turn into something else
    users = {"pusher": PUSHER_HASH}
    with Pushgateway(users=users, auth=("pusher", password)) as guarded:
        good = settings(guarded.url, USERNAME="pusher", PASSWORD=password)
        with captured() as logs:
            assert push_ended(
                info("alpha", good),
                RunSummary(created=4),
                fresh(),
                good,
            )
        assert warnings(logs) == []
        assert guarded.group("alpha")[metrics.COUNTS["created"]] == 4
        in_url = settings(guarded.url.replace("://", "://pusher:pusher%20pw%201e3@"))
        assert push_ended(
            info("beta", in_url),
            RunSummary(created=5),
            fresh(),
            in_url,
        )
        assert guarded.group("beta")[metrics.COUNTS["created"]] == 5
        bad = settings(guarded.url, USERNAME="pusher", PASSWORD="wrong 0x1F")
        with captured() as logs:
            assert not push_ended(info("alpha", bad), RunSummary(), fresh(), bad)
    warning = assert_one_failed_push(logs, "wrong 0x1F")
    assert str(warning["error"]).startswith("PushRefused: the Pushgateway answered 401")


def test_connection_resets_are_retried_once_then_one_warning(gateway: Pushgateway) -> None:
    with FaultProxy(("127.0.0.1", gateway.port), Script(default=Reset())) as proxy:
        group = settings(proxy.url, PASSWORD="hunter22")
        with captured() as logs:
            assert not push_ended(info("alpha", group), RunSummary(), fresh(), group)
        assert len(proxy.requests) == 2
    warning = assert_one_failed_push(logs, "hunter22")
    assert "push to the Pushgateway" in str(warning["error"])
    assert gateway.samples() == {}


@pytest.mark.alone
@pytest.mark.parametrize("fault", [Hang(), Drip(2.0)], ids=["hang", "drip"])
def test_a_hung_or_dripping_gateway_is_cut_off_by_the_timeout(
    gateway: Pushgateway, fault: object
) -> None:
    with FaultProxy(("127.0.0.1", gateway.port), Script(default=fault)) as proxy:  # type: ignore[arg-type]
        group = settings(proxy.url, TIMEOUT=1.0)
        started = time.monotonic()
        with captured() as logs:
            assert not push_ended(info("alpha", group), RunSummary(), fresh(), group)
        elapsed = time.monotonic() - started
    assert_one_failed_push(logs)
    assert 0.9 < elapsed < 1.5


@pytest.mark.parametrize("fault", [Hang(), Drip(2.0)], ids=["hang", "drip"])
def test_a_push_after_the_deadline_ends_before_the_watchdog(
    gateway: Pushgateway, fault: object
) -> None:
    # The run's work stopped at its deadline just now: the push gets the
    # observers' window only, and the watchdog (armed, as in a real run) never fires.
    budget = Budget(20.0, started=time.monotonic() - 19.0)  # margin 1 s: stop_at is now
    fired = threading.Event()
    watchdog = Watchdog(budget, fired.set).start()
    try:
        with FaultProxy(("127.0.0.1", gateway.port), Script(default=fault)) as proxy:  # type: ignore[arg-type]
            group = settings(proxy.url)  # TIMEOUT 5 s: the deadline is what stops it
            with captured() as logs:
                assert not push_ended(info("alpha", group, 20.0), RunSummary(), budget, group)
            ended = time.monotonic()
    finally:
        watchdog.stop()
    assert_one_failed_push(logs)
    assert ended < budget.watchdog_at
    assert ended >= budget.for_observers().stop_at - 0.05
    assert not fired.is_set()


@pytest.mark.alone
def test_the_push_at_the_start_takes_a_tenth_of_the_time_left(gateway: Pushgateway) -> None:
    with FaultProxy(("127.0.0.1", gateway.port), Script(default=Hang())) as proxy:
        group = settings(proxy.url)
        budget = Budget(60.0, started=time.monotonic() - 54.0)  # 3 s left for the work
        started = time.monotonic()
        with captured() as logs:
            assert not push_started(info("alpha", group), budget, group)
        elapsed = time.monotonic() - started
    assert_one_failed_push(logs)
    assert 0.2 < elapsed < 0.6
    assert budget.remaining() > 2.0


def test_a_push_that_fits_goes_through_the_proxy(gateway: Pushgateway) -> None:
    with FaultProxy(("127.0.0.1", gateway.port)) as proxy:
        group = settings(proxy.url)
        with captured() as logs:
            assert push_started(info("alpha", group), fresh(), group)
    assert warnings(logs) == []
    assert [e["event"] for e in logs] == ["metrics_pushed"]
    assert set(gateway.group("alpha")) >= {metrics.STARTED, metrics.MAX_RUNTIME}
