"""Where the emulator finds GitHub's OpenAPI excerpt: ``specs/`` at the root of the checkout.

The excerpt (and its provenance, checksums and the script that regenerates it)
lives once, in the repository's top-level ``specs/`` folder, next to the other
vendors' excerpts. This module finds it from this file's own location, so the
answer does not depend on the working directory. An installed wheel carries no
``specs/`` folder: there `github_openapi()` raises with a message that says so,
and a caller can pass any path as ``GitHubEmulator(validate_spec=...)`` instead.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["GITHUB_OPENAPI_NAME", "github_openapi"]

#: The excerpt's file name inside ``specs/``.
GITHUB_OPENAPI_NAME = "github-issues.openapi.json"

# This file is <checkout>/testing/shitshovela-github-emulator/<package>/specfile.py.
_CHECKOUT = Path(__file__).resolve().parents[3]


def github_openapi() -> Path:
    """The path of GitHub's OpenAPI excerpt in the repository checkout this package runs from.

    Raises `FileNotFoundError` naming the expected path when the package does
    not run from a checkout (an installed wheel) or the file is gone."""
    path = _CHECKOUT / "specs" / GITHUB_OPENAPI_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"GitHub's OpenAPI excerpt is not at {path}: it lives in specs/ at the root of the "
            "ShitShovela repository, so spec validation needs this emulator to run from a "
            "checkout (uv sync --all-packages installs it editable); elsewhere pass the file "
            "as GitHubEmulator(validate_spec=PATH)"
        )
    return path
