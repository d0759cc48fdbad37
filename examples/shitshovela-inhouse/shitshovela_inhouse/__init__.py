"""A minimal in-house plugin: what a team writes to connect its own systems.

It registers a source (``spool``: a folder where another system drops text
files), a ticket system (``jsonl``: tickets kept in a JSON-lines file, standing
in for an in-house tracker), and shapes every draft (a component from the
sender's mail domain). The entry-point module stays cheap: the providers'
modules are named as strings and imported only when selected.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import attrs

import shitshovela_core
from shitshovela_core import (
    EnvName,
    Item,
    ProviderSettings,
    Register,
    TicketDraft,
    rate_setting,
    setting,
)

#: Sender domain -> component, the kind of mapping a team keeps in its plugin.
COMPONENTS = {"db.example.com": "Databases", "net.example.com": "Network"}


@attrs.frozen(kw_only=True)
class SpoolSettings(ProviderSettings):
    """``SHITSHOVELA_SPOOL__*``: the folder to read, and where bad files go."""

    path: str = setting(required=True, help="The spool folder.")
    set_aside: str = setting(
        default="", help="Folder for files that cannot become tickets (default: PATH/set-aside)."
    )
    rate: float = rate_setting(100.0)

    def problems(self, env: EnvName) -> Iterator[str]:
        """The set-aside folder must not be the spool folder itself."""
        if self.set_aside and os.path.abspath(self.set_aside) == os.path.abspath(self.path):
            yield f"{env('SET_ASIDE')} is {env('PATH')}: set-aside files would be read again"


@attrs.frozen(kw_only=True)
class JsonlSettings(ProviderSettings):
    """``SHITSHOVELA_JSONL__*``: the tickets file."""

    path: str = setting(required=True, help="The tickets file.")
    rate: float = rate_setting(100.0)


@shitshovela_core.hookimpl
def register_sources(register: Register) -> None:
    """Register the ``spool`` source."""
    register(
        "spool",
        "shitshovela_inhouse.spool:SpoolSource",
        help="Text files dropped into a folder; the first line is the title.",
        settings=SpoolSettings,
    )


@shitshovela_core.hookimpl
def register_ticket_systems(register: Register) -> None:
    """Register the ``jsonl`` ticket system."""
    register(
        "jsonl",
        "shitshovela_inhouse.jsonl:JsonlTickets",
        help="Tickets appended to a JSON-lines file (a stand-in for an in-house tracker).",
        settings=JsonlSettings,
    )


@shitshovela_core.hookimpl
def shape_ticket_draft(item: Item, draft: TicketDraft) -> TicketDraft | None:
    """Set a component from the sender's domain."""
    domain = item.sender.rpartition("@")[2].lower()
    component = COMPONENTS.get(domain)
    if component is None:
        return None
    return draft.evolve(fields={**draft.fields, "component": component})
