"""Local key material for app-only sign-in: certificates, private keys, service-account keys.

A setting holds the material itself (a PEM block, a JSON key) or the path of a
file that does (`read_material`). `load_certificate` reads a certificate and
its RSA private key (Microsoft's certificate credential) and checks that they
belong together; `load_service_account_key` reads a Google service account's
JSON key. Both raise `ValueError` with a message that never quotes the
material, and both are local: nothing here reaches the network. The settings
mixin (`shitshovela_core.tokensettings`) calls them while the configuration is
validated, so a broken file is a configuration problem (exit 2); whether a
certificate has expired is decided when a token is asked for (exit 3), because
that is the identity platform's refusal, not a typo.

`cryptography` is imported on first use: a run that signs in with a password
or a client secret never loads it.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import attrs

_PEM_BLOCK = re.compile(
    r"-----BEGIN (?P<label>[A-Z0-9 ]+)-----\s+(?P<body>[A-Za-z0-9+/=\s]+?)-----END (?P=label)-----"
)


def read_material(value: str) -> str:
    """The text a setting names: the value itself when it is a PEM block or a JSON
    object, else the content of the file at that path.

    A PEM block whose line breaks were written as ``\\n`` (env files hold one
    line) gets its line breaks back. Raises `ValueError` when the file cannot be
    read (the message names neither the path nor the content: either may be secret).
    """
    text = value.strip()
    if text.startswith("-----BEGIN") or text.startswith("{"):
        if text.startswith("-----BEGIN") and "\n" not in text and "\\n" in text:
            text = text.replace("\\n", "\n")
        return text
    if not text:
        raise ValueError("is empty")
    try:
        return Path(text).expanduser().read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError("names a file that is not UTF-8 text (PEM or JSON expected)") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ValueError(f"names a file that cannot be read ({reason})") from None


def pem_blocks(text: str, *labels: str) -> list[str]:
    """The PEM blocks in ``text`` whose label is one of ``labels`` (each as a whole block)."""
    return [m.group(0) for m in _PEM_BLOCK.finditer(text) if m.group("label") in labels]


def secret_forms(pem_or_text: str) -> tuple[str, ...]:
    """What of ``pem_or_text`` a redactor must mask: the whole text, its JSON-escaped
    form, and each base64 line of a PEM body (a traceback may quote one line)."""
    forms = {pem_or_text.strip(), json.dumps(pem_or_text.strip())[1:-1]}
    for match in _PEM_BLOCK.finditer(pem_or_text):
        forms.update(line.strip() for line in match.group("body").split() if len(line) >= 16)
    return tuple(sorted(f for f in forms if f))


_KEY_LABELS = ("PRIVATE KEY", "RSA PRIVATE KEY")


def _load_rsa_key(pem: str, what: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem.encode("ascii"), password=None)
    except TypeError:
        raise ValueError(f"{what} is encrypted: give it without a passphrase") from None
    except (ValueError, UnicodeEncodeError):
        raise ValueError(f"{what} is not a readable PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{what} is not an RSA key (the assertion is signed with RS256)")
    return key


def base64url(data: bytes) -> str:
    """Base64url without padding (JWT's encoding)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@attrs.frozen
class CertificateCredential:
    """A certificate and its RSA private key: Microsoft's certificate credential.

    ``thumbprint`` is the certificate's ``x5t`` (base64url SHA-1 of its DER
    encoding), ``thumbprint_hex`` the same as the Entra admin center shows it.
    ``secrets`` are the forms of the key a redactor must mask.
    """

    key: Any = attrs.field(repr=False)
    der: bytes = attrs.field(repr=False)
    thumbprint: str
    thumbprint_hex: str
    subject: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    secrets: tuple[str, ...] = attrs.field(repr=False, default=())

    def days_left(self, now: datetime.datetime | None = None) -> float:
        """Days until the certificate expires (negative once it has)."""
        now = now or datetime.datetime.now(datetime.UTC)
        return (self.not_after - now).total_seconds() / 86400


@functools.lru_cache(maxsize=8)
def load_certificate(certificate: str, private_key: str = "") -> CertificateCredential:
    """Read a certificate and its private key (see `read_material` for the forms).

    Read once per process for the same settings (the configuration's check and the
    provider both ask), never written anywhere.

    ``private_key`` may be empty when the certificate's file holds the key too.
    Raises `ValueError` naming what is wrong: no certificate, no key, an
    encrypted or non-RSA key, or a key that does not belong to the certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    cert_text = read_material(certificate)
    blocks = pem_blocks(cert_text, "CERTIFICATE")
    if not blocks:
        raise ValueError("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    try:
        cert = x509.load_pem_x509_certificate(blocks[0].encode("ascii"))
    except ValueError:
        raise ValueError("holds a certificate that cannot be read") from None
    key_text = read_material(private_key) if private_key.strip() else cert_text
    keys = pem_blocks(key_text, *_KEY_LABELS)
    if not keys:
        where = "the private key" if private_key.strip() else "the certificate's file"
        raise ValueError(f"{where} holds no PEM private key (-----BEGIN PRIVATE KEY-----)")
    key = _load_rsa_key(keys[0], "the private key")
    if key.public_key().public_numbers() != cert.public_key().public_numbers():  # type: ignore[union-attr]
        raise ValueError("the private key does not belong to the certificate")
    der = cert.public_bytes(Encoding.DER)
    sha1 = hashlib.sha1(der, usedforsecurity=False).digest()
    return CertificateCredential(
        key=key,
        der=der,
        thumbprint=base64url(sha1),
        thumbprint_hex=sha1.hex().upper(),
        subject=cert.subject.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        secrets=secret_forms(keys[0]),
    )


@attrs.frozen
class ServiceAccountKey:
    """A Google service account's JSON key, as the Cloud console downloads it.

    ``token_uri`` is where tokens are asked for (``https://oauth2.googleapis.com/token``);
    ``client_id`` is the numeric id an admin enters for domain-wide delegation.
    """

    client_email: str
    client_id: str
    private_key_id: str
    token_uri: str
    key: Any = attrs.field(repr=False)
    secrets: tuple[str, ...] = attrs.field(repr=False, default=())


#: Where Google's token endpoint is when a key names none.
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL)


@functools.lru_cache(maxsize=8)
def load_service_account_key(value: str) -> ServiceAccountKey:
    """Read a service account's JSON key (the JSON itself or its file's path), once per
    process for the same setting.

    Raises `ValueError` naming what is wrong (not JSON, not a service account
    key, a field missing, an unreadable key) without quoting the key."""
    text = read_material(value)
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError("is not JSON (a service account key file is expected)") from None
    if not isinstance(data, dict) or data.get("type") != "service_account":
        raise ValueError('is not a service account key (its "type" is not "service_account")')
    missing = [
        name
        for name in ("client_email", "private_key", "private_key_id")
        if not isinstance(data.get(name), str) or not data.get(name)
    ]
    if missing:
        raise ValueError(f"lacks {', '.join(missing)}")
    key = _load_rsa_key(data["private_key"], "its private_key")
    return ServiceAccountKey(
        client_email=data["client_email"],
        client_id=str(data.get("client_id") or ""),
        private_key_id=data["private_key_id"],
        token_uri=str(data.get("token_uri") or GOOGLE_TOKEN_URI),
        key=key,
        secrets=(*secret_forms(data["private_key"]), text.strip()),
    )


def peek_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, read without checking its signature, for diagnostics
    (expiry, roles, the app's service principal); empty for an opaque token.

    Never trust it for a decision the server makes: the server checks the token."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, UnicodeEncodeError):
        return {}
    return claims if isinstance(claims, dict) else {}
