"""The ``spool`` source: one text file per item.

A file's first line is the title, an optional ``From: sender`` second line
names the sender, the rest is the body. The origin pins the file's content
digest, so a file rewritten after it was ticketed is not deleted (I9): it
becomes its own ticket on a later run. Files that are not UTF-8 text, or
empty, are set aside into the set-aside folder (I12).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from shitshovela_core import Item, Origin, PoisonItem, ProviderContext, Source

from . import SpoolSettings

MAX_BYTES = 1_000_000


class SpoolSource(Source):
    """Items from the files in a folder, oldest name first."""

    def __init__(self, context: ProviderContext) -> None:
        super().__init__(context)
        settings = SpoolSettings.of(context.settings)
        self.root = Path(settings.path).resolve()
        configured = settings.set_aside
        self.set_aside_dir = Path(configured) if configured else self.root / "set-aside"

    @property
    def scope(self) -> str:
        return f"spool://{self.root}"

    def _entry(self, path: Path, data: bytes) -> Item | PoisonItem:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        origin = Origin(self.context.provider, self.scope, path.name, digest[7:23], digest)
        if not data.strip():
            return PoisonItem(origin, "empty file")
        if len(data) > MAX_BYTES:
            return PoisonItem(origin, f"larger than {MAX_BYTES} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return PoisonItem(origin, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        title, _, rest = text.partition("\n")
        sender = ""
        if rest.startswith("From:"):
            first, _, rest = rest.partition("\n")
            sender = first.removeprefix("From:").strip()
        return Item(origin=origin, title=title.strip() or path.name, body=rest, sender=sender)

    def _files(self) -> list[Path]:
        return sorted(p for p in self.root.iterdir() if p.is_file() and not p.name.startswith("."))

    def items(self) -> Iterator[Item | PoisonItem]:
        for path in self._files():
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            yield self._entry(path, data)

    def read(self, origin: Origin) -> Item | PoisonItem | None:
        path = self.root / origin.key
        try:
            entry = self._entry(path, path.read_bytes())
        except FileNotFoundError:
            return None
        return entry if entry.origin.version == origin.version else None

    def delete(self, origin: Origin) -> bool:
        # Check-then-unlink: another writer could replace the file in between.
        # Acceptable for a spool folder whose writers create new names.
        if self.read(origin) is None:
            return False
        (self.root / origin.key).unlink(missing_ok=True)
        return True

    def set_aside(self, origin: Origin, reason: str) -> None:
        self.set_aside_dir.mkdir(parents=True, exist_ok=True)
        source = self.root / origin.key
        if source.exists():
            os.replace(source, self.set_aside_dir / origin.key)
            (self.set_aside_dir / f"{origin.key}.reason").write_text(reason + "\n")
