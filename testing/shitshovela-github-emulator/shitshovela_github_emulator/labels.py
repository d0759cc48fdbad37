"""A repository's labels: list, read one, create.

Names are unique ignoring case; creating one that exists is 422
``already_exists`` (so "make sure the label exists" is a create that may
answer 422, or a read first). A name is at most 50 characters, a colour six
hex digits (grey when not given), a description at most 100 characters.
Creating a label needs push access.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import render
from .issues import no_push
from .listing import paginate
from .messages import GitHubRequest, GitHubResponse, Reject, error, json_body, validation_failed

if TYPE_CHECKING:
    from .site import Site

__all__ = ["create_label", "get_label", "list_labels"]

_COLOR = re.compile(r"^[0-9a-fA-F]{6}$")


def list_labels(site: Site, req: GitHubRequest, owner: str, repo: str) -> GitHubResponse:
    """``GET /repos/{owner}/{repo}/labels``, by name, paged."""
    found = site.repo_for(req, owner, repo)
    labels = sorted(found.labels.values(), key=lambda lab: lab.name.casefold())
    page, link = paginate(site, req, labels)
    resp = GitHubResponse(200, [render.label(site.links, found.full_name, lab) for lab in page])
    if link:
        resp.headers["Link"] = link
    return resp


def get_label(site: Site, req: GitHubRequest, owner: str, repo: str, name: str) -> GitHubResponse:
    """``GET /repos/{owner}/{repo}/labels/{name}``."""
    found = site.repo_for(req, owner, repo)
    label = found.label(name)
    if label is None:
        raise Reject(error(404, "Not Found", req.doc))
    return GitHubResponse(200, render.label(site.links, found.full_name, label))


def _invalid(req: GitHubRequest, field: str, message: str | None = None) -> Reject:
    problem: dict[str, Any] = {"resource": "Label", "code": "invalid", "field": field}
    if message:
        problem["message"] = message
    return Reject(validation_failed([problem], req.doc))


def create_label(site: Site, req: GitHubRequest, owner: str, repo: str) -> GitHubResponse:
    """``POST /repos/{owner}/{repo}/labels``: 201, or 422 ``already_exists``."""
    found = site.repo_for(req, owner, repo)
    body = json_body(req)
    if not isinstance(body, dict):
        raise _invalid(req, "name")
    if not req.who().push:
        raise Reject(no_push(req))
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise Reject(
            validation_failed(
                [{"resource": "Label", "code": "missing_field", "field": "name"}], req.doc
            )
        )
    if len(name) > site.label_name_max:
        raise _invalid(
            req, "name", f"name is too long (maximum is {site.label_name_max} characters)"
        )
    color = body.get("color") or "ededed"
    if not isinstance(color, str) or not _COLOR.match(color.removeprefix("#")):
        raise _invalid(req, "color")
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 100):
        raise _invalid(req, "description", "description is too long (maximum is 100 characters)")
    if found.label(name) is not None:
        raise Reject(
            validation_failed(
                [{"resource": "Label", "code": "already_exists", "field": "name"}], req.doc
            )
        )
    label = site.state.add_label(found, name, color.removeprefix("#"), description)
    resp = GitHubResponse(201, render.label(site.links, found.full_name, label))
    resp.headers["Location"] = render.label(site.links, found.full_name, label)["url"]
    return resp
