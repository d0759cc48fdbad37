"""The ``shitshovela`` command: ``run``, ``check``, ``plan``, ``plugins``, ``--version``.

Errors become exit codes and one scrubbed line only here, at the boundary
(`ExitCode` documents the table). Heavy modules are imported inside the
commands so that ``--version`` and ``--help`` stay fast.
"""

from __future__ import annotations

import contextlib
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
    from .plan import Plan
    from .plugins import Plugins
    from .runner import Run


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

    from .envsettings import early_settings
    from .logs import configure_logging

    global _log_stream
    _log_stream = stream
    early = early_settings()
    configure_logging(early.log_format, early.log_level, stream)
    logger: FilteringBoundLogger = structlog.get_logger("shitshovela")
    return logger


#: Where this command logs (None: stdout), kept to configure logging again.
_log_stream: Any = None


def _exit(code: int) -> NoReturn:
    """End the process now, with ``code``, once the last line is out.

    Every command's last line is written before this; what is left of the
    process (closing modules, collecting garbage, joining threads) is skipped:
    on a loaded machine it can take longer than the margin before the
    deadline, and nothing of the run depends on it (I5)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _fail(log: FilteringBoundLogger, code: ExitCode, reason: str, **fields: Any) -> NoReturn:
    from .redact import scrub

    log.error("run_failed", reason=scrub(reason), exit_code=int(code), **fields)
    _exit(int(code))


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
    watchdog's hard stop; 128 + the signal when stopped by SIGTERM, SIGINT or
    SIGHUP.
    """


def _build(
    plugins: Plugins, config: Config, log: FilteringBoundLogger, budget: Budget | None = None
) -> Run:
    """Build the run (`shitshovela_core.runner`), or exit 2 naming the problem."""
    from .errors import ConfigError
    from .runner import build_run

    try:
        return build_run(plugins, config, log, budget=budget)
    except ConfigError as exc:
        for problem in exc.problems:
            log.error("config_invalid", problem=problem)
        _fail(log, ExitCode.CONFIG, f"bad configuration: {exc}")


def _guard(budget: Budget) -> None:
    """Move the process's watchdog and the kernel's timer to the run's validated
    budget (`shitshovela_core.hardstop`: armed at the entry point from process
    start, signals too). Called before any plugin code runs (building the
    providers); never disarmed: every command ends with `_exit`, under them."""
    from .hardstop import arm

    arm(budget)


@cli.command()
def run() -> None:
    """Run the job: reconcile, then drain, then exit (see exit codes above)."""
    from .runner import budget_for

    log = _setup_logging()
    plugins, config = _prepare(log)
    budget = budget_for(config)
    # The watchdog ends the process, so it is the command line's, moved to the run's
    # budget before any plugin code runs (building the providers).
    _guard(budget)
    built = _build(plugins, config, log, budget)
    try:
        summary = built.engine.run()
    finally:
        built.close()
    event = "run_finished" if summary.exit_code == ExitCode.OK else "run_failed"
    (log.info if summary.exit_code == ExitCode.OK else log.error)(event, **summary.as_dict())
    _exit(int(summary.exit_code))


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
    from .redact import scrub
    from .runner import budget_for

    log = _setup_logging()
    plugins, config = _prepare(log)
    if offline:
        _build(plugins, config, log).close()
        log.info("check_finished", result="ok", offline=True)
        _exit(int(ExitCode.OK))
    budget = budget_for(config)
    _guard(budget)
    built = _build(plugins, config, log, budget)
    failure = ""
    try:
        built.source.check()
        log.info("check_passed", system=config.source)
        built.tickets.check(built.engine.flag)
        log.info("check_passed", system=config.ticket_system)
    except ShitShovelaError as exc:
        failure = f"check failed: {exc}"
    except Exception as exc:
        failure = scrub(f"check failed: {type(exc).__name__}: {exc}")
    finally:
        built.close()
    if failure:
        _fail(log, ExitCode.UNREACHABLE, failure)
    log.info("check_finished", result="ok")
    _exit(int(ExitCode.OK))


@cli.command()
@click.option("--limit", default=5, show_default=True, help="How many would-be tickets to render.")
def plan(limit: int) -> None:
    """Dry run: what reconcile would finish and the first tickets drain would create.

    Reads only; creates, deletes and flags nothing.
    """
    from .errors import ShitShovelaError
    from .runner import budget_for

    log = _setup_logging(sys.stderr)
    plugins, config = _prepare(log)
    budget = budget_for(config)
    _guard(budget)
    built = _build(plugins, config, log, budget)
    failure = ""
    try:
        _render_plan(built.engine.plan(limit))
    except ShitShovelaError as exc:
        failure = f"plan failed: {exc}"
    finally:
        built.close()
    if failure:
        _fail(log, ExitCode.UNREACHABLE, failure)
    _exit(int(ExitCode.OK))


def _render_plan(plan: Plan) -> None:
    click.echo(f"Reconcile ({plan.flag.label}):")
    for ticket in plan.reconcile:
        where = ticket.origin.describe() if ticket.origin else "no readable origin"
        verdict = (
            "would delete origin and unflag" if ticket.finishes else "other source: not touched"
        )
        click.echo(f"  {ticket.key}: {where}: {verdict}")
    click.echo(f"  {len(plan.reconcile)} flagged ticket(s)")
    click.echo(f"Drain (first {plan.limit}, at most {plan.max_tickets} per run):")
    for entry in plan.drain:
        where = entry.origin.describe()
        claimed = " (claimed by an earlier run: would look for its ticket first)"
        claimed = claimed if entry.claimed else ""
        if entry.beyond_cap:
            click.echo(f"  {where}: left for the next run (the per-run cap is reached)")
        elif entry.draft is None:
            click.echo(f"  {where}: would be set aside: {entry.set_aside}")
        else:
            draft = entry.draft
            click.echo(f"  {where}{claimed}")
            click.echo(f"    title:  {draft.title}")
            click.echo(f"    labels: {', '.join((*draft.labels, plan.flag.label))}")
            body = draft.body.strip().splitlines()
            click.echo(f"    body:   {body[0][:100] if body else ''}")
            if draft.attachments:
                click.echo(f"    files:  {', '.join(a.name for a in draft.attachments)}")
    if not plan.drain:
        click.echo("  the source is empty")


@cli.command(name="plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_command(as_json: bool) -> None:
    """List installed plugins, their hooks, providers and every setting each reads
    (providers' and other plugins' settings groups)."""
    from .envsettings import CORE_SETTINGS
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
    """Run the command line in this process, guarded (`shitshovela_core.hardstop`):
    what the ``shitshovela`` command and ``python -m shitshovela_core`` do, after
    guarding the process before the imports (`shitshovela_core.__main__`)."""
    from .hardstop import guard_process

    guard_process()
    cli()
