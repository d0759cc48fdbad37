"""Authentication as teams deploy bots: a GitHub App's JWT exchanged for installation
tokens (minted per run, renewed before they expire, found from the repository),
its bot as the author the job recognises, and clear stops for every way the setup
can be wrong; GitHub Enterprise Server by its API root."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from ghkit import REPO, make_tickets, wall_clock
from shitshovela_github.tickets import GitHubTickets
from shitshovela_github_emulator import (
    AppConfig,
    GitHubEmulator,
    InstallationConfig,
    generate_app_key,
)
from shitshovela_testkit.clock import ManualClock

from shitshovela_core import Flag, Origin, SetupError, TicketDraft, Unreachable
from shitshovela_core.deadline import Budget

pytestmark = pytest.mark.servers

Start = Callable[..., GitHubEmulator]
FLAG = Flag("a")
ORIGIN = Origin("imap", "imap://ops@mail/INBOX", "4711", "77", "sha256:abc")
DRAFT = TicketDraft(title="Disk full", body="on db1")
APP_ID = 4242
INSTALLATION = 77
BOT = "shitshovela-bot[bot]"


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    """(private, public) PEM of the App's key."""
    return generate_app_key()


def app(public: str, **installation: Any) -> AppConfig:
    repos = installation.pop("repos", [REPO])
    return AppConfig(
        app_id=APP_ID,
        public_key_pem=public,
        installations={INSTALLATION: InstallationConfig(repos, **installation)},
    )


def app_tickets(
    gh: GitHubEmulator,
    private: str,
    *,
    clock: ManualClock | None = None,
    wall: Callable[[], float] | None = None,
    **settings: Any,
) -> GitHubTickets:
    """A provider authenticating as the App; its budget on ``clock`` if given, its
    JWTs signed at ``wall`` time (the clock's wall time by default)."""
    values = {"TOKEN": "", "APP_ID": str(APP_ID), "APP_PRIVATE_KEY": private, **settings}
    if clock is None:
        return make_tickets(gh, "a", wall=wall, **values)
    budget = Budget(7200.0, started=clock(), clock=clock, sleep=clock.sleep)
    return make_tickets(gh, "a", budget=budget, wall=wall or wall_clock(clock), **values)


def paths(gh: GitHubEmulator) -> list[tuple[str, str, int | None]]:
    return [(r.method, r.path, r.status) for r in gh.requests]


def minted(gh: GitHubEmulator) -> list[Any]:
    return [
        r
        for r in gh.requests
        if (r.method, r.path) == ("POST", f"/app/installations/{INSTALLATION}/access_tokens")
    ]


def test_an_app_creates_as_its_bot_with_a_token_for_the_one_repository(
    start_github: Start, keys: tuple[str, str]
) -> None:
    private, public = keys
    gh = start_github(app=app(public, repos=[REPO, "acme/other"]))
    tickets = app_tickets(gh, private)
    ticket = tickets.create(DRAFT, FLAG, ORIGIN)
    assert gh.issue(1).user == BOT and ticket.by_job is True
    assert [t.by_job for t in tickets.flagged(FLAG)] == [True]
    (mint,) = minted(gh)
    assert json.loads(mint.body) == {"repositories": ["tickets"]}
    assert ("GET", f"/repos/{REPO}/installation", 200) in paths(gh)
    assert ("GET", "/app", 200) in paths(gh)
    assert all(path != "/user" for _, path, _ in paths(gh)), "an App has no /user"


def test_a_configured_installation_is_not_looked_up(
    start_github: Start, keys: tuple[str, str]
) -> None:
    private, public = keys
    gh = start_github(app=app(public))
    app_tickets(gh, private, INSTALLATION_ID=str(INSTALLATION)).create(DRAFT, FLAG, ORIGIN)
    assert all(path != f"/repos/{REPO}/installation" for _, path, _ in paths(gh))
    assert len(minted(gh)) == 1


def test_a_key_written_on_one_line_works(start_github: Start, keys: tuple[str, str]) -> None:
    private, public = keys
    gh = start_github(app=app(public))
    one_line = private.strip().replace("\n", "\\n")
    app_tickets(gh, one_line).create(DRAFT, FLAG, ORIGIN)
    assert gh.issue(1).user == BOT


