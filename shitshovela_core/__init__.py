"""ShitShovela's core: the reconcile-then-drain engine and its plugin API.

A plugin writes ``@shitshovela_core.hookimpl`` on its hook implementations
(`shitshovela_core.hookspecs` documents each hook) and subclasses `Source` or
`TicketSystem`.
"""

from .errors import (
    ConfigError,
    ExitCode,
    ItemRejected,
    OutcomeUnknown,
    ShitShovelaError,
    TransientError,
    Unreachable,
)
from .hookspecs import hookimpl
from .models import Attachment, Flag, Item, Origin, PoisonItem, Ticket, TicketDraft
from .providers import ProviderContext, Source, TicketSystem
from .settings import Setting

__all__ = [
    "Attachment",
    "ConfigError",
    "ExitCode",
    "Flag",
    "Item",
    "ItemRejected",
    "Origin",
    "OutcomeUnknown",
    "PoisonItem",
    "ProviderContext",
    "Setting",
    "ShitShovelaError",
    "Source",
    "Ticket",
    "TicketDraft",
    "TicketSystem",
    "TransientError",
    "Unreachable",
    "hookimpl",
]
