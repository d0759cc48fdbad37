"""Configuration: every kind of bad value, misspelt names, awkward secrets, durations."""

from __future__ import annotations

import pytest
from shitshovela_testkit.fakes import FakePlugin, FakeStore, FakeTracker

from shitshovela_core.config import load_config
from shitshovela_core.errors import ConfigError
from shitshovela_core.plugins import Plugins, create_plugins
from shitshovela_core.settings import Setting, Settings, parse_duration

pytestmark = pytest.mark.unit


class SettingsPlugin(FakePlugin):
    """The fakes, plus a ticket system declaring settings of every type."""

    from shitshovela_core.hookspecs import hookimpl as _hookimpl

    @_hookimpl
    def register_ticket_systems(self, register):  # type: ignore[no-untyped-def]
        register(
            "typed",
            "x:y",
            settings=[
                Setting("HOST", required=True, help="Server name."),
                Setting("PASSWORD", secret=True, required=True, help="Password."),
                Setting("TOKEN", secret=True, ascii_only=True, help="A bearer token."),
                Setting("PORT", "int", default=993, minimum=1, maximum=65535),
                Setting("VERIFY", "bool", default=True),
                Setting("TIMEOUT", "duration", default=30.0),
                Setting("MODE", "choice", default="delete", choices=("delete", "move")),
                Setting("LABELS", "list", default=[]),
                Setting("URL", "url", default="https://example.invalid"),
            ],
        )


@pytest.fixture
def plugins() -> Plugins:
    return create_plugins(
        extra=[("settings", SettingsPlugin(FakeStore(), FakeTracker()))], entry_points=False
    )


def env(**extra: str) -> dict[str, str]:
    base = {
        "SHITSHOVELA_SOURCE": "fake",
        "SHITSHOVELA_TICKET_SYSTEM": "typed",
        "SHITSHOVELA_INSTANCE": "alerts",
        "SHITSHOVELA_TYPED__HOST": "imap.example",
        "SHITSHOVELA_TYPED__PASSWORD": "pw-12345",
    }
    base.update(extra)
    return base


def problems(plugins: Plugins, environ: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(plugins, environ)
    return caught.value.problems


def test_a_good_configuration(plugins: Plugins) -> None:
    config = load_config(
        plugins,
        env(
            SHITSHOVELA_TYPED__PORT="143",
            SHITSHOVELA_TYPED__VERIFY="false",
            SHITSHOVELA_TYPED__TIMEOUT="2m",
            SHITSHOVELA_TYPED__MODE="MOVE",
            SHITSHOVELA_TYPED__LABELS='["a", "b c"]',
            SHITSHOVELA_MAX_RUNTIME="15m",
            SHITSHOVELA_MAX_TICKETS="7",
        ),
    )
    assert config.max_runtime == 900.0
    assert config.max_tickets == 7
    settings = config.ticket_settings
    assert settings["PORT"] == 143
    assert settings["VERIFY"] is False
    assert settings["TIMEOUT"] == 120.0
    assert settings["MODE"] == "move"
    assert settings["LABELS"] == ["a", "b c"]
    assert settings["RATE"] == 5.0  # the RATE every provider gets, with its default
    assert config.secrets == ("pw-12345",)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "SHITSHOVELA_TYPED__PORT",
            "imap",
            "SHITSHOVELA_TYPED__PORT='imap' is invalid: expected an integer",
        ),
        (
            "SHITSHOVELA_TYPED__PORT",
            "70000",
            "SHITSHOVELA_TYPED__PORT='70000' is invalid: must be at most 65535",
        ),
        ("SHITSHOVELA_TYPED__VERIFY", "maybe", "is invalid: expected true or false"),
        (
            "SHITSHOVELA_TYPED__TIMEOUT",
            "5 minutes",
            "is invalid: expected seconds or a number with s, m or h",
        ),
        ("SHITSHOVELA_TYPED__MODE", "shred", "is invalid: expected one of delete, move"),
        ("SHITSHOVELA_TYPED__URL", "not a url", "is invalid: expected a URL"),
        (
            "SHITSHOVELA_TYPED__RATE",
            "0",
            "SHITSHOVELA_TYPED__RATE='0' is invalid: must be at least 0.01",
        ),
        ("SHITSHOVELA_MAX_RUNTIME", "-5", "SHITSHOVELA_MAX_RUNTIME='-5' is invalid"),
        (
            "SHITSHOVELA_MAX_TICKETS",
            "0",
            "SHITSHOVELA_MAX_TICKETS='0' is invalid: must be at least 1",
        ),
        ("SHITSHOVELA_INSTANCE", "Has Space", "SHITSHOVELA_INSTANCE='Has Space' is invalid"),
        ("SHITSHOVELA_LOG_FORMAT", "xml", "is invalid: expected one of auto, json, console"),
    ],
)
def test_each_kind_of_bad_value_names_the_variable(
    plugins: Plugins, name: str, value: str, expected: str
) -> None:
    found = problems(plugins, env(**{name: value}))
    assert len(found) == 1, found
    assert expected in found[0]
    assert found[0].startswith(name)


