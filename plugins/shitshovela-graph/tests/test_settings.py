"""The pure parts: settings and their checks, the scope, claims, page links, roles."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from shitshovela_graph.claims import UNREADABLE, claim_in, claim_property, claim_value, parse_claim
from shitshovela_graph.config import GRAPH_SCOPE, GraphSettings, graph_scope
from shitshovela_graph.diagnose import missing_permission
from shitshovela_graph.listing import _by_offset
from shitshovela_testkit.fakes import fake_context

from shitshovela_core import ConfigError
from shitshovela_core.settings import settings_of

pytestmark = pytest.mark.unit

BASE = {"MAILBOX": "Tickets@Contoso.com", "TOKEN_FROM": "static", "ACCESS_TOKEN": "x" * 40}


def built(**values: Any) -> GraphSettings:
    return GraphSettings.of(fake_context("graph", settings={**BASE, **values}).settings)


def problems(**values: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        fake_context("graph", settings={**BASE, **values})
    return info.value.problems


def test_defaults_and_the_scope() -> None:
    settings = built()
    assert settings.folder == "inbox" and settings.done == "delete"
    assert settings.set_aside_path == "ShitShovela-Set-Aside"
    assert settings.url == "https://graph.microsoft.com/v1.0"
    rate = next(s for s in settings_of(GraphSettings) if s.name == "RATE")
    assert rate.default == 10.0
    assert settings.scope == "graph://tickets@contoso.com/inbox"
    assert built(FOLDER="/Inbox/Support Desk/").scope == (
        "graph://tickets@contoso.com/Inbox/Support%20Desk"
    )
    assert settings.token_scope_or_default == GRAPH_SCOPE


def test_national_clouds_get_their_own_scope() -> None:
    assert graph_scope("https://graph.microsoft.us/v1.0") == "https://graph.microsoft.us/.default"
    assert graph_scope("https://microsoftgraph.chinacloudapi.cn/v1.0") == (
        "https://microsoftgraph.chinacloudapi.cn/.default"
    )
    assert graph_scope("http://127.0.0.1:8080/v1.0") == GRAPH_SCOPE
    assert built(TOKEN_SCOPE="https://x/.default").token_scope_or_default == "https://x/.default"


def test_what_spans_settings_is_checked_before_anything_is_contacted() -> None:
    found = problems(
        URL="http://graph.example.com/v1.0",
        DONE="move",
        SET_ASIDE_FOLDER="INBOX",
        FOLDER="Inbox",
    )
    assert any("SHITSHOVELA_GRAPH__URL must be an https:// URL" in p for p in found)
    assert any("DONE=move needs SHITSHOVELA_GRAPH__DONE_FOLDER" in p for p in found)
    assert any("SHITSHOVELA_GRAPH__SET_ASIDE_FOLDER='INBOX' is the folder" in p for p in found)
    google = problems(TOKEN_FROM="google", ACCESS_TOKEN="", SERVICE_ACCOUNT_KEY="")
    assert any("Microsoft identity platform only" in p for p in google)
    assert any("SHITSHOVELA_GRAPH__FOLDER" in p for p in problems(FOLDER="Inbox//Support"))
    assert any("SHITSHOVELA_GRAPH__MAILBOX" in p for p in problems(MAILBOX="two words"))
    assert any("TOKEN_FROM is not set" in p for p in problems(TOKEN_FROM="", ACCESS_TOKEN=""))
    assert built(URL="http://127.0.0.1:9/v1.0").url == "http://127.0.0.1:9/v1.0"


def test_claims_are_read_back_exactly_and_per_instance() -> None:
    at = datetime(2027, 1, 15, 8, 0, 0, 5, tzinfo=UTC)
    assert claim_value(at) == "2027-01-15T08:00:00.000005Z"
    assert parse_claim(claim_value(at)) == at
    assert parse_claim("garbage") == UNREADABLE
    prop = claim_property("alpha")
    assert prop.endswith("Name ShitShovela-Claim-alpha")
    rows = [{"id": prop.upper(), "value": claim_value(at)}]
    assert claim_in(rows, prop) == at, "ids compare without case"
    assert claim_in(rows, claim_property("beta")) is None
    assert claim_in([{"id": prop, "value": None}], prop) == UNREADABLE


def test_offset_links_are_told_from_cursors() -> None:
    assert _by_offset("https://graph.microsoft.com/v1.0/users/x/messages?%24top=10&%24skip=10")
    assert not _by_offset("https://graph.microsoft.com/v1.0/users/x/messages?%24skiptoken=abc")


def test_a_token_without_mail_readwrite_is_named_from_its_roles() -> None:
    assert missing_permission({}) is None, "an opaque token: Graph's answer decides"
    assert missing_permission({"roles": ["Mail.ReadWrite", "User.Read.All"]}) is None
    found = missing_permission({"roles": ["Mail.Read", "User.Read.All"]})
    assert found is not None and "carries Mail.Read but no Mail.ReadWrite" in found
    # No mail role at all: RBAC for Applications keeps the grant in Exchange. Graph decides.
    assert missing_permission({"appid": "x"}) is None
    assert missing_permission({"roles": ["User.Read.All"]}) is None
