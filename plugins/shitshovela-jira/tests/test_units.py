"""Unit tests without a server: JQL quoting, summaries, labels, descriptions, settings."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shitshovela_jira import jql, text
from shitshovela_jira.config import JiraSettings, check_label, parse_map
from shitshovela_jira_emulator.jql import Clause, parse, tokenize
from shitshovela_jira_emulator.render import adf_problem, adf_text

from shitshovela_core.envsettings import build_settings
from shitshovela_core.errors import ConfigError
from shitshovela_core.settings import settings_of

pytestmark = pytest.mark.unit

SETTINGS = settings_of(JiraSettings)


def jira_settings(values: dict[str, str]) -> JiraSettings:
    return build_settings(JiraSettings, "jira", values)


AWKWARD = ['"', "'", "\\", "OR", "AND labels = x", 'a" OR "b', "\n\t\r", "\x00\x1f\x7f", ""]


# -- JQL -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", AWKWARD)
def test_quote_awkward_values_stay_one_string(value: str) -> None:
    tokens = tokenize(f"labels = {jql.quote(value)}")
    assert [t.kind for t in tokens] == ["WORD", "OP", "STRING", "EOF"]
    assert tokens[2].text == value


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_quote_round_trips_any_text_through_jira_jql_rules(value: str) -> None:
    where = parse(f"project = OPS AND labels = {jql.quote(value)} ORDER BY key").where
    assert where is not None and not isinstance(where, Clause)
    clauses = where.items  # type: ignore[union-attr]
    assert len(clauses) == 2
    assert [o.text for o in clauses[1].operands] == [value]


def test_unquoted_values_would_have_changed_the_query() -> None:
    """What `quote` prevents: the same value pasted unquoted adds an OR."""
    hostile = "x OR project = OPS"
    naive = parse(f"labels = {hostile}").where
    assert not isinstance(naive, Clause)
    safe = parse(f"labels = {jql.quote(hostile)}").where
    assert isinstance(safe, Clause)


def test_queries_quote_project_and_label() -> None:
    assert jql.flagged("OPS", "shitshovela-inprogress-a") == (
        'project = "OPS" AND labels = "shitshovela-inprogress-a" ORDER BY key ASC'
    )
    assert jql.newest("OPS") == 'project = "OPS" ORDER BY key DESC'


# -- summary and labels --------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Disk full", "Disk full"),
        ("  two\nlines\r\n\tand tabs  ", "two lines and tabs"),
        ("", text.NO_TITLE),
        ("\x00\x01", text.NO_TITLE),
    ],
)
def test_summary_is_one_clean_line(title: str, expected: str) -> None:
    assert text.summary(title) == (expected, False)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=700))
def test_summary_is_always_valid_for_jira(title: str) -> None:
    summary, cut = text.summary(title)
    assert summary.strip() and "\n" not in summary and "\r" not in summary
    assert text.jira_length(summary) <= 255
    assert cut == summary.endswith(text.ELLIPSIS) or summary == text.ELLIPSIS


def test_summary_counts_utf16_like_jira() -> None:
    summary, cut = text.summary("\U0001f600" * 200)  # 400 UTF-16 units
    assert cut and text.jira_length(summary) <= 255


def test_labels_are_made_valid() -> None:
    assert text.label("two words\there") == "two_words_here"
    assert text.label("   ") is None
    assert text.label("x" * 300) == "x" * 255
    check_label("fine-label")
    for bad in ("has space", "", "shitshovela-inprogress-x", "y" * 256):
        with pytest.raises(ValueError):  # noqa: PT011 - the message varies by case
            check_label(bad)


# -- descriptions --------------------------------------------------------------------


def test_adf_paragraphs_and_hard_breaks() -> None:
    doc = text.adf(["Header", "", "line 1", "  indented", "", "", "para 2"])
    assert adf_problem(doc) is None
    assert [p["type"] for p in doc["content"]] == ["paragraph"] * 3
    assert doc["content"][1]["content"] == [
        {"type": "text", "text": "line 1"},
        {"type": "hardBreak"},
        {"type": "text", "text": "  indented"},
    ]
    assert text.adf([])["content"] == []


def test_wiki_is_verbatim_in_noformat() -> None:
    markup = text.wiki(["h1. not a heading", "*not bold* {code} [link|x]", "{NoFormat}x"])
    assert markup.startswith("{noformat}\nh1. not a heading\n*not bold* {code}")
    assert markup.endswith("\n{noformat}")
    assert markup.count("{noformat}") == 2  # the one in the text was broken up
    assert "{\u200bNoFormat}x" in markup


@pytest.mark.parametrize("cloud", [True, False], ids=["adf", "wiki"])
@pytest.mark.parametrize("size", [10, 5000, 40000, 200000])
def test_description_fits_the_limit_and_says_so_when_cut(cloud: bool, size: int) -> None:
    body = ('Zeile mit Umlauten äöü and \U0001f600 "quotes" <tags> {noformat}\n' * size)[:size]
    render = text.adf if cloud else text.wiki
    value, cut = text.description(["Origin line"], body, limit=32767, render=render)
    measured = text.size_of(value)
    assert measured <= 32767
    rendered = adf_text(value) if cloud else str(value)
    assert "Origin line" in rendered
    assert cut == (size >= 40000)
    if cut:
        assert "cut by ShitShovela" in rendered
        assert text.FULL_TEXT_NAME in rendered
        assert measured > 32767 * 0.9 if not cloud else measured > 32767 * 0.8
    else:
        assert "cut by ShitShovela" not in rendered
    if cloud:
        assert adf_problem(value) is None
        json.dumps(value)


def test_description_with_a_header_too_long_still_fits() -> None:
    value, cut = text.description(["h" * 1000] * 40, "body", limit=2000, render=text.wiki)
    assert cut and text.size_of(value) <= 2000


# -- settings ------------------------------------------------------------------------


def test_every_setting_has_help_and_secrets_have_no_default() -> None:
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names))
    assert all(s.help for s in SETTINGS)
    assert {s.name for s in SETTINGS if s.secret} == {"API_TOKEN", "PAT"}
    assert all(s.default == "" for s in SETTINGS if s.secret)


def test_config_combinations() -> None:
    base = {"URL": "https://x.atlassian.net/", "PROJECT": "ops"}
    cloud = jira_settings({**base, "EMAIL": "a@b", "API_TOKEN": "SEKRET-1"})
    assert cloud.url == "https://x.atlassian.net" and cloud.project == "OPS"
    assert cloud.flavour == "auto" and cloud.index_lag == 60.0
    assert "SEKRET-1" not in repr(cloud)
    jira_settings({**base, "FLAVOUR": "datacenter", "PAT": "p-secret"})
    with pytest.raises(ConfigError) as caught:
        jira_settings({**base, "FLAVOUR": "cloud", "PAT": "p-secret"})
    assert "SHITSHOVELA_JIRA__EMAIL" in str(caught.value)
    with pytest.raises(ConfigError, match="SHITSHOVELA_JIRA__URL is not set"):
        jira_settings({"PROJECT": "OPS", "PAT": "p-secret"})
    assert parse_map(["a=Mail", " b = Net "]) == {"a": "Mail", "b": "Net"}
    with pytest.raises(ValueError, match="value=Name"):
        parse_map(["nope"])


@pytest.mark.parametrize(
    ("name", "raw", "ok"),
    [
        ("PROJECT", "OPS", True),
        ("PROJECT", "OPS-1", False),
        ("LABELS", "a,b", True),
        ("LABELS", '["a b"]', False),
        ("COMPONENT_MAP", "db=Databases", True),
        ("COMPONENT_MAP", "db", False),
        ("FLAVOUR", "Cloud", True),
        ("FLAVOUR", "server", False),
        ("INDEX_LAG", "0", True),
        ("INDEX_LAG", "-1", False),
        ("API_TOKEN", "12345678", True),
    ],
)
def test_settings_parse(name: str, raw: str, ok: bool) -> None:
    setting = next(s for s in SETTINGS if s.name == name)
    if ok:
        setting.parse(raw)
    else:
        with pytest.raises(ValueError):  # noqa: PT011 - messages differ per setting
            setting.parse(raw)


def test_secret_settings_stay_the_exact_string() -> None:
    token = next(s for s in SETTINGS if s.name == "API_TOKEN")
    assert token.parse("12345678") == "12345678"
    assert token.parse("0x1F2E3D") == "0x1F2E3D"
