"""A minimal in-house plugin: what a team writes to connect its own systems.

It registers a source (``spool``: a folder where another system drops text
files), a ticket system (``jsonl``: tickets kept in a JSON-lines file, standing
in for an in-house tracker), and shapes every draft (a component from the
sender's mail domain). The entry-point module stays cheap: the providers'
modules are named as strings and imported only when selected.
"""

from __future__ import annotations

import shitshovela_core
from shitshovela_core import Item, Setting, TicketDraft
from shitshovela_core.providers import Register

#: Sender domain -> component, the kind of mapping a team keeps in its plugin.
COMPONENTS = {"db.example.com": "Databases", "net.example.com": "Network"}


@shitshovela_core.hookimpl
def register_sources(register: Register) -> None:
    """Register the ``spool`` source."""
    register(
        "spool",
        "shitshovela_inhouse.spool:SpoolSource",
        help="Text files dropped into a folder; the first line is the title.",
        settings=[
            Setting("PATH", required=True, help="The spool folder."),
            Setting(
                "SET_ASIDE",
                default="",
                help="Folder for files that cannot become tickets (default: PATH/set-aside).",
            ),
        ],
        default_rate=100.0,
    )


@shitshovela_core.hookimpl
def register_ticket_systems(register: Register) -> None:
    """Register the ``jsonl`` ticket system."""
    register(
        "jsonl",
        "shitshovela_inhouse.jsonl:JsonlTickets",
        help="Tickets appended to a JSON-lines file (a stand-in for an in-house tracker).",
        settings=[Setting("PATH", required=True, help="The tickets file.")],
        default_rate=100.0,
    )


@shitshovela_core.hookimpl
def shape_ticket_draft(item: Item, draft: TicketDraft) -> TicketDraft | None:
    """Set a component from the sender's domain."""
    domain = item.sender.rpartition("@")[2].lower()
    component = COMPONENTS.get(domain)
    if component is None:
        return None
    return draft.evolve(fields={**draft.fields, "component": component})
