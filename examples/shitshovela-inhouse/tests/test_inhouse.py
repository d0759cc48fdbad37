"""The example plugin passes the core's conformance kit, and shows in `plugins`."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from shitshovela_inhouse.jsonl import JsonlTickets
from shitshovela_inhouse.spool import SpoolSource
from shitshovela_testkit.conformance import StoredTicket, source_suite, ticket_system_suite
from shitshovela_testkit.fakes import fake_context

from shitshovela_core.providers import Source, TicketSystem


class SpoolHarness:
    unsupported: ClassVar[dict[str, str]] = {
        "source_with_wrong_credential": "a local folder has no credential",
        "exclusive_runs": "a spool folder has no compare-and-set and no lease: the README "
        "says to keep runs of one instance from overlapping",
    }

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.root = Path(self._tmp.name)

    def source(self) -> Source:
        context = fake_context("spool", "conf-a", settings={"PATH": str(self.root), "RATE": 100.0})
        return SpoolSource(context)

    def add(self, name: str, content: bytes) -> None:
        (self.root / name).write_bytes(content)

    replace = add

    def names(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_file())

    def close(self) -> None:
        self._tmp.cleanup()


class JsonlHarness:
    unsupported: ClassVar[dict[str, str]] = {
        "close_ticket": "the JSON-lines file has no closed state",
        "lose_next_create_answer": "appending a line to a local file has no answer to lose",
        "tickets_with_wrong_credential": "a local file has no credential",
        "page_size": "the listing reads the file in one piece",
        "plant": "a line in a local file records no author",
    }

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.path = Path(self._tmp.name) / "tickets.jsonl"

    def tickets(self, instance: str) -> TicketSystem:
        context = fake_context("jsonl", instance, settings={"PATH": str(self.path), "RATE": 100.0})
        return JsonlTickets(context)

    def settle(self) -> None:
        """The file is read-after-write consistent."""

    def _rows(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def add_label(self, key: str, label: str) -> None:
        rows = self._rows()
        for row in rows:
            if row["key"] == key:
                row["labels"].append(label)
        self.path.write_text("".join(json.dumps(row) + "\n" for row in rows))

    def stored(self, key: str) -> StoredTicket:
        (row,) = [row for row in self._rows() if row["key"] == key]
        return StoredTicket(tuple(row["labels"]), row["origin"])

    def stored_at_create(self, key: str) -> StoredTicket:
        """Each create is one appended line, and the kit asks right after it."""
        return self.stored(key)

    def close(self) -> None:
        self._tmp.cleanup()


TestSpoolConformance = source_suite(SpoolHarness)
TestJsonlConformance = ticket_system_suite(JsonlHarness)


def test_plugin_is_installed() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shitshovela_core", "plugins", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    providers = {p["name"]: p for p in json.loads(result.stdout)["providers"]}
    assert providers["spool"]["plugin"] == "inhouse"
    assert providers["jsonl"]["kind"] == "ticket_system"


def test_the_settings_classes_check_what_spans_settings() -> None:
    import pytest
    from shitshovela_inhouse import SpoolSettings

    from shitshovela_core.errors import ConfigError

    context = fake_context("spool", settings={"PATH": "/srv/spool"})
    settings = SpoolSettings.of(context.settings)
    assert (settings.path, settings.set_aside) == ("/srv/spool", "")  # the registered default
    with pytest.raises(ConfigError) as caught:
        fake_context("spool", settings={"PATH": "/srv/spool", "SET_ASIDE": "/srv/spool/"})
    assert caught.value.problems == [
        "SHITSHOVELA_SPOOL__SET_ASIDE is SHITSHOVELA_SPOOL__PATH: set-aside files would be "
        "read again"
    ]
