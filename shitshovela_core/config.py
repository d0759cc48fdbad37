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

`early_settings` reads the four core settings needed before the
configuration can be validated (logging and which plugins to load) from the
same declarations.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs

from .errors import ConfigError, PluginError
from .models import INSTANCE_PATTERN
from .plugins import Plugins
from .settings import (
    PREFIX,
    ProviderSettings,
    Setting,
    Settings,
    env_name,
    setting,
    settings_of,
)

S = TypeVar("S", bound=Settings)


def _check_instance(value: Any) -> None:
    if not INSTANCE_PATTERN.match(str(value)):
        raise ValueError(
            "use 1-27 characters: lower-case letters, digits, '-' or '_', starting with a "
            "letter or digit (it becomes part of the ticket flag label)"
        )


@attrs.frozen(kw_only=True)
class CoreSettings(Settings):
    """The core's own settings, read as ``SHITSHOVELA_<NAME>``."""

    source: str = setting(
        required=True, help="Name of the source provider (see `shitshovela plugins`)."
    )
    ticket_system: str = setting(
        required=True, help="Name of the ticket-system provider (see `shitshovela plugins`)."
    )
    instance: str = setting(
        required=True,
        check=_check_instance,
        help="This instance's name; scopes its in-progress flag among instances sharing a "
        "ticket system.",
    )
    max_runtime: float = setting(
        kind="duration",
        default=600.0,
        help="Longest run from process start: seconds, or a number with s, m or h (90s, 15m, 1h). "
        "Keep it below the schedule interval.",
    )
    max_tickets: int = setting(
        default=50, minimum=1, help="Most tickets one run creates; the rest wait for the next run."
    )
    log_format: str = setting(
        default="auto",
        choices=("auto", "json", "console"),
        help="auto: readable on a terminal, JSON lines otherwise.",
    )
    log_level: str = setting(
        default="info",
        choices=("debug", "info", "warning", "error"),
        help="Least severe log level printed.",
    )
    block_plugins: list[str] = setting(
        default=[],
        help="Plugins (entry-point or distribution names) not to load: the way out of a "
        "broken plugin.",
    )
    trace_plugins: bool = setting(default=False, help="Log every hook call.")


#: The core's settings as ``shitshovela plugins`` lists them.
CORE_SETTINGS: tuple[Setting, ...] = settings_of(CoreSettings)


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


@attrs.frozen
class EarlySettings:
    """The core settings needed before the configuration can be validated: how
    to log the validation's own errors, and which plugins to load."""

    log_format: str = "auto"
    log_level: str = "info"
    block_plugins: tuple[str, ...] = ()
    trace_plugins: bool = False


def early_settings(environ: Mapping[str, str] | None = None) -> EarlySettings:
    """Read `EarlySettings` from the `CoreSettings` declarations; an unset or
    invalid value counts as its default here (`load_config` reports it)."""
    env = os.environ if environ is None else environ
    wanted = {f.name.upper() for f in attrs.fields(EarlySettings)}
    needed = tuple(s for s in CORE_SETTINGS if s.name in wanted)
    values = _parse(needed, None, env.get, [], [])
    return EarlySettings(
        log_format=values.get("LOG_FORMAT", "auto"),
        log_level=values.get("LOG_LEVEL", "info"),
        block_plugins=tuple(values.get("BLOCK_PLUGINS", ())),
        trace_plugins=bool(values.get("TRACE_PLUGINS", False)),
    )


def _shown(setting: Setting, raw: str) -> str:
    """A bad value as an error may show it: in a URL, all before the last ``@``
    is masked (it may hold a user and password, however malformed)."""
    if setting.type == "url" and "@" in raw:
        return "***@" + raw.rsplit("@", 1)[1]
    return raw


