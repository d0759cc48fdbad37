"""Jira's JSON shapes (Cloud v3 / v2 and Data Center v2) for the emulator's state."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .state import PRIORITIES, STATUSES, AttachmentRecord, CommentRecord, IssueRecord

__all__ = [
    "adf_problem",
    "adf_text",
    "jira_time",
    "rfc3339",
    "text_to_adf",
]

ALL_FIELDS = (
    "summary",
    "description",
    "labels",
    "issuetype",
    "project",
    "components",
    "priority",
    "status",
    "created",
    "updated",
    "creator",
    "reporter",
    "assignee",
    "attachment",
    "comment",
)
NOT_NAVIGABLE = frozenset({"comment"})


def jira_time(t: _dt.datetime) -> str:
    """Jira's own timestamp form in issue fields: ``2024-05-01T10:20:30.123+0000``."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"


def rfc3339(t: _dt.datetime) -> str:
    """RFC 3339 form for properties the spec types as ``date-time``.

    Real Jira sends ``+0000`` there too, which fails the spec's ``date-time`` format;
    the emulator follows the spec where a schema checks it.
    """
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+00:00"


# ------------------------------------------------------------------------------ ADF


def text_to_adf(text: str) -> dict[str, Any]:
    """Plain text -> an ADF document, one paragraph per line (round-trips via adf_text)."""
    content: list[dict[str, Any]] = []
    for line in text.split("\n"):
        para: dict[str, Any] = {"type": "paragraph", "content": []}
        if line:
            para["content"] = [{"type": "text", "text": line}]
        content.append(para)
    return {"type": "doc", "version": 1, "content": content}


def adf_text(node: Any) -> str:
    """The text of an ADF document: paragraphs/blocks joined by newlines."""
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        text = node.get("text")
        return text if isinstance(text, str) else ""
    if node.get("type") == "hardBreak":
        return "\n"
    children = node.get("content")
    if not isinstance(children, list):
        return ""
    if node.get("type") in (
        "doc",
        "bulletList",
        "orderedList",
        "listItem",
        "blockquote",
        "panel",
        "table",
        "tableRow",
        "tableCell",
        "tableHeader",
        "layoutSection",
        "layoutColumn",
        "expand",
    ):
        return "\n".join(adf_text(c) for c in children)
    return "".join(adf_text(c) for c in children)


def adf_problem(doc: Any) -> str | None:
    """Why ``doc`` is not an Atlassian Document (the checks Jira makes), or None."""
    if not isinstance(doc, dict) or doc.get("type") != "doc":
        return "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
    if doc.get("version") != 1 or not isinstance(doc.get("content"), list):
        return "Operation value must be an Atlassian Document (see the Atlassian Document Format)"

    def walk(node: Any) -> str | None:
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            return (
                "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
            )
        if node["type"] == "text":
            t = node.get("text")
            if not isinstance(t, str) or t == "":
                return "ADF text nodes must have a non-empty 'text'"
        for child in node.get("content", []) or []:
            problem = walk(child)
            if problem:
                return problem
        return None

    for child in doc["content"]:
        problem = walk(child)
        if problem:
            return problem
    return None


# ---------------------------------------------------------------------------- users


def avatar_urls(base: str, ident: str) -> dict[str, str]:
    return {
        s: f"{base}/secure/useravatar?size={n}&ownerId={ident}"
        for s, n in (
            ("48x48", "large"),
            ("24x24", "small"),
            ("16x16", "xsmall"),
            ("32x32", "medium"),
        )
    }


