"""`MailSettings`: the settings every mail source shares, declared once.

A mail source's settings class mixes it in beside the core's bases
(``class ImapSettings(ProviderSettings, TlsSettings, OAuthSettings,
MailSettings)``): the set-aside folder, the size limit, and the loop protection
that `shitshovela_mail.loops.LoopGuard` applies. Standard library, attrs and the
core only: the entry point of a source imports it.
"""

from __future__ import annotations

from typing import Literal

import attrs

from shitshovela_core import Settings, setting


def _single_line(value: object) -> None:
    text = str(value)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ValueError("must be one line without control characters")


def _strip(value: object) -> str:
    return str(value).strip()


#: The folder messages are set aside in unless ``SET_ASIDE_FOLDER`` says otherwise.
DEFAULT_SET_ASIDE_FOLDER = "ShitShovela-Set-Aside"


@attrs.frozen(slots=False, kw_only=True)
class MailSettings(Settings):
    """A mixin: the settings of a mail source that decide what must not become a
    ticket (I12): where such messages go, the size limit, auto-replies and the
    per-sender cap of one run."""

    set_aside_folder: str = setting(
        kind="str",
        default=DEFAULT_SET_ASIDE_FOLDER,
        keep_empty=True,
        check=_single_line,
        converter=_strip,
        help="Where messages that cannot become tickets go (too large, unreadable, auto-replies, "
        "over the per-sender cap); created if missing. Empty: such a message stops the run.",
    )
    max_message_size: int = setting(
        default=50_000_000,
        minimum=1024,
        help="Largest message (bytes, the size the server reports) that becomes a ticket; "
        "larger ones are set aside without being downloaded.",
    )
    auto_replies: Literal["set_aside", "ticket"] = setting(
        default="set_aside",
        choices=("set_aside", "ticket"),
        help="Auto-replies and bounces (Auto-Submitted, Precedence bulk/junk/list, X-Autoreply, "
        "X-Autorespond, empty Return-Path, delivery reports): set_aside or ticket.",
    )
    max_per_sender: int = setting(
        default=20,
        minimum=0,
        help="Most tickets from one sender address in one run (a mail loop's brake); 0: no cap.",
    )
    sender_overflow: Literal["set_aside", "leave"] = setting(
        default="set_aside",
        choices=("set_aside", "leave"),
        help="Messages over MAX_PER_SENDER: set_aside (out of the mailbox, for an operator to "
        "look at) or leave (in the mailbox for later runs).",
    )
