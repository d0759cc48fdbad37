"""Search: JQL against the lagging index, enhanced search (Cloud) and paged search (Data Center).

Cloud's ``/search/jql`` pages with opaque ``nextPageToken`` values bound to
their query and sees the index as it lagged (unless an issue is named in
``reconcileIssues``); Data Center's ``/search`` pages with ``startAt`` and
``total``. The JQL itself is parsed and evaluated by `jql`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from . import jql as _jql
from .messages import JiraRequest, JiraResponse, Reject, error, int_param
from .state import IssueRecord, now_utc

if TYPE_CHECKING:
    from .site import Site

__all__ = ["approximate_count", "run_jql", "search_jql", "search_v2"]

RECONCILE_MAX = 50
SEARCH_PROPERTIES_MAX = 5


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _unb64(token: str) -> dict[str, Any]:
    padded = token + "=" * (-len(token) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value


def jql_context(site: Site, *, consistent_keys: bool = True) -> _jql.JqlContext:
    """What JQL may name: the browsable projects and (by default) every issue key."""
    projects = {
        key: (p.id, p.name) for key, p in site.state.projects.items() if site.faults.can_browse(key)
    }
    keys: dict[str, str] = {}
    if consistent_keys:
        for issue in site.state.issues.values():
            if issue.record.project_key in projects:
                keys[issue.record.key.upper()] = issue.record.id
                keys[issue.record.id] = issue.record.id
    return _jql.JqlContext(
        projects=projects,
        issue_keys=keys,
        now=now_utc(),
        indexed_properties=site.indexed_properties,
    )


def run_jql(
    site: Site, jql: str, reconcile: Collection[str], *, bounded: bool
) -> list[IssueRecord]:
    """Issues matching ``jql`` as the (lagging) index sees them, sorted."""
    try:
        query = _jql.parse(jql)
        if bounded and not _jql.is_bounded(query):
            raise _jql.JqlError(
                "Unbounded JQL queries are not allowed here. Please add a search "
                "restriction to your query."
            )
        with site.state.lock:
            ctx = jql_context(site)
            predicate, sorter = _jql.compile_query(query, ctx)
            views: list[IssueRecord] = []
            for issue in site.state.issues.values():
                if issue.record.project_key not in ctx.projects:
                    continue
                view = site.state.indexed_view(issue, issue.record.id in reconcile)
                if view is not None and predicate(view):
                    views.append(view)
    except _jql.JqlError as exc:
        raise Reject(error(400, str(exc))) from None
    return sorter(views)


def search_args(site: Site, req: JiraRequest) -> dict[str, Any]:
    """The search parameters, from the query (GET) or the JSON body (POST)."""
    if req.method == "GET":
        return {
            "jql": req.q1("jql") or "",
            "nextPageToken": req.q1("nextPageToken"),
            "maxResults": req.q1("maxResults"),
            "startAt": req.q1("startAt"),
            "fields": req.q("fields"),
            "properties": req.q("properties"),
            "reconcileIssues": req.q_list("reconcileIssues"),
        }
    body = site.json_body(req)
    if not isinstance(body, dict):
        raise Reject(error(400, "Can not deserialize the request body: not an object."))

    def as_list(v: Any) -> list[str]:
        if v is None:
            return []
        if isinstance(v, str):
            return [v]
        return [str(x) for x in v] if isinstance(v, list) else [str(v)]

    return {
        "jql": body.get("jql") or "",
        "nextPageToken": body.get("nextPageToken"),
        "maxResults": body.get("maxResults"),
        "startAt": body.get("startAt"),
        "fields": as_list(body.get("fields")),
        "properties": as_list(body.get("properties")),
        "reconcileIssues": as_list(body.get("reconcileIssues")),
    }


def search_item(
    site: Site,
    rec: IssueRecord,
    api: str,
    fields: Sequence[str],
    default: str,
    properties: Sequence[str],
) -> dict[str, Any]:
    """One issue of a search page: its id alone, or rendered with the fields asked for."""
    items = [i.strip() for f in fields for i in f.split(",") if i.strip()] or [default]
    if set(items) <= {"id"}:
        return {"id": rec.id}
    return site.render_issue(rec, api, fields, default, properties)


def search_jql(site: Site, req: JiraRequest) -> JiraResponse:
    """Cloud's enhanced search: ``nextPageToken`` pages over the lagging index."""
    args = search_args(site, req)
    jql = str(args["jql"])
    reconcile = {str(x) for x in args["reconcileIssues"]}
    if len(reconcile) > RECONCILE_MAX:
        return error(
            400, f"The reconcileIssues list can contain at most {RECONCILE_MAX} issue ids."
        )
    props = [p for v in args["properties"] for p in v.split(",") if p.strip()]
    if len(props) > SEARCH_PROPERTIES_MAX:
        return error(400, f"At most {SEARCH_PROPERTIES_MAX} issue properties can be requested.")
    fields = list(args["fields"])
    items = {i.strip() for f in fields for i in f.split(",") if i.strip()} or {"id"}
    cap = 5000 if items <= {"id", "key"} else site.search_max
    size = max(1, min(cap, int_param(args["maxResults"], "maxResults", 50)))
    digest = hashlib.sha256(jql.encode()).hexdigest()[:12]
    offset = 0
    token = args["nextPageToken"]
    if token:
        try:
            data = _unb64(str(token))
            offset = int(data["o"])
            if data.get("q") != digest or offset < 0:
                raise ValueError("token of another query")
        except (ValueError, KeyError, TypeError, binascii.Error):
            return error(400, "The provided next page token is invalid or expired.")
    found = run_jql(site, jql, reconcile, bounded=True)
    page = found[offset : offset + size]
    with site.state.lock:
        issues = [search_item(site, r, req.api, fields, "id", props) for r in page]
    out: dict[str, Any] = {"issues": issues}
    if offset + size < len(found):
        out["nextPageToken"] = _b64({"o": offset + size, "q": digest})
        out["isLast"] = False
    else:
        out["isLast"] = True
    return JiraResponse(200, out)


def approximate_count(site: Site, req: JiraRequest) -> JiraResponse:
    """Cloud's ``POST /search/approximate-count``."""
    body = site.json_body(req)
    jql = body.get("jql", "") if isinstance(body, dict) else ""
    found = run_jql(site, str(jql or ""), (), bounded=True)
    return JiraResponse(200, {"count": len(found)})


def search_v2(site: Site, req: JiraRequest) -> JiraResponse:
    """Data Center's ``/search``: ``startAt``/``maxResults`` pages and a ``total``."""
    args = search_args(site, req)
    start = max(0, int_param(args["startAt"], "startAt", 0))
    size = max(0, min(site.dc_search_max, int_param(args["maxResults"], "maxResults", 50)))
    found = run_jql(site, str(args["jql"]), (), bounded=False)
    page = found[start : start + size]
    props = list(args["properties"])
    with site.state.lock:
        issues = [site.render_issue(r, req.api, args["fields"], "*navigable", props) for r in page]
    return JiraResponse(
        200,
        {
            "expand": "schema,names",
            "startAt": start,
            "maxResults": size,
            "total": len(found),
            "issues": issues,
        },
    )
