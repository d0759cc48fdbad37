"""The GitHub App flow: an RS256 JWT for the app, exchanged for an installation token.

* `check_jwt` checks a JWT as GitHub does, on the emulator's clock: RS256,
  signed by the configured public key, ``iss`` the app's id (or client id),
  ``iat`` not in the future, ``exp`` in the future and at most ten minutes
  ahead. Its answers are GitHub's 401 messages.
* ``GET /app``: the app. ``GET /repos/{owner}/{repo}/installation``: the
  installation that covers the repository (404 when none does).
  ``POST /app/installations/{installation_id}/access_tokens``: a new
  installation token (``ghs_…``) that lives `InstallationConfig.token_lifetime`
  (an hour), optionally narrowed to some of its repositories.

None of these three operations is in the OpenAPI excerpt: they are answered
without a spec check (the README says so).

`generate_app_key` and `make_app_jwt` are helpers for tests: a fresh key
pair, and a JWT the way an app makes one.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from . import render
from .config import AppConfig, InstallationConfig
from .messages import GitHubRequest, GitHubResponse, Reject, error, json_body, validation_failed

if TYPE_CHECKING:
    from .site import Site

__all__ = [
    "check_jwt",
    "create_installation_token",
    "generate_app_key",
    "get_app",
    "make_app_jwt",
    "repo_installation",
]

#: How far ahead GitHub lets an app JWT's ``exp`` be.
JWT_MAX_LIFETIME = 600
_UNDECODABLE = "A JSON web token could not be decoded"


def generate_app_key() -> tuple[str, str]:
    """(private key PEM, public key PEM) of a new 2048-bit RSA key, as an app is given one."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # "BEGIN RSA PRIVATE KEY", as GitHub's
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def make_app_jwt(
    private_key_pem: str,
    issuer: int | str,
    *,
    now: float | None = None,
    lifetime: int = 540,
    backdate: int = 60,
    algorithm: str = "RS256",
) -> str:
    """A JWT as an app makes one: ``iat`` backdated a minute, ``exp`` ``lifetime`` ahead."""
    import jwt

    at = int(time.time() if now is None else now)
    claims = {"iat": at - backdate, "exp": at + lifetime, "iss": str(issuer)}
    return jwt.encode(claims, private_key_pem, algorithm=algorithm)


def check_jwt(app: AppConfig | None, token: str, now: float) -> str | None:
    """What GitHub would say is wrong with an app JWT, or None when it is good."""
    import jwt

    if app is None:
        return _UNDECODABLE
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "RS256":
            return _UNDECODABLE
        claims: dict[str, Any] = jwt.decode(
            token,
            app.public_key_pem,
            algorithms=["RS256"],
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except jwt.PyJWTError:
        return _UNDECODABLE
    iat, exp, iss = claims.get("iat"), claims.get("exp"), claims.get("iss")
    if not isinstance(iat, int) or isinstance(iat, bool) or iat > now:
        return (
            "'Issued at' claim ('iat') must be an Integer representing the time that the "
            "assertion was issued."
        )
    if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= now:
        return (
            "'Expiration time' claim ('exp') must be a numeric value representing the future "
            "time at which the assertion expires."
        )
    if exp - now > JWT_MAX_LIFETIME:
        return "'Expiration time' claim ('exp') is too far in the future."
    if str(iss) not in (str(app.app_id), app.client_id):
        return "Integration not found"
    return None


def _app(site: Site) -> AppConfig:
    app = site.identities.app
    assert app is not None  # an app JWT was accepted, so there is an app
    return app


def _installation(
    site: Site, installation_id: int, installation: InstallationConfig
) -> dict[str, Any]:
    app = _app(site)
    links = site.links
    owner = installation.owner
    created = render.iso(1_600_000_000)
    return {
        "id": installation_id,
        "account": render.simple_user(links, owner, site.identities.user_id(owner), "Organization"),
        "access_tokens_url": f"{links.api}/app/installations/{installation_id}/access_tokens",
        "repositories_url": f"{links.api}/installation/repositories",
        "html_url": f"{links.web}/organizations/{owner}/settings/installations/{installation_id}",
        "app_id": app.app_id,
        "app_slug": app.slug,
        "client_id": app.client_id,
        "target_id": site.identities.user_id(owner),
        "target_type": "Organization",
        "permissions": dict(installation.permissions),
        "events": ["issues", "issue_comment", "label"],
        "created_at": created,
        "updated_at": created,
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "repository_selection": "selected",
        "suspended_by": None,
        "suspended_at": None,
    }


def get_app(site: Site, req: GitHubRequest) -> GitHubResponse:
    """``GET /app`` (with the app's JWT)."""
    app = _app(site)
    links = site.links
    created = render.iso(1_600_000_000)
    return GitHubResponse(
        200,
        {
            "id": app.app_id,
            "slug": app.slug,
            "client_id": app.client_id,
            "node_id": f"A_kwDO{app.app_id}",
            "owner": render.simple_user(
                links, app.owner, site.identities.user_id(app.owner), "Organization"
            ),
            "name": app.name,
            "description": "",
            "external_url": links.web,
            "html_url": f"{links.web}/apps/{app.slug}",
            "created_at": created,
            "updated_at": created,
            "permissions": {"issues": "write", "metadata": "read"},
            "events": ["issues", "issue_comment", "label"],
            "installations_count": len(app.installations),
        },
    )


def repo_installation(site: Site, req: GitHubRequest, owner: str, repo: str) -> GitHubResponse:
    """``GET /repos/{owner}/{repo}/installation`` (with the app's JWT)."""
    app = _app(site)
    wanted = f"{owner}/{repo}".casefold()
    for installation_id in app.installations:
        installation = app.installation(installation_id)
        if installation is not None and wanted in {r.casefold() for r in installation.repos}:
            return GitHubResponse(200, _installation(site, installation_id, installation))
    raise Reject(error(404, "Not Found", req.doc))


def create_installation_token(
    site: Site, req: GitHubRequest, installation_id: str
) -> GitHubResponse:
    """``POST /app/installations/{installation_id}/access_tokens`` (with the app's JWT)."""
    app = _app(site)
    installation = app.installation(int(installation_id)) if installation_id.isdigit() else None
    if installation is None:
        raise Reject(error(404, "Not Found", req.doc))
    covered = {r.casefold(): r for r in installation.repos}
    body = json_body(req, required=False) or {}
    asked = body.get("repositories") if isinstance(body, dict) else None
    chosen = list(installation.repos)
    if asked is not None:
        if not isinstance(asked, list) or any(
            not isinstance(name, str) or f"{installation.owner}/{name}".casefold() not in covered
            for name in asked
        ):
            raise Reject(
                validation_failed(
                    [
                        {
                            "resource": "Installation",
                            "code": "invalid",
                            "field": "repositories",
                            "message": "There is at least one repository that does not exist "
                            "or is not accessible to the parent installation.",
                        }
                    ],
                    req.doc,
                )
            )
        chosen = [covered[f"{installation.owner}/{name}".casefold()] for name in asked]
    token, expires = site.identities.mint(
        int(installation_id), installation, frozenset(r.casefold() for r in chosen)
    )
    answer: dict[str, Any] = {
        "token": token,
        "expires_at": render.iso(expires),
        "permissions": dict(installation.permissions),
        "repository_selection": "selected",
    }
    if asked is not None:
        answer["repositories"] = [
            {"name": r.split("/", 1)[1], "full_name": r, "private": True} for r in chosen
        ]
    return GitHubResponse(201, answer)