def test_missing_required_settings_are_all_reported(plugins: Plugins) -> None:
    found = problems(plugins, {"SHITSHOVELA_TICKET_SYSTEM": "typed"})
    text = "\n".join(found)
    for name in ("SOURCE", "INSTANCE", "TYPED__HOST", "TYPED__PASSWORD"):
        assert f"SHITSHOVELA_{name} is not set" in text


@pytest.mark.parametrize(
    ("misspelt", "closest"),
    [
        ("SHITSHOVELA_MAX_RUNTME", "SHITSHOVELA_MAX_RUNTIME"),
        ("SHITSHOVELA_TYPED__HOTS", "SHITSHOVELA_TYPED__HOST"),
        ("SHITSHOVELA_TICKETSYSTEM", "SHITSHOVELA_TICKET_SYSTEM"),
    ],
)
def test_misspelt_name_is_an_error_naming_the_closest(
    plugins: Plugins, misspelt: str, closest: str
) -> None:
    found = problems(plugins, env(**{misspelt: "1"}))
    assert found == [
        f"{misspelt} is not a setting of ShitShovela or of any installed plugin; "
        f"did you mean {closest}?"
    ]


def test_setting_of_an_unselected_provider_is_fine(plugins: Plugins) -> None:
    config = load_config(plugins, env(SHITSHOVELA_FAKE__RATE="2"))
    assert config.ticket_system == "typed"


def test_unknown_provider_names_what_is_installed(plugins: Plugins) -> None:
    found = problems(plugins, env(SHITSHOVELA_SOURCE="imap"))
    assert found == [
        "SHITSHOVELA_SOURCE=imap: no source called 'imap' is installed (installed: fake)"
    ]


AWKWARD = [  # each a TOML or dynaconf value, or an odd string, of at least 8 characters
    "12345678",
    "@bool true",
    "@json null",
    "123456e3",
    "0x1F2E3D",
    "[x, y, z]",
    '"quoted"',
    "@int 1234",
    "@format {env[HOME]}",
    "spaced inside",
    "ünï©ødé-1",
    "a=b;c=d;",
    "'single'",
    "#hash-tag",
]


@pytest.mark.parametrize("secret", AWKWARD)
def test_secrets_stay_the_exact_string(plugins: Plugins, secret: str) -> None:
    config = load_config(plugins, env(SHITSHOVELA_TYPED__PASSWORD=secret))
    assert config.ticket_settings["PASSWORD"] == secret
    assert type(config.ticket_settings["PASSWORD"]) is str
    assert secret in config.secrets


@pytest.mark.parametrize("host", ["12345", "0x1F", "true"])
def test_plain_strings_stay_strings_too(plugins: Plugins, host: str) -> None:
    config = load_config(plugins, env(SHITSHOVELA_TYPED__HOST=host))
    assert config.ticket_settings["HOST"] == host


