"""Where the emulator finds Jira's OpenAPI excerpt: ``specs/`` at the root of the checkout.

The excerpt, with its provenance, checksums and the script that regenerates it,
lives once in the repository's top-level ``specs/`` folder, beside the other
vendors' excerpts. It is found from this file's own location, whatever the working
directory; an installed wheel carries no ``specs/``: pass the file as
``JiraEmulator(validate_spec=PATH)`` there.
"""

from __future__ import annotations

from pathlib import Path

from shitshovela_testkit.openapicheck import excerpt_in_checkout

__all__ = ["JIRA_OPENAPI_NAME", "jira_openapi"]

#: The excerpt's file name inside ``specs/``.
JIRA_OPENAPI_NAME = "jira-platform.openapi.json"
_CHECKOUT = Path(__file__).resolve().parents[3]  # <checkout>/testing/<distribution>/<package>/


def jira_openapi() -> Path:
    """Jira's excerpt in this checkout; `FileNotFoundError` naming the path outside one."""
    return excerpt_in_checkout(
        _CHECKOUT, JIRA_OPENAPI_NAME, vendor="Jira's", emulator="JiraEmulator"
    )
