"""The IMAP source's settings, `ImapSettings`, and the checks that span settings.

The core reads each setting; what depends on several of them (plain text only
to a loopback address, an archive folder for ``DONE=move``, folders that
differ from the mailbox, a password or a token source as ``AUTH`` says) is
`ImapSettings.problems`, which the core runs while
it loads the configuration: a problem is reported, naming the variable, with
every other problem of the run (exit code 2), before anything is contacted.
This module is imported by the entry point: standard library, attrs, the core and
`shitshovela_mail.MailSettings` only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Literal
from urllib.parse import quote

import attrs
from shitshovela_mail import MailSettings

from shitshovela_core import (
    EnvName,
    OAuthSettings,
    ProviderSettings,
    TlsSettings,
    rate_setting,
    setting,
)

#: Ports used when ``PORT`` is not set.
TLS_PORT = 993
PLAIN_PORT = 143


def check_search(text: str) -> None:
    """Reject SEARCH keys that could not be sent as one IMAP command argument list.

    The keys go to the server as written (after ``UNDELETED``), so they must be
    printable ASCII on one line with balanced quotes and parentheses; the
    server itself judges the rest and a refusal stops the run naming the setting.
    """
    if any(not (0x20 <= ord(c) < 0x7F) for c in text):
        raise ValueError("must be printable ASCII on one line (IMAP SEARCH keys)")
    depth = 0
    quoted = False
    escaped = False
    for char in text:
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise ValueError("has a ')' without its '('")
    if quoted:
        raise ValueError("has an unclosed quote")
    if depth:
        raise ValueError("has an unclosed '('")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _same_folder(a: str, b: str) -> bool:
    """IMAP folder names compare exactly, except INBOX, which is case-insensitive."""
    if a.upper() == "INBOX" or b.upper() == "INBOX":
        return a.upper() == b.upper()
    return a == b


def _single_line(value: object) -> None:
    text = str(value)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ValueError("must be one line without control characters")


def _host(value: object) -> None:
    text = str(value).strip()
    if not text or any(c.isspace() for c in text) or "/" in text:
        raise ValueError("expected a host name or address, such as imap.example.com")


def _search(value: object) -> None:
    check_search(str(value))


def _strip(value: object) -> str:
    return str(value).strip()


#: The default request rate: IMAP commands a second, retries and reconnects included.
DEFAULT_RATE = 20.0

#: How the source signs in: a password (LOGIN, or AUTHENTICATE PLAIN), or an access
#: token with SASL XOAUTH2 or OAUTHBEARER.
AUTH_METHODS = ("password", "xoauth2", "oauthbearer")
#: The scope of app-only IMAP at Microsoft 365 (Exchange Online), and at Google.
MICROSOFT_IMAP_SCOPE = "https://outlook.office365.com/.default"
GOOGLE_MAIL_SCOPE = "https://mail.google.com/"


@attrs.frozen(kw_only=True)
class ImapSettings(ProviderSettings, TlsSettings, OAuthSettings, MailSettings):
    """The IMAP source's settings (``SHITSHOVELA_IMAP__*``, see the README's
    table), and the rules that span them. The token settings (``TOKEN_FROM``,
    ``TENANT``, ``CLIENT_ID``, ...) come from the core's `OAuthSettings`; the
    set-aside folder, the size limit and the loop protection (``SET_ASIDE_FOLDER``,
    ``MAX_MESSAGE_SIZE``, ``AUTO_REPLIES``, ``MAX_PER_SENDER``, ``SENDER_OVERFLOW``)
    from `shitshovela_mail.MailSettings`, shared by every mail source."""

    host: str = setting(
        kind="str",
        required=True,
        check=_host,
        converter=_strip,
        help="The IMAP server's host name or address.",
    )
    port: int | None = setting(
        minimum=1,
        maximum=65535,
        help="The server's port; default 993 with SECURITY=tls, else 143.",
    )
    security: Literal["tls", "starttls", "plain"] = setting(
        default="tls",
        choices=("tls", "starttls", "plain"),
        help="tls: implicit TLS; starttls: upgrade a plain connection; plain: no TLS "
        "(only to a loopback address, or with ALLOW_PLAINTEXT).",
    )
    allow_plaintext: bool = setting(
        default=False,
        help="Allow SECURITY=plain to a host that is not a loopback address (the password "
        "or token then crosses the network in clear).",
    )
    auth: Literal["password", "xoauth2", "oauthbearer"] = setting(
        default="password",
        choices=AUTH_METHODS,
        help="How to sign in: password (PASSWORD), or an access token (see TOKEN_FROM) with "
        "SASL xoauth2 (Microsoft 365, Google) or oauthbearer (RFC 7628; Google).",
    )
    username: str = setting(
        required=True,
        check=_single_line,
        help="The login name; with a token, the mailbox's address (support@example.com).",
    )
    password: str = setting(
        secret=True,
        default="",
        check=_single_line,
        help="The login password (sent exactly as set); AUTH=password only.",
    )
    mailbox: str = setting(
        kind="str",
        default="INBOX",
        check=_single_line,
        converter=lambda name: _strip(name) or "INBOX",
        help="The mailbox (folder) to empty, with the server's hierarchy separator.",
    )
    search: str = setting(
        kind="str",
        default="",
        check=_search,
        converter=_strip,
        help="Extra IMAP SEARCH keys that select which messages become tickets, e.g. UNSEEN, "
        "SINCE 1-Jan-2026, FROM alerts@example.com; default: every message not marked \\Deleted.",
    )
    done: Literal["delete", "move"] = setting(
        default="delete",
        choices=("delete", "move"),
        help="What happens to a ticketed message: delete (\\Deleted, then UID EXPUNGE of that "
        "UID only) or move (to DONE_FOLDER, an archive).",
    )
    done_folder: str = setting(
        kind="str",
        default="",
        check=_single_line,
        converter=_strip,
        help="The archive folder for DONE=move (created if missing).",
    )
    timeout: float = setting(
        kind="duration",
        default=30.0,
        help="Longest wait for the server's next bytes (one socket operation), clipped to the "
        "time left; a server that drips bytes is cut off at the run's deadline.",
    )
    rate: float = rate_setting(DEFAULT_RATE)

    def problems(self, env: EnvName) -> Iterator[str]:
        """A password or a token source as AUTH says, plain text only to a loopback
        address, an archive folder for DONE=move, folders other than the mailbox."""
        yield from self._sign_in_problems(env)
        if self.security == "plain" and not is_loopback(self.host) and not self.allow_plaintext:
            what = "password" if self.auth == "password" else "access token"
            yield (
                f"{env('SECURITY')}=plain would send the {what} in clear to {self.host}: use "
                f"tls or starttls, or set {env('ALLOW_PLAINTEXT')}=true if that network "
                "is trusted"
            )
        if self.done == "move" and not self.done_folder:
            yield (
                f"{env('DONE')}=move needs {env('DONE_FOLDER')}, the archive folder to move "
                "ticketed messages to"
            )
        for name, folder in (
            ("DONE_FOLDER", self.done_folder),
            ("SET_ASIDE_FOLDER", self.set_aside_folder),
        ):
            if folder and _same_folder(folder, self.mailbox):
                yield (
                    f"{env(name)}={folder!r} is the mailbox being emptied ({env('MAILBOX')}): "
                    "choose another folder"
                )

    def _sign_in_problems(self, env: EnvName) -> Iterator[str]:
        if self.auth == "password":
            if not self.password:
                yield f"{env('AUTH')}=password needs {env('PASSWORD')}"
            if self.token_from is not None:
                yield (
                    f"{env('TOKEN_FROM')} is set but {env('AUTH')}=password: set {env('AUTH')}="
                    "xoauth2 (or oauthbearer) to sign in with a token"
                )
                return
            yield from self.token_problems(env, required=False)
            return
        if self.password:
            yield (
                f"{env('PASSWORD')} is set but {env('AUTH')}={self.auth} signs in with an access "
                f"token ({env('TOKEN_FROM')}): leave {env('PASSWORD')} unset"
            )
        yield from self.token_problems(env, required=True)

    @property
    def uses_token(self) -> bool:
        """True when the source signs in with an access token (XOAUTH2, OAUTHBEARER)."""
        return self.auth != "password"

    @property
    def server_port(self) -> int:
        """``PORT``, or the usual port for ``SECURITY`` (993 with tls, else 143)."""
        if self.port:
            return self.port
        return TLS_PORT if self.security == "tls" else PLAIN_PORT

    @property
    def scope(self) -> str:
        """The mailbox's stable identity: ``imap://user@host:port/MAILBOX`` (I7).

        The user name is percent-encoded (it may hold an ``@``); the host is lower case.
        """
        host = self.host.lower()
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return (
            f"imap://{quote(self.username, safe='')}@{host}:{self.server_port}/"
            f"{quote(self.mailbox, safe='/')}"
        )
