"""Which handler answers a request: Graph's mail paths, as the OpenAPI excerpt writes them.

`ROUTES` lists every operation the emulator serves, by method and path
template (``/users/{user-id}/messages/{message-id}``), with its handler's name,
its documentation page and, for the one operation the excerpt lacks
(``permanentDelete``), why it is answered unchecked (`Route.unvalidated`).
Graph serves actions under two names: the excerpt (made in the PowerShell
style) declares ``…/microsoft.graph.move``, the documentation and the other
SDKs call ``…/move``; `Route.aliases` lists the other forms, which are checked
as the declared one (`Route.template`). `route` finds a request's route and its
path parameters (percent-decoded; ``user-id`` is passed as ``user_id``).
`HANDLERS` holds the function behind each name (tests may replace one with
``monkeypatch.setitem``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from . import folders, listing, mail
from .site import Site
from .wire import GraphRequest, GraphResponse

__all__ = ["HANDLERS", "NOT_IN_EXCERPT", "ROUTES", "Route", "route"]

Handler = Callable[..., GraphResponse]
"""``handler(site, request, **path_parameters) -> GraphResponse``."""

HANDLERS: dict[str, Handler] = {
    "list_folders": folders.list_folders,
    "create_folder": folders.create_folder,
    "get_folder": folders.get_folder,
    "list_child_folders": folders.list_child_folders,
    "create_child_folder": folders.create_child_folder,
    "list_folder_messages": listing.list_folder_messages,
    "get_folder_message": mail.get_folder_message,
    "get_folder_message_content": mail.get_folder_message_content,
    "list_messages": listing.list_messages,
    "get_message": mail.get_message,
    "update_message": mail.update_message,
    "delete_message": mail.delete_message,
    "get_message_content": mail.get_message_content,
    "move_message": mail.move_message,
    "copy_message": mail.copy_message,
    "list_attachments": mail.list_attachments,
    "get_attachment": mail.get_attachment,
    "permanent_delete": mail.permanent_delete,
}

#: Why the operation Graph's excerpt lacks is answered without a spec check.
NOT_IN_EXCERPT = (
    "not in specs/graph-mail.openapi.json (v1.0 has it since the excerpt's 2024 sources)"
)

_D = "https://learn.microsoft.com/graph/api"


@dataclass(frozen=True)
class Route:
    """One operation the emulator serves."""

    method: str
    template: str
    name: str
    doc: str
    #: Other path forms Graph serves for it (checked as `template`).
    aliases: tuple[str, ...] = ()
    #: Why it is answered without an OpenAPI check (None: it is checked).
    unvalidated: str | None = None


_U = "/users/{user-id}"
_F = _U + "/mailFolders/{mailFolder-id}"
_M = _U + "/messages/{message-id}"

ROUTES: tuple[Route, ...] = (
    Route("GET", _U + "/mailFolders", "list_folders", f"{_D}/user-list-mailfolders"),
    Route("POST", _U + "/mailFolders", "create_folder", f"{_D}/user-post-mailfolders"),
    Route("GET", _F, "get_folder", f"{_D}/mailfolder-get"),
    Route("GET", _F + "/childFolders", "list_child_folders", f"{_D}/mailfolder-list-childfolders"),
    Route("POST", _F + "/childFolders", "create_child_folder",
          f"{_D}/mailfolder-post-childfolders"),
    Route("GET", _F + "/messages", "list_folder_messages", f"{_D}/mailfolder-list-messages"),
    Route("GET", _F + "/messages/{message-id}", "get_folder_message", f"{_D}/message-get"),
    Route("GET", _F + "/messages/{message-id}/$value", "get_folder_message_content",
          f"{_D}/message-get"),
    Route("GET", _U + "/messages", "list_messages", f"{_D}/user-list-messages"),
    Route("GET", _M, "get_message", f"{_D}/message-get"),
    Route("PATCH", _M, "update_message", f"{_D}/message-update"),
    Route("DELETE", _M, "delete_message", f"{_D}/message-delete"),
    Route("GET", _M + "/$value", "get_message_content", f"{_D}/message-get"),
    Route("POST", _M + "/microsoft.graph.move", "move_message", f"{_D}/message-move",
          aliases=(_M + "/move",)),
    Route("POST", _M + "/microsoft.graph.copy", "copy_message", f"{_D}/message-copy",
          aliases=(_M + "/copy",)),
    Route("GET", _M + "/attachments", "list_attachments", f"{_D}/message-list-attachments"),
    Route("GET", _M + "/attachments/{attachment-id}", "get_attachment",
          f"{_D}/attachment-get"),
    Route("POST", _M + "/permanentDelete", "permanent_delete", f"{_D}/message-permanentdelete",
          aliases=(_M + "/microsoft.graph.permanentDelete",), unvalidated=NOT_IN_EXCERPT),
)  # fmt: skip

_CACHE: dict[str, re.Pattern[str]] = {}


def _compiled(template: str) -> re.Pattern[str]:
    found = _CACHE.get(template)
    if found is None:
        pattern = "".join(
            f"(?P<{piece[1:-1].replace('-', '_')}>[^/]+)" if piece.startswith("{")
            else re.escape(piece)
            for piece in re.split(r"(\{[^}]+\})", template)
        )  # fmt: skip
        found = _CACHE[template] = re.compile(f"^{pattern}/?$")
    return found


def route(req: GraphRequest) -> tuple[Route, dict[str, str], str] | None:
    """The route of ``req`` (matched on its path below ``/v1.0``), its percent-decoded path
    parameters, and the path as the excerpt writes it (an alias's action renamed)."""
    for candidate in ROUTES:
        if candidate.method != req.method:
            continue
        for template in (candidate.template, *candidate.aliases):
            m = _compiled(template).match(req.api_path)
            if m is None:
                continue
            params = {k: unquote(v) for k, v in m.groupdict().items()}
            path = req.api_path.rstrip("/")
            if template != candidate.template:
                head, _, _ = path.rpartition("/")
                path = head + "/" + candidate.template.rpartition("/")[2]
            return candidate, params, path
    return None


def answer(site: Site, req: GraphRequest, found: Route, params: dict[str, str]) -> GraphResponse:
    """Call the route's handler."""
    handler: Any = HANDLERS[found.name]
    response: GraphResponse = handler(site, req, **params)
    return response
