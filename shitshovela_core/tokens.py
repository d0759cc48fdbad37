"""App-only access tokens for one run: `TokenProvider` and the identity platforms it speaks to.

A provider that signs in with OAuth2 (the IMAP source's XOAUTH2 and
OAUTHBEARER, a Graph mail source) asks ``tokens.token()`` for an
`AccessToken` whenever it signs in. The token is obtained on the first ask and
kept in memory; it is obtained again only when it would expire before it is
used (the last tenth of its lifetime, at most `RENEW_BEFORE` seconds, is
treated as expired), so a run shorter than a token's life asks once, and a
long one asks again only when a new sign-in needs it. There is no refresh
token and nothing is written to disk: every run starts from the credentials in
its settings (`shitshovela_core.tokensettings.OAuthSettings`).

- `MicrosoftTokens`: the Microsoft identity platform's v2.0 client
  credentials flow (``POST {authority}/{tenant}/oauth2/v2.0/token``), with a
  client secret or a certificate (a signed client assertion, RS256, ``x5t``
  the certificate's SHA-1 thumbprint);
- `GoogleTokens`: a service account's JWT-bearer grant with domain-wide
  delegation (``sub`` is the mailbox);
- `StaticToken`: a token from the environment, used as it is.

Every request goes through the core's `HttpClient` under a safety policy of its
own (the token endpoint is another system than the provider's): the run's
deadline and budget, a rate limit, retries for lost or failed answers (a token
request changes nothing, so it may be repeated), the breaker, and redaction.
Secrets (client secret, private key, assertion, token) are added to the
provider's redactor before they are used. A refusal becomes `Unreachable` with
one line that names the fix (an expired secret, an unknown app or tenant, a
certificate that is not the app's, missing delegation), so that `check` and
`run` stop with exit 3 saying what to do. The protocol is spoken by hand
rather than through MSAL or google-auth: it is one form POST each, and their
own HTTP stacks (requests, urllib3) would escape the deadline transport and
the rate limit (see the README, "Tokens").
"""

from __future__ import annotations

import datetime
import re
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import attrs

from .credentials import (
    CertificateCredential,
    ServiceAccountKey,
    load_certificate,
    load_service_account_key,
    peek_claims,
)
from .errors import ConfigError, Unreachable
from .safehttp import HttpClient, answer_detail
from .safety import SafetyPolicy
from .settings import env_name

if TYPE_CHECKING:
    import httpx
    from structlog.typing import FilteringBoundLogger

    from .deadline import Budget
    from .providers import ProviderContext
    from .redact import Redactor
    from .tokensettings import OAuthSettings

#: The most seconds before its expiry that a token is treated as expired.
RENEW_BEFORE = 60.0
#: Requests a second to a token endpoint (they are few: one a run, as a rule).
TOKEN_RATE = 5.0
#: Seconds one token request may take (clipped to the run's time left).
TOKEN_TIMEOUT = 30.0
#: How long a signed assertion is valid (Microsoft's client assertion, Google's grant).
ASSERTION_LIFETIME = 600
#: Days before a certificate's expiry from which every run warns.
CERTIFICATE_WARNING_DAYS = 30

#: Microsoft's client-assertion type (RFC 7523 client authentication).
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: The JWT-bearer grant (RFC 7523), as Google's service accounts use it.
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@attrs.frozen
class AccessToken:
    """An access token obtained for this run: kept in memory, never written anywhere.

    ``expires_at`` is on the run's monotonic clock (`Budget.clock`); ``expires``
    is the same moment in UTC for messages (None when unknown: an opaque
    static token). ``identity`` says whom the token speaks for (an app in a
    tenant, a service account for a mailbox). ``claims`` are the token's
    payload when it is a JWT, read without checking it, for diagnostics only.
    """

    value: str = attrs.field(repr=False)
    expires_at: float
    expires: datetime.datetime | None
    lifetime: float | None
    identity: str
    claims: Mapping[str, Any] = attrs.field(factory=dict, repr=False)

    def describe_expiry(self) -> str:
        """``2026-11-30T04:50:00Z``, or ``unknown``."""
        if self.expires is None:
            return "unknown"
        return self.expires.strftime("%Y-%m-%dT%H:%M:%SZ")


