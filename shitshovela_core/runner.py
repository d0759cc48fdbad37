"""The composition root: from the loaded plugins and a validated configuration to a run.

`build_run` makes everything one run needs, once, in one place: the providers
(each with its `ProviderContext`: the run's budget, a safety policy carrying
its rate limit and TLS settings, a logger), the `RunInfo` the hooks see, the hook
facade and the `Engine`. The command line (``cli.py``) only parses, calls this,
renders and exits; it owns what belongs to the process (signals and the
watchdog, which ends the process), so a run built here can also run inside a
test or a benchmark.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from .deadline import Budget
from .engine import Engine, RunInfo
from .errors import ConfigError, PluginError
from .providers import ProviderContext, Source, TicketSystem
from .redact import scrub
from .safety import SafetyPolicy
from .settings import ProviderSettings, env_name

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from .config import Config
    from .plugins import Hooks, Plugins


@attrs.define
class Run:
    """One run, built: its description, budget, providers, hooks and engine.

    ``close`` releases both providers; call it once the engine is done.
    """

    info: RunInfo
    budget: Budget
    source: Source
    tickets: TicketSystem
    hooks: Hooks
    engine: Engine
    log: FilteringBoundLogger

    def close(self) -> None:
        """Close both providers; a provider that fails to close is logged (scrubbed)."""
        for provider in (self.source, self.tickets):
            try:
                provider.close()
            except Exception as exc:
                self.log.warning(
                    "close_failed",
                    provider=type(provider).__name__,
                    error=scrub(f"{type(exc).__name__}: {exc}"),
                )


def budget_for(config: Config) -> Budget:
    """The run's time budget: from the process start to ``MAX_RUNTIME`` (I5)."""
    return Budget(config.max_runtime)


def run_info(config: Config) -> RunInfo:
    """The run as the hooks see it, with every settings group's values."""
    return RunInfo(
        config.instance,
        config.source,
        config.ticket_system,
        config.max_runtime,
        config.max_tickets,
        settings=config.group_settings,
        claim_window=config.claim_window,
    )


def provider_context(
    name: str,
    config: Config,
    settings: ProviderSettings,
    budget: Budget,
    log: FilteringBoundLogger,
) -> ProviderContext:
    """What the provider ``name`` is built with: its validated settings, the run's
    budget, a safety policy with its rate and TLS settings, a logger bound to it."""
    return ProviderContext(
        provider=name,
        instance=config.instance,
        settings=settings,
        budget=budget,
        safety=SafetyPolicy(name, budget, settings.rate, settings=settings.as_dict()),
        log=log.bind(provider=name),
        claim_window=config.claim_window,
    )


def build_providers(
    plugins: Plugins, config: Config, budget: Budget, log: FilteringBoundLogger
) -> tuple[Source, TicketSystem]:
    """Import and build the two selected providers.

    Raises `PluginError` naming the plugin when a provider is not installed,
    fails to build or builds the wrong kind of object, and lets a provider's
    `ConfigError` (its own cross-setting checks) through."""
    built: list[Any] = []
    for kind, name, settings, expected in (
        ("source", config.source, config.source_settings, Source),
        ("ticket_system", config.ticket_system, config.ticket_settings, TicketSystem),
    ):
        env = env_name(None, kind.upper())
        spec = plugins.select(kind, name, env)  # type: ignore[arg-type]
        try:
            factory = spec.load()
            provider = factory(provider_context(name, config, settings, budget, log))
        except ConfigError:
            raise
        except Exception as exc:
            raise PluginError(
                f"{env}={name}: plugin {spec.plugin!r} failed to build {name!r}: "
                f"{type(exc).__name__}: {exc} (fix or reinstall the plugin)"
            ) from exc
        if not isinstance(provider, expected):
            raise PluginError(
                f"{env}={name}: plugin {spec.plugin!r} built a {type(provider).__name__}, "
                f"not a {expected.__name__}"
            )
        built.append(provider)
    return built[0], built[1]


def build_run(
    plugins: Plugins,
    config: Config,
    log: FilteringBoundLogger,
    *,
    budget: Budget | None = None,
) -> Run:
    """Build one run of ``config`` with the loaded ``plugins``; nothing is contacted.

    ``budget`` defaults to `budget_for` ``(config)``; the command line passes its
    own so that its watchdog is armed before any plugin code runs. Raises
    `ConfigError` or `PluginError` like `build_providers`."""
    budget = budget_for(config) if budget is None else budget
    source, tickets = build_providers(plugins, config, budget, log)
    info = run_info(config)
    hooks = plugins.hooks(log.bind(instance=config.instance))
    engine = Engine(run=info, source=source, tickets=tickets, budget=budget, hooks=hooks, log=log)
    return Run(info, budget, source, tickets, hooks, engine, log)
