"""Signing in to the IMAP server: a password, or an access token with SASL XOAUTH2 or OAUTHBEARER.

`SignIn.login` is what `ImapConnection` calls once connected: ``LOGIN`` (or
``AUTHENTICATE PLAIN`` for non-ASCII) with ``AUTH=password``; otherwise it asks
the run's `TokenProvider` for a token (obtained once per run, again only when it
would expire first) and sends ``AUTHENTICATE XOAUTH2`` or ``AUTHENTICATE
OAUTHBEARER``. The SASL string holds the token: it and its base64 form (what
goes on the wire) are added to the run's redactor before anything is sent, so no
log line, error or traceback can show them.

A refused sign-in raises `LoginRefused` (imapclient's ``LoginError``), whose
message names the fix: for a Microsoft 365 token, the Exchange Online grant
that is usually missing (the app's service principal and its mailbox
permission, with the service principal's object id taken from the token) or
the ``IMAP.AccessAsApp`` role when the token carries none; for Google, the
domain-wide delegation; for a password, the password. `check_token` is
`check`'s report: the token's identity and expiry, never the token.
"""

from __future__ import annotations

import base64
import imaplib
import json
from typing import TYPE_CHECKING, Any

from imapclient.exceptions import LoginError  # type: ignore[import-untyped]

from shitshovela_core import AccessToken, TokenProvider, Unreachable, env_name

from .config import ImapSettings

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from shitshovela_core import Redactor

#: The application permission Exchange Online wants in an app-only IMAP token.
IMAP_ROLE = "IMAP.AccessAsApp"


#: What a connection that died during the sign-in leaves as the context of imapclient's
#: ``LoginError`` (a lost command, not a refusal: `ImapConnection`'s classifier reads it).
_LOST = (imaplib.IMAP4.abort, OSError, EOFError)


class LoginRefused(LoginError):  # type: ignore[misc]
    """The server refused the sign-in; the message says what to fix."""


def sasl_response(mechanism: str, user: str, token: str) -> str:
    """The client's first SASL response for ``mechanism`` (``XOAUTH2``, ``OAUTHBEARER``)."""
    if mechanism == "XOAUTH2":
        return f"user={user}\x01auth=Bearer {token}\x01\x01"
    authzid = user.replace("=", "=3D").replace(",", "=2C")
    return f"n,a={authzid},\x01auth=Bearer {token}\x01\x01"


class SaslConversation:
    """One ``AUTHENTICATE`` conversation for imapclient's ``sasl_login``.

    The first challenge (empty: both mechanisms are client-first) gets the
    SASL string; a later one is the server's error (a JSON document), which
    is kept in `error` and answered as the mechanism asks (XOAUTH2: an empty
    line; OAUTHBEARER: ``%x01``, RFC 7628 3.2.3), so the server ends with a
    tagged NO instead of waiting."""

    def __init__(self, mechanism: str, initial: str) -> None:
        self.mechanism = mechanism
        self._initial = initial
        self.steps = 0
        #: The server's error document, when it sent one.
        self.error: dict[str, Any] = {}

    def __call__(self, challenge: bytes) -> bytes:
        """The response to the server's ``challenge`` (already base64-decoded)."""
        self.steps += 1
        if self.steps == 1:
            return self._initial.encode("utf-8")
        try:
            found = json.loads(challenge.decode("utf-8", "replace") or "{}")
        except ValueError:
            found = {"detail": challenge[:200].decode("utf-8", "replace")}
        self.error = found if isinstance(found, dict) else {"detail": str(found)}
        return b"" if self.mechanism == "XOAUTH2" else b"\x01"


