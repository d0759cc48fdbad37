"""Listing issues, and GitHub's pagination for every list.

``GET /repos/{owner}/{repo}/issues`` lists issues *and pull requests* (each
pull request with its ``pull_request`` key), as the lagging listing sees them
(`GitHubState.listed`): ``state`` (``open`` by default, ``closed``, ``all``),
``labels`` (comma-separated, all of them, names ignoring case), ``since``
(updated at or after), ``creator``, ``mentioned``, the trivial forms of
``assignee``, ``milestone`` and ``type`` (nothing here has an assignee, a
milestone or a type), ``sort`` (``created``, ``updated``, ``comments``) and
``direction`` (``desc`` by default).

`paginate` cuts any list into pages (``per_page``, 30 by default and 100 at
most; ``page`` from 1) and gives the ``Link`` header GitHub sends: ``prev``,
``next``, ``last`` and ``first`` as they apply, each the request's own URL
with its ``page`` replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

from .messages import GitHubRequest, GitHubResponse, Reject, validation_failed
from .render import parse_iso

if TYPE_CHECKING:
    from .site import Site
    from .state import IssueRecord

__all__ = ["list_issues", "paginate"]

T = TypeVar("T")

_SORT_KEYS = {
    "created": lambda r: (r.created_at, r.number),
    "updated": lambda r: (r.updated_at, r.number),
    "comments": lambda r: (len(r.comments), r.number),
}


def _int(value: str | None, default: int) -> int:
    if value is None or not value.strip().lstrip("-").isdigit():
        return default
    return int(value)


def paginate(site: Site, req: GitHubRequest, items: Sequence[T]) -> tuple[list[T], str | None]:
    """The page asked for, and the ``Link`` header (None when everything fits one page)."""
    per_page = _int(req.q1("per_page"), 30)
    per_page = 30 if per_page < 1 else min(per_page, site.per_page_max)
    page = max(_int(req.q1("page"), 1), 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    chunk = list(items[(page - 1) * per_page : page * per_page])
    if last == 1 and page == 1:
        return chunk, None

    def at(n: int) -> str:
        query = [(k, v) for k, v in req.query if k != "page"] + [("page", str(n))]
        return f"<{site.links.api}{req.api_path}?{urlencode(query)}>"

    rels: list[str] = []
    if page > 1:
        rels.append(f'{at(min(page - 1, last))}; rel="prev"')
    if page < last:
        rels.append(f'{at(page + 1)}; rel="next"')
        rels.append(f'{at(last)}; rel="last"')
    if page > 1:
        rels.append(f'{at(1)}; rel="first"')
    return chunk, ", ".join(rels) if rels else None


def _matches(req: GitHubRequest, rec: IssueRecord) -> bool:
    state = req.q1("state") or "open"
    if state != "all" and rec.state != state:
        return False
    wanted = [n.strip() for n in (req.q1("labels") or "").split(",") if n.strip()]
    if any(not rec.has_label(name) for name in wanted):
        return False
    creator = req.q1("creator")
    if creator is not None and rec.user.casefold() != creator.casefold():
        return False
    mentioned = req.q1("mentioned")
    if mentioned is not None and f"@{mentioned}".casefold() not in (rec.body or "").casefold():
        return False
    for name in ("assignee", "milestone", "type"):
        value = req.q1(name)
        if value is not None and value.casefold() != "none":
            return False  # nothing here has one
    return True


def list_issues(site: Site, req: GitHubRequest, owner: str, repo: str) -> GitHubResponse:
    """``GET /repos/{owner}/{repo}/issues``."""
    found = site.repo_for(req, owner, repo)
    since_text = req.q1("since")
    since: float | None = None
    if since_text:
        try:
            since = parse_iso(since_text)
        except ValueError:
            raise Reject(
                validation_failed(
                    [{"resource": "Issue", "code": "invalid", "field": "since"}], req.doc
                )
            ) from None
    records = [
        r
        for r in site.state.listed(found)
        if _matches(req, r) and (since is None or r.updated_at >= since)
    ]
    key = _SORT_KEYS.get(req.q1("sort") or "created", _SORT_KEYS["created"])
    records.sort(key=key, reverse=(req.q1("direction") or "desc") != "asc")
    page, link = paginate(site, req, records)
    body: list[dict[str, Any]] = [site.render_issue(found, r) for r in page]
    resp = GitHubResponse(200, body)
    if link:
        resp.headers["Link"] = link
    return resp
