"""How a benchmarked run ended, and the check that it ended the way the figure assumes.

A figure is only worth printing if the run did what is measured: a throughput
figure from a run that exited 2 after a second measures nothing. Every benchmark
runs the CLI through `run_cli` (or wraps an in-process engine's summary with
`from_summary`) and calls `expect` before it uses the run's numbers::

    outcome = expect(run_cli(["run"], env), code=0, reason="drained")
    print(f"{outcome.seconds:.1f}s")

`expect` raises `UnexpectedOutcome` (``the run ended with exit 2 (reason: ...),
not exit 0 'drained'``); a benchmark catches it with `Figures.attempt`, prints
``no figure: ...`` and exits non-zero at the end (`Figures.exit`).

This module needs nothing but the standard library (the unit test imports it
by path: ``bench/`` is not a package).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

#: The CLI's commands that log to stderr (their stdout is for people).
STDERR_COMMANDS = frozenset({"plan", "plugins"})


@dataclass(frozen=True)
class Outcome:
    """One run: wall seconds from spawn to exit, exit code, last log line, peak RSS."""

    seconds: float
    exit_code: int
    last: Mapping[str, Any] | None = None
    peak_rss_mb: float | None = None

    @property
    def reason(self) -> str:
        """The last log line's ``reason`` ("" if there is none)."""
        return str((self.last or {}).get("reason", ""))

    @property
    def event(self) -> str:
        """The last log line's event (``run_finished``, ``run_failed``, ...)."""
        return str((self.last or {}).get("event", ""))

    def describe(self) -> str:
        """``exit 2 (reason: ...)``; says so when there was no log line to read."""
        if self.last is None:
            return f"exit {self.exit_code} (no JSON log line)"
        return f"exit {self.exit_code} (reason: {self.reason or '<none>'})"


class Ended(Protocol):
    """What `from_summary` reads: the engine's `RunSummary` has both."""

    @property
    def exit_code(self) -> int: ...

    @property
    def reason(self) -> str: ...


def from_summary(summary: Ended | None, seconds: float = 0.0) -> Outcome:
    """An in-process engine run's `RunSummary` as an `Outcome` (None: a hard stop)."""
    if summary is None:
        return Outcome(seconds, -1, {"reason": "no summary: the run was hard-stopped"})
    last: dict[str, Any] = {"exit_code": int(summary.exit_code), "reason": summary.reason}
    as_dict = getattr(summary, "as_dict", None)
    if callable(as_dict):
        last = dict(as_dict())
    return Outcome(seconds, int(summary.exit_code), last)


def last_json_line(text: str) -> dict[str, Any] | None:
    """The last line of ``text`` that is a JSON object (log lines), or None."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _peak_rss_mb(pid: int) -> float | None:
    """VmHWM of a live process (its own peak; unlike ru_maxrss it is not inherited
    from the parent across fork and exec)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _tail(path: Path, size: int = 64 * 1024) -> str:
    """The end of a file (the last log lines of a 10,000-item run are at its end)."""
    with path.open("rb") as handle:
        handle.seek(0, 2)
        handle.seek(max(0, handle.tell() - size))
        return handle.read().decode("utf-8", "replace")


