"""Settings classes: declared with `setting`, read and checked by the core in one pass,
listed by `shitshovela plugins`; one function makes every variable name."""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import attrs
import pytest
from shitshovela_testkit.fakes import FakePlugin, FakeStore, FakeTracker, fake_context

from shitshovela_core.config import load_config
from shitshovela_core.envsettings import build_settings, early_settings
from shitshovela_core.errors import ConfigError
from shitshovela_core.hookspecs import hookimpl
from shitshovela_core.plugins import Plugins, create_plugins
from shitshovela_core.providers import Register
from shitshovela_core.settings import (
    EnvName,
    ProviderSettings,
    RegisterSettings,
    Setting,
    Settings,
    TlsSettings,
    env_name,
    rate_setting,
    setting,
    settings_of,
)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]


@attrs.frozen(kw_only=True)
class MailSettings(ProviderSettings, TlsSettings):
    """A source's settings with a rule that spans two of them."""

    host: str = setting(required=True, help="Server name.")
    password: str = setting(required=True, secret=True, help="Password.")
    port: int | None = setting(minimum=1, maximum=65535, help="Port.")
    done: Literal["delete", "move"] = setting(default="delete", choices=("delete", "move"))
    folder: str = setting(default="", help="Archive folder.")
    timeout: float = setting(kind="duration", default=30.0, help="Longest wait.")
    labels: list[str] = setting(default=[], help="Labels.")
    rate: float = rate_setting(20.0)

    def problems(self, env: EnvName) -> Iterator[str]:
        if self.done == "move" and not self.folder:
            yield f"{env('DONE')}=move needs {env('FOLDER')}"


@attrs.frozen(kw_only=True)
class TrackerSettings(ProviderSettings):
    url: str = setting(kind="url", required=True, help="Where.")
    token: str = setting(default="", secret=True, help="Token.")
    user: str = setting(default="", help="User.")

    def problems(self, env: EnvName) -> Iterator[str]:
        if self.token and not self.user:
            yield f"{env('TOKEN')} is set but {env('USER')} is not"


@attrs.frozen(kw_only=True)
class PushSettings(Settings):
    url: str | None = setting(kind="url", help="Where to push.")
    job: str = setting(default="job", help="Job.")

    def problems(self, env: EnvName) -> Iterator[str]:
        if self.job == "forbidden":
            yield f"{env('JOB')} may not be 'forbidden'"


class Typed:
    """A plugin registering the classes above."""

    @hookimpl
    def register_sources(self, register: Register) -> None:
        register("mail", "x:y", settings=MailSettings, help="Mail.")

    @hookimpl
    def register_ticket_systems(self, register: Register) -> None:
        register("tracker", "x:y", settings=TrackerSettings, help="Tracker.")

    @hookimpl
    def register_settings(self, register: RegisterSettings) -> None:
        register("push", settings=PushSettings, help="Push.")


@pytest.fixture
def plugins() -> Plugins:
    return create_plugins(extra=[("typed", Typed())], entry_points=False)


def env(**extra: str) -> dict[str, str]:
    return {
        "SHITSHOVELA_SOURCE": "mail",
        "SHITSHOVELA_TICKET_SYSTEM": "tracker",
        "SHITSHOVELA_INSTANCE": "alerts",
        "SHITSHOVELA_MAIL__HOST": "mail.example",
        "SHITSHOVELA_MAIL__PASSWORD": "12345678",
        "SHITSHOVELA_TRACKER__URL": "https://tracker.example",
        **extra,
    }


