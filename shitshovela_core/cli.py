"""The ``shitshovela`` command: ``run``, ``check``, ``plan``, ``plugins``, ``--version``.

Errors become exit codes and one scrubbed line only here, at the boundary
(`ExitCode` documents the table). Heavy modules are imported inside the
commands so that ``--version`` and ``--help`` stay fast.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import click

from .errors import ExitCode

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from .config import Config
    from .deadline import Budget
    from .engine import RunInfo
    from .plugins import Plugins
    from .providers import Source, TicketSystem


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("shitshovela")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def _setup_logging(stream: Any = None) -> FilteringBoundLogger:
    """Configure logging before the configuration is valid: LOG_FORMAT and
    LOG_LEVEL as set, read through the core's declarations (an invalid value
    counts as its default; the validation that follows reports it). `_prepare`
    configures it again from the validated `Config`."""
    import structlog

    from .config import early_settings
    from .logs import configure_logging

    global _log_stream
    _log_stream = stream
    early = early_settings()
    configure_logging(early.log_format, early.log_level, stream)
    logger: FilteringBoundLogger = structlog.get_logger("shitshovela")
    return logger


#: Where this command logs (None: stdout), kept to configure logging again.
_log_stream: Any = None


def _fail(log: FilteringBoundLogger, code: ExitCode, reason: str, **fields: Any) -> NoReturn:
    from .redact import scrub

    log.error("run_failed", reason=scrub(reason), exit_code=int(code), **fields)
    sys.exit(int(code))


def _prepare(log: FilteringBoundLogger) -> tuple[Plugins, Config]:
    """Load plugins and validate the configuration, or exit 2 (nothing contacted)."""
    from .config import load_config
    from .errors import ConfigError
    from .plugins import load_plugins
    from .redact import REDACTOR

    plugins = load_plugins()
    try:
        config = load_config(plugins)
    except ConfigError as exc:
        for problem in exc.problems:
            log.error("config_invalid", problem=problem)
        _fail(log, ExitCode.CONFIG, f"bad configuration: {len(exc.problems)} problem(s), see above")
    REDACTOR.add(*config.secrets)
    from .logs import configure_logging

    configure_logging(config.log_format, config.log_level, _log_stream)
    return plugins, config


def build_providers(
    plugins: Plugins, config: Config, budget: Budget, log: FilteringBoundLogger
) -> tuple[Source, TicketSystem]:
    """Import and build the two selected providers; raise `PluginError` naming the plugin."""
    from .errors import ConfigError, PluginError
    from .providers import ProviderContext, Source, TicketSystem
    from .settings import env_name
    from .transport import Transport

    built: list[Any] = []
    for kind, name, settings, expected in (
        ("source", config.source, config.source_settings, Source),
        ("ticket_system", config.ticket_system, config.ticket_settings, TicketSystem),
    ):
        env = env_name(None, kind.upper())
        spec = plugins.select(kind, name, env)  # type: ignore[arg-type]
        try:
            factory = spec.load()
            context = ProviderContext(
                provider=name,
                instance=config.instance,
                settings=settings,
                budget=budget,
                transport=Transport(name, budget, settings.rate, settings=settings.as_dict()),
                log=log.bind(provider=name),
            )
            provider = factory(context)
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


def _run_info(config: Config) -> RunInfo:
    """The run as hooks see it, with every settings group's values."""
    from .engine import RunInfo

    return RunInfo(
        config.instance,
        config.source,
        config.ticket_system,
        config.max_runtime,
        config.max_tickets,
        settings=config.group_settings,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="shitshovela", prog_name="shitshovela")
def cli() -> None:
    """Move items from a source into a ticket system: one ticket per item, exactly once.

    All configuration comes from SHITSHOVELA_* environment variables;
    `shitshovela plugins` lists every one. Exit codes: 0 finished (drained, or
    stopped at the deadline or the per-run cap, every system answering), 1
    internal error, 2 bad configuration, 3 a system unreachable, refusing or not
    answering before the deadline, before anything changed,
    4 reconcile failed, 5 drain failed, 6 a create's outcome unknown, 7 the
    watchdog's hard stop.
    """


def _start(log: FilteringBoundLogger) -> tuple[Plugins, Config, Budget]:
    from .deadline import Budget

    plugins, config = _prepare(log)
    return plugins, config, Budget(config.max_runtime)


def _build(
    plugins: Plugins, config: Config, budget: Budget, log: FilteringBoundLogger
) -> tuple[Source, TicketSystem]:
    from .errors import ConfigError

    try:
        return build_providers(plugins, config, budget, log)
    except ConfigError as exc:
        for problem in exc.problems:
            log.error("config_invalid", problem=problem)
        _fail(log, ExitCode.CONFIG, f"bad configuration: {exc}")


