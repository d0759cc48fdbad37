"""Mail folders: list (top level or a folder's children), get, create.

* ``GET /users/{id}/mailFolders``: the folders under ``msgfolderroot`` (hidden
  ones with ``includeHiddenFolders=true``), paged (10 a page by default), with
  ``$filter`` (``displayName eq 'Set aside'``), ``$select``, ``$orderby``,
  ``$top``; ``…/mailFolders/{id}/childFolders`` the same under a folder.
* ``GET /users/{id}/mailFolders/{id}``: by id or well-known name (``inbox``,
  ``deleteditems``, ``archive``, ``msgfolderroot``, ``recoverableitemsdeletions``…).
* ``POST /users/{id}/mailFolders`` and ``…/childFolders``: ``{"displayName",
  "isHidden"}``; 201 with the folder, or 409 ``ErrorFolderExists`` when the
  parent has a folder of that name (in any case).
"""

from __future__ import annotations

from typing import Any

from . import render
from .paging import page, read_query
from .site import Site
from .state import Folder, FolderExists, Mailbox
from .wire import GraphRequest, GraphResponse, Reject, error, json_body

__all__ = [
    "create_child_folder",
    "create_folder",
    "get_folder",
    "list_child_folders",
    "list_folders",
]


def _render(site: Site, box: Mailbox, folder: Folder) -> dict[str, Any]:
    record = site.state.folder_record(box, folder)
    children = len(site.state.children(box, folder.id))
    return render.folder(folder, children, record.total, record.unread)


def _list(site: Site, req: GraphRequest, user: str, box: Mailbox, parent: Folder) -> GraphResponse:
    query = read_query(
        req,
        entity="mailFolder",
        known=render.FOLDER_PROPERTIES,
        selectable=render.FOLDER_PROPERTIES,
    )
    hidden = (req.q1("includeHiddenFolders") or "").lower() == "true"
    folders = [f for f in site.state.children(box, parent.id) if hidden or not f.hidden]
    rows = [(_render(site, box, f), n, f) for n, f in enumerate(folders)]

    def shown(folder: Folder) -> dict[str, Any]:
        body = _render(site, box, folder)
        if query.select is not None:
            body = {k: v for k, v in body.items() if k in query.select or k == "id"}
        return body

    return page(
        site, req, query, rows, render=shown, context=site.context(req, user, "/mailFolders")
    )


def list_folders(site: Site, req: GraphRequest, user_id: str) -> GraphResponse:
    """``GET /users/{user-id}/mailFolders``."""
    box = site.mailbox_for(user_id)
    root = box.folders[box.well_known["msgfolderroot"]]
    return _list(site, req, user_id, box, root)


def list_child_folders(
    site: Site, req: GraphRequest, user_id: str, mailFolder_id: str
) -> GraphResponse:
    """``GET /users/{user-id}/mailFolders/{mailFolder-id}/childFolders``."""
    box = site.mailbox_for(user_id)
    return _list(site, req, user_id, box, site.folder_for(box, mailFolder_id))


def get_folder(site: Site, req: GraphRequest, user_id: str, mailFolder_id: str) -> GraphResponse:
    """``GET /users/{user-id}/mailFolders/{mailFolder-id}``."""
    box = site.mailbox_for(user_id)
    folder = site.folder_for(box, mailFolder_id)
    query = read_query(
        req,
        entity="mailFolder",
        known=render.FOLDER_PROPERTIES,
        selectable=render.FOLDER_PROPERTIES,
    )
    body = _render(site, box, folder)
    if query.select is not None:
        body = {k: v for k, v in body.items() if k in query.select or k == "id"}
    return GraphResponse(
        200, {"@odata.context": site.context(req, user_id, "/mailFolders/$entity"), **body}
    )


def _create(
    site: Site, req: GraphRequest, user: str, box: Mailbox, parent: Folder
) -> GraphResponse:
    body = json_body(req)
    name = body.get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise Reject(
            error(400, "ErrorInvalidParameter", "The displayName of a folder is required.")
        )
    hidden = body.get("isHidden") is True
    try:
        folder = site.state.create_folder(box, parent.id, name, hidden=hidden)
    except FolderExists:
        raise Reject(
            error(409, "ErrorFolderExists", "A folder with the specified name already exists.")
        ) from None
    return GraphResponse(
        201,
        {
            "@odata.context": site.context(req, user, "/mailFolders/$entity"),
            **_render(site, box, folder),
        },
    )


def create_folder(site: Site, req: GraphRequest, user_id: str) -> GraphResponse:
    """``POST /users/{user-id}/mailFolders``: a folder under ``msgfolderroot``."""
    box = site.mailbox_for(user_id)
    return _create(site, req, user_id, box, box.folders[box.well_known["msgfolderroot"]])


def create_child_folder(
    site: Site, req: GraphRequest, user_id: str, mailFolder_id: str
) -> GraphResponse:
    """``POST /users/{user-id}/mailFolders/{mailFolder-id}/childFolders``."""
    box = site.mailbox_for(user_id)
    return _create(site, req, user_id, box, site.folder_for(box, mailFolder_id))