class Identity:
    """A user of the emulated site: who authenticates, who created an issue.

    Cloud names a user by ``account_id``; Data Center by ``username`` (``name``)
    and ``key``, which differ for users made after Jira 8 (``JIRAUSER10100``).
    """

    def __init__(
        self,
        email: str,
        display_name: str,
        account_id: str,
        username: str,
        key: str | None = None,
    ) -> None:
        self.email = email
        self.display_name = display_name
        self.account_id = account_id
        self.username = username
        self.key = key or username

    def __repr__(self) -> str:
        return f"<Jira user {self.username}>"

    def details(self, base: str, api: str, cloud: bool) -> dict[str, Any]:
        """UserDetails (author fields)."""
        if cloud:
            return {
                "self": f"{base}/rest/api/{api}/user?accountId={self.account_id}",
                "accountId": self.account_id,
                "emailAddress": self.email,
                "avatarUrls": avatar_urls(base, self.account_id),
                "displayName": self.display_name,
                "active": True,
                "timeZone": "Etc/UTC",
                "accountType": "atlassian",
            }
        return {
            "self": f"{base}/rest/api/2/user?username={self.username}",
            "name": self.username,
            "key": self.key,
            "emailAddress": self.email,
            "avatarUrls": avatar_urls(base, self.username),
            "displayName": self.display_name,
            "active": True,
            "timeZone": "Etc/UTC",
        }

    def myself(self, base: str, api: str, cloud: bool) -> dict[str, Any]:
        """User (GET /myself)."""
        out = self.details(base, api, cloud)
        out["locale"] = "en_US"
        out["groups"] = {"size": 1, "items": []}
        out["applicationRoles"] = {"size": 1, "items": []}
        out["expand"] = "groups,applicationRoles"
        return out


# ---------------------------------------------------------------------------- shapes


def issue_type_json(base: str, api: str, name: str, type_id: str) -> dict[str, Any]:
    return {
        "self": f"{base}/rest/api/{api}/issuetype/{type_id}",
        "id": type_id,
        "description": f"A {name.lower()}.",
        "iconUrl": f"{base}/images/icons/issuetypes/{name.lower()}.png",
        "name": name,
        "subtask": False,
        "avatarId": 10318,
        "hierarchyLevel": 0,
    }


def project_ref(base: str, api: str, pid: str, key: str, name: str) -> dict[str, Any]:
    return {
        "self": f"{base}/rest/api/{api}/project/{pid}",
        "id": pid,
        "key": key,
        "name": name,
        "projectTypeKey": "software",
        "simplified": False,
        "avatarUrls": {
            s: f"{base}/secure/projectavatar?size={n}&pid={pid}"
            for s, n in (
                ("48x48", "large"),
                ("24x24", "small"),
                ("16x16", "xsmall"),
                ("32x32", "medium"),
            )
        },
    }


def component_json(base: str, api: str, cid: str, name: str) -> dict[str, Any]:
    return {"self": f"{base}/rest/api/{api}/component/{cid}", "id": cid, "name": name}


def priority_json(base: str, api: str, name: str) -> dict[str, Any]:
    pid = next((i for i, n in PRIORITIES if n == name), "3")
    return {
        "self": f"{base}/rest/api/{api}/priority/{pid}",
        "iconUrl": f"{base}/images/icons/priorities/{name.lower()}.svg",
        "name": name,
        "id": pid,
    }


def status_json(base: str, api: str, name: str) -> dict[str, Any]:
    sid, cat_key, cat_id, cat_name = STATUSES.get(name, STATUSES["To Do"])
    return {
        "self": f"{base}/rest/api/{api}/status/{sid}",
        "description": "",
        "iconUrl": f"{base}/images/icons/statuses/open.png",
        "name": name,
        "id": sid,
        "statusCategory": {
            "self": f"{base}/rest/api/{api}/statuscategory/{cat_id}",
            "id": cat_id,
            "key": cat_key,
            "colorName": "blue-gray",
            "name": cat_name,
        },
    }


def attachment_json(
    base: str,
    api: str,
    att: AttachmentRecord,
    author: dict[str, Any] | None,
    *,
    cloud: bool,
    spec_time: bool,
) -> dict[str, Any]:
    content = (
        f"{base}/rest/api/{api}/attachment/content/{att.id}"
        if cloud
        else f"{base}/secure/attachment/{att.id}/{att.filename}"
    )
    return {
        "self": f"{base}/rest/api/{api}/attachment/{att.id}",
        "id": att.id,
        "filename": att.filename,
        "author": author,
        "created": rfc3339(att.created) if spec_time else jira_time(att.created),
        "size": att.size,
        "mimeType": att.mime_type,
        "content": content,
    }


