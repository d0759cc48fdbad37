"""Issues: create, read, update, labels on create, limits, pull request numbers, comments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from shitshovela_github_emulator import GitHubEmulator, RepoConfig, TokenConfig

pytestmark = pytest.mark.servers

Factory = Callable[..., GitHubEmulator]

ISSUES = "/repos/acme/tickets/issues"
FLAG = "shitshovela-inprogress-alerts"


def create(c: httpx.Client, title: str = "Disk full on db1", **fields: Any) -> httpx.Response:
    return c.post(ISSUES, json={"title": title, **fields})


def test_create_then_get_by_number(github: GitHubEmulator) -> None:
    with github.client() as c:
        r = create(c, body="The disk is full.", labels=[FLAG, "bug"])
        assert r.status_code == 201, r.text
        made = r.json()
        assert made["number"] == 1 and made["state"] == "open"
        assert [label["name"] for label in made["labels"]] == [FLAG, "bug"]
        assert made["user"]["login"] == "ticket-bot"
        assert r.headers["Location"] == f"{github.url}{ISSUES}/1"
        got = c.get(f"{ISSUES}/1").json()
    assert got["title"] == "Disk full on db1" and got["body"] == "The disk is full."
    assert got["closed_by"] is None and "pull_request" not in got
    assert got["html_url"] == f"{github.url}/acme/tickets/issues/1"
    (rec,) = github.issues()
    assert rec.labels == (FLAG, "bug") and rec.user == "ticket-bot"


def test_an_integer_title_is_taken_as_text(github: GitHubEmulator) -> None:
    with github.client() as c:
        assert create(c, title=42).json()["title"] == "42"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "limit"),
    [("title", 256), ("body", 65536)],
)
def test_title_and_body_over_the_limit_are_422(
    github: GitHubEmulator, field: str, limit: int
) -> None:
    fields = {"title": "T", "body": "B"}
    with github.client() as c:
        fields[field] = "é" * limit  # characters, not bytes
        assert c.post(ISSUES, json=fields).status_code == 201
        fields[field] = "x" * (limit + 1)
        r = c.post(ISSUES, json=fields)
    assert r.status_code == 422
    assert r.json()["message"] == "Validation Failed"
    (problem,) = r.json()["errors"]
    assert problem == {
        "resource": "Issue",
        "code": "custom",
        "field": field,
        "message": f"{field} is too long (maximum is {limit} characters)",
    }
    assert len(github.issues()) == 1  # the refused one was not made


def test_an_empty_title_is_422_missing_field(github: GitHubEmulator) -> None:
    with github.client() as c:
        r = create(c, title="  ")
    assert r.status_code == 422
    assert r.json()["errors"] == [{"resource": "Issue", "code": "missing_field", "field": "title"}]


def test_labels_are_silently_dropped_without_push_access(make_github: Factory) -> None:
    github = make_github(
        tokens={"ghp_writer": TokenConfig(), "ghp_reader": TokenConfig("reader", push=False)}
    )
    with github.client("ghp_reader") as c:
        r = create(c, labels=[FLAG, "bug"])
    assert r.status_code == 201  # made all the same, as GitHub does
    assert r.json()["labels"] == []
    assert github.issue(1).labels == () and github.issue(1).user == "reader"
    assert FLAG not in {label.name for label in github.labels()}  # and no label was made
    with github.client("ghp_writer") as c:
        assert [x["name"] for x in create(c, labels=[FLAG]).json()["labels"]] == [FLAG]


def test_unknown_labels_are_created_grey_by_default(github: GitHubEmulator) -> None:
    with github.client() as c:
        assert create(c, labels=[FLAG]).status_code == 201
        label = c.get(f"/repos/acme/tickets/labels/{FLAG}").json()
    assert label["color"] == "ededed" and label["default"] is False


@pytest.mark.parametrize("status", [403, 422])
def test_unknown_labels_can_be_refused(make_github: Factory, status: int) -> None:
    github = make_github(unknown_labels="refuse", refused_label_status=status)
    with github.client() as c:
        r = create(c, labels=["bug", FLAG])
        assert r.status_code == status
        assert FLAG in r.json()["message"]
        assert github.issues() == []
        assert create(c, labels=["BUG"]).json()["labels"][0]["name"] == "bug"  # known: fine
    github.unknown_labels = "create"
    with github.client() as c:
        assert create(c, labels=[FLAG]).status_code == 201


def test_label_names_are_matched_ignoring_case(github: GitHubEmulator) -> None:
    with github.client() as c:
        made = create(c, labels=["Bug", "BUG", {"name": "question"}]).json()
    assert [label["name"] for label in made["labels"]] == ["bug", "question"]


def test_issue_numbers_are_shared_with_pull_requests(make_github: Factory) -> None:
    github = make_github(repos=["acme/tickets", "acme/other"])
    pr = github.add_pull_request("Fix the build", repo="acme/tickets")
    assert pr.number == 1
    with github.client() as c:
        assert create(c).json()["number"] == 2
        github.add_pull_request(repo="acme/tickets")
        assert create(c).json()["number"] == 4
        assert c.post("/repos/acme/other/issues", json={"title": "x"}).json()["number"] == 1
        got = c.get(f"{ISSUES}/1").json()
        assert got["pull_request"]["url"] == f"{github.url}/repos/acme/tickets/pulls/1"
        assert got["html_url"] == f"{github.url}/acme/tickets/pull/1"
        assert "pull_request" not in c.get(f"{ISSUES}/2").json()
        r = c.get(f"{ISSUES}/5")
    assert r.status_code == 404
    assert r.json()["message"] == "Not Found"
    assert r.json()["documentation_url"].endswith("#get-an-issue")


def test_an_unknown_repository_is_404(github: GitHubEmulator) -> None:
    with github.client() as c:
        assert c.get("/repos/acme/nope/issues/1").status_code == 404
        assert c.post("/repos/acme/nope/issues", json={"title": "x"}).status_code == 404
        assert c.get("/repos/ACME/Tickets").json()["full_name"] == "acme/tickets"


def test_patch_closes_reopens_and_edits(github: GitHubEmulator) -> None:
    with github.client() as c:
        create(c, body="old", labels=[FLAG])
        closed = c.patch(f"{ISSUES}/1", json={"state": "closed", "body": "new"}).json()
        assert closed["state"] == "closed" and closed["state_reason"] == "completed"
        assert closed["closed_by"]["login"] == "ticket-bot" and closed["closed_at"]
        assert closed["body"] == "new"
        reopened = c.patch(f"{ISSUES}/1", json={"state": "open"}).json()
        assert reopened["state"] == "open" and reopened["closed_at"] is None
        assert reopened["state_reason"] == "reopened"
        relabelled = c.patch(f"{ISSUES}/1", json={"labels": ["bug"], "title": "New title"})
        assert [x["name"] for x in relabelled.json()["labels"]] == ["bug"]
        assert relabelled.json()["title"] == "New title"
        not_planned = c.patch(
            f"{ISSUES}/1", json={"state": "closed", "state_reason": "not_planned"}
        )
        assert not_planned.json()["state_reason"] == "not_planned"
        too_long = c.patch(f"{ISSUES}/1", json={"body": "x" * 65537})
        assert too_long.status_code == 422
        assert c.patch(f"{ISSUES}/9", json={"body": "x"}).status_code == 404
    assert github.issue(1).body == "new"


def test_patch_drops_label_changes_without_push_access(make_github: Factory) -> None:
    github = make_github(tokens={"ghp_r": TokenConfig("reader", push=False)})
    github.seed_issue("Flagged", labels=[FLAG])
    with github.client() as c:
        r = c.patch(f"{ISSUES}/1", json={"labels": [], "body": "edited"})
    assert r.status_code == 200
    assert github.issue(1).labels == (FLAG,) and github.issue(1).body == "edited"


def test_add_set_and_list_labels_of_an_issue(github: GitHubEmulator) -> None:
    with github.client() as c:
        create(c, labels=[FLAG])
        added = c.post(f"{ISSUES}/1/labels", json={"labels": ["bug", "new-one"]})
        assert [x["name"] for x in added.json()] == [FLAG, "bug", "new-one"]
        assert [x["name"] for x in c.post(f"{ISSUES}/1/labels", json=["question"]).json()][-1] == (
            "question"
        )
        replaced = c.put(f"{ISSUES}/1/labels", json={"labels": ["wontfix"]})
        assert [x["name"] for x in replaced.json()] == ["wontfix"]
        listed = c.get(f"{ISSUES}/1/labels").json()
    assert [x["name"] for x in listed] == ["wontfix"]


def test_comments_are_added_counted_and_listed(github: GitHubEmulator) -> None:
    with github.client() as c:
        create(c)
        r = c.post(f"{ISSUES}/1/comments", json={"body": "Also on db2"})
        assert r.status_code == 201
        assert r.headers["Location"] == r.json()["url"]
        c.post(f"{ISSUES}/1/comments", json={"body": "Fixed"})
        assert c.get(f"{ISSUES}/1").json()["comments"] == 2
        listed = c.get(f"{ISSUES}/1/comments", params={"per_page": 1})
        assert [x["body"] for x in listed.json()] == ["Also on db2"]
        assert 'rel="next"' in listed.headers["Link"]
        assert c.post(f"{ISSUES}/1/comments", json={"body": ""}).status_code == 422
        assert c.post(f"{ISSUES}/1/comments", json={"body": "x" * 65537}).status_code == 422
    assert [str(x.body) for x in github.issue(1).comments] == ["Also on db2", "Fixed"]


def test_seeded_repositories_start_with_githubs_default_labels(make_github: Factory) -> None:
    github = make_github(
        repos={
            "acme/tickets": RepoConfig(labels=["ops"]),
            "acme/bare": RepoConfig(default_labels=False),
        }
    )
    names = [label.name for label in github.labels("acme/tickets")]
    assert "bug" in names and "good first issue" in names and "ops" in names
    assert github.labels("acme/bare") == []
