"""The token endpoint stand-in checks what the real platforms check, so a client that
gets an assertion or a grant wrong is refused here as it would be there."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from shitshovela_testkit.tokenendpoint import (
    GOOGLE_MAIL_SCOPE,
    MAIL_AUDIENCE,
    MICROSOFT_IMAP_SCOPE,
    TENANT_ID,
    TokenEndpoint,
    make_certificate,
    rsa_key,
    thumbprint,
)

pytestmark = pytest.mark.servers

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    with TokenEndpoint() as server:
        yield server


def assertion(endpoint: TokenEndpoint, client_id: str, cert: str, key: Any, **claims: Any) -> str:
    now = int(time.time())
    body = {"aud": endpoint.token_url(), "iss": client_id, "sub": client_id, "jti": "j1",
            "nbf": now, "iat": now, "exp": now + 600, **claims}  # fmt: skip
    headers = {"x5t": thumbprint(cert), "typ": "JWT"}
    return jwt.encode(body, key, algorithm="RS256", headers=headers)


def microsoft(endpoint: TokenEndpoint, client_id: str, **form: str) -> httpx.Response:
    data = {"grant_type": "client_credentials", "client_id": client_id, **form}
    data.setdefault("scope", MICROSOFT_IMAP_SCOPE)
    return httpx.post(endpoint.token_url(), data=data)


def code(response: httpx.Response) -> str:
    return str(response.json()["error_description"]).split(":", 1)[0]


def test_a_client_assertion_is_verified_claim_by_claim(endpoint: TokenEndpoint) -> None:
    cert, key = make_certificate()
    app = endpoint.register_app(certificates=[cert], mailbox="ann@example.com")

    def send(**claims: Any) -> httpx.Response:
        signed = assertion(endpoint, app.client_id, cert, claims.pop("key", key), **claims)
        return microsoft(
            endpoint, app.client_id, client_assertion_type=ASSERTION_TYPE, client_assertion=signed
        )

    good = send()
    assert good.status_code == 200 and good.json()["expires_in"] == 3599
    claims = jwt.decode(good.json()["access_token"], options={"verify_signature": False})
    assert (claims["aud"], claims["email"], claims["roles"]) == (
        MAIL_AUDIENCE,
        "ann@example.com",
        ["IMAP.AccessAsApp"],
    )
    assert claims["iss"] == f"https://sts.windows.net/{TENANT_ID}/"
    assert code(send(aud="https://login.example/other/token")) == "AADSTS50013"
    assert code(send(iss="someone-else")) == "AADSTS50013"
    assert code(send(exp=int(time.time()) - 3600, nbf=int(time.time()) - 4000)) == "AADSTS700024"
    assert code(send(key=rsa_key("intruder"))) == "AADSTS700027"  # the right x5t, another key
    unsigned = microsoft(endpoint, app.client_id)
    assert (unsigned.status_code, code(unsigned)) == (401, "AADSTS7000218")


def test_secrets_tenants_and_scopes_are_answered_as_entra_does(endpoint: TokenEndpoint) -> None:
    app = endpoint.register_app(secret="client-secret-value", roles=())
    ok = microsoft(endpoint, app.client_id, client_secret="client-secret-value")
    assert "roles" not in jwt.decode(ok.json()["access_token"], options={"verify_signature": False})
    wrong = microsoft(endpoint, app.client_id, client_secret="not-the-secret")
    assert (wrong.status_code, wrong.json()["error"], code(wrong)) == (
        401,
        "invalid_client",
        "AADSTS7000215",
    )
    app.expire_secret()
    assert code(microsoft(endpoint, app.client_id, client_secret="client-secret-value")) == (
        "AADSTS7000222"
    )
    elsewhere = httpx.post(
        endpoint.token_url("fabrikam.onmicrosoft.com"),
        data={"grant_type": "client_credentials", "client_id": app.client_id},
    )
    assert (elsewhere.status_code, code(elsewhere)) == (400, "AADSTS90002")
    assert code(microsoft(endpoint, "no-such-app", client_secret="x" * 10)) == "AADSTS700016"
    app = endpoint.register_app(secret="client-secret-value")
    bad_scope = microsoft(
        endpoint, app.client_id, client_secret="client-secret-value", scope="IMAP.AccessAsApp"
    )
    assert (bad_scope.json()["error"], code(bad_scope)) == ("invalid_scope", "AADSTS1002012")


def test_a_google_grant_is_verified(endpoint: TokenEndpoint) -> None:
    account = endpoint.add_service_account(users=["ann@example.com"])
    key_id, key = next(iter(account.keys.items()))

    def grant(signing: Any = key, **claims: Any) -> httpx.Response:
        now = int(time.time())
        body = {"iss": account.email, "scope": GOOGLE_MAIL_SCOPE, "aud": endpoint.google_token_uri,
                "sub": "ann@example.com", "iat": now, "exp": now + 3600, **claims}  # fmt: skip
        signed = jwt.encode(body, signing, algorithm="RS256", headers={"kid": key_id})
        form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": signed}
        return httpx.post(endpoint.google_token_uri, data=form)

    def said(response: httpx.Response) -> tuple[int, str, str]:
        body = response.json()
        return response.status_code, body["error"], body["error_description"]

    good = grant()
    assert good.status_code == 200
    claims = jwt.decode(good.json()["access_token"], options={"verify_signature": False})
    assert (claims["email"], claims["aud"]) == ("ann@example.com", MAIL_AUDIENCE)
    assert said(grant(signing=rsa_key("intruder")))[2] == "Invalid JWT Signature."
    assert said(grant(aud="https://oauth2.googleapis.com/token"))[2].startswith(
        "Invalid JWT: Failed audience check."
    )
    assert "short-lived token" in said(grant(exp=int(time.time()) + 7200))[2]
    assert said(grant(sub="mallory@example.com")) == (
        400,
        "invalid_grant",
        "Invalid email or User ID",
    )
    assert said(grant(scope="https://www.googleapis.com/auth/drive"))[:2] == (
        401,
        "unauthorized_client",
    )
    account.delete_key(key_id)
    assert said(grant())[2] == "Invalid JWT Signature."
