"""Issues: create, read and edit, attachments (multipart upload and download), comments.

Each handler takes the `Site` and the request and answers as Jira does,
including the injected create and edit faults (a write committed and its
answer lost, or nothing written) that `Faults` schedules.
"""

from __future__ import annotations

from email.message import Message
from typing import TYPE_CHECKING

from . import render
from .fields import apply, check_description, check_properties
from .messages import JiraRequest, JiraResponse, error
from .state import AttachmentRecord, CommentRecord, IssueRecord, now_utc

if TYPE_CHECKING:
    from .site import Site

__all__ = [
    "add_attachment",
    "add_comment",
    "attachment_content",
    "create_issue",
    "edit_issue",
    "get_comments",
    "get_issue",
    "multipart",
]


def create_issue(site: Site, req: JiraRequest) -> JiraResponse:
    """``POST /issue``: check the fields, apply a scheduled create fault, store the issue
    (its creator is the caller).

    A held create (`Faults.hold_next_create`) is checked, then waits uncommitted,
    its connection open, until `HeldCreates` commits it (after the delay it was
    held for, or on `JiraEmulator.commit_held`); it is answered then, if the client
    still listens."""
    body = site.json_body(req)
    if not isinstance(body, dict):
        return error(400, "Can not deserialize the request body: not an object.")
    fields = body.get("fields")
    if not isinstance(fields, dict):
        fields = {}
    with site.state.lock:
        errors: dict[str, str] = {}
        pref = fields.get("project")
        ident = None
        if isinstance(pref, dict):
            raw_ident = pref.get("key", pref.get("id"))
            ident = str(raw_ident) if raw_ident is not None else None
        project = site.state.project(ident) if ident else None
        if project is None or not site.faults.can_browse(project.key):
            errors["project"] = "Specify a valid project ID or key"
            if "summary" not in fields:
                errors["summary"] = "You must specify a summary of the issue."
            if "issuetype" not in fields:
                errors["issuetype"] = "Specify an issue type"
            return error(400, errors=errors)
        if not site.faults.can_write(project.key):
            return error(403, "You do not have permission to create issues in this project.")
        changes, errors = apply(site, body, req.api, project=project, current=None)
        if "summary" not in changes and "summary" not in errors:
            errors["summary"] = "You must specify a summary of the issue."
        if "issuetype" not in changes and "issuetype" not in errors:
            errors["issuetype"] = "Specify an issue type"
        properties = check_properties(body.get("properties"))
        if errors:
            return error(400, errors=errors)
        fault = site.faults.take("create")
        if fault in ("fail_500", "drop"):
            return JiraResponse(
                500,
                {"errorMessages": ["Internal server error"], "errors": {}},
                drop=fault == "drop",
                fault=True,
            )

        def commit() -> IssueRecord:
            return site.state.create(
                project,
                issuetype=changes["issuetype"],
                summary=changes["summary"],
                description=changes.get("description"),
                description_adf=changes.get("description_adf"),
                labels=changes.get("labels", []),
                components=changes.get("components", []),
                priority=changes.get("priority", "Medium"),
                properties=properties,
                custom_fields=changes.get("custom_fields"),
                creator=site.caller(req).username,
            )

        held = site.held.hold(commit, site.faults.take_hold()) if fault == "hold" else None
        committed = commit() if held is None else None
    if held is not None:
        # The lock is released: the server goes on answering while this create waits.
        committed = held.wait()
    if committed is None:  # held, and discarded: never committed
        return JiraResponse(500, drop=True, fault=True)
    rec = committed
    if fault == "commit_then_500":
        return JiraResponse(
            500, {"errorMessages": ["Internal server error"], "errors": {}}, fault=True
        )
    if fault == "commit_then_drop":
        return JiraResponse(500, drop=True, fault=True)
    return JiraResponse(
        201,
        {
            "id": rec.id,
            "key": rec.key,
            "self": f"{site.base}/rest/api/{req.api}/issue/{rec.id}",
        },
    )


def get_issue(site: Site, req: JiraRequest, k: str) -> JiraResponse:
    """``GET /issue/{key}``: the issue with the fields and properties asked for."""
    with site.state.lock:
        issue = site.visible_issue(k)
        return JiraResponse(
            200,
            site.render_issue(issue.record, req.api, req.q("fields"), "*all", req.q("properties")),
        )


def edit_issue(site: Site, req: JiraRequest, k: str) -> JiraResponse:
    """``PUT /issue/{key}``: apply ``fields``, ``update`` and properties (edit faults apply)."""
    body = site.json_body(req)
    with site.state.lock:
        issue = site.visible_issue(k)
        project = site.state.projects[issue.record.project_key]
        if not site.faults.can_write(project.key):
            return error(403, "You do not have permission to edit issues in this project.")
        changes, errors = apply(site, body, req.api, project=project, current=issue.record)
        props = check_properties(body.get("properties"))
        if errors:
            return error(400, errors=errors)
        fault = site.faults.take("edit")
        if fault in ("fail_500", "drop"):
            return JiraResponse(
                500,
                {"errorMessages": ["Internal server error"], "errors": {}},
                drop=fault == "drop",
                fault=True,
            )
        if props:
            merged = dict(issue.record.properties)
            merged.update(props)
            changes["properties"] = merged
        rec = site.state.update(issue, **changes)
        rendered = site.render_issue(rec, req.api, [], "*all", [])
    if fault == "commit_then_500":
        return JiraResponse(
            500, {"errorMessages": ["Internal server error"], "errors": {}}, fault=True
        )
    if fault == "commit_then_drop":
        return JiraResponse(500, drop=True, fault=True)
    if (req.q1("returnIssue") or "").lower() == "true":
        return JiraResponse(200, rendered)
    return JiraResponse(204)


