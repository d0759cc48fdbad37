"""A stateful GitHub (REST API, issues) on loopback for tests, checked against GitHub's OpenAPI.

    from shitshovela_github_emulator import GitHubEmulator, github_openapi

    with GitHubEmulator(repos=["acme/tickets"], validate_spec=github_openapi()) as gh:
        with gh.client() as c:
            c.post("/repos/acme/tickets/issues", json={"title": "Disk full", "labels": ["x"]})
        gh.assert_no_violations()

Importing this package imports neither openapi-core nor PyJWT; only
``validate_spec=...`` and the GitHub App flow do. `github_openapi()` finds the
excerpt in the repository's ``specs/`` folder (see `specfile`).

Modules, one concern each: ``server`` (the emulator: the request pipeline and the
test-facing API, on the testkit's stand-in server), ``routes`` (operations to
handlers), ``auth`` (tokens and callers), ``app`` (the GitHub App flow: JWTs and
installation tokens), ``ratelimit`` (primary and secondary limits), ``speccheck``
(the OpenAPI checks, on the testkit's ``openapicheck`` and ``specfindings``),
``issues``, ``labels``, ``listing`` and ``meta`` (the handlers), ``render``
(GitHub's JSON shapes), ``state`` (repositories, issues, the lagging listing),
``site`` (what a handler works on), ``faults`` (on the testkit's ``faultscript``)
and ``control`` (the test's levers, in Python and over HTTP), ``config`` (what a
test configures), ``messages`` (requests, answers, error bodies), ``specfile``.
"""

from shitshovela_testkit.standin import RecordedRequest

from .app import generate_app_key, make_app_jwt
from .config import (
    DEFAULT_LABELS,
    AppConfig,
    InstallationConfig,
    LabelSpec,
    RepoConfig,
    TokenConfig,
)
from .faults import FAULT_MODES, Faults
from .routes import NOT_IN_EXCERPT, ROUTES, Route
from .server import DEFAULT_TOKEN, GitHubEmulator
from .speccheck import Violation
from .specfile import github_openapi
from .state import CommentRecord, IssueRecord, LabelRecord

__all__ = [
    "DEFAULT_LABELS",
    "DEFAULT_TOKEN",
    "FAULT_MODES",
    "NOT_IN_EXCERPT",
    "ROUTES",
    "AppConfig",
    "CommentRecord",
    "Faults",
    "GitHubEmulator",
    "InstallationConfig",
    "IssueRecord",
    "LabelRecord",
    "LabelSpec",
    "RecordedRequest",
    "RepoConfig",
    "Route",
    "TokenConfig",
    "Violation",
    "generate_app_key",
    "github_openapi",
    "make_app_jwt",
]
