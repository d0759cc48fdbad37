"""The OpenAPI checks: a client or the emulator breaking GitHub's description fails loudly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from shitshovela_github_emulator import NOT_IN_EXCERPT, ROUTES, GitHubEmulator, routes
from shitshovela_github_emulator.messages import GitHubResponse
from shitshovela_testkit.emulatorsuite import check_routes_documented, run_python

pytestmark = pytest.mark.servers

Factory = Callable[..., GitHubEmulator]

ROOT = Path(__file__).resolve().parents[1]
ISSUES = "/repos/acme/tickets/issues"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "fragment"),
    [
        ("POST", ISSUES, {"json": {"body": "no title"}}, "'title' is a required property"),
        ("POST", ISSUES, {"json": {"title": "x", "labels": "bug"}}, "labels"),
        ("POST", ISSUES, {"json": {"title": ["x"]}}, "title"),
        ("POST", ISSUES, {"content": b"{nope", "headers": {"Content-Type": "application/json"}},
         "deserialize"),
        ("GET", ISSUES, {"params": {"per_page": "lots"}}, "per_page"),
        ("GET", ISSUES, {"params": {"state": "bogus"}}, "state"),
        ("GET", ISSUES, {"params": {"direction": "up"}}, "direction"),
        ("GET", f"{ISSUES}/one", {}, "issue_number"),
        ("PATCH", f"{ISSUES}/1", {"json": {"state": "done"}}, "state"),
        ("POST", "/repos/acme/tickets/labels", {"json": {"color": "ff0000"}}, "name"),
        ("POST", f"{ISSUES}/1/comments", {"json": {}}, "body"),
    ],
)  # fmt: skip
def test_a_client_breaking_the_description_gets_500_and_a_recorded_violation(
    github: GitHubEmulator, method: str, path: str, kwargs: dict[str, Any], fragment: str
) -> None:
    github.seed_issue("existing")
    before = github.issues()
    with github.client() as c:
        r = c.request(method, path, **kwargs)
    assert r.status_code == 500
    assert r.headers["x-ratelimit-remaining"] == "4999"  # counted like any other request
    message = r.json()["message"]
    assert "does not match GitHub's OpenAPI description" in message and fragment in message
    (violation,) = github.violations
    assert violation.kind == "request" and fragment in violation.message
    assert violation.method == method and violation.path == path
    assert github.issues() == before  # nothing was changed
    with pytest.raises(AssertionError, match="do not match GitHub's OpenAPI description"):
        github.assert_no_violations()
    github.clear_violations()


def test_a_wrong_emulator_answer_is_500_and_a_recorded_violation(
    github: GitHubEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(site: Any, req: Any, **params: str) -> GitHubResponse:
        resp = original(site, req, **params)
        resp.body["number"] = "one"
        del resp.body["user"]
        return resp

    original = routes.HANDLERS["get_issue"]
    monkeypatch.setitem(routes.HANDLERS, "get_issue", broken)
    github.seed_issue("existing")
    with github.client() as c:
        r = c.get(f"{ISSUES}/1")
    assert r.status_code == 500
    assert "the emulator's 200 answer does not match" in r.json()["message"]
    messages = [v.message for v in github.violations]
    assert all(v.kind == "response" and v.operation == "issues/get" for v in github.violations)
    assert any("'user' is a required property" in m for m in messages)
    assert any("'one' is not of type 'integer'" in m for m in messages)
    github.clear_violations()


@pytest.mark.parametrize(
    ("status", "body", "fragment"),
    [
        (403, {"message": 42}, "42 is not of type 'string'"),  # undeclared: basic-error
        (422, {"errors": []}, "'message' is a required property"),  # validation-error
        (202, {"message": "accepted"}, "status 202 is not declared"),
    ],
)
def test_an_answer_with_an_undeclared_status_is_checked_against_github_s_error_shape(
    github: GitHubEmulator,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    body: dict[str, Any],
    fragment: str,
) -> None:
    monkeypatch.setitem(
        routes.HANDLERS, "remove_label", lambda site, req, **p: GitHubResponse(status, body)
    )
    with github.client() as c:
        r = c.delete(f"{ISSUES}/1/labels/flag")
    assert r.status_code == 500 and fragment in r.json()["message"]
    found = github.violations
    assert all(v.operation == "issues/remove-label" and v.status == status for v in found)
    assert any(fragment in v.message for v in found)
    github.clear_violations()


def test_an_emulator_crash_is_500_and_a_recorded_violation(
    github: GitHubEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(site: Any, req: Any, **params: str) -> GitHubResponse:
        raise RuntimeError("boom")

    monkeypatch.setitem(routes.HANDLERS, "get_repo", crash)
    with github.client() as c:
        r = c.get("/repos/acme/tickets")
    assert r.status_code == 500 and "boom" in r.json()["message"]
    (violation,) = github.violations
    assert violation.kind == "emulator" and "boom" in violation.message
    github.clear_violations()


def test_without_validation_nothing_is_recorded_and_github_s_own_checks_answer(
    make_github: Factory,
) -> None:
    github = make_github(validate_spec=None)
    with github.client() as c:
        bad_json = c.post(ISSUES, content=b"{nope", headers={"Content-Type": "application/json"})
        no_title = c.post(ISSUES, json={"body": "x"})
        not_an_object = c.post(ISSUES, json=["x"])
    assert bad_json.status_code == 400 and bad_json.json()["message"] == "Problems parsing JSON"
    assert no_title.status_code == 422
    assert no_title.json()["errors"][0]["code"] == "missing_field"
    assert not_an_object.status_code == 422
    assert github.violations == [] and github.unvalidated == []


# ---------------------------------------------------------------- what is (not) checked


def test_every_served_operation_is_in_the_excerpt_or_documented_as_unchecked(
    spec_path: Path,
) -> None:
    served = check_routes_documented(ROUTES, spec_path, ROOT / "README.md", NOT_IN_EXCERPT)
    assert served >= {f"{route.method} {route.template}" for route in ROUTES}


def test_every_answer_of_a_checked_operation_was_checked(github: GitHubEmulator) -> None:
    github.seed_issue("one", labels=["bug"])
    with github.client() as c:
        for path in (
            ISSUES,
            f"{ISSUES}/1",
            f"{ISSUES}/1/labels",
            f"{ISSUES}/1/comments",
            "/repos/acme/tickets",
            "/repos/acme/tickets/labels",
            "/repos/acme/tickets/labels/bug",
            "/user",
            "/rate_limit",
        ):
            assert c.get(path).status_code == 200, path
        assert c.get("/search/issues", params={"q": "x"}).status_code == 404
    assert github.unvalidated == ["GET /search/issues: no such operation in the emulator"]


def test_the_emulator_imports_and_runs_without_openapi_core_or_pyjwt() -> None:
    code = (
        "import sys; sys.modules['openapi_core'] = None; sys.modules['jwt'] = None\n"
        "from shitshovela_github_emulator import GitHubEmulator\n"
        "with GitHubEmulator() as gh, gh.client() as c:\n"
        "    r = c.post('/repos/acme/tickets/issues', json={'title': 'x'})\n"
        "    assert r.status_code == 201, r.text\n"
        "loaded = [m for m in ('openapi_core', 'jwt') if sys.modules.get(m) is not None]\n"
        "assert not loaded, loaded\n"
        "print('ok')\n"
    )
    out = run_python(code, pythonpath=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
