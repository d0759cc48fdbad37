"""Issues: create, read by number, update; their labels; their comments.

What GitHub does that matters to a ticket system, modelled here:

* a create's labels are **silently dropped** when the caller lacks push access
  (as are assignees and a milestone; the issue is made all the same); a label
  the repository lacks is created or refused, as the site is configured;
* a title over 256 characters or a body over 65,536 is refused with 422
  (``code: custom``, "body is too long (maximum is 65536 characters)");
* a number may belong to a pull request: it answers with a ``pull_request`` key;
* removing a label the issue does not carry is 404 "Label does not exist";
* label changes (``PATCH`` ``labels``, add, set, remove) need push access: a
  ``PATCH`` drops them silently, the label endpoints answer 403.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .listing import paginate
from .messages import (
    GitHubRequest,
    GitHubResponse,
    Reject,
    error,
    json_body,
    validation_failed,
)
from .render import comment as render_comment
from .render import parse_iso

if TYPE_CHECKING:
    from .site import Site
    from .state import Repo, _Issue

__all__ = [
    "add_labels",
    "create_comment",
    "create_issue",
    "get_issue",
    "list_comments",
    "list_issue_labels",
    "no_push",
    "remove_label",
    "set_labels",
    "update_issue",
]


def no_push(req: GitHubRequest) -> GitHubResponse:
    """403 for a write that needs push access, in the words GitHub uses per kind of token."""
    caller = req.who()
    if caller.kind == "installation":
        return error(403, "Resource not accessible by integration", req.doc)
    if caller.token is not None and caller.token.kind == "fine_grained":
        return error(403, "Resource not accessible by personal access token", req.doc)
    return error(403, "Must have push access to this repository.", req.doc)


def _invalid(req: GitHubRequest, resource: str, field: str) -> GitHubResponse:
    """GitHub's 422 for a field of the wrong kind."""
    return validation_failed([{"resource": resource, "code": "invalid", "field": field}], req.doc)


