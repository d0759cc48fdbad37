"""Test helpers for app-only OAuth2 sign-in: a mailbox on the test Dovecot, an app (or a
service account) at the token endpoint stand-in that may open it, and the real CLI.

::

    box = microsoft_box(dovecot, endpoint, auth="oauthbearer", credential="certificate")
    result = run_cli("check", box.env(tmp_path))
    assert result.returncode == 0 and not box.leaks(result.output)

`OAuthBox.leaks` lists every secret of the box found in a text: the client
secret, the private key (whole, JSON-escaped, each base64 line), every token the
stand-in handed out, and the SASL strings built from them in their wire form.
"""

from __future__ import annotations

import base64
import itertools
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imapkit import Mailbox
from shitshovela_imap.signin import sasl_response
from shitshovela_testkit import jobenv
from shitshovela_testkit.tokenendpoint import (
    TENANT_ID,
    GoogleServiceAccount,
    MicrosoftApp,
    TokenEndpoint,
    make_certificate,
)
from shitshovela_testservers.dovecot import DovecotServer

from shitshovela_core.credentials import secret_forms

_boxes = itertools.count()

#: The client secret every app gets unless told otherwise (a TOML number, a '~').
CLIENT_SECRET = "1e3~Qx8Q~client-secret-Value.f00"


@dataclass
class OAuthBox:
    """A mailbox, and the app or service account that signs in to it."""

    box: Mailbox
    endpoint: TokenEndpoint
    settings: dict[str, Any]
    app: MicrosoftApp | None = None
    account: GoogleServiceAccount | None = None
    secrets: list[str] = field(default_factory=list)

    @property
    def user(self) -> str:
        """The mailbox's address (the login)."""
        return self.box.user

    def source(self, **overrides: Any) -> Any:
        """An `ImapSource` signing in with a token (in this process)."""
        return self.box.source(**{**self.settings, **overrides})

    def env(self, tmp_path: Path, *, max_runtime: int = 30, **overrides: Any) -> dict[str, str]:
        """The environment of a real ``shitshovela`` run into a JSON-lines tracker."""
        values = {
            "HOST": self.box.server.host,
            "PORT": self.box.server.port,
            "SECURITY": "plain",
            "USERNAME": self.user,
            "SET_ASIDE_FOLDER": "SetAside",
            **self.settings,
            **overrides,
        }
        values.pop("PASSWORD", None)
        return jobenv.job_env(
            jobenv.core(f"oauth{next(_boxes)}", max_runtime=max_runtime),
            jobenv.ticket_system("jsonl", PATH=str(tmp_path / "tickets.jsonl")),
            jobenv.source("imap", **values),
        )

    def leaks(self, text: str) -> list[str]:
        """Every secret of this box that ``text`` shows (names, not values)."""
        found = [f"secret #{n}" for n, s in enumerate(self.secrets) if s and s in text]
        for n, token in enumerate(self.endpoint.tokens()):
            forms = [token]
            for mechanism in ("XOAUTH2", "OAUTHBEARER"):
                sasl = sasl_response(mechanism, self.user, token)
                forms += [sasl, base64.b64encode(sasl.encode()).decode()]
            found += [f"token #{n}" for form in forms if form in text]
        return found


def _user(dovecot: DovecotServer) -> Mailbox:
    user = f"box{next(_boxes)}@example.com"
    dovecot.add_user(user, f"pw {user}")
    return Mailbox(dovecot, user)


def microsoft_box(
    dovecot: DovecotServer,
    endpoint: TokenEndpoint,
    *,
    auth: str = "xoauth2",
    credential: str = "secret",
    granted: str | None = None,
    roles: tuple[str, ...] = ("IMAP.AccessAsApp",),
    certificate_days: float = 365,
) -> OAuthBox:
    """A mailbox and an app registered at the stand-in, granted that mailbox (or
    ``granted``), signing in with a client secret or a certificate."""
    box = _user(dovecot)
    settings: dict[str, Any] = {
        "AUTH": auth,
        "PASSWORD": "",
        "TOKEN_FROM": "microsoft",
        "TENANT": TENANT_ID,
        "AUTHORITY": endpoint.authority,
    }
    secrets: list[str] = []
    if credential == "secret":
        app = endpoint.register_app(secret=CLIENT_SECRET, roles=roles, mailbox=granted or box.user)
        settings["CLIENT_SECRET"] = CLIENT_SECRET
        secrets.append(CLIENT_SECRET)
    else:
        cert, key = make_certificate(days=certificate_days)
        app = endpoint.register_app(certificates=[cert], roles=roles, mailbox=granted or box.user)
        settings.update(CERTIFICATE=cert, PRIVATE_KEY=key)
        secrets += secret_forms(key)
    settings["CLIENT_ID"] = app.client_id
    return OAuthBox(box, endpoint, settings, app=app, secrets=secrets)


def google_box(
    dovecot: DovecotServer, endpoint: TokenEndpoint, *, auth: str = "xoauth2"
) -> OAuthBox:
    """A mailbox and a service account delegated to act for it."""
    box = _user(dovecot)
    account = endpoint.add_service_account(users=[box.user])
    key_json = account.key_json()
    settings = {
        "AUTH": auth,
        "PASSWORD": "",
        "TOKEN_FROM": "google",
        "SERVICE_ACCOUNT_KEY": key_json,
    }
    key = account.keys[next(iter(account.keys))]
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return OAuthBox(box, endpoint, settings, account=account, secrets=[*secret_forms(pem)])


@dataclass
class CliResult:
    """A finished ``shitshovela`` process."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """Everything it printed."""
        return self.stdout + self.stderr


def run_cli(command: str, env: dict[str, str], *, timeout: float = 120) -> CliResult:
    """Run ``shitshovela <command>`` (``check``, ``run``) to its end."""
    result = subprocess.run(
        [sys.executable, "-m", "shitshovela_core", *command.split()],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    return CliResult(result.returncode, result.stdout, result.stderr)


def dovecot_logins(dovecot: DovecotServer, user: str) -> list[str]:
    """The SASL mechanisms of ``user``'s successful token sign-ins, from Dovecot's log
    (the test's own password logins, PLAIN, are left out)."""
    methods = []
    for line in dovecot.log_file.read_text(errors="replace").splitlines():
        if "imap-login: Info: Login:" in line and f"user=<{user}>" in line:
            methods.append(line.split("method=", 1)[1].split(",", 1)[0])
    return [m for m in methods if m != "PLAIN"]