def run_cli(
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    rss: bool = False,
    python: str = sys.executable,
    cwd: str | Path | None = None,
    timeout: float = 3600.0,
) -> Outcome:
    """Run ``python -m shitshovela_core ARGS`` with ``env``; wait for it; return its `Outcome`.

    Its stdout and stderr go to temporary files, never to a pipe a long log could fill.
    The last JSON line is read from stdout, or from stderr for `STDERR_COMMANDS`. With
    ``rss``, the child's VmHWM is sampled every 20 ms until it exits.

    The CLI runs with its byte code cached, as installed (the container compiles it
    at install time, ``deploy/container/install-wheels.sh``): ``PYTHONDONTWRITEBYTECODE``
    is left out of ``env``, so the first run writes the caches and the others read them.
    With it set, every run compiles some 200 modules again: ``plan`` reached its first
    request after 0.46 s instead of 0.24 s (2026-11-30, 2 cores)."""
    env = {name: value for name, value in env.items() if name != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory(prefix="shsh-bench-out-") as folder:
        out, err = Path(folder, "stdout"), Path(folder, "stderr")
        with out.open("wb") as stdout, err.open("wb") as stderr:
            started = time.perf_counter()
            process = subprocess.Popen(
                [python, "-m", "shitshovela_core", *args],
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
            )
            peak: float | None = None
            try:
                if rss:
                    peak = 0.0
                    while process.poll() is None:
                        peak = max(peak, _peak_rss_mb(process.pid) or 0.0)
                        if time.perf_counter() - started > timeout:
                            raise subprocess.TimeoutExpired(process.args, timeout)
                        time.sleep(0.02)
                else:
                    process.wait(timeout)
            except BaseException:
                process.kill()
                process.wait()
                raise
            seconds = time.perf_counter() - started
        logs = err if args and args[0] in STDERR_COMMANDS else out
        return Outcome(seconds, process.returncode, last_json_line(_tail(logs)), peak)


class UnexpectedOutcome(Exception):
    """The run ended another way than the one the figure measures."""

    def __init__(self, outcome: Outcome, wanted: str) -> None:
        super().__init__(f"the run ended with {outcome.describe()}, not {wanted}")
        self.outcome = outcome


def expect(
    outcome: Outcome, *, code: int = 0, reason: str | None = None, contains: str | None = None
) -> Outcome:
    """``outcome`` if it ended with exit ``code``, a reason starting with ``reason`` and
    containing ``contains`` (each checked only if given); else raise `UnexpectedOutcome`."""
    wanted = f"exit {code}"
    if reason is not None:
        wanted += f" {reason!r}"
    if contains is not None:
        wanted += f" with {contains!r} in the reason"
    if (
        outcome.exit_code != code
        or (reason is not None and not outcome.reason.startswith(reason))
        or (contains is not None and contains not in outcome.reason)
    ):
        raise UnexpectedOutcome(outcome, wanted)
    return outcome


T = TypeVar("T")


@dataclass
class Figures:
    """A benchmark's bookkeeping: the figures it could not give, and its exit status."""

    refused: list[str] = field(default_factory=list)

    def attempt(self, what: str, measure: Callable[[], T]) -> T | None:
        """``measure()``, or None after printing ``no figure: WHAT: ...`` if a run in it
        ended unexpectedly."""
        try:
            return measure()
        except UnexpectedOutcome as exc:
            self.refuse(what, str(exc))
            return None

    @contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """`attempt` as a ``with`` block (the block is left at the first unexpected run)."""
        try:
            yield
        except UnexpectedOutcome as exc:
            self.refuse(what, str(exc))

    def refuse(self, what: str, why: str) -> None:
        """Print and remember ``no figure: WHAT: WHY``."""
        self.refused.append(f"{what}: {why}")
        print(f"no figure: {what}: {why}", flush=True)

    def exit(self) -> None:
        """Exit 1 naming every refused figure if there is one (call it last)."""
        if self.refused:
            print(f"{len(self.refused)} figure(s) refused:", file=sys.stderr)
            for line in self.refused:
                print(f"  no figure: {line}", file=sys.stderr)
            raise SystemExit(1)


def measured_on(load_at_start: float) -> str:
    """When and where figures were measured, with the machine's load from the start of
    the measurement (``os.getloadavg()[0]`` then) to now: ``2026-11-30 on x86_64, 2
    cores, Python 3.11.7, Linux (load average 1.2 at the start, 3.4 at the end)``."""
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()}"
    )
    return (
        f"{datetime.now(UTC):%Y-%m-%d} on {machine} (load average {load_at_start:.1f} at the "
        f"start, {os.getloadavg()[0]:.1f} at the end)"
    )


def write_section(path: Path, name: str, lines: Sequence[str]) -> None:
    """Replace the part of ``path`` between ``<!-- NAME -->`` and ``<!-- /NAME -->`` with
    ``lines`` (appending the marked part if it is not there); the rest of the file is kept."""
    begin, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    text = path.read_text() if path.exists() else ""
    block = "\n".join([begin, *lines, end])
    if begin in text and end in text:
        head, _, rest = text.partition(begin)
        _, _, tail = rest.partition(end)
        text = head + block + tail
    else:
        text = (text.rstrip("\n") + "\n\n" if text else "") + block + "\n"
    path.write_text(text)


__all__ = [
    "Ended",
    "Figures",
    "Outcome",
    "UnexpectedOutcome",
    "expect",
    "from_summary",
    "last_json_line",
    "measured_on",
    "run_cli",
    "write_section",
]
