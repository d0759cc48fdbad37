"""The OpenAPI excerpts in ``specs/`` are exactly the files its README vouches for, and load.

``specs/README.md`` gives each copied file's size and sha256: a silent edit of an
excerpt (or of the tool that makes them) fails here, and so does a file added
to or removed from the folder without its row. The excerpts must also load in
the installed openapi-core (which validates them as OpenAPI documents), which
is how the emulators use them, and hold every operation their ops list names.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import warnings
from pathlib import Path

import pytest
from shitshovela_jira_emulator import jira_openapi

pytestmark = pytest.mark.unit

SPECS = Path(__file__).resolve().parents[1] / "specs"

# A row of the checksum table: | `file` | bytes | `sha256` |
_ROW = re.compile(r"^\| `([^`]+)` \| (\d+) \| `([0-9a-f]{64})` \|$", re.MULTILINE)


def checksum_table(readme: str) -> dict[str, tuple[int, str]]:
    """``{file name: (size, sha256)}`` from the README's "Checksums" section."""
    section = readme.split("\n## Checksums\n", 1)[1].split("\n## ", 1)[0]
    return {name: (int(size), digest) for name, size, digest in _ROW.findall(section)}


def mismatches(folder: Path) -> list[str]:
    """What in ``folder`` disagrees with the checksum table of its ``README.md``."""
    table = checksum_table((folder / "README.md").read_text(encoding="utf-8"))
    present = {p.name for p in folder.iterdir() if p.is_file() and p.name != "README.md"}
    problems = [f"{name}: no checksum row" for name in sorted(present - set(table))]
    problems += [f"{name}: listed but missing" for name in sorted(set(table) - present)]
    for name in sorted(present & set(table)):
        size, digest = table[name]
        data = (folder / name).read_bytes()
        if hashlib.sha256(data).hexdigest() != digest or len(data) != size:
            problems.append(f"{name}: sha256 {hashlib.sha256(data).hexdigest()}, size {len(data)}")
    return problems


def test_the_checksum_table_lists_every_copied_file() -> None:
    table = checksum_table((SPECS / "README.md").read_text(encoding="utf-8"))
    assert len(table) == 10
    assert {"jira-platform.openapi.json", "extract.py", "graph-mail.README.md"} <= set(table)


def test_specs_match_their_checksums() -> None:
    assert mismatches(SPECS) == []


def test_an_edited_added_or_removed_file_is_caught(tmp_path: Path) -> None:
    copy = tmp_path / "specs"
    shutil.copytree(SPECS, copy)
    ops = copy / "jira-platform.ops.txt"
    ops.write_bytes(ops.read_bytes().replace(b"GET ", b"GET\t", 1))  # same size, one byte
    (copy / "extract.py").unlink()
    (copy / "stray.json").write_text("{}")
    assert mismatches(copy) == [
        "stray.json: no checksum row",
        "extract.py: listed but missing",
        f"jira-platform.ops.txt: sha256 {hashlib.sha256(ops.read_bytes()).hexdigest()}, size 693",
    ]


def test_the_emulator_uses_the_excerpt_in_specs() -> None:
    assert jira_openapi() == SPECS / "jira-platform.openapi.json"


@pytest.mark.parametrize(
    ("stem", "title", "operations"),
    [
        ("jira-platform", "The Jira Cloud platform REST API", 16),
        ("github-issues", "GitHub v3 REST API", 17),
        ("graph-mail", "Mail", 17),
    ],
)
def test_excerpt_loads_with_openapi_core(stem: str, title: str, operations: int) -> None:
    from openapi_core import OpenAPI

    doc = json.loads((SPECS / f"{stem}.openapi.json").read_text(encoding="utf-8"))
    assert doc["info"]["title"] == title
    assert doc["x-excerpt"].startswith("Excerpt of ")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Unsupported scheme type" for the vendors' OAuth
        api = OpenAPI.from_dict(doc)  # raises on an invalid document or a dangling $ref
    listed = [
        line.split()
        for line in (SPECS / f"{stem}.ops.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(listed) == operations
    for method, path in listed:
        assert method.lower() in (api.spec / "paths" / path), f"{method} {path}"
