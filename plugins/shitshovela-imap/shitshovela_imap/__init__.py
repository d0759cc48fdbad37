"""ShitShovela's IMAP source: a mailbox emptied into the ticket system, one ticket per message.

This is the entry-point module: it only declares the ``imap`` source and its settings.
The source itself (`shitshovela_imap.source`, with imapclient and the HTML-to-text library)
is imported only when ``SHITSHOVELA_SOURCE=imap`` selects it.
"""

from __future__ import annotations

import shitshovela_core
from shitshovela_core.providers import Register
from shitshovela_core.settings import Setting

#: The default request rate: IMAP commands a second, retries and reconnects included.
DEFAULT_RATE = 20.0


def _single_line(value: object) -> None:
    text = str(value)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ValueError("must be one line without control characters")


def _host(value: object) -> None:
    text = str(value).strip()
    if not text or any(c.isspace() for c in text) or "/" in text:
        raise ValueError("expected a host name or address, such as imap.example.com")


def _search(value: object) -> None:
    # Imported lazily: the checks live with the source's other IMAP rules.
    from .config import check_search

    check_search(str(value))


SETTINGS: tuple[Setting, ...] = (
    Setting("HOST", required=True, check=_host, help="The IMAP server's host name or address."),
    Setting(
        "PORT",
        "int",
        default=None,
        minimum=1,
        maximum=65535,
        help="The server's port; default 993 with SECURITY=tls, else 143.",
    ),
    Setting(
        "SECURITY",
        "choice",
        default="tls",
        choices=("tls", "starttls", "plain"),
        help="tls: implicit TLS; starttls: upgrade a plain connection; plain: no TLS "
        "(only to a loopback address, or with ALLOW_PLAINTEXT).",
    ),
    Setting(
        "ALLOW_PLAINTEXT",
        "bool",
        default=False,
        help="Allow SECURITY=plain to a host that is not a loopback address (the password "
        "then crosses the network in clear).",
    ),
    Setting("USERNAME", required=True, check=_single_line, help="The login name."),
    Setting(
        "PASSWORD",
        secret=True,
        required=True,
        check=_single_line,
        help="The login password (sent exactly as set).",
    ),
    Setting(
        "MAILBOX",
        default="INBOX",
        check=_single_line,
        help="The mailbox (folder) to empty, with the server's hierarchy separator.",
    ),
    Setting(
        "SEARCH",
        default="",
        check=_search,
        help="Extra IMAP SEARCH keys that select which messages become tickets, e.g. UNSEEN, "
        "SINCE 1-Jan-2026, FROM alerts@example.com; default: every message not marked \\Deleted.",
    ),
    Setting(
        "DONE",
        "choice",
        default="delete",
        choices=("delete", "move"),
        help="What happens to a ticketed message: delete (\\Deleted, then UID EXPUNGE of that "
        "UID only) or move (to DONE_FOLDER, an archive).",
    ),
    Setting(
        "DONE_FOLDER",
        default="",
        check=_single_line,
        help="The archive folder for DONE=move (created if missing).",
    ),
    Setting(
        "SET_ASIDE_FOLDER",
        default="ShitShovela-Set-Aside",
        check=_single_line,
        help="Where messages that cannot become tickets go (too large, unreadable, auto-replies, "
        "over the per-sender cap); created if missing. Empty: such a message stops the run.",
    ),
    Setting(
        "MAX_MESSAGE_SIZE",
        "int",
        default=50_000_000,
        minimum=1024,
        help="Largest message (bytes, RFC822.SIZE) that becomes a ticket; larger ones are set "
        "aside without being downloaded.",
    ),
    Setting(
        "AUTO_REPLIES",
        "choice",
        default="set_aside",
        choices=("set_aside", "ticket"),
        help="Auto-replies and bounces (Auto-Submitted, Precedence bulk/junk/list, X-Autoreply, "
        "X-Autorespond, empty Return-Path, delivery reports): set_aside or ticket.",
    ),
    Setting(
        "MAX_PER_SENDER",
        "int",
        default=20,
        minimum=0,
        help="Most tickets from one sender address in one run (a mail loop's brake); 0: no cap.",
    ),
    Setting(
        "SENDER_OVERFLOW",
        "choice",
        default="set_aside",
        choices=("set_aside", "leave"),
        help="Messages over MAX_PER_SENDER: set_aside (out of the mailbox, for an operator to "
        "look at) or leave (in the mailbox for later runs).",
    ),
    Setting(
        "TIMEOUT",
        "duration",
        default=30.0,
        help="Longest wait for the server's next bytes (one socket operation), clipped to the "
        "time left; a server that drips bytes is cut off at the run's deadline.",
    ),
)


@shitshovela_core.hookimpl
def register_sources(register: Register) -> None:
    """Register the ``imap`` source."""
    register(
        "imap",
        "shitshovela_imap.source:ImapSource",
        settings=SETTINGS,
        help="An IMAP mailbox (a support or alerts inbox): one ticket per message.",
        default_rate=DEFAULT_RATE,
        tls=True,
    )
