"""Cloud and Data Center differ in one place each: the `Flavour` strategies, unit-tested.

Against the emulator, every provider test runs on both flavours; these tests pin
each difference down without a server and check that the provider itself
never branches on which Jira it talks to.
"""

from __future__ import annotations

import ast
import base64
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from shitshovela_jira import flavours, text
from shitshovela_jira.config import JiraSettings
from shitshovela_jira.flavours import CLOUD, DATA_CENTER

from shitshovela_core.settings import env_name

pytestmark = pytest.mark.unit

TICKETS = Path(__file__).resolve().parents[1] / "shitshovela_jira" / "tickets.py"


def settings(**values: Any) -> JiraSettings:
    return JiraSettings(url="https://jira.example.com", project="OPS", **values)


def env(name: str) -> str:
    return env_name("jira", name)


class FakeSearch:
    """A search endpoint answering from scripted pages, recording each request."""

    def __init__(self, *answers: Mapping[str, Any]) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, path: str, body: Mapping[str, Any]) -> Any:
        self.requests.append((path, dict(body)))
        return self.answers.pop(0)


def issues(*keys: str) -> list[dict[str, Any]]:
    return [{"key": key} for key in keys]


BODY = {"jql": "project = OPS", "maxResults": 2}


def test_names_and_path_prefixes() -> None:
    assert (CLOUD.name, CLOUD.api) == ("cloud", "/rest/api/3")
    assert (DATA_CENTER.name, DATA_CENTER.api) == ("datacenter", "/rest/api/2")
    assert flavours.FLAVOURS == {"cloud": CLOUD, "datacenter": DATA_CENTER}


@pytest.mark.parametrize(
    ("flavour", "expected"),
    [("auto", None), ("cloud", CLOUD), ("datacenter", DATA_CENTER)],
)
def test_configured_flavour(flavour: str, expected: flavours.Flavour | None) -> None:
    assert flavours.configured(settings(flavour=flavour)) is expected


def test_cloud_search_follows_the_next_page_token_until_the_last_page() -> None:
    post = FakeSearch(
        {"issues": issues("OPS-1", "OPS-2"), "nextPageToken": "t1", "isLast": False},
        {"issues": [*issues("OPS-3"), {"no": "key"}], "nextPageToken": "t2", "isLast": True},
    )
    pages = list(CLOUD.search(post, BODY))
    assert pages == [issues("OPS-1", "OPS-2"), issues("OPS-3")]
    assert post.requests == [
        ("/rest/api/3/search/jql", BODY),
        ("/rest/api/3/search/jql", {**BODY, "nextPageToken": "t1"}),
    ]


def test_cloud_search_stops_without_a_token() -> None:
    post = FakeSearch({"issues": issues("OPS-1"), "isLast": False})
    assert list(CLOUD.search(post, BODY)) == [issues("OPS-1")]


def test_data_center_search_pages_by_offset_until_the_total() -> None:
    post = FakeSearch(
        {"issues": issues("OPS-1", "OPS-2"), "total": 3},
        {"issues": issues("OPS-3"), "total": 3},
    )
    pages = list(DATA_CENTER.search(post, BODY))
    assert pages == [issues("OPS-1", "OPS-2"), issues("OPS-3")]
    assert post.requests == [
        ("/rest/api/2/search", {**BODY, "startAt": 0}),
        ("/rest/api/2/search", {**BODY, "startAt": 2}),
    ]


def test_data_center_search_stops_on_an_empty_page() -> None:
    post = FakeSearch({"issues": [], "total": 10})
    assert list(DATA_CENTER.search(post, BODY)) == [[]]
    assert len(post.requests) == 1


@pytest.mark.parametrize("flavour", [CLOUD, DATA_CENTER], ids=lambda f: f.name)
def test_search_asks_for_the_next_page_only_when_it_is_wanted(flavour: flavours.Flavour) -> None:
    more = {"issues": issues("OPS-1"), "nextPageToken": "t", "isLast": False, "total": 9}
    post = FakeSearch(more, more)
    pages: Iterator[list[dict[str, Any]]] = flavour.search(post, BODY)
    assert next(pages) == issues("OPS-1")
    assert len(post.requests) == 1


def test_text_formats() -> None:
    lines = ["Header", "", "body {noformat}"]
    assert CLOUD.render(lines) == text.adf(lines)
    assert DATA_CENTER.render(lines) == text.wiki(lines)
    assert CLOUD.comment("too large") == text.adf(["too large"])
    assert DATA_CENTER.comment("too large") == "too large"


def test_credentials_and_secrets() -> None:
    cloud = settings(email="a@example.com", api_token="TOKEN")
    datacenter = settings(pat="PAT-SECRET")
    assert CLOUD.has_credentials(cloud) and not CLOUD.has_credentials(datacenter)
    assert DATA_CENTER.has_credentials(datacenter) and not DATA_CENTER.has_credentials(cloud)
    assert CLOUD.credentials(env) == "SHITSHOVELA_JIRA__EMAIL and SHITSHOVELA_JIRA__API_TOKEN"
    assert DATA_CENTER.credentials(env) == "SHITSHOVELA_JIRA__PAT"
    pair = base64.b64encode(b"a@example.com:TOKEN").decode()
    assert set(flavours.secrets(cloud)) == {"TOKEN", "", pair}
    assert set(flavours.secrets(datacenter)) == {"", "PAT-SECRET"}


def test_the_provider_never_branches_on_the_flavour_name() -> None:
    """Each Cloud/Data Center difference lives in `flavours`: `tickets.py` names
    neither flavour (no ``"cloud"`` or ``"datacenter"`` anywhere in its code)."""
    names = {
        node.value
        for node in ast.walk(ast.parse(TICKETS.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert not names & {"cloud", "datacenter", "/rest/api/2", "/rest/api/3"}
