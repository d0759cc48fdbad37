"""The emulated GitHub host: what every handler works on.

One `Site` per emulator: its rules and limits (fixed when the emulator is
made, some changed by tests), its state, identities, rate limits and faults,
and its roots (known once the server listens). The helpers here are the
lookups every handler shares: a repository the caller may see, an issue by
number, labels by name, an issue rendered with its labels and author.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from . import render
from .auth import Identities
from .faults import Faults
from .messages import GitHubRequest, Reject, error, validation_failed
from .ratelimit import RateLimits
from .state import GitHubState, IssueRecord, LabelRecord, Repo, _Issue

__all__ = ["Site", "UnknownLabels"]

UnknownLabels = Literal["create", "refuse"]
"""What a label name the repository lacks does in an issue write: made, or refused."""


@dataclass
class Site:
    """One emulated GitHub: rules, state, identities, limits, faults and its roots."""

    state: GitHubState
    identities: Identities
    faults: Faults
    limits: RateLimits
    unknown_labels: UnknownLabels = "create"
    refused_label_status: int = 403
    title_max: int = 256
    body_max: int = 65536
    label_name_max: int = 50
    per_page_max: int = 100
    primary_status: int = 403
    secondary_status: int = 403
    #: ``/api/v3`` on GitHub Enterprise Server, empty on github.com.
    prefix: str = ""
    #: ``http://127.0.0.1:PORT`` once the server listens.
    base: str = ""

    @property
    def links(self) -> render.Links:
        return render.Links(api=self.base + self.prefix, web=self.base)

    # ---------------------------------------------------------------- rendering
    def user(self, login: str) -> dict[str, Any]:
        return render.simple_user(self.links, login, self.identities.user_id(login))

    def labels_of(self, repo: Repo, names: Iterable[str]) -> list[dict[str, Any]]:
        out = []
        for name in names:
            found = repo.label(name)
            if found is not None:
                out.append(render.label(self.links, repo.full_name, found))
        return out

    def render_issue(self, repo: Repo, rec: IssueRecord, *, single: bool = False) -> dict[str, Any]:
        return render.issue(
            self.links,
            rec,
            labels=self.labels_of(repo, rec.labels),
            user=self.user(rec.user),
            closed_by=self.user(rec.closed_by) if rec.closed_by else None,
            single=single,
        )

    # ------------------------------------------------------------------ lookups
    def repo_for(self, req: GitHubRequest, owner: str, name: str) -> Repo:
        """The repository, if the caller can see it; GitHub's 404 otherwise."""
        repo = self.state.repo(f"{owner}/{name}")
        if repo is None or not req.who().can_see(repo.full_name):
            raise Reject(error(404, "Not Found", req.doc))
        return repo

    def issue_for(self, req: GitHubRequest, repo: Repo, number: str) -> _Issue:
        """The issue or pull request of that number; 404 otherwise."""
        issue = repo.issue(int(number)) if number.isdigit() else None
        if issue is None:
            raise Reject(error(404, "Not Found", req.doc))
        return issue

    # ------------------------------------------------------------------- labels
    def resolve_labels(self, req: GitHubRequest, repo: Repo, given: Iterable[Any]) -> list[str]:
        """Label names (strings or ``{"name": ...}``) as the repository spells them.

        A name the repository lacks is created (grey, as GitHub does when a user
        with push access names one) or refused, as the site is configured."""
        names: list[str] = []
        for item in given:
            name = item.get("name") if isinstance(item, dict) else item
            if not isinstance(name, str) or not name.strip():
                raise Reject(
                    validation_failed(
                        [{"resource": "Label", "code": "invalid", "field": "name"}], req.doc
                    )
                )
            found: LabelRecord | None = repo.label(name)
            if found is None:
                if self.unknown_labels == "refuse":
                    raise Reject(
                        error(
                            self.refused_label_status,
                            f"Label does not exist: {name} (this repository refuses labels "
                            "that do not exist yet)",
                            req.doc,
                        )
                    )
                if len(name) > self.label_name_max:
                    raise Reject(
                        validation_failed(
                            [
                                {
                                    "resource": "Label",
                                    "code": "invalid",
                                    "field": "name",
                                    "message": "name is too long (maximum is "
                                    f"{self.label_name_max} characters)",
                                }
                            ],
                            req.doc,
                        )
                    )
                found = self.state.add_label(repo, name)
            names.append(found.name)
        return names

    def check_text(self, req: GitHubRequest, resource: str, field: str, text: str) -> None:
        """GitHub's 422 for a title or body over its limit."""
        limit = self.title_max if field == "title" else self.body_max
        if len(text) > limit:
            raise Reject(
                validation_failed(
                    [
                        {
                            "resource": resource,
                            "code": "custom",
                            "field": field,
                            "message": f"{field} is too long (maximum is {limit} characters)",
                        }
                    ],
                    req.doc,
                )
            )
