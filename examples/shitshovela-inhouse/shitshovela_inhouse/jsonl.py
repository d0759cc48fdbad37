"""The ``jsonl`` ticket system: tickets as lines of a JSON file.

Each create appends one line carrying the flag label and the origin reference
together (I3); unflagging rewrites the file. Single-writer only: it stands in
for an in-house tracker in examples and the README's first command.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shitshovela_core import Flag, Origin, ProviderContext, Ticket, TicketDraft, TicketSystem

from . import JsonlSettings


class JsonlTickets(TicketSystem):
    """Tickets in a JSON-lines file; keys are ``T-1``, ``T-2``, ..."""

    def __init__(self, context: ProviderContext) -> None:
        super().__init__(context)
        self.path = Path(JsonlSettings.of(context.settings).path)

    def _load(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def _ticket(self, row: dict[str, Any]) -> Ticket:
        try:
            origin: Origin | None = Origin.from_ref(row["origin"])
        except ValueError:
            origin = None
        labels = tuple(row["labels"])
        flagged = any(label.startswith("shitshovela-inprogress-") for label in labels)
        return Ticket(row["key"], origin, flagged, origin_ref=row["origin"], labels=labels)

    def create(self, draft: TicketDraft, flag: Flag, origin: Origin) -> Ticket:
        row = {
            "key": f"T-{len(self._load()) + 1}",
            "title": draft.title,
            "body": draft.body,
            "labels": [*draft.labels, flag.label],
            "fields": dict(draft.fields),
            "origin": origin.to_ref(),
        }
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(row) + "\n")
        return self._ticket(row)

    def flagged(self, flag: Flag) -> Iterator[Ticket]:
        for row in self._load():
            if flag.label in row["labels"]:
                yield self._ticket(row)

    def unflag(self, ticket: Ticket, flag: Flag) -> None:
        rows = self._load()
        for row in rows:
            if row["key"] == ticket.key and flag.label in row["labels"]:
                row["labels"].remove(flag.label)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text("".join(json.dumps(row) + "\n" for row in rows))
        os.replace(temporary, self.path)
