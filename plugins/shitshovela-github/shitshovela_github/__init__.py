"""ShitShovela's GitHub Issues ticket system (github.com and GitHub Enterprise Server).

This is the entry-point module: it only registers the ``github`` ticket system
and its settings. The provider (`shitshovela_github.tickets`), httpx and PyJWT
are imported only when ``SHITSHOVELA_TICKET_SYSTEM=github`` selects it; the
emulator (`shitshovela_github_emulator`) is a test tool and never imported here.
"""

from __future__ import annotations

import shitshovela_core
from shitshovela_core import Register

from .config import GitHubSettings


@shitshovela_core.hookimpl
def register_ticket_systems(register: Register) -> None:
    """Register the ``github`` ticket system."""
    register(
        "github",
        "shitshovela_github.tickets:GitHubTickets",
        settings=GitHubSettings,
        help="GitHub Issues (github.com or Enterprise Server): one issue per item, with a "
        "personal access token or a GitHub App.",
    )
