"""Finding, loading and isolating plugins.

Plugins are found through the entry-point group ``shitshovela`` and loaded one
at a time, each inside its own ``try`` (pluggy's own loader stops at the first
broken one). A plugin that fails to import, registers a misspelt hook or fails
in its registration hook is recorded as broken and skipped with a warning; it
only stops a run if the run selects a provider it would have provided. The
settings groups of a broken plugin (``register_settings``) are dropped with it.
``SHITSHOVELA_BLOCK_PLUGINS`` (comma-separated entry-point or distribution
names) is the way out of a broken plugin. Loading happens when the CLI asks
(`load_plugins`), never at import time.

Every hook is called through `Hooks`, one typed method per hook (tox 4's typed
plugin manager is the model), and one plugin at a time: each call goes through
pluggy (so ``SHITSHOVELA_TRACE_PLUGINS`` logs it, registration included), and
what one plugin raises stays its own. The engine sees only the run's methods
(`shitshovela_core.engine.RunHooks`), never pluggy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import pluggy
import structlog

from . import hookspecs
from .errors import PluginError
from .models import TicketDraft
from .providers import ProviderKind, ProviderSpec, Register
from .redact import scrub
from .settings import RegisterSettings, SettingsGroup, env_name

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from .deadline import Budget
    from .engine import RunInfo, RunSummary
    from .models import Item

#: Plugins that ship with the core, registered the same way as outside ones.
#: (None yet: every provider is its own distribution under ``plugins/``.)
DEFAULT_PLUGINS: tuple[str, ...] = ()

BLOCK_ENV = env_name(None, "BLOCK_PLUGINS")
TRACE_ENV = env_name(None, "TRACE_PLUGINS")

log = structlog.get_logger("shitshovela.plugins")


@attrs.frozen
class PluginInfo:
    """An installed plugin as ``shitshovela plugins`` shows it."""

    name: str
    distribution: str = ""
    version: str = ""
    hooks: tuple[str, ...] = ()
    error: str = ""
    blocked: bool = False


@attrs.define
class Plugins:
    """The loaded plugin manager and the providers the plugins registered."""

    pm: pluggy.PluginManager
    infos: dict[str, PluginInfo] = attrs.field(factory=dict)
    sources: dict[str, ProviderSpec] = attrs.field(factory=dict)
    ticket_systems: dict[str, ProviderSpec] = attrs.field(factory=dict)
    duplicates: dict[tuple[ProviderKind, str], list[str]] = attrs.field(factory=dict)
    #: Settings groups (``register_settings``) of the loaded plugins, by group name.
    settings_groups: dict[str, SettingsGroup] = attrs.field(factory=dict)
    #: A group name that is also a provider's or another group's: the problem, named.
    group_clashes: list[str] = attrs.field(factory=list)

    @property
    def broken(self) -> list[PluginInfo]:
        """Plugins that failed to load or register."""
        return [info for info in self.infos.values() if info.error]

    def registry(self, kind: ProviderKind) -> dict[str, ProviderSpec]:
        """The providers of one kind, by name."""
        return self.sources if kind == "source" else self.ticket_systems

    def select(self, kind: ProviderKind, name: str, env: str) -> ProviderSpec:
        """Return the provider ``name`` of ``kind``, or raise `PluginError` saying why not."""
        registry = self.registry(kind)
        label = "source" if kind == "source" else "ticket system"
        if (kind, name) in self.duplicates:
            owners = " and ".join(self.duplicates[(kind, name)])
            raise PluginError(
                f"{env}={name}: the {label} {name!r} is registered by two plugins ({owners}); "
                f"uninstall one or block it with {BLOCK_ENV}"
            )
        if name in registry:
            return registry[name]
        message = f"{env}={name}: no {label} called {name!r} is installed"
        known = ", ".join(sorted(registry)) or "none"
        message += f" (installed: {known})"
        suspects = [b for b in self.broken if name in b.name or name in b.distribution]
        suspects = suspects or self.broken
        for info in suspects:
            message += f"; plugin {info.name!r} failed to load: {info.error}"
        if suspects:
            message += f" (fix or reinstall it, or block it with {BLOCK_ENV})"
        raise PluginError(message)

    def specs(self) -> list[ProviderSpec]:
        """Every registered provider, sources first."""
        return [*self.sources.values(), *self.ticket_systems.values()]

    def hooks(self, log: FilteringBoundLogger | None = None) -> Hooks:
        """The typed facade over the loaded plugins' hooks; ``log`` receives the
        warnings of failing observers."""
        return Hooks(self.pm, log)


class Hooks:
    """The hooks, one typed method each: what the core calls on plugins.

    Each method calls the plugins one at a time, in pluggy's order (the last
    registered first; ``tryfirst``/``trylast`` adjust), each through pluggy
    itself, so a plugin gets only the arguments it names and the call is traced
    under ``SHITSHOVELA_TRACE_PLUGINS``. (A hook wrapper therefore wraps only its
    own plugin's implementation.) What happens when a plugin raises is each
    method's to say: registration marks the plugin broken, an observer's error
    is logged and the other observers still run, a shaping error stops the run.
    """

    def __init__(self, pm: pluggy.PluginManager, log: FilteringBoundLogger | None = None) -> None:
        self._pm = pm
        self._log: FilteringBoundLogger = log or structlog.get_logger("shitshovela.plugins")

    def _each(self, name: str) -> Iterator[tuple[str, Callable[..., list[Any]]]]:
        """(plugin name, caller of that plugin's implementation only) for hook ``name``."""
        caller: pluggy.HookCaller = getattr(self._pm.hook, name)
        for impl in reversed(caller.get_hookimpls()):
            others = [p for p in self._pm.get_plugins() if p is not impl.plugin]
            yield impl.plugin_name, self._pm.subset_hook_caller(name, remove_plugins=others)

    # -- at load time ----------------------------------------------------------------

    def register_providers(
        self, kind: ProviderKind, sink: Callable[[str, ProviderSpec], None]
    ) -> dict[str, Exception]:
        """Call ``register_sources`` or ``register_ticket_systems`` (by ``kind``);
        ``sink(plugin, spec)`` receives each provider as it is registered. Returns
        the plugins whose hook raised, with the error."""
        name = "register_sources" if kind == "source" else "register_ticket_systems"
        failed: dict[str, Exception] = {}
        for plugin, call in self._each(name):
            try:
                call(register=Register(kind, functools.partial(sink, plugin)))
            except Exception as exc:
                failed[plugin] = exc
        return failed

    def register_settings(self, sink: Callable[[str, SettingsGroup], None]) -> dict[str, Exception]:
        """Call ``register_settings``; ``sink(plugin, group)`` receives each group.
        Returns the plugins whose hook raised, with the error."""
        failed: dict[str, Exception] = {}
        for plugin, call in self._each("register_settings"):
            try:
                call(register=RegisterSettings(functools.partial(sink, plugin)))
            except Exception as exc:
                failed[plugin] = exc
        return failed

    # -- during a run ----------------------------------------------------------------

    def shape_draft(self, item: Item, draft: TicketDraft) -> TicketDraft:
        """``draft`` as every plugin's ``shape_ticket_draft`` leaves it, each plugin
        getting the previous one's result. An exception, or a result that is
        neither a `TicketDraft` nor None, is raised: the run stops before the
        ticket is created (I8)."""
        for plugin, call in self._each("shape_ticket_draft"):
            for shaped in call(item=item, draft=draft):  # [] for None, else [result]
                if not isinstance(shaped, TicketDraft):
                    raise TypeError(
                        f"plugin {plugin!r}: shape_ticket_draft returned "
                        f"{type(shaped).__name__}, not a TicketDraft or None"
                    )
                draft = shaped
        return draft

    def run_started(self, run: RunInfo, budget: Budget) -> None:
        """Call every ``run_started`` observer; never raises."""
        self._observe("run_started", run=run, budget=budget)

    def run_finished(self, run: RunInfo, summary: RunSummary, budget: Budget) -> None:
        """Call every ``run_finished`` observer; never raises."""
        self._observe("run_finished", run=run, summary=summary, budget=budget)

    def run_failed(self, run: RunInfo, summary: RunSummary, error: str, budget: Budget) -> None:
        """Call every ``run_failed`` observer; never raises."""
        self._observe("run_failed", run=run, summary=summary, error=error, budget=budget)

    def _observe(self, name: str, **kwargs: Any) -> None:
        """Observers cannot change a run: each one's error is logged (scrubbed) and
        the next observer still runs."""
        for plugin, call in self._each(name):
            try:
                call(**kwargs)
            except Exception as exc:
                self._log.warning(
                    "observer_failed", hook=name, plugin=plugin, error=scrub(_error_text(exc))
                )


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _hooks_of(pm: pluggy.PluginManager, plugin: object) -> tuple[str, ...]:
    callers = pm.get_hookcallers(plugin) or []
    return tuple(sorted(caller.name for caller in callers))


def _register_one(
    plugins: Plugins, obj: object, name: str, distribution: str = "", version: str = ""
) -> None:
    pm = plugins.pm
    try:
        pm.register(obj, name=name)
        pm.check_pending()
    except Exception as exc:
        if pm.is_registered(obj):
            pm.unregister(obj)
        plugins.infos[name] = PluginInfo(name, distribution, version, error=_error_text(exc))
        log.warning("plugin_broken", plugin=name, error=_error_text(exc))
        return
    plugins.infos[name] = PluginInfo(name, distribution, version, hooks=_hooks_of(pm, obj))


def _entry_points() -> Iterable[Any]:
    from importlib_metadata import entry_points

    return entry_points(group=hookspecs.PROJECT)


def _mark_broken(plugins: Plugins, failed: Mapping[str, Exception]) -> None:
    for owner, exc in failed.items():
        info = plugins.infos.get(owner, PluginInfo(owner))
        plugins.infos[owner] = attrs.evolve(info, error=_error_text(exc))
        log.warning("plugin_broken", plugin=owner, error=_error_text(exc))


def _collect_providers(plugins: Plugins, hooks: Hooks) -> None:
    kinds: tuple[ProviderKind, ...] = ("source", "ticket_system")
    for kind in kinds:

        def sink(owner: str, spec: ProviderSpec, kind: ProviderKind = kind) -> None:
            spec = attrs.evolve(spec, plugin=owner)
            registry = plugins.registry(kind)
            if spec.name in registry:
                first = registry[spec.name].plugin
                plugins.duplicates.setdefault((kind, spec.name), [first]).append(owner)
                log.warning("provider_registered_twice", provider=spec.name, plugins=[first, owner])
                return
            registry[spec.name] = spec

        _mark_broken(plugins, hooks.register_providers(kind, sink))


def _collect_settings_groups(plugins: Plugins, hooks: Hooks) -> None:
    """Call ``register_settings``; keep the groups of plugins that are not broken,
    and record every group name already taken by a provider or another group."""
    groups: list[SettingsGroup] = []

    def sink(owner: str, group: SettingsGroup) -> None:
        groups.append(attrs.evolve(group, plugin=owner))

    _mark_broken(plugins, hooks.register_settings(sink))
    for group in groups:
        state = plugins.infos.get(group.plugin)
        if state is not None and (state.error or state.blocked):
            continue
        for spec in plugins.specs():
            if spec.name == group.name:
                kind = "source" if spec.kind == "source" else "ticket system"
                plugins.group_clashes.append(
                    f"settings group {group.name!r} of plugin {group.plugin!r} has the name of "
                    f"the {kind} {spec.name!r} of plugin {spec.plugin!r}: both would read "
                    f"{env_name(group.name, '*')}; uninstall one or block it with {BLOCK_ENV}"
                )
        first = plugins.settings_groups.get(group.name)
        if first is not None:
            plugins.group_clashes.append(
                f"settings group {group.name!r} is registered by two plugins ({first.plugin} and "
                f"{group.plugin}); uninstall one or block it with {BLOCK_ENV}"
            )
            continue
        plugins.settings_groups[group.name] = group


def _trace(pm: pluggy.PluginManager) -> None:
    Impls = Sequence[pluggy.HookImpl]

    def before(hook_name: str, hook_impls: Impls, kwargs: Mapping[str, Any]) -> None:
        log.info("hook_call", hook=hook_name, plugins=[i.plugin_name for i in hook_impls])

    def after(
        outcome: pluggy.Result[Any], hook_name: str, hook_impls: Impls, kwargs: Mapping[str, Any]
    ) -> None:
        log.info("hook_done", hook=hook_name, failed=outcome.exception is not None)

    pm.add_hookcall_monitoring(before, after)


def create_plugins(
    extra: Sequence[tuple[str, object]] = (),
    *,
    entry_points: bool = True,
    environ: Mapping[str, str] | None = None,
) -> Plugins:
    """Build a fresh plugin manager with the default plugins, the installed
    entry points (unless ``entry_points`` is false) and ``extra`` (name,
    plugin object) pairs; tests use ``extra`` for test-only providers.

    ``SHITSHOVELA_BLOCK_PLUGINS`` and ``SHITSHOVELA_TRACE_PLUGINS`` are read
    from ``environ`` (default: the process environment) through the core's
    declarations (`shitshovela_core.config.early_settings`)."""
    from .config import early_settings

    early = early_settings(environ)
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    plugins = Plugins(pm)
    blocked = set(early.block_plugins)
    for module_name in DEFAULT_PLUGINS:
        import importlib

        _register_one(plugins, importlib.import_module(module_name), module_name)
    if entry_points:
        for ep in _entry_points():
            dist = ep.dist.name if ep.dist is not None else ""
            version = ep.dist.version if ep.dist is not None else ""
            if ep.name in blocked or dist in blocked:
                plugins.infos[ep.name] = PluginInfo(ep.name, dist, version, blocked=True)
                continue
            try:
                obj = ep.load()
            except Exception as exc:
                plugins.infos[ep.name] = PluginInfo(ep.name, dist, version, error=_error_text(exc))
                log.warning(
                    "plugin_broken",
                    plugin=ep.name,
                    error=_error_text(exc),
                    hint=f"block it with {BLOCK_ENV}={ep.name}",
                )
                continue
            _register_one(plugins, obj, ep.name, dist, version)
    for name, obj in extra:
        _register_one(plugins, obj, name)
    if early.trace_plugins:
        _trace(pm)
    hooks = plugins.hooks()
    _collect_providers(plugins, hooks)
    _collect_settings_groups(plugins, hooks)
    return plugins


_loaded: Plugins | None = None


def load_plugins() -> Plugins:
    """Load the installed plugins once per process and return them (idempotent)."""
    global _loaded
    if _loaded is None:
        _loaded = create_plugins()
    return _loaded
