"""The Jira emulator: a stand-in server that answers as Jira Cloud or Jira Data Center would.

Each request goes through one pipeline (`JiraEmulator.handle`): find its route,
check it against the OpenAPI excerpt, apply a scheduled throttle, check the
credentials, answer with the route's handler, check the answer. The HTTP
plumbing is the testkit's `StandInServer`; the answers are in `issues`,
`search` and `metadata`, the rules in `fields` and `auth`, the data in `state`.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from shitshovela_testkit.specfindings import CheckedEmulator
from shitshovela_testkit.standin import Request, Response, StandInServer

from . import render
from .auth import Accounts, Credentials, authenticate
from .messages import JiraRequest, Reject, error, throttled
from .routes import route
from .site import Flavour, Site
from .speccheck import SpecCheck
from .state import Faults, IssueRecord, JiraState, ProjectConfig

__all__ = ["JiraEmulator"]

_SEARCH_REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."
)


class JiraEmulator(StandInServer, CheckedEmulator):
    """A stateful Jira on ``http://127.0.0.1:<free port>``, as a context manager.

    ``flavour="cloud"`` serves ``/rest/api/3`` (ADF descriptions) and ``/rest/api/2``
    (plain-text descriptions), Basic auth with ``email:api_token``, enhanced search at
    ``/rest/api/{2,3}/search/jql`` (the old ``/search`` answers 410).
    ``flavour="datacenter"`` serves ``/rest/api/2`` only, Bearer PAT auth, and search at
    ``/rest/api/2/search`` with ``startAt``/``total``.

    The site has users: the one whose credentials the constructor takes
    (``username``, the job's bot) and any a test adds (`add_user`). Each issue
    records the user who created it (``creator`` and ``reporter`` in its fields),
    and ``/myself`` answers who the credentials belong to.
    """

    server_name = "JiraEmulator/1.0"
    request_class = JiraRequest
    described_as = "Jira's OpenAPI description"
    spec: SpecCheck

    def __init__(
        self,
        *,
        flavour: Flavour = "cloud",
        projects: Mapping[str, Sequence[str] | ProjectConfig] | None = None,
        email: str = "bot@example.com",
        api_token: str = "cloud-api-token",  # noqa: S107 - a test double's default
        pat: str = "dc-personal-access-token",
        username: str = "bot",
        display_name: str = "Ticket Bot",
        validate_spec: Path | str | None = None,
        index_lag: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        attachment_max_bytes: int = 10 * 1024 * 1024,
        description_max_chars: int = 32767,
        search_max_results: int = 100,
        dc_search_max_results: int = 1000,
        indexed_properties: Mapping[str, Collection[str]] | None = None,
        custom_fields: Mapping[str, str] | None = None,
        dc_deployment_type: str = "Server",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if flavour not in ("cloud", "datacenter"):
            raise ValueError(f"flavour must be 'cloud' or 'datacenter', not {flavour!r}")
        super().__init__(host=host, port=port)
        self.flavour: Flavour = flavour
        bot = render.Identity(email, display_name, "5b10ac8d82e05b22cc7d4ef5", username)
        accounts = Accounts(flavour == "cloud")
        self.credentials: Credentials = accounts.add(bot, api_token=api_token, pat=pat)
        self.site = Site(
            flavour=flavour,
            state=JiraState(
                projects if projects is not None else {"OPS": ["Task", "Bug"]}, clock, index_lag
            ),
            identity=bot,
            accounts=accounts,
            attachment_max=attachment_max_bytes,
            description_max=description_max_chars,
            search_max=search_max_results,
            dc_search_max=dc_search_max_results,
            indexed_properties=indexed_properties,
            custom_fields=dict(custom_fields or {}),
            dc_deployment_type=dc_deployment_type,
        )
        self.spec = SpecCheck(validate_spec, cloud=flavour == "cloud")
        self._user_keys = 10100

    def start(self) -> JiraEmulator:
        """Listen on a free port; the site learns its base URL."""
        super().start()
        self.site.base = self.url
        return self

    # ---------------------------------------------------------- test-facing state
    @property
    def faults(self) -> Faults:
        """Faults a test schedules (throttling, lost writes, forbidden projects)."""
        return self.site.faults

    @property
    def index_lag(self) -> float:
        """How long search lags behind writes (seconds on the emulator's clock)."""
        return self.site.state.index_lag

    @index_lag.setter
    def index_lag(self, seconds: float) -> None:
        self.site.state.index_lag = seconds

    def auth_headers(self, user: str | None = None) -> dict[str, str]:
        """The Authorization header of ``user``'s credentials (by default the ones the
        emulator was made with)."""
        credentials = self.credentials if user is None else self.site.accounts.credentials(user)
        return {"Authorization": credentials.header}

    def add_user(
        self,
        username: str,
        *,
        api_token: str | None = None,
        pat: str | None = None,
        email: str | None = None,
        display_name: str | None = None,
    ) -> render.Identity:
        """Another user of the site, who may call with their own credentials (Basic
        ``email:api_token`` on Cloud, Bearer ``pat`` on Data Center; tokens made up
        when not given). On Data Center their key differs from their name, as for
        users made since Jira 8 (``JIRAUSER10100``)."""
        self._user_keys += 1
        user = render.Identity(
            email or f"{username}@example.com",
            display_name or username.title(),
            hashlib.sha256(username.encode()).hexdigest()[:24],
            username,
            key=f"JIRAUSER{self._user_keys}",
        )
        self.site.accounts.add(
            user, api_token=api_token or f"token-of-{username}", pat=pat or f"pat-of-{username}"
        )
        return user

    def delete_issue(self, key: str) -> None:
        """Delete an issue, as a person would: it is gone from reads and from search at
        once, and its key is never handed out again (a gap in the project's keys)."""
        state = self.site.state
        with state.lock:
            issue = state.find(key)
            if issue is None:
                raise KeyError(key)
            del state.issues[issue.record.id]
            del state.by_key[issue.record.key.upper()]

    def commit_held(self) -> list[str]:
        """Commit now every create the server holds (`Faults.hold_next_create`); their
        keys, in the order the creates arrived."""
        return [record.key for record in self.site.held.commit_all()]

    def discard_held(self) -> int:
        """Never commit the creates the server holds; how many there were."""
        return self.site.held.discard_all()

    @property
    def held_creates(self) -> int:
        """Creates the server holds, not yet committed or discarded."""
        return len(self.site.held.pending())

    def stop(self) -> None:
        """Stop serving; creates still held are discarded (never committed)."""
        self.discard_held()
        super().stop()

    def issues(self) -> list[IssueRecord]:
        """A snapshot of every issue (current state, not the lagging index), by id."""
        state = self.site.state
        with state.lock:
            return sorted((i.record for i in state.issues.values()), key=lambda r: int(r.id))

    def issue(self, key_or_id: str) -> IssueRecord:
        """One issue's current state; `KeyError` if there is none."""
        with self.site.state.lock:
            found = self.site.state.find(key_or_id)
            if found is None:
                raise KeyError(key_or_id)
            return found.record

    def seed_issue(
        self,
        project: str,
        summary: str,
        *,
        issuetype: str | None = None,
        description: str | None = None,
        labels: Sequence[str] = (),
        properties: Mapping[str, Any] | None = None,
        indexed: bool = True,
        creator: str | None = None,
    ) -> IssueRecord:
        """Create an issue directly (no HTTP, no checks); ``indexed=False`` lets it lag.
        ``creator`` is a username (`add_user`); by default the emulator's first user."""
        state = self.site.state
        with state.lock:
            proj = state.project(project)
            if proj is None:
                raise KeyError(project)
            return state.create(
                proj,
                issuetype=issuetype or proj.issue_types[0],
                summary=summary,
                description=description,
                description_adf=None,
                labels=labels,
                components=(),
                priority="Medium",
                properties=properties or {},
                indexed_immediately=indexed,
                creator=self.site.identity.username if creator is None else creator,
            )

    # ------------------------------------------------------------------- serving
    def handle(self, request: Request) -> Response:
        """Route, check, throttle, authenticate, answer, check the answer."""
        assert isinstance(request, JiraRequest)
        req = request
        found = route(req, cloud=self.site.cloud)
        checked, problems = self.spec.request(req, found)
        throttle = self.site.faults.take_throttle()
        if throttle is not None:
            return throttled(*throttle)
        denied = authenticate(req, found.name if found else None, self.site.accounts)
        if denied is not None:
            return denied
        if problems:
            return error(
                400,
                "The request does not match Jira's OpenAPI description: " + " | ".join(problems),
            )
        if found is None:
            self.spec.note_unvalidated(req, "no such resource in the emulator")
            return error(404, "null for uri: " + req.path)
        if found.name == "search_v2" and req.api == "2" and self.site.cloud:
            resp = error(
                410,
                _SEARCH_REMOVED + " A full migration guideline is available at "
                "https://developer.atlassian.com/changelog/#CHANGE-2046",
            )
        elif found.name == "search_v2" and req.api == "3":
            resp = error(410, _SEARCH_REMOVED)
        else:
            try:
                resp = found.answer(self.site, req)
            except Reject as rejected:
                resp = rejected.response
        self.spec.response(req, checked, resp)
        return resp

    def on_error(self, request: Request, error_: Exception) -> Response:
        """An emulator bug: answer 500 and record it, so that the test fails."""
        self.spec.record_crash(request, error_)
        return error(500, f"emulator error: {error_!r}")

    def extra_headers(self, request: Request, response: Response) -> dict[str, str]:
        """Jira's request id on every answer."""
        return {"X-AREQUESTID": uuid.uuid4().hex[:12]}
