"""ShitShovela's IMAP source: a mailbox emptied into the ticket system, one ticket per message.

This is the entry-point module: it only declares the ``imap`` source and its settings.
The source itself (`shitshovela_imap.source`, with imapclient and the HTML-to-text library)
is imported only when ``SHITSHOVELA_SOURCE=imap`` selects it.
"""

from __future__ import annotations

import shitshovela_core
from shitshovela_core import Register

from .config import ImapSettings


@shitshovela_core.hookimpl
def register_sources(register: Register) -> None:
    """Register the ``imap`` source."""
    register(
        "imap",
        "shitshovela_imap.source:ImapSource",
        settings=ImapSettings,
        help="An IMAP mailbox (a support or alerts inbox): one ticket per message.",
    )