def test_bad_secret_value_is_not_echoed(plugins: Plugins) -> None:
    class Strict(SettingsPlugin):
        from shitshovela_core.hookspecs import hookimpl as _hookimpl

        @_hookimpl
        def register_ticket_systems(self, register):  # type: ignore[no-untyped-def]
            def no_spaces(value: str) -> None:
                if " " in value:
                    raise ValueError("must not contain spaces")

            register("strict", "x:y", settings=[Setting("TOKEN", secret=True, check=no_spaces)])

    strict = create_plugins(extra=[("s", Strict(FakeStore(), FakeTracker()))], entry_points=False)
    found = problems(
        strict, env(SHITSHOVELA_TICKET_SYSTEM="strict", SHITSHOVELA_STRICT__TOKEN="hunter2 x")
    )
    text = "\n".join(found)
    assert "SHITSHOVELA_STRICT__TOKEN is invalid: must not contain spaces" in text
    assert "hunter2" not in text


LINE_BREAK = "it ends with a line break, as a secret made from a file with a final newline does: "
SPACE = "it starts or ends with white space: set it without"
INVISIBLE = "it holds a control or invisible character"
SHORT = "it is shorter than 8 characters: too short to be a secret"


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("tok-from-a-file\n", LINE_BREAK),
        ("tok-from-a-file\r\n", LINE_BREAK),
        (" tok-pasted-with-a-space", SPACE),
        ("tok-pasted-with-a-tab\t", SPACE),
        ("\u00a0tok-after-a-no-break-space", SPACE),
        ("tok-with\na-line-break", INVISIBLE),
        ("tok-with\x1b-escape", INVISIBLE),
        ("tok-with\x7f-delete", INVISIBLE),
        ("tok-with\u200b-zero-width-space", INVISIBLE),
        ("\ufefftok-after-a-byte-order-mark", INVISIBLE),
        ("info", SHORT),
        ("a", SHORT),
        ("1234567", SHORT),
    ],
    ids=repr,
)
def test_a_secret_that_cannot_be_sent_as_set_or_masked_safely_is_refused(
    plugins: Plugins, secret: str, reason: str
) -> None:
    """Named, with how to fix it, and never shown, in any form (I10)."""
    found = problems(plugins, env(SHITSHOVELA_TYPED__PASSWORD=secret))
    assert len(found) == 1
    assert found[0].startswith(f"SHITSHOVELA_TYPED__PASSWORD is invalid: {reason}")
    assert len(secret) < 8 or secret.strip() not in found[0]
    if reason == LINE_BREAK:
        assert "printf %s" in found[0]


def test_a_secret_sent_in_a_header_must_be_ascii(plugins: Plugins) -> None:
    secret = "tökén-for-a-header"
    found = problems(plugins, env(SHITSHOVELA_TYPED__TOKEN=secret))
    assert found == [
        "SHITSHOVELA_TYPED__TOKEN is invalid: it holds a character that is not ASCII, and "
        "it is sent in an HTTP header, which carries ASCII only: check that the right "
        "value was copied"
    ]
    # Where it is not sent in a header, the same value is used as set.
    assert (
        load_config(plugins, env(SHITSHOVELA_TYPED__PASSWORD=secret)).ticket_settings["PASSWORD"]
        == secret
    )


def test_the_secret_rules_hold_for_python_values_too() -> None:
    """`build_settings` and `fake_context` check values given in Python the same way."""
    from shitshovela_core.envsettings import build_settings
    from shitshovela_core.settings import settings_class

    cls = settings_class("typed", [Setting("TOKEN", secret=True, ascii_only=True)], (Settings,))
    with pytest.raises(ConfigError, match="SHITSHOVELA_TYPED__TOKEN is invalid: it ends with"):
        build_settings(cls, "typed", {"TOKEN": "from-a-file\n"})
    assert build_settings(cls, "typed", {"TOKEN": "exactly-this"})["TOKEN"] == "exactly-this"


