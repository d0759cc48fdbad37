"""The Graph emulator: a stand-in server that answers as Microsoft Graph's mail API would.

Each request goes through one pipeline (`GraphEmulator.handle`): find its route
under ``/v1.0``, check it against the OpenAPI excerpt, check the token, the
app's permissions, the mailbox and the application access policy, count it
against the app's budgets for that mailbox (and hold one of its concurrent
slots while it is answered), apply a scheduled fault, answer with the route's
handler, check the answer. A request or an answer that breaks the description
is answered 500 with the reason (and recorded), so that a test fails loudly.
The HTTP plumbing is the testkit's `StandInServer`; the answers are in
`folders`, `listing` and `mail`, the rules in `site`, `auth` and `throttle`,
the data in `state`, the test's levers in `levers`, `faults` and `control`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from shitshovela_testkit.standin import Request, Response, StandInServer

from . import control, routes
from .auth import Authority, TrustedKey
from .config import (
    DEFAULT_MAILBOX,
    DEFAULT_TENANT_ID,
    AccessPolicy,
    MailboxConfig,
    Throttling,
)
from .faults import Faults
from .ids import Ids
from .levers import Levers
from .site import API_VERSION, Paging, Settings, Site
from .speccheck import SpecCheck
from .state import GraphState
from .throttle import Limits
from .tokens import SigningKey, default_key
from .wire import GraphRequest, GraphResponse, Reject, error

if TYPE_CHECKING:
    import httpx

__all__ = ["IMMUTABLE_IDS", "GraphEmulator"]

#: The header a client sends for ids that survive moves.
IMMUTABLE_IDS = 'IdType="ImmutableId"'


class GraphEmulator(StandInServer, Levers):
    """A stateful Microsoft Graph (mail) on ``http://127.0.0.1:<free port>/v1.0``.

    ``mailboxes``: UPNs or `MailboxConfig`s (default one, `DEFAULT_MAILBOX`).
    ``tenant_id``/``issuers``: whose tokens are accepted; ``signing_key``: the
    key of the tokens `make_token` makes (always trusted; one per process by
    default); ``trusted_keys``: more public keys, ``{kid: PEM}`` (a token endpoint
    stand-in's). ``policies``: application access policies. ``throttling``:
    Outlook's limits. ``paging``: ``"skip"`` (Graph's ``$skip`` links) or
    ``"skiptoken"``. ``clock``: seconds since the epoch (received times, token
    lifetimes, throttling windows). ``validate_spec``: the excerpt to check every
    exchange against (`graph_openapi()`). ``control=False`` turns the
    ``/_emulator/`` control API off.
    """

    server_name = "Microsoft-IIS/10.0"
    request_class = GraphRequest

    def __init__(
        self,
        *,
        mailboxes: Sequence[str | MailboxConfig] | None = None,
        tenant_id: str = DEFAULT_TENANT_ID,
        issuers: Iterable[str] | None = None,
        signing_key: SigningKey | None = None,
        trusted_keys: Mapping[str, str] | None = None,
        policies: Iterable[AccessPolicy] = (),
        throttling: Throttling | None = None,
        paging: Paging = "skip",
        page_size: int = 10,
        max_page_size: int = 1000,
        if_match: Literal["ignore", "enforce"] = "ignore",
        validate_spec: Path | str | None = None,
        clock: Callable[[], float] = time.time,
        control: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if paging not in ("skip", "skiptoken"):
            raise ValueError(f"paging is 'skip' or 'skiptoken', not {paging!r}")
        StandInServer.__init__(self, host=host, port=port)
        configs = [
            MailboxConfig(m) if isinstance(m, str) else m
            for m in (mailboxes if mailboxes is not None else [DEFAULT_MAILBOX])
        ]
        key = signing_key or default_key()
        trusted = [TrustedKey(key.public_pem, key.kid)]
        trusted += [TrustedKey(pem, kid) for kid, pem in (trusted_keys or {}).items()]
        Levers.__init__(
            self,
            site=Site(
                GraphState(configs, clock, Ids()),
                Settings(paging, page_size, max_page_size, if_match),
            ),
            authority=Authority(
                tenant_id=tenant_id,
                keys=trusted,
                clock=clock,
                issuers=list(issuers) if issuers is not None else None,
                policies=policies,
            ),
            limits=Limits(clock, throttling or Throttling()),
            faults=Faults(),
            spec=SpecCheck(validate_spec),
            signing_key=key,
        )
        self.control = control
        self.clock = clock

    def start(self) -> GraphEmulator:
        """Listen on a free port; the site learns its root."""
        StandInServer.start(self)
        self.site.base = self.url
        return self

    # ---------------------------------------------------------------- addresses
    @property
    def api_url(self) -> str:
        """The API root a client is given: ``http://127.0.0.1:PORT/v1.0``."""
        return self.url + API_VERSION

    def auth_headers(self, token: str | None = None) -> dict[str, str]:
        """``Authorization: Bearer <token>`` (a fresh `make_token` by default)."""
        return {"Authorization": f"Bearer {token or self.make_token()}"}

    def client(
        self, token: str | None = None, *, immutable_ids: bool = True, **kwargs: Any
    ) -> httpx.Client:
        """An httpx client on `api_url` with a token and, unless told otherwise,
        ``Prefer: IdType="ImmutableId"``. Paths are relative: ``c.get("users/…")``."""
        import httpx

        headers = dict(self.auth_headers(token))
        if immutable_ids:
            headers["Prefer"] = IMMUTABLE_IDS
        headers.update(kwargs.pop("headers", {}))
        kwargs.setdefault("timeout", 10.0)
        return httpx.Client(base_url=self.api_url + "/", headers=headers, **kwargs)

    # ------------------------------------------------------------------- serving
    def handle(self, request: Request) -> Response:
        """Route, check, authenticate, admit, count, fault, answer, check the answer."""
        assert isinstance(request, GraphRequest)
        req = request
        req.request_id = str(uuid.uuid4())
        req.client_request_id = req.headers.get("client-request-id", req.request_id)
        if self.control and req.path.startswith(control.PREFIX):
            return control.handle(self, req)
        if not (req.path == API_VERSION or req.path.startswith(API_VERSION + "/")):
            segment = req.path.strip("/").split("/")[0]
            return self._finish(req, error(400, "BadRequest", f"Invalid version: {segment}"))
        req.api_path = req.path[len(API_VERSION) :] or "/"
        found = routes.route(req)
        the_route, params, path = found if found is not None else (None, {}, req.api_path)
        if the_route is not None:
            req.operation = the_route.name
        checked, problems = self.spec.request(req, the_route, path)
        resp = self._answer(req, the_route, params, problems)
        if resp.drop:
            return resp
        resp = self._finish(req, resp)
        broken = self.spec.response(req, the_route, checked, resp)
        if broken:
            resp = self._finish(
                req,
                _loud(
                    f"the emulator's {resp.status} answer does not match the description",
                    broken,
                ),
            )
        return resp

    def _answer(
        self,
        req: GraphRequest,
        the_route: routes.Route | None,
        params: dict[str, str],
        problems: list[str],
    ) -> GraphResponse:
        caller = self.authority.authenticate(req)
        if isinstance(caller, GraphResponse):
            return caller
        req.caller = caller
        if the_route is None:
            last = req.api_path.rstrip("/").rsplit("/", 1)[-1]
            return error(400, "BadRequest", f"Resource not found for the segment '{last}'.")
        refused = self.authority.permits(caller, req.method)
        if refused is not None:
            return refused
        try:
            box = self.site.mailbox_for(params["user_id"])
        except Reject as rejected:
            return rejected.response
        refused = self.authority.admits(caller, box)
        if refused is not None:
            return refused
        refused = self.limits.enter(caller.app_id, box.object_id, req.method, len(req.body))
        if refused is not None:
            return refused
        try:
            if problems:
                return _loud("the request does not match Graph's OpenAPI description", problems)
            injected = self.faults.take_refusal()
            if injected is not None:
                resp = error(injected.status, injected.code, injected.message)
                if injected.retry_after is not None:
                    resp.headers["Retry-After"] = str(injected.retry_after)
                return resp
            delay = self.faults.take_delay()
            if delay > 0:
                time.sleep(delay)
            return self._handled(req, the_route, params)
        finally:
            self.limits.leave(caller.app_id, box.object_id)

    def _handled(
        self, req: GraphRequest, the_route: routes.Route, params: dict[str, str]
    ) -> GraphResponse:
        """The handler's answer, with a scheduled fault applied."""

        def answer() -> GraphResponse:
            with self.site.state.lock:
                try:
                    return routes.answer(self.site, req, the_route, params)
                except Reject as rejected:
                    return rejected.response

        return self.faults.apply(
            the_route.name,
            answer,
            failed=lambda: error(500, "UnknownError", "An internal server error occurred."),
            dropped=lambda: GraphResponse(0, drop=True),
        )

    def _finish(self, req: GraphRequest, resp: GraphResponse) -> GraphResponse:
        """Graph's ``innerError`` in an error body; ``Preference-Applied`` for immutable ids."""
        body = resp.body
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            body["error"].setdefault(
                "innerError",
                {
                    "date": datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": req.request_id,
                    "client-request-id": req.client_request_id,
                },
            )
        elif resp.status < 300 and req.immutable_ids:
            resp.headers["Preference-Applied"] = IMMUTABLE_IDS
        return resp

    def on_error(self, request: Request, error_: Exception) -> Response:
        """An emulator bug: answer 500 and record it, so that the test fails."""
        self.spec.record_crash(request, error_)
        return _loud("the emulator crashed", [repr(error_)])

    def extra_headers(self, request: Request, response: Response) -> dict[str, str]:
        """Graph's ``request-id`` and ``client-request-id`` on every answer."""
        if not isinstance(request, GraphRequest) or not request.request_id:
            return {}
        return {
            "request-id": request.request_id,
            "client-request-id": request.client_request_id,
            "Cache-Control": "private",
        }


def _loud(what: str, problems: Sequence[str]) -> GraphResponse:
    """500 naming what broke the description (never checked against it itself)."""
    resp = error(500, "GraphEmulatorViolation", f"Graph emulator: {what}: " + " | ".join(problems))
    resp.unchecked = True
    return resp
