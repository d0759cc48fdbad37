"""Signing in as an app (client credentials) and ``check`` naming the fix for each usual failure.

The testkit's token endpoint stands in for Entra ID; the Graph emulator trusts its
signing key, so its tokens are checked as Graph checks them (audience, issuer,
tenant, lifetime, roles). Each failure an operator usually meets is tested for
the one line `check` prints: a token without ``Mail.ReadWrite`` (said from the
token's ``roles`` before Graph is asked anything), an application access policy
or RBAC scope that leaves the mailbox out, a wrong mailbox, a user without an
Exchange Online mailbox, a folder that does not exist, a token Graph refuses.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from graphkit import cli_env, graph_source, mail, run_cli, tickets
from shitshovela_graph_emulator import DEFAULT_MAILBOX, GraphEmulator, MailboxConfig, SigningKey
from shitshovela_testkit.fakes import FakeTracker, fake_tickets
from shitshovela_testkit.faultproxy import Answer, Script
from shitshovela_testkit.runs import run_once
from shitshovela_testkit.tokenendpoint import TENANT_ID, MicrosoftApp, TokenEndpoint

from shitshovela_core import Unreachable

pytestmark = pytest.mark.servers

#: A client secret's value (a TOML number, a '~').
SECRET = "1e3~Qx8Q~graph-secret-Value.f00"
GRAPH_401 = (
    b'{"error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired '
    b'or is not yet valid."}}'
)


@pytest.fixture
def endpoint(stand_in: Callable[[Any], Any]) -> TokenEndpoint:
    found: TokenEndpoint = stand_in(TokenEndpoint())
    return found


def app_settings(
    graph: GraphEmulator, endpoint: TokenEndpoint, roles: tuple[str, ...] = ("Mail.ReadWrite",)
) -> tuple[MicrosoftApp, dict[str, Any]]:
    """An app registered at the stand-in (a client secret, ``roles`` consented) whose tokens
    the emulator trusts, and the token settings that sign in as it."""
    graph.trust_key(endpoint.public_key_pem, endpoint.kid)
    app = endpoint.register_app(secret=SECRET, roles=roles)
    return app, {
        "TOKEN_FROM": "microsoft",
        "ACCESS_TOKEN": "",
        "TENANT": TENANT_ID,
        "CLIENT_ID": app.client_id,
        "CLIENT_SECRET": SECRET,
        "AUTHORITY": endpoint.authority,
    }


def refusal(graph: GraphEmulator, **settings: Any) -> str:
    with pytest.raises(Unreachable) as info:
        graph_source(graph, **settings).check()
    return str(info.value)


def test_check_and_run_sign_in_with_client_credentials(
    graph: GraphEmulator, endpoint: TokenEndpoint, tmp_path: Path
) -> None:
    _, settings = app_settings(graph, endpoint)
    graph.seed_message(mail("Signed in"))
    checked = run_cli("check", cli_env(graph, tmp_path, **settings))
    assert checked.returncode == 0, checked.output
    assert "token_checked" in checked.stdout and "Mail.ReadWrite" in checked.stdout
    ran = run_cli("run", cli_env(graph, tmp_path, **settings))
    assert ran.returncode == 0, ran.output
    assert [t["title"] for t in tickets(tmp_path)] == ["Signed in"]
    sent = [dict(p.split("=", 1) for p in r.body.decode().split("&")) for r in endpoint.requests]
    assert len(sent) == 2, "one token a run"
    assert {s["scope"] for s in sent} == {"https%3A%2F%2Fgraph.microsoft.com%2F.default"}
    issued = [*endpoint.tokens(), SECRET]
    assert not [s for s in issued if s in checked.output + ran.output], "no secret printed"


def test_a_token_without_mail_readwrite_is_named_before_graph_is_asked(
    graph: GraphEmulator, endpoint: TokenEndpoint
) -> None:
    _, settings = app_settings(graph, endpoint, roles=("Mail.Read",))
    message = refusal(graph, **settings)
    assert "Mail.ReadWrite application permission is missing or not admin-consented" in message
    assert "Grant admin consent" in message and "carries Mail.Read but no" in message
    assert graph.requests == [], "said from the token's roles, before anything else"


def test_a_run_whose_token_cannot_write_stops_before_anything_changes(
    graph: GraphEmulator, endpoint: TokenEndpoint, tmp_path: Path
) -> None:
    _, settings = app_settings(graph, endpoint, roles=("Mail.Read",))
    seeded = graph.seed_message(mail("Read only"))
    result = run_cli("run", cli_env(graph, tmp_path, **settings))
    assert result.returncode == 3, result.output
    assert "Mail.ReadWrite" in result.last()["reason"]
    assert tickets(tmp_path) == [] and graph.message(seeded.id).extended == {}


def test_an_access_policy_that_leaves_the_mailbox_out_says_how_to_add_it(
    graph: GraphEmulator, endpoint: TokenEndpoint
) -> None:
    app, settings = app_settings(graph, endpoint)
    graph.set_policy(app.client_id, ["someone-else@contoso.onmicrosoft.com"])
    message = refusal(graph, **settings)
    assert "[RAOP]" in message
    assert f"keeps app {app.client_id} out of {DEFAULT_MAILBOX}" in message
    assert "New-ManagementRoleAssignment -App" in message
    assert f"Add-DistributionGroupMember -Identity <group> -Member {DEFAULT_MAILBOX}" in message


def test_a_wrong_mailbox_and_a_user_without_one_are_named(make_graph: Any) -> None:
    graph: GraphEmulator = make_graph(
        mailboxes=[
            DEFAULT_MAILBOX,
            MailboxConfig("nolicence@contoso.onmicrosoft.com", enabled=False),
        ]
    )
    message = refusal(graph, MAILBOX="nobody@contoso.onmicrosoft.com")
    assert "there is no user nobody@contoso.onmicrosoft.com" in message
    assert "check SHITSHOVELA_GRAPH__MAILBOX" in message
    message = refusal(graph, MAILBOX="nolicence@contoso.onmicrosoft.com")
    assert "has no Exchange Online mailbox" in message and "SHITSHOVELA_GRAPH__MAILBOX" in message


def test_a_folder_that_does_not_exist_is_named(graph: GraphEmulator) -> None:
    message = refusal(graph, FOLDER="Inbox/Nope")
    assert "folder 'Inbox/Nope' does not exist" in message
    assert "SHITSHOVELA_GRAPH__FOLDER" in message
    graph.create_folder("Inbox/Support")
    graph_source(graph, FOLDER="inbox/support").check()  # display names without case


def test_a_token_graph_refuses_names_the_sign_in_settings(
    graph: GraphEmulator, endpoint: TokenEndpoint
) -> None:
    stranger = graph.make_token(key=SigningKey.generate())
    message = refusal(graph, ACCESS_TOKEN=stranger)
    assert "Microsoft Graph refused the access token (401 InvalidAuthenticationToken" in message
    assert "SHITSHOVELA_GRAPH__ACCESS_TOKEN" in message and stranger not in message
    _, settings = app_settings(graph, endpoint)
    message = refusal(graph, **settings, TOKEN_SCOPE="https://outlook.office365.com/.default")
    for name in ("TENANT", "CLIENT_ID", "CLIENT_SECRET", "TOKEN_SCOPE"):
        assert f"SHITSHOVELA_GRAPH__{name}" in message
    assert "the token is for https://outlook.office365.com" in message


def test_a_401_mid_run_gets_one_fresh_token_and_one_more_try(
    graph: GraphEmulator, endpoint: TokenEndpoint, fault_proxy: Any
) -> None:
    _, settings = app_settings(graph, endpoint)
    graph.seed_message(mail("Refused once"))
    proxy = fault_proxy(graph, Script(http={3: Answer(401, body=GRAPH_401)}))
    url = proxy.url + "/v1.0"
    summary = run_once(graph_source(graph, URL=url, **settings), fake_tickets(FakeTracker()))
    assert summary.created == 1
    assert len(endpoint.tokens()) == 2, "one fresh token after the 401"
    again = fault_proxy(
        graph, Script(http={1: Answer(401, body=GRAPH_401), 2: Answer(401, body=GRAPH_401)})
    )
    source = graph_source(graph, URL=again.url + "/v1.0", **settings)
    with pytest.raises(Unreachable, match="refused the access token"):
        list(source.items())
    assert len(endpoint.tokens()) == 4, "one renewal a refusal, not a loop"


def test_a_revoked_secret_stops_check_and_run_naming_the_fix_never_the_secret(
    graph: GraphEmulator, endpoint: TokenEndpoint, tmp_path: Path
) -> None:
    app, settings = app_settings(graph, endpoint)
    graph.seed_message(mail("Kept"))
    app.revoke_secret()
    for command, code in (("check", 3), ("run", 3)):
        result = run_cli(command, cli_env(graph, tmp_path, **settings))
        assert result.returncode == code, result.output
        assert "SHITSHOVELA_GRAPH__CLIENT_SECRET" in result.output
        assert SECRET not in result.output
    assert graph.requests == [] and tickets(tmp_path) == []


def test_a_token_with_no_mail_role_is_left_to_graph_whose_refusal_names_both_grants(
    graph: GraphEmulator,
) -> None:
    """With RBAC for Applications the role lives in Exchange, not in the token, so a token
    without any mail role is not refused before Graph is asked; Graph's refusal then names
    both ways to grant it."""
    message = refusal(graph, ACCESS_TOKEN=graph.make_token(roles=["User.Read.All"]))
    assert graph.requests, "Graph was asked"
    assert "403 ErrorAccessDenied" in message
    assert "Application Mail.ReadWrite" in message and "admin consent" in message
    message = refusal(graph, ACCESS_TOKEN=graph.make_token(roles=None))
    assert "the token carries no roles" in message and "New-ManagementRoleAssignment" in message
