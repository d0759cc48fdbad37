"""ShitShovela's Microsoft Graph mail source: an Exchange Online folder emptied into the
ticket system, one ticket per message, signing in as an app.

This is the entry-point module: it only declares the ``graph`` source and its settings.
The source itself (`shitshovela_graph.source`, with httpx and the shared mail library)
is imported only when ``SHITSHOVELA_SOURCE=graph`` selects it.
"""

from __future__ import annotations

import shitshovela_core
from shitshovela_core import Register

from .config import GraphSettings


@shitshovela_core.hookimpl
def register_sources(register: Register) -> None:
    """Register the ``graph`` source."""
    register(
        "graph",
        "shitshovela_graph.source:GraphSource",
        settings=GraphSettings,
        help="A Microsoft 365 (Exchange Online) mail folder read through Microsoft Graph, "
        "signing in as an app: one ticket per message.",
    )
