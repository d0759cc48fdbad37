"""Keeping secrets out of every line the job prints (I10).

`Redactor` holds the secret values of this run (every ``secret`` setting, and
whatever a provider adds, such as a built ``Authorization`` header) and
replaces them, and a few well-known shapes of credentials, with ``***`` in any
text. The log pipeline, error messages and tracebacks all pass through it.

A secret is masked in every form it may take in a message: as it is, escaped
the way Python's ``repr`` (of the text or of its UTF-8 bytes) and JSON write
it, URL-encoded, and in base64. `check_secret` holds the rules a secret setting's
value must meet to be scrubbed safely and sent as set (`Setting` applies them
while the configuration is read, before anything is contacted).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import unicodedata
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"

#: The shortest secret accepted: a shorter one is guessable, and masking it would
#: hide pieces of ordinary words in every line.
MIN_SECRET_LENGTH = 8

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

#: Unicode categories a secret may not hold: control and format characters (NUL,
#: ESC, DEL, a zero-width space, a byte-order mark), line and paragraph separators.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def check_secret(value: str, *, ascii_only: bool = False, multiline: bool = False) -> None:
    """Raise `ValueError` saying how to fix ``value`` (never showing it) unless it
    can be sent exactly as set and masked in every output.

    Refused: white space at either end (a line break there is what a secret
    made from a file gets), control and invisible characters anywhere, fewer
    than `MIN_SECRET_LENGTH` characters, and with ``ascii_only`` (a value sent in
    an HTTP header) anything but ASCII. A ``multiline`` secret is key material
    (a PEM block, a JSON key) or its file's path: read where it is, never sent as
    set, so its line breaks, tabs and the white space around it are its format;
    the rest holds for it too."""
    if multiline:
        check_secret(" ".join(value.split()), ascii_only=ascii_only)
        return
    if value != value.strip():
        if value.endswith(("\n", "\r")):
            raise ValueError(
                "it ends with a line break, as a secret made from a file with a final "
                "newline does: set it without (create the secret with printf %s, not echo, "
                "or strip the file's last newline)"
            )
        raise ValueError("it starts or ends with white space: set it without")
    if any(unicodedata.category(char) in _INVISIBLE for char in value):
        raise ValueError(
            "it holds a control or invisible character (a line break, a tab, a zero-width "
            "space or the like): set it without"
        )
    if ascii_only and not value.isascii():
        raise ValueError(
            "it holds a character that is not ASCII, and it is sent in an HTTP header, "
            "which carries ASCII only: check that the right value was copied"
        )
    if len(value) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"it is shorter than {MIN_SECRET_LENGTH} characters: too short to be a secret, "
            "and to be masked in the logs without masking parts of other words"
        )


def _python_escaped(secret: str) -> set[str]:
    """``secret`` as it shows inside Python's repr of a longer text, or of its UTF-8
    bytes, with either kind of quote escaped (repr picks the quote by the whole text)."""
    text = "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in secret.replace("\\", "\\\\")
    )
    raw = secret.encode("utf-8", "surrogateescape")
    data = "".join(
        "\\\\" if byte == 0x5C else chr(byte) if 0x20 <= byte < 0x7F else f"\\x{byte:02x}"
        for byte in raw
    )
    forms = set()
    for base in (text, data):
        forms |= {
            base,
            base.replace("'", "\\'"),
            base.replace('"', '\\"'),
            base.replace("'", "\\'").replace('"', '\\"'),
        }
    return forms


def forms_of(secret: str) -> set[str]:
    """Every form of ``secret`` the redactor masks: as it is, escaped by Python's
    repr and by JSON, URL-encoded, and in base64."""
    raw = secret.encode("utf-8", "surrogateescape")
    encoded = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    return {
        secret,
        quote(raw, safe=""),
        quote_plus(raw),
        *encoded,
        *(form.rstrip("=") for form in encoded),  # unpadded too, as tokens and URLs carry it
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        *_python_escaped(secret),
    }


class Redactor:
    """A set of secret strings and the function that hides them.

    `scrub` takes no lock (the set is replaced whole on `add`), so the last line
    a signal handler writes can be scrubbed whatever the handler interrupted."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._adding = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Remember secret values (in every form `forms_of` lists)."""
        with self._adding:
            found = set(self._secrets)
            for secret in secrets:
                if secret:
                    found |= {form for form in forms_of(secret) if form}
            self._secrets = tuple(sorted(found, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        """Return ``text`` with every known secret and credential shape masked."""
        for secret in self._secrets:
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
