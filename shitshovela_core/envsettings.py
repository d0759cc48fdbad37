"""Reading settings classes from the environment: parse, build, check.

`read_settings` reads one settings class for one owner (the core, a provider,
a plugin's settings group) field by field with each `Setting`'s parser, builds
it, and asks it for its own cross-setting problems; every problem goes to one
list, so `shitshovela_core.config.load_config` can report them all at once.
`build_settings` does the same from given values (tests, `fake_context`).
`CoreSettings` are the core's own settings; `early_settings` reads the few
needed before the configuration can be validated (logging, which plugins to
load), from the same declarations. This module knows nothing of plugins, so
the plugin loader can use it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs

from .deadline import DEFAULT_RUNTIME, check_runtime
from .errors import ConfigError
from .models import INSTANCE_PATTERN
from .settings import Setting, Settings, env_name, setting, settings_of

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
        default=DEFAULT_RUNTIME,
        check=check_runtime,
        help="Longest run from process start: seconds, or a number with s, m or h (90s, 15m, 1h), "
        "3s to 168h. Keep it below the schedule interval.",
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
    values = parse_values(needed, None, env.get, [], [])
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


def parse_values(
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


def build_checked(
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
    values = parse_values(settings_of(cls), owner, environ.get, problems, secrets)
    return build_checked(cls, owner, values, problems, plugin)


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
    parsed = parse_values(settings_of(cls), owner, values.get, problems, [], typed=True)
    built = build_checked(cls, owner, parsed, problems)
    if problems or built is None:
        raise ConfigError(problems)
    return built