def test_a_multiline_secret_may_hold_line_breaks_and_nothing_else() -> None:
    """Key material (``multiline=True``: a PEM private key, a JSON key) keeps its lines,
    its final line break and the white space of its format; every other rule still
    holds, and a one-line secret still refuses line breaks."""
    from shitshovela_core.envsettings import build_settings
    from shitshovela_core.settings import settings_class

    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\n"
    cls = settings_class("typed", [Setting("KEY", secret=True, multiline=True)], (Settings,))
    assert build_settings(cls, "typed", {"KEY": pem})["KEY"] == pem
    assert build_settings(cls, "typed", {"KEY": pem.replace("\n", "\r\n")})["KEY"].count("\r")
    for fine in (" " + pem, pem.replace("MIIE", "MI\tIE"), pem + " "):
        assert build_settings(cls, "typed", {"KEY": fine})["KEY"] == fine
    for bad in (pem.replace("MIIE", "MI\x1bIE"), pem.replace("MIIE", "MI\u200bIE"), "short\n"):
        with pytest.raises(ConfigError, match="SHITSHOVELA_TYPED__KEY is invalid"):
            build_settings(cls, "typed", {"KEY": bad})
    one_line = settings_class("typed", [Setting("KEY", secret=True)], (Settings,))
    with pytest.raises(ConfigError, match="control or invisible character"):
        build_settings(one_line, "typed", {"KEY": pem.rstrip()})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("15m", 900.0), ("1h", 3600.0), ("1.5m", 90.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "1d", "m", "-1m", "5 minutes"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected|more than zero"):
        parse_duration(text)


@pytest.mark.parametrize("runtime", ["99999999999h", "0.0001s", "2.9", "169h", "9" * 400])
def test_an_absurd_max_runtime_is_refused_naming_the_range(plugins: Plugins, runtime: str) -> None:
    found = problems(plugins, env(SHITSHOVELA_MAX_RUNTIME=runtime))
    assert found == [
        f"SHITSHOVELA_MAX_RUNTIME={runtime!r} is invalid: use 3s to 168h (a week): below "
        "that a run cannot get started, above it is no batch run"
    ]


@pytest.mark.parametrize(("runtime", "seconds"), [("3", 3.0), ("168h", 604800.0), ("10m", 600.0)])
def test_max_runtime_at_the_ends_of_its_range(
    plugins: Plugins, runtime: str, seconds: float
) -> None:
    assert load_config(plugins, env(SHITSHOVELA_MAX_RUNTIME=runtime)).max_runtime == seconds


def test_a_value_that_is_not_utf8_is_a_config_error(plugins: Plugins) -> None:
    bad = b"pa\xffss".decode("utf-8", "surrogateescape")  # how os.environ holds such bytes
    found = problems(plugins, env(SHITSHOVELA_TYPED__PASSWORD=bad))
    assert found == ["SHITSHOVELA_TYPED__PASSWORD is not valid UTF-8: set it to UTF-8 text"]


@pytest.mark.parametrize(
    ("url", "shown"),
    [("https//user:hunter2@host", "***@host"), ("http:/user:hunter2@gw/x", "***@gw/x")],
)
def test_a_bad_url_is_echoed_without_its_credentials(
    plugins: Plugins, url: str, shown: str
) -> None:
    found = problems(plugins, env(SHITSHOVELA_TYPED__URL=url))
    assert found == [
        f"SHITSHOVELA_TYPED__URL={shown!r} is invalid: expected a URL such as https://host.example"
    ]


# -- settings groups (register_settings) ---------------------------------------------


class Observer:
    """A plugin that is not a provider, declaring a settings group."""

    from shitshovela_core.hookspecs import hookimpl as _hookimpl

    def __init__(self, group: str = "metrics") -> None:
        self.group = group

    @_hookimpl
    def register_settings(self, register):  # type: ignore[no-untyped-def]
        register(
            self.group,
            settings=[
                Setting("URL", "url", help="Where to push."),
                Setting("TIMEOUT", "duration", default=5.0, help="Longest push."),
                Setting("PASSWORD", secret=True, help="Basic-auth password."),
            ],
            help="Pushes metrics.",
        )


def with_observer(*observers: tuple[str, object]) -> Plugins:
    return create_plugins(
        extra=[("settings", SettingsPlugin(FakeStore(), FakeTracker())), *observers],
        entry_points=False,
    )


def test_settings_groups_are_read_validated_and_their_secrets_collected() -> None:
    plugins = with_observer(("observer", Observer()))
    config = load_config(
        plugins,
        env(
            SHITSHOVELA_METRICS__URL="http://gw.example:9091",
            SHITSHOVELA_METRICS__TIMEOUT="2s",
            SHITSHOVELA_METRICS__PASSWORD="12345678",
        ),
    )
    assert {name: group.as_dict() for name, group in config.group_settings.items()} == {
        "metrics": {"URL": "http://gw.example:9091", "TIMEOUT": 2.0, "PASSWORD": "12345678"}
    }
    assert "12345678" in config.secrets
    defaults = load_config(plugins, env()).group_settings["metrics"].as_dict()
    assert defaults == {"URL": None, "TIMEOUT": 5.0, "PASSWORD": None}


def test_bad_group_settings_are_reported_with_the_rest() -> None:
    plugins = with_observer(("observer", Observer()))
    found = problems(
        plugins,
        env(
            SHITSHOVELA_METRICS__URL="gw.example",
            SHITSHOVELA_METRICS__TIMEOUT="soon",
            SHITSHOVELA_METRICS__TIMEOUR="5",
            SHITSHOVELA_TYPED__PORT="x",
        ),
    )
    text = "\n".join(found)
    assert len(found) == 4, found
    assert "SHITSHOVELA_METRICS__URL='gw.example' is invalid: expected a URL" in text
    assert "SHITSHOVELA_METRICS__TIMEOUT='soon' is invalid" in text
    assert "SHITSHOVELA_METRICS__TIMEOUR is not a setting" in text
    assert "did you mean SHITSHOVELA_METRICS__TIMEOUT?" in text


def test_a_group_named_like_a_provider_is_an_error_naming_both_plugins() -> None:
    plugins = with_observer(("observer", Observer("typed")))
    found = problems(plugins, env())
    assert found == [
        "settings group 'typed' of plugin 'observer' has the name of the ticket system 'typed' "
        "of plugin 'settings': both would read SHITSHOVELA_TYPED__*; uninstall one or block it "
        "with SHITSHOVELA_BLOCK_PLUGINS"
    ]


def test_a_group_registered_twice_is_an_error_naming_both_plugins() -> None:
    plugins = with_observer(("one", Observer()), ("two", Observer()))
    found = problems(plugins, env())
    assert len(found) == 1
    assert "settings group 'metrics' is registered by two plugins (" in found[0]
    assert "one" in found[0]
    assert "two" in found[0]


def test_a_bad_group_name_marks_the_plugin_broken_and_drops_its_group() -> None:
    plugins = with_observer(("observer", Observer("Bad-Name")))
    assert plugins.settings_groups == {}
    assert "settings group 'Bad-Name'" in plugins.infos["observer"].error
    assert load_config(plugins, env()).group_settings == {}


def test_a_plugin_broken_elsewhere_loses_its_group() -> None:
    class HalfBroken(Observer):
        from shitshovela_core.hookspecs import hookimpl as _hookimpl

        @_hookimpl
        def register_sources(self, register):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    plugins = with_observer(("half", HalfBroken()))
    assert plugins.infos["half"].error == "RuntimeError: boom"
    assert plugins.settings_groups == {}
