"""Where the emulator finds Jira's OpenAPI excerpt: ``specs/`` at the root of the checkout.

The excerpt (and its provenance, checksums and the script that regenerates it)
lives once, in the repository's top-level ``specs/`` folder, next to the other
vendors' excerpts. This module finds it from this file's own location, so the
answer does not depend on the working directory. An installed wheel carries no
``specs/`` folder: there `jira_openapi()` raises with a message that says so,
and a caller can pass any path as ``JiraEmulator(validate_spec=...)`` instead.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["JIRA_OPENAPI_NAME", "jira_openapi"]

#: The excerpt's file name inside ``specs/``.
JIRA_OPENAPI_NAME = "jira-platform.openapi.json"

# This file is <checkout>/testing/shitshovela-jira-emulator/shitshovela_jira_emulator/specfile.py.
_CHECKOUT = Path(__file__).resolve().parents[3]


def jira_openapi() -> Path:
    """The path of Jira's OpenAPI excerpt in the repository checkout this package runs from.

    Raises `FileNotFoundError` naming the expected path when the package does
    not run from a checkout (an installed wheel) or the file is gone."""
    path = _CHECKOUT / "specs" / JIRA_OPENAPI_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"Jira's OpenAPI excerpt is not at {path}: it lives in specs/ at the root of the "
            "ShitShovela repository, so spec validation needs the Jira plugin to run from a "
            "checkout (uv sync --all-packages installs it editable); elsewhere pass the file "
            "as JiraEmulator(validate_spec=PATH)"
        )
    return path
