"""ShitShovela's core: the reconcile-then-drain engine and its plugin API.

Everything a plugin needs is importable from this package, and a plugin
imports nothing else of the core: no submodule path, no private name
(``tests/test_public_api.py`` checks the built-in plugins). A plugin writes
``@shitshovela_core.hookimpl`` on its hook implementations (`hookspecs`
documents each hook) and subclasses `Source` or `TicketSystem`. The README's
"The public API" lists every name by purpose:

- contracts: `hookimpl`, `Source`, `TicketSystem`, `ProviderContext`,
  `Register`, `RegisterSettings`, `RunInfo`, `RunSummary`, `Budget`;
- values: `Origin`, `Item`, `Attachment`, `PoisonItem`, `TicketDraft`,
  `Ticket`, `Flag`, `FLAG_PREFIX`;
- errors: `ShitShovelaError` and its subclasses, `ExitCode`;
- settings: `Settings`, `ProviderSettings`, `TlsSettings`, `setting`,
  `rate_setting`, `Setting`, `EnvName`, `env_name`;
- safety and HTTP: `SafetyPolicy`, `Exchange`, `Fault`, `Verdict`,
  `HttpClient`, `classify_http`, `parse_retry_after`, `Redactor`, `REDACTOR`;
- tokens (app-only OAuth2 sign-in): `OAuthSettings`, `token_provider`,
  `TokenProvider`, `AccessToken`;
- helpers: `embed_origin`, `find_origin`, `origin_marker`, `strip_origin`,
  `follow_links`, `next_link`, `read_whole`.

The names are imported on first use (`__getattr__` below), so that
``shitshovela --version`` and a plugin's entry point stay cheap: importing
``shitshovela_core`` imports none of its submodules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .deadline import Budget
    from .engine import RunInfo, RunSummary
    from .errors import (
        ConfigError,
        CutOff,
        DeadlineReached,
        ExitCode,
        ItemRejected,
        OutcomeUnknown,
        ProviderError,
        SetAsideUnavailable,
        SetupError,
        ShitShovelaError,
        TransferTooSlow,
        TransientError,
        Unreachable,
    )
    from .hookspecs import hookimpl
    from .models import (
        FLAG_PREFIX,
        Attachment,
        Flag,
        Item,
        Origin,
        PoisonItem,
        Ticket,
        TicketDraft,
        well_formed,
    )
    from .origintext import embed_origin, find_origin, origin_marker, strip_origin
    from .paging import follow_links, next_link, read_whole
    from .providers import ProviderContext, Register, Source, TicketSystem
    from .redact import REDACTOR, Redactor
    from .safehttp import (
        HttpClient,
        answer_detail,
        classify_http,
        parse_retry_after,
        raise_for_answer,
    )
    from .safety import Exchange, Fault, SafetyPolicy, Verdict
    from .settings import (
        EnvName,
        ProviderSettings,
        RegisterSettings,
        Setting,
        Settings,
        TlsSettings,
        env_name,
        rate_setting,
        setting,
    )
    from .tokens import AccessToken, TokenProvider, token_provider
    from .tokensettings import OAuthSettings

#: Each public name and the submodule it lives in, grouped as in the README.
_EXPORTS = {
    # contracts: the hooks, the provider classes, what the hooks are handed
    "hookimpl": "hookspecs",
    "Source": "providers",
    "TicketSystem": "providers",
    "ProviderContext": "providers",
    "Register": "providers",
    "RegisterSettings": "settings",
    "RunInfo": "engine",
    "RunSummary": "engine",
    "Budget": "deadline",
    # values
    "Origin": "models",
    "Item": "models",
    "Attachment": "models",
    "PoisonItem": "models",
    "TicketDraft": "models",
    "Ticket": "models",
    "Flag": "models",
    "FLAG_PREFIX": "models",
    "well_formed": "models",
    # errors
    "ShitShovelaError": "errors",
    "ConfigError": "errors",
    "ProviderError": "errors",
    "Unreachable": "errors",
    "CutOff": "errors",
    "TransientError": "errors",
    "TransferTooSlow": "errors",
    "OutcomeUnknown": "errors",
    "ItemRejected": "errors",
    "SetAsideUnavailable": "errors",
    "SetupError": "errors",
    "DeadlineReached": "errors",
    "ExitCode": "errors",
    # settings
    "Settings": "settings",
    "ProviderSettings": "settings",
    "TlsSettings": "settings",
    "setting": "settings",
    "rate_setting": "settings",
    "Setting": "settings",
    "EnvName": "settings",
    "env_name": "settings",
    # safety and HTTP
    "SafetyPolicy": "safety",
    "Exchange": "safety",
    "Fault": "safety",
    "Verdict": "safety",
    "HttpClient": "safehttp",
    "classify_http": "safehttp",
    "parse_retry_after": "safehttp",
    "Redactor": "redact",
    "REDACTOR": "redact",
    # tokens: app-only OAuth2 sign-in
    "OAuthSettings": "tokensettings",
    "token_provider": "tokens",
    "TokenProvider": "tokens",
    "AccessToken": "tokens",
    # helpers: status-to-error, the origin in free text, pagination
    "raise_for_answer": "safehttp",
    "answer_detail": "safehttp",
    "embed_origin": "origintext",
    "find_origin": "origintext",
    "origin_marker": "origintext",
    "strip_origin": "origintext",
    "follow_links": "paging",
    "next_link": "paging",
    "read_whole": "paging",
}

__all__ = [
    "FLAG_PREFIX",
    "REDACTOR",
    "AccessToken",
    "Attachment",
    "Budget",
    "ConfigError",
    "CutOff",
    "DeadlineReached",
    "EnvName",
    "Exchange",
    "ExitCode",
    "Fault",
    "Flag",
    "HttpClient",
    "Item",
    "ItemRejected",
    "OAuthSettings",
    "Origin",
    "OutcomeUnknown",
    "PoisonItem",
    "ProviderContext",
    "ProviderError",
    "ProviderSettings",
    "Redactor",
    "Register",
    "RegisterSettings",
    "RunInfo",
    "RunSummary",
    "SafetyPolicy",
    "SetAsideUnavailable",
    "Setting",
    "Settings",
    "SetupError",
    "ShitShovelaError",
    "Source",
    "Ticket",
    "TicketDraft",
    "TicketSystem",
    "TlsSettings",
    "TokenProvider",
    "TransferTooSlow",
    "TransientError",
    "Unreachable",
    "Verdict",
    "answer_detail",
    "classify_http",
    "embed_origin",
    "env_name",
    "find_origin",
    "follow_links",
    "hookimpl",
    "next_link",
    "origin_marker",
    "parse_retry_after",
    "raise_for_answer",
    "rate_setting",
    "read_whole",
    "setting",
    "strip_origin",
    "token_provider",
    "well_formed",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its submodule on first use (see the module docstring)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'shitshovela_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
