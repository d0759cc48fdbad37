"""Which handler answers a request: GitHub's REST paths, as the OpenAPI description writes them.

`ROUTES` lists every operation the emulator serves, by method and path
template (``/repos/{owner}/{repo}/issues/{issue_number}``), with its
handler's name, its documentation page, what credentials it takes and, for
the few operations the excerpt lacks, why it is answered unchecked
(`Route.unvalidated`). `route` finds a request's route and its path
parameters (percent-decoded); `HANDLERS` holds the function behind each name
(tests may replace one with ``monkeypatch.setitem``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from . import app, issues, labels, listing, meta
from .auth import Need
from .messages import GitHubRequest, GitHubResponse

if TYPE_CHECKING:
    from .site import Site

__all__ = ["HANDLERS", "NOT_IN_EXCERPT", "ROUTES", "Route", "route"]

Handler = Callable[..., GitHubResponse]
"""``handler(site, request, **path_parameters) -> GitHubResponse``."""

HANDLERS: dict[str, Handler] = {
    "create_issue": issues.create_issue,
    "list_issues": listing.list_issues,
    "get_issue": issues.get_issue,
    "update_issue": issues.update_issue,
    "list_issue_labels": issues.list_issue_labels,
    "add_labels": issues.add_labels,
    "set_labels": issues.set_labels,
    "remove_label": issues.remove_label,
    "list_comments": issues.list_comments,
    "create_comment": issues.create_comment,
    "list_labels": labels.list_labels,
    "create_label": labels.create_label,
    "get_label": labels.get_label,
    "get_repo": meta.get_repo,
    "get_user": meta.get_user,
    "rate_limit": meta.rate_limit,
    "get_app": app.get_app,
    "repo_installation": app.repo_installation,
    "create_installation_token": app.create_installation_token,
}

#: Why the operations GitHub's excerpt lacks are answered without a spec check.
NOT_IN_EXCERPT = "not in specs/github-issues.openapi.json (the GitHub App flow)"

_D = "https://docs.github.com/rest"


@dataclass(frozen=True)
class Route:
    """One operation the emulator serves."""

    method: str
    template: str
    name: str
    doc: str
    need: Need = "token"
    #: Not counted against the primary quota (``GET /rate_limit``).
    free: bool = False
    #: Why it is answered without an OpenAPI check (None: it is checked).
    unvalidated: str | None = None

    @property
    def regex(self) -> re.Pattern[str]:
        return _compiled(self.template)


ROUTES: tuple[Route, ...] = (
    Route("POST", "/repos/{owner}/{repo}/issues", "create_issue",
          f"{_D}/issues/issues#create-an-issue"),
    Route("GET", "/repos/{owner}/{repo}/issues", "list_issues",
          f"{_D}/issues/issues#list-repository-issues"),
    Route("GET", "/repos/{owner}/{repo}/issues/{issue_number}", "get_issue",
          f"{_D}/issues/issues#get-an-issue"),
    Route("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}", "update_issue",
          f"{_D}/issues/issues#update-an-issue"),
    Route("GET", "/repos/{owner}/{repo}/issues/{issue_number}/labels", "list_issue_labels",
          f"{_D}/issues/labels#list-labels-for-an-issue"),
    Route("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels", "add_labels",
          f"{_D}/issues/labels#add-labels-to-an-issue"),
    Route("PUT", "/repos/{owner}/{repo}/issues/{issue_number}/labels", "set_labels",
          f"{_D}/issues/labels#set-labels-for-an-issue"),
    Route("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", "remove_label",
          f"{_D}/issues/labels#remove-a-label-from-an-issue"),
    Route("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "list_comments",
          f"{_D}/issues/comments#list-issue-comments"),
    Route("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "create_comment",
          f"{_D}/issues/comments#create-an-issue-comment"),
    Route("GET", "/repos/{owner}/{repo}/labels", "list_labels",
          f"{_D}/issues/labels#list-labels-for-a-repository"),
    Route("POST", "/repos/{owner}/{repo}/labels", "create_label",
          f"{_D}/issues/labels#create-a-label"),
    Route("GET", "/repos/{owner}/{repo}/labels/{name}", "get_label",
          f"{_D}/issues/labels#get-a-label"),
    Route("GET", "/repos/{owner}/{repo}", "get_repo", f"{_D}/repos/repos#get-a-repository"),
    Route("GET", "/user", "get_user", f"{_D}/users/users#get-the-authenticated-user"),
    Route("GET", "/rate_limit", "rate_limit",
          f"{_D}/rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user",
          free=True),
    Route("GET", "/app", "get_app", f"{_D}/apps/apps#get-the-authenticated-app",
          need="jwt", unvalidated=NOT_IN_EXCERPT),
    Route("GET", "/repos/{owner}/{repo}/installation", "repo_installation",
          f"{_D}/apps/apps#get-a-repository-installation-for-the-authenticated-app",
          need="jwt", unvalidated=NOT_IN_EXCERPT),
    Route("POST", "/app/installations/{installation_id}/access_tokens",
          "create_installation_token",
          f"{_D}/apps/apps#create-an-installation-access-token-for-an-app",
          need="jwt", unvalidated=NOT_IN_EXCERPT),
)  # fmt: skip

_CACHE: dict[str, re.Pattern[str]] = {}


def _compiled(template: str) -> re.Pattern[str]:
    found = _CACHE.get(template)
    if found is None:
        pattern = re.sub(r"\\\{([a-z_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        found = _CACHE[template] = re.compile(f"^{pattern}/?$")
    return found


def route(req: GitHubRequest) -> tuple[Route, dict[str, str]] | None:
    """The route of ``req`` (matched on its path without the Enterprise prefix) and its
    percent-decoded path parameters; None: GitHub would answer 404."""
    for candidate in ROUTES:
        if candidate.method != req.method:
            continue
        m = candidate.regex.match(req.api_path)
        if m is not None:
            return candidate, {k: unquote(v) for k, v in m.groupdict().items()}
    return None


def answer(site: Site, req: GitHubRequest, found: Route, params: dict[str, str]) -> GitHubResponse:
    """Call the route's handler."""
    handler: Any = HANDLERS[found.name]
    response: GitHubResponse = handler(site, req, **params)
    return response
