"""Ending the process at once with one last line: on a signal, or by the watchdog (I5).

The command's entry point (`shitshovela_core.__main__`) calls `guard_process`
before it imports anything heavy. From then on:

- SIGTERM, SIGINT and SIGHUP end the process with exit code 128 + the signal
  and a last line ``run_failed reason="stopped by SIGTERM"``, whatever it is
  doing, imports included (a signal the process was started ignoring, such as
  ``nohup``'s SIGHUP, stays ignored). Stopping anywhere is safe by I1-I3.
- The `Watchdog` ends the process (exit 7, a last line) just before the
  deadline, from process start, with ``MAX_RUNTIME`` read straight from the
  environment; `arm` moves it to the run's validated budget later. It stays
  armed to the very end: closing the providers, the last log line and the
  exit all happen under it.
- A kernel timer (``ITIMER_REAL``, SIGALRM at its default action) ends the
  process a little later still, without a line, should the watchdog thread be
  unable to run: a C call that holds the interpreter, a starved machine.

The last line is written without structlog and before logging is configured
too (then in the format ``LOG_FORMAT`` asks for, on the stream the command
logs to), by a writer thread started here: a signal handler must not start a
thread or take a lock the interrupted code may hold, and a full pipe must not
hold the exit up. So this module imports only the standard library's
lightest parts, all of them before the handlers exist.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from .envnames import env_name
from .errors import ExitCode

if TYPE_CHECKING:
    from .deadline import Budget, Watchdog

#: The signals that end the run with a last line (exit 128 + the signal).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

#: How long the process waits for its last line to be written before it exits
#: anyway (a pipe nobody reads must not hold the exit up).
LAST_LINE_WAIT = 0.2

#: The commands that log to stderr (their output is on stdout), as `shitshovela_core.cli`.
_STDERR_COMMANDS = frozenset({"plan", "plugins"})
#: The core settings read here, before the configuration can be (`envsettings.CoreSettings`
#: declares them).
LOG_FORMAT_VARIABLE = env_name(None, "LOG_FORMAT")
MAX_RUNTIME_VARIABLE = env_name(None, "MAX_RUNTIME")


class _Output:
    """Where the last line goes and in which format; guessed from the environment
    until logging is configured (`set_output`)."""

    def __init__(self) -> None:
        self.json: bool | None = None
        self.fd: int | None = None

    def target(self) -> tuple[bool, int]:
        fd = self.fd
        if fd is None:
            command = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), "")
            fd = 2 if command in _STDERR_COMMANDS else 1
        use_json = self.json
        if use_json is None:
            wanted = os.environ.get(LOG_FORMAT_VARIABLE, "").strip().lower()
            use_json = wanted == "json" or (wanted != "console" and not _isatty(fd))
        return use_json, fd


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


_OUTPUT = _Output()


def set_output(use_json: bool, stream: Any) -> None:
    """Write the last line as the configured logs are: JSON or console, to ``stream``."""
    try:
        fd = int(stream.fileno())
    except (OSError, ValueError, AttributeError):
        fd = 1
    _OUTPUT.json, _OUTPUT.fd = use_json, fd


class _Writer:
    """A thread that writes last lines, so that whoever ends the process only queues one."""

    def __init__(self) -> None:
        self._lines: queue.SimpleQueue[tuple[int, bytes]] = queue.SimpleQueue()
        self._written: queue.SimpleQueue[bool] = queue.SimpleQueue()
        self._started = threading.Lock()
        self._thread = threading.Thread(target=self._write, name="shitshovela-last-line")
        self._thread.daemon = True

    def start(self) -> None:
        if self._started.acquire(blocking=False):
            self._thread.start()

    def write(self, fd: int, data: bytes) -> None:
        """Queue ``data`` for ``fd`` and wait at most `LAST_LINE_WAIT` for it to be written."""
        self.start()
        self._lines.put((fd, data))  # SimpleQueue.put is safe in a signal handler
        with contextlib.suppress(queue.Empty):
            self._written.get(timeout=LAST_LINE_WAIT)

    def _write(self) -> None:
        while True:
            fd, data = self._lines.get()
            try:
                while data:
                    data = data[os.write(fd, data) :]
            except OSError:
                pass
            self._written.put(True)


_WRITER = _Writer()


def _timestamp() -> str:
    """UTC now as structlog's ISO stamps are written: ``2026-01-31T12:00:00.123456Z``."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"


