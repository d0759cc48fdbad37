"""Access tokens for tests: an RS256 key pair and app-only tokens the way Entra ID makes them.

`SigningKey` is an RSA key pair with a key id (``kid``). `make_token` makes the
access token the client-credentials flow gives an app for
``https://graph.microsoft.com/.default``: a v1.0 JWT with ``aud``
(`GRAPH_AUDIENCE`), ``iss`` (``https://sts.windows.net/{tenant}/``), ``tid``,
``appid``, ``oid``, ``roles`` (the consented application permissions),
``iat``/``nbf``/``exp``; any claim can be overridden or removed (``None``), to
make a token the emulator must refuse. The emulator signs with one key per
process (`default_key`; RSA key generation is slow) unless given another.
"""

from __future__ import annotations

import functools
import hashlib
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .config import DEFAULT_APP_ID, DEFAULT_TENANT_ID, GRAPH_AUDIENCE

__all__ = ["SigningKey", "default_key", "make_token", "v1_issuer", "v2_issuer"]


def v1_issuer(tenant_id: str) -> str:
    """The ``iss`` of a v1.0 token (what a Graph client-credentials token carries)."""
    return f"https://sts.windows.net/{tenant_id}/"


def v2_issuer(tenant_id: str) -> str:
    """The ``iss`` of a v2.0 token."""
    return f"https://login.microsoftonline.com/{tenant_id}/v2.0"


@dataclass(frozen=True)
class SigningKey:
    """An RSA key pair (PEM) and its ``kid``."""

    private_pem: str
    public_pem: str
    kid: str

    @classmethod
    def generate(cls) -> SigningKey:
        """A new 2048-bit RSA key pair."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        kid = "graphemu-" + hashlib.sha256(public).hexdigest()[:16]
        return cls(private.decode("ascii"), public.decode("ascii"), kid)


@functools.cache
def default_key() -> SigningKey:
    """The key emulators sign their tokens with: one per process."""
    return SigningKey.generate()


def make_token(
    key: SigningKey,
    *,
    tenant_id: str = DEFAULT_TENANT_ID,
    app_id: str = DEFAULT_APP_ID,
    roles: Iterable[str] | None = ("Mail.ReadWrite",),
    audience: str = GRAPH_AUDIENCE,
    issuer: str | None = None,
    now: float | None = None,
    lifetime: int = 3599,
    kid: str | None = None,
    **claims: Any,
) -> str:
    """An app-only access token for Graph, signed RS256 with ``key``.

    ``roles=None`` leaves the claim out (an app without consented permissions);
    ``claims`` add or replace claims (``exp=…``, ``tid=…``), a value of None removes one;
    ``kid`` names another key id in the header than the key's own."""
    import jwt

    at = int(time.time() if now is None else now)
    body: dict[str, Any] = {
        "aud": audience,
        "iss": issuer or v1_issuer(tenant_id),
        "iat": at,
        "nbf": at,
        "exp": at + lifetime,
        "appid": app_id,
        "appidacr": "1",
        "idp": v1_issuer(tenant_id),
        "idtyp": "app",
        "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, "sp:" + app_id)),
        "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, "sp:" + app_id)),
        "tid": tenant_id,
        "uti": uuid.uuid4().hex[:22],
        "ver": "1.0",
    }
    if roles is not None:
        body["roles"] = list(roles)
    for name, value in claims.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    return jwt.encode(
        body, key.private_pem, algorithm="RS256", headers={"kid": kid or key.kid, "typ": "JWT"}
    )