def multipart(req: JiraRequest) -> list[tuple[str, str | None, str, bytes]]:
    """(name, filename, content type, content) of each part."""
    msg = Message()
    msg["content-type"] = req.content_type
    boundary = msg.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        return []
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    chunks = (b"\r\n" + req.body).split(delimiter)
    parts: list[tuple[str, str | None, str, bytes]] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk
        head, _sep, content = chunk.partition(b"\r\n\r\n")
        headers = Message()
        for line in head.decode("utf-8", "replace").split("\r\n"):
            if ":" in line:
                hname, hvalue = line.split(":", 1)
                headers[hname.strip()] = hvalue.strip()
        name = headers.get_param("name", header="content-disposition")
        filename = headers.get_filename()
        parts.append(
            (
                name if isinstance(name, str) else "",
                filename,
                headers.get_content_type()
                if "content-type" in headers
                else "application/octet-stream",
                content,
            )
        )
    return parts


def add_attachment(site: Site, req: JiraRequest, k: str) -> JiraResponse:
    """``POST /issue/{key}/attachments``: multipart upload, XSRF header and size checked."""
    if req.headers.get("x-atlassian-token", "").lower() not in ("no-check", "nocheck"):
        return JiraResponse(403, raw=b"XSRF check failed", content_type="text/plain;charset=UTF-8")
    if req.media_type != "multipart/form-data":
        return error(415, "Unsupported Media Type")
    files = [p for p in multipart(req) if p[0] == "file"]
    if not files:
        return error(400, "No attachment found: the multipart part must be named 'file'.")
    with site.state.lock:
        issue = site.visible_issue(k)
        if not site.faults.can_write(issue.record.project_key):
            return error(403, "You do not have permission to create attachments for this issue.")
        for _name, filename, _ctype, content in files:
            if len(content) > site.attachment_max:
                return error(
                    413,
                    f"The file '{filename}' is too large: the maximum attachment size is "
                    f"{site.attachment_max} bytes.",
                )
        new = [
            AttachmentRecord(
                id=site.state.new_attachment_id(),
                filename=filename or "file",
                size=len(content),
                mime_type=ctype,
                content=content,
                created=now_utc(),
                author=site.caller(req).username,
            )
            for _name, filename, ctype, content in files
        ]
        site.state.update(issue, attachments=issue.record.attachments + tuple(new))
    author = site.user_json(site.caller(req).username, req.api)
    return JiraResponse(
        200,
        [
            render.attachment_json(site.base, req.api, a, author, cloud=site.cloud, spec_time=True)
            for a in new
        ],
    )


def attachment_content(site: Site, req: JiraRequest, a: str) -> JiraResponse:
    """Download an attachment's bytes (Cloud's and Data Center's paths)."""
    with site.state.lock:
        for issue in site.state.issues.values():
            for att in issue.record.attachments:
                if att.id == a and site.faults.can_browse(issue.record.project_key):
                    return JiraResponse(200, raw=att.content, content_type=att.mime_type)
    return error(404, "The attachment does not exist.")


def add_comment(site: Site, req: JiraRequest, k: str) -> JiraResponse:
    """``POST /issue/{key}/comment``."""
    body = site.json_body(req)
    if not isinstance(body, dict) or "body" not in body:
        return error(400, errors={"comment": "Comment body can not be empty!"})
    errors: dict[str, str] = {}
    text, adf = check_description(site, body["body"], req.api, errors)
    if errors or not text:
        return error(
            400, errors={"comment": errors.get("description", "Comment body can not be empty!")}
        )
    with site.state.lock:
        issue = site.visible_issue(k)
        author_name = site.caller(req).username
        comment = CommentRecord(site.state.new_comment_id(), text, adf, now_utc(), author_name)
        site.state.update(issue, comments=(*issue.record.comments, comment))
        author = site.user_json(author_name, req.api)
        return JiraResponse(
            201,
            render.comment_json(
                site.base, req.api, issue.record.id, comment, author, spec_time=True
            ),
        )


def get_comments(site: Site, req: JiraRequest, k: str) -> JiraResponse:
    """``GET /issue/{key}/comment``, paged with ``startAt``/``maxResults``."""
    with site.state.lock:
        issue = site.visible_issue(k)
        comments = [
            render.comment_json(
                site.base,
                req.api,
                issue.record.id,
                c,
                site.user_json(c.author, req.api),
                spec_time=True,
            )
            for c in issue.record.comments
        ]
    start = int(req.q1("startAt") or 0)
    size = int(req.q1("maxResults") or 100)
    page = comments[start : start + size]
    return JiraResponse(
        200, {"startAt": start, "maxResults": size, "total": len(comments), "comments": page}
    )
