"""The emulator finds Graph's OpenAPI excerpt from its own location, not the working directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from shitshovela_graph_emulator import graph_openapi, specfile

pytestmark = pytest.mark.unit

CHECKOUT = Path(__file__).resolve().parents[3]


def test_finds_the_excerpt_in_the_checkouts_specs_folder() -> None:
    assert graph_openapi() == CHECKOUT / "specs" / "graph-mail.openapi.json"
    assert graph_openapi().is_file()


def test_does_not_depend_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert graph_openapi() == CHECKOUT / "specs" / "graph-mail.openapi.json"


def test_outside_a_checkout_the_error_says_where_it_looked_and_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(specfile, "_CHECKOUT", tmp_path)
    with pytest.raises(FileNotFoundError) as caught:
        graph_openapi()
    message = str(caught.value)
    assert str(tmp_path / "specs" / "graph-mail.openapi.json") in message
    assert "validate_spec=PATH" in message