def authorizations(gh: GitHubEmulator) -> Iterator[str]:
    for request in gh.requests:
        if request.path.startswith(f"/repos/{REPO}/issues"):
            yield request.headers.get("Authorization", request.headers.get("authorization", ""))


def test_the_installation_token_is_renewed_before_it_expires(
    start_github: Start, keys: tuple[str, str]
) -> None:
    """A run longer than the token's hour mints a new one a few minutes before the old
    one expires, so GitHub never refuses it."""
    private, public = keys
    clock = ManualClock()
    gh = start_github(app=app(public), clock=wall_clock(clock))
    tickets = app_tickets(gh, private, clock=clock)
    tickets.create(DRAFT, FLAG, ORIGIN)
    clock.advance(3000.0)  # 10 minutes left: still good
    tickets.create(DRAFT, FLAG, ORIGIN)
    assert len(minted(gh)) == 1
    clock.advance(400.0)  # under five minutes left: renew first
    tickets.create(DRAFT, FLAG, ORIGIN)
    assert len(minted(gh)) == 2
    used = list(authorizations(gh))
    assert len(set(used)) == 2 and used[-1] != used[0]
    assert all(r.status != 401 for r in gh.requests)


def test_a_token_github_refuses_is_replaced_once(
    start_github: Start, keys: tuple[str, str]
) -> None:
    """GitHub's clock says the token expired while the job's says it has time left:
    the 401 is answered with one new token and the request is sent once more."""
    private, public = keys
    github_time = ManualClock()
    gh = start_github(app=app(public), clock=wall_clock(github_time))
    tickets = app_tickets(gh, private, wall=wall_clock(github_time))  # JWTs on time
    tickets.create(DRAFT, FLAG, ORIGIN)
    github_time.advance(3700.0)
    ticket = tickets.create(DRAFT, FLAG, ORIGIN)
    assert ticket.key == f"{REPO}#2"
    statuses = [r.status for r in gh.requests if r.path == f"/repos/{REPO}/issues"]
    assert statuses == [201, 401, 201]
    assert len(minted(gh)) == 2


def test_an_app_not_installed_on_the_repository_is_a_clear_stop(
    start_github: Start, keys: tuple[str, str]
) -> None:
    private, public = keys
    gh = start_github(app=app(public, repos=["acme/other"]))
    with pytest.raises(Unreachable, match=f"not installed on {REPO}"):
        app_tickets(gh, private).check(FLAG)
    assert gh.issues() == []


def test_a_wrong_key_is_refused_naming_the_app_settings(
    start_github: Start, keys: tuple[str, str]
) -> None:
    _, public = keys
    other_private, _ = generate_app_key()
    gh = start_github(app=app(public))
    with pytest.raises(Unreachable) as refused:
        app_tickets(gh, other_private).check(FLAG)
    message = str(refused.value)
    assert "SHITSHOVELA_GITHUB__APP_ID" in message
    assert "SHITSHOVELA_GITHUB__APP_PRIVATE_KEY" in message
    assert "PRIVATE KEY" not in message and "eyJ" not in message


def test_an_installation_without_issues_write_is_a_setup_error(
    start_github: Start, keys: tuple[str, str]
) -> None:
    private, public = keys
    gh = start_github(app=app(public, permissions={"issues": "read", "metadata": "read"}))
    with pytest.raises(SetupError, match=rf"{BOT.replace('[', '.').replace(']', '.')} has no push"):
        app_tickets(gh, private).check(FLAG)


def test_enterprise_server_is_reached_by_its_api_root(start_github: Start) -> None:
    gh = start_github(enterprise=True)
    assert gh.api_url.endswith("/api/v3")
    tickets = make_tickets(gh, "a")
    tickets.check(FLAG)
    ticket = tickets.create(DRAFT, FLAG, ORIGIN)
    assert [t.key for t in tickets.flagged(FLAG)] == [ticket.key]
    assert all(r.path.startswith("/api/v3/") for r in gh.requests)