def _object(req: GitHubRequest, body: Any, resource: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Reject(_invalid(req, resource, "body"))
    return body


def _title(req: GitHubRequest, site: Site, value: Any) -> str:
    title = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not title.strip():
        raise Reject(
            validation_failed(
                [{"resource": "Issue", "code": "missing_field", "field": "title"}], req.doc
            )
        )
    site.check_text(req, "Issue", "title", title)
    return title


def _body(req: GitHubRequest, site: Site, value: Any, resource: str = "Issue") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Reject(_invalid(req, resource, "body"))
    site.check_text(req, resource, "body", value)
    return value


def _issue_answer(site: Site, repo: Repo, issue: _Issue, status: int = 200) -> GitHubResponse:
    resp = GitHubResponse(status, site.render_issue(repo, issue.record, single=True))
    if status == 201:
        resp.headers["Location"] = (
            f"{site.links.api}/repos/{repo.full_name}/issues/{issue.record.number}"
        )
    return resp


# ------------------------------------------------------------------------------ issues
def create_issue(site: Site, req: GitHubRequest, owner: str, repo: str) -> GitHubResponse:
    """``POST /repos/{owner}/{repo}/issues``."""
    found = site.repo_for(req, owner, repo)
    body = _object(req, json_body(req), "Issue")
    title = _title(req, site, body.get("title"))
    text = _body(req, site, body.get("body"))
    labels: list[str] = []
    given = body.get("labels")
    if given is not None and not isinstance(given, list):
        raise Reject(_invalid(req, "Issue", "labels"))
    caller = req.who()
    if given and caller.push:
        labels = site.resolve_labels(req, found, given)
    rec = site.state.create_issue(found, title=title, body=text, labels=labels, user=caller.login)
    issue = found.issue(rec.number)
    assert issue is not None
    return _issue_answer(site, found, issue, 201)


def get_issue(
    site: Site, req: GitHubRequest, owner: str, repo: str, issue_number: str
) -> GitHubResponse:
    """``GET /repos/{owner}/{repo}/issues/{issue_number}``: always current, never lagging."""
    found = site.repo_for(req, owner, repo)
    return _issue_answer(site, found, site.issue_for(req, found, issue_number))


def update_issue(
    site: Site, req: GitHubRequest, owner: str, repo: str, issue_number: str
) -> GitHubResponse:
    """``PATCH /repos/{owner}/{repo}/issues/{issue_number}``: title, body, state, labels."""
    found = site.repo_for(req, owner, repo)
    issue = site.issue_for(req, found, issue_number)
    body = _object(req, json_body(req, required=False) or {}, "Issue")
    caller = req.who()
    changes: dict[str, Any] = {}
    if body.get("title") is not None:
        changes["title"] = _title(req, site, body["title"])
    if "body" in body:
        changes["body"] = _body(req, site, body["body"])
    state = body.get("state")
    if state is not None and state not in ("open", "closed"):
        raise Reject(_invalid(req, "Issue", "state"))
    rec = issue.record
    if state == "closed" and rec.state != "closed":
        changes.update(
            state="closed",
            closed_at=site.state.clock(),
            closed_by=caller.login,
            state_reason=body.get("state_reason") or "completed",
        )
    elif state == "open" and rec.state != "open":
        changes.update(state="open", closed_at=None, closed_by=None, state_reason="reopened")
    if body.get("labels") is not None and caller.push:
        if not isinstance(body["labels"], list):
            raise Reject(_invalid(req, "Issue", "labels"))
        changes["labels"] = site.resolve_labels(req, found, body["labels"])
    if changes:
        site.state.update(issue, **changes)
    return _issue_answer(site, found, issue)


# ------------------------------------------------------------------------------ labels
def _label_names(req: GitHubRequest, body: Any) -> list[Any]:
    """The label list of an add/set body: ``{"labels": [...]}``, ``[...]`` or ``"name"``."""
    if isinstance(body, dict):
        body = body.get("labels", [])
    if isinstance(body, str):
        body = [body]
    if not isinstance(body, list):
        raise Reject(_invalid(req, "Label", "labels"))
    return body


def _labels_answer(site: Site, repo: Repo, issue: _Issue) -> GitHubResponse:
    return GitHubResponse(200, site.labels_of(repo, issue.record.labels))


def list_issue_labels(
    site: Site, req: GitHubRequest, owner: str, repo: str, issue_number: str
) -> GitHubResponse:
    """``GET /repos/{owner}/{repo}/issues/{issue_number}/labels``."""
    found = site.repo_for(req, owner, repo)
    issue = site.issue_for(req, found, issue_number)
    page, link = paginate(site, req, site.labels_of(found, issue.record.labels))
    resp = GitHubResponse(200, page)
    if link:
        resp.headers["Link"] = link
    return resp


def add_labels(
    site: Site, req: GitHubRequest, owner: str, repo: str, issue_number: str
) -> GitHubResponse:
    """``POST /repos/{owner}/{repo}/issues/{issue_number}/labels``: adds to the labels."""
    found = site.repo_for(req, owner, repo)
    issue = site.issue_for(req, found, issue_number)
    given = _label_names(req, json_body(req, required=False) or [])
    if not req.who().push:
        raise Reject(no_push(req))
    names = site.resolve_labels(req, found, given)
    site.state.update(issue, labels=(*issue.record.labels, *names))
    return _labels_answer(site, found, issue)


def set_labels(
    site: Site, req: GitHubRequest, owner: str, repo: str, issue_number: str
) -> GitHubResponse:
    """``PUT /repos/{owner}/{repo}/issues/{issue_number}/labels``: replaces the labels."""
    found = site.repo_for(req, owner, repo)
    issue = site.issue_for(req, found, issue_number)
    given = _label_names(req, json_body(req, required=False) or [])
    if not req.who().push:
        raise Reject(no_push(req))
    site.state.update(issue, labels=site.resolve_labels(req, found, given))
    return _labels_answer(site, found, issue)


def remove_label(
    site: Site, req: GitHubRequest, owner: str, repo: str, issue_number: str, name: str
) -> GitHubResponse:
    """``DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}``.

    404 "Label does not exist" when the issue does not carry it (a second removal)."""
    found = site.repo_for(req, owner, repo)
    issue = site.issue_for(req, found, issue_number)
    if not req.who().push:
        raise Reject(no_push(req))
    if not issue.record.has_label(name):
        raise Reject(error(404, "Label does not exist", req.doc))
    kept = [n for n in issue.record.labels if n.casefold() != name.casefold()]
    site.state.update(issue, labels=kept)
    return _labels_answer(site, found, issue)


# ---------------------------------------------------------------------------- comments
def list_comments(
    site: Site, req: GitHubRequest, owner: str, repo: str, issue_number: str
) -> GitHubResponse:
    """``GET /repos/{owner}/{repo}/issues/{issue_number}/comments`` (``since``, paged)."""
    found = site.repo_for(req, owner, repo)
    issue = site.issue_for(req, found, issue_number)
    since_text = req.q1("since")
    since = parse_iso(since_text) if since_text else None
    comments = [c for c in issue.record.comments if since is None or c.updated_at >= since]
    page, link = paginate(site, req, comments)
    number = issue.record.number
    body = [render_comment(site.links, found.full_name, number, c, site.user(c.user)) for c in page]
    resp = GitHubResponse(200, body)
    if link:
        resp.headers["Link"] = link
    return resp


def create_comment(
    site: Site, req: GitHubRequest, owner: str, repo: str, issue_number: str
) -> GitHubResponse:
    """``POST /repos/{owner}/{repo}/issues/{issue_number}/comments``."""
    found = site.repo_for(req, owner, repo)
    issue = site.issue_for(req, found, issue_number)
    body = _object(req, json_body(req), "IssueComment")
    text = _body(req, site, body.get("body"), "IssueComment")
    if not text:
        raise Reject(
            validation_failed(
                [{"resource": "IssueComment", "code": "missing_field", "field": "body"}], req.doc
            )
        )
    rec = site.state.add_comment(issue, text, req.who().login)
    number = issue.record.number
    resp = GitHubResponse(
        201, render_comment(site.links, found.full_name, number, rec, site.user(rec.user))
    )
    resp.headers["Location"] = f"{site.links.api}/repos/{found.full_name}/issues/comments/{rec.id}"
    return resp
