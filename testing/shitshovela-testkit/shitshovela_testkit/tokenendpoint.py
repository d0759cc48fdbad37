"""A stand-in for two identity platforms' token endpoints, on loopback.

`TokenEndpoint` speaks the two app-only grants a mail source signs in with,
and answers errors the way the real platforms do:

- **Microsoft identity platform v2.0, client credentials**
  (``POST /{tenant}/oauth2/v2.0/token``): the app authenticates with a client
  secret, or with a client assertion signed by one of its certificates, which
  is verified (RS256, ``x5t`` = the certificate's base64url SHA-1 thumbprint,
  ``aud`` = the token URL, ``iss`` = ``sub`` = the client id, ``jti``, a valid
  ``nbf``/``exp``). Errors as Entra ID words them: ``AADSTS90002`` (no such
  tenant), ``AADSTS700016`` (no such app in the tenant), ``AADSTS7000215``
  (wrong secret), ``AADSTS7000222`` (expired secret), ``AADSTS700027`` (an
  assertion the app's certificates do not verify), ``AADSTS700024`` (an
  assertion out of its time), ``AADSTS50013`` (an assertion for another
  audience or app), ``AADSTS1002012``/``AADSTS500011`` (bad scope). A token is
  issued without ``roles`` when the app has no consented permission, as Entra
  does.
- **Google's JWT-bearer grant** (``POST /token``) for a service account with
  domain-wide delegation: the assertion is verified with the key its ``kid``
  names; errors ``invalid_grant`` (``Invalid JWT Signature.``, ``Invalid email
  or User ID``, a bad ``iat``/``exp``, another ``aud``) and
  ``unauthorized_client`` (no delegation for the scope).

The access tokens are RS256 JWTs signed with the stand-in's key, so that a mail
server can validate them itself (the test Dovecot's ``oauth2`` passdb, given
`TokenEndpoint.public_key_pem` under `TokenEndpoint.kid`): ``iss``
(`microsoft_issuer` or `GOOGLE_ISSUER`), ``aud`` (`MAIL_AUDIENCE` for the
mail scopes of both platforms), ``sub``, ``exp``/``nbf``/``iat``, and
``email``: the mailbox the token may open. Real Microsoft app tokens name no
mailbox (Exchange checks the service principal's mailbox permission itself);
here the app's granted mailbox (`MicrosoftApp.mailbox`, the stand-in's model of
``Add-MailboxPermission``) goes into ``email``, so the mail server refuses a
token for another mailbox as Exchange does. A Google token's ``email`` is the
impersonated user (``sub`` of the grant).

Everything is recorded: `StandInServer.requests`, and `TokenEndpoint.issued`
(every token handed out, for checks that no token appears in any output). Put
the fault proxy in front of it for hangs, resets and 5xx.
"""

from __future__ import annotations

import base64
import datetime
import enum
import functools
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .standin import Request, Response, StandInServer

__all__ = [
    "GOOGLE_ISSUER",
    "GOOGLE_MAIL_SCOPE",
    "MAIL_AUDIENCE",
    "MICROSOFT_IMAP_SCOPE",
    "TENANT_DOMAIN",
    "TENANT_ID",
    "GoogleServiceAccount",
    "Issued",
    "MicrosoftApp",
    "TokenEndpoint",
    "make_certificate",
    "rsa_key",
    "signing_key",
]

#: The one tenant the stand-in knows unless told otherwise (its id, and a domain of it).
TENANT_ID = "8f6d3c2a-5b1e-4f7a-9c0d-2e4b6a8c0d1f"
TENANT_DOMAIN = "contoso.onmicrosoft.com"
#: The scope of app-only IMAP at Microsoft, and of mail at Google.
MICROSOFT_IMAP_SCOPE = "https://outlook.office365.com/.default"
GOOGLE_MAIL_SCOPE = "https://mail.google.com/"
#: The ``aud`` of tokens for the mail scopes: what the test mail server checks.
MAIL_AUDIENCE = "https://outlook.office365.com"
#: The ``iss`` of Google tokens.
GOOGLE_ISSUER = "https://accounts.google.com"
#: Resources (``scope`` without ``/.default``) the Microsoft side knows, and their ``aud``.
MICROSOFT_RESOURCES = {
    "https://outlook.office365.com": MAIL_AUDIENCE,
    "https://outlook.office.com": MAIL_AUDIENCE,
    "https://graph.microsoft.com": "https://graph.microsoft.com",
}
_BAD_SIGNATURE = "Client assertion failed signature validation."
_OUT_OF_TIME = "Client assertion is not within its valid time range."
#: Seconds of clock skew both platforms forgive in an assertion.
SKEW = 300