def _parse(
    settings: tuple[Setting, ...],
    owner: str | None,
    lookup: Callable[[str], Any],
    problems: list[str],
    secrets: list[str],
    *,
    typed: bool = False,
) -> dict[str, Any]:
    """Each setting's value by NAME: parsed from the environment (``lookup`` takes
    a variable name), or with ``typed`` validated as given (``lookup`` takes a
    NAME). A value with a problem is left out and the problem recorded."""
    values: dict[str, Any] = {}
    for declared in settings:
        name = env_name(owner, declared.name)
        raw = lookup(declared.name if typed else name)
        if raw == "" and declared.keep_empty:
            values[declared.name] = ""
            continue
        if (raw is None or raw == "") and declared.fallback and not typed:
            name, raw = declared.fallback, lookup(declared.fallback)
        if raw is None or raw == "":
            if declared.required:
                hint = f" ({declared.help})" if declared.help else ""
                problems.append(
                    f"{env_name(owner, declared.name)} is not set: it is required{hint}"
                )
                continue
            values[declared.name] = declared.default
            continue
        if isinstance(raw, str):
            try:
                raw.encode("utf-8")
            except UnicodeEncodeError:
                problems.append(f"{name} is not valid UTF-8: set it to UTF-8 text")
                continue
            if declared.secret:
                secrets.append(raw)
        try:
            values[declared.name] = declared.validate(raw) if typed else declared.parse(raw)
        except Exception as exc:
            shown = "" if declared.secret else f"={_shown(declared, str(raw))!r}"
            problems.append(f"{name}{shown} is invalid: {exc}")
    return values


def _build(
    cls: type[S],
    owner: str | None,
    values: dict[str, Any],
    problems: list[str],
    plugin: str = "",
) -> S | None:
    """Build ``cls`` from parsed values and add its cross-setting problems; None
    when a setting had a problem (its checks need every value)."""
    settings = settings_of(cls)
    if len(values) < len(settings):
        return None
    try:
        built = cls(**{name.lower(): value for name, value in values.items()})
        found = list(built.problems(lambda name: env_name(owner, name)))
    except Exception as exc:
        by = f" of plugin {plugin!r}" if plugin else ""
        problems.append(
            f"{env_name(owner, '*')}: the settings check{by} failed: "
            f"{type(exc).__name__}: {exc} (fix or reinstall the plugin)"
        )
        return None
    problems.extend(found)
    return built


def read_settings(
    cls: type[S],
    owner: str | None,
    environ: Mapping[str, str],
    problems: list[str],
    secrets: list[str],
    plugin: str = "",
) -> S | None:
    """Read ``cls`` for ``owner`` from the environment: every problem (each
    setting's, then the class's own checks) is added to ``problems``, each
    secret value to ``secrets``; None when there was a problem that left
    the object unbuilt."""
    values = _parse(settings_of(cls), owner, environ.get, problems, secrets)
    return _build(cls, owner, values, problems, plugin)


def build_settings(cls: type[S], owner: str | None, values: Mapping[str, Any]) -> S:
    """Build ``cls`` for ``owner`` from values by NAME (Python values, or strings
    as the environment would hold them), through the same checks as
    `read_settings`: defaults applied, required ones and the class's own
    problems checked. Raises `ConfigError` naming the variables. For tests and
    `shitshovela_testkit.fakes.fake_context`."""
    problems: list[str] = []
    known = {s.name for s in settings_of(cls)}
    for name in sorted(set(values) - known):
        problems.append(f"{env_name(owner, name)} is not a setting of {cls.__name__}")
    parsed = _parse(settings_of(cls), owner, values.get, problems, [], typed=True)
    built = _build(cls, owner, parsed, problems)
    if problems or built is None:
        raise ConfigError(problems)
    return built


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
    core_values = _parse(CORE_SETTINGS, None, env.get, problems, secrets)
    core = _build(CoreSettings, None, core_values, problems)
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
        log_format=core.log_format,
        log_level=core.log_level,
        source_settings=source,
        ticket_settings=tickets,
        secrets=tuple(s for s in secrets if s),
        group_settings={name: group for name, group in groups.items() if group is not None},
    )