def _stop_on_signals(log: FilteringBoundLogger) -> None:
    """SIGTERM/SIGINT end the run at once with a last log line (128 + the signal).

    Stopping anywhere is safe by I1-I3: the next run's reconcile finishes what
    this one started."""
    import signal

    from .logs import last_words

    def stop(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        last_words("run_failed", reason=f"stopped by {name}", exit_code=128 + signum)
        os._exit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)


@cli.command()
def run() -> None:
    """Run the job: reconcile, then drain, then exit (see exit codes above)."""
    from .deadline import Watchdog
    from .engine import Engine
    from .redact import scrub

    log = _setup_logging()
    plugins, config, budget = _start(log)

    def hard_stop() -> None:
        from .logs import last_words

        last_words(
            "run_failed",
            reason="watchdog: the deadline was about to pass; hard stop (I5)",
            exit_code=int(ExitCode.WATCHDOG),
        )
        os._exit(int(ExitCode.WATCHDOG))

    watchdog = Watchdog(budget, hard_stop).start()
    _stop_on_signals(log)
    source, tickets = _build(plugins, config, budget, log)
    info = _run_info(config)
    try:
        summary = Engine(
            run=info, source=source, tickets=tickets, budget=budget, hook=plugins.pm.hook, log=log
        ).run()
    finally:
        for provider in (source, tickets):
            try:
                provider.close()
            except Exception as exc:
                log.warning(
                    "close_failed",
                    provider=type(provider).__name__,
                    error=scrub(f"{type(exc).__name__}: {exc}"),
                )
    watchdog.stop()
    event = "run_finished" if summary.exit_code == ExitCode.OK else "run_failed"
    (log.info if summary.exit_code == ExitCode.OK else log.error)(event, **summary.as_dict())
    sys.exit(int(summary.exit_code))


@cli.command()
@click.option(
    "--offline",
    is_flag=True,
    help="Validate the configuration only and contact nothing (for CI and deploy pipelines).",
)
def check(offline: bool) -> None:
    """Validate the configuration and reach both systems read-only.

    Reads the source's and the ticket system's credentials, permissions and
    the flag label; exit 0 when both answer, 2 on a bad configuration, 3 when
    a system is unreachable or refuses.

    With --offline nothing is contacted: the plugins are loaded, every setting
    is validated with each provider's own cross-setting checks (Jira's
    FLAVOUR against its tokens, S3's DONE_PREFIX against PREFIX, IMAP's plain
    text to a remote host), and both selected providers are built and closed
    again. Building them is network-free by the provider contract (a factory
    does no I/O) and imports their client libraries, so a broken install
    fails here too. Exit 0 with one line `check_finished result=ok
    offline=true`; exit 2 with every problem listed.
    """
    from .errors import ShitShovelaError
    from .models import Flag
    from .redact import scrub

    log = _setup_logging()
    plugins, config, budget = _start(log)
    source, tickets = _build(plugins, config, budget, log)
    if offline:
        for provider in (source, tickets):
            provider.close()
        log.info("check_finished", result="ok", offline=True)
        return
    try:
        source.check()
        log.info("check_passed", system=config.source)
        tickets.check(Flag(config.instance))
        log.info("check_passed", system=config.ticket_system)
    except ShitShovelaError as exc:
        _fail(log, ExitCode.UNREACHABLE, f"check failed: {exc}")
    except Exception as exc:
        _fail(log, ExitCode.UNREACHABLE, scrub(f"check failed: {type(exc).__name__}: {exc}"))
    finally:
        source.close()
        tickets.close()
    log.info("check_finished", result="ok")


