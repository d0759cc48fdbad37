"""Console logs with structlog: JSON lines for machines, readable lines for people.

Every event passes the scrubbing processor last before rendering, after the
exception (if any) was formatted to text, so no secret reaches any output
(I10). The console renderer prints plain tracebacks, never local variables.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, WrappedLogger

from .hardstop import set_output
from .redact import scrub

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(v) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return scrub(str(value))


#: An event name as the code writes it (``run_failed``): a constant, never data.
_EVENT_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
#: Fields the pipeline fills from fixed sets (the level, the clock), never from data.
_FIXED = frozenset({"level", "timestamp"})


def _fixed(key: str, value: Any) -> bool:
    if key in _FIXED:
        return True
    return key == "event" and isinstance(value, str) and bool(_EVENT_NAME.match(value))


def scrub_event(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask secrets in every value of the event (I10).

    The keys, the level, the timestamp and an event name are left as they are:
    they come from the code, not from data, and a secret that happens to be part
    of one (``finished`` in ``run_finished``) must not garble every line."""
    return {
        key: value if _fixed(key, value) else _scrub_value(value)
        for key, value in event_dict.items()
    }


class _ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = ()
        return True


def configure_logging(fmt: str = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    """Set up structlog for this process.

    ``fmt`` is ``json``, ``console`` or ``auto`` (console when ``stream`` is a
    terminal). Logs go to stdout unless ``stream`` says otherwise. Standard
    ``logging`` records of libraries go to stderr at WARNING and above,
    scrubbed too. The last line of a process ended by a signal or the watchdog
    (`shitshovela_core.hardstop`) follows the same format and stream.
    """
    out = stream if stream is not None else sys.stdout
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    set_output(use_json, out)  # the last line a signal or the watchdog writes, likewise
    renderer: Any
    if use_json:
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=out.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            scrub_event,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS.get(level, logging.INFO)),
        # One write per line, newline included (print writes the two apart, and with
        # PYTHONUNBUFFERED a hard stop's last line could land between them).
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    if not any(isinstance(f, _ScrubFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler(sys.stderr)
        handler.addFilter(_ScrubFilter())
        root.addHandler(handler)