def _scrubbed(value: Any) -> Any:
    # The redactor holds secrets only once the configuration was read, which imports
    # it; before that there is nothing to mask, and nothing is imported here (a
    # signal may land while the module is half imported: then it has no `scrub` yet).
    scrub = getattr(sys.modules.get("shitshovela_core.redact"), "scrub", None)
    if scrub is None or isinstance(value, int | float | bool) or value is None:
        return value
    return scrub(str(value))


def format_line(event: str, **fields: Any) -> str:
    """One error line as the logs write it (JSON or console), its fields scrubbed."""
    data = {key: _scrubbed(value) for key, value in fields.items()}
    data.update(event=event, level="error", timestamp=_timestamp())
    use_json, _ = _OUTPUT.target()
    if use_json:
        return json.dumps(data)
    rest = " ".join(
        f"{k}={v!r}" for k, v in data.items() if k not in ("event", "timestamp", "level")
    )
    return f"{data['timestamp']} [error    ] {event:30s} {rest}"


def last_words(event: str, **fields: Any) -> None:
    """Write one final, scrubbed error line without structlog's locks, then return.

    Used by the watchdog and the signal handlers just before ``os._exit``: the
    normal logger may be held mid-write by the code being stopped (a signal
    handler would deadlock on its lock; a full pipe would block it), so the
    line is handed to the writer thread, which gets at most `LAST_LINE_WAIT`.
    """
    line = format_line(event, **fields)
    _, fd = _OUTPUT.target()
    _WRITER.write(fd, (line + "\n").encode("utf-8", "replace"))


#: Taken by the first of the signal handlers and the watchdog to end the process.
_ENDING = threading.Lock()


def end_now(code: int, reason: str) -> None:
    """End the process with ``code`` and a last ``run_failed`` line giving ``reason``.

    The first caller wins and does not return. A later one (a second signal,
    the watchdog firing meanwhile) returns at once: the first ends the process
    within `LAST_LINE_WAIT`, and waiting here could be waiting on itself (a
    handler that interrupted the first)."""
    if _ENDING.acquire(blocking=False):
        try:
            last_words("run_failed", reason=reason, exit_code=code)
        finally:
            os._exit(code)


def _on_signal(signum: int, _frame: object) -> None:
    end_now(128 + signum, f"stopped by {signal.Signals(signum).name}")


def stop_on_signals() -> None:
    """SIGTERM, SIGINT and SIGHUP end the process at once with a last line
    (128 + the signal); a signal inherited as ignored stays ignored."""
    _WRITER.start()
    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) != signal.SIG_IGN:
            signal.signal(signum, _on_signal)


_WATCHDOG: Watchdog | None = None


def arm(budget: Budget) -> None:
    """Keep the process within ``budget``: the watchdog (exit 7 with a last line)
    at its ``watchdog_at``, and the kernel's timer at its ``backstop_at``.

    Called again with another budget, both move to it; they are never disarmed:
    the process ends by ``os._exit`` on every path."""
    from .deadline import Watchdog

    global _WATCHDOG
    if _WATCHDOG is None:
        _WATCHDOG = Watchdog(budget, _watchdog_fired).start()
    else:
        _WATCHDOG.rearm(budget)
    if signal.getsignal(signal.SIGALRM) == signal.SIG_DFL:
        signal.setitimer(signal.ITIMER_REAL, max(0.001, budget.backstop_at - budget.clock()))


def _watchdog_fired() -> None:
    end_now(int(ExitCode.WATCHDOG), "watchdog: the deadline was about to pass; hard stop (I5)")


def guard_process() -> None:
    """Guard this process from its first line: signals, then the deadline.

    The deadline is process start + ``MAX_RUNTIME`` as set (`deadline.early_runtime`:
    a value the configuration will refuse counts as the default here, and the
    run then ends at once with exit 2)."""
    stop_on_signals()
    from .deadline import Budget, early_runtime

    arm(Budget(early_runtime(os.environ.get(MAX_RUNTIME_VARIABLE))))
