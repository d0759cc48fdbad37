"""`fake_context` builds a provider's settings through the real validation, defaults included."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest
from shitshovela_testkit.fakes import FAKE_RATE, fake_context

from shitshovela_core.errors import ConfigError
from shitshovela_core.settings import EnvName, ProviderSettings, rate_setting, setting

pytestmark = pytest.mark.unit


@attrs.frozen(kw_only=True)
class TrackerSettings(ProviderSettings):
    """A plugin's settings class, as a plugin author writes it."""

    url: str = setting(required=True, help="Base URL.")
    page_size: int = setting(default=50, help="Issues per page.")
    component: str = setting(default="Mail", help="The component of every ticket.")
    rate: float = rate_setting(7.0)

    def problems(self, env: EnvName) -> Iterator[str]:
        """Pages hold 1 to 100 issues."""
        if not 1 <= self.page_size <= 100:
            yield f"{env('PAGE_SIZE')} must be 1 to 100"


def test_the_registered_defaults_are_applied() -> None:
    context = fake_context(
        "tracker", settings={"URL": "https://t.example"}, settings_class=TrackerSettings
    )
    settings = TrackerSettings.of(context.settings)
    assert (settings.url, settings.page_size, settings.component) == (
        "https://t.example",
        50,
        "Mail",
    )
    assert settings.rate == FAKE_RATE  # the one default fake_context overrides, documented


def test_values_are_parsed_as_from_the_environment() -> None:
    context = fake_context(
        "tracker",
        settings={"URL": "https://t.example", "PAGE_SIZE": "20", "RATE": "3"},
        settings_class=TrackerSettings,
    )
    settings = TrackerSettings.of(context.settings)
    assert (settings.page_size, settings.rate) == (20, 3.0)


def test_the_classes_own_checks_and_required_values_run() -> None:
    with pytest.raises(ConfigError) as caught:
        fake_context("tracker", settings={"PAGE_SIZE": 500}, settings_class=TrackerSettings)
    assert "SHITSHOVELA_TRACKER__URL" in "; ".join(caught.value.problems)
    with pytest.raises(ConfigError) as caught:
        fake_context(
            "tracker",
            settings={"URL": "https://t.example", "PAGE_SIZE": 500},
            settings_class=TrackerSettings,
        )
    assert caught.value.problems == ["SHITSHOVELA_TRACKER__PAGE_SIZE must be 1 to 100"]


def test_an_installed_plugins_defaults_are_found_by_name() -> None:
    """Without ``settings_class``, the class the installed plugin registered is used."""
    from shitshovela_jira.config import JiraSettings

    context = fake_context(
        "jira",
        settings={
            "URL": "https://jira.example",
            "PROJECT": "OPS",
            "EMAIL": "bot@example.com",
            "API_TOKEN": "t-secret",
        },
    )
    settings = JiraSettings.of(context.settings)
    defaults = JiraSettings(url="https://jira.example", project="OPS")  # type: ignore[call-arg]
    assert settings.issue_type == defaults.issue_type
    assert settings.index_lag == defaults.index_lag
    assert settings.probe_gap == defaults.probe_gap
