"""How a plugin declares the settings it reads, and how a value is parsed.

A provider (or an observer's settings group) declares its settings as an attrs
class: a subclass of `ProviderSettings` (or `Settings` for a group), one field
per setting, each made with `setting`::

    @attrs.frozen(kw_only=True)
    class SpoolSettings(ProviderSettings):
        path: str = setting(required=True, help="The spool folder.")
        rate: float = rate_setting(100.0)

        def problems(self, env: EnvName) -> Iterable[str]:
            if self.path == "/":
                yield f"{env('PATH')}=/ would empty the whole disk"

The core reads each field from ``SHITSHOVELA_<OWNER>__<NAME>`` (`env_name`;
NAME is the field's name in upper case), parses it, builds the object, runs
its `Settings.problems` (the checks that span settings) and reports every
problem of a run at once, before anything is contacted (`shitshovela_core.config`).
`ProviderSettings` adds ``RATE``, `TlsSettings` ``TLS_VERIFY`` and ``CA_BUNDLE``.

Typed values are parsed with dynaconf's own env-value parser (TOML, as
dynaconf reads every env var); string and secret settings are taken byte for
byte from the environment, because that parser would turn a password of
``12345`` into an int and ``@format ...`` into an expression (see FACTS.md,
dynaconf).
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, Self

import attrs

# Exported here too, from the light modules the entry point reads early.
from .deadline import parse_duration as parse_duration
from .envnames import PREFIX as PREFIX
from .envnames import env_name as env_name
from .redact import check_secret

SettingType = Literal["str", "int", "float", "bool", "duration", "list", "choice", "url"]

#: ``env("HOST")`` -> ``SHITSHOVELA_IMAP__HOST``: what `Settings.problems` is handed.
EnvName = Callable[[str], str]


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


#: The Python type each kind of setting holds (what a field's annotation says).
PYTHON_TYPES: dict[SettingType, str] = {
    "str": "str",
    "url": "str",
    "choice": "str",
    "int": "int",
    "float": "float",
    "duration": "float",
    "bool": "bool",
    "list": "list[str]",
}


@attrs.frozen
class Setting:
    """One setting as ``shitshovela plugins`` lists it, and how its value is checked.

    ``name`` is the part after the owner's prefix, upper case (``HOST`` is read
    from ``SHITSHOVELA_IMAP__HOST``). ``secret`` settings never appear in any
    output (I10) and are kept as the exact string given; a value that could not
    be sent as set or masked safely is refused (`redact.check_secret`: white
    space at either end, control characters, under 8 characters).
    ``ascii_only`` refuses a value with a character that is not ASCII (one that
    goes into an HTTP header, as a bearer token does). ``multiline`` marks a
    secret that is key material (a PEM block, a JSON key) or the path of its
    file: it is read, never sent as set, so line breaks, tabs and white space at
    either end are allowed in it (other control characters are not). ``required`` settings
    must be set. An empty value counts as unset (the default applies) unless
    ``keep_empty``: then it is the empty string (IMAP's ``SET_ASIDE_FOLDER=``
    turns set-aside off). ``fallback`` names another variable read when this
    one is unset (S3's ``AWS_ACCESS_KEY_ID``).

    A settings class makes these from its `setting` fields (`settings_of`);
    a plain list of them is still accepted by ``register`` (see README).
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
    check: Callable[[Any], object] | None = attrs.field(default=None, eq=False, repr=False)
    fallback: str = ""
    keep_empty: bool = False
    ascii_only: bool = False
    multiline: bool = False

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
        return self._checked(value)

    def validate(self, value: Any) -> Any:
        """Check a value given as Python data (tests, `fake_context`): a string is
        parsed as if it came from the environment; anything else must already have
        the setting's type and passes the same limits and check."""
        if isinstance(value, str):
            return self.parse(value)
        expected = PYTHON_TYPES[self.type]
        if expected == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif expected == "list[str]" and isinstance(value, list | tuple):
            if not all(isinstance(v, str) for v in value):
                raise ValueError("expected a list of strings")
            value = list(value)
        if expected != "list[str]" and type(value).__name__ != expected:
            raise ValueError(f"expected {expected}, got {type(value).__name__}")
        if expected == "list[str]" and not isinstance(value, list):
            raise ValueError(f"expected a list of strings, got {type(value).__name__}")
        return self._checked(value)

    def _checked(self, value: Any) -> Any:
        if isinstance(value, str) and self.secret:
            check_secret(value, ascii_only=self.ascii_only, multiline=self.multiline)
        elif isinstance(value, str) and self.ascii_only and not value.isascii():
            raise ValueError("it holds a character that is not ASCII: use ASCII only")
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


#: The key under which a field's `Setting` sits in its attrs metadata.
_META = "shitshovela.setting"


def setting(
    *,
    help: str = "",
    kind: SettingType | None = None,
    default: Any = None,
    required: bool = False,
    secret: bool = False,
    choices: Sequence[str] = (),
    minimum: float | None = None,
    maximum: float | None = None,
    check: Callable[[Any], object] | None = None,
    fallback: str = "",
    keep_empty: bool = False,
    ascii_only: bool = False,
    multiline: bool = False,
    converter: Callable[[Any], Any] | None = None,
) -> Any:
    """Declare one field of a settings class as a setting (an attrs field).

    ``kind`` defaults to what the field's annotation says (``str``, ``int``,
    ``float``, ``bool``, ``list[str]``; ``choice`` when ``choices`` are given);
    say ``kind="duration"`` or ``kind="url"`` for those. A ``required`` field
    has no default: its annotation need not allow None. A secret field is left
    out of the object's repr, and its value must pass `redact.check_secret`;
    say ``ascii_only=True`` for a value sent in an HTTP header (a bearer token,
    a session token), ``multiline=True`` for key material (PEM, JSON) or its
    path. ``check`` is called with the parsed value and raises `ValueError`
    with the reason. ``converter`` turns the valid value
    into what the field holds (``str.strip``; a list of ``a=b`` into a dict):
    the annotation is then the converted type, and ``kind`` must be given.
    A ``Literal[...]`` annotation fits a choice. See `Setting` for the rest.
    """
    if converter is not None and kind is None:
        raise TypeError("a setting with a converter says its kind")
    if required and default is not None:
        raise TypeError("a required setting has no default")
    if kind is None and choices:
        kind = "choice"
    declared = Setting(
        name="",
        type=kind or "str",
        default=default,
        secret=secret,
        required=required,
        help=help,
        choices=tuple(choices),
        minimum=minimum,
        maximum=maximum,
        check=check,
        fallback=fallback,
        keep_empty=keep_empty,
        ascii_only=ascii_only,
        multiline=multiline,
    )
    return _field(declared, explicit=kind is not None, converter=converter)


def _field(
    declared: Setting, *, explicit: bool, converter: Callable[[Any], Any] | None = None
) -> Any:
    """The attrs field of a setting; ``explicit`` when its kind was given, not inferred."""
    metadata = {_META: (declared, explicit, converter is not None)}
    extra: dict[str, Any] = {"kw_only": True, "repr": not declared.secret, "metadata": metadata}
    if converter is not None:
        extra["converter"] = converter
    if declared.required:
        return attrs.field(**extra)
    if isinstance(declared.default, list | dict | set):
        return attrs.field(factory=functools.partial(copy.copy, declared.default), **extra)
    return attrs.field(default=declared.default, **extra)


def rate_setting(default: float) -> Any:
    """The ``RATE`` field every provider has (requests a second, I6); redeclare
    ``rate: float = rate_setting(20.0)`` in a provider's class to change its default."""
    return setting(
        kind="float",
        default=default,
        minimum=0.01,
        maximum=1000,
        help="Most requests a second to this system, retries included.",
    )


@attrs.frozen(slots=False)
class Settings:
    """The validated settings of one owner (the core, a provider, a settings group).

    Subclass it (as an attrs class, fields made with `setting`) for a settings
    group; providers subclass `ProviderSettings`. Read values as attributes
    (``settings.host``); ``settings["HOST"]`` and ``settings.get("HOST")`` read
    by the variable's NAME, for plugins written before settings classes.
    """

    def problems(self, env: EnvName) -> Iterable[str]:
        """Every problem no single setting can see (FLAVOUR=cloud without API_TOKEN).

        Called by the core inside configuration loading, once every setting
        parsed; each message names the variables, made with ``env("NAME")``.
        The default finds none."""
        return ()

    def __getitem__(self, name: str) -> Any:
        """The value of the setting ``name`` (upper case, as after the prefix)."""
        if not any(s.name == name for s in settings_of(type(self))):
            raise KeyError(name)
        return getattr(self, name.lower())

    def get(self, name: str, default: Any = None) -> Any:
        """The value of the setting ``name``, or ``default`` if there is no such setting."""
        try:
            return self[name]
        except KeyError:
            return default

    def as_dict(self) -> dict[str, Any]:
        """Every setting's value by NAME (secrets included: never log it)."""
        return {s.name: getattr(self, s.name.lower()) for s in settings_of(type(self))}

    @classmethod
    def of(cls, value: object) -> Self:
        """``value`` typed as this class: how a provider reads ``context.settings``.

        Raises `TypeError` when the plugin registered another settings class."""
        if not isinstance(value, cls):
            raise TypeError(
                f"expected {cls.__name__} settings, got {type(value).__name__}: register "
                f"the provider with settings={cls.__name__}"
            )
        return value


@attrs.frozen(slots=False, kw_only=True)
class ProviderSettings(Settings):
    """The base of every provider's settings: ``RATE``, added by the core (I6)."""

    rate: float = rate_setting(5.0)


@attrs.frozen(slots=False, kw_only=True)
class TlsSettings(Settings):
    """A mixin for settings of a client that speaks TLS: ``TLS_VERIFY`` and
    ``CA_BUNDLE``, applied by the core's safety policy."""

    tls_verify: bool = setting(
        default=True, help="Check the server's certificate; false logs a warning every run."
    )
    ca_bundle: str = setting(default="", help="A PEM file of CAs to trust instead of the default.")


#: Field names a setting may not take: they would hide `Settings`' methods.
_RESERVED = frozenset(name for name in dir(Settings) if not name.startswith("_"))
#: The settings the core adds, listed after a plugin's own.
_ADDED = ("RATE", "TLS_VERIFY", "CA_BUNDLE")
#: The core's mixins whose settings are listed after a class's own, before `_ADDED`
#: (`shitshovela_core.tokensettings.OAuthSettings` registers itself).
LISTED_AFTER_OWN: list[type[Settings]] = []


def _annotation(field: attrs.Attribute[Any]) -> str | None:
    """A field's annotation as text without ``| None`` (None: not annotated, or Any)."""
    kind = field.type
    if kind is None:
        return None
    if isinstance(kind, str):  # under ``from __future__ import annotations``
        text = kind
    elif isinstance(kind, type):
        text = kind.__name__
    else:  # list[str], int | None, Literal[...]
        text = str(kind).replace("typing.", "")
    parts = [part.strip() for part in text.split("|") if part.strip() != "None"]
    found = " | ".join(parts)
    return None if found in ("", "Any", "typing.Any") else found


#: `settings_of` of each class already read.
_DECLARED: dict[type[Settings], tuple[Setting, ...]] = {}


def settings_of(cls: type[Settings]) -> tuple[Setting, ...]:
    """The settings a class declares, named (``HOST``), in declaration order, then
    those of the core's mixins (`LISTED_AFTER_OWN`: the token settings), with the
    ones the core adds (``RATE``, ``TLS_VERIFY``, ``CA_BUNDLE``) last.

    Raises `TypeError` for a class the core cannot read: a field not made with
    `setting`, a name that hides a method, a kind its annotation contradicts."""
    found = _DECLARED.get(cls)
    if found is None:
        found = _DECLARED[cls] = _declared(cls)
    return found


def _declared(cls: type[Settings]) -> tuple[Setting, ...]:
    if not (isinstance(cls, type) and issubclass(cls, Settings) and attrs.has(cls)):
        raise TypeError(f"{cls!r} is not an attrs subclass of shitshovela_core.settings.Settings")
    declared: list[Setting] = []
    for field in attrs.fields(cls):
        if _META not in field.metadata:
            raise TypeError(f"{cls.__name__}.{field.name}: declare it with setting(...)")
        if field.name in _RESERVED or not re.fullmatch(r"[a-z][a-z0-9_]*", field.name):
            raise TypeError(
                f"{cls.__name__}.{field.name}: a setting's field name is lower case and "
                f"not one of {', '.join(sorted(_RESERVED))}"
            )
        found, explicit, converted = field.metadata[_META]
        annotation = None if converted else _annotation(field)
        if annotation and annotation.startswith("Literal[") and found.type == "choice":
            annotation = None  # a Literal of the choices
        kind: SettingType = found.type
        if not explicit and annotation is not None:
            inferred = [k for k, t in PYTHON_TYPES.items() if t == annotation]
            if not inferred:
                raise TypeError(
                    f"{cls.__name__}.{field.name}: cannot tell the kind of setting from "
                    f"{annotation!r}: say setting(kind=...)"
                )
            kind = inferred[0]
        elif annotation is not None and PYTHON_TYPES[kind] != annotation:
            raise TypeError(
                f"{cls.__name__}.{field.name}: kind {kind!r} holds {PYTHON_TYPES[kind]}, "
                f"not {annotation}"
            )
        default = field.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory()
        elif default is attrs.NOTHING:
            default = None
        declared.append(attrs.evolve(found, name=field.name.upper(), type=kind, default=default))
    mixed = {
        f.name.upper()
        for mixin in LISTED_AFTER_OWN
        if issubclass(cls, mixin)
        for f in attrs.fields(mixin)
    } - set(_ADDED)
    own = [s for s in declared if s.name not in _ADDED and s.name not in mixed]
    from_mixins = [s for s in declared if s.name in mixed]
    added = sorted((s for s in declared if s.name in _ADDED), key=lambda s: _ADDED.index(s.name))
    return (*own, *from_mixins, *added)


def settings_class(
    owner: str, settings: Sequence[Setting], bases: tuple[type[Settings], ...]
) -> type[Settings]:
    """A settings class made from a plain list of `Setting` (the form ``register``
    accepted before settings classes). Its fields are typed `Any`: read them as
    ``settings["NAME"]``, or declare a class to get typed attributes."""
    fields: dict[str, Any] = {}
    for declared in settings:
        if declared.required and declared.default is not None:
            raise TypeError(f"setting {declared.name}: a required setting has no default")
        fields[declared.name.lower()] = _field(attrs.evolve(declared, name=""), explicit=True)
    name = "".join(part.capitalize() for part in re.split(r"[^a-zA-Z0-9]+", owner)) + "Settings"
    cls: type[Settings] = attrs.make_class(name, fields, bases=bases, frozen=True, kw_only=True)
    settings_of(cls)  # refuse what the core cannot read now, at registration
    return cls


#: A settings group's name: lower case, as in ``SHITSHOVELA_<GROUP>__<NAME>``.
GROUP_NAME = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")


@attrs.frozen
class SettingsGroup:
    """Settings declared by a plugin that is not a provider (an observer, a
    field-mapping hook), read as ``SHITSHOVELA_<GROUP>__<NAME>``.

    Unlike a provider's settings, a group's are validated on every run for
    every loaded plugin, and reach the hooks as ``RunInfo.settings[group]``
    (an instance of ``settings``). ``plugin`` is filled in by the core with the
    registering plugin.
    """

    name: str
    settings: type[Settings] = Settings
    help: str = ""
    plugin: str = ""


class RegisterSettings:
    """The ``register`` callback handed to the ``register_settings`` hook.

    ``register("prometheus", settings=PrometheusSettings, help="...")`` declares
    one group of settings (a `Settings` subclass, or a plain list of `Setting`).
    """

    def __init__(self, sink: Callable[[SettingsGroup], None]) -> None:
        self._sink = sink

    def __call__(
        self,
        group: str,
        *,
        settings: type[Settings] | Sequence[Setting] = (),
        help: str = "",
    ) -> None:
        """Declare the group ``group`` (lower case: letters, digits, single ``_``).

        Raises `ValueError` for a name that cannot be an environment prefix, and
        `TypeError` for a settings class the core cannot read."""
        if not GROUP_NAME.match(group):
            raise ValueError(
                f"settings group {group!r}: use lower-case letters and digits, single '_' "
                "between them, starting with a letter"
            )
        if isinstance(settings, type):
            settings_of(settings)
            cls = settings
        else:
            cls = settings_class(group, settings, (Settings,))
        self._sink(SettingsGroup(name=group, settings=cls, help=help))
