"""Mail folders by path: `Folders` finds a folder's id, and makes the folders it may make.

A folder setting is a well-known name (``inbox``, ``archive``, any case) or a
path of display names from the mailbox's root (``Inbox/Support``,
``ShitShovela-Set-Aside``); a first segment that is a well-known name is read
by that name, so ``Inbox/Support`` works in a mailbox whose Inbox is called
``Posteingang``. Each further segment is found among its parent's child
folders with ``$filter=displayName eq '…'`` (Exchange compares names without
case). Ids are kept for the run: folder ids never change (Graph's folders have
no immutable ids because their ids are stable already).

`Folders.ensure` creates what is missing, one segment at a time. A create is
safe to send again after a lost answer: Graph refuses a second folder of that
name with ``409 ErrorFolderExists``, which is read as "it exists" (as is the
same answer to another run that made it first): the folder is read again.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from shitshovela_core import ProviderError, Unreachable

from .answers import GraphError
from .api import GraphApi
from .diagnose import refusal

#: Graph's well-known folder names (any case) that a path may start with.
WELL_KNOWN = frozenset(
    {
        "archive",
        "clutter",
        "conflicts",
        "conversationhistory",
        "deleteditems",
        "drafts",
        "inbox",
        "junkemail",
        "localfailures",
        "msgfolderroot",
        "outbox",
        "recoverableitemsdeletions",
        "scheduled",
        "searchfolders",
        "sentitems",
        "serverfailures",
        "syncissues",
    }
)


def _key(segments: list[str]) -> str:
    return "/".join(segment.casefold() for segment in segments)


def odata_string(text: str) -> str:
    """``text`` as an OData string literal: in single quotes, a quote doubled."""
    return "'" + text.replace("'", "''") + "'"


class Folders:
    """The folders of one mailbox, found (and made) by path; ids kept for the run."""

    def __init__(self, api: GraphApi) -> None:
        self.api = api
        self._ids: dict[str, str] = {}

    def find(self, path: str) -> str | None:
        """The id of the folder at ``path``; None when it (or a folder on its way) is missing."""
        return self._walk(path, create=False)

    def ensure(self, path: str) -> str:
        """The id of the folder at ``path``, creating the folders that are missing."""
        found = self._walk(path, create=True)
        assert found is not None
        return found

    def _walk(self, path: str, *, create: bool) -> str | None:
        segments = [s.strip() for s in path.strip("/").split("/")]
        known = self._ids.get(_key(segments))
        if known is not None:
            return known
        parent: str | None = None
        for depth, name in enumerate(segments):
            key = _key(segments[: depth + 1])
            found = self._ids.get(key)
            if found is None:
                if depth == 0 and name.lower() in WELL_KNOWN:
                    found = self._well_known(name.lower())
                    if found is None and create:
                        raise ProviderError(
                            f"the well-known folder {name!r} does not exist in "
                            f"{self.api.settings.mailbox} (it is made by Exchange, not by "
                            "clients): choose another folder"
                        )
                else:
                    found = self._child(parent, name)
                    if found is None and create:
                        found = self._create(parent, name)
                if found is None:
                    return None
                self._ids[key] = found
            parent = found
        return parent

    def _get(self, url: str, what: str, **params: Any) -> httpx.Response:
        return self.api.call("GET", url, what=what, idempotent=True, params=params or None)

    def _well_known(self, name: str) -> str | None:
        response = self._get(
            f"{self.api.user}/mailFolders/{name}", f"read folder {name}", **{"$select": "id"}
        )
        if response.status_code == 404 and GraphError.of(response).code == "ErrorItemNotFound":
            return None
        return str(self._ok(response, f"read folder {name}")["id"])

    def _children(self, parent: str | None) -> str:
        base = f"{self.api.user}/mailFolders"
        return base if parent is None else f"{base}/{quote(parent, safe='')}/childFolders"

    def _child(self, parent: str | None, name: str) -> str | None:
        what = f"find folder {name!r}"
        response = self._get(
            self._children(parent),
            what,
            **{
                "$filter": f"displayName eq {odata_string(name)}",
                "$select": "id,displayName",
                "includeHiddenFolders": "true",
            },
        )
        rows = self._ok(response, what).get("value") or []
        for row in rows:
            if str(row.get("displayName", "")).casefold() == name.casefold():
                return str(row["id"])
        return None

    def _create(self, parent: str | None, name: str) -> str:
        what = f"create folder {name!r}"
        response = self.api.call(
            "POST",
            self._children(parent),
            what=what,
            idempotent=True,  # a repeat is refused with 409 ErrorFolderExists: read again
            json={"displayName": name},
        )
        if response.status_code == 409 and GraphError.of(response).code == "ErrorFolderExists":
            found = self._child(parent, name)
            if found is None:
                raise ProviderError(
                    f"{what}: Graph says it exists but it cannot be found (a hidden folder "
                    "or a search folder of that name?): choose another name"
                )
            return found
        created = str(self._ok(response, what)["id"])
        self.api.context.log.info("folder_created", folder=name, parent=parent or "(root)")
        return created

    def _ok(self, response: httpx.Response, what: str) -> dict[str, Any]:
        if 200 <= response.status_code < 300:
            body = response.json()
            if isinstance(body, dict):
                return body
            raise ProviderError(f"{what}: Graph answered {response.status_code} without a body")
        raise answer_error(self.api, response, what)


def answer_error(api: GraphApi, response: httpx.Response, what: str) -> ProviderError:
    """The error for an answer the caller did not expect: the fix for a refusal of the
    app or the mailbox (`Unreachable`), else the answer itself (`ProviderError`)."""
    error = GraphError.of(response)
    fix = refusal(api.settings, api.context.provider, error, api.tokens.token(), api.scrub)
    if fix is not None:
        return Unreachable(f"{what}: {fix}")
    return ProviderError(f"{what}: Graph answered {error.describe(api.scrub)}")
