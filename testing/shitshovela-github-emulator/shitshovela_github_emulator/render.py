"""GitHub's JSON shapes: users, labels, issues and pull requests, comments, repositories.

Each function takes the `Links` of the emulated host (its API root and its web
root) and gives the object as GitHub's REST API returns it, with every property
the OpenAPI description requires (nullable ones as null). Timestamps are whole
seconds in UTC (``2026-11-30T12:00:00Z``).
"""

from __future__ import annotations

import base64
import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .state import CommentRecord, IssueRecord, LabelRecord, Repo

__all__ = [
    "Links",
    "comment",
    "full_repository",
    "iso",
    "issue",
    "label",
    "parse_iso",
    "private_user",
    "simple_user",
]


@dataclass(frozen=True)
class Links:
    """The emulated host's roots: ``api`` (``http://127.0.0.1:PORT`` or ``…/api/v3``), ``web``."""

    api: str
    web: str


def iso(t: float) -> str:
    """Epoch seconds as GitHub writes a timestamp."""
    return _dt.datetime.fromtimestamp(int(t), _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    """An ISO 8601 timestamp (``YYYY-MM-DDTHH:MM:SSZ``, offsets allowed) as epoch seconds."""
    value = _dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.UTC)
    return value.timestamp()


def _node(prefix: str, ident: int) -> str:
    return prefix + base64.b64encode(f"{prefix}{ident}".encode()).decode().rstrip("=")


def simple_user(links: Links, login: str, user_id: int, kind: str | None = None) -> dict[str, Any]:
    """A user (``simple-user``); a login ending in ``[bot]`` is an app's bot account."""
    u = f"{links.api}/users/{quote(login)}"
    return {
        "login": login,
        "id": user_id,
        "node_id": _node("U_kgDO", user_id),
        "avatar_url": f"{links.web}/avatars/u/{user_id}",
        "gravatar_id": "",
        "url": u,
        "html_url": f"{links.web}/{quote(login)}",
        "followers_url": f"{u}/followers",
        "following_url": f"{u}/following{{/other_user}}",
        "gists_url": f"{u}/gists{{/gist_id}}",
        "starred_url": f"{u}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{u}/subscriptions",
        "organizations_url": f"{u}/orgs",
        "repos_url": f"{u}/repos",
        "events_url": f"{u}/events{{/privacy}}",
        "received_events_url": f"{u}/received_events",
        "type": kind or ("Bot" if login.endswith("[bot]") else "User"),
        "user_view_type": "public",
        "site_admin": False,
    }


def private_user(
    links: Links, login: str, user_id: int, created_at: float, *, repos: int = 0
) -> dict[str, Any]:
    """The authenticated user (``GET /user``: ``private-user``)."""
    out = simple_user(links, login, user_id)
    out.update(
        {
            "user_view_type": "private",
            "name": None,
            "company": None,
            "blog": "",
            "location": None,
            "email": None,
            "notification_email": None,
            "hireable": None,
            "bio": None,
            "twitter_username": None,
            "public_repos": 0,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": iso(created_at),
            "updated_at": iso(created_at),
            "private_gists": 0,
            "total_private_repos": repos,
            "owned_private_repos": repos,
            "disk_usage": 0,
            "collaborators": 0,
            "two_factor_authentication": True,
        }
    )
    return out


def label(links: Links, repo: str, rec: LabelRecord) -> dict[str, Any]:
    return {
        "id": rec.id,
        "node_id": _node("LA_kwDO", rec.id),
        "url": f"{links.api}/repos/{repo}/labels/{quote(rec.name, safe='')}",
        "name": rec.name,
        "color": rec.color,
        "default": rec.default,
        "description": rec.description,
    }


def _reactions(url: str) -> dict[str, Any]:
    counts = dict.fromkeys(
        ("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes"), 0
    )
    return {"url": f"{url}/reactions", "total_count": 0, **counts}


def issue(
    links: Links,
    rec: IssueRecord,
    *,
    labels: Sequence[dict[str, Any]],
    user: dict[str, Any],
    closed_by: dict[str, Any] | None = None,
    single: bool = False,
) -> dict[str, Any]:
    """An issue or pull request as the issues API gives it (``single``: as a GET by number)."""
    repo_url = f"{links.api}/repos/{rec.repo}"
    url = f"{repo_url}/issues/{rec.number}"
    kind = "pull" if rec.pull_request else "issues"
    out: dict[str, Any] = {
        "url": url,
        "repository_url": repo_url,
        "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments",
        "events_url": f"{url}/events",
        "html_url": f"{links.web}/{rec.repo}/{kind}/{rec.number}",
        "id": rec.id,
        "node_id": _node("PR_kwDO" if rec.pull_request else "I_kwDO", rec.id),
        "number": rec.number,
        "title": rec.title,
        "user": user,
        "labels": list(labels),
        "state": rec.state,
        "locked": False,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "comments": len(rec.comments),
        "created_at": iso(rec.created_at),
        "updated_at": iso(rec.updated_at),
        "closed_at": iso(rec.closed_at) if rec.closed_at is not None else None,
        "author_association": "MEMBER",
        "active_lock_reason": None,
        "body": rec.body,
        "reactions": _reactions(url),
        "timeline_url": f"{url}/timeline",
        "performed_via_github_app": None,
    }
    if rec.state_reason is not None:
        # GitHub sends null for an open issue, but the description's nullable enum leaves
        # null out of the enum, so openapi-core refuses it: left out instead (optional).
        out["state_reason"] = rec.state_reason
    if rec.pull_request:
        pulls = f"{links.web}/{rec.repo}/pull/{rec.number}"
        out["draft"] = False
        out["pull_request"] = {
            "url": f"{repo_url}/pulls/{rec.number}",
            "html_url": pulls,
            "diff_url": f"{pulls}.diff",
            "patch_url": f"{pulls}.patch",
            "merged_at": None,
        }
    if single:
        out["closed_by"] = closed_by
    return out


