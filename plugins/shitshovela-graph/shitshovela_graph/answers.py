"""What a Graph answer that is not a success says: `GraphError`.

Graph answers every failure with ``{"error": {"code", "message", "innerError"}}``;
the code (``ErrorItemNotFound``, ``ErrorAccessDenied``, ``ErrorFolderExists``, ...)
says more than the status, and the callers decide by it.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import httpx


@attrs.frozen
class GraphError:
    """What a Graph answer that is not a success says: its status, its error code
    (``ErrorItemNotFound``, ``ErrorAccessDenied``, ...) and message (empty when the
    body is no Graph error)."""

    status: int
    code: str = ""
    message: str = ""

    @classmethod
    def of(cls, response: httpx.Response) -> GraphError:
        """Read ``response``'s error body (tolerating any other body)."""
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return cls(response.status_code)
        return cls(
            response.status_code, str(error.get("code") or ""), str(error.get("message") or "")
        )

    def describe(self, scrub: Callable[[str], str] | None = None) -> str:
        """``404 ErrorItemNotFound: The specified object was not found in the store.``"""
        message = " ".join(self.message.split())[:300]
        if scrub is not None:
            message = scrub(message)
        head = f"{self.status} {self.code}".strip()
        return f"{head}: {message}" if message else head
