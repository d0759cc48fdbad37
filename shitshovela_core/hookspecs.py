"""The hook specifications: the whole plugin API of ShitShovela.

A plugin implements any of these with ``@shitshovela_core.hookimpl`` and is
found through the entry-point group ``shitshovela``. Each docstring below is
the documentation of its hook (the README's plugin-author section repeats the
signatures, and a test keeps the two in step). The core calls each plugin's
implementation on its own (`shitshovela_core.plugins.Hooks`), and
``SHITSHOVELA_TRACE_PLUGINS`` logs every call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .deadline import Budget
    from .engine import RunInfo, RunSummary
    from .models import Item, TicketDraft
    from .providers import Register
    from .settings import RegisterSettings

PROJECT = "shitshovela"

hookimpl = pluggy.HookimplMarker(PROJECT)
_spec = pluggy.HookspecMarker(PROJECT)


@_spec
def register_sources(register: Register) -> None:
    """Register the sources this plugin provides.

    Called once when plugins load. Call ``register(name, factory,
    settings=MySettings, help=...)`` for each source: ``name`` is what
    ``SHITSHOVELA_SOURCE`` selects and the prefix of its settings
    (``SHITSHOVELA_<NAME>__<SETTING>``); ``settings`` is its
    `~shitshovela_core.settings.ProviderSettings` subclass, read, built and
    checked by the core (``context.settings``); ``factory`` is a callable or a
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
def register_settings(register: RegisterSettings) -> None:
    """Declare settings of a plugin that is not a provider (an observer).

    Called once when plugins load. Call ``register(group, settings=MySettings,
    help=...)`` with a `~shitshovela_core.settings.Settings` subclass: each
    setting is read as ``SHITSHOVELA_<GROUP>__<NAME>`` and validated on every
    run like a provider's, its ``problems`` included (all problems at once,
    exit 2, nothing contacted; secrets scrubbed), whether or not the plugin's
    hooks are used, and ``shitshovela plugins`` lists them. The validated
    object reaches the observe hooks as ``run.settings[group]``.
    A group named like a provider or like another plugin's group is a
    configuration error that names both plugins.
    """


@_spec
def shape_ticket_draft(item: Item, draft: TicketDraft) -> TicketDraft | None:
    """Shape the ticket drawn up for ``item`` (in-house field mapping).

    Called for every item before its ticket is created, once per plugin, each
    plugin receiving the draft as the previous one left it. Return a new draft
    (``draft.evolve(labels=..., fields={...})``) or None to leave it as it is.
    The shaped draft is the whole ticket: the create and the ticket system's
    ``complete`` (attachments) both use it, and reconcile shapes an item it
    reads again the same way. An exception, or a return value that is neither
    a draft nor None, stops the run before the ticket is created (I8).
    """


@_spec
def run_started(run: RunInfo, budget: Budget) -> None:
    """Observe the start of a run, after configuration was validated.

    ``run`` names the instance, the source and the ticket system, and carries
    the settings groups' values (``run.settings``). ``budget`` is the run's
    time budget: whatever an observer does here takes time from the work, so
    bound it (a network call's timeout clipped by ``budget``). An exception
    here is logged and ignored, and the other plugins' observers still run:
    observers cannot change a run. An implementation may leave out ``budget``
    (pluggy passes only the arguments an implementation names).
    """


@_spec
def run_finished(run: RunInfo, summary: RunSummary, budget: Budget) -> None:
    """Observe a run that ended normally: drained, or stopped at the deadline or
    the per-run cap (``summary.reason`` says which). ``budget`` is the run's
    budget; ``budget.for_observers()`` gives a bounded window after the work's
    stop that still ends before the watchdog fires. Exceptions are logged and
    ignored, as for ``run_started``."""


@_spec
def run_failed(run: RunInfo, summary: RunSummary, error: str, budget: Budget) -> None:
    """Observe a run that failed; ``error`` is the scrubbed one-line reason and
    ``summary.exit_code`` the code the process exits with. ``budget`` as for
    ``run_finished``. Not called when the watchdog or a signal ends the process.
    Exceptions are logged and ignored, as for ``run_started``."""
