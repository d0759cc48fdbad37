"""Where the emulator finds Graph's OpenAPI excerpt: ``specs/`` at the root of the checkout.

The excerpt (with its provenance, checksums and the notes on its quirks,
``specs/graph-mail.README.md``) lives once, in the repository's top-level
``specs/`` folder. This module finds it from this file's own location, so the
answer does not depend on the working directory. An installed wheel carries no
``specs/`` folder: there `graph_openapi()` raises with a message that says so,
and a caller can pass any path as ``GraphEmulator(validate_spec=...)`` instead.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["GRAPH_OPENAPI_NAME", "graph_openapi"]

#: The excerpt's file name inside ``specs/``.
GRAPH_OPENAPI_NAME = "graph-mail.openapi.json"

# This file is <checkout>/testing/shitshovela-graph-emulator/<package>/specfile.py.
_CHECKOUT = Path(__file__).resolve().parents[3]


def graph_openapi() -> Path:
    """The path of Graph's mail OpenAPI excerpt in the checkout this package runs from.

    Raises `FileNotFoundError` naming the expected path when the package does
    not run from a checkout (an installed wheel) or the file is gone."""
    path = _CHECKOUT / "specs" / GRAPH_OPENAPI_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"Microsoft Graph's OpenAPI excerpt is not at {path}: it lives in specs/ at the root "
            "of the ShitShovela repository, so spec validation needs this emulator to run from a "
            "checkout (uv sync --all-packages installs it editable); elsewhere pass the file "
            "as GraphEmulator(validate_spec=PATH)"
        )
    return path
