"""Test helpers for the Graph source: a source (or a real CLI's environment) on an emulator.

::

    source = graph_source(graph)                      # a GraphSource, a static token
    graph.seed_message(mail("Disk full on db-1"))
    summary = run_once(source, fake_tickets(tracker))  # the testkit's engine run
    env = cli_env(graph, tmp_path)                     # the real CLI, into a JSON-lines file

A source is built with the core's real settings validation and safety policy
(``shitshovela_testkit.fakes.fake_context``), unpaced unless a test sets ``RATE``.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shitshovela_graph_emulator import DEFAULT_MAILBOX, GraphEmulator, build_mime
from shitshovela_testkit import jobenv
from shitshovela_testkit.fakes import fake_context

if TYPE_CHECKING:
    from shitshovela_graph.source import GraphSource

    from shitshovela_core.deadline import Budget

#: The pace of a test's safety policy unless it sets ``RATE``: far above what ``RATE`` allows.
UNPACED = 100_000.0

_messages = itertools.count()


def settings(graph: GraphEmulator, **overrides: Any) -> dict[str, Any]:
    """The source's settings (by NAME) for the emulator's default mailbox, a static token."""
    return {
        "MAILBOX": DEFAULT_MAILBOX,
        "URL": graph.api_url,
        "TOKEN_FROM": "static",
        "ACCESS_TOKEN": graph.make_token(),
        **overrides,
    }


def graph_source(
    graph: GraphEmulator,
    *,
    instance: str = "test",
    budget: Budget | None = None,
    page_size: int | None = None,
    **overrides: Any,
) -> GraphSource:
    """A `GraphSource` on ``graph`` (``overrides`` by setting NAME)."""
    from shitshovela_graph.source import GraphSource

    values = settings(graph, **overrides)
    rate = None if "RATE" in values else UNPACED
    source = GraphSource(fake_context("graph", instance, settings=values, budget=budget, rate=rate))
    if page_size is not None:
        source.page_size = page_size
    return source


def mail(subject: str | None = None, **kwargs: Any) -> bytes:
    """A message's MIME (the emulator's `build_mime`), a fresh subject and Message-ID."""
    number = next(_messages)
    kwargs.setdefault("message_id", f"<kit-{number}@example.com>")
    return build_mime(subject or f"Message {number}", **kwargs)


def cli_env(
    graph: GraphEmulator,
    tmp_path: Path,
    *,
    instance: str = "graphcli",
    max_runtime: int = 60,
    **overrides: Any,
) -> dict[str, str]:
    """The environment of a real ``shitshovela`` run from ``graph`` into a JSON-lines file
    (``tmp_path / "tickets.jsonl"``, the in-house example's ticket system)."""
    return jobenv.job_env(
        jobenv.core(instance, max_runtime=max_runtime),
        jobenv.ticket_system("jsonl", PATH=str(tmp_path / "tickets.jsonl")),
        jobenv.source("graph", **settings(graph, **overrides)),
    )


@dataclass
class CliResult:
    """A finished ``shitshovela`` process."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """Everything it printed."""
        return self.stdout + self.stderr

    def last(self) -> dict[str, Any]:
        """The last JSON log line."""
        lines = [line for line in self.stdout.splitlines() if line.startswith("{")]
        found: dict[str, Any] = json.loads(lines[-1])
        return found


def run_cli(command: str, env: dict[str, str], *, timeout: float = 120) -> CliResult:
    """Run ``shitshovela <command>`` (``check``, ``run``, ``plugins``) to its end."""
    result = subprocess.run(
        [sys.executable, "-m", "shitshovela_core", *command.split()],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    return CliResult(result.returncode, result.stdout, result.stderr)


def tickets(tmp_path: Path) -> list[dict[str, Any]]:
    """The tickets the JSON-lines ticket system wrote."""
    path = tmp_path / "tickets.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
