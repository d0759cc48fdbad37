"""ShitShovela's core: the reconcile-then-drain engine and its plugin API.

A plugin writes ``@shitshovela_core.hookimpl`` on its hook implementations
(`shitshovela_core.hookspecs` documents each hook) and subclasses `Source` or
`TicketSystem`. The names below are imported on first use, so that
``shitshovela --version`` and a plugin's entry point stay cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import (
        ConfigError,
        CutOff,
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

_EXPORTS = {
    "ConfigError": "errors",
    "CutOff": "errors",
    "ExitCode": "errors",
    "ItemRejected": "errors",
    "OutcomeUnknown": "errors",
    "ShitShovelaError": "errors",
    "TransientError": "errors",
    "Unreachable": "errors",
    "hookimpl": "hookspecs",
    "Attachment": "models",
    "Flag": "models",
    "Item": "models",
    "Origin": "models",
    "PoisonItem": "models",
    "Ticket": "models",
    "TicketDraft": "models",
    "ProviderContext": "providers",
    "Source": "providers",
    "TicketSystem": "providers",
    "Setting": "settings",
}

__all__ = [
    "Attachment",
    "ConfigError",
    "CutOff",
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'shitshovela_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
