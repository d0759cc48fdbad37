"""Where the emulator finds Graph's OpenAPI excerpt: ``specs/`` at the root of the checkout.

The excerpt lives once in the repository's top-level ``specs/`` folder, with its
provenance and the notes on its quirks (``specs/graph-mail.README.md``). It is
found from this file's own location, whatever the working directory; an installed
wheel carries no ``specs/``: pass the file as ``GraphEmulator(validate_spec=PATH)``.
"""

from __future__ import annotations

from pathlib import Path

from shitshovela_testkit.openapicheck import excerpt_in_checkout

__all__ = ["GRAPH_OPENAPI_NAME", "graph_openapi"]

#: The excerpt's file name inside ``specs/``.
GRAPH_OPENAPI_NAME = "graph-mail.openapi.json"
_CHECKOUT = Path(__file__).resolve().parents[3]  # <checkout>/testing/<distribution>/<package>/


def graph_openapi() -> Path:
    """Graph's excerpt in this checkout; `FileNotFoundError` naming the path outside one."""
    return excerpt_in_checkout(
        _CHECKOUT, GRAPH_OPENAPI_NAME, vendor="Microsoft Graph's", emulator="GraphEmulator"
    )
