"""Helpers for tests of the plugin: its settings, engine runs over the fakes, captured logs."""

from __future__ import annotations

import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import shitshovela_prometheus
from shitshovela_prometheus import GROUP, PrometheusSettings
from shitshovela_testkit.fakes import (
    FakeSource,
    FakeStore,
    FakeTicketSystem,
    FakeTracker,
    fake_context,
)
from shitshovela_testkit.runs import run_once
from structlog.testing import capture_logs

from shitshovela_core.deadline import Budget
from shitshovela_core.engine import RunInfo, RunSummary
from shitshovela_core.envsettings import build_settings
from shitshovela_core.plugins import create_plugins


def settings(url: str | None, **overrides: Any) -> PrometheusSettings:
    """The plugin's settings as `load_config` makes them: ``overrides`` (by NAME)
    and the URL checked, the defaults for the rest."""
    return build_settings(PrometheusSettings, GROUP, {"PUSHGATEWAY": url, **overrides})


def info(instance: str, group: PrometheusSettings | None, max_runtime: float = 60.0) -> RunInfo:
    """A run of ``instance`` whose ``prometheus`` settings are ``group``."""
    return RunInfo(
        instance,
        "fake",
        "fake",
        max_runtime,
        100,
        settings={} if group is None else {"prometheus": group},
    )


def run_engine(
    run: RunInfo,
    store: FakeStore,
    tracker: FakeTracker | None = None,
    budget: Budget | None = None,
) -> RunSummary:
    """One real run (the testkit's `run_once`) over the fakes, as ``run`` describes it,
    with the plugin as its observer."""
    plugins = create_plugins(extra=[("prometheus", shitshovela_prometheus)], entry_points=False)
    budget = budget or Budget(run.max_runtime, started=time.monotonic())
    context = fake_context(instance=run.instance, budget=budget)
    source = FakeSource(context, store)
    tickets = FakeTicketSystem(context, tracker or FakeTracker())
    return run_once(
        source, tickets, max_tickets=run.max_tickets, hooks=plugins.hooks(), settings=run.settings
    )


@contextmanager
def captured() -> Iterator[list[MutableMapping[str, Any]]]:
    """Every structlog event logged inside the block."""
    with capture_logs() as logs:
        yield logs


def warnings(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    """The warnings (and worse) among captured events."""
    return [e for e in logs if e["log_level"] in ("warning", "error", "critical")]
