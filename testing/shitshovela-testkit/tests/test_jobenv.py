"""The job-environment builder: fragments laid over a clean copy of the caller's environment."""

from __future__ import annotations

import pytest
from shitshovela_testkit import jobenv

pytestmark = pytest.mark.unit


def test_the_callers_own_shitshovela_settings_never_leak_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHITSHOVELA_JIRA__API_TOKEN", "a developer's real token")
    monkeypatch.setenv("SHITSHOVELA_SOURCE", "imap")
    monkeypatch.setenv("KEEP_ME", "yes")
    env = jobenv.job_env(jobenv.core("t"))
    assert env["KEEP_ME"] == "yes"
    assert "SHITSHOVELA_JIRA__API_TOKEN" not in env
    assert "SHITSHOVELA_SOURCE" not in env


def test_fragments_compose_in_order_and_extra_wins() -> None:
    env = jobenv.job_env(
        jobenv.core("e2e", max_runtime=60, MAX_TICKETS=5),
        jobenv.jira("http://127.0.0.1:1", email="e@example.com", api_token="t", INDEX_LAG=2),
        jobenv.s3("http://127.0.0.1:2", "b", access_key_id="A", secret_access_key="S", RATE=200),
        SHITSHOVELA_MAX_RUNTIME="30m",
    )
    shitshovela = {k: v for k, v in env.items() if k.startswith("SHITSHOVELA_")}
    assert shitshovela == {
        "SHITSHOVELA_INSTANCE": "e2e",
        "SHITSHOVELA_MAX_RUNTIME": "30m",
        "SHITSHOVELA_LOG_FORMAT": "json",
        "SHITSHOVELA_MAX_TICKETS": "5",
        "SHITSHOVELA_TICKET_SYSTEM": "jira",
        "SHITSHOVELA_JIRA__URL": "http://127.0.0.1:1",
        "SHITSHOVELA_JIRA__FLAVOUR": "cloud",
        "SHITSHOVELA_JIRA__EMAIL": "e@example.com",
        "SHITSHOVELA_JIRA__API_TOKEN": "t",
        "SHITSHOVELA_JIRA__PROJECT": "OPS",
        "SHITSHOVELA_JIRA__INDEX_LAG": "2",
        "SHITSHOVELA_SOURCE": "s3",
        "SHITSHOVELA_S3__BUCKET": "b",
        "SHITSHOVELA_S3__ENDPOINT_URL": "http://127.0.0.1:2",
        "SHITSHOVELA_S3__ACCESS_KEY_ID": "A",
        "SHITSHOVELA_S3__SECRET_ACCESS_KEY": "S",
        "SHITSHOVELA_S3__RATE": "200",
    }


def test_imap_and_any_provider_by_setting_name() -> None:
    assert jobenv.imap("127.0.0.1", 143, "u", "p w", SET_ASIDE_FOLDER="SetAside") == {
        "SHITSHOVELA_SOURCE": "imap",
        "SHITSHOVELA_IMAP__HOST": "127.0.0.1",
        "SHITSHOVELA_IMAP__PORT": "143",
        "SHITSHOVELA_IMAP__SECURITY": "plain",
        "SHITSHOVELA_IMAP__USERNAME": "u",
        "SHITSHOVELA_IMAP__PASSWORD": "p w",
        "SHITSHOVELA_IMAP__SET_ASIDE_FOLDER": "SetAside",
    }
    assert jobenv.ticket_system("httptickets", url="http://x", TOKEN=None) == {
        "SHITSHOVELA_TICKET_SYSTEM": "httptickets",
        "SHITSHOVELA_HTTPTICKETS__URL": "http://x",
    }
    assert jobenv.provider("prometheus", PUSHGATEWAY="http://g") == {
        "SHITSHOVELA_PROMETHEUS__PUSHGATEWAY": "http://g"
    }
    assert jobenv.env_name("s3", "prefix") == "SHITSHOVELA_S3__PREFIX"


def test_the_core_reads_what_the_builder_writes() -> None:
    """The names are the ones the core's configuration loading understands."""
    from shitshovela_testkit.fakes import FakePlugin, FakeStore, FakeTracker

    from shitshovela_core.config import load_config
    from shitshovela_core.plugins import create_plugins

    env = jobenv.job_env(
        jobenv.core("named", max_runtime="90s", MAX_TICKETS=7),
        jobenv.source("fake"),
        jobenv.ticket_system("fake"),
    )
    plugins = create_plugins(
        extra=[("fakes", FakePlugin(FakeStore(), FakeTracker()))], entry_points=False
    )
    config = load_config(plugins, env)
    assert (config.instance, config.source, config.ticket_system) == ("named", "fake", "fake")
    assert (config.max_runtime, config.max_tickets) == (90.0, 7)