def comment(
    links: Links, repo: str, number: int, rec: CommentRecord, user: dict[str, Any]
) -> dict[str, Any]:
    url = f"{links.api}/repos/{repo}/issues/comments/{rec.id}"
    return {
        "url": url,
        "html_url": f"{links.web}/{repo}/issues/{number}#issuecomment-{rec.id}",
        "issue_url": f"{links.api}/repos/{repo}/issues/{number}",
        "id": rec.id,
        "node_id": _node("IC_kwDO", rec.id),
        "user": user,
        "created_at": iso(rec.created_at),
        "updated_at": iso(rec.updated_at),
        "author_association": "MEMBER",
        "body": rec.body,
        "reactions": _reactions(url),
        "performed_via_github_app": None,
    }


def full_repository(
    links: Links,
    repo: Repo,
    owner: dict[str, Any],
    permissions: Mapping[str, bool] | None,
    open_issues: int,
) -> dict[str, Any]:
    """``GET /repos/{owner}/{repo}``: the repository, with the caller's ``permissions``."""
    full = repo.full_name
    api = f"{links.api}/repos/{full}"
    web = f"{links.web}/{full}"
    host = links.web.split("://", 1)[-1]
    templates = {
        "archive_url": "/{archive_format}{/ref}",
        "assignees_url": "/assignees{/user}",
        "blobs_url": "/git/blobs{/sha}",
        "branches_url": "/branches{/branch}",
        "collaborators_url": "/collaborators{/collaborator}",
        "comments_url": "/comments{/number}",
        "commits_url": "/commits{/sha}",
        "compare_url": "/compare/{base}...{head}",
        "contents_url": "/contents/{+path}",
        "contributors_url": "/contributors",
        "deployments_url": "/deployments",
        "downloads_url": "/downloads",
        "events_url": "/events",
        "forks_url": "/forks",
        "git_commits_url": "/git/commits{/sha}",
        "git_refs_url": "/git/refs{/sha}",
        "git_tags_url": "/git/tags{/sha}",
        "hooks_url": "/hooks",
        "issue_comment_url": "/issues/comments{/number}",
        "issue_events_url": "/issues/events{/number}",
        "issues_url": "/issues{/number}",
        "keys_url": "/keys{/key_id}",
        "labels_url": "/labels{/name}",
        "languages_url": "/languages",
        "merges_url": "/merges",
        "milestones_url": "/milestones{/number}",
        "notifications_url": "/notifications{?since,all,participating}",
        "pulls_url": "/pulls{/number}",
        "releases_url": "/releases{/id}",
        "stargazers_url": "/stargazers",
        "statuses_url": "/statuses/{sha}",
        "subscribers_url": "/subscribers",
        "subscription_url": "/subscription",
        "tags_url": "/tags",
        "teams_url": "/teams",
        "trees_url": "/git/trees{/sha}",
    }
    created = iso(repo.created_at)
    out: dict[str, Any] = {
        "id": repo.id,
        "node_id": _node("R_kgDO", repo.id),
        "name": repo.name,
        "full_name": full,
        "owner": owner,
        "private": repo.config.private,
        "visibility": "private" if repo.config.private else "public",
        "html_url": web,
        "description": repo.config.description,
        "fork": False,
        "url": api,
        **{key: api + suffix for key, suffix in templates.items()},
        "git_url": f"git://{host}/{full}.git",
        "ssh_url": f"git@{host.split(':', 1)[0]}:{full}.git",
        "clone_url": f"{web}.git",
        "svn_url": web,
        "mirror_url": None,
        "homepage": None,
        "language": None,
        "size": 0,
        "default_branch": repo.config.default_branch,
        "forks": 0,
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers": 0,
        "watchers_count": 0,
        "open_issues": open_issues,
        "open_issues_count": open_issues,
        "has_issues": True,
        "has_projects": True,
        "has_wiki": True,
        "has_pages": False,
        "has_downloads": True,
        "has_discussions": False,
        "archived": False,
        "disabled": False,
        "is_template": False,
        "topics": [],
        "license": None,
        "pushed_at": created,
        "created_at": created,
        "updated_at": created,
        "network_count": 0,
        "subscribers_count": 0,
        "allow_forking": True,
        "web_commit_signoff_required": False,
    }
    if permissions is not None:
        out["permissions"] = dict(permissions)
    return out
