"""App-only OAuth2 sign-in against a real Dovecot that validates the tokens itself.

Tokens come from the testkit's token endpoint stand-in (Microsoft's v2.0 client
credentials, by secret and by certificate assertion; Google's JWT-bearer
grant); the session's Dovecot checks their signature, issuer, audience,
expiry and mailbox (`conftest.py`). `check` and `run` are the real CLI; every
output is searched for every secret of the box: the client secret, the private
key, each token and each SASL string in its wire form.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import imapclient  # type: ignore[import-untyped]
import pytest
from imapclient.exceptions import LoginError  # type: ignore[import-untyped]
from imapkit import plain_message
from oauthkit import dovecot_logins, google_box, microsoft_box, run_cli
from shitshovela_imap.signin import sasl_response, wire_form
from shitshovela_testkit.faultproxy import Hang, Script
from shitshovela_testkit.tokenendpoint import TokenEndpoint
from shitshovela_testservers.dovecot import DovecotServer
from structlog.testing import capture_logs

from shitshovela_core.errors import Unreachable
from shitshovela_core.redact import Redactor


def _events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


@pytest.mark.e2e
@pytest.mark.parametrize("auth", ["xoauth2", "oauthbearer"])
@pytest.mark.parametrize("credential", ["secret", "certificate"])
def test_check_and_run_sign_in_with_a_token(
    dovecot: DovecotServer,
    token_endpoint: TokenEndpoint,
    tmp_path: Path,
    auth: str,
    credential: str,
) -> None:
    box = microsoft_box(dovecot, token_endpoint, auth=auth, credential=credential)
    box.box.deliver(plain_message(1), plain_message(2))
    check = run_cli("check", box.env(tmp_path))
    assert check.returncode == 0, check.output
    checked = next(e for e in _events(check.stdout) if e["event"] == "token_checked")
    assert checked["identity"] == f"app {box.app.client_id} in tenant {box.settings['TENANT']}"
    assert checked["mechanism"] == auth.upper() and checked["expires"].endswith("Z")
    assert checked["roles"] == ["IMAP.AccessAsApp"]
    run = run_cli("run", box.env(tmp_path))
    assert run.returncode == 0, run.output
    assert _events(run.stdout)[-1]["created"] == 2
    assert box.box.count() == 0
    assert dovecot_logins(dovecot, box.user) == [auth.upper()] * 2  # check, then run
    assert len(token_endpoint.tokens()) == 2  # one a run
    assert box.leaks(check.output + run.output) == []


@pytest.mark.servers
@pytest.mark.parametrize("auth", ["xoauth2", "oauthbearer"])
def test_a_google_service_account_drains_the_mailbox(
    dovecot: DovecotServer, token_endpoint: TokenEndpoint, auth: str
) -> None:
    from shitshovela_testkit.fakes import FakeTracker, fake_tickets
    from shitshovela_testkit.runs import run_once

    box = google_box(dovecot, token_endpoint, auth=auth)
    box.box.deliver(plain_message(1), plain_message(2), plain_message(3))
    source = box.source()
    tracker = FakeTracker()
    summary = run_once(source, fake_tickets(tracker))
    assert summary.created == 3 and box.box.count() == 0
    assert dovecot_logins(dovecot, box.user) == [auth.upper()]
    assert source.signin.tokens is not None and source.signin.tokens.requests == 1


@pytest.mark.servers
def test_a_token_that_expires_mid_run_is_obtained_again(
    dovecot: DovecotServer, token_endpoint: TokenEndpoint
) -> None:
    """A long run outlives its token: the next sign-in (a reconnect) gets a new one.
    Can fail: the old token is refused by then, so a source that kept it stops."""
    token_endpoint.lifetime = 2
    box = microsoft_box(dovecot, token_endpoint)
    box.box.deliver(plain_message(1), plain_message(2))
    source = box.source()
    items = list(source.items())
    first = token_endpoint.issued[0]
    # Wait out the token's own expiry on the server's clock (Dovecot counts whole seconds:
    # a token is refused from the second after its exp).
    while time.time() < first.claims["exp"] + 1:
        time.sleep(0.05)
    source.conn.discard()  # the connection drops (a server restart, a network blip)
    assert all(source.delete(item.origin) for item in items)  # a new sign-in, a new token
    assert len(token_endpoint.issued) == 2 and box.box.count() == 0
    client = imapclient.IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=10)
    try:
        with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
            client.oauth2_login(box.user, first.token)  # the first token: refused now
    finally:
        client.shutdown()


@pytest.mark.e2e
def test_a_revoked_secret_stops_check_and_run_naming_the_fix(
    dovecot: DovecotServer, token_endpoint: TokenEndpoint, tmp_path: Path
) -> None:
    box = microsoft_box(dovecot, token_endpoint)
    box.box.deliver(plain_message(1))
    assert box.app is not None
    box.app.revoke_secret()
    for command in ("check", "run"):
        result = run_cli(command, box.env(tmp_path))
        assert result.returncode == 3, result.output
        reason = _events(result.stdout)[-1]["reason"]
        assert (
            "AADSTS7000215): the client secret is wrong: set SHITSHOVELA_IMAP__CLIENT_SECRET"
            in (reason)
        )
        assert box.leaks(result.output) == []
    assert box.box.count() == 1 and dovecot_logins(dovecot, box.user) == []


@pytest.mark.e2e
def test_a_token_for_another_mailbox_is_refused_naming_the_exchange_grant(
    dovecot: DovecotServer, token_endpoint: TokenEndpoint, tmp_path: Path
) -> None:
    box = microsoft_box(dovecot, token_endpoint, granted="someone.else@example.com")
    box.box.deliver(plain_message(1))
    assert box.app is not None
    for command in ("check", "run"):
        result = run_cli(command, box.env(tmp_path))
        assert result.returncode == 3, result.output
        reason = _events(result.stdout)[-1]["reason"]
        assert "[AUTHENTICATIONFAILED]" in reason
        principal = box.app.service_principal_id
        assert (
            f"New-ServicePrincipal -AppId {box.app.client_id} -ObjectId {principal}; "
            f"Add-MailboxPermission -Identity {box.user} -User {principal} -AccessRights "
            "FullAccess"
        ) in reason
        assert box.leaks(result.output) == []
    assert box.box.count() == 1


@pytest.mark.e2e
@pytest.mark.alone
def test_a_hanging_token_endpoint_cannot_hold_the_run_past_its_deadline(
    dovecot: DovecotServer, token_endpoint: TokenEndpoint, tmp_path: Path, fault_proxy: Any
) -> None:
    box = microsoft_box(dovecot, token_endpoint)
    box.box.deliver(plain_message(1))
    hung = fault_proxy(token_endpoint, Script(default=Hang()))
    started = time.monotonic()
    result = run_cli("run", box.env(tmp_path, max_runtime=8, AUTHORITY=hung.url))
    elapsed = time.monotonic() - started
    assert result.returncode == 3, result.output
    assert elapsed < 8 + 1.0  # the process start is a little before ours
    last = _events(result.stdout)[-1]
    assert last["event"] == "run_failed" and "imap token endpoint" in last["reason"]
    assert "cut off at the deadline" in last["reason"]
    assert box.leaks(result.output) == [] and box.box.count() == 1


@pytest.mark.servers
def test_check_names_missing_consent_and_reports_the_token_never_showing_it(
    dovecot: DovecotServer, token_endpoint: TokenEndpoint
) -> None:
    box = microsoft_box(dovecot, token_endpoint, roles=())
    source = box.source()
    with capture_logs() as logs, pytest.raises(Unreachable) as info:
        source.check()
    assert "the token carries no IMAP.AccessAsApp role" in str(info.value)
    assert "grant admin consent" in str(info.value)
    good = microsoft_box(dovecot, token_endpoint).source()
    with capture_logs() as logs:
        good.check()
    token = token_endpoint.issued[-1].token
    assert [e["event"] for e in logs if e["event"].startswith("token_")] == [
        "token_obtained",
        "token_checked",
    ]
    assert all(token not in str(event) for event in logs)


@pytest.mark.servers
def test_certificates_warn_before_they_expire_and_stop_once_expired(
    dovecot: DovecotServer, token_endpoint: TokenEndpoint
) -> None:
    soon = microsoft_box(dovecot, token_endpoint, credential="certificate", certificate_days=20)
    with capture_logs() as logs:
        soon.source().check()
    assert [e["days_left"] for e in logs if e["event"] == "certificate_expires_soon"] in (
        [19],
        [20],
    )
    expired = microsoft_box(dovecot, token_endpoint, credential="certificate", certificate_days=-3)
    with pytest.raises(Unreachable, match="expired on"):
        expired.source().check()
    assert dovecot_logins(dovecot, expired.user) == []


@pytest.mark.unit
def test_the_sasl_string_and_its_wire_form_are_masked() -> None:
    token = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    redactor = Redactor()
    sasl = sasl_response("XOAUTH2", "box@example.com", token)
    redactor.add(token, sasl)
    line = f"> a0001 AUTHENTICATE XOAUTH2\r\n> {wire_form(sasl)}\r\n"
    scrubbed = redactor.scrub(line)
    assert token not in scrubbed and wire_form(sasl) not in scrubbed and "***" in scrubbed
    assert sasl_response("OAUTHBEARER", "a,b=c@x", token).startswith("n,a=a=2Cb=3Dc@x,\x01")


@pytest.mark.servers
def test_the_leak_check_catches_every_form(
    dovecot: DovecotServer, token_endpoint: TokenEndpoint
) -> None:
    """Can fail: the check the CLI tests rely on finds each secret in each form."""
    box = microsoft_box(dovecot, token_endpoint, credential="certificate")
    tokens = box.source().signin.tokens
    assert tokens is not None
    token = tokens.token().value
    key_line = box.settings["PRIVATE_KEY"].splitlines()[1]
    sasl = sasl_response("OAUTHBEARER", box.user, token)
    for shown in (token, sasl, wire_form(sasl), key_line, box.settings["PRIVATE_KEY"]):
        assert box.leaks(f"log line: {shown}!"), shown[:40]
    secret = microsoft_box(dovecot, token_endpoint)
    assert secret.leaks(json.dumps({"error": secret.settings["CLIENT_SECRET"]}))
    assert box.leaks("nothing to see") == []


@pytest.mark.unit
def test_auth_decides_between_a_password_and_a_token() -> None:
    from shitshovela_imap.config import ImapSettings

    from shitshovela_core.envsettings import build_settings
    from shitshovela_core.errors import ConfigError

    def found(**values: Any) -> list[str]:
        base = {"HOST": "imap.example.com", "USERNAME": "support@example.com", **values}
        try:
            build_settings(ImapSettings, "imap", base)
        except ConfigError as exc:
            return exc.problems
        return []

    assert found() == ["SHITSHOVELA_IMAP__AUTH=password needs SHITSHOVELA_IMAP__PASSWORD"]
    assert found(AUTH="xoauth2") == [
        "SHITSHOVELA_IMAP__TOKEN_FROM is not set: say where the access token comes from "
        "(microsoft, google or static)"
    ]
    assert found(
        AUTH="oauthbearer", TOKEN_FROM="static", ACCESS_TOKEN="t0ken.value", PASSWORD="pass word"
    ) == [
        "SHITSHOVELA_IMAP__PASSWORD is set but SHITSHOVELA_IMAP__AUTH=oauthbearer signs in with "
        "an access token (SHITSHOVELA_IMAP__TOKEN_FROM): leave SHITSHOVELA_IMAP__PASSWORD unset"
    ]
    assert found(PASSWORD="pass word", TOKEN_FROM="static", ACCESS_TOKEN="t0ken.value") == [
        "SHITSHOVELA_IMAP__TOKEN_FROM is set but SHITSHOVELA_IMAP__AUTH=password: set "
        "SHITSHOVELA_IMAP__AUTH=xoauth2 (or oauthbearer) to sign in with a token"
    ]
    plain = found(AUTH="xoauth2", TOKEN_FROM="static", ACCESS_TOKEN="t0ken.value", SECURITY="plain")
    assert plain and "would send the access token in clear" in plain[0]
    assert found(AUTH="xoauth2", TOKEN_FROM="static", ACCESS_TOKEN="t0ken.value") == []


@pytest.mark.servers
def test_a_mechanism_the_server_does_not_offer_is_named(
    dovecot: DovecotServer, token_endpoint: TokenEndpoint, tmp_path: Path
) -> None:
    plain_only = DovecotServer(tmp_path / "dovecot", tls=False)  # no oauth2: PLAIN and LOGIN only
    with plain_only:
        box = microsoft_box(plain_only, token_endpoint)
        with pytest.raises(Unreachable) as info:
            box.source().check()
    assert "the server offers no AUTH=XOAUTH2 (it offers LOGIN, PLAIN)" in str(info.value)
    assert "set SHITSHOVELA_IMAP__AUTH to one it offers" in str(info.value)
