"""App-only tokens: signature, audience, issuer, tenant, lifetime, roles; access policies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from shitshovela_graph_emulator import (
    DEFAULT_APP_ID,
    DEFAULT_MAILBOX,
    DEFAULT_TENANT_ID,
    AccessPolicy,
    GraphEmulator,
    MailboxConfig,
    SigningKey,
    make_token,
    v2_issuer,
)
from shitshovela_testkit.clock import ManualClock

pytestmark = pytest.mark.servers

Factory = Callable[..., GraphEmulator]

U = f"users/{DEFAULT_MAILBOX}"
OTHER = "archive@contoso.onmicrosoft.com"
INVALID = "InvalidAuthenticationToken"
RAOP = (
    "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy "
    "settings."
)


@pytest.fixture(scope="module")
def stranger() -> SigningKey:
    return SigningKey.generate()


def call(graph: GraphEmulator, headers: dict[str, str], path: str = f"{U}/mailFolders") -> Any:
    r = httpx.get(f"{graph.api_url}/{path}", headers=headers, timeout=10)
    return r.status_code, r.json()["error"]["code"] if r.status_code >= 400 else None, r


def refusal(graph: GraphEmulator, token: str) -> tuple[int, str, str]:
    status, code, r = call(graph, {"Authorization": f"Bearer {token}"})
    return status, code, r.json()["error"]["message"] if status >= 400 else ""


def test_a_request_without_a_token_is_401_with_graph_s_body(graph: GraphEmulator) -> None:
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}):
        status, code, r = call(graph, headers)
        assert (status, code) == (401, INVALID)
        assert r.json()["error"]["message"] == "Access token is empty."
        assert r.headers["WWW-Authenticate"].startswith('Bearer realm=""')
        assert r.headers["request-id"] == r.json()["error"]["innerError"]["request-id"]


def test_tokens_graph_refuses(
    make_graph: Factory, clock: ManualClock, stranger: SigningKey
) -> None:
    graph = make_graph(clock=clock)
    now = clock()
    cases = {
        "not a JWT": "opaque-token-value",
        "signed by another key": make_token(stranger, now=now),
        "another key claiming ours": make_token(stranger, now=now, kid=graph.signing_key.kid),
        "for another resource": graph.make_token(aud="https://outlook.office365.com"),
        "from another issuer": graph.make_token(iss="https://sts.windows.net/other-tenant/"),
        "for another tenant": graph.make_token(tid="00000000-0000-0000-0000-000000000000"),
        "expired": graph.make_token(iat=now - 7200, nbf=now - 7200, exp=now - 600),
        "not yet valid": graph.make_token(nbf=now + 900),
        "without roles": graph.make_token(roles=None),
    }
    answers = {what: refusal(graph, token) for what, token in cases.items()}
    assert answers == {
        "not a JWT": (401, INVALID, "CompactToken parsing failed with error code: 80049217"),
        "signed by another key": (
            401,
            INVALID,
            "Access token validation failure. Invalid signature.",
        ),
        "another key claiming ours": (
            401,
            INVALID,
            "Access token validation failure. Invalid signature.",
        ),
        "for another resource": (
            401,
            INVALID,
            "Access token validation failure. Invalid audience.",
        ),
        "from another issuer": (401, INVALID, "Access token validation failure. Invalid issuer."),
        "for another tenant": (401, INVALID, "Access token validation failure. Invalid tenant."),
        "expired": (401, INVALID, "Lifetime validation failed, the token is expired."),
        "not yet valid": (401, INVALID, "Lifetime validation failed, the token is not yet valid."),
        "without roles": (
            401,
            INVALID,
            "Either scp or roles claim need to be present in the token.",
        ),
    }


def test_a_token_expires_on_the_emulator_s_clock(make_graph: Factory, clock: ManualClock) -> None:
    graph = make_graph(clock=clock)
    token = graph.make_token(lifetime=3599)
    assert refusal(graph, token)[0] == 200
    clock.advance(3599 + 299)  # five minutes of clock skew are forgiven
    assert refusal(graph, token)[0] == 200
    clock.advance(2)
    assert refusal(graph, token)[:2] == (401, INVALID)


def test_keys_and_issuers_the_tenant_trusts(
    make_graph: Factory, clock: ManualClock, stranger: SigningKey
) -> None:
    graph = make_graph(clock=clock, trusted_keys={stranger.kid: stranger.public_pem})
    v2 = make_token(
        stranger,
        now=clock(),
        iss=v2_issuer(graph.authority.tenant_id),
        appid=None,
        azp=DEFAULT_APP_ID,
        ver="2.0",
    )
    graph_app_audience = graph.make_token(aud="00000003-0000-0000-c000-000000000000")
    assert refusal(graph, v2)[0] == 200
    assert refusal(graph, graph_app_audience)[0] == 200
    rotated = SigningKey.generate()
    graph.trust_key(rotated.public_pem)  # no kid: any token naming an unknown kid may use it
    assert refusal(graph, make_token(rotated, now=clock()))[0] == 200
    graph.authority.distrust(stranger.kid)
    assert refusal(graph, v2)[:2] == (401, INVALID)


def test_a_tenant_and_issuer_of_one_s_own(make_graph: Factory, clock: ManualClock) -> None:
    tenant = "11111111-2222-3333-4444-555555555555"
    graph = make_graph(clock=clock, tenant_id=tenant, issuers=["https://issuer.example/"])
    assert refusal(graph, graph.make_token(iss="https://issuer.example/"))[0] == 200
    assert refusal(graph, graph.make_token())[2] == (
        "Access token validation failure. Invalid issuer."  # sts.windows.net/{tenant}/
    )
    other = graph.make_token(iss="https://issuer.example/", tenant_id=DEFAULT_TENANT_ID)
    assert refusal(graph, other)[2] == "Access token validation failure. Invalid tenant."


def test_mail_read_reads_and_only_mail_readwrite_writes(graph: GraphEmulator) -> None:
    reader = graph.make_token(roles=["Mail.Read"])
    other = graph.make_token(roles=["User.Read.All"])
    with graph.client(reader) as c:
        listed = c.get(f"{U}/mailFolders/inbox/messages")
        made = c.post(f"{U}/mailFolders", json={"displayName": "x"})
    with graph.client(other) as c:
        nothing = c.get(f"{U}/mailFolders/inbox/messages")
    assert listed.status_code == 200
    for refused in (made, nothing):
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "ErrorAccessDenied"
        assert (
            refused.json()["error"]["message"]
            == "Access is denied. Check credentials and try again."
        )


def test_an_access_policy_limits_the_app_to_its_mailboxes(make_graph: Factory) -> None:
    graph = make_graph(
        mailboxes=[DEFAULT_MAILBOX, OTHER],
        policies=[AccessPolicy(DEFAULT_APP_ID, [DEFAULT_MAILBOX])],
    )
    outsider = "0f0e0d0c-0b0a-0908-0706-050403020100"
    with graph.client() as c:
        mine = c.get(f"{U}/mailFolders")
        theirs = c.get(f"users/{OTHER}/mailFolders")
        by_id = c.get(f"users/{graph.site.state.mailbox(OTHER).object_id}/mailFolders")  # type: ignore[union-attr]
    with graph.client(graph.make_token(outsider)) as c:
        unrestricted = c.get(f"users/{OTHER}/mailFolders")
    assert mine.status_code == 200 and unrestricted.status_code == 200
    for refused in (theirs, by_id):
        assert refused.status_code == 403
        assert refused.json()["error"] == {
            "code": "ErrorAccessDenied",
            "message": RAOP,
            "innerError": refused.json()["error"]["innerError"],
        }
    graph.set_policy(DEFAULT_APP_ID, [DEFAULT_MAILBOX], "DenyAccess")
    with graph.client() as c:
        assert c.get(f"{U}/mailFolders").status_code == 403
        assert c.get(f"users/{OTHER}/mailFolders").status_code == 200
    graph.set_policy(DEFAULT_APP_ID, None)
    with graph.client() as c:
        assert c.get(f"{U}/mailFolders").status_code == 200


def test_unknown_users_and_users_without_a_mailbox(make_graph: Factory) -> None:
    graph = make_graph(
        mailboxes=[DEFAULT_MAILBOX, MailboxConfig("nobox@contoso.com", enabled=False)]
    )
    with graph.client() as c:
        unknown = c.get("users/someone@contoso.com/mailFolders/inbox/messages")
        disabled = c.get("users/nobox@contoso.com/mailFolders/inbox/messages")
        by_id = c.get(
            f"users/{graph.site.state.mailbox(DEFAULT_MAILBOX).object_id.upper()}/messages"
        )  # type: ignore[union-attr]
        upper = c.get(f"users/{DEFAULT_MAILBOX.upper()}/messages")
        me = c.get("me/messages")
        beta = httpx.get(f"{graph.url}/beta/users", headers=graph.auth_headers())
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "ErrorInvalidUser"
    assert (
        unknown.json()["error"]["message"] == "The requested user 'someone@contoso.com' is invalid."
    )
    assert disabled.status_code == 404
    assert disabled.json()["error"]["code"] == "MailboxNotEnabledForRESTAPI"
    assert by_id.status_code == 200 and upper.status_code == 200
    assert me.status_code == 400
    assert me.json()["error"]["message"] == "Resource not found for the segment 'messages'."
    assert beta.status_code == 400 and beta.json()["error"]["message"] == "Invalid version: beta"
    assert graph.unvalidated == [
        "GET /v1.0/me/messages: no such operation in the emulator",
    ]
