"""How a provider declares the settings it reads, and how a value is parsed.

A provider lists `Setting` objects; the core reads them from the environment as
``SHITSHOVELA_<PROVIDER>__<NAME>``, validates them before any network call, and
lists them in ``shitshovela plugins``. Parsing of typed values uses dynaconf's
own env-value parser (TOML, as dynaconf reads every env var); string and
secret settings are taken byte for byte from the environment, because that
parser would turn a password of ``12345`` into an int and ``@format ...`` into
an expression (see FACTS.md, dynaconf).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

import attrs

SettingType = Literal["str", "int", "float", "bool", "duration", "list", "choice", "url"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Parse ``90``, ``90s``, ``1.5m``, ``15m`` or ``1h`` into seconds (> 0)."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError("expected seconds or a number with s, m or h, such as 90, 90s, 15m, 1h")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError("must be more than zero")
    return seconds


def parse_bool(text: str) -> bool:
    """Parse the usual spellings of a boolean."""
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def parse_list(text: str) -> list[str]:
    """Parse a comma-separated list, or a TOML/JSON list of strings."""
    stripped = text.strip()
    if stripped.startswith("["):
        from dynaconf.utils.parse_conf import parse_conf_data  # type: ignore[import-untyped]

        value = parse_conf_data(stripped, tomlfy=True, box_settings={})
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError('expected a list of strings, such as a,b or ["a", "b"]')
        return list(value)
    return [part.strip() for part in stripped.split(",") if part.strip()]


def _parse_number(text: str, kind: type[int] | type[float]) -> int | float:
    from dynaconf.utils.parse_conf import parse_conf_data

    value = parse_conf_data(text.strip(), tomlfy=True, box_settings={})
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"expected {'an integer' if kind is int else 'a number'}")
    return value


@attrs.frozen
class Setting:
    """One setting a provider (or the core) reads from the environment.

    ``name`` is the part after the provider prefix, upper case (``HOST`` is read
    from ``SHITSHOVELA_IMAP__HOST``). ``secret`` settings never appear in any
    output (I10) and are kept as the exact string given. ``default`` of None
    with ``required`` true means the variable must be set.
    """

    name: str
    type: SettingType = "str"
    default: Any = None
    secret: bool = False
    required: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    check: Callable[[Any], None] | None = attrs.field(default=None, eq=False, repr=False)

    def parse(self, raw: str) -> Any:
        """Turn the raw environment string into a typed value; raise `ValueError`."""
        value: Any
        if self.type in ("str", "url"):
            value = raw
            if self.type == "url" and not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/]+", raw):
                raise ValueError("expected a URL such as https://host.example")
        elif self.type == "int":
            value = _parse_number(raw, int)
        elif self.type == "float":
            value = _parse_number(raw, float)
        elif self.type == "bool":
            value = parse_bool(raw)
        elif self.type == "duration":
            value = parse_duration(raw)
        elif self.type == "list":
            value = parse_list(raw)
        elif self.type == "choice":
            value = raw.strip().lower()
            if value not in self.choices:
                raise ValueError(f"expected one of {', '.join(self.choices)}")
        else:  # pragma: no cover - guarded by the Literal type
            raise ValueError(f"unknown setting type {self.type}")
        if isinstance(value, int | float) and not isinstance(value, bool):
            if self.minimum is not None and value < self.minimum:
                raise ValueError(f"must be at least {self.minimum:g}")
            if self.maximum is not None and value > self.maximum:
                raise ValueError(f"must be at most {self.maximum:g}")
        if self.check is not None:
            self.check(value)
        return value

    def describe_type(self) -> str:
        """The type as shown by ``shitshovela plugins``."""
        if self.type == "choice":
            return "one of " + "|".join(self.choices)
        return self.type

    def as_dict(self, env_name: str) -> dict[str, Any]:
        """The declaration as plain data for ``shitshovela plugins --json``."""
        return {
            "env": env_name,
            "type": self.describe_type(),
            "default": None if self.secret else self.default,
            "required": self.required,
            "secret": self.secret,
            "help": self.help,
        }


def rate_setting(default: float) -> Setting:
    """The ``RATE`` setting every provider gets (requests a second, I6)."""
    return Setting(
        "RATE",
        "float",
        default=default,
        minimum=0.01,
        maximum=1000,
        help="Most requests a second to this system, retries included.",
    )


def tls_settings() -> tuple[Setting, ...]:
    """``TLS_VERIFY`` and ``CA_BUNDLE``, added to providers registered with ``tls=True``."""
    return (
        Setting(
            "TLS_VERIFY",
            "bool",
            default=True,
            help="Check the server's certificate; false logs a warning every run.",
        ),
        Setting("CA_BUNDLE", default="", help="A PEM file of CAs to trust instead of the default."),
    )


#: A settings group's name: lower case, as in ``SHITSHOVELA_<GROUP>__<NAME>``.
GROUP_NAME = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")


@attrs.frozen
class SettingsGroup:
    """Settings declared by a plugin that is not a provider (an observer, a
    field-mapping hook), read as ``SHITSHOVELA_<GROUP>__<NAME>``.

    Unlike a provider's settings, a group's are validated on every run for
    every loaded plugin, and reach the hooks as ``RunInfo.settings[group]``.
    ``plugin`` is filled in by the core with the registering plugin.
    """

    name: str
    settings: tuple[Setting, ...] = ()
    help: str = ""
    plugin: str = ""


class RegisterSettings:
    """The ``register`` callback handed to the ``register_settings`` hook.

    ``register("prometheus", settings=[Setting(...)], help="...")`` declares one
    group of settings.
    """

    def __init__(self, sink: Callable[[SettingsGroup], None]) -> None:
        self._sink = sink

    def __call__(
        self, group: str, *, settings: tuple[Setting, ...] | list[Setting] = (), help: str = ""
    ) -> None:
        """Declare the group ``group`` (lower case: letters, digits, single ``_``).

        Raises `ValueError` for a name that cannot be an environment prefix."""
        if not GROUP_NAME.match(group):
            raise ValueError(
                f"settings group {group!r}: use lower-case letters and digits, single '_' "
                "between them, starting with a letter"
            )
        self._sink(SettingsGroup(name=group, settings=tuple(settings), help=help))
