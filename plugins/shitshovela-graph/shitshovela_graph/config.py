"""The Graph source's settings, `GraphSettings`, and the checks that span settings.

The core reads each setting; what depends on several of them (a Microsoft or a
static token, Graph over https unless on loopback, a done folder for
``DONE=move``, folders other than the one being emptied) is
`GraphSettings.problems`, which the core runs while it loads the configuration:
a problem is reported, naming the variable, with every other problem of the
run (exit code 2), before anything is contacted. This module is imported by the
entry point: standard library, the core's settings and `shitshovela_mail.MailSettings`
only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Literal
from urllib.parse import quote, urlsplit

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

#: Microsoft Graph's v1.0 root in the global service.
GRAPH_URL = "https://graph.microsoft.com/v1.0"
#: The scope of an app-only Graph token: every application permission admin-consented.
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
#: Graph's hosts in the national clouds (the scope is ``https://HOST/.default`` there).
NATIONAL_CLOUDS = {
    "graph.microsoft.us": "US Government L4",
    "dod-graph.microsoft.us": "US Government L5 (DOD)",
    "microsoftgraph.chinacloudapi.cn": "China (21Vianet)",
}

#: Requests a second: one at a time, so at most 6,000 in any 10 minutes, 60 % of the
#: 10,000 Graph allows one app per mailbox (README, "Politeness").
DEFAULT_RATE = 10.0


def _strip(value: object) -> str:
    return str(value).strip()


def _folder(value: object) -> str:
    """A folder path as written, without white space or slashes at its ends."""
    return str(value).strip().strip("/").strip()


def _check_folder(value: object) -> None:
    text = str(value)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ValueError("must be one line without control characters")
    if text.strip().strip("/") and any(not p.strip() for p in text.strip().strip("/").split("/")):
        raise ValueError("has an empty folder name between two '/' (write Inbox/Support)")


def _check_mailbox(value: object) -> None:
    text = str(value).strip()
    if not text or any(c.isspace() or ord(c) < 0x20 for c in text) or "/" in text:
        raise ValueError(
            "expected the mailbox's user principal name (tickets@contoso.com) or the user's "
            "object id"
        )


def graph_scope(url: str) -> str:
    """The token scope for the Graph at ``url``: the national cloud's own host there,
    else the global service's (`GRAPH_SCOPE`, also for a stand-in on loopback)."""
    host = (urlsplit(url).hostname or "").lower()
    return f"https://{host}/.default" if host in NATIONAL_CLOUDS else GRAPH_SCOPE


def same_folder(a: str, b: str) -> bool:
    """Folder paths compare case-insensitively, as Exchange compares display names."""
    return a.strip("/").casefold() == b.strip("/").casefold()


@attrs.frozen(kw_only=True)
class GraphSettings(ProviderSettings, TlsSettings, OAuthSettings, MailSettings):
    """The Graph source's settings (``SHITSHOVELA_GRAPH__*``, see the README's table),
    and the rules that span them. The token settings (``TOKEN_FROM``, ``TENANT``,
    ``CLIENT_ID``, ...) come from the core's `OAuthSettings`; ``SET_ASIDE_FOLDER``,
    ``MAX_MESSAGE_SIZE`` and the loop protection (``AUTO_REPLIES``,
    ``MAX_PER_SENDER``, ``SENDER_OVERFLOW``) from `shitshovela_mail.MailSettings`,
    shared by every mail source."""

    mailbox: str = setting(
        kind="str",
        required=True,
        check=_check_mailbox,
        converter=_strip,
        help="The mailbox: its user principal name (tickets@contoso.com) or the user's object id.",
    )
    folder: str = setting(
        kind="str",
        default="inbox",
        check=_check_folder,
        converter=lambda value: _folder(value) or "inbox",
        help="The folder to empty: a well-known name (inbox, archive, ...) or a path of "
        "display names from the mailbox's root (Inbox/Support).",
    )
    done: Literal["delete", "move"] = setting(
        default="delete",
        choices=("delete", "move"),
        help="What happens to a ticketed message: delete (into Deleted Items, recoverable) "
        "or move (to DONE_FOLDER).",
    )
    done_folder: str = setting(
        kind="str",
        default="",
        check=_check_folder,
        converter=_folder,
        help="The folder for DONE=move, a path from the mailbox's root (created if missing).",
    )
    max_message_size: int = setting(
        default=50_000_000,
        minimum=1024,
        help="Largest message (bytes of its MIME) that becomes a ticket; a larger one is set "
        "aside, its download stopped one byte past this.",
    )
    url: str = setting(
        kind="url",
        default=GRAPH_URL,
        converter=lambda url: _strip(url).rstrip("/"),
        help="Microsoft Graph's v1.0 root (national clouds: https://graph.microsoft.us/v1.0, "
        "https://dod-graph.microsoft.us/v1.0, https://microsoftgraph.chinacloudapi.cn/v1.0).",
    )
    timeout: float = setting(
        kind="duration",
        default=30.0,
        help="Longest one request may take, a message's MIME download included, clipped to "
        "the time left.",
    )
    rate: float = rate_setting(DEFAULT_RATE)

    def problems(self, env: EnvName) -> Iterator[str]:
        """A Microsoft (or static) token, Graph over https unless on loopback, a folder for
        DONE=move, and folders other than the one being emptied."""
        yield from self.token_problems(env, required=True)
        if self.token_from == "google":  # noqa: S105  (a platform, not a password)
            yield (
                f"{env('TOKEN_FROM')}=google: Microsoft Graph takes tokens of the Microsoft "
                f"identity platform only: set {env('TOKEN_FROM')}=microsoft (or static)"
            )
        parts = urlsplit(self.url)
        if not (parts.scheme == "https" or (parts.scheme == "http" and _loopback(self.url))):
            yield (
                f"{env('URL')} must be an https:// URL (plain http only to a loopback "
                "address): every request carries the access token"
            )
        if self.done == "move" and not self.done_folder:
            yield (
                f"{env('DONE')}=move needs {env('DONE_FOLDER')}, the folder to move ticketed "
                "messages to"
            )
        try:
            _check_folder(self.set_aside_folder)
        except ValueError as exc:
            yield f"{env('SET_ASIDE_FOLDER')} {exc}"
        for name, folder in (
            ("DONE_FOLDER", self.done_folder if self.done == "move" else ""),
            ("SET_ASIDE_FOLDER", self.set_aside_path),
        ):
            if folder and same_folder(folder, self.folder):
                yield (
                    f"{env(name)}={folder!r} is the folder being emptied ({env('FOLDER')}): "
                    "choose another folder"
                )

    @property
    def set_aside_path(self) -> str:
        """``SET_ASIDE_FOLDER`` as a path (no slashes at its ends); empty: none."""
        return _folder(self.set_aside_folder)

    @property
    def scope(self) -> str:
        """The folder's stable identity: ``graph://<mailbox, lower case>/<FOLDER>`` (I7)."""
        return f"graph://{quote(self.mailbox.lower(), safe='@')}/{quote(self.folder, safe='/')}"

    @property
    def token_scope_or_default(self) -> str:
        """``TOKEN_SCOPE``, or the scope of the Graph at ``URL`` (`graph_scope`)."""
        return self.token_scope or graph_scope(self.url)


def _loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
