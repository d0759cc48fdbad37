"""The plugin loader: entry points one at a time, broken plugins isolated, lazy imports."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from plugin_dists import install_dist

from shitshovela_core.config import load_config
from shitshovela_core.errors import ConfigError, PluginError
from shitshovela_core.plugins import create_plugins

pytestmark = pytest.mark.unit

GOOD = """
import shitshovela_core

@shitshovela_core.hookimpl
def register_sources(register):
    register("lazy", "lazy_heavy:make", help="A source with a heavy client library.")

@shitshovela_core.hookimpl
def register_ticket_systems(register):
    register("lazyts", "lazy_heavy:make_ts", help="A ticket system.")
"""

HEAVY = """
import lazy_client_library  # the "heavy" import a plugin must defer
from shitshovela_testkit.fakes import FakeSource, FakeStore, FakeTicketSystem, FakeTracker

def make(context):
    return FakeSource(context, FakeStore())

def make_ts(context):
    return FakeTicketSystem(context, FakeTracker())
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path where tests install throwaway plugin distributions."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    for name in [k for k in sys.modules if k.startswith(("lazy_", "broken_", "dup_", "typo_"))]:
        monkeypatch.delitem(sys.modules, name)
    for key in [k for k in __import__("os").environ if k.startswith("SHITSHOVELA_")]:
        monkeypatch.delenv(key)
    return root


def _env(**extra: str) -> dict[str, str]:
    base = {
        "SHITSHOVELA_SOURCE": "lazy",
        "SHITSHOVELA_TICKET_SYSTEM": "lazyts",
        "SHITSHOVELA_INSTANCE": "t1",
    }
    base.update(extra)
    return base


def test_provider_module_is_imported_only_when_built(site: Path) -> None:
    install_dist(
        site,
        "shsh-lazy",
        {"lazy": "lazy_plugin"},
        {"lazy_plugin": GOOD, "lazy_heavy": HEAVY, "lazy_client_library": "X = 1\n"},
    )
    plugins = create_plugins()
    assert "lazy" in plugins.sources
    assert "lazyts" in plugins.ticket_systems
    load_config(plugins, _env())
    assert "lazy_client_library" not in sys.modules
    assert "lazy_heavy" not in sys.modules
    factory = plugins.sources["lazy"].load()
    assert callable(factory)
    assert "lazy_client_library" in sys.modules


def test_broken_unselected_plugin_is_a_warning_only(site: Path) -> None:
    install_dist(
        site,
        "shsh-lazy",
        {"lazy": "lazy_plugin"},
        {"lazy_plugin": GOOD, "lazy_heavy": HEAVY, "lazy_client_library": ""},
    )
    install_dist(
        site,
        "shsh-broken",
        {"broken": "broken_plugin"},
        {"broken_plugin": "raise RuntimeError('boom at import')\n"},
    )
    plugins = create_plugins()
    assert [b.name for b in plugins.broken] == ["broken"]
    assert "RuntimeError: boom at import" in plugins.broken[0].error
    config = load_config(plugins, _env())
    assert config.source == "lazy"


def test_broken_selected_plugin_names_the_plugin_and_the_error(site: Path) -> None:
    install_dist(
        site,
        "shsh-broken",
        {"broken": "broken_plugin"},
        {"broken_plugin": "raise RuntimeError('boom at import')\n"},
    )
    plugins = create_plugins()
    with pytest.raises(ConfigError) as caught:
        load_config(plugins, _env(SHITSHOVELA_SOURCE="broken"))
    text = str(caught.value)
    assert "SHITSHOVELA_SOURCE=broken" in text
    assert "plugin 'broken' failed to load: RuntimeError: boom at import" in text
    assert "SHITSHOVELA_BLOCK_PLUGINS" in text


def test_blocked_plugin_is_not_imported(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_dist(
        site,
        "shsh-broken",
        {"broken": "broken_plugin"},
        {"broken_plugin": "raise RuntimeError('boom at import')\n"},
    )
    monkeypatch.setenv("SHITSHOVELA_BLOCK_PLUGINS", "shsh-broken")
    plugins = create_plugins()
    assert plugins.broken == []
    assert plugins.infos["broken"].blocked


def test_two_plugins_registering_one_name_is_a_clear_error(site: Path) -> None:
    twin = """
import shitshovela_core

@shitshovela_core.hookimpl
def register_sources(register):
    register("twin", "x:y")
"""
    install_dist(site, "shsh-dup-one", {"dup_one": "dup_one"}, {"dup_one": twin})
    install_dist(site, "shsh-dup-two", {"dup_two": "dup_two"}, {"dup_two": twin})
    plugins = create_plugins()
    with pytest.raises(PluginError) as caught:
        plugins.select("source", "twin", "SHITSHOVELA_SOURCE")
    assert "dup_one" in str(caught.value)
    assert "dup_two" in str(caught.value)


def test_misspelt_hook_marks_the_plugin_broken(site: Path) -> None:
    typo = """
import shitshovela_core

@shitshovela_core.hookimpl
def register_source(register):
    register("typo", "x:y")
"""
    install_dist(site, "shsh-typo", {"typo": "typo_plugin"}, {"typo_plugin": typo})
    plugins = create_plugins()
    assert [b.name for b in plugins.broken] == ["typo"]
    assert "register_source" in plugins.broken[0].error
    assert "typo" not in plugins.sources


def test_failing_registration_hook_marks_the_plugin_broken(site: Path) -> None:
    failing = """
import shitshovela_core

@shitshovela_core.hookimpl
def register_sources(register):
    raise ValueError("cannot register")
"""
    install_dist(site, "shsh-broken-reg", {"broken_reg": "broken_reg"}, {"broken_reg": failing})
    plugins = create_plugins()
    assert "ValueError: cannot register" in plugins.infos["broken_reg"].error


def test_selected_provider_whose_factory_fails_is_a_plugin_error(site: Path) -> None:
    import structlog

    from shitshovela_core.deadline import Budget
    from shitshovela_core.runner import build_providers

    install_dist(
        site,
        "shsh-lazy",
        {"lazy": "lazy_plugin"},
        {"lazy_plugin": GOOD, "lazy_heavy": "raise ImportError('no client library')\n"},
    )
    plugins = create_plugins()
    config = load_config(plugins, _env())
    with pytest.raises(PluginError) as caught:
        build_providers(plugins, config, Budget(60), structlog.get_logger())
    assert "plugin 'lazy'" in str(caught.value)
    assert "ImportError: no client library" in str(caught.value)