@functools.cache
def rsa_key(name: str = "default") -> rsa.RSAPrivateKey:
    """An RSA-2048 key, made once per process per ``name`` (key generation is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def signing_key() -> tuple[rsa.RSAPrivateKey, str]:
    """The key every stand-in signs tokens with unless given another, and its ``kid``:
    one per process, so a mail server trusts it once."""
    key = rsa_key("token-signing")
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, "standin-" + hashlib.sha256(public).hexdigest()[:16]


def _pem_private(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _pem_public(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def make_certificate(
    *,
    days: float = 365,
    not_before: datetime.datetime | None = None,
    key: rsa.RSAPrivateKey | None = None,
    name: str = "shitshovela-test-app",
) -> tuple[str, str]:
    """A self-signed certificate and its private key, both PEM: ``(certificate, key)``.

    Valid from ``not_before`` (default: an hour ago) for ``days`` (negative or
    small values make expired or expiring certificates). Each call makes a new
    certificate (a new serial: a new thumbprint) on a cached key unless ``key``
    is given."""
    key = key or rsa_key("certificate")
    start = not_before or datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    end = start + datetime.timedelta(days=days)
    if end <= start:  # an already expired certificate: valid for a moment, long ago
        start, end = end - datetime.timedelta(days=30), end
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii"), _pem_private(key)


def thumbprint(certificate_pem: str) -> str:
    """A certificate's ``x5t``: base64url SHA-1 of its DER encoding, unpadded."""
    cert = x509.load_pem_x509_certificate(certificate_pem.encode("ascii"))
    sha1 = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER), usedforsecurity=False)
    return base64.urlsafe_b64encode(sha1.digest()).rstrip(b"=").decode("ascii")


class SecretState(enum.Enum):
    """Where a client secret stands: usable, deleted from the app, or past its end date."""

    VALID = "valid"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass
class MicrosoftApp:
    """An app registration in a tenant, its credentials, consent and mailbox grant.

    ``secret`` is the client secret's value (``secret_state``: ``valid``,
    ``revoked`` (deleted from the app), ``expired``); ``certificates`` the
    uploaded certificates (PEM); ``roles`` the application permissions with
    admin consent (none: tokens without ``roles``); ``mailbox`` the mailbox its
    service principal was granted (``Add-MailboxPermission``), "" for none.
    """

    client_id: str
    tenant_id: str
    service_principal_id: str
    secret: str | None = None
    secret_state: SecretState = SecretState.VALID
    certificates: list[str] = field(default_factory=list)
    roles: tuple[str, ...] = ("IMAP.AccessAsApp",)
    mailbox: str = ""

    def revoke_secret(self) -> None:
        """The secret was deleted from the app registration: AADSTS7000215 from now on."""
        self.secret_state = SecretState.REVOKED

    def expire_secret(self) -> None:
        """The secret passed its end date: AADSTS7000222 from now on."""
        self.secret_state = SecretState.EXPIRED


@dataclass
class GoogleServiceAccount:
    """A service account, its keys, and its domain-wide delegation.

    ``keys`` maps a key id to its private key (deleting one: its grants fail
    with ``Invalid JWT Signature.``); ``scopes`` are the scopes delegated for
    its ``client_id`` (empty: no delegation); ``users`` the domain's mailboxes
    it may act for."""

    email: str
    client_id: str
    token_uri: str
    keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    scopes: tuple[str, ...] = (GOOGLE_MAIL_SCOPE,)
    users: set[str] = field(default_factory=set)

    def key_json(self, key_id: str | None = None) -> str:
        """The JSON key file of one of its keys, as the Cloud console downloads it."""
        key_id = key_id or next(iter(self.keys))
        key = self.keys[key_id]
        return json.dumps(
            {
                "type": "service_account",
                "project_id": "shitshovela-test",
                "private_key_id": key_id,
                "private_key": _pem_private(key),
                "client_email": self.email,
                "client_id": self.client_id,
                "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                "token_uri": self.token_uri,
            },
            indent=2,
        )

    def delete_key(self, key_id: str) -> None:
        """Delete a key: assertions it signs no longer verify."""
        self.keys.pop(key_id, None)


@dataclass(frozen=True)
class Issued:
    """A token the stand-in handed out, with the claims it carries."""

    platform: str
    token: str
    claims: dict[str, Any]


