"""Configuration from ``SHITSHOVELA_*`` environment variables, validated up front.

`load_config` reads the core settings (`CoreSettings`), the settings classes
of the two selected providers and the settings groups of every loaded plugin
(``register_settings``). Each class is read field by field, built, and asked
for its own cross-setting problems (`Settings.problems`); one `ConfigError`
lists every problem of every owner (missing, bad value, a combination that
cannot work, a misspelt name with the closest valid one, a group named like a
provider or another group) before anything is contacted. Provider settings
nest under the provider's name (``SHITSHOVELA_IMAP__HOST``), a group's under
the group's (``SHITSHOVELA_PROMETHEUS__PUSHGATEWAY``), all named by `env_name`.
Secret settings are kept as the exact string that was set and collected in
`Config.secrets` for scrubbing (I10).

Reading one class from the environment is `shitshovela_core.envsettings`
(which also holds `CoreSettings` and `early_settings`, the few settings
needed before plugins load).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, TypeVar

import attrs

from .envsettings import (
    CORE_SETTINGS,
    CoreSettings,
    build_checked,
    parse_values,
    read_settings,
)
from .errors import ConfigError, PluginError
from .settings import (
    PREFIX,
    ProviderSettings,
    Settings,
    env_name,
    settings_of,
)

if TYPE_CHECKING:
    from .plugins import Plugins

S = TypeVar("S", bound=Settings)


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
    #: The selected source's settings, an instance of the class it registered.
    source_settings: ProviderSettings = attrs.field(factory=ProviderSettings, repr=False)
    #: The selected ticket system's settings, likewise.
    ticket_settings: ProviderSettings = attrs.field(factory=ProviderSettings, repr=False)
    secrets: tuple[str, ...] = attrs.field(default=(), repr=False)
    #: Every settings group's values, by group name (instances of their classes).
    group_settings: Mapping[str, Settings] = attrs.field(factory=dict, repr=False)
    #: ``CLAIM_WINDOW``: seconds a claimed item is left alone (I2).
    claim_window: float = 600.0


def known_names(plugins: Plugins) -> set[str]:
    """Every variable name the core or any installed provider or group reads."""
    known = {env_name(None, s.name) for s in CORE_SETTINGS}
    for spec in plugins.specs():
        known.update(env_name(spec.name, s.name) for s in settings_of(spec.settings))
    for group in plugins.settings_groups.values():
        known.update(env_name(group.name, s.name) for s in settings_of(group.settings))
    return known


def _misspelt(plugins: Plugins, environ: Mapping[str, str], problems: list[str]) -> None:
    known = known_names(plugins)
    broken_prefixes = tuple(
        env_name(info.name, "") for info in plugins.infos.values() if info.error or info.blocked
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
    """Read and validate the whole configuration; raise `ConfigError` listing every
    problem of the core, both selected providers and every settings group."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    secrets: list[str] = []
    core_values = parse_values(CORE_SETTINGS, None, env.get, problems, secrets)
    core = build_checked(CoreSettings, None, core_values, problems)
    _misspelt(plugins, env, problems)
    selected: dict[str, ProviderSettings | None] = {}
    for kind, key in (("source", "SOURCE"), ("ticket_system", "TICKET_SYSTEM")):
        name = core_values.get(key)
        if not name:
            continue
        variable = env_name(None, key)
        try:
            spec = plugins.select(kind, str(name).strip().lower(), variable)  # type: ignore[arg-type]
        except PluginError as exc:
            problems.extend(exc.problems)
            continue
        selected[kind] = read_settings(
            spec.settings, spec.name, env, problems, secrets, spec.plugin
        )
    problems.extend(plugins.group_clashes)
    groups = {
        name: read_settings(group.settings, name, env, problems, secrets, group.plugin)
        for name, group in sorted(plugins.settings_groups.items())
    }
    if problems:
        raise ConfigError(problems)
    assert core is not None
    source, tickets = selected["source"], selected["ticket_system"]
    assert source is not None
    assert tickets is not None
    return Config(
        source=core.source.strip().lower(),
        ticket_system=core.ticket_system.strip().lower(),
        instance=core.instance,
        max_runtime=core.max_runtime,
        max_tickets=core.max_tickets,
        claim_window=core.claim_window,
        log_format=core.log_format,
        log_level=core.log_level,
        source_settings=source,
        ticket_settings=tickets,
        secrets=tuple(s for s in secrets if s),
        group_settings={name: group for name, group in groups.items() if group is not None},
    )
