"""Keeping secrets out of every line the job prints (I10).

`Redactor` holds the secret values of this run (every ``secret`` setting, and
whatever a provider adds, such as a built ``Authorization`` header) and
replaces them, and a few well-known shapes of credentials, with ``***`` in any
text. The log pipeline, error messages and tracebacks all pass through it.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"

# Credentials that are secret whatever their value: URL user-info, auth headers,
# and token-like query parameters.
_PATTERNS = (
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),
    re.compile(
        r"(?i)((?:authorization|proxy-authorization|cookie|set-cookie|x-api-key|x-amz-security-token)"
        r"['\"]?\s*[:=]\s*['\"]?)([^'\"\r\n,}]+)"
    ),
    re.compile(
        r"(?i)([?&](?:token|access_token|api_key|apikey|password|signature|x-amz-signature|"
        r"x-amz-credential|x-amz-security-token)=)([^&\s'\"]+)"
    ),
)


class Redactor:
    """A set of secret strings and the function that hides them."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: list[str] = []
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Remember secret values (and their URL-encoded and base64 forms)."""
        with self._lock:
            for secret in secrets:
                if not secret:
                    continue
                raw = secret.encode("utf-8", "surrogateescape")
                forms = {
                    secret,
                    quote(raw, safe=""),
                    quote_plus(raw),
                    base64.b64encode(raw).decode(),
                }
                self._secrets.extend(f for f in forms if f and f not in self._secrets)
            self._secrets.sort(key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """Return ``text`` with every known secret and credential shape masked."""
        with self._lock:
            secrets = list(self._secrets)
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        text = _PATTERNS[0].sub(MASK, text)
        for pattern in _PATTERNS[1:]:
            text = pattern.sub(lambda m: m.group(1) + MASK, text)
        return text


#: The process-wide redactor the log pipeline and the CLI use.
REDACTOR = Redactor()


def scrub(text: str) -> str:
    """Mask secrets in ``text`` with the process-wide `REDACTOR`."""
    return REDACTOR.scrub(text)
