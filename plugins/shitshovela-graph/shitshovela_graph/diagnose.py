"""What to fix when Graph refuses the app: one line per usual failure, naming the setting.

`refusal` reads a refused answer (``401``, ``403``, ``404`` on the mailbox) as the
failure it usually is, and `missing_permission` reads a token's ``roles`` claim
(the token's payload read without checking it, for diagnostics only) before
anything is sent. The failures, each with its fix:

- a token Graph does not accept (``401 InvalidAuthenticationToken``): the
  tenant, the client id, the secret or certificate, or a token for another
  resource (``TOKEN_SCOPE``);
- an app without the ``Mail.ReadWrite`` application permission, or without
  admin consent for it (``403 ErrorAccessDenied``; a token that carries
  ``Mail.Read`` but not ``Mail.ReadWrite`` is named before Graph is asked); with
  RBAC for Applications the role is Exchange's and not in the token;
- an app kept out of the mailbox by an application access policy or an RBAC
  for Applications management scope (``403`` with ``[RAOP]``);
- a wrong mailbox (``404 ErrorInvalidUser``), or a user without an Exchange
  Online mailbox (``404 MailboxNotEnabledForRESTAPI``);
- a folder that does not exist (`missing_folder`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from shitshovela_core import AccessToken, env_name

from .answers import GraphError
from .config import GraphSettings

#: The application permission the source needs (read, claim, move, delete).
MAIL_ROLE = "Mail.ReadWrite"


def missing_permission(claims: Mapping[str, Any]) -> str | None:
    """The fix when a token's ``roles`` show an app that may read mail but not write it
    (``Mail.Read`` or ``Mail.ReadBasic`` consented, `MAIL_ROLE` not). None when it has
    `MAIL_ROLE`, when the token says nothing (an opaque token), and when it carries no
    mail role at all: with RBAC for Applications the role is assigned in Exchange, not
    carried in the token (Microsoft asks to remove the unscoped Entra ID grant, which
    would widen it), so Graph's answer decides."""
    roles = claims.get("roles")
    if not isinstance(roles, list) or MAIL_ROLE in roles:
        return None
    mail = [str(r) for r in roles if str(r).startswith("Mail.")]
    if not mail:
        return None
    return (
        f"the token carries {', '.join(mail)} but no {MAIL_ROLE} role: the {MAIL_ROLE} "
        "application permission is missing or not admin-consented (it claims, moves and "
        "deletes messages): in the app registration's API permissions add Microsoft Graph > "
        f"Application permissions > {MAIL_ROLE}, then Grant admin consent; or, with RBAC for "
        f'Applications, assign the app "Application {MAIL_ROLE}" in Exchange'
    )


def grant_hint(app: str, mailbox: str) -> str:
    """How to give the app `MAIL_ROLE` on ``mailbox``: either way Microsoft offers."""
    return (
        f"grant app {app} {MAIL_ROLE}: the application permission with admin consent in "
        "its app registration (then limit it to the mailbox with RBAC for Applications or "
        f'an application access policy), or "Application {MAIL_ROLE}" assigned in Exchange '
        f"with RBAC for Applications (New-ManagementRoleAssignment -App {app} -Role "
        f'"Application {MAIL_ROLE}" -CustomResourceScope <a scope that includes {mailbox}>)'
    )


def unauthorized(
    settings: GraphSettings, provider: str, error: GraphError, token: AccessToken | None
) -> str:
    """The fix for a ``401``: Graph does not accept the token."""

    def env(name: str) -> str:
        return env_name(provider, name)

    claims = token.claims if token is not None else {}
    audience = claims.get("aud")
    seen = f" (the token is for {audience})" if audience else ""
    if claims and not claims.get("roles") and not claims.get("scp"):
        app = str(claims.get("appid") or claims.get("azp") or settings.client_id or "<app id>")
        seen += (
            f"; the token carries no roles (no application permission is consented): "
            f"{grant_hint(app, settings.mailbox)}"
        )
    if settings.token_from == "static":  # noqa: S105  (a platform, not a password)
        sign_in = f"the token in {env('ACCESS_TOKEN')}: a fresh app-only token for Graph"
    else:
        sign_in = (
            f"{env('TENANT')} (the directory the app is registered in), {env('CLIENT_ID')}, "
            f"{env('CLIENT_SECRET')} or {env('CERTIFICATE')}"
        )
    return (
        f"Microsoft Graph refused the access token ({error.describe()}): check {sign_in}, and "
        f"that the token is for Graph: {env('TOKEN_SCOPE')} {settings.token_scope_or_default}"
        f"{seen}"
    )


def refusal(
    settings: GraphSettings,
    provider: str,
    error: GraphError,
    token: AccessToken | None,
    scrub: Callable[[str], str] | None = None,
) -> str | None:
    """The fix for a ``403`` or for a ``404`` about the mailbox itself; None for any
    other answer (the caller reads it)."""

    def env(name: str) -> str:
        return env_name(provider, name)

    mailbox = settings.mailbox
    said = error.describe(scrub)
    claims = token.claims if token is not None else {}
    app = str(claims.get("appid") or claims.get("azp") or settings.client_id or "<app id>")
    if error.status == 403 and "RAOP" in error.message.upper():
        return (
            f"Exchange keeps app {app} out of {mailbox} ({said}): an application access policy "
            "or an RBAC for Applications management scope leaves this mailbox out. Add it: "
            f"for RBAC, to the management scope of the app's role assignment (New-ManagementScope "
            f"-RecipientRestrictionFilter matching {mailbox}; New-ManagementRoleAssignment -App "
            f'{app} -Role "Application Mail.ReadWrite" -CustomResourceScope <scope>), for a '
            "policy, to the mail-enabled security group the policy names "
            f"(Add-DistributionGroupMember -Identity <group> -Member {mailbox}); "
            f"Test-ServicePrincipalAuthorization -Identity {app} -Resource {mailbox} shows the "
            f"result, and changes can take an hour to apply; or check {env('MAILBOX')}"
        )
    if error.status == 403:
        lacking = missing_permission(claims)
        if lacking is not None:
            return f"Graph denied access to {mailbox} ({said}): {lacking}"
        return f"Graph denied app {app} access to {mailbox} ({said}): {grant_hint(app, mailbox)}"
    if error.status == 404 and error.code == "ErrorInvalidUser":
        tenant = claims.get("tid") or settings.tenant or "the tenant"
        return (
            f"there is no user {mailbox} in {tenant} ({said}): check {env('MAILBOX')} (the "
            f"mailbox's user principal name or the user's object id) and {env('TENANT')}"
        )
    if error.status == 404 and error.code == "MailboxNotEnabledForRESTAPI":
        return (
            f"user {mailbox} has no Exchange Online mailbox ({said}): it has no licence with "
            "Exchange Online, or its mailbox is on-premises or inactive; check "
            f"{env('MAILBOX')} (a shared mailbox needs no licence)"
        )
    return None


def missing_folder(settings: GraphSettings, provider: str, folder: str, name: str) -> str:
    """The fix when a configured folder (``name``: ``FOLDER``, ...) does not exist."""
    return (
        f"folder {folder!r} does not exist in {settings.mailbox}: check "
        f"{env_name(provider, name)} (a well-known name such as inbox or archive, or a path of "
        "display names from the mailbox's root, such as Inbox/Support)"
    )