class TokenProvider(ABC):
    """Access tokens for one provider's sign-in, at most one request per token lifetime.

    `token` returns the token obtained earlier in the run while it is fresh,
    else obtains one (`obtain`, the platform's protocol). ``platform`` names the
    identity platform (``microsoft``, ``google``, ``static``), ``identity`` whom
    the tokens speak for; ``requests`` counts the tokens obtained in this run.
    """

    #: The identity platform (the ``TOKEN_FROM`` value).
    platform: str = ""

    def __init__(
        self,
        *,
        identity: str,
        budget: Budget,
        redactor: Redactor,
        log: FilteringBoundLogger,
        owner: str,
    ) -> None:
        self.identity = identity
        self.budget = budget
        self.redactor = redactor
        self.log = log
        #: The provider whose settings these are (``imap``): names variables in messages.
        self.owner = owner
        #: How many tokens were obtained in this run (tests and benchmarks read it).
        self.requests = 0
        self._token: AccessToken | None = None

    def env(self, name: str) -> str:
        """The variable of the owner's setting ``name`` (``SHITSHOVELA_IMAP__TENANT``)."""
        return env_name(self.owner, name)

    def token(self) -> AccessToken:
        """A token to sign in with now: the one already obtained while it is fresh,
        else a new one. Raises `Unreachable` (refused, with the fix), `CutOff` or
        `DeadlineReached` (the endpoint did not answer in time)."""
        current = self._token
        if current is not None and not self.stale(current):
            return current
        token = self.obtain()
        self.redactor.add(token.value)
        self._token = token
        self.requests += 1
        self.log.info(
            "token_obtained",
            platform=self.platform,
            identity=token.identity,
            expires=token.describe_expiry(),
            expires_in=None if token.lifetime is None else round(token.lifetime),
        )
        return token

    def renew(self, refused: AccessToken) -> bool:
        """The system refused ``refused`` (an HTTP 401 mid-run: revoked, or its
        signing keys rolled over): forget it, so that the next `token` obtains a
        new one. True when a new one can be obtained, False when there is no other
        token to get (`StaticToken`). A provider asks again once at most per
        refusal, so a platform that keeps issuing refused tokens costs one more
        request, not a loop."""
        if self._token is not None and self._token.value == refused.value:
            self._token = None
        return True

    def stale(self, token: AccessToken) -> bool:
        """True when ``token`` is too close to its expiry to sign in with: less than a
        tenth of its lifetime, at most `RENEW_BEFORE` seconds, is left."""
        if token.lifetime is None:
            return self.budget.clock() >= token.expires_at
        margin = min(RENEW_BEFORE, token.lifetime / 10)
        return self.budget.clock() >= token.expires_at - margin

    @abstractmethod
    def obtain(self) -> AccessToken:
        """Ask the identity platform for a new token (the protocol); raise `Unreachable`
        with the fix when it refuses."""

    def close(self) -> None:
        """Release the connection to the token endpoint (nothing by default)."""

    # -- helpers for the protocols ---------------------------------------------------------

    def _made(self, value: str, lifetime: float | None, identity: str = "") -> AccessToken:
        """An `AccessToken` for ``value``, valid for ``lifetime`` seconds from now (or
        until the ``exp`` the token carries, when it is a JWT and that is sooner)."""
        claims = peek_claims(value)
        now = self.budget.clock()
        if isinstance(claims.get("exp"), int | float):  # the token's own word, if earlier
            left = float(claims["exp"]) - time.time()
            lifetime = left if lifetime is None else min(lifetime, left)
        expires = None
        if lifetime is not None:
            expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=lifetime)
        return AccessToken(
            value=value,
            expires_at=now + lifetime if lifetime is not None else float("inf"),
            expires=expires,
            lifetime=lifetime,
            identity=identity or self.identity,
            claims=claims,
        )


