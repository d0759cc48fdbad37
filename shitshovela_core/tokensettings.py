"""The settings of app-only OAuth2 sign-in: `OAuthSettings`, a mixin for a provider's class.

A provider that signs in with an access token (the IMAP source with
``AUTH=xoauth2``, a Graph mail source) adds `OAuthSettings` to its settings
class's bases and gets one set of settings for every identity platform::

    @attrs.frozen(kw_only=True)
    class MailSettings(ProviderSettings, TlsSettings, OAuthSettings):
        ...
        def problems(self, env: EnvName) -> Iterator[str]:
            yield from self.token_problems(env, required=True)

``TOKEN_FROM`` picks where the token comes from: ``microsoft`` (the client
credentials flow with ``TENANT``, ``CLIENT_ID`` and ``CLIENT_SECRET`` or
``CERTIFICATE``/``PRIVATE_KEY``, at ``AUTHORITY``), ``google`` (a service
account's ``SERVICE_ACCOUNT_KEY`` with domain-wide delegation) or ``static``
(``ACCESS_TOKEN``, obtained by something else). `token_problems` checks the
combination and reads the key material (`shitshovela_core.credentials`), so a
missing file or a key that does not match its certificate is reported with
every other problem of the run, before anything is contacted (exit 2).
`shitshovela_core.tokens.token_provider` builds the provider from these.

This module is imported by plugins' entry points (through their settings
classes): standard library and the core's settings only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from typing import Literal
from urllib.parse import urlsplit

import attrs

from .settings import LISTED_AFTER_OWN, EnvName, Settings, setting

#: The Microsoft identity platform's authority in the global cloud.
MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"

#: Where a token can come from (``TOKEN_FROM``).
TokenFrom = Literal["microsoft", "google", "static"]

#: The settings each ``TOKEN_FROM`` reads (other platforms' settings are refused).
_PLATFORM_SETTINGS: dict[str, tuple[str, ...]] = {
    "microsoft": ("TENANT", "CLIENT_ID", "CLIENT_SECRET", "CERTIFICATE", "PRIVATE_KEY"),
    "google": ("SERVICE_ACCOUNT_KEY",),
    "static": ("ACCESS_TOKEN",),
}


def _strip(value: object) -> str:
    return str(value).strip()


def is_loopback_url(url: str) -> bool:
    """True when ``url``'s host is ``localhost`` or a loopback address."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint_problem(url: str) -> str | None:
    """Why ``url`` cannot be a token endpoint (not https, unless on loopback), or None."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and is_loopback_url(url):
        return None
    return "must be an https:// URL (plain http only to a loopback address): it carries the secret"


@attrs.frozen(slots=False, kw_only=True)
class OAuthSettings(Settings):
    """A mixin: the settings of app-only sign-in with an access token (see the module
    docstring). The provider decides when a token is needed (`token_problems`)."""

    token_from: Literal["microsoft", "google", "static"] | None = setting(
        default=None,
        choices=("microsoft", "google", "static"),
        help="Where the access token comes from: microsoft (Entra ID client credentials), "
        "google (a service account with domain-wide delegation) or static (ACCESS_TOKEN).",
    )
    tenant: str = setting(
        kind="str",
        default="",
        converter=_strip,
        help="microsoft: the directory (tenant) ID, or a verified domain such as "
        "contoso.onmicrosoft.com.",
    )
    client_id: str = setting(
        kind="str",
        default="",
        converter=_strip,
        help="microsoft: the app registration's application (client) ID.",
    )
    client_secret: str = setting(
        secret=True,
        ascii_only=True,
        default="",
        help="microsoft: a client secret's value (not its ID); or use CERTIFICATE.",
    )
    certificate: str = setting(
        default="",
        help="microsoft: the app's certificate (PEM), or the path of a PEM file; the file may "
        "hold the private key too.",
    )
    private_key: str = setting(
        secret=True,
        multiline=True,
        default="",
        help="microsoft: the certificate's RSA private key (PEM, no passphrase), or the path of "
        "its file; empty when CERTIFICATE's file holds it.",
    )
    authority: str = setting(
        kind="url",
        default=MICROSOFT_AUTHORITY,
        converter=lambda url: _strip(url).rstrip("/"),
        help="microsoft: the identity platform's authority (national clouds: "
        "https://login.microsoftonline.us, https://login.partner.microsoftonline.cn).",
    )
    service_account_key: str = setting(
        secret=True,
        multiline=True,
        default="",
        help="google: the service account's JSON key, or the path of its file.",
    )
    access_token: str = setting(
        secret=True,
        ascii_only=True,
        default="",
        help="static: an access token obtained by other means (used as it is, never renewed).",
    )
    token_scope: str = setting(
        kind="str",
        default="",
        converter=_strip,
        help="The scope asked for; default: the provider's own (IMAP: "
        "https://outlook.office365.com/.default or https://mail.google.com/).",
    )

    def token_problems(self, env: EnvName, *, required: bool) -> Iterator[str]:
        """Every problem of the token settings: ``TOKEN_FROM`` missing when
        ``required``, the settings its platform needs, settings of another
        platform, key material that cannot be read, an endpoint that is not https."""
        if self.token_from is None:
            if required:
                yield (
                    f"{env('TOKEN_FROM')} is not set: say where the access token comes from "
                    "(microsoft, google or static)"
                )
            yield from self._unused(env, ())
            return
        platform = self.token_from
        yield from self._unused(env, _PLATFORM_SETTINGS[platform])
        if platform == "microsoft":
            yield from self._microsoft_problems(env)
        elif platform == "google":
            yield from self._google_problems(env)
        elif not self.access_token.strip():
            yield f"{env('TOKEN_FROM')}=static needs {env('ACCESS_TOKEN')}"
        elif any(c.isspace() for c in self.access_token.strip()):
            yield f"{env('ACCESS_TOKEN')} must be one token without spaces"

    def problems(self, env: EnvName) -> Iterable[str]:
        """The token settings' problems when ``TOKEN_FROM`` is set (a provider that
        needs a token calls `token_problems` with ``required=True``)."""
        return self.token_problems(env, required=False)

    def _unused(self, env: EnvName, wanted: tuple[str, ...]) -> Iterator[str]:
        chosen = f"{env('TOKEN_FROM')}={self.token_from}" if self.token_from else None
        for platform, names in _PLATFORM_SETTINGS.items():
            for name in names:
                if name in wanted or not getattr(self, name.lower()):
                    continue
                why = f"{chosen} does not use it" if chosen else f"{env('TOKEN_FROM')} is not set"
                yield f"{env(name)} is set but {why} (it is for {env('TOKEN_FROM')}={platform})"

    def _microsoft_problems(self, env: EnvName) -> Iterator[str]:
        for name in ("TENANT", "CLIENT_ID"):
            if not getattr(self, name.lower()):
                yield f"{env('TOKEN_FROM')}=microsoft needs {env(name)}"
        has_secret, has_cert = bool(self.client_secret), bool(self.certificate.strip())
        if has_secret == has_cert:
            yield (
                f"{env('TOKEN_FROM')}=microsoft needs exactly one credential: "
                f"{env('CLIENT_SECRET')} or {env('CERTIFICATE')}"
                + (" (both are set)" if has_secret else "")
            )
        if self.private_key and not has_cert:
            yield f"{env('PRIVATE_KEY')} is set without {env('CERTIFICATE')}"
        if has_cert:
            from .credentials import load_certificate

            try:
                load_certificate(self.certificate, self.private_key)
            except ValueError as exc:
                yield f"{env('CERTIFICATE')}: {exc}"
        problem = endpoint_problem(self.authority)
        if problem:
            yield f"{env('AUTHORITY')} {problem}"

    def _google_problems(self, env: EnvName) -> Iterator[str]:
        if not self.service_account_key.strip():
            yield f"{env('TOKEN_FROM')}=google needs {env('SERVICE_ACCOUNT_KEY')}"
            return
        from .credentials import load_service_account_key

        try:
            key = load_service_account_key(self.service_account_key)
        except ValueError as exc:
            yield f"{env('SERVICE_ACCOUNT_KEY')} {exc}"
            return
        problem = endpoint_problem(key.token_uri)
        if problem:
            yield f"{env('SERVICE_ACCOUNT_KEY')}: its token_uri {problem}"


LISTED_AFTER_OWN.append(OAuthSettings)
