"""The emulator finds GitHub's OpenAPI excerpt from its own location, not the working directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from shitshovela_github_emulator import github_openapi, specfile

pytestmark = pytest.mark.unit

CHECKOUT = Path(__file__).resolve().parents[3]


def test_finds_the_excerpt_in_the_checkouts_specs_folder() -> None:
    assert github_openapi() == CHECKOUT / "specs" / "github-issues.openapi.json"
    assert github_openapi().is_file()


def test_does_not_depend_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert github_openapi() == CHECKOUT / "specs" / "github-issues.openapi.json"


def test_outside_a_checkout_the_error_says_where_it_looked_and_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(specfile, "_CHECKOUT", tmp_path)
    with pytest.raises(FileNotFoundError) as caught:
        github_openapi()
    message = str(caught.value)
    assert str(tmp_path / "specs" / "github-issues.openapi.json") in message
    assert "validate_spec=PATH" in message