class SignIn:
    """How one IMAP source signs in (see the module docstring)."""

    def __init__(
        self,
        settings: ImapSettings,
        tokens: TokenProvider | None,
        redactor: Redactor,
        provider: str = "imap",
    ) -> None:
        self.settings = settings
        self.tokens = tokens
        self.redactor = redactor
        self.provider = provider

    @property
    def mechanism(self) -> str:
        """``LOGIN``, ``XOAUTH2`` or ``OAUTHBEARER``."""
        return "LOGIN" if self.settings.auth == "password" else self.settings.auth.upper()

    def env(self, name: str) -> str:
        """The variable of one of this source's settings."""
        return env_name(self.provider, name)

    def token(self) -> AccessToken | None:
        """The token to sign in with now (None with a password); may ask the platform."""
        return None if self.tokens is None else self.tokens.token()

    def login(self, client: Any, token: AccessToken | None) -> None:
        """Sign ``client`` in; `LoginRefused` naming the fix when the server refuses.

        ``token`` is `token`'s, obtained before the connection was opened (so a
        slow token endpoint never holds an IMAP connection open)."""
        settings = self.settings
        if token is None:
            try:
                if settings.password.isascii() and settings.username.isascii():
                    client.login(settings.username, settings.password)
                else:  # imaplib's LOGIN sends ASCII only; AUTHENTICATE PLAIN sends UTF-8
                    client.plain_login(settings.username, settings.password)
            except LoginError as exc:
                if isinstance(exc.__context__, _LOST):
                    raise
                raise self._refused(exc, None, {}) from None
            return
        initial = sasl_response(self.mechanism, settings.username, token.value)
        self.redactor.add(initial)  # and its base64 form: what goes on the wire
        conversation = SaslConversation(self.mechanism, initial)
        try:
            client.sasl_login(self.mechanism, conversation)
        except LoginError as exc:
            if isinstance(exc.__context__, _LOST):
                raise
            offered = _offered_mechanisms(client)
            if offered is not None and self.mechanism not in offered:
                raise LoginRefused(
                    f"the server offers no AUTH={self.mechanism} (it offers "
                    f"{', '.join(sorted(offered)) or 'none'}): set {self.env('AUTH')} to one it "
                    "offers"
                ) from None
            raise self._refused(exc, token, conversation.error) from None

    def _refused(
        self, exc: LoginError, token: AccessToken | None, error: dict[str, Any]
    ) -> LoginRefused:
        server = self.redactor.scrub(str(exc))[:300]
        detail = f" {self.redactor.scrub(json.dumps(error, sort_keys=True))[:200]}" if error else ""
        return LoginRefused(f"{server}{detail}; {self.hint(token, server)}")

    def hint(self, token: AccessToken | None, server: str = "") -> str:
        """What to fix when the server refused this sign-in."""
        mailbox = self.settings.username
        if token is None:
            return f"check {self.env('USERNAME')} and {self.env('PASSWORD')}"
        if "UNAVAILABLE" in server.upper():
            return (
                "the server could not check the token (a temporary failure on its side, or a "
                "token it cannot read): try again later; if it stays, check "
                f"{self.env('TOKEN_FROM')} and {self.env('TOKEN_SCOPE')}"
            )
        platform = self.tokens.platform if self.tokens is not None else ""
        if platform == "microsoft":
            return microsoft_hint(token, mailbox, self.env)
        if platform == "google":
            return (
                f"the token for {mailbox} was refused: check that the service account's "
                "domain-wide delegation grants https://mail.google.com/, that IMAP is on for "
                f"{mailbox} (Admin console > Apps > Google Workspace > Gmail > End User Access), "
                f"and that {self.env('USERNAME')} is that user's primary address"
            )
        return (
            f"the server refused the token in {self.env('ACCESS_TOKEN')} for {mailbox}: check "
            "that it is for this server and this mailbox and has not expired"
        )


def _offered_mechanisms(client: Any) -> set[str] | None:
    """The SASL mechanisms the server announced before the sign-in (``AUTH=...``
    capabilities), or None when it announced none to read."""
    announced = getattr(getattr(client, "_imap", None), "capabilities", None)
    if not announced:
        return None
    names = {str(c).upper() for c in announced}
    return {name.removeprefix("AUTH=") for name in names if name.startswith("AUTH=")}


def microsoft_hint(token: AccessToken, mailbox: str, env: Any) -> str:
    """What to fix when Exchange Online refuses an app-only token for ``mailbox``.

    A token without the ``IMAP.AccessAsApp`` role lacks the permission or its
    admin consent; otherwise the app's service principal was not registered in
    Exchange or not granted the mailbox (the two PowerShell steps, with the
    service principal's object id when the token names it)."""
    roles = token.claims.get("roles")
    has_role = isinstance(roles, list) and IMAP_ROLE in roles
    if token.claims and not has_role:
        return missing_role_hint()
    app = str(token.claims.get("appid") or token.claims.get("azp") or "<application (client) ID>")
    principal = str(token.claims.get("oid") or "<Enterprise application's object ID>")
    return (
        f"Exchange Online refused the app for {mailbox}: register its service principal and "
        f"grant it the mailbox in Exchange Online PowerShell: New-ServicePrincipal -AppId {app} "
        f"-ObjectId {principal}; Add-MailboxPermission -Identity {mailbox} -User {principal} "
        f"-AccessRights FullAccess (it can take a while to apply); and check that "
        f"{env('USERNAME')} is the mailbox's address"
    )


def missing_role_hint() -> str:
    """The fix for a Microsoft token without the IMAP.AccessAsApp role."""
    return (
        f"the token carries no {IMAP_ROLE} role: in the app registration's API permissions add "
        f"Office 365 Exchange Online > Application permissions > {IMAP_ROLE}, then grant admin "
        "consent"
    )


def check_token(signin: SignIn, log: FilteringBoundLogger) -> AccessToken | None:
    """`check`'s report of the token: obtain one, log its identity and expiry (never the
    token), and stop at a Microsoft token that lacks the IMAP role. None with a password."""
    tokens = signin.tokens
    if tokens is None:
        return None
    token = tokens.token()
    roles = token.claims.get("roles")
    log.info(
        "token_checked",
        platform=tokens.platform,
        identity=token.identity,
        mailbox=signin.settings.username,
        mechanism=signin.mechanism,
        expires=token.describe_expiry(),
        roles=roles if isinstance(roles, list) else None,
    )
    has_role = isinstance(roles, list) and IMAP_ROLE in roles
    if tokens.platform == "microsoft" and token.claims and not has_role:
        raise Unreachable(f"{token.identity}: {missing_role_hint()}")
    return token


def wire_form(text: str) -> str:
    """``text`` as imaplib sends a SASL response: base64 (for tests of the redaction)."""
    return base64.b64encode(text.encode("utf-8")).decode("ascii")
