"""The plugin without a server: cheap entry point, settings, nothing done when unset."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import shitshovela_prometheus
from promkit import captured, info, settings, warnings
from shitshovela_prometheus import metrics
from shitshovela_prometheus.push import push_ended, split_credentials
from shitshovela_testkit.fakes import FakePlugin, FakeStore, FakeTracker

from shitshovela_core.config import load_config
from shitshovela_core.deadline import Budget
from shitshovela_core.engine import RunSummary
from shitshovela_core.errors import ConfigError
from shitshovela_core.plugins import Plugins, create_plugins
from shitshovela_core.settings import settings_of


def fresh(seconds: float = 60.0) -> Budget:
    """A budget that starts now: the test process itself may be older than ``seconds``
    (a whole suite in one process), and `Budget` counts from the process start."""
    return Budget(seconds, started=time.monotonic())


pytestmark = pytest.mark.unit

README = Path(__file__).resolve().parents[1] / "README.md"

HEAVY = ("prometheus_client", "httpx", "httpcore", "shitshovela_prometheus.push")


def modules_after(code: str) -> set[str]:
    """The heavy modules a fresh interpreter has imported after running ``code``."""
    probe = f"{code}\nimport sys\nprint(sorted(m for m in sys.modules if m.startswith({HEAVY!r})))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return set(eval(out.strip().splitlines()[-1]))


def test_the_entry_point_is_cheap() -> None:
    assert modules_after("import shitshovela_prometheus") == set()


def test_an_unset_pushgateway_does_nothing_and_imports_nothing() -> None:
    code = """
import shitshovela_prometheus as p
from shitshovela_core.deadline import Budget
from shitshovela_core.engine import RunInfo, RunSummary
budget = Budget(60)
unset = (p.PrometheusSettings(pushgateway=None), p.PrometheusSettings(pushgateway=""))
for settings in ({}, *({"prometheus": group} for group in unset)):
    run = RunInfo("a", "s", "t", 60, 5, settings=settings)
    p.run_started(run=run, budget=budget)
    p.run_finished(run=run, summary=RunSummary(), budget=budget)
    p.run_failed(run=run, summary=RunSummary(), error="x", budget=budget)
"""
    assert modules_after(code) == set()


@pytest.fixture
def plugins() -> Plugins:
    return create_plugins(
        extra=[
            ("fakes", FakePlugin(FakeStore(), FakeTracker())),
            ("prometheus", shitshovela_prometheus),
        ],
        entry_points=False,
    )


def env(**extra: str) -> dict[str, str]:
    return {
        "SHITSHOVELA_SOURCE": "fake",
        "SHITSHOVELA_TICKET_SYSTEM": "fake",
        "SHITSHOVELA_INSTANCE": "alerts",
        **extra,
    }


def test_the_settings_group_is_registered(plugins: Plugins) -> None:
    group = plugins.settings_groups["prometheus"]
    assert group.plugin == "prometheus"
    names = [s.name for s in settings_of(group.settings)]
    assert names == [
        "PUSHGATEWAY",
        "JOB",
        "TIMEOUT",
        "USERNAME",
        "PASSWORD",
        "TLS_VERIFY",
        "CA_BUNDLE",
    ]
    assert plugins.infos["prometheus"].hooks == (
        "register_settings",
        "run_failed",
        "run_finished",
        "run_started",
    )


def test_settings_are_validated_and_the_password_kept_exact(plugins: Plugins) -> None:
    config = load_config(
        plugins,
        env(
            SHITSHOVELA_PROMETHEUS__PUSHGATEWAY="https://gw.example:9091/prefix",
            SHITSHOVELA_PROMETHEUS__JOB="mail-to-jira",
            SHITSHOVELA_PROMETHEUS__TIMEOUT="2s",
            SHITSHOVELA_PROMETHEUS__USERNAME="pusher",
            SHITSHOVELA_PROMETHEUS__PASSWORD="123456e3",
        ),
    )
    values = config.group_settings["prometheus"]
    assert values["PUSHGATEWAY"] == "https://gw.example:9091/prefix"
    assert (values["JOB"], values["TIMEOUT"], values["PASSWORD"]) == (
        "mail-to-jira",
        2.0,
        "123456e3",
    )
    assert "123456e3" in config.secrets
    defaults = load_config(plugins, env()).group_settings["prometheus"]
    assert (defaults["PUSHGATEWAY"], defaults["JOB"], defaults["TIMEOUT"]) == (
        None,
        "shitshovela",
        5.0,
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PUSHGATEWAY", "ftp://gw.example", "expected an http:// or https:// URL"),
        ("PUSHGATEWAY", "gw.example:9091", "expected a URL"),
        ("PUSHGATEWAY", "http://gw.example/?x=1", "expected no ?query"),
        ("JOB", "two\nlines", "must be one non-empty line"),
        ("TIMEOUT", "forever", "expected seconds"),
        ("TIMEOUT", "5m", "must be at most 60"),
        ("TLS_VERIFY", "perhaps", "expected true or false"),
    ],
)
def test_bad_settings_exit_2_naming_the_variable(
    plugins: Plugins, name: str, value: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(plugins, env(**{f"SHITSHOVELA_PROMETHEUS__{name}": value}))
    (problem,) = caught.value.problems
    assert problem.startswith(f"SHITSHOVELA_PROMETHEUS__{name}=")
    assert expected in problem


def test_a_misspelt_setting_names_the_right_one(plugins: Plugins) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(plugins, env(SHITSHOVELA_PROMETHEUS__PUSHGATEWAYS="http://gw"))
    assert "did you mean SHITSHOVELA_PROMETHEUS__PUSHGATEWAY?" in caught.value.problems[0]


def test_credentials_in_the_url_are_split_off() -> None:
    assert split_credentials("http://gw:9091") == ("http://gw:9091", "", "")
    assert split_credentials("https://u:p%40ss@gw:9091/x") == ("https://gw:9091/x", "u", "p@ss")
    assert split_credentials("https://u@gw") == ("https://gw", "u", "")


def test_metric_names_follow_the_conventions_and_are_documented() -> None:
    readme = README.read_text()
    assert len(metrics.HELP) == 12
    for name in metrics.HELP:
        assert re.fullmatch(r"shitshovela_[a-z_]+", name)
        assert not name.endswith(("_total", "_created", "_count", "_sum", "_bucket"))
        assert f"`{name}`" in readme, name
    for name in (metrics.STARTED, metrics.FINISHED, metrics.SUCCESS):
        assert name.endswith("_timestamp_seconds")


def test_any_failure_inside_a_push_is_one_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("cannot build the metrics")

    monkeypatch.setattr(metrics, "ended", broken)
    group = settings("http://127.0.0.1:9")
    with captured() as logs:
        assert not push_ended(info("alpha", group), RunSummary(), fresh(), group)
    (warning,) = warnings(logs)
    assert warning["event"] == "metrics_push_failed"
    assert warning["error"] == "RuntimeError: cannot build the metrics"
