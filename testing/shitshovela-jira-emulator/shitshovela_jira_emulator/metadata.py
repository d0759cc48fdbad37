"""What a client asks before it works: projects, create metadata, fields, the user, the server.

The answers a client reads to find its way (and a health check reads to see
that it may): a project and its components and issue types, the issue types
the caller may create, the field list (custom fields included), the current
user and the server's version and deployment type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import render
from .messages import JiraRequest, JiraResponse, error, int_param
from .state import now_utc

if TYPE_CHECKING:
    from .site import Site

__all__ = ["createmeta", "get_fields", "get_project", "myself", "server_info"]


def get_project(site: Site, req: JiraRequest, p: str) -> JiraResponse:
    """``GET /project/{key}``: the project, its components and issue types."""
    base = site.base
    with site.state.lock:
        project = site.browsable_project(p)
        lead = site.identity.myself(base, req.api, site.cloud)
        lead.pop("groups", None)
        lead.pop("applicationRoles", None)
        lead.pop("expand", None)
        out = render.project_ref(base, req.api, project.id, project.key, project.name)
        out.update(
            {
                "description": "",
                "lead": lead,
                "components": [
                    {
                        **render.component_json(base, req.api, cid, cname),
                        "isAssigneeTypeValid": False,
                    }
                    for cname, cid in project.components.items()
                ],
                "issueTypes": [
                    render.issue_type_json(base, req.api, t, site.state.issue_type_ids[t])
                    for t in project.issue_types
                ],
                "assigneeType": "UNASSIGNED",
                "versions": [],
                "roles": {},
                "style": "classic",
                "isPrivate": False,
                "properties": {},
            }
        )
    return JiraResponse(200, out)


def createmeta(site: Site, req: JiraRequest, p: str) -> JiraResponse:
    """``GET /issue/createmeta/{project}/issuetypes``: what the caller may create."""
    base = site.base
    with site.state.lock:
        project = site.browsable_project(p)
        # Jira lists only the issue types this user may create (none without the
        # project's Create Issues permission).
        creatable = project.issue_types if site.faults.can_write(project.key) else []
        types = [
            render.issue_type_json(base, req.api, t, site.state.issue_type_ids[t])
            for t in creatable
        ]
    start = max(0, int_param(req.q1("startAt"), "startAt", 0))
    size = int_param(req.q1("maxResults"), "maxResults", 50)
    if size > 200:
        return error(400, "Parameter 'maxResults' must not exceed the limit '200'")
    page = types[start : start + max(size, 0)]
    if site.cloud:
        return JiraResponse(
            200,
            {"issueTypes": page, "maxResults": size, "startAt": start, "total": len(types)},
        )
    return JiraResponse(
        200,
        {
            "maxResults": size,
            "startAt": start,
            "total": len(types),
            "isLast": start + len(page) >= len(types),
            "values": page,
        },
    )


def get_fields(site: Site, req: JiraRequest) -> JiraResponse:
    """``GET /field``: the system fields and the configured custom fields."""
    system = {
        "summary": ("Summary", "string", None),
        "description": ("Description", "string", None),
        "labels": ("Labels", "array", "string"),
        "issuetype": ("Issue Type", "issuetype", None),
        "project": ("Project", "project", None),
        "components": ("Components", "array", "component"),
        "priority": ("Priority", "priority", None),
        "status": ("Status", "status", None),
        "created": ("Created", "datetime", None),
        "updated": ("Updated", "datetime", None),
        "attachment": ("Attachment", "array", "attachment"),
        "comment": ("Comment", "comments-page", None),
    }
    out: list[dict[str, Any]] = []
    for fid, (name, ftype, items) in system.items():
        schema: dict[str, Any] = {"type": ftype, "system": fid}
        if items:
            schema["items"] = items
        out.append(
            {
                "id": fid,
                "key": fid,
                "name": name,
                "custom": False,
                "orderable": True,
                "navigable": fid not in render.NOT_NAVIGABLE,
                "searchable": True,
                "clauseNames": [fid],
                "schema": schema,
            }
        )
    for fid, name in site.custom_fields.items():
        out.append(
            {
                "id": fid,
                "key": fid,
                "name": name,
                "custom": True,
                "orderable": True,
                "navigable": True,
                "searchable": True,
                "clauseNames": [f"cf[{fid.rsplit('_', 1)[-1]}]", name],
                "schema": {
                    "type": "any",
                    "custom": "emulator:any",
                    "customId": int(fid.rsplit("_", 1)[-1])
                    if fid.rsplit("_", 1)[-1].isdigit()
                    else 0,
                },
            }
        )
    return JiraResponse(200, out)


def myself(site: Site, req: JiraRequest) -> JiraResponse:
    """``GET /myself``: the user whose credentials sent the request."""
    return JiraResponse(200, site.caller(req).myself(site.base, req.api, site.cloud))


def server_info(site: Site, req: JiraRequest) -> JiraResponse:
    """``GET /serverInfo``: version and deployment type (readable without credentials)."""
    now = now_utc()
    if site.cloud:
        version, numbers, deployment = "1001.0.0-SNAPSHOT", [1001, 0, 0], "Cloud"
    else:
        version, numbers, deployment = "9.12.15", [9, 12, 15], site.dc_deployment_type
    return JiraResponse(
        200,
        {
            "baseUrl": site.base,
            "displayUrl": site.base,
            "version": version,
            "versionNumbers": numbers,
            "deploymentType": deployment,
            "buildNumber": 100282,
            "buildDate": render.rfc3339(now.replace(hour=0, minute=0, second=0)),
            "serverTime": render.rfc3339(now),
            "scmInfo": "57a0ca5b4a0bb0ac5f3fee4764acb1c14e4d7e71",
            "serverTitle": "Jira (emulated)",
        },
    )
