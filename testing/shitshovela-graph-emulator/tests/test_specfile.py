"""The emulator finds Graph's OpenAPI excerpt from its own location, not the working directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from shitshovela_graph_emulator import graph_openapi, specfile
from shitshovela_testkit.emulatorsuite import check_excerpt_finder

pytestmark = pytest.mark.unit

CHECKOUT = Path(__file__).resolve().parents[3]


def test_finds_the_excerpt_in_the_checkouts_specs_folder_and_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = CHECKOUT / "specs" / "graph-mail.openapi.json"
    check_excerpt_finder(
        graph_openapi, specfile, expected, tmp_path=tmp_path, monkeypatch=monkeypatch
    )
