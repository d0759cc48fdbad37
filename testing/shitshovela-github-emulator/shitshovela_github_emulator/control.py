"""The control API: the test's levers over HTTP, under ``/_emulator/`` (never a GitHub path).

For a test whose emulator runs in another process (or a shell script): every
lever of the Python API has a call here. No authentication, no rate limit, no
OpenAPI check; bodies and answers are JSON.

=========  =====================================  ==========================================
method     path                                   what
=========  =====================================  ==========================================
GET        /_emulator/issues?repo=o/r             every issue and pull request, current state
POST       /_emulator/repos/{o}/{r}/issues        seed an issue: ``title``, ``body``, ``labels``,
                                                  ``user``, ``listed`` (default true)
POST       /_emulator/repos/{o}/{r}/pulls         a pull request (takes the next issue number)
POST       /_emulator/faults                      ``{"operation", "mode", "times"}``
POST       /_emulator/faults/throttle             ``{"requests", "status", "retry_after", "kind"}``
POST       /_emulator/faults/unavailable          ``{"requests", "retry_after"}``
POST       /_emulator/faults/slow                 ``{"requests", "seconds"}``
DELETE     /_emulator/faults                      clear every scheduled fault
GET, PUT   /_emulator/listing                     ``{"lag": seconds, "frozen": bool}``
PUT        /_emulator/settings                    ``{"unknown_labels": "create" | "refuse"}``
PUT        /_emulator/tokens/{token}              a token's `TokenConfig` fields (add/replace)
DELETE     /_emulator/tokens/{token}              revoke it
POST       /_emulator/tokens/{token}/exhaust      use up its primary quota
GET        /_emulator/violations                  ``{"violations": [...], "unvalidated": [...]}``
DELETE     /_emulator/violations                  forget them
=========  =====================================  ==========================================

A bad call is answered 400 with ``{"message": ...}``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote

from .config import TokenConfig
from .messages import GitHubRequest, GitHubResponse, Reject, json_body

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .faults import Faults
    from .site import Site, UnknownLabels
    from .speccheck import Violation
    from .state import IssueRecord


class GitHubEmulator(Protocol):
    """What the control levers use of the emulator (`server.GitHubEmulator` is it;
    a protocol here keeps this module from importing the server that imports it)."""

    site: Site
    listing_lag: float
    unknown_labels: UnknownLabels

    @property
    def faults(self) -> Faults: ...
    @property
    def violations(self) -> list[Violation]: ...
    @property
    def unvalidated(self) -> list[str]: ...
    def clear_violations(self) -> None: ...
    def freeze_listing(self) -> None: ...
    def thaw_listing(self) -> None: ...
    def set_token(self, token: str, config: TokenConfig | None) -> None: ...
    def exhaust_rate_limit(self, token: str | None = None) -> None: ...
    def issues(self, repo: str | None = None) -> list[IssueRecord]: ...
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
    ) -> IssueRecord: ...


__all__ = ["PREFIX", "handle"]

PREFIX = "/_emulator/"

Lever = Callable[["GitHubEmulator", GitHubRequest, dict[str, str]], GitHubResponse]


def _bad(message: str) -> GitHubResponse:
    return GitHubResponse(400, {"message": message})


def _ok(body: Any = None) -> GitHubResponse:
    return GitHubResponse(200, body if body is not None else {"ok": True})


def _record(rec: Any) -> dict[str, Any]:
    out: dict[str, Any] = dataclasses.asdict(rec)
    return out


def _body(req: GitHubRequest) -> dict[str, Any]:
    body = json_body(req, required=False)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise Reject(_bad("the body must be a JSON object"))
    return body


def _issues(emu: GitHubEmulator, req: GitHubRequest, p: dict[str, str]) -> GitHubResponse:
    return _ok({"issues": [_record(r) for r in emu.issues(req.q1("repo"))]})


def _seed(emu: GitHubEmulator, req: GitHubRequest, p: dict[str, str]) -> GitHubResponse:
    body = _body(req)
    rec = emu.seed_issue(
        str(body.get("title", "Seeded issue")),
        repo=f"{p['owner']}/{p['repo']}",
        body=body.get("body"),
        labels=list(body.get("labels", [])),
        user=str(body.get("user", "octocat")),
        listed=bool(body.get("listed", True)),
        pull_request=p["kind"] == "pulls",
    )
    return GitHubResponse(201, _record(rec))


def _fault(emu: GitHubEmulator, req: GitHubRequest, p: dict[str, str]) -> GitHubResponse:
    body = _body(req)
    emu.faults.fail_next(str(body["operation"]), str(body["mode"]), int(body.get("times", 1)))
    return _ok()


def _throttle(emu: GitHubEmulator, req: GitHubRequest, p: dict[str, str]) -> GitHubResponse:
    body = _body(req)
    emu.faults.throttle(
        int(body.get("requests", 1)),
        status=int(body.get("status", 403)),
        retry_after=body.get("retry_after", 60),
        kind=body.get("kind", "secondary"),
    )
    return _ok()


def _unavailable(emu: GitHubEmulator, req: GitHubRequest, p: dict[str, str]) -> GitHubResponse:
    body = _body(req)
    emu.faults.unavailable(int(body.get("requests", 1)), body.get("retry_after"))
    return _ok()


def _slow(emu: GitHubEmulator, req: GitHubRequest, p: dict[str, str]) -> GitHubResponse:
    body = _body(req)
    emu.faults.slow(int(body.get("requests", 1)), float(body["seconds"]))
    return _ok()


def _clear_faults(emu: GitHubEmulator, req: GitHubRequest, p: dict[str, str]) -> GitHubResponse:
    emu.faults.clear()
    return _ok()


def _listing(emu: GitHubEmulator, req: GitHubRequest, p: dict[str, str]) -> GitHubResponse:
    if req.method == "PUT":
        body = _body(req)
        if "lag" in body:
            emu.listing_lag = float(body["lag"])
        if body.get("frozen") is True:
            emu.freeze_listing()
        elif body.get("frozen") is False:
            emu.thaw_listing()
    return _ok({"lag": emu.listing_lag, "frozen": emu.site.state.listing_frozen})


def _settings(emu: GitHubEmulator, req: GitHubRequest, p: dict[str, str]) -> GitHubResponse:
    body = _body(req)
    if "unknown_labels" in body:
        emu.unknown_labels = body["unknown_labels"]
    return _ok({"unknown_labels": emu.unknown_labels})


def _token(emu: GitHubEmulator, req: GitHubRequest, p: dict[str, str]) -> GitHubResponse:
    token = p["token"]
    if req.method == "DELETE":
        emu.set_token(token, None)
        return _ok()
    fields = {f.name for f in dataclasses.fields(TokenConfig)}
    body = _body(req)
    unknown = sorted(set(body) - fields)
    if unknown:
        return _bad(f"unknown token settings {unknown}; known: {sorted(fields)}")
    emu.set_token(token, TokenConfig(**body))
    return _ok()


def _exhaust(emu: GitHubEmulator, req: GitHubRequest, p: dict[str, str]) -> GitHubResponse:
    emu.exhaust_rate_limit(p["token"])
    return _ok()


def _violations(emu: GitHubEmulator, req: GitHubRequest, p: dict[str, str]) -> GitHubResponse:
    if req.method == "DELETE":
        emu.clear_violations()
        return _ok()
    return _ok({"violations": [str(v) for v in emu.violations], "unvalidated": emu.unvalidated})


_LEVERS: tuple[tuple[frozenset[str], re.Pattern[str], Lever], ...] = tuple(
    (frozenset(methods.split()), re.compile(f"^{PREFIX}{pattern}$"), lever)
    for methods, pattern, lever in (
        ("GET", r"issues", _issues),
        ("POST", r"repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/(?P<kind>issues|pulls)", _seed),
        ("POST", r"faults", _fault),
        ("POST", r"faults/throttle", _throttle),
        ("POST", r"faults/unavailable", _unavailable),
        ("POST", r"faults/slow", _slow),
        ("DELETE", r"faults", _clear_faults),
        ("GET PUT", r"listing", _listing),
        ("PUT", r"settings", _settings),
        ("PUT DELETE", r"tokens/(?P<token>[^/]+)", _token),
        ("POST", r"tokens/(?P<token>[^/]+)/exhaust", _exhaust),
        ("GET DELETE", r"violations", _violations),
    )
)


def handle(emu: GitHubEmulator, req: GitHubRequest) -> GitHubResponse:
    """Answer a control call."""
    for methods, pattern, lever in _LEVERS:
        m = pattern.match(req.raw_path)
        if m is not None and req.method in methods:
            params = {k: unquote(v) for k, v in m.groupdict().items()}
            try:
                return lever(emu, req, params)
            except Reject as rejected:
                return rejected.response
            except (KeyError, TypeError, ValueError) as exc:
                return _bad(f"{type(exc).__name__}: {exc}")
    return GitHubResponse(404, {"message": f"no control call {req.method} {req.path}"})
