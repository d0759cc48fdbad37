"""Loop protection for mail sources: auto-replies and a per-sender cap per run.

A ticket system that mails its reporters, an auto-reply to that mail, and a
mailbox this job empties make a loop: every run would ticket the replies to the
last run's tickets. `LoopGuard` (one per run) breaks it before any ticket is
made: auto-replies and bounces (`auto_reply_reason`) are set aside (unless
``AUTO_REPLIES=ticket``), and a sender's messages beyond ``MAX_PER_SENDER`` in
one run are set aside or left for later runs (``SENDER_OVERFLOW``).
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any, Literal

import attrs

from .mime import MessageHeaders, auto_reply_reason
from .settings import MailSettings


@attrs.frozen
class LoopVerdict:
    """What `LoopGuard.check` decided for one message: ``take`` it (make a ticket),
    ``set_aside`` (with ``reason``, the text a `PoisonItem` carries) or ``leave`` it in
    the mailbox for a later run."""

    action: Literal["take", "set_aside", "leave"]
    reason: str = ""

    @property
    def take(self) -> bool:
        """True when the message becomes a ticket."""
        return self.action == "take"


#: The verdict for a message that becomes a ticket.
TAKE = LoopVerdict("take")
#: The verdict for a message left in the mailbox for a later run.
LEAVE = LoopVerdict("leave")


class LoopGuard:
    """The loop protection of one run (see the module docstring): make one per run and
    `check` each message that is not claimed yet, in listing order.

    ``env`` names a setting's variable for the calling source (``env("MAX_PER_SENDER")``
    is ``SHITSHOVELA_IMAP__MAX_PER_SENDER`` for IMAP); ``log`` is the source's logger
    (a structlog bound logger): a capped sender whose messages are left is warned about
    once a run."""

    def __init__(self, settings: MailSettings, env: Callable[[str], str], log: Any) -> None:
        self.settings = settings
        self.env = env
        self.log = log
        self._per_sender: collections.Counter[str] = collections.Counter()
        self._left_senders: set[str] = set()

    def check(self, headers: MessageHeaders, content_type: str) -> LoopVerdict:
        """The verdict for a message with ``headers`` whose top MIME type is
        ``content_type``; a message taken counts against its sender's cap."""
        if self.settings.auto_replies == "set_aside":
            why = auto_reply_reason(headers, content_type)
            if why:
                return LoopVerdict("set_aside", f"auto-reply or bounce ({why})")
        sender = headers.sender or "(no sender)"
        cap = self.settings.max_per_sender
        if cap and self._per_sender[sender] >= cap:
            if self.settings.sender_overflow == "leave":
                if sender not in self._left_senders:
                    self._left_senders.add(sender)
                    self.log.warning(
                        "sender_capped",
                        sender=sender,
                        cap=cap,
                        note="further messages from this sender stay in the mailbox "
                        "for a later run",
                    )
                return LEAVE
            return LoopVerdict(
                "set_aside",
                f"more than {cap} messages from {sender} in one run (a mail loop?); "
                f"{self.env('MAX_PER_SENDER')}",
            )
        self._per_sender[sender] += 1
        return TAKE
