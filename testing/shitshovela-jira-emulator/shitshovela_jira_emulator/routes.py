"""Which handler answers a request: Jira's REST paths, per API version and flavour.

`route` maps ``/rest/api/{2,3,latest}/...`` (and Data Center's
``/secure/attachment/...`` download path) onto a handler name and its path
parameters, and sets the request's API version: ``latest`` is 3 on Cloud and
2 on Data Center, Data Center has no v3, and the enhanced search exists on
Cloud only. `HANDLERS` holds the function behind each name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from . import issues, metadata, search
from .messages import JiraRequest, JiraResponse

if TYPE_CHECKING:
    from .site import Site

__all__ = ["HANDLERS", "Route", "route"]

Handler = Callable[..., JiraResponse]
"""``handler(site, request, **path_parameters) -> JiraResponse``."""

#: The function behind each route's name (tests may replace one with monkeypatch.setitem).
HANDLERS: dict[str, Handler] = {
    "create_issue": issues.create_issue,
    "get_issue": issues.get_issue,
    "edit_issue": issues.edit_issue,
    "add_attachment": issues.add_attachment,
    "attachment_content": issues.attachment_content,
    "get_comments": issues.get_comments,
    "add_comment": issues.add_comment,
    "search_jql": search.search_jql,
    "approximate_count": search.approximate_count,
    "search_v2": search.search_v2,
    "get_project": metadata.get_project,
    "createmeta": metadata.createmeta,
    "get_fields": metadata.get_fields,
    "myself": metadata.myself,
    "server_info": metadata.server_info,
}

_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (m, re.compile("^" + p + "$"), n)
    for m, p, n in (
        ("POST", r"issue", "create_issue"),
        ("GET", r"issue/createmeta/(?P<p>[^/]+)/issuetypes", "createmeta"),
        ("GET", r"issue/(?P<k>[^/]+)", "get_issue"),
        ("PUT", r"issue/(?P<k>[^/]+)", "edit_issue"),
        ("POST", r"issue/(?P<k>[^/]+)/attachments", "add_attachment"),
        ("GET", r"issue/(?P<k>[^/]+)/comment", "get_comments"),
        ("POST", r"issue/(?P<k>[^/]+)/comment", "add_comment"),
        ("GET", r"search/jql", "search_jql"),
        ("POST", r"search/jql", "search_jql"),
        ("POST", r"search/approximate-count", "approximate_count"),
        ("GET", r"search", "search_v2"),
        ("POST", r"search", "search_v2"),
        ("GET", r"project/(?P<p>[^/]+)", "get_project"),
        ("GET", r"field", "get_fields"),
        ("GET", r"myself", "myself"),
        ("GET", r"serverInfo", "server_info"),
        ("GET", r"attachment/content/(?P<a>[^/]+)", "attachment_content"),
    )
)
_API = re.compile(r"^/rest/api/(?P<v>2|3|latest)/(?P<rest>.*?)/?$")
_DC_CONTENT = re.compile(r"^/secure/attachment/(?P<a>\d+)/[^/]*$")
_CLOUD_ONLY = frozenset({"search_jql", "approximate_count"})


@dataclass(frozen=True)
class Route:
    """A handler's name and the parameters taken from the path."""

    name: str
    params: dict[str, str]

    def answer(self, site: Site, req: JiraRequest) -> JiraResponse:
        """Call the handler."""
        handler: Any = HANDLERS[self.name]
        response: JiraResponse = handler(site, req, **self.params)
        return response


def route(req: JiraRequest, *, cloud: bool) -> Route | None:
    """The route of ``req`` (setting ``req.api``), or None: no such resource here."""
    m = _API.match(req.raw_path)
    if m is None:
        dc = _DC_CONTENT.match(req.raw_path)
        if dc is not None and req.method == "GET":
            return Route("attachment_content", {"a": dc.group("a")})
        return None
    version = m.group("v")
    if version == "latest":
        version = "3" if cloud else "2"
    if not cloud and version == "3":
        return None
    req.api = version
    rest = m.group("rest")
    for method, pattern, name in _ROUTES:
        pm = pattern.match(rest)
        if pm is not None and method == req.method:
            if name in _CLOUD_ONLY and not cloud:
                return None
            return Route(name, {k: unquote(v) for k, v in pm.groupdict().items()})
    return None