class TokenEndpoint(StandInServer):
    """Microsoft's v2.0 client credentials and Google's JWT-bearer grant on loopback
    (see the module docstring). ``lifetime`` is every token's ``expires_in`` (and
    its ``exp`` from now); ``clock`` is wall time (the mail server's)."""

    server_name = "TokenEndpoint/1.0"

    def __init__(
        self,
        *,
        lifetime: int = 3599,
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
        clock: Any = time.time,
    ) -> None:
        super().__init__()
        default_key, default_kid = signing_key()
        self.key = key or default_key
        self.kid = kid or (default_kid if key is None else "standin-" + uuid.uuid4().hex[:16])
        self.lifetime = lifetime
        self.clock = clock
        self.tenants: dict[str, str] = {TENANT_ID: TENANT_ID, TENANT_DOMAIN: TENANT_ID}
        self.apps: dict[tuple[str, str], MicrosoftApp] = {}
        self.service_accounts: dict[str, GoogleServiceAccount] = {}
        self.issued: list[Issued] = []
        self._state = threading.Lock()

    # -- what a test sets up -------------------------------------------------------------

    @property
    def public_key_pem(self) -> str:
        """The public key of the tokens' signature (PEM ``PUBLIC KEY``)."""
        return _pem_public(self.key.public_key())

    @property
    def authority(self) -> str:
        """The Microsoft authority (``SHITSHOVELA_…__AUTHORITY``): this server's URL."""
        return self.url

    def token_url(self, tenant: str = TENANT_ID) -> str:
        """Microsoft's token URL for ``tenant``."""
        return f"{self.url}/{tenant}/oauth2/v2.0/token"

    @property
    def google_token_uri(self) -> str:
        """Google's token URL (a service account key's ``token_uri``)."""
        return f"{self.url}/token"

    @staticmethod
    def microsoft_issuer(tenant_id: str = TENANT_ID) -> str:
        """The ``iss`` of the tokens for ``tenant_id`` (Exchange takes v1.0 tokens)."""
        return f"https://sts.windows.net/{tenant_id}/"

    def register_app(
        self,
        *,
        secret: str | None = None,
        certificates: Iterable[str] = (),
        roles: Iterable[str] = ("IMAP.AccessAsApp",),
        mailbox: str = "",
        tenant: str = TENANT_ID,
    ) -> MicrosoftApp:
        """Register an app in ``tenant`` (an id or domain it knows)."""
        tenant_id = self.tenants[tenant]
        app = MicrosoftApp(
            client_id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            service_principal_id=str(uuid.uuid4()),
            secret=secret,
            certificates=list(certificates),
            roles=tuple(roles),
            mailbox=mailbox,
        )
        with self._state:
            self.apps[(tenant_id, app.client_id)] = app
        return app

    def add_tenant(self, tenant_id: str, *domains: str) -> None:
        """Make another tenant known (its tokens carry its own ``iss``)."""
        with self._state:
            for name in (tenant_id, *domains):
                self.tenants[name] = tenant_id

    def add_service_account(
        self,
        *,
        users: Iterable[str] = (),
        scopes: Iterable[str] = (GOOGLE_MAIL_SCOPE,),
        name: str = "shovel",
    ) -> GoogleServiceAccount:
        """A service account with one key, delegated ``scopes`` for ``users``."""
        account = GoogleServiceAccount(
            email=f"{name}-{uuid.uuid4().hex[:6]}@shitshovela-test.iam.gserviceaccount.com",
            client_id=str(uuid.uuid4().int)[:21],
            token_uri=self.google_token_uri,
            keys={uuid.uuid4().hex: rsa_key("service-account")},
            scopes=tuple(scopes),
            users=set(users),
        )
        with self._state:
            self.service_accounts[account.email] = account
        return account

    def tokens(self, platform: str | None = None) -> list[str]:
        """Every token handed out (of ``platform``, if given)."""
        with self._state:
            return [i.token for i in self.issued if platform in (None, i.platform)]

    # -- answering -----------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Route a request: Microsoft's token URL, Google's, or 404."""
        parts = request.path.strip("/").split("/")
        if request.method == "POST" and parts == ["token"]:
            return self._google(_form(request))
        if (
            request.method == "POST"
            and len(parts) == 4
            and parts[1:] == ["oauth2", "v2.0", "token"]
        ):
            return self._microsoft(parts[0], _form(request), request)
        return Response(404, {"error": "not_found", "error_description": "no such endpoint"})

    # Microsoft ---------------------------------------------------------------------------

    def _microsoft(self, tenant: str, form: dict[str, str], request: Request) -> Response:
        tenant_id = self.tenants.get(tenant)
        if tenant_id is None:
            return _aad(
                400,
                "invalid_request",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant "
                "ID and are signing into the correct cloud.",
            )
        if form.get("grant_type") != "client_credentials":
            return _aad(
                400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
            )
        client_id = form.get("client_id", "")
        app = self.apps.get((tenant_id, client_id))
        if app is None:
            return _aad(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{tenant}'. This can happen if the application has not been installed by the "
                "administrator of the tenant or consented to by any user in the tenant. You may "
                "have sent your authentication request to the wrong tenant.",
            )
        refusal = self._authenticate(app, tenant, form)
        if refusal is not None:
            return refusal
        scope = form.get("scope", "")
        if not scope.endswith("/.default") or " " in scope.strip():
            return _aad(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows "
                "must have a scope value with /.default suffixed to the resource identifier "
                "(application ID URI).",
            )
        resource = scope.removesuffix("/.default").rstrip("/")
        audience = MICROSOFT_RESOURCES.get(resource)
        if audience is None:
            return _aad(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {resource} was not found in the tenant named "
                f"{tenant}.",
            )
        now = int(self.clock())
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": self.microsoft_issuer(tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime,
            "appid": app.client_id,
            "appidacr": "2" if "client_assertion" in form else "1",
            "idp": self.microsoft_issuer(tenant_id),
            "oid": app.service_principal_id,
            "sub": app.service_principal_id,
            "tid": tenant_id,
            "uti": uuid.uuid4().hex,
            "ver": "1.0",
            "email": app.mailbox or f"{app.service_principal_id}@no-mailbox-granted.invalid",
        }
        if app.roles:
            claims["roles"] = list(app.roles)
        token = self._issue("microsoft", claims)
        return Response(
            200,
            {
                "token_type": "Bearer",
                "expires_in": self.lifetime,
                "ext_expires_in": self.lifetime,
                "access_token": token,
            },
        )

    def _authenticate(
        self, app: MicrosoftApp, tenant: str, form: dict[str, str]
    ) -> Response | None:
        """None when the app proved who it is, else Entra's refusal."""
        if "client_assertion" in form:
            return self._check_assertion(app, tenant, form)
        secret = form.get("client_secret")
        if secret is None:
            return _aad(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )
        if app.secret is None or secret != app.secret or app.secret_state is SecretState.REVOKED:
            return _aad(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                f"the client secret value, not the client secret ID, for a secret added to app "
                f"'{app.client_id}'.",
            )
        if app.secret_state is SecretState.EXPIRED:
            return _aad(
                401,
                "invalid_client",
                7000222,
                f"The provided client secret keys for app '{app.client_id}' are expired. Visit "
                "the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, "
                "or consider using certificate credentials for added security: "
                "https://aka.ms/certCreds.",
            )
        return None

    def _check_assertion(
        self, app: MicrosoftApp, tenant: str, form: dict[str, str]
    ) -> Response | None:
        if form.get("client_assertion_type") != (
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ):
            return _aad(
                400,
                "invalid_request",
                90014,
                "Invalid client_assertion_type.",
            )
        assertion = form["client_assertion"]
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.InvalidTokenError:
            return _aad(401, "invalid_client", 700027, _BAD_SIGNATURE)
        if header.get("alg") != "RS256" or not header.get("x5t"):
            return _aad(
                401,
                "invalid_client",
                700027,
                "Client assertion failed signature validation. [Reason - The key was not found.]",
            )
        cert_pem = next((c for c in app.certificates if thumbprint(c) == header["x5t"]), None)
        if cert_pem is None:
            return _aad(
                401,
                "invalid_client",
                700027,
                "The certificate with identifier used to sign the client assertion is not "
                f"registered on application. [Reason - The key was not found., Thumbprint of key "
                f"used by client: '{header['x5t']}']",
            )
        cert = x509.load_pem_x509_certificate(cert_pem.encode("ascii"))
        if cert.not_valid_after_utc.timestamp() < self.clock():
            return _aad(
                401,
                "invalid_client",
                700027,
                _BAD_SIGNATURE + " [Reason - The key used is expired.]",
            )
        token_url = f"{self.url}/{tenant}/oauth2/v2.0/token"
        try:
            claims = jwt.decode(
                assertion,
                cert.public_key(),  # type: ignore[arg-type]
                algorithms=["RS256"],
                audience=token_url,
                options={"require": ["aud", "iss", "sub", "exp", "nbf", "jti"]},
                leeway=SKEW,
            )
        except jwt.InvalidSignatureError:
            return _aad(401, "invalid_client", 700027, _BAD_SIGNATURE)
        except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError):
            return _aad(
                401,
                "invalid_client",
                700024,
                _OUT_OF_TIME,
            )
        except jwt.InvalidTokenError as exc:
            return _aad(401, "invalid_client", 50013, f"Assertion is invalid: {exc}.")
        if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
            return _aad(
                401,
                "invalid_client",
                50013,
                "Assertion is invalid: its iss and sub must be the client id.",
            )
        if float(claims["exp"]) - float(claims["nbf"]) > 24 * 3600:
            return _aad(
                401,
                "invalid_client",
                700024,
                _OUT_OF_TIME,
            )
        return None

    # Google ------------------------------------------------------------------------------

    def _google(self, form: dict[str, str]) -> Response:
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return _google_error(
                400, "unsupported_grant_type", "Invalid grant_type: " + form.get("grant_type", "")
            )
        assertion = form.get("assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            return _google_error(400, "invalid_grant", "Invalid JWT Signature.")
        account = self.service_accounts.get(str(unverified.get("iss", "")))
        if account is None:
            return _google_error(400, "invalid_grant", "Invalid grant: account not found")
        key = account.keys.get(str(header.get("kid", "")))
        if key is None or header.get("alg") != "RS256":
            return _google_error(400, "invalid_grant", "Invalid JWT Signature.")
        try:
            claims = jwt.decode(
                assertion,
                key.public_key(),
                algorithms=["RS256"],
                options={"verify_aud": False, "verify_exp": False, "verify_iat": False},
            )
        except jwt.InvalidTokenError:
            return _google_error(400, "invalid_grant", "Invalid JWT Signature.")
        if claims.get("aud") != self.google_token_uri:
            return _google_error(
                400,
                "invalid_grant",
                "Invalid JWT: Failed audience check. The right audience is "
                f"{self.google_token_uri}",
            )
        now = self.clock()
        iat, exp = claims.get("iat"), claims.get("exp")
        if (
            not isinstance(iat, int | float)
            or not isinstance(exp, int | float)
            or exp - iat > 3600
            or iat > now + SKEW
            or exp < now - SKEW
        ):
            return _google_error(
                400,
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
                "timeframe. Check your iat and exp values in the JWT claim.",
            )
        scopes = str(claims.get("scope", "")).split()
        subject = str(claims.get("sub", ""))
        if not scopes or not set(scopes) <= set(account.scopes):
            return _google_error(
                401,
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or client "
                "not authorized for any of the scopes requested.",
            )
        if subject and subject.lower() not in {u.lower() for u in account.users}:
            return _google_error(400, "invalid_grant", "Invalid email or User ID")
        now_int = int(now)
        token = self._issue(
            "google",
            {
                "iss": GOOGLE_ISSUER,
                "aud": MAIL_AUDIENCE if GOOGLE_MAIL_SCOPE in scopes else " ".join(scopes),
                "sub": subject or account.client_id,
                "email": subject or account.email,
                "scope": " ".join(scopes),
                "jti": uuid.uuid4().hex,
                "iat": now_int,
                "nbf": now_int,
                "exp": now_int + self.lifetime,
            },
        )
        return Response(
            200, {"access_token": token, "expires_in": self.lifetime, "token_type": "Bearer"}
        )

    # -- the tokens ----------------------------------------------------------------------

    def _issue(self, platform: str, claims: dict[str, Any]) -> str:
        token = jwt.encode(
            claims, self.key, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"}
        )
        with self._state:
            self.issued.append(Issued(platform, token, claims))
        return token


def _form(request: Request) -> dict[str, str]:
    return dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))


def _aad(status: int, error: str, code: int, message: str) -> Response:
    """An Entra ID error answer: ``error``, ``error_description`` led by the AADSTS code."""
    trace, correlation = uuid.uuid4(), uuid.uuid4()
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return Response(
        status,
        {
            "error": error,
            "error_description": f"AADSTS{code}: {message} Trace ID: {trace} Correlation ID: "
            f"{correlation} Timestamp: {stamp}",
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": str(trace),
            "correlation_id": str(correlation),
            "error_uri": f"https://login.microsoftonline.com/error?code={code}",
        },
    )


def _google_error(status: int, error: str, description: str) -> Response:
    return Response(status, {"error": error, "error_description": description})
