"""The IMAP source's settings as one validated value, and the checks that span settings.

Each setting is parsed by the core (`shitshovela_imap.SETTINGS`); what depends on
several of them (plain text only to a loopback address, an archive folder for
``DONE=move``, folders that differ from the mailbox) is checked here, when the
source is built and before anything is contacted: a problem is a `ConfigError`
naming the variable, which the CLI turns into exit code 2.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import attrs

from shitshovela_core.errors import ConfigError

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


@attrs.frozen
class ImapSettings:
    """The validated settings of one IMAP source (see the README's settings table)."""

    host: str
    port: int
    security: str
    username: str
    password: str = attrs.field(repr=False)
    mailbox: str = "INBOX"
    search: str = ""
    done: str = "delete"
    done_folder: str = ""
    set_aside_folder: str = ""
    max_message_size: int = 50_000_000
    auto_replies: str = "set_aside"
    max_per_sender: int = 20
    sender_overflow: str = "set_aside"
    timeout: float = 30.0

    @classmethod
    def from_settings(cls, provider: str, values: Mapping[str, Any]) -> ImapSettings:
        """Build from the core's parsed settings; raise `ConfigError` naming each problem."""

        from . import SETTINGS

        values = {**{s.name: s.default for s in SETTINGS}, **values}

        def env(name: str) -> str:
            return f"SHITSHOVELA_{provider.upper()}__{name}"

        def text(name: str, default: str = "") -> str:
            value = values.get(name)
            return default if value is None else str(value)

        problems: list[str] = []
        host = text("HOST").strip()
        security = text("SECURITY", "tls")
        port_value = values.get("PORT")
        port = int(port_value) if port_value else (TLS_PORT if security == "tls" else PLAIN_PORT)
        mailbox = text("MAILBOX", "INBOX").strip() or "INBOX"
        done = text("DONE", "delete")
        done_folder = text("DONE_FOLDER").strip()
        set_aside_folder = text("SET_ASIDE_FOLDER").strip()
        if not host:
            problems.append(f"{env('HOST')} is not set: it is required")
        if not text("USERNAME"):
            problems.append(f"{env('USERNAME')} is not set: it is required")
        if not text("PASSWORD"):
            problems.append(f"{env('PASSWORD')} is not set: it is required")
        plain_abroad = security == "plain" and host and not is_loopback(host)
        if plain_abroad and not values.get("ALLOW_PLAINTEXT"):
            problems.append(
                f"{env('SECURITY')}=plain would send the password in clear to {host}: use "
                f"tls or starttls, or set {env('ALLOW_PLAINTEXT')}=true if that network "
                "is trusted"
            )
        if done == "move" and not done_folder:
            problems.append(
                f"{env('DONE')}=move needs {env('DONE_FOLDER')}, the archive folder to move "
                "ticketed messages to"
            )
        for name, folder in (("DONE_FOLDER", done_folder), ("SET_ASIDE_FOLDER", set_aside_folder)):
            if folder and _same_folder(folder, mailbox):
                problems.append(
                    f"{env(name)}={folder!r} is the mailbox being emptied ({env('MAILBOX')}): "
                    "choose another folder"
                )
        if problems:
            raise ConfigError(problems)
        return cls(
            host=host,
            port=port,
            security=security,
            username=text("USERNAME"),
            password=text("PASSWORD"),
            mailbox=mailbox,
            search=text("SEARCH").strip(),
            done=done,
            done_folder=done_folder,
            set_aside_folder=set_aside_folder,
            max_message_size=int(values.get("MAX_MESSAGE_SIZE") or 50_000_000),
            auto_replies=text("AUTO_REPLIES", "set_aside"),
            max_per_sender=int(values.get("MAX_PER_SENDER") or 0),
            sender_overflow=text("SENDER_OVERFLOW", "set_aside"),
            timeout=float(values.get("TIMEOUT") or 30.0),
        )

    @property
    def scope(self) -> str:
        """The mailbox's stable identity: ``imap://user@host:port/MAILBOX`` (I7).

        The user name is percent-encoded (it may hold an ``@``); the host is lower case.
        """
        host = self.host.lower()
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return (
            f"imap://{quote(self.username, safe='')}@{host}:{self.port}/"
            f"{quote(self.mailbox, safe='/')}"
        )
