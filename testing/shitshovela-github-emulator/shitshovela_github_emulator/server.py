"""The GitHub emulator: a stand-in server that answers as GitHub's REST API would.

Each request goes through one pipeline (`GitHubEmulator.handle`): find its
route, check it against the OpenAPI excerpt, check the credentials, count it
against the caller's primary quota, apply a scheduled fault, apply the
secondary limits, answer with the route's handler, check the answer. A
request or an answer that breaks the description is answered 500 with the
reason (and recorded), so that a test fails loudly. The HTTP plumbing is the
testkit's `StandInServer`; the answers are in `issues`, `labels`, `listing`,
`meta` and `app`, the rules in `site`, `auth` and `ratelimit`, the data in
`state`, the test's levers in `faults` and `control`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shitshovela_testkit.specfindings import CheckedEmulator
from shitshovela_testkit.standin import Request, Response, StandInServer

from . import control, routes
from .app import check_jwt
from .auth import Identities
from .caller import Caller
from .config import AppConfig, RepoConfig, TokenConfig
from .faults import Faults, Throttle
from .messages import GitHubRequest, GitHubResponse, Reject, error
from .ratelimit import RateLimits, Snapshot, primary_exceeded, secondary_exceeded
from .site import Site, UnknownLabels
from .speccheck import SpecCheck
from .state import GitHubState, IssueRecord, LabelRecord, Repo

if TYPE_CHECKING:
    import httpx

__all__ = ["DEFAULT_TOKEN", "GitHubEmulator"]

#: The token the emulator accepts when none is configured.
DEFAULT_TOKEN = "ghp_emulatorTokenForTests0000000000000000"  # noqa: S105 - a test double's
#: The Enterprise Server API prefix.
ENTERPRISE_PREFIX = "/api/v3"


class GitHubEmulator(StandInServer, CheckedEmulator):
    """A stateful GitHub on ``http://127.0.0.1:<free port>``, as a context manager.

    ``repos``: ``{"owner/name": RepoConfig(...)}`` or a list of names (default one
    repository, ``acme/tickets``). ``tokens``: ``{token: TokenConfig(...)}`` (default
    `DEFAULT_TOKEN` with push access). ``app``: a GitHub App whose JWTs are accepted.
    ``clock``: seconds since the epoch (timestamps, the listing lag, rate windows,
    token and JWT expiry). ``enterprise=True`` serves GitHub Enterprise Server's paths
    (``/api/v3/...``). ``control=False`` turns the ``/_emulator/`` control API off.
    """

    server_name = "github.com"
    request_class = GitHubRequest
    described_as = "GitHub's OpenAPI description"
    spec: SpecCheck

    def __init__(
        self,
        *,
        repos: Mapping[str, RepoConfig] | Sequence[str] | None = None,
        tokens: Mapping[str, TokenConfig] | None = None,
        app: AppConfig | None = None,
        validate_spec: Path | str | None = None,
        listing_lag: float = 0.0,
        clock: Callable[[], float] = time.time,
        unknown_labels: UnknownLabels = "create",
        refused_label_status: int = 403,
        title_max: int = 256,
        body_max: int = 65536,
        label_name_max: int = 50,
        per_page_max: int = 100,
        primary_status: int = 403,
        secondary_status: int = 403,
        secondary_per_minute: int = 80,
        secondary_per_hour: int = 500,
        max_concurrent: int = 100,
        send_retry_after: bool = True,
        enterprise: bool = False,
        control: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if unknown_labels not in ("create", "refuse"):
            raise ValueError(f"unknown_labels is 'create' or 'refuse', not {unknown_labels!r}")
        for status in (primary_status, secondary_status):
            if status not in (403, 429):
                raise ValueError("GitHub answers a rate limit with 403 or 429")
        super().__init__(host=host, port=port)
        self.site = Site(
            state=GitHubState(repos if repos is not None else ["acme/tickets"], clock, listing_lag),
            identities=Identities(
                tokens if tokens is not None else {DEFAULT_TOKEN: TokenConfig()}, app, clock
            ),
            faults=Faults(),
            limits=RateLimits(
                clock,
                per_minute=secondary_per_minute,
                per_hour=secondary_per_hour,
                max_concurrent=max_concurrent,
                send_retry_after=send_retry_after,
            ),
            unknown_labels=unknown_labels,
            refused_label_status=refused_label_status,
            title_max=title_max,
            body_max=body_max,
            label_name_max=label_name_max,
            per_page_max=per_page_max,
            primary_status=primary_status,
            secondary_status=secondary_status,
            prefix=ENTERPRISE_PREFIX if enterprise else "",
        )
        self.enterprise = enterprise
        self.control = control
        self.spec = SpecCheck(validate_spec)

    def start(self) -> GitHubEmulator:
        """Listen on a free port; the site learns its roots."""
        super().start()
        self.site.base = self.url
        return self

    # ---------------------------------------------------------------- addresses
    @property
    def api_url(self) -> str:
        """The API root a client is given: the URL, plus ``/api/v3`` on Enterprise Server."""
        return self.url + self.site.prefix

    def auth_headers(self, token: str | None = None) -> dict[str, str]:
        """``Authorization: Bearer <token>`` (the first configured token by default)."""
        return {"Authorization": f"Bearer {token or self.site.identities.first_token()}"}

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        """An httpx client on `api_url` with the token's ``Authorization`` header."""
        import httpx

        headers = {
            "Accept": "application/vnd.github+json",
            **self.auth_headers(token),
            **kwargs.pop("headers", {}),
        }
        kwargs.setdefault("timeout", 10.0)
        return httpx.Client(base_url=self.api_url, headers=headers, **kwargs)

    # ---------------------------------------------------------- test-facing state
    @property
    def faults(self) -> Faults:
        """Faults a test schedules (failed or lost writes, throttling, 503s, slowness)."""
        return self.site.faults

    @property
    def listing_lag(self) -> float:
        """How long the issue listing lags behind writes (seconds on the clock)."""
        return self.site.state.listing_lag

    @listing_lag.setter
    def listing_lag(self, seconds: float) -> None:
        self.site.state.listing_lag = seconds

    def freeze_listing(self) -> None:
        """The listing shows no write made from now on, until `thaw_listing`."""
        self.site.state.freeze_listing()

    def thaw_listing(self) -> None:
        self.site.state.thaw_listing()

    @property
    def unknown_labels(self) -> UnknownLabels:
        """Whether an issue write naming a label the repository lacks creates or refuses it."""
        return self.site.unknown_labels

    @unknown_labels.setter
    def unknown_labels(self, mode: UnknownLabels) -> None:
        if mode not in ("create", "refuse"):
            raise ValueError(f"unknown_labels is 'create' or 'refuse', not {mode!r}")
        self.site.unknown_labels = mode

    def set_token(self, token: str, config: TokenConfig | None) -> None:
        """Add or replace a personal access token (None revokes it)."""
        self.site.identities.set_token(token, config)

    def exhaust_rate_limit(self, token: str | None = None) -> None:
        """Use up a token's primary quota for the rest of its hour."""
        token = token or self.site.identities.first_token()
        config = self.site.identities.token(token)
        if config is None:
            raise KeyError(token)
        self.site.limits.exhaust(f"token:{token}", config.rate_limit)

    def add_repo(self, full_name: str, config: RepoConfig | None = None) -> None:
        self.site.state.add_repo(full_name, config)

    def _repo(self, full_name: str | None) -> Repo:
        state = self.site.state
        if full_name is None:
            if len(state.repos) != 1:
                raise ValueError("name the repository: the emulator has more than one")
            return next(iter(state.repos.values()))
        found = state.repo(full_name)
        if found is None:
            raise KeyError(full_name)
        return found

    def issues(self, repo: str | None = None) -> list[IssueRecord]:
        """Every issue and pull request of the repository, current (not the listing), by number."""
        with self.site.state.lock:
            found = self._repo(repo)
            return [found.issues[n].record for n in sorted(found.issues)]

    def issue(self, number: int, repo: str | None = None) -> IssueRecord:
        """One issue's current state; `KeyError` if there is none."""
        with self.site.state.lock:
            found = self._repo(repo).issue(number)
            if found is None:
                raise KeyError(number)
            return found.record

    def labels(self, repo: str | None = None) -> list[LabelRecord]:
        """The repository's labels, by name."""
        with self.site.state.lock:
            found = self._repo(repo)
            return sorted(found.labels.values(), key=lambda lab: lab.name.casefold())

    def seed_issue(
        self,
        title: str,
        *,
        repo: str | None = None,
        body: str | None = None,
        labels: Iterable[str] = (),
        user: str = "octocat",
        listed: bool = True,
        pull_request: bool = False,
    ) -> IssueRecord:
        """Create an issue directly (no HTTP, no checks; unknown labels are made).

        ``listed=False`` lets it lag like one created through the API."""
        state = self.site.state
        with state.lock:
            found = self._repo(repo)
            names = []
            for name in labels:
                label = found.label(name) or state.add_label(found, name)
                names.append(label.name)
            return state.create_issue(
                found,
                title=title,
                body=body,
                labels=names,
                user=user,
                pull_request=pull_request,
                listed_at_once=listed,
            )

    def add_pull_request(
        self, title: str = "Update README", *, repo: str | None = None, **kwargs: Any
    ) -> IssueRecord:
        """A pull request: it takes the repository's next issue number."""
        return self.seed_issue(title, repo=repo, pull_request=True, **kwargs)

    # ------------------------------------------------------------------- serving
    def handle(self, request: Request) -> Response:
        """Route, check, authenticate, count, fault, answer, check the answer."""
        assert isinstance(request, GitHubRequest)
        req = request
        if self.control and req.path.startswith(control.PREFIX):
            return control.handle(self, req)
        prefix = self.site.prefix
        if prefix and not (req.raw_path == prefix or req.raw_path.startswith(prefix + "/")):
            return error(404, "Not Found")
        req.api_path = req.raw_path[len(prefix) :] or "/"
        found = routes.route(req)
        the_route, params = found if found is not None else (None, {})
        if the_route is not None:
            req.doc = the_route.doc
        checked, problems = self.spec.request(req, the_route)
        resp, quota = self._answer(req, the_route, params, problems)
        if resp.drop:
            return resp
        broken = self.spec.response(req, the_route, checked, resp)
        if broken:
            resp = _loud(
                f"the emulator's {resp.status} answer does not match GitHub's OpenAPI description",
                broken,
            )
        if quota is not None:
            resp.headers.update(quota.headers())
        return resp

    def _answer(
        self,
        req: GitHubRequest,
        the_route: routes.Route | None,
        params: dict[str, str],
        problems: list[str],
    ) -> tuple[GitHubResponse, Snapshot | None]:
        site = self.site
        need = the_route.need if the_route is not None else "token"
        caller = site.identities.authenticate(
            req, need, lambda jwt: check_jwt(site.identities.app, jwt, site.state.clock())
        )
        if isinstance(caller, GitHubResponse):
            quota, _ = site.limits.charge("anonymous", 60)
            return caller, quota
        req.caller = caller
        if the_route is None:
            quota, _ = site.limits.charge(caller.bucket, caller.rate_limit)
            return error(404, "Not Found"), quota
        if the_route.free:
            quota = site.limits.peek(caller.bucket, caller.rate_limit)
        else:
            quota, exhausted = site.limits.charge(caller.bucket, caller.rate_limit)
            if exhausted:
                return primary_exceeded(site.primary_status, caller.kind, _ident(caller)), quota
        if problems:
            return _loud("the request does not match GitHub's OpenAPI description", problems), quota
        throttle = site.faults.take_throttle()
        if throttle is not None:
            return _throttled(throttle, caller, quota, site.state.clock())
        admitted = site.limits.enter(caller.bucket)
        try:
            if not admitted:
                wait = 60.0 if site.limits.send_retry_after else None
                return secondary_exceeded(site.secondary_status, wait), quota
            wait_for = site.limits.content_created(caller.bucket, req.method)
            if wait_for is not None:
                retry = wait_for if site.limits.send_retry_after else None
                return secondary_exceeded(site.secondary_status, retry), quota
            delay = site.faults.take_delay()
            if delay > 0:
                time.sleep(delay)
            return self._handled(req, the_route, params), quota
        finally:
            site.limits.leave(caller.bucket)

    def _handled(
        self, req: GitHubRequest, the_route: routes.Route, params: dict[str, str]
    ) -> GitHubResponse:
        """The handler's answer, with a scheduled fault applied."""

        def answer() -> GitHubResponse:
            with self.site.state.lock:
                try:
                    return routes.answer(self.site, req, the_route, params)
                except Reject as rejected:
                    return rejected.response

        return self.site.faults.apply(
            the_route.name,
            answer,
            failed=lambda: _fault(error(500, "Server Error")),
            dropped=lambda: _fault(GitHubResponse(0, drop=True)),
        )

    def on_error(self, request: Request, error_: Exception) -> Response:
        """An emulator bug: answer 500 and record it, so that the test fails."""
        self.spec.record_crash(request, error_)
        return _loud("the emulator crashed", [repr(error_)])

    def extra_headers(self, request: Request, response: Response) -> dict[str, str]:
        """GitHub's request id and media type on every answer."""
        headers = {
            "X-GitHub-Request-Id": uuid.uuid4().hex[:16].upper(),
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-GitHub-Api-Version-Selected": request.headers.get(
                "x-github-api-version", "2022-11-28"
            ),
        }
        if self.enterprise:
            headers["X-GitHub-Enterprise-Version"] = "3.14.0"
        return headers