class _EndpointTokens(TokenProvider):
    """A token provider that asks an HTTP token endpoint (a form POST, a JSON answer)."""

    def __init__(self, http: HttpClient, token_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.http = http
        self.token_url = token_url

    def _post(self, form: Mapping[str, str], what: str) -> httpx.Response:
        return self.http.request(
            "POST",
            urlsplit(self.token_url).path or "/",
            idempotent=True,  # a token request changes nothing: a lost answer may be asked again
            what=what,
            data=dict(form),
            headers={"Accept": "application/json"},
        )

    def _answer(self, response: httpx.Response) -> AccessToken:
        """The token of a 200 answer (or `Unreachable` naming what came instead)."""
        scrub = self.redactor.scrub
        try:
            body = response.json()
        except ValueError:
            body = None
        value = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(value, str) or not value:
            raise Unreachable(
                f"{self.platform}: the token endpoint answered {response.status_code} without "
                f"an access token ({answer_detail(response, scrub=scrub) or 'empty'})"
            )
        self.redactor.add(value)
        lifetime = body.get("expires_in") if isinstance(body, dict) else None
        try:
            seconds = float(lifetime) if lifetime is not None else None
        except (TypeError, ValueError):
            seconds = None
        return self._made(value, seconds)

    @staticmethod
    def _error(response: httpx.Response) -> tuple[str, str]:
        """``(error, error_description)`` of an OAuth error answer (empty when absent)."""
        try:
            body = response.json()
        except ValueError:
            return "", ""
        if not isinstance(body, dict):
            return "", ""
        return str(body.get("error") or ""), str(body.get("error_description") or "")

    def close(self) -> None:
        """Close the HTTP client."""
        self.http.close()


# -- Microsoft ------------------------------------------------------------------------------

_AADSTS = re.compile(r"AADSTS(\d+)")


class MicrosoftTokens(_EndpointTokens):
    """The Microsoft identity platform's client credentials flow (v2.0 endpoint).

    Authenticates the app with ``client_secret``, or with ``certificate`` as a
    client assertion: a JWT signed RS256 with the certificate's key, header
    ``x5t`` (the certificate's base64url SHA-1 thumbprint), claims ``aud`` (the
    token URL), ``iss`` = ``sub`` (the client id), ``jti``, ``nbf``, ``iat`` and
    ``exp``. A certificate that expires within `CERTIFICATE_WARNING_DAYS` is
    warned about every run; an expired one is refused before it is sent.
    """

    platform = "microsoft"

    def __init__(
        self,
        http: HttpClient,
        *,
        authority: str,
        tenant: str,
        client_id: str,
        scope: str,
        client_secret: str = "",
        certificate: CertificateCredential | None = None,
        **kwargs: Any,
    ) -> None:
        token_url = f"{authority.rstrip('/')}/{quote(tenant, safe='')}/oauth2/v2.0/token"
        super().__init__(http, token_url, **kwargs)
        self.tenant = tenant
        self.client_id = client_id
        self.scope = scope
        self.client_secret = client_secret
        self.certificate = certificate
        if certificate is not None:
            self.warn_about_certificate()

    def warn_about_certificate(self) -> None:
        """Log a warning when the certificate expires within `CERTIFICATE_WARNING_DAYS`."""
        cert = self.certificate
        if cert is None:
            return
        days = cert.days_left()
        if 0 <= days < CERTIFICATE_WARNING_DAYS:
            self.log.warning(
                "certificate_expires_soon",
                expires=cert.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
                days_left=int(days),
                thumbprint=cert.thumbprint_hex,
                note=f"upload a new certificate to the app registration (Certificates & "
                f"secrets) and set {self.env('CERTIFICATE')} to it before it expires",
            )

    def obtain(self) -> AccessToken:
        """POST the client credentials grant; the token, or `Unreachable` with the fix."""
        form = {"grant_type": "client_credentials", "client_id": self.client_id}
        form["scope"] = self.scope
        if self.certificate is not None:
            form["client_assertion_type"] = CLIENT_ASSERTION_TYPE
            form["client_assertion"] = self._assertion(self.certificate)
        else:
            form["client_secret"] = self.client_secret
        response = self._post(form, f"token request to Microsoft for app {self.client_id}")
        if response.status_code != 200:
            raise Unreachable(self._explain(response))
        return self._answer(response)

    def _assertion(self, cert: CertificateCredential) -> str:
        if cert.days_left() < 0:
            raise Unreachable(
                f"microsoft: the certificate {cert.thumbprint_hex} ({self.env('CERTIFICATE')}) "
                f"expired on {cert.not_after:%Y-%m-%d}: create a new one, upload it to the app "
                f"registration (Certificates & secrets) and set {self.env('CERTIFICATE')} and "
                f"{self.env('PRIVATE_KEY')} to it"
            )
        import jwt

        now = int(time.time())
        claims = {
            "aud": self.token_url,
            "iss": self.client_id,
            "sub": self.client_id,
            "jti": str(uuid.uuid4()),
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        }
        headers = {"x5t": cert.thumbprint, "typ": "JWT"}
        assertion = jwt.encode(claims, cert.key, algorithm="RS256", headers=headers)
        self.redactor.add(assertion)
        return assertion

    def _explain(self, response: httpx.Response) -> str:
        """One line: what Microsoft refused and how to fix it (by the OAuth ``error``,
        refined by the AADSTS code; unknown codes are quoted)."""
        error, description = self._error(response)
        found = _AADSTS.search(description)
        code = found.group(1) if found else ""
        where = f"app {self.client_id} in tenant {self.tenant}"
        fix = ""
        if code in _MICROSOFT_FIXES:
            fix = _fix_text(
                _MICROSOFT_FIXES[code], self.owner, client_id=self.client_id, tenant=self.tenant
            )
        elif error == "invalid_client":
            fix = (
                f"the app's credential was refused: check {self.env('CLIENT_SECRET')} or "
                f"{self.env('CERTIFICATE')}"
            )
        elif error == "unauthorized_client":
            fix = f"check {self.env('CLIENT_ID')} and {self.env('TENANT')}"
        elif error in ("invalid_scope", "invalid_resource"):
            fix = f"check {self.env('TOKEN_SCOPE')} (client credentials need RESOURCE/.default)"
        else:
            detail = description.splitlines()[0] if description else ""
            detail = detail or answer_detail(response, scrub=self.redactor.scrub)
            fix = f"{self.redactor.scrub(detail)[:200] or 'no explanation given'}"
        label = ", ".join(p for p in (error, f"AADSTS{code}" if code else "") if p)
        status = f"{response.status_code}" + (f" {label}" if label else "")
        return f"microsoft refused the token request for {where} ({status}): {fix}"


#: What to do about the AADSTS codes a misconfigured app meets most (Microsoft says
#: the codes may change: the OAuth ``error`` is the fallback, and the code is quoted).
_MICROSOFT_FIXES = {
    "7000215": "the client secret is wrong: set {env}-CLIENT_SECRET to a secret's Value "
    "(not its Secret ID) from the app registration's Certificates & secrets",
    "7000222": "the client secret has expired: create a new one under the app registration's "
    "Certificates & secrets and set {env}-CLIENT_SECRET to its Value",
    "700016": "no app with client id {client_id} in tenant {tenant}: check {env}-CLIENT_ID (the "
    "application (client) ID) and {env}-TENANT (the tenant the app is registered in)",
    "90002": "tenant {tenant} does not exist in this cloud: check {env}-TENANT (the directory "
    "(tenant) ID or a verified domain) and {env}-AUTHORITY",
    "700027": "the certificate is not one of the app's (or has expired there): upload "
    "{env}-CERTIFICATE's certificate to the app registration's Certificates & secrets",
    "700024": "the client assertion is outside its valid time: check this machine's clock",
    "65001": "admin consent is missing: in the app registration's API permissions, grant "
    "admin consent for its application permissions (IMAP: Office 365 Exchange Online's "
    "IMAP.AccessAsApp)",
    "500011": "the resource {env}-TOKEN_SCOPE names is not in tenant {tenant} (is the service "
    "licensed there?): check {env}-TOKEN_SCOPE and {env}-TENANT",
    "70011": "the scope is not valid: check {env}-TOKEN_SCOPE (RESOURCE/.default)",
    "1002012": "the scope is not valid: check {env}-TOKEN_SCOPE (RESOURCE/.default)",
    "7000218": "no credential was sent: set {env}-CLIENT_SECRET or {env}-CERTIFICATE",
}


def _fix_text(template: str, owner: str, **values: str) -> str:
    """``template`` with each ``{env}-NAME`` made the owner's variable, then formatted."""
    named = re.sub(r"\{env\}-([A-Z_]+)", lambda m: env_name(owner, m.group(1)), template)
    return named.format(**values)


# -- Google ---------------------------------------------------------------------------------

_GOOGLE_FIXES = (
    (
        "unauthorized_client",
        "",
        "domain-wide delegation is missing: in the Google Admin console (Security > Access and "
        "data control > API controls > Manage domain wide delegation) add client id "
        "{client_id} with the scope {scope}",
    ),
    (
        "invalid_grant",
        "invalid email or user id",
        "{subject} is not a user of the Workspace domain: check the mailbox ({subject_env})",
    ),
    (
        "invalid_grant",
        "invalid jwt signature",
        "the service account key was deleted or disabled: create a new key for {email} and "
        "set {key_env} to it",
    ),
    (
        "invalid_grant",
        "account not found",
        "the service account {email} does not exist (any more): check {key_env}",
    ),
    (
        "invalid_grant",
        "reasonable timeframe",
        "the grant is outside its valid time: check this machine's clock",
    ),
)


class GoogleTokens(_EndpointTokens):
    """A Google service account's JWT-bearer grant with domain-wide delegation.

    The assertion is signed RS256 with the service account's key (header
    ``kid`` its ``private_key_id``): ``iss`` the service account's address,
    ``scope``, ``aud`` the key's ``token_uri``, ``sub`` the mailbox it acts
    for, ``iat`` and ``exp`` (at most an hour apart).
    """

    platform = "google"

    def __init__(
        self, http: HttpClient, *, key: ServiceAccountKey, scope: str, subject: str, **kwargs: Any
    ) -> None:
        super().__init__(http, key.token_uri, **kwargs)
        self.key = key
        self.scope = scope
        self.subject = subject

    def obtain(self) -> AccessToken:
        """POST the JWT-bearer grant; the token, or `Unreachable` with the fix."""
        import jwt

        now = int(time.time())
        claims = {
            "iss": self.key.client_email,
            "scope": self.scope,
            "aud": self.key.token_uri,
            "sub": self.subject,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        }
        headers = {"kid": self.key.private_key_id, "typ": "JWT"}
        assertion = jwt.encode(claims, self.key.key, algorithm="RS256", headers=headers)
        self.redactor.add(assertion)
        form = {"grant_type": JWT_BEARER_GRANT, "assertion": assertion}
        response = self._post(form, f"token request to Google for {self.key.client_email}")
        if response.status_code != 200:
            raise Unreachable(self._explain(response))
        return self._answer(response)

    def _explain(self, response: httpx.Response) -> str:
        error, description = self._error(response)
        lowered = description.lower()
        fix = ""
        for wanted, words, text in _GOOGLE_FIXES:
            if error == wanted and words in lowered:
                fix = text.format(
                    client_id=self.key.client_id or "(the key's client_id)",
                    scope=self.scope,
                    subject=self.subject,
                    subject_env=self.env("USERNAME"),
                    email=self.key.client_email,
                    key_env=self.env("SERVICE_ACCOUNT_KEY"),
                )
                break
        if not fix:
            detail = description or answer_detail(response, scrub=self.redactor.scrub)
            fix = self.redactor.scrub(detail)[:200] or "no explanation given"
        label = f"{response.status_code} {error}".strip()
        return (
            f"google refused the token request for {self.key.client_email} acting for "
            f"{self.subject} ({label}): {fix}"
        )


# -- a static token -------------------------------------------------------------------------


class StaticToken(TokenProvider):
    """A token from the environment (``ACCESS_TOKEN``), used as it is: never renewed.

    When it is a JWT its ``exp`` is read (not checked) so that an expired token
    is named before it is sent."""

    platform = "static"

    def __init__(self, value: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.value = value.strip()
        self.redactor.add(self.value)

    def obtain(self) -> AccessToken:
        """The configured token; `Unreachable` when its ``exp`` has passed."""
        token = self._made(self.value, None)
        if token.lifetime is not None and token.lifetime <= 0:
            raise Unreachable(
                f"static: the token in {self.env('ACCESS_TOKEN')} expired at "
                f"{token.describe_expiry()}: set a fresh one (or let the job obtain tokens "
                f"itself: {self.env('TOKEN_FROM')}=microsoft or google)"
            )
        return token

    def stale(self, token: AccessToken) -> bool:
        """Never: there is no other token to use."""
        return False

    def renew(self, refused: AccessToken) -> bool:
        """False: the configured token is the only one (a refusal of it is final)."""
        return False


# -- building one from settings -------------------------------------------------------------


def token_provider(
    context: ProviderContext,
    settings: OAuthSettings,
    *,
    microsoft_scope: str = "",
    google_scope: str = "",
    subject: str = "",
) -> TokenProvider:
    """The `TokenProvider` ``settings`` describe, for ``context``'s provider.

    ``microsoft_scope`` and ``google_scope`` are the provider's default scopes
    (``TOKEN_SCOPE`` overrides them); ``subject`` is the mailbox a Google
    service account acts for. The token endpoint gets a safety policy of its
    own on the run's budget and the provider's redactor (`TOKEN_RATE`), and
    every secret of the settings is added to that redactor. No network I/O
    here: the first `TokenProvider.token` asks. Raises `ConfigError` when
    ``TOKEN_FROM`` is not set or the key material cannot be read."""
    owner = context.provider
    redactor = context.safety.redactor
    common: dict[str, Any] = {
        "budget": context.budget,
        "redactor": redactor,
        "log": context.log.bind(token_from=settings.token_from),
        "owner": owner,
    }
    platform = settings.token_from
    try:
        if platform == "microsoft":
            return _microsoft(context, settings, microsoft_scope, common)
        if platform == "google":
            return _google(context, settings, google_scope, subject, common)
    except ValueError as exc:
        raise ConfigError(f"{env_name(owner, 'TOKEN_FROM')}: {exc}") from None
    if platform == "static":
        return StaticToken(settings.access_token, identity="a static token", **common)
    raise ConfigError(f"{env_name(owner, 'TOKEN_FROM')} is not set")


def _endpoint_client(context: ProviderContext, url: str) -> HttpClient:
    parts = urlsplit(url)
    policy = SafetyPolicy(
        f"{context.provider} token endpoint",
        context.budget,
        TOKEN_RATE,
        redactor=context.safety.redactor,
        max_attempts=3,
    )
    return HttpClient(policy, f"{parts.scheme}://{parts.netloc}", timeout=TOKEN_TIMEOUT)


def _microsoft(
    context: ProviderContext, settings: OAuthSettings, scope: str, common: dict[str, Any]
) -> MicrosoftTokens:
    redactor = context.safety.redactor
    certificate = None
    if settings.certificate.strip():
        certificate = load_certificate(settings.certificate, settings.private_key)
        redactor.add(*certificate.secrets)
    redactor.add(settings.client_secret)
    if settings.private_key.strip().startswith("-----BEGIN"):
        redactor.add(settings.private_key)
    tokens = MicrosoftTokens(
        _endpoint_client(context, settings.authority),
        authority=settings.authority,
        tenant=settings.tenant,
        client_id=settings.client_id,
        scope=settings.token_scope or scope,
        client_secret=settings.client_secret,
        certificate=certificate,
        identity=f"app {settings.client_id} in tenant {settings.tenant}",
        **common,
    )
    return tokens


def _google(
    context: ProviderContext,
    settings: OAuthSettings,
    scope: str,
    subject: str,
    common: dict[str, Any],
) -> GoogleTokens:
    key = load_service_account_key(settings.service_account_key)
    context.safety.redactor.add(*key.secrets)
    return GoogleTokens(
        _endpoint_client(context, key.token_uri),
        key=key,
        scope=settings.token_scope or scope,
        subject=subject,
        identity=f"service account {key.client_email} for {subject}",
        **common,
    )
