"""ShitShovela's Jira ticket system, for Jira Cloud (REST v3) and Data Center (REST v2).

This is the entry-point module: it only registers the ``jira`` ticket system
and its settings. The provider (`shitshovela_jira.tickets`) and httpx are
imported only when ``SHITSHOVELA_TICKET_SYSTEM=jira`` selects it; the
emulator (`shitshovela_jira_emulator`) is a test tool and never imported here.
"""

from __future__ import annotations

import shitshovela_core
from shitshovela_core import Register

from .config import JiraSettings


@shitshovela_core.hookimpl
def register_ticket_systems(register: Register) -> None:
    """Register the ``jira`` ticket system."""
    register(
        "jira",
        "shitshovela_jira.tickets:JiraTickets",
        settings=JiraSettings,
        help="Jira Cloud (REST v3) or Data Center (REST v2): one issue per item.",
    )
