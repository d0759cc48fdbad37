"""Who may call: tokens, the repository's permissions, ``GET /user``, the GitHub App flow."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from shitshovela_github_emulator import (
    DEFAULT_TOKEN,
    AppConfig,
    GitHubEmulator,
    InstallationConfig,
    TokenConfig,
    generate_app_key,
    make_app_jwt,
)
from shitshovela_github_emulator.render import iso
from shitshovela_testkit.clock import ManualClock

pytestmark = pytest.mark.servers

Factory = Callable[..., GitHubEmulator]

APP_ID = 424242
INSTALLATION = 77


@pytest.fixture(scope="module")
def app_key() -> tuple[str, str]:
    """(private PEM, public PEM) of the test app."""
    return generate_app_key()


@pytest.fixture
def app_github(
    make_github: Factory, app_key: tuple[str, str], clock: ManualClock
) -> GitHubEmulator:
    return make_github(
        repos=["acme/tickets", "acme/other", "elsewhere/repo"],
        clock=clock,
        app=AppConfig(
            app_id=APP_ID,
            public_key_pem=app_key[1],
            installations={
                INSTALLATION: ["acme/tickets", "acme/other"],
                78: InstallationConfig(["elsewhere/repo"], permissions={"issues": "read"}),
            },
        ),
    )


def jwt_client(github: GitHubEmulator, token: str) -> httpx.Client:
    return httpx.Client(base_url=github.api_url, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("scheme", ["Bearer", "token", "bearer"])
def test_bearer_or_token_scheme(github: GitHubEmulator, scheme: str) -> None:
    r = httpx.get(f"{github.url}/user", headers={"Authorization": f"{scheme} {DEFAULT_TOKEN}"})
    assert r.status_code == 200 and r.json()["login"] == "ticket-bot"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "Requires authentication"),
        ("Bearer ghp_wrong", "Bad credentials"),
        (f"Basic {DEFAULT_TOKEN}", "Bad credentials"),
        ("Bearer", "Bad credentials"),
    ],
)
def test_missing_or_bad_credentials_are_401(
    github: GitHubEmulator, header: str | None, message: str
) -> None:
    headers = {"Authorization": header} if header else {}
    r = httpx.post(f"{github.url}/repos/acme/tickets/issues", json={"title": "x"}, headers=headers)
    assert r.status_code == 401
    body = r.json()
    assert body["message"] == message and body["status"] == "401"
    assert body["documentation_url"].startswith("https://docs.github.com/rest")
    assert github.issues() == []


def test_a_revoked_token_is_401(github: GitHubEmulator) -> None:
    with github.client() as c:
        assert c.get("/user").status_code == 200
        github.set_token(DEFAULT_TOKEN, None)
        assert c.get("/user").status_code == 401


def test_user_names_the_token_s_owner_with_its_scopes(make_github: Factory) -> None:
    github = make_github(
        tokens={
            "ghp_c": TokenConfig("bot-classic", scopes="repo, workflow"),
            "github_pat_f": TokenConfig("bot-fine", kind="fine_grained"),
        }
    )
    with github.client("ghp_c") as c:
        r = c.get("/user")
    assert r.json()["login"] == "bot-classic" and r.json()["type"] == "User"
    assert r.headers["X-OAuth-Scopes"] == "repo, workflow"
    with github.client("github_pat_f") as c:
        r = c.get("/user")
    assert r.json()["login"] == "bot-fine" and "X-OAuth-Scopes" not in r.headers


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (TokenConfig(), {"admin": False, "maintain": False, "push": True, "triage": True}),
        (TokenConfig(push=False), {"admin": False, "maintain": False, "push": False}),
        (TokenConfig(admin=True, push=False), {"admin": True, "push": True}),
    ],
)
def test_repository_permissions_per_token(
    make_github: Factory, config: TokenConfig, expected: dict[str, bool]
) -> None:
    github = make_github(tokens={"ghp_t": config})
    with github.client() as c:
        repo = c.get("/repos/acme/tickets").json()
    assert repo["full_name"] == "acme/tickets" and repo["private"] is True
    assert repo["permissions"]["pull"] is True
    assert {k: repo["permissions"][k] for k in expected} == expected


def test_a_token_sees_only_its_repositories(make_github: Factory) -> None:
    github = make_github(
        repos=["acme/tickets", "acme/secret"],
        tokens={"ghp_t": TokenConfig(repos=["acme/tickets"])},
    )
    with github.client() as c:
        assert c.get("/repos/acme/tickets").status_code == 200
        assert c.get("/repos/acme/secret").status_code == 404
        assert c.post("/repos/acme/secret/issues", json={"title": "x"}).status_code == 404


def test_enterprise_server_serves_under_api_v3(make_github: Factory) -> None:
    github = make_github(enterprise=True)
    assert github.api_url == f"{github.url}/api/v3"
    with github.client() as c:
        r = c.post("/repos/acme/tickets/issues", json={"title": "x"})
        assert r.status_code == 201
        assert r.json()["url"] == f"{github.url}/api/v3/repos/acme/tickets/issues/1"
        assert r.json()["html_url"] == f"{github.url}/acme/tickets/issues/1"
        assert r.headers["X-GitHub-Enterprise-Version"]
    r = httpx.get(f"{github.url}/repos/acme/tickets", headers=github.auth_headers())
    assert r.status_code == 404


# ------------------------------------------------------------------ the GitHub App flow


def test_app_jwt_finds_the_installation_and_mints_a_token(
    app_github: GitHubEmulator, app_key: tuple[str, str], clock: ManualClock
) -> None:
    jwt = make_app_jwt(app_key[0], APP_ID, now=clock())
    with jwt_client(app_github, jwt) as c:
        assert c.get("/app").json()["id"] == APP_ID
        found = c.get("/repos/acme/tickets/installation")
        assert found.status_code == 200
        assert found.json()["id"] == INSTALLATION and found.json()["app_id"] == APP_ID
        assert c.get("/repos/acme/nope/installation").status_code == 404
        minted = c.post(found.json()["access_tokens_url"].removeprefix(app_github.api_url))
    assert minted.status_code == 201
    token = minted.json()["token"]
    assert token.startswith("ghs_")
    assert minted.json()["expires_at"] == iso(clock() + 3600)
    assert minted.json()["permissions"] == {"issues": "write", "metadata": "read"}
    with app_github.client(token) as c:
        made = c.post("/repos/acme/tickets/issues", json={"title": "x", "labels": ["flag"]})
        assert made.status_code == 201
        assert made.json()["user"]["login"] == "shitshovela-bot[bot]"
        assert made.json()["user"]["type"] == "Bot"
        assert [x["name"] for x in made.json()["labels"]] == ["flag"]
        assert c.get("/repos/acme/tickets").json()["permissions"]["push"] is True
        assert c.get("/repos/acme/other").status_code == 200
        assert c.get("/repos/elsewhere/repo").status_code == 404  # not installed there
        user = c.get("/user")
    assert user.status_code == 403
    assert user.json()["message"] == "Resource not accessible by integration"
    assert any("POST /app/installations/77/access_tokens" in u for u in app_github.unvalidated)


def test_an_installation_token_expires_after_an_hour(
    app_github: GitHubEmulator, app_key: tuple[str, str], clock: ManualClock
) -> None:
    with jwt_client(app_github, make_app_jwt(app_key[0], APP_ID, now=clock())) as c:
        token = c.post(f"/app/installations/{INSTALLATION}/access_tokens").json()["token"]
    with app_github.client(token) as c:
        clock.advance(3599)
        assert c.get("/repos/acme/tickets").status_code == 200
        clock.advance(1)
        r = c.get("/repos/acme/tickets")
    assert r.status_code == 401 and r.json()["message"] == "Bad credentials"


def test_a_token_narrowed_to_some_repositories(
    app_github: GitHubEmulator, app_key: tuple[str, str], clock: ManualClock
) -> None:
    with jwt_client(app_github, make_app_jwt(app_key[0], APP_ID, now=clock())) as c:
        r = c.post(
            f"/app/installations/{INSTALLATION}/access_tokens", json={"repositories": ["tickets"]}
        )
        assert [x["full_name"] for x in r.json()["repositories"]] == ["acme/tickets"]
        bad = c.post(
            f"/app/installations/{INSTALLATION}/access_tokens", json={"repositories": ["nope"]}
        )
        assert bad.status_code == 422
        assert c.post("/app/installations/999/access_tokens").status_code == 404
    with app_github.client(r.json()["token"]) as c:
        assert c.get("/repos/acme/tickets").status_code == 200
        assert c.get("/repos/acme/other").status_code == 404


def test_an_installation_without_issues_write_has_its_labels_dropped(
    app_github: GitHubEmulator, app_key: tuple[str, str], clock: ManualClock
) -> None:
    with jwt_client(app_github, make_app_jwt(app_key[0], APP_ID, now=clock())) as c:
        token = c.post("/app/installations/78/access_tokens").json()["token"]
    with app_github.client(token) as c:
        assert c.get("/repos/elsewhere/repo").json()["permissions"]["push"] is False
        made = c.post("/repos/elsewhere/repo/issues", json={"title": "x", "labels": ["flag"]})
    assert made.status_code == 201 and made.json()["labels"] == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda key, now: "ghp_not_a_jwt", "A JSON web token could not be decoded"),
        (lambda key, now: make_app_jwt(generate_app_key()[0], APP_ID, now=now), "could not be"),
        (lambda key, now: make_app_jwt(key, APP_ID, now=now - 700), "('exp') must be"),
        (lambda key, now: make_app_jwt(key, APP_ID, now=now, lifetime=900), "too far"),
        (lambda key, now: make_app_jwt(key, APP_ID, now=now + 120), "('iat')"),
        (lambda key, now: make_app_jwt(key, 1, now=now), "Integration not found"),
        (lambda key, now: make_app_jwt(key, APP_ID, now=now, algorithm="RS512"), "could not be"),
    ],
    ids=["not-a-jwt", "other-key", "expired", "exp-too-far", "iat-ahead", "wrong-iss", "rs512"],
)
def test_a_bad_app_jwt_is_401(
    app_github: GitHubEmulator,
    app_key: tuple[str, str],
    clock: ManualClock,
    make: Callable[[str, float], str],
    message: str,
) -> None:
    with jwt_client(app_github, make(app_key[0], clock())) as c:
        r = c.post(f"/app/installations/{INSTALLATION}/access_tokens")
    assert r.status_code == 401
    assert message in r.json()["message"]


def test_the_app_s_client_id_is_a_valid_issuer(
    app_github: GitHubEmulator, app_key: tuple[str, str], clock: ManualClock
) -> None:
    client_id = AppConfig(app_id=1, public_key_pem="").client_id
    with jwt_client(app_github, make_app_jwt(app_key[0], client_id, now=clock())) as c:
        assert c.get("/repos/acme/tickets/installation").status_code == 200


def test_a_jwt_is_not_a_token_and_a_token_is_not_a_jwt(
    app_github: GitHubEmulator, app_key: tuple[str, str], clock: ManualClock
) -> None:
    jwt = make_app_jwt(app_key[0], APP_ID, now=clock())
    with jwt_client(app_github, jwt) as c:
        assert c.get("/repos/acme/tickets").status_code == 401
    with app_github.client(DEFAULT_TOKEN) as c:
        assert c.get("/repos/acme/tickets/installation").status_code == 401


def test_without_an_app_every_jwt_is_refused(
    github: GitHubEmulator, app_key: tuple[str, str]
) -> None:
    with jwt_client(github, make_app_jwt(app_key[0], APP_ID)) as c:
        assert c.get("/app").status_code == 401