def comment_json(
    base: str,
    api: str,
    issue_id: str,
    c: CommentRecord,
    author: dict[str, Any] | None,
    *,
    spec_time: bool,
) -> dict[str, Any]:
    body: Any = c.body_text
    if api == "3":
        body = c.body_adf if c.body_adf is not None else text_to_adf(c.body_text)
    when = rfc3339(c.created) if spec_time else jira_time(c.created)
    return {
        "self": f"{base}/rest/api/{api}/issue/{issue_id}/comment/{c.id}",
        "id": c.id,
        "author": author,
        "body": body,
        "updateAuthor": author,
        "created": when,
        "updated": when,
        "jsdPublic": True,
    }


def select(requested: Sequence[str], default: str, universe: Iterable[str]) -> set[str]:
    """Resolve Jira's ``fields``/``properties`` selection (``*all``, ``-x``, names)."""
    items = [i.strip() for r in requested for i in r.split(",") if i.strip()] or [default]
    universe = list(universe)
    chosen: set[str] = set()
    excluded: set[str] = set()
    for item in items:
        if item == "*all":
            chosen.update(universe)
        elif item == "*navigable":
            chosen.update(u for u in universe if u not in NOT_NAVIGABLE)
        elif item.startswith("-"):
            excluded.add(item[1:])
        else:
            chosen.add(item)
    if excluded and not (chosen - {"id", "key"}):
        # "-description" alone means "the default set, minus description"
        chosen.update(u for u in universe if u not in NOT_NAVIGABLE)
    return chosen - excluded


def issue_fields(
    rec: IssueRecord,
    *,
    base: str,
    api: str,
    cloud: bool,
    wanted: set[str],
    project_id: str,
    project_name: str,
    issue_type_id: str,
    component_ids: dict[str, str],
    user: Callable[[str], dict[str, Any] | None],
) -> dict[str, Any]:
    """The ``fields`` of an issue as Jira renders them; ``user(username)`` renders a
    user (the creator, an attachment's or a comment's author), None for one unknown."""
    out: dict[str, Any] = {}
    for name in ALL_FIELDS:
        if name not in wanted:
            continue
        if name == "summary":
            out[name] = rec.summary
        elif name == "description":
            if rec.description is None:
                out[name] = None
            elif api == "3":
                out[name] = rec.description_adf or text_to_adf(rec.description)
            else:
                out[name] = rec.description
        elif name == "labels":
            out[name] = list(rec.labels)
        elif name == "issuetype":
            out[name] = issue_type_json(base, api, rec.issuetype, issue_type_id)
        elif name == "project":
            out[name] = project_ref(base, api, project_id, rec.project_key, project_name)
        elif name == "components":
            out[name] = [
                component_json(base, api, component_ids.get(c, "0"), c) for c in rec.components
            ]
        elif name == "priority":
            out[name] = priority_json(base, api, rec.priority)
        elif name == "status":
            out[name] = status_json(base, api, rec.status)
        elif name in ("created", "updated"):
            out[name] = jira_time(getattr(rec, name))
        elif name in ("creator", "reporter"):
            out[name] = user(rec.creator)
        elif name == "assignee":
            out[name] = None
        elif name == "attachment":
            out[name] = [
                attachment_json(base, api, a, user(a.author), cloud=cloud, spec_time=False)
                for a in rec.attachments
            ]
        elif name == "comment":
            comments = [
                comment_json(base, api, rec.id, c, user(c.author), spec_time=False)
                for c in rec.comments
            ]
            out[name] = {
                "comments": comments,
                "self": f"{base}/rest/api/{api}/issue/{rec.id}/comment",
                "maxResults": len(comments),
                "total": len(comments),
                "startAt": 0,
            }
    for cf, value in rec.custom_fields.items():
        if cf in wanted:
            out[cf] = value
    return out
