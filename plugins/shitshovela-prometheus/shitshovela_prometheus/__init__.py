"""ShitShovela's Prometheus observer: each run's outcome pushed to a Pushgateway.

This is the entry-point module: it declares the ``prometheus`` settings group
and the observe hooks. It imports neither prometheus_client nor the HTTP
stack: `shitshovela_prometheus.push` is imported only when a run has
``SHITSHOVELA_PROMETHEUS__PUSHGATEWAY`` set; unset, the hooks return at once.

Every push is bounded by the run's deadline, and a failed push only logs one
warning (``metrics_push_failed``): metrics never change a run's exit code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import attrs

import shitshovela_core
from shitshovela_core import RegisterSettings, TlsSettings, env_name, setting

if TYPE_CHECKING:
    from shitshovela_core import Budget, RunInfo, RunSummary

#: The settings group: ``SHITSHOVELA_PROMETHEUS__<NAME>``.
GROUP = "prometheus"


def _http_url(value: object) -> None:
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https"):
        raise ValueError("expected an http:// or https:// URL, such as http://pushgateway:9091")
    if parts.query or parts.fragment:
        raise ValueError("expected no ?query or #fragment")


def _label(value: object) -> None:
    text = str(value)
    if not text.strip() or any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ValueError("must be one non-empty line without control characters")


@attrs.frozen(kw_only=True)
class PrometheusSettings(TlsSettings):
    """The ``prometheus`` settings group (``SHITSHOVELA_PROMETHEUS__*``)."""

    pushgateway: str | None = setting(
        kind="url",
        check=_http_url,
        help="The Pushgateway's URL, such as http://pushgateway:9091; unset: push nothing.",
    )
    job: str = setting(
        default="shitshovela",
        check=_label,
        help="The job label of the pushed group (its instance label is "
        f"{env_name(None, 'INSTANCE')}).",
    )
    timeout: float = setting(
        kind="duration",
        default=5.0,
        maximum=60.0,
        help="Longest one push may take (retry included); it also ends by the run's deadline, "
        "and the push at the start takes at most a tenth of the run's time left.",
    )
    username: str = setting(default="", help="Basic-auth user at the Pushgateway, if it wants one.")
    password: str = setting(default="", secret=True, help="Basic-auth password at the Pushgateway.")


def _settings(run: RunInfo) -> PrometheusSettings | None:
    """This run's ``prometheus`` settings, or None when no Pushgateway is set."""
    found = run.settings.get(GROUP)
    if found is None:
        return None
    settings = PrometheusSettings.of(found)
    return settings if settings.pushgateway else None


@shitshovela_core.hookimpl
def register_settings(register: RegisterSettings) -> None:
    """Declare the ``prometheus`` settings group."""
    register(
        GROUP,
        settings=PrometheusSettings,
        help="Pushes each run's outcome (last success, exit code, counts) to a Prometheus "
        "Pushgateway, grouped by job and instance.",
    )


@shitshovela_core.hookimpl
def run_started(run: RunInfo, budget: Budget) -> None:
    """Push the start time and the max runtime (so an alert sees a run that never ended)."""
    settings = _settings(run)
    if settings is None:
        return
    from .push import push_started

    push_started(run, budget, settings)


@shitshovela_core.hookimpl
def run_finished(run: RunInfo, summary: RunSummary, budget: Budget) -> None:
    """Push the outcome of a run that ended normally, with the last-success time."""
    settings = _settings(run)
    if settings is None:
        return
    from .push import push_ended

    push_ended(run, summary, budget, settings)


@shitshovela_core.hookimpl
def run_failed(run: RunInfo, summary: RunSummary, error: str, budget: Budget) -> None:
    """Push the outcome of a failed run; the last-success time stays as it was."""
    settings = _settings(run)
    if settings is None:
        return
    from .push import push_ended

    push_ended(run, summary, budget, settings)
