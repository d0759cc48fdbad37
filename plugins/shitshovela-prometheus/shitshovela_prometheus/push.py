"""Pushing a run's metrics to the Pushgateway, bounded by the run's deadline.

prometheus_client builds the request (``pushadd_to_gateway``: a POST, which
replaces only the metrics of the same names in the group ``job``/``instance``,
so a failed run's push leaves the last-success time in place); the core's
`HttpClient` sends it under a `SafetyPolicy` whose budget ends at the push's
own stop. Every connect, TLS handshake, read and write is clipped to that
stop, which also ends a Pushgateway that hangs or drips its answer (I5).

- The push at the start takes time from the work: it stops after ``TIMEOUT``
  or a tenth of the time left, whichever is less (`START_SHARE`).
- The push at the end uses ``budget.for_observers()``: after ``TIMEOUT`` or
  at the observers' stop, whichever is first; that stop lies after the work's
  and before the watchdog's, so a run that used all its time still reports.

Any failure is one warning, ``metrics_push_failed``, scrubbed (the password,
and any user and password written into the URL, never appear).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit, urlunsplit

import structlog

from shitshovela_core import (
    REDACTOR,
    Budget,
    DeadlineReached,
    HttpClient,
    SafetyPolicy,
    ShitShovelaError,
)

from . import GROUP, PrometheusSettings, metrics

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from shitshovela_core import RunInfo, RunSummary

#: The share of the time left that the push at the start of a run may take.
START_SHARE = 0.1
#: Requests a second to the Pushgateway (a run makes two pushes, and one retry each).
RATE = 10.0

Handler = Callable[..., Callable[[], None]]


class PushRefused(ShitShovelaError):
    """The Pushgateway answered the push with an error status."""


def split_credentials(url: str) -> tuple[str, str, str]:
    """``(url without user and password, user, password)`` of a gateway URL;
    user and password percent-decoded (``p%40ss`` is ``p@ss``)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, "", ""
    host = parts.netloc.rpartition("@")[2]
    bare = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return bare, unquote(parts.username or ""), unquote(parts.password or "")


def push_started(run: RunInfo, budget: Budget, settings: PrometheusSettings) -> bool:
    """Push the start time and the max runtime; True if the Pushgateway took them."""
    window = min(settings.timeout, max(0.0, budget.remaining()) * START_SHARE)
    started_at = time.time() - budget.elapsed()
    return _push(
        run,
        _until(budget, budget.clock() + window),
        settings,
        lambda: metrics.started(started_at, run.max_runtime),
        "run_started",
    )


def push_ended(
    run: RunInfo, summary: RunSummary, budget: Budget, settings: PrometheusSettings
) -> bool:
    """Push the run's outcome (and the success time on exit code 0); True if taken."""
    observers = budget.for_observers()
    stop = min(observers.stop_at, budget.clock() + settings.timeout)
    finished_at = time.time()
    return _push(
        run,
        _until(observers, stop),
        settings,
        lambda: metrics.ended(summary, finished_at),
        "run_ended",
    )


def _until(budget: Budget, stop: float) -> Budget:
    """``budget`` with its stop moved to ``stop`` (never later than it was)."""
    return Budget(
        budget.max_runtime,
        started=budget.started,
        margin=budget.deadline - min(stop, budget.stop_at),
        clock=budget.clock,
        sleep=budget.sleep,
        watchdog_at=budget.watchdog_at,
    )


def _push(
    run: RunInfo,
    budget: Budget,
    settings: PrometheusSettings,
    build: Callable[[], CollectorRegistry],
    step: str,
) -> bool:
    """Build the metrics and push them; any failure is one scrubbed warning."""
    log = structlog.get_logger("shitshovela.prometheus").bind(instance=run.instance)
    raw_url = str(settings.pushgateway)
    gateway, url_user, url_password = split_credentials(raw_url)
    user = settings.username or url_user
    password = settings.password or url_password
    redactor = REDACTOR
    redactor.add(*(s for s in (password, url_password, urlsplit(raw_url).password) if s))
    job = settings.job
    try:
        if budget.remaining() <= 0:
            raise DeadlineReached("no time left for the push")
        safety = SafetyPolicy(
            GROUP,
            budget,
            RATE,
            settings=settings.as_dict(),
            redactor=redactor,
            max_attempts=2,
            backoff_initial=0.2,
            backoff_max=1.0,
        )
        registry = build()
        client = HttpClient(
            safety,
            gateway,
            auth=(user, password) if user else None,
            timeout=settings.timeout,
        )
        try:
            from prometheus_client import pushadd_to_gateway

            pushadd_to_gateway(
                gateway,
                job=job,
                registry=registry,
                grouping_key={"instance": run.instance},
                timeout=settings.timeout,
                handler=_handler(client),
            )
        finally:
            client.close()
    except Exception as exc:
        log.warning(
            "metrics_push_failed",
            hook=step,
            gateway=redactor.scrub(gateway),
            error=redactor.scrub(f"{type(exc).__name__}: {exc}"),
            note="the run's outcome is unchanged",
        )
        return False
    log.info("metrics_pushed", hook=step, gateway=redactor.scrub(gateway), job=job)
    return True


def _handler(client: HttpClient) -> Handler:
    """A prometheus_client push handler that sends through the core's `HttpClient`."""

    def handler(
        url: str,
        method: str,
        timeout: float | None,
        headers: Sequence[tuple[str, str]],
        data: bytes,
    ) -> Callable[[], None]:
        def send() -> None:
            # A push replaces the same metrics with the same values: safe to repeat.
            response = client.request(
                method,
                url,
                idempotent=True,
                what="push to the Pushgateway",
                content=data,
                headers=dict(headers),
            )
            if response.status_code >= 400:
                text = " ".join(response.text.split())[:200]
                raise PushRefused(f"the Pushgateway answered {response.status_code}: {text}")

        return send

    return handler
