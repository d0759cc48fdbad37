"""Who am I and what may I do: the repository with my permissions, my user, my quota.

* ``GET /repos/{owner}/{repo}``: the repository, with the caller's
  ``permissions`` (``admin``, ``maintain``, ``push``, ``triage``, ``pull``) —
  for an installation token, ``push`` is the app's ``issues: write`` (an
  assumption: see the README).
* ``GET /user``: the token's user; an installation token gets 403 "Resource
  not accessible by integration", as on GitHub. A classic token's answer
  carries ``X-OAuth-Scopes``.
* ``GET /rate_limit``: the caller's quota; free, as on GitHub.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import render
from .messages import GitHubRequest, GitHubResponse, Reject, error

if TYPE_CHECKING:
    from .site import Site

__all__ = ["get_repo", "get_user", "rate_limit"]


def get_repo(site: Site, req: GitHubRequest, owner: str, repo: str) -> GitHubResponse:
    """``GET /repos/{owner}/{repo}``."""
    found = site.repo_for(req, owner, repo)
    caller = req.who()
    permissions = {
        "admin": caller.admin,
        "maintain": caller.admin,
        "push": caller.push,
        "triage": caller.push,
        "pull": True,
    }
    open_issues = sum(1 for i in found.issues.values() if i.record.state == "open")
    body = render.full_repository(
        site.links, found, site.user(found.owner), permissions, open_issues
    )
    return GitHubResponse(200, body)


def get_user(site: Site, req: GitHubRequest) -> GitHubResponse:
    """``GET /user``."""
    caller = req.who()
    if caller.kind != "token":
        raise Reject(error(403, "Resource not accessible by integration", req.doc))
    visible = [r for r in site.state.repos.values() if caller.can_see(r.full_name)]
    body = render.private_user(
        site.links, caller.login, caller.user_id, 1_500_000_000.0, repos=len(visible)
    )
    resp = GitHubResponse(200, body)
    if caller.token is not None and caller.token.kind == "classic":
        resp.headers["X-OAuth-Scopes"] = caller.token.scopes
        resp.headers["X-Accepted-OAuth-Scopes"] = ""
    return resp


def rate_limit(site: Site, req: GitHubRequest) -> GitHubResponse:
    """``GET /rate_limit``: the caller's core quota (search and GraphQL at their defaults)."""
    caller = req.who()
    core = site.limits.peek(caller.bucket, caller.rate_limit)
    now = int(site.state.clock())

    def fresh(limit: int, seconds: int) -> dict[str, int]:
        return {"limit": limit, "remaining": limit, "reset": now + seconds, "used": 0}

    core_body = {
        "limit": core.limit,
        "remaining": core.remaining,
        "reset": core.reset,
        "used": core.used,
    }
    body = {
        "resources": {
            "core": core_body,
            "search": fresh(30, 60),
            "graphql": fresh(5000, 3600),
        },
        "rate": core_body,
    }
    resp = GitHubResponse(200, body)
    resp.headers.update(core.headers())
    return resp
