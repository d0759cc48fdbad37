"""The hook specifications: the whole plugin API of ShitShovela.

A plugin implements any of these with ``@shitshovela_core.hookimpl`` and is
found through the entry-point group ``shitshovela``. Each docstring below is
the documentation of its hook (the README's plugin-author section repeats the
signatures, and a test keeps the two in step).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .engine import RunInfo, RunSummary
    from .models import Item, TicketDraft
    from .providers import Register

PROJECT = "shitshovela"

hookimpl = pluggy.HookimplMarker(PROJECT)
_spec = pluggy.HookspecMarker(PROJECT)


@_spec
def register_sources(register: Register) -> None:
    """Register the sources this plugin provides.

    Called once when plugins load. Call ``register(name, factory, settings=...,
    help=..., default_rate=...)`` for each source: ``name`` is what
    ``SHITSHOVELA_SOURCE`` selects and the prefix of its settings
    (``SHITSHOVELA_<NAME>__<SETTING>``); ``factory`` is a callable or a
    ``"module:attr"`` string, imported only when the source is selected, that
    takes a `ProviderContext` and returns a `Source`. A name registered twice
    is an error that names both plugins.
    """


@_spec
def register_ticket_systems(register: Register) -> None:
    """Register the ticket systems this plugin provides.

    The same as ``register_sources``, for ``SHITSHOVELA_TICKET_SYSTEM``; the
    factory returns a `TicketSystem`.
    """


@_spec
def shape_ticket_draft(item: Item, draft: TicketDraft) -> TicketDraft | None:
    """Shape the ticket drawn up for ``item`` (in-house field mapping).

    Called for every item before its ticket is created, once per plugin, each
    plugin receiving the draft as the previous one left it. Return a new draft
    (``draft.evolve(labels=..., fields={...})``) or None to leave it as it is.
    An exception stops the run before the ticket is created (I8).
    """


@_spec
def run_started(run: RunInfo) -> None:
    """Observe the start of a run, after configuration was validated.

    ``run`` names the instance, the source and the ticket system. An exception
    here is logged and ignored: observers cannot change a run.
    """


@_spec
def run_finished(run: RunInfo, summary: RunSummary) -> None:
    """Observe a run that ended normally: drained, or stopped at the deadline or
    the per-run cap (``summary.reason`` says which). Exceptions are logged and
    ignored."""


@_spec
def run_failed(run: RunInfo, summary: RunSummary, error: str) -> None:
    """Observe a run that failed; ``error`` is the scrubbed one-line reason and
    ``summary.exit_code`` the code the process exits with. Exceptions are
    logged and ignored."""