@cli.command()
@click.option("--limit", default=5, show_default=True, help="How many would-be tickets to render.")
def plan(limit: int) -> None:
    """Dry run: what reconcile would finish and the first tickets drain would create.

    Reads only; creates, deletes and flags nothing.
    """
    from .engine import Engine
    from .errors import ShitShovelaError
    from .models import Flag, Item

    log = _setup_logging(sys.stderr)
    plugins, config, budget = _start(log)
    source, tickets = _build(plugins, config, budget, log)
    flag = Flag(config.instance)
    info = _run_info(config)
    engine = Engine(
        run=info, source=source, tickets=tickets, budget=budget, hook=plugins.pm.hook, log=log
    )
    try:
        click.echo(f"Reconcile ({flag.label}):")
        count = 0
        for ticket in tickets.flagged(flag):
            count += 1
            mine = ticket.origin is not None and source.owns(ticket.origin)
            where = ticket.origin.describe() if ticket.origin else "no readable origin"
            verdict = "would delete origin and unflag" if mine else "other source: not touched"
            click.echo(f"  {ticket.key}: {where}: {verdict}")
        click.echo(f"  {count} flagged ticket(s)")
        click.echo(f"Drain (first {limit}, at most {config.max_tickets} per run):")
        shown = 0
        for entry in source.items():
            if shown >= limit:
                break
            shown += 1
            if isinstance(entry, Item):
                draft = engine.draft(entry)
                labels = ", ".join((*draft.labels, flag.label))
                click.echo(f"  {entry.origin.describe()}")
                click.echo(f"    title:  {draft.title}")
                click.echo(f"    labels: {labels}")
                body = draft.body.strip().splitlines()
                click.echo(f"    body:   {body[0][:100] if body else ''}")
                if draft.attachments:
                    click.echo(f"    files:  {', '.join(a.name for a in draft.attachments)}")
            else:
                click.echo(f"  {entry.origin.describe()}: would be set aside: {entry.reason}")
        if shown == 0:
            click.echo("  the source is empty")
    except ShitShovelaError as exc:
        _fail(log, ExitCode.UNREACHABLE, f"plan failed: {exc}")
    finally:
        source.close()
        tickets.close()


@cli.command(name="plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_command(as_json: bool) -> None:
    """List installed plugins, their hooks, providers and every setting each reads
    (providers' and other plugins' settings groups)."""
    from .config import CORE_SETTINGS
    from .plugins import load_plugins
    from .settings import env_name, settings_of

    _setup_logging(sys.stderr)
    plugins = load_plugins()
    data: dict[str, Any] = {
        "core": {
            "version": _version(),
            "settings": [s.as_dict(env_name(None, s.name)) for s in CORE_SETTINGS],
        },
        "plugins": [
            {
                "name": i.name,
                "distribution": i.distribution,
                "version": i.version,
                "hooks": list(i.hooks),
                "error": i.error or None,
                "blocked": i.blocked,
            }
            for i in plugins.infos.values()
        ],
        "providers": [
            {
                "name": spec.name,
                "kind": spec.kind,
                "plugin": spec.plugin,
                "help": spec.help,
                "settings": [
                    s.as_dict(env_name(spec.name, s.name)) for s in settings_of(spec.settings)
                ],
            }
            for spec in plugins.specs()
        ],
        "settings_groups": [
            {
                "name": group.name,
                "plugin": group.plugin,
                "help": group.help,
                "settings": [
                    s.as_dict(env_name(group.name, s.name)) for s in settings_of(group.settings)
                ],
            }
            for group in plugins.settings_groups.values()
        ],
    }
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
        return
    click.echo(f"shitshovela {data['core']['version']}")
    click.echo("Core settings:")
    for setting in data["core"]["settings"]:
        click.echo(_setting_line(setting))
    click.echo("Plugins:" if data["plugins"] else "Plugins: none installed")
    for plugin in data["plugins"]:
        state = (
            " BLOCKED"
            if plugin["blocked"]
            else (f" BROKEN: {plugin['error']}" if plugin["error"] else "")
        )
        version = f" {plugin['version']}" if plugin["version"] else ""
        click.echo(
            f"  {plugin['name']}{version}{state}  hooks: {', '.join(plugin['hooks']) or '-'}"
        )
    click.echo("Providers:" if data["providers"] else "Providers: none registered")
    for provider in data["providers"]:
        kind = "source" if provider["kind"] == "source" else "ticket system"
        click.echo(f"  {provider['name']} ({kind}, from {provider['plugin']}): {provider['help']}")
        for setting in provider["settings"]:
            click.echo(_setting_line(setting))
    if data["settings_groups"]:
        click.echo("Settings of other plugins:")
    for group in data["settings_groups"]:
        click.echo(f"  {group['name']} (from {group['plugin']}): {group['help']}")
        for setting in group["settings"]:
            click.echo(_setting_line(setting))


def _setting_line(setting: dict[str, Any]) -> str:
    flags = []
    if setting["required"]:
        flags.append("required")
    if setting["secret"]:
        flags.append("secret")
    elif setting["default"] not in (None, "", []):
        flags.append(f"default {setting['default']}")
    extra = f" [{', '.join(flags)}]" if flags else ""
    return f"    {setting['env']} ({setting['type']}){extra}: {setting['help']}"


def main() -> None:
    """Console-script entry point."""
    cli()
