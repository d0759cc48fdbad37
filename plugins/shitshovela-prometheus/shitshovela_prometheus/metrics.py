"""The metrics pushed for a run: names, help texts, and the registries to push.

All are gauges of the *last* run of one instance (the Pushgateway keeps the
last value pushed), so none ends in ``_total``. Timestamps are Unix seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shitshovela_core import env_name

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from shitshovela_core import RunSummary

STARTED = "shitshovela_last_run_started_timestamp_seconds"
MAX_RUNTIME = "shitshovela_max_runtime_seconds"
FINISHED = "shitshovela_last_run_finished_timestamp_seconds"
DURATION = "shitshovela_last_run_duration_seconds"
EXIT_CODE = "shitshovela_last_run_exit_code"
SUCCESS = "shitshovela_last_success_timestamp_seconds"

#: `RunSummary` field -> the gauge that carries it.
COUNTS: dict[str, str] = {
    "created": "shitshovela_last_run_created_tickets",
    "reconciled": "shitshovela_last_run_reconciled_tickets",
    "set_aside": "shitshovela_last_run_set_aside_items",
    "foreign": "shitshovela_last_run_foreign_tickets",
    "deleted": "shitshovela_last_run_deleted_items",
    "already_gone": "shitshovela_last_run_already_gone_items",
    "waiting": "shitshovela_last_run_waiting_items",
    "taken": "shitshovela_last_run_taken_items",
}

#: Every metric this plugin pushes, with its help text (the README documents each).
HELP: dict[str, str] = {
    STARTED: "When the last run's process started (pushed as the run starts).",
    MAX_RUNTIME: f"The last run's {env_name(None, 'MAX_RUNTIME')} (pushed as the run starts).",
    FINISHED: "When the last run that reported its end ended.",
    DURATION: "How long the last run that reported its end took, from process start.",
    EXIT_CODE: "The exit code of the last run that reported its end (0: finished).",
    SUCCESS: "When a run last ended with exit code 0 (drained, or deadline or cap reached).",
    COUNTS["created"]: "Tickets the last run created.",
    COUNTS["reconciled"]: "Flagged tickets of earlier runs the last run finished.",
    COUNTS["set_aside"]: "Items the last run set aside (poison items, mail loops).",
    COUNTS["foreign"]: "Flagged tickets the last run left alone: origin elsewhere or unreadable, "
    "created by another identity, or not naming the item's exact revision.",
    COUNTS["deleted"]: "Source items the last run deleted after their ticket existed.",
    COUNTS["already_gone"]: "Source items the last run found already deleted.",
    COUNTS[
        "waiting"
    ]: "Claimed items the last run left alone: claim younger than the claim window.",
    COUNTS["taken"]: "Items another run of the instance claimed first, during the last run.",
}


def _gauge(registry: CollectorRegistry, name: str, value: float) -> None:
    from prometheus_client import Gauge

    Gauge(name, HELP[name], registry=registry).set(value)


def started(started_at: float, max_runtime: float) -> CollectorRegistry:
    """The metrics pushed as a run starts."""
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    _gauge(registry, STARTED, started_at)
    _gauge(registry, MAX_RUNTIME, max_runtime)
    return registry


def ended(summary: RunSummary, finished_at: float) -> CollectorRegistry:
    """The metrics pushed as a run ends; the success time only for exit code 0."""
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    _gauge(registry, FINISHED, finished_at)
    _gauge(registry, DURATION, summary.duration)
    _gauge(registry, EXIT_CODE, int(summary.exit_code))
    for field, name in COUNTS.items():
        _gauge(registry, name, getattr(summary, field))
    if int(summary.exit_code) == 0:
        _gauge(registry, SUCCESS, finished_at)
    return registry
