"""App-only access tokens (`shitshovela_core.tokens`) against the token endpoint stand-in.

The providers speak Microsoft's v2.0 client credentials flow (secret and
certificate assertion) and Google's JWT-bearer grant over real HTTP on
loopback, through the core's HttpClient and its own safety policy: one request
per token lifetime, the run's deadline, retries of a lost answer, and every
refusal turned into one line that names the fix, with no secret in it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from shitshovela_testkit.clock import ManualClock
from shitshovela_testkit.fakes import fake_context
from shitshovela_testkit.faultproxy import Answer, Hang, Script
from shitshovela_testkit.tokenendpoint import (
    GOOGLE_MAIL_SCOPE,
    MICROSOFT_IMAP_SCOPE,
    TENANT_DOMAIN,
    TokenEndpoint,
    make_certificate,
)
from structlog.testing import capture_logs

from shitshovela_core import (
    EnvName,
    OAuthSettings,
    ProviderSettings,
    TokenProvider,
    token_provider,
)
from shitshovela_core.credentials import load_certificate, peek_claims, read_material
from shitshovela_core.deadline import Budget
from shitshovela_core.errors import ConfigError, CutOff, DeadlineReached, Unreachable
from shitshovela_core.redact import Redactor

SECRET = "s3cr3t~Value.With-Odd_Chars0x1F"


@attrs.frozen(kw_only=True)
class MailSettings(ProviderSettings, OAuthSettings):
    """A provider that always signs in with a token (as the Graph mail source will)."""

    def problems(self, env: EnvName) -> Iterator[str]:
        yield from self.token_problems(env, required=True)


def tokens_for(
    settings: dict[str, Any],
    *,
    budget: Budget | None = None,
    subject: str = "alice@example.com",
) -> TokenProvider:
    context = fake_context("mail", settings=settings, settings_class=MailSettings, budget=budget)
    context.safety.redactor = Redactor()  # each test its own secrets
    return token_provider(
        context,
        MailSettings.of(context.settings),
        microsoft_scope=MICROSOFT_IMAP_SCOPE,
        google_scope=GOOGLE_MAIL_SCOPE,
        subject=subject,
    )


def microsoft(endpoint: TokenEndpoint | Any, client_id: str, **extra: Any) -> dict[str, Any]:
    authority = endpoint if isinstance(endpoint, str) else endpoint.authority
    return {
        "TOKEN_FROM": "microsoft",
        "TENANT": extra.pop("TENANT", TENANT_DOMAIN),
        "CLIENT_ID": client_id,
        "AUTHORITY": authority,
        **extra,
    }


def refusal(tokens: TokenProvider) -> str:
    with pytest.raises(Unreachable) as info:
        tokens.token()
    return str(info.value)


# -- settings -----------------------------------------------------------------------------


def problems(**values: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        fake_context("mail", settings=values, settings_class=MailSettings)
    return info.value.problems


@pytest.mark.unit
def test_token_settings_name_what_is_missing_or_contradictory(tmp_path: Any) -> None:
    assert problems() == [
        "SHITSHOVELA_MAIL__TOKEN_FROM is not set: say where the access token comes from "
        "(microsoft, google or static)"
    ]
    found = problems(
        TOKEN_FROM="microsoft", CLIENT_SECRET=SECRET, SERVICE_ACCOUNT_KEY='{"k": "v1234"}'
    )
    assert any("SHITSHOVELA_MAIL__TENANT" in p for p in found)
    assert any("SHITSHOVELA_MAIL__CLIENT_ID" in p for p in found)
    assert any(
        p.startswith("SHITSHOVELA_MAIL__SERVICE_ACCOUNT_KEY is set but") and "=google" in p
        for p in found
    )
    cert, key = make_certificate()
    both = problems(
        TOKEN_FROM="microsoft", TENANT="t", CLIENT_ID="c", CLIENT_SECRET=SECRET, CERTIFICATE=cert,
        PRIVATE_KEY=key,
    )  # fmt: skip
    assert any("exactly one credential" in p and "both are set" in p for p in both)
    remote = problems(
        TOKEN_FROM="microsoft", TENANT="t", CLIENT_ID="c", CLIENT_SECRET=SECRET,
        AUTHORITY="http://login.example.com",
    )  # fmt: skip
    assert remote == [
        "SHITSHOVELA_MAIL__AUTHORITY must be an https:// URL (plain http only to a loopback "
        "address): it carries the secret"
    ]
    assert problems(TOKEN_FROM="static") == [
        "SHITSHOVELA_MAIL__TOKEN_FROM=static needs SHITSHOVELA_MAIL__ACCESS_TOKEN"
    ]


@pytest.mark.unit
def test_key_material_is_checked_before_anything_is_contacted(tmp_path: Any) -> None:
    cert, key = make_certificate()
    other_cert, _ = make_certificate(key=make_other_key())
    base = {"TOKEN_FROM": "microsoft", "TENANT": "t", "CLIENT_ID": "c"}
    missing = problems(**base, CERTIFICATE=str(tmp_path / "nope.pem"))
    assert missing == [
        "SHITSHOVELA_MAIL__CERTIFICATE: names a file that cannot be read (No such file or "
        "directory)"
    ]
    assert problems(**base, CERTIFICATE=cert) == [
        "SHITSHOVELA_MAIL__CERTIFICATE: the certificate's file holds no PEM private key "
        "(-----BEGIN PRIVATE KEY-----)"
    ]
    assert problems(**base, CERTIFICATE=other_cert, PRIVATE_KEY=key) == [
        "SHITSHOVELA_MAIL__CERTIFICATE: the private key does not belong to the certificate"
    ]
    combined = tmp_path / "app.pem"
    combined.write_text(cert + key)
    fake_context(
        "mail", settings={**base, "CERTIFICATE": str(combined)}, settings_class=MailSettings
    )
    one_line = key.replace("\n", "\\n")  # as an env file holds it
    fake_context(
        "mail", settings={**base, "CERTIFICATE": cert, "PRIVATE_KEY": one_line},
        settings_class=MailSettings,
    )  # fmt: skip
    bad_json = problems(TOKEN_FROM="google", SERVICE_ACCOUNT_KEY='{"type": "authorized_user"}')
    assert bad_json == [
        'SHITSHOVELA_MAIL__SERVICE_ACCOUNT_KEY is not a service account key (its "type" is not '
        '"service_account")'
    ]
    for problem in [*missing, *bad_json]:
        assert "PRIVATE KEY-----\n" not in problem and str(tmp_path) not in problem


def make_other_key() -> Any:
    from shitshovela_testkit.tokenendpoint import rsa_key

    return rsa_key("another")


@pytest.mark.unit
def test_material_helpers() -> None:
    cert, key = make_certificate(days=10)
    loaded = load_certificate(cert + key)
    assert 9 < loaded.days_left() < 10.1
    assert "BEGIN" not in repr(loaded) and key.splitlines()[1] in loaded.secrets
    assert read_material('{"a": 1}') == '{"a": 1}'
    assert peek_claims("not-a-jwt") == {}
    assert peek_claims("a.eyJleHAiOiAxfQ.c") == {"exp": 1}


# -- Microsoft ------------------------------------------------------------------------------


@pytest.mark.servers
def test_a_secret_gets_a_token_once_and_again_only_when_it_would_expire(
    stand_in: Any, manual_clock: ManualClock
) -> None:
    endpoint = stand_in(TokenEndpoint(lifetime=3599))
    app = endpoint.register_app(secret=SECRET, mailbox="alice@example.com")
    budget = Budget(7200.0, started=manual_clock(), clock=manual_clock, sleep=manual_clock.sleep)
    tokens = tokens_for(microsoft(endpoint, app.client_id, CLIENT_SECRET=SECRET), budget=budget)
    with capture_logs() as logs:
        first = tokens.token()
        manual_clock.advance(3000)  # 599 s left: more than the 60 s kept in reserve
        assert tokens.token() is first
        manual_clock.advance(540)  # 59 s left: too close to use for a sign-in
        second = tokens.token()
    assert second.value != first.value and tokens.requests == 2
    assert [r.status for r in endpoint.requests] == [200, 200]
    sent = dict(p.split("=", 1) for p in endpoint.requests[0].body.decode().split("&"))
    assert sent["grant_type"] == "client_credentials" and "client_secret" in sent
    assert first.identity == f"app {app.client_id} in tenant {TENANT_DOMAIN}"
    assert first.claims["roles"] == ["IMAP.AccessAsApp"]
    obtained = [e for e in logs if e["event"] == "token_obtained"]
    assert len(obtained) == 2 and all(3598 <= e["expires_in"] <= 3599 for e in obtained)
    assert all(first.value not in str(e) and SECRET not in str(e) for e in logs)


@pytest.mark.servers
def test_a_token_the_system_refused_is_renewed_once_asked(stand_in: Any) -> None:
    endpoint = stand_in(TokenEndpoint())
    app = endpoint.register_app(secret=SECRET, mailbox="alice@example.com")
    tokens = tokens_for(microsoft(endpoint, app.client_id, CLIENT_SECRET=SECRET))
    first = tokens.token()
    assert tokens.renew(first) is True
    second = tokens.token()
    assert second.value != first.value and tokens.requests == 2
    assert tokens.renew(first) is True  # an older token refused: the current one stays
    assert tokens.token() is second and tokens.requests == 2
    static = tokens_for({"TOKEN_FROM": "static", "ACCESS_TOKEN": "ya29.opaque-static"})
    token = static.token()
    assert static.renew(token) is False, "a static token has no other to get"


@pytest.mark.servers
def test_a_certificate_signs_an_assertion_the_platform_verifies(stand_in: Any) -> None:
    endpoint = stand_in(TokenEndpoint())
    cert, key = make_certificate()
    app = endpoint.register_app(certificates=[cert], mailbox="alice@example.com")
    tokens = tokens_for(microsoft(endpoint, app.client_id, CERTIFICATE=cert, PRIVATE_KEY=key))
    token = tokens.token()
    assert token.claims["appidacr"] == "2"  # the stand-in checked a certificate assertion
    body = endpoint.requests[0].body.decode()
    assert "client_secret" not in body and "client_assertion_type=urn" in body
    # can fail: a certificate the app does not have is refused (the stand-in verifies)
    stranger, stranger_key = make_certificate()
    other = tokens_for(
        microsoft(endpoint, app.client_id, CERTIFICATE=stranger, PRIVATE_KEY=stranger_key)
    )
    message = refusal(other)
    assert "AADSTS700027" in message and "upload SHITSHOVELA_MAIL__CERTIFICATE" in message


@pytest.mark.servers
@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        pytest.param(
            "revoked",
            "(401 invalid_client, AADSTS7000215): the client secret is wrong: set "
            "SHITSHOVELA_MAIL__CLIENT_SECRET to a secret's Value (not its Secret ID)",
            id="revoked-secret",
        ),
        pytest.param(
            "expired",
            "(401 invalid_client, AADSTS7000222): the client secret has expired: create a new one",
            id="expired-secret",
        ),
        pytest.param(
            "unknown-app",
            "(400 unauthorized_client, AADSTS700016): no app with client id",
            id="unknown-app",
        ),
        pytest.param(
            "wrong-tenant",
            "(400 invalid_request, AADSTS90002): tenant fabrikam.onmicrosoft.com does not exist "
            "in this cloud: check SHITSHOVELA_MAIL__TENANT",
            id="wrong-tenant",
        ),
        pytest.param(
            "bad-scope",
            "(400 invalid_scope, AADSTS1002012): the scope is not valid: check "
            "SHITSHOVELA_MAIL__TOKEN_SCOPE",
            id="bad-scope",
        ),
    ],
)
def test_refusals_name_the_fix_and_no_secret(stand_in: Any, setup: str, expected: str) -> None:
    endpoint = stand_in(TokenEndpoint())
    app = endpoint.register_app(secret=SECRET)
    extra: dict[str, Any] = {"CLIENT_SECRET": SECRET}
    client_id = app.client_id
    if setup == "revoked":
        app.revoke_secret()
    elif setup == "expired":
        app.expire_secret()
    elif setup == "unknown-app":
        client_id = "11111111-2222-3333-4444-555555555555"
    elif setup == "wrong-tenant":
        extra["TENANT"] = "fabrikam.onmicrosoft.com"
    elif setup == "bad-scope":
        extra["TOKEN_SCOPE"] = "https://outlook.office365.com/IMAP.AccessAsApp"
    message = refusal(tokens_for(microsoft(endpoint, client_id, **extra)))
    assert message.startswith("microsoft refused the token request for app ")
    assert expected in message
    assert SECRET not in message and "\n" not in message
    assert [r.status for r in endpoint.requests] == [endpoint.requests[0].status]  # not retried


@pytest.mark.servers
def test_an_expired_certificate_stops_before_it_is_sent_and_one_near_expiry_warns(
    stand_in: Any,
) -> None:
    endpoint = stand_in(TokenEndpoint())
    expired, key = make_certificate(days=-1)
    app = endpoint.register_app(certificates=[expired])
    message = refusal(
        tokens_for(microsoft(endpoint, app.client_id, CERTIFICATE=expired, PRIVATE_KEY=key))
    )
    assert "expired on" in message and "upload it to the app registration" in message
    assert endpoint.requests == []
    soon, key = make_certificate(days=12)
    app.certificates.append(soon)
    with capture_logs() as logs:
        tokens = tokens_for(microsoft(endpoint, app.client_id, CERTIFICATE=soon, PRIVATE_KEY=key))
        tokens.token()
    warnings = [e for e in logs if e["event"] == "certificate_expires_soon"]
    assert len(warnings) == 1 and warnings[0]["log_level"] == "warning"
    assert warnings[0]["days_left"] in (11, 12)


@pytest.mark.servers
def test_a_lost_answer_is_asked_again_and_a_hung_endpoint_is_cut_off_by_the_deadline(
    stand_in: Any, fault_proxy: Any
) -> None:
    endpoint = stand_in(TokenEndpoint())
    app = endpoint.register_app(secret=SECRET)
    flaky = fault_proxy(endpoint, Script(http={1: Answer(503, retry_after=0)}))
    tokens = tokens_for(microsoft(flaky.url, app.client_id, CLIENT_SECRET=SECRET))
    assert tokens.token().value in endpoint.tokens()
    hung = fault_proxy(endpoint, Script(default=Hang()))
    budget = Budget(3.0, started=time.monotonic(), margin=0.5)
    tokens = tokens_for(microsoft(hung.url, app.client_id, CLIENT_SECRET=SECRET), budget=budget)
    with pytest.raises((CutOff, DeadlineReached)) as info:
        tokens.token()
    assert isinstance(info.value, CutOff)  # it waited: the endpoint's failure, not the deadline's
    assert "mail token endpoint" in str(info.value) and SECRET not in str(info.value)
    assert budget.clock() <= budget.deadline


# -- Google and static ----------------------------------------------------------------------


@pytest.mark.servers
def test_a_service_account_acts_for_the_mailbox(stand_in: Any) -> None:
    endpoint = stand_in(TokenEndpoint())
    account = endpoint.add_service_account(users=["alice@example.com"])
    settings = {"TOKEN_FROM": "google", "SERVICE_ACCOUNT_KEY": account.key_json()}
    token = tokens_for(settings).token()
    assert token.claims["email"] == "alice@example.com"
    assert token.claims["scope"] == GOOGLE_MAIL_SCOPE
    assert token.identity == f"service account {account.email} for alice@example.com"
    stranger = refusal(tokens_for(settings, subject="mallory@example.com"))
    assert "(400 invalid_grant): mallory@example.com is not a user of the Workspace domain" in (
        stranger
    )
    account.scopes = ()
    undelegated = refusal(tokens_for(settings))
    assert "(401 unauthorized_client): domain-wide delegation is missing" in undelegated
    assert account.client_id in undelegated
    account.scopes = (GOOGLE_MAIL_SCOPE,)
    account.delete_key(next(iter(account.keys)))
    deleted = refusal(tokens_for(settings))
    assert "the service account key was deleted or disabled" in deleted
    assert all("PRIVATE KEY" not in m for m in (stranger, undelegated, deleted))


@pytest.mark.unit
def test_a_static_token_is_used_as_it_is_until_it_expires() -> None:
    import jwt

    fresh = jwt.encode({"exp": int(time.time()) + 600, "sub": "x"}, "k" * 32, algorithm="HS256")
    tokens = tokens_for({"TOKEN_FROM": "static", "ACCESS_TOKEN": fresh})
    token = tokens.token()
    assert token.value == fresh and tokens.token() is token and token.lifetime is not None
    stale = jwt.encode({"exp": int(time.time()) - 5, "sub": "x"}, "k" * 32, algorithm="HS256")
    message = refusal(tokens_for({"TOKEN_FROM": "static", "ACCESS_TOKEN": stale}))
    assert "SHITSHOVELA_MAIL__ACCESS_TOKEN expired at" in message and stale not in message
    opaque = tokens_for({"TOKEN_FROM": "static", "ACCESS_TOKEN": "ya29.opaque"}).token()
    assert opaque.expires is None and opaque.describe_expiry() == "unknown"


@pytest.mark.unit
def test_key_material_may_span_lines_but_a_sent_secret_may_not() -> None:
    cert, key = make_certificate()
    base = {"TOKEN_FROM": "microsoft", "TENANT": "t", "CLIENT_ID": "c", "CERTIFICATE": cert}
    fake_context("mail", settings={**base, "PRIVATE_KEY": key + "\n"}, settings_class=MailSettings)
    refused = problems(**{**base, "PRIVATE_KEY": key.replace("\n", "\n\x00", 1)})
    assert len(refused) == 1 and "control or invisible character" in refused[0]
    assert refused[0].startswith("SHITSHOVELA_MAIL__PRIVATE_KEY") and "BEGIN" not in refused[0]
    sent = problems(TOKEN_FROM="microsoft", TENANT="t", CLIENT_ID="c", CLIENT_SECRET=SECRET + "\n")
    assert len(sent) == 1 and "ends with a line break" in sent[0]
