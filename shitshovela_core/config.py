"""Configuration from ``SHITSHOVELA_*`` environment variables, validated up front.

`load_config` reads the core settings, the settings of the two selected
providers and the settings groups of every loaded plugin (``register_settings``),
checks every one of them, and raises one `ConfigError` listing each problem
(missing, bad value, misspelt name with the closest valid one, a group named
like a provider or another group) before anything is contacted. Provider
settings nest under the provider's name (``SHITSHOVELA_IMAP__HOST``), a group's
under the group's (``SHITSHOVELA_PROMETHEUS__PUSHGATEWAY``). Secret settings are
kept as the exact string that was set and collected in `Config.secrets` for
scrubbing (I10).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from typing import Any

import attrs

from .errors import ConfigError, PluginError
from .models import INSTANCE_PATTERN
from .plugins import Plugins
from .providers import ProviderSpec
from .settings import Setting, rate_setting, tls_settings

PREFIX = "SHITSHOVELA_"


def _check_instance(value: Any) -> None:
    if not INSTANCE_PATTERN.match(str(value)):
        raise ValueError(
            "use 1-27 characters: lower-case letters, digits, '-' or '_', starting with a "
            "letter or digit (it becomes part of the ticket flag label)"
        )


CORE_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "SOURCE", required=True, help="Name of the source provider (see `shitshovela plugins`)."
    ),
    Setting(
        "TICKET_SYSTEM",
        required=True,
        help="Name of the ticket-system provider (see `shitshovela plugins`).",
    ),
    Setting(
        "INSTANCE",
        required=True,
        check=_check_instance,
        help="This instance's name; scopes its in-progress flag among instances sharing a "
        "ticket system.",
    ),
    Setting(
        "MAX_RUNTIME",
        "duration",
        default=600.0,
        help="Longest run from process start: seconds, or a number with s, m or h (90s, 15m, 1h). "
        "Keep it below the schedule interval.",
    ),
    Setting(
        "MAX_TICKETS",
        "int",
        default=50,
        minimum=1,
        help="Most tickets one run creates; the rest wait for the next run.",
    ),
    Setting(
        "LOG_FORMAT",
        "choice",
        default="auto",
        choices=("auto", "json", "console"),
        help="auto: readable on a terminal, JSON lines otherwise.",
    ),
    Setting(
        "LOG_LEVEL",
        "choice",
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="Least severe log level printed.",
    ),
    Setting(
        "BLOCK_PLUGINS",
        "list",
        default=[],
        help="Plugins (entry-point or distribution names) not to load: the way out of a "
        "broken plugin.",
    ),
    Setting("TRACE_PLUGINS", "bool", default=False, help="Log every hook call."),
)


@attrs.frozen
class Config:
    """The validated configuration of one run."""

    source: str
    ticket_system: str
    instance: str
    max_runtime: float
    max_tickets: int
    log_format: str
    log_level: str
    source_settings: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    ticket_settings: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    secrets: tuple[str, ...] = attrs.field(default=(), repr=False)
    #: The values of every settings group, by group name, then setting NAME.
    group_settings: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict, repr=False)


def provider_settings(spec: ProviderSpec) -> tuple[Setting, ...]:
    """A provider's declared settings plus those the core adds: ``RATE`` for
    each, ``TLS_VERIFY`` and ``CA_BUNDLE`` for those registered with ``tls``."""
    declared = tuple(spec.settings)
    added = [rate_setting(spec.default_rate)]
    if spec.tls:
        added.extend(tls_settings())
    names = {s.name for s in declared}
    return (*declared, *(s for s in added if s.name not in names))


def env_name(setting: Setting, provider: str | None = None) -> str:
    """The environment variable a setting is read from; ``provider`` is a
    provider's or a settings group's name (None for the core's own)."""
    if provider is None:
        return PREFIX + setting.name
    return f"{PREFIX}{provider.upper()}__{setting.name}"


def _shown(setting: Setting, raw: str) -> str:
    """A bad value as an error may show it: in a URL, all before the last ``@``
    is masked (it may hold a user and password, however malformed)."""
    if setting.type == "url" and "@" in raw:
        return "***@" + raw.rsplit("@", 1)[1]
    return raw


def _read(
    settings: tuple[Setting, ...],
    provider: str | None,
    environ: Mapping[str, str],
    problems: list[str],
    secrets: list[str],
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for setting in settings:
        name = env_name(setting, provider)
        raw = environ.get(name)
        if raw is None or raw == "":
            if setting.required:
                hint = f" ({setting.help})" if setting.help else ""
                problems.append(f"{name} is not set: it is required{hint}")
            values[setting.name] = setting.default
            continue
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError:
            problems.append(f"{name} is not valid UTF-8: set it to UTF-8 text")
            continue
        if setting.secret:
            secrets.append(raw)
        try:
            values[setting.name] = setting.parse(raw)
        except Exception as exc:
            shown = "" if setting.secret else f"={_shown(setting, raw)!r}"
            problems.append(f"{name}{shown} is invalid: {exc}")
    return values


def known_names(plugins: Plugins) -> set[str]:
    """Every variable name the core or any installed provider reads."""
    known = {env_name(s) for s in CORE_SETTINGS}
    for spec in plugins.specs():
        known.update(env_name(s, spec.name) for s in provider_settings(spec))
    for group in plugins.settings_groups.values():
        known.update(env_name(s, group.name) for s in group.settings)
    return known


def _misspelt(plugins: Plugins, environ: Mapping[str, str], problems: list[str]) -> None:
    known = known_names(plugins)
    broken_prefixes = tuple(
        f"{PREFIX}{info.name.upper()}__"
        for info in plugins.infos.values()
        if info.error or info.blocked
    )
    for name in sorted(environ):
        if not name.startswith(PREFIX) or name in known or name.startswith(broken_prefixes):
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        hint = (
            f"; did you mean {close[0]}?"
            if close
            else "; see `shitshovela plugins` for every setting"
        )
        problems.append(f"{name} is not a setting of ShitShovela or of any installed plugin{hint}")


def load_config(plugins: Plugins, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the whole configuration; raise `ConfigError` listing every problem."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    secrets: list[str] = []
    core = _read(CORE_SETTINGS, None, env, problems, secrets)
    _misspelt(plugins, env, problems)
    selected: dict[str, dict[str, Any]] = {}
    for kind, key, var in (
        ("source", "SOURCE", "SHITSHOVELA_SOURCE"),
        ("ticket_system", "TICKET_SYSTEM", "SHITSHOVELA_TICKET_SYSTEM"),
    ):
        name = core.get(key)
        if not name:
            continue
        try:
            spec = plugins.select(kind, str(name).strip().lower(), var)  # type: ignore[arg-type]
        except PluginError as exc:
            problems.extend(exc.problems)
            continue
        selected[kind] = _read(provider_settings(spec), spec.name, env, problems, secrets)
    problems.extend(plugins.group_clashes)
    groups = {
        name: _read(group.settings, name, env, problems, secrets)
        for name, group in sorted(plugins.settings_groups.items())
    }
    if problems:
        raise ConfigError(problems)
    return Config(
        source=str(core["SOURCE"]).strip().lower(),
        ticket_system=str(core["TICKET_SYSTEM"]).strip().lower(),
        instance=str(core["INSTANCE"]),
        max_runtime=float(core["MAX_RUNTIME"]),
        max_tickets=int(core["MAX_TICKETS"]),
        log_format=str(core["LOG_FORMAT"]),
        log_level=str(core["LOG_LEVEL"]),
        source_settings=selected["source"],
        ticket_settings=selected["ticket_system"],
        secrets=tuple(s for s in secrets if s),
        group_settings=groups,
    )
