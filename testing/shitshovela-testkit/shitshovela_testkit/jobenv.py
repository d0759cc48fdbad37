"""The environment of one ``shitshovela`` process, built from per-system fragments.

Tests, benchmarks and the demo start the real CLI with an environment that
names the instance, the source and the ticket system and their settings.
Each fragment here is a plain ``dict`` of variables; `job_env` lays them over
the caller's environment with every ``SHITSHOVELA_*`` variable removed (so a
developer's own settings never leak into a test)::

    env = job_env(
        core("e2e", max_runtime=60),
        jira(proxy.url, email=EMAIL, api_token=TOKEN, INDEX_LAG=2),
        s3(moto.url, bucket, access_key_id="AKID", secret_access_key=SECRET, PREFIX="in/"),
        SHITSHOVELA_LOG_LEVEL="warning",
    )

`source` and `ticket_system` select a provider and give its settings (by their
NAME, as the provider registers them); `s3`, `imap`, `jira` and `github` are the
built-in providers' fragments with their required settings spelt out; `provider`
gives settings without selecting anything (an observer's, say). Values are
turned into strings; ``None`` leaves a variable out.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from shitshovela_core import settings as core_settings

__all__ = [
    "core",
    "env_name",
    "github",
    "imap",
    "jira",
    "job_env",
    "provider",
    "s3",
    "source",
    "ticket_system",
]

PREFIX = core_settings.PREFIX

Value = str | int | float | None


def env_name(provider: str | None, setting: str) -> str:
    """The variable of a setting: ``SHITSHOVELA_<PROVIDER>__<SETTING>``, or the core's own
    ``SHITSHOVELA_<SETTING>`` for ``provider`` None (the core's one naming rule)."""
    return core_settings.env_name(provider, setting.upper())


def _strings(values: Mapping[str, Value]) -> dict[str, str]:
    return {name: str(value) for name, value in values.items() if value is not None}


def job_env(*fragments: Mapping[str, str], **extra: Value) -> dict[str, str]:
    """``os.environ`` without ``SHITSHOVELA_*``, then each fragment in order, then ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX)}
    for fragment in fragments:
        env.update(fragment)
    env.update(_strings(extra))
    return env


def core(
    instance: str,
    *,
    max_runtime: Value = 60,
    log_format: Value = "json",
    **settings: Value,
) -> dict[str, str]:
    """The core's own settings: ``SHITSHOVELA_INSTANCE``, ``_MAX_RUNTIME``, ``_LOG_FORMAT``
    and any other by NAME (``MAX_TICKETS=100000``, ``LOG_LEVEL="warning"``)."""
    values: dict[str, Value] = {
        "INSTANCE": instance,
        "MAX_RUNTIME": max_runtime,
        "LOG_FORMAT": log_format,
        **settings,
    }
    return _strings({env_name(None, name): value for name, value in values.items()})


def provider(name: str, **settings: Value) -> dict[str, str]:
    """Settings of the provider (or plugin settings group) ``name``, by NAME."""
    return _strings({env_name(name, setting): value for setting, value in settings.items()})


def source(name: str, **settings: Value) -> dict[str, str]:
    """Select the source ``name`` and give its settings."""
    return {env_name(None, "SOURCE"): name, **provider(name, **settings)}


def ticket_system(name: str, **settings: Value) -> dict[str, str]:
    """Select the ticket system ``name`` and give its settings."""
    return {env_name(None, "TICKET_SYSTEM"): name, **provider(name, **settings)}


def s3(
    endpoint_url: str,
    bucket: str,
    *,
    access_key_id: str,
    secret_access_key: str,
    **settings: Value,
) -> dict[str, str]:
    """The S3 source on ``bucket`` at ``endpoint_url`` (moto's server, or a proxy before it)."""
    return source(
        "s3",
        BUCKET=bucket,
        ENDPOINT_URL=endpoint_url,
        ACCESS_KEY_ID=access_key_id,
        SECRET_ACCESS_KEY=secret_access_key,
        **settings,
    )


def imap(
    host: str,
    port: int,
    username: str,
    password: str,
    *,
    security: str = "plain",
    **settings: Value,
) -> dict[str, str]:
    """The IMAP source on a mailbox (a test Dovecot, or a relay or proxy before it)."""
    return source(
        "imap",
        HOST=host,
        PORT=port,
        SECURITY=security,
        USERNAME=username,
        PASSWORD=password,
        **settings,
    )


def jira(
    url: str,
    *,
    email: str,
    api_token: str,
    project: str = "OPS",
    flavour: str = "cloud",
    **settings: Value,
) -> dict[str, str]:
    """The Jira ticket system at ``url`` (the emulator, or a proxy before it), Cloud auth."""
    return ticket_system(
        "jira",
        URL=url,
        FLAVOUR=flavour,
        EMAIL=email,
        API_TOKEN=api_token,
        PROJECT=project,
        **settings,
    )


def github(api_url: str, repo: str, *, token: str, **settings: Value) -> dict[str, str]:
    """The GitHub ticket system on ``repo`` at ``api_url`` (the emulator, or a proxy
    before it), with a personal access token."""
    return ticket_system("github", API_URL=api_url, REPO=repo, TOKEN=token, **settings)
