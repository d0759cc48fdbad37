"""A repository's labels, and removing a label from an issue."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pytest
from shitshovela_github_emulator import GitHubEmulator, TokenConfig

pytestmark = pytest.mark.servers

Factory = Callable[..., GitHubEmulator]

LABELS = "/repos/acme/tickets/labels"
FLAG = "shitshovela-inprogress-alerts"


def test_create_label_then_422_when_it_exists(github: GitHubEmulator) -> None:
    with github.client() as c:
        r = c.post(LABELS, json={"name": FLAG, "color": "FBCA04", "description": "in progress"})
        assert r.status_code == 201, r.text
        made = r.json()
        assert made["name"] == FLAG and made["color"] == "fbca04" and made["default"] is False
        assert r.headers["Location"] == made["url"] == f"{github.url}{LABELS}/{FLAG}"
        for name in (FLAG, FLAG.upper()):
            again = c.post(LABELS, json={"name": name})
            assert again.status_code == 422
            assert again.json()["errors"] == [
                {"resource": "Label", "code": "already_exists", "field": "name"}
            ]
        assert c.get(f"{LABELS}/{FLAG}").json()["id"] == made["id"]
        assert c.get(f"{LABELS}/{FLAG.upper()}").status_code == 200
        assert c.get(f"{LABELS}/nope").status_code == 404
    assert [lab.name for lab in github.labels()].count(FLAG) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x" * 51}, "name"),
        ({"name": "ok", "color": "red"}, "color"),
        ({"name": "ok", "description": "d" * 101}, "description"),
    ],
)
def test_create_label_checks_name_colour_and_description(
    github: GitHubEmulator, body: dict[str, str], field: str
) -> None:
    with github.client() as c:
        r = c.post(LABELS, json=body)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == field


def test_creating_a_label_needs_push_access(make_github: Factory) -> None:
    github = make_github(
        tokens={
            "ghp_classic": TokenConfig("reader", push=False),
            "github_pat_fine": TokenConfig("reader", push=False, kind="fine_grained"),
        }
    )
    with github.client("ghp_classic") as c:
        r = c.post(LABELS, json={"name": FLAG})
    assert r.status_code == 403 and "push access" in r.json()["message"]
    with github.client("github_pat_fine") as c:
        r = c.post(LABELS, json={"name": FLAG})
    assert r.json()["message"] == "Resource not accessible by personal access token"


def test_list_labels_pages_by_name(github: GitHubEmulator) -> None:
    with github.client() as c:
        c.post(LABELS, json={"name": "a-first"})
        first = c.get(LABELS, params={"per_page": 4})
        assert [x["name"] for x in first.json()] == ["a-first", "bug", "documentation", "duplicate"]
        names = []
        url: str | None = f"{LABELS}?per_page=4"
        while url:
            page = c.get(url)
            names += [x["name"] for x in page.json()]
            url = page.links.get("next", {}).get("url")
    assert names == sorted(names, key=str.casefold) and len(names) == 10


def test_remove_label_then_404_label_does_not_exist(github: GitHubEmulator) -> None:
    github.seed_issue("Flagged", labels=[FLAG, "bug"])
    with github.client() as c:
        r = c.delete(f"/repos/acme/tickets/issues/1/labels/{FLAG}")
        assert r.status_code == 200
        assert [x["name"] for x in r.json()] == ["bug"]
        again = c.delete(f"/repos/acme/tickets/issues/1/labels/{FLAG}")
        assert again.status_code == 404
        assert again.json()["message"] == "Label does not exist"
        assert again.json()["documentation_url"].endswith("#remove-a-label-from-an-issue")
        assert c.delete(f"/repos/acme/tickets/issues/9/labels/{FLAG}").json()["message"] == (
            "Not Found"
        )
    assert github.issue(1).labels == ("bug",)


def test_remove_label_with_spaces_slashes_and_case(github: GitHubEmulator) -> None:
    name = "needs triage/ops"
    github.seed_issue("Flagged", labels=[name])
    with github.client() as c:
        r = c.delete(f"/repos/acme/tickets/issues/1/labels/{quote(name.upper(), safe='')}")
    assert r.status_code == 200 and r.json() == []
    assert github.issue(1).labels == ()


def test_removing_a_label_needs_push_access(make_github: Factory) -> None:
    github = make_github(tokens={"ghp_r": TokenConfig("reader", push=False)})
    github.seed_issue("Flagged", labels=[FLAG])
    with github.client() as c:
        r = c.delete(f"/repos/acme/tickets/issues/1/labels/{FLAG}")
    assert r.status_code == 403
    assert github.issue(1).labels == (FLAG,)
