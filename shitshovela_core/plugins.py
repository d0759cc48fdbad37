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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import pluggy
import structlog

from . import hookspecs
from .errors import PluginError
from .providers import ProviderKind, ProviderSpec, Register
from .settings import RegisterSettings, SettingsGroup, env_name

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


def _collect_providers(plugins: Plugins) -> None:
    kinds: tuple[tuple[ProviderKind, Any], ...] = (
        ("source", plugins.pm.hook.register_sources),
        ("ticket_system", plugins.pm.hook.register_ticket_systems),
    )
    for kind, caller in kinds:
        for impl in reversed(caller.get_hookimpls()):
            owner = impl.plugin_name

            def sink(spec: ProviderSpec, owner: str = owner, kind: ProviderKind = kind) -> None:
                spec = attrs.evolve(spec, plugin=owner)
                registry = plugins.registry(kind)
                if spec.name in registry:
                    first = registry[spec.name].plugin
                    plugins.duplicates.setdefault((kind, spec.name), [first]).append(owner)
                    log.warning(
                        "provider_registered_twice", provider=spec.name, plugins=[first, owner]
                    )
                    return
                registry[spec.name] = spec

            try:
                impl.function(register=Register(kind, sink))
            except Exception as exc:
                info = plugins.infos.get(owner, PluginInfo(owner))
                plugins.infos[owner] = attrs.evolve(info, error=_error_text(exc))
                log.warning("plugin_broken", plugin=owner, error=_error_text(exc))


def _collect_settings_groups(plugins: Plugins) -> None:
    """Call ``register_settings``; keep the groups of plugins that are not broken,
    and record every group name already taken by a provider or another group."""
    groups: list[SettingsGroup] = []
    for impl in reversed(plugins.pm.hook.register_settings.get_hookimpls()):
        owner = impl.plugin_name
        mine: list[SettingsGroup] = []

        def sink(
            group: SettingsGroup, owner: str = owner, mine: list[SettingsGroup] = mine
        ) -> None:
            mine.append(attrs.evolve(group, plugin=owner))

        try:
            impl.function(register=RegisterSettings(sink))
        except Exception as exc:
            info = plugins.infos.get(owner, PluginInfo(owner))
            plugins.infos[owner] = attrs.evolve(info, error=_error_text(exc))
            log.warning("plugin_broken", plugin=owner, error=_error_text(exc))
            continue
        groups.extend(mine)
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
    _collect_providers(plugins)
    _collect_settings_groups(plugins)
    return plugins


_loaded: Plugins | None = None


def load_plugins() -> Plugins:
    """Load the installed plugins once per process and return them (idempotent)."""
    global _loaded
    if _loaded is None:
        _loaded = create_plugins()
    return _loaded