def problems(plugins: Plugins, environ: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(plugins, environ)
    return caught.value.problems


def test_env_name_makes_every_variable_name() -> None:
    assert env_name(None, "INSTANCE") == "SHITSHOVELA_INSTANCE"
    assert env_name("imap", "HOST") == "SHITSHOVELA_IMAP__HOST"
    assert env_name("in_house", "PATH") == "SHITSHOVELA_IN_HOUSE__PATH"


def test_the_selected_providers_and_groups_are_typed_objects(plugins: Plugins) -> None:
    config = load_config(
        plugins,
        env(
            SHITSHOVELA_MAIL__PORT="993",
            SHITSHOVELA_MAIL__TIMEOUT="2m",
            SHITSHOVELA_MAIL__LABELS="a,b",
            SHITSHOVELA_MAIL__TLS_VERIFY="false",
            SHITSHOVELA_PUSH__URL="http://gw.example:9091",
        ),
    )
    mail = MailSettings.of(config.source_settings)
    assert (mail.host, mail.password, mail.port, mail.timeout) == (
        "mail.example",
        "12345678",
        993,
        120.0,
    )
    assert (mail.labels, mail.rate, mail.tls_verify, mail.ca_bundle) == (
        ["a", "b"],
        20.0,
        False,
        "",
    )
    assert "12345678" not in repr(mail)  # secrets stay out of the repr
    assert mail["PORT"] == 993 and mail.get("NOPE", "x") == "x"  # access by NAME still works
    tracker = TrackerSettings.of(config.ticket_settings)
    assert (tracker.url, tracker.rate) == ("https://tracker.example", 5.0)
    push = PushSettings.of(config.group_settings["push"])
    assert (push.url, push.job) == ("http://gw.example:9091", "job")
    with pytest.raises(TypeError, match="expected TrackerSettings settings, got MailSettings"):
        TrackerSettings.of(mail)


def test_cross_setting_problems_of_every_owner_come_with_all_the_others(plugins: Plugins) -> None:
    found = problems(
        plugins,
        env(
            SHITSHOVELA_MAX_TICKETS="0",
            SHITSHOVELA_MAIL__DONE="move",
            SHITSHOVELA_TRACKER__TOKEN="hunter22",
            SHITSHOVELA_PUSH__JOB="forbidden",
            SHITSHOVELA_MAIL__HOTS="typo",
        ),
    )
    assert found == [
        "SHITSHOVELA_MAX_TICKETS='0' is invalid: must be at least 1",
        "SHITSHOVELA_MAIL__HOTS is not a setting of ShitShovela or of any installed plugin; "
        "did you mean SHITSHOVELA_MAIL__HOST?",
        "SHITSHOVELA_MAIL__DONE=move needs SHITSHOVELA_MAIL__FOLDER",
        "SHITSHOVELA_TRACKER__TOKEN is set but SHITSHOVELA_TRACKER__USER is not",
        "SHITSHOVELA_PUSH__JOB may not be 'forbidden'",
    ]
    assert "hunter22" not in "\n".join(found)


def test_cross_setting_checks_wait_for_valid_values(plugins: Plugins) -> None:
    # A bad value is reported; the class's own checks need every value, so they wait.
    found = problems(plugins, env(SHITSHOVELA_MAIL__DONE="move", SHITSHOVELA_MAIL__PORT="x"))
    assert found == ["SHITSHOVELA_MAIL__PORT='x' is invalid: expected an integer"]


def test_a_failing_check_is_a_problem_naming_the_plugin() -> None:
    @attrs.frozen(kw_only=True)
    class Buggy(ProviderSettings):
        def problems(self, env: EnvName) -> Iterator[str]:
            raise RuntimeError("bug")

    class P(FakePlugin):
        @hookimpl
        def register_ticket_systems(self, register: Register) -> None:
            register("buggy", "x:y", settings=Buggy)

    plugins = create_plugins(extra=[("p", P(FakeStore(), FakeTracker()))], entry_points=False)
    found = problems(
        plugins,
        {
            "SHITSHOVELA_SOURCE": "fake",
            "SHITSHOVELA_TICKET_SYSTEM": "buggy",
            "SHITSHOVELA_INSTANCE": "a",
        },
    )
    assert found == [
        "SHITSHOVELA_BUGGY__*: the settings check of plugin 'p' failed: RuntimeError: bug "
        "(fix or reinstall the plugin)"
    ]


def test_the_listing_puts_the_core_added_settings_last() -> None:
    names = [s.name for s in settings_of(MailSettings)]
    assert names == [
        "HOST",
        "PASSWORD",
        "PORT",
        "DONE",
        "FOLDER",
        "TIMEOUT",
        "LABELS",
        "RATE",
        "TLS_VERIFY",
        "CA_BUNDLE",
    ]
    declared = {s.name: s for s in settings_of(MailSettings)}
    assert (declared["PORT"].type, declared["TIMEOUT"].type, declared["DONE"].type) == (
        "int",
        "duration",
        "choice",
    )
    assert declared["DONE"].choices == ("delete", "move")
    assert declared["RATE"].default == 20.0
    assert declared["HOST"].required and declared["PASSWORD"].secret
    assert declared["LABELS"].type == "list" and declared["LABELS"].default == []


def test_plugins_json_lists_a_class_as_it_listed_settings(plugins: Plugins) -> None:
    spec = plugins.sources["mail"]
    assert (spec.default_rate, spec.tls) == (20.0, True)
    rate = next(s for s in settings_of(spec.settings) if s.name == "RATE")
    assert rate.as_dict(env_name("mail", "RATE")) == {
        "env": "SHITSHOVELA_MAIL__RATE",
        "type": "float",
        "default": 20.0,
        "required": False,
        "secret": False,
        "help": "Most requests a second to this system, retries included.",
    }


def broken_by(settings: Any, **extra: Any) -> str:
    class P:
        @hookimpl
        def register_sources(self, register: Register) -> None:
            register("bad", "x:y", settings=settings, **extra)

    plugins = create_plugins(extra=[("p", P())], entry_points=False)
    assert "bad" not in plugins.sources
    return plugins.infos["p"].error


def test_a_class_the_core_cannot_read_marks_the_plugin_broken() -> None:
    @attrs.frozen(kw_only=True)
    class Plain(ProviderSettings):
        host: str = attrs.field(default="")

    @attrs.frozen(kw_only=True)
    class Hiding(ProviderSettings):
        get: str = setting(default="")

    @attrs.frozen(kw_only=True)
    class Mismatched(ProviderSettings):
        port: str = setting(kind="int", default=None)

    @attrs.frozen(kw_only=True)
    class Unknown(ProviderSettings):
        when: tuple[int, ...] = setting(default=None)

    assert "Plain.host: declare it with setting(...)" in broken_by(Plain)
    assert "Hiding.get: a setting's field name is lower case and not one of" in broken_by(Hiding)
    assert "Mismatched.port: kind 'int' holds int, not str" in broken_by(Mismatched)
    assert "cannot tell the kind of setting from 'tuple[int, ...]'" in broken_by(Unknown)
    assert "declares RATE's default" in broken_by(MailSettings, default_rate=2.0)
    assert "must subclass ProviderSettings" in broken_by(PushSettings)


def test_a_plain_list_of_settings_is_still_accepted() -> None:
    class Legacy:
        @hookimpl
        def register_sources(self, register: Register) -> None:
            register(
                "legacy",
                "x:y",
                settings=[Setting("PATH", required=True), Setting("MODE", default="a")],
                default_rate=7.0,
                tls=True,
            )

    plugins = create_plugins(extra=[("legacy", Legacy())], entry_points=False)
    spec = plugins.sources["legacy"]
    assert [s.name for s in settings_of(spec.settings)] == [
        "PATH",
        "MODE",
        "RATE",
        "TLS_VERIFY",
        "CA_BUNDLE",
    ]
    assert (spec.default_rate, spec.tls) == (7.0, True)
    built = build_settings(spec.settings, "legacy", {"PATH": "/x"})
    assert (built["PATH"], built["MODE"], built["RATE"], built["TLS_VERIFY"]) == (
        "/x",
        "a",
        7.0,
        True,
    )
    assert built.as_dict() == {
        "PATH": "/x",
        "MODE": "a",
        "RATE": 7.0,
        "TLS_VERIFY": True,
        "CA_BUNDLE": "",
    }


def test_build_settings_checks_python_values_like_the_environment() -> None:
    built = build_settings(
        MailSettings,
        "mail",
        {"HOST": "h", "PASSWORD": "0x1F2E3D", "PORT": 143, "TIMEOUT": "1m", "LABELS": ("x",)},
    )
    assert (built.password, built.port, built.timeout, built.labels) == (
        "0x1F2E3D",
        143,
        60.0,
        ["x"],
    )
    with pytest.raises(ConfigError) as caught:
        build_settings(
            MailSettings, "mail", {"PASSWORD": "p-secret", "PORT": True, "DONE": "move", "PROT": 1}
        )
    assert caught.value.problems == [
        "SHITSHOVELA_MAIL__PROT is not a setting of MailSettings",
        "SHITSHOVELA_MAIL__HOST is not set: it is required (Server name.)",
        "SHITSHOVELA_MAIL__PORT='True' is invalid: expected int, got bool",
    ]


def test_early_settings_come_from_the_core_declarations() -> None:
    early = early_settings(
        {
            "SHITSHOVELA_LOG_FORMAT": "JSON",
            "SHITSHOVELA_LOG_LEVEL": "loud",  # invalid: the default, load_config reports it
            "SHITSHOVELA_BLOCK_PLUGINS": '["one", "two"]',
            "SHITSHOVELA_TRACE_PLUGINS": "yes",
        }
    )
    assert (early.log_format, early.log_level) == ("json", "info")
    assert (early.block_plugins, early.trace_plugins) == (("one", "two"), True)
    assert early_settings({}) == type(early)()


def test_blocked_plugins_are_read_through_the_declaration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHITSHOVELA_BLOCK_PLUGINS", raising=False)
    blocked = create_plugins(environ={"SHITSHOVELA_BLOCK_PLUGINS": '["prometheus"]'})
    assert blocked.infos["prometheus"].blocked
    assert not create_plugins(environ={}).infos["prometheus"].blocked
    monkeypatch.setenv("SHITSHOVELA_BLOCK_PLUGINS", "shitshovela-prometheus, other")
    assert create_plugins().infos["prometheus"].blocked  # the process environment by default


def test_fake_context_builds_the_registered_class_with_its_defaults() -> None:
    context = fake_context(
        "spool", settings={"PATH": "/srv/spool"}
    )  # the in-house plugin, installed
    assert type(context.settings).__name__ == "SpoolSettings"
    assert context.settings.as_dict() == {"PATH": "/srv/spool", "SET_ASIDE": "", "RATE": 1000.0}
    assert context.safety.rate == 1000.0
    paced = fake_context("fake", settings={"RATE": 3.0}, rate=50_000.0)
    assert (paced.settings.rate, paced.safety.rate) == (3.0, 50_000.0)
    typed = fake_context(
        "mail", settings={"HOST": "h", "PASSWORD": "p-secret"}, settings_class=MailSettings
    )
    assert MailSettings.of(typed.settings).timeout == 30.0
    assert typed.safety.settings["TLS_VERIFY"] is True
    with pytest.raises(ConfigError, match="SHITSHOVELA_SPOOL__PATHS is not a setting"):
        fake_context("spool", settings={"PATH": "/srv", "PATHS": "/x"})
    with pytest.raises(ConfigError, match=r"SHITSHOVELA_MAIL__DONE=move needs"):
        fake_context(
            "mail",
            settings={"HOST": "h", "PASSWORD": "p-secret", "DONE": "move"},
            settings_class=MailSettings,
        )


def _literals(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield node.lineno, node.value


def test_no_code_but_env_name_spells_a_variable_name() -> None:
    packages = [ROOT / "shitshovela_core"]
    packages += sorted(ROOT.glob("plugins/*/shitshovela_*")) + sorted(
        ROOT.glob("examples/*/shitshovela_*")
    )
    spelt = [
        f"{path.relative_to(ROOT)}:{line}"
        for package in packages
        for path in sorted(package.rglob("*.py"))
        for line, text in _literals(path)
        if "SHITSHOVELA_" in text
    ]
    envnames_py = (ROOT / "shitshovela_core" / "envnames.py").read_text().splitlines()
    prefix_line = envnames_py.index('PREFIX = "SHITSHOVELA_"') + 1
    assert spelt == [f"shitshovela_core/envnames.py:{prefix_line}"]  # used by env_name only


def test_logging_is_configured_from_the_validated_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from shitshovela_core import cli, logs

    calls: list[tuple[str, str, object]] = []
    monkeypatch.setattr(logs, "configure_logging", lambda *args: calls.append(args))
    for name in [n for n in os.environ if n.startswith("SHITSHOVELA_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SHITSHOVELA_LOG_FORMAT", "console")
    monkeypatch.setenv("SHITSHOVELA_LOG_LEVEL", "loud")  # before validation: its default
    log = cli._setup_logging()
    for name, value in {
        "SOURCE": "spool",
        "TICKET_SYSTEM": "jsonl",
        "INSTANCE": "logs",
        "SPOOL__PATH": str(tmp_path),
        "JSONL__PATH": str(tmp_path / "t.jsonl"),
        "LOG_LEVEL": "error",
    }.items():
        monkeypatch.setenv(f"SHITSHOVELA_{name}", value)
    _, config = cli._prepare(log)
    assert (config.log_format, config.log_level) == ("console", "error")
    assert calls == [("console", "info", None), ("console", "error", None)]


def test_annotations_are_read_with_or_without_postponed_evaluation() -> None:
    source = (
        "from typing import Literal\n"
        "import attrs\n"
        "from shitshovela_core.settings import ProviderSettings, setting\n"
        "@attrs.frozen(kw_only=True)\n"
        "class Evaluated(ProviderSettings):\n"
        "    labels: list[str] = setting(default=[])\n"
        "    port: int | None = setting()\n"
        "    mode: Literal['a', 'b'] = setting(default='a', choices=('a', 'b'))\n"
        "    wait: float = setting(kind='duration', default=1.0)\n"
        "    on: bool = setting(default=False)\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, "<evaluated>", "exec", dont_inherit=True), namespace)
    kinds = [(s.name, s.type) for s in settings_of(namespace["Evaluated"])]
    assert kinds == [
        ("LABELS", "list"),
        ("PORT", "int"),
        ("MODE", "choice"),
        ("WAIT", "duration"),
        ("ON", "bool"),
        ("RATE", "float"),
    ]


def test_an_empty_value_is_unset_unless_the_setting_keeps_it() -> None:
    @attrs.frozen(kw_only=True)
    class Folders(ProviderSettings):
        archive: str = setting(default="Archive", help="Unset: Archive.")
        aside: str = setting(default="Aside", keep_empty=True, help="Empty: none.")

    class P(FakePlugin):
        @hookimpl
        def register_ticket_systems(self, register: Register) -> None:
            register("folders", "x:y", settings=Folders)

    plugins = create_plugins(extra=[("p", P(FakeStore(), FakeTracker()))], entry_points=False)
    base = {"SHITSHOVELA_SOURCE": "fake", "SHITSHOVELA_TICKET_SYSTEM": "folders"}
    base["SHITSHOVELA_INSTANCE"] = "a"
    unset = Folders.of(load_config(plugins, base).ticket_settings)
    assert (unset.archive, unset.aside) == ("Archive", "Aside")
    empty = {**base, "SHITSHOVELA_FOLDERS__ARCHIVE": "", "SHITSHOVELA_FOLDERS__ASIDE": ""}
    emptied = Folders.of(load_config(plugins, empty).ticket_settings)
    assert (emptied.archive, emptied.aside) == ("Archive", "")
    assert build_settings(Folders, "folders", {"ASIDE": ""}).aside == ""
