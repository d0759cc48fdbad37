"""Where the emulator finds GitHub's OpenAPI excerpt: ``specs/`` at the root of the checkout.

The excerpt, with its provenance, checksums and the script that regenerates it,
lives once in the repository's top-level ``specs/`` folder. It is found from this
file's own location, whatever the working directory; an installed wheel carries
no ``specs/``: pass the file as ``GitHubEmulator(validate_spec=PATH)`` there.
"""

from __future__ import annotations

from pathlib import Path

from shitshovela_testkit.openapicheck import excerpt_in_checkout

__all__ = ["GITHUB_OPENAPI_NAME", "github_openapi"]

#: The excerpt's file name inside ``specs/``.
GITHUB_OPENAPI_NAME = "github-issues.openapi.json"
_CHECKOUT = Path(__file__).resolve().parents[3]  # <checkout>/testing/<distribution>/<package>/


def github_openapi() -> Path:
    """GitHub's excerpt in this checkout; `FileNotFoundError` naming the path outside one."""
    return excerpt_in_checkout(
        _CHECKOUT, GITHUB_OPENAPI_NAME, vendor="GitHub's", emulator="GitHubEmulator"
    )
