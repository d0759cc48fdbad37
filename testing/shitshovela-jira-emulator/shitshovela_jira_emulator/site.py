"""The emulated Jira site: what every handler works on.

One `Site` per emulator: its flavour and limits (fixed when the emulator is
made), its state and faults (changed by requests and by tests), and the base
URL (known once the server listens). The helpers here are the lookups every
handler shares: an issue or project the caller may see, the body as JSON, an
issue rendered with the fields asked for.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from . import render
from .auth import Accounts
from .messages import JiraRequest, Reject, error
from .state import Faults, HeldCreates, IssueRecord, JiraState, _Issue, _Project

__all__ = ["Flavour", "Site"]

Flavour = Literal["cloud", "datacenter"]


@dataclass
class Site:
    """One emulated Jira: settings, state, users, faults and the base URL it answers on.

    ``identity`` is the site's first user (the one the job runs as, and the
    projects' lead); ``accounts`` holds every user who may call."""

    flavour: Flavour
    state: JiraState
    identity: render.Identity
    accounts: Accounts
    faults: Faults = field(default_factory=Faults)
    attachment_max: int = 10 * 1024 * 1024
    description_max: int = 32767
    search_max: int = 100
    dc_search_max: int = 1000
    indexed_properties: Mapping[str, Collection[str]] | None = None
    custom_fields: dict[str, str] = field(default_factory=dict)
    dc_deployment_type: str = "Server"
    base: str = ""
    #: Creates the server holds uncommitted (a late commit).
    held: HeldCreates = field(init=False)

    def __post_init__(self) -> None:
        self.held = HeldCreates(self.state.lock)

    @property
    def cloud(self) -> bool:
        """Jira Cloud (else Data Center)."""
        return self.flavour == "cloud"

    def caller(self, req: JiraRequest) -> render.Identity:
        """Who sent ``req`` (the site's first user for an anonymous read)."""
        return req.user if req.user is not None else self.identity

    def user_json(self, username: str, api: str) -> dict[str, Any] | None:
        """A user as a field value (creator, author...); None for a user the site
        does not know (Jira's null for an anonymous or deleted user)."""
        user = self.accounts.user(username)
        return None if user is None else user.details(self.base, api, self.cloud)

    def json_body(self, req: JiraRequest) -> Any:
        """The request body as JSON; 415 or 400 as Jira answers them otherwise."""
        if req.media_type != "application/json":
            raise Reject(error(415, "Unsupported Media Type"))
        try:
            return json.loads(req.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise Reject(error(400, f"Unexpected character in the request body: {exc}")) from None

    def visible_issue(self, key_or_id: str) -> _Issue:
        """The issue, if the caller may browse its project; 404 otherwise."""
        issue = self.state.find(key_or_id)
        if issue is None or not self.faults.can_browse(issue.record.project_key):
            raise Reject(
                error(404, "Issue does not exist or you do not have permission to see it.")
            )
        return issue

    def browsable_project(self, ident: str) -> _Project:
        """The project, if the caller may browse it; 404 otherwise."""
        project = self.state.project(ident)
        if project is None or not self.faults.can_browse(project.key):
            raise Reject(error(404, f"No project could be found with key '{ident}'."))
        return project

    def render_issue(
        self,
        rec: IssueRecord,
        api: str,
        fields: Sequence[str],
        default: str,
        properties: Sequence[str],
    ) -> dict[str, Any]:
        """An issue as Jira returns it, with the ``fields`` and ``properties`` asked for."""
        base = self.base
        universe = list(render.ALL_FIELDS) + sorted(self.custom_fields)
        wanted = render.select(fields, default, universe)
        out: dict[str, Any] = {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,"
            "versionedRepresentations",
            "id": rec.id,
            "self": f"{base}/rest/api/{api}/issue/{rec.id}",
            "key": rec.key,
        }
        project = self.state.projects[rec.project_key]
        out["fields"] = render.issue_fields(
            rec,
            base=base,
            api=api,
            cloud=self.cloud,
            wanted=wanted,
            project_id=project.id,
            project_name=project.name,
            issue_type_id=self.state.issue_type_ids.get(rec.issuetype, "10001"),
            component_ids=project.components,
            user=lambda username: self.user_json(username, api),
        )
        for cf in self.custom_fields:
            if cf in wanted:
                out["fields"].setdefault(cf, rec.custom_fields.get(cf))
        if properties:
            keys = render.select(properties, "", sorted(rec.properties))
            out["properties"] = {k: rec.properties[k] for k in sorted(keys) if k in rec.properties}
        return out