def _ident(caller: Caller) -> int:
    return caller.installation_id if caller.installation_id is not None else caller.user_id


def _fault(resp: GitHubResponse) -> GitHubResponse:
    resp.fault = True
    return resp


def _loud(what: str, problems: Sequence[str]) -> GitHubResponse:
    """500 naming what broke the description (never checked against it itself)."""
    return _fault(error(500, f"GitHub emulator: {what}: " + " | ".join(problems)))


def _throttled(
    throttle: Throttle, caller: Caller, quota: Snapshot, now: float
) -> tuple[GitHubResponse, Snapshot | None]:
    """An injected refusal: out of quota, over a secondary limit, or unavailable."""
    if throttle.kind == "primary":
        resp = primary_exceeded(throttle.status, caller.kind, _ident(caller))
        reset = quota.reset if throttle.retry_after is None else int(now) + throttle.retry_after
        quota = Snapshot(quota.limit, 0, reset, quota.limit)
    elif throttle.kind == "secondary":
        retry = float(throttle.retry_after) if throttle.retry_after is not None else None
        resp = secondary_exceeded(throttle.status, retry)
    else:
        resp = GitHubResponse(
            503,
            {
                "message": "Service Unavailable",
                "documentation_url": "https://www.githubstatus.com",
                "status": "503",
            },
        )
        if throttle.retry_after is not None:
            resp.headers["retry-after"] = str(throttle.retry_after)
    return _fault(resp), quota
