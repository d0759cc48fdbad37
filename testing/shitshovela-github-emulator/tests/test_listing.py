"""Listing a repository's issues: filters, order, pages by ``Link``, and the listing lag."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from shitshovela_github_emulator import GitHubEmulator
from shitshovela_github_emulator.render import iso
from shitshovela_testkit.clock import ManualClock

pytestmark = pytest.mark.servers

Factory = Callable[..., GitHubEmulator]

ISSUES = "/repos/acme/tickets/issues"
FLAG = "shitshovela-inprogress-alerts"


def numbers(c: httpx.Client, **params: Any) -> list[int]:
    r = c.get(ISSUES, params=params)
    assert r.status_code == 200, r.text
    return [i["number"] for i in r.json()]


def every_page(c: httpx.Client, **params: Any) -> tuple[list[int], int]:
    """Follow the ``next`` links; (numbers, pages read)."""
    found: list[int] = []
    r = c.get(ISSUES, params=params)
    pages = 1
    found += [i["number"] for i in r.json()]
    while "next" in r.links:
        r = c.get(r.links["next"]["url"])
        pages += 1
        found += [i["number"] for i in r.json()]
    return found, pages


def test_lists_issues_and_pull_requests_by_state_and_labels(github: GitHubEmulator) -> None:
    github.seed_issue("one", labels=[FLAG])
    github.add_pull_request("two", labels=[FLAG])
    github.seed_issue("three", labels=[FLAG, "bug"])
    github.seed_issue("four")
    with github.client() as c:
        c.patch(f"{ISSUES}/3", json={"state": "closed"})
        assert numbers(c) == [4, 2, 1]  # open only, newest first
        assert numbers(c, state="closed") == [3]
        assert numbers(c, state="all", labels=FLAG) == [3, 2, 1]
        assert numbers(c, state="all", labels=f"{FLAG},BUG") == [3]  # every label, any case
        assert numbers(c, state="all", labels="nope") == []
        listed = c.get(ISSUES, params={"state": "all"}).json()
    assert [("pull_request" in i) for i in listed] == [False, False, True, False]


def test_sort_direction_since_and_creator(make_github: Factory, clock: ManualClock) -> None:
    github = make_github(clock=clock)
    for title in ("a", "b", "c"):
        github.seed_issue(title, user="alice" if title != "b" else "bob")
        clock.advance(10)
    with github.client() as c:
        c.post(f"{ISSUES}/1/comments", json={"body": "bump"})  # 1 is now the last updated
        assert numbers(c, direction="asc") == [1, 2, 3]
        assert numbers(c, sort="updated") == [1, 3, 2]
        assert numbers(c, sort="comments") == [1, 3, 2]
        assert numbers(c, since=iso(clock() - 15), direction="asc") == [1, 3]
        assert numbers(c, creator="BOB") == [2]
        assert numbers(c, assignee="none") == [3, 2, 1]
        assert numbers(c, assignee="*") == [] and numbers(c, milestone="3") == []


def test_pages_follow_the_link_header(github: GitHubEmulator) -> None:
    for n in range(7):
        github.seed_issue(f"issue {n}", labels=[FLAG])
    with github.client() as c:
        first = c.get(ISSUES, params={"labels": FLAG, "per_page": 3})
        links = first.links
        assert set(links) == {"next", "last"}
        assert links["next"]["url"].endswith("labels=" + FLAG + "&per_page=3&page=2")
        assert links["last"]["url"].endswith("page=3")
        middle = c.get(links["next"]["url"])
        assert set(middle.links) == {"prev", "next", "last", "first"}
        last = c.get(links["last"]["url"])
        assert set(last.links) == {"prev", "first"} and len(last.json()) == 1
        found, pages = every_page(c, labels=FLAG, per_page=3)
        assert found == [7, 6, 5, 4, 3, 2, 1] and pages == 3
        assert "Link" not in c.get(ISSUES).headers  # one page: no Link
        assert c.get(ISSUES, params={"page": 9}).json() == []


def test_per_page_is_thirty_by_default_and_a_hundred_at_most(github: GitHubEmulator) -> None:
    for n in range(101):
        github.seed_issue(f"issue {n}")
    with github.client() as c:
        assert len(c.get(ISSUES).json()) == 30
        assert len(c.get(ISSUES, params={"per_page": 500}).json()) == 100
        found, pages = every_page(c, per_page=100)
    assert len(found) == 101 and pages == 2


def test_the_listing_lags_behind_creates_but_a_get_by_number_does_not(
    make_github: Factory, clock: ManualClock
) -> None:
    github = make_github(clock=clock, listing_lag=30)
    with github.client() as c:
        made = c.post(ISSUES, json={"title": "fresh", "labels": [FLAG]}).json()
        assert numbers(c, state="all", labels=FLAG) == []
        assert c.get(f"{ISSUES}/{made['number']}").json()["title"] == "fresh"
        clock.advance(29)
        assert numbers(c, state="all", labels=FLAG) == []
        clock.advance(1)
        assert numbers(c, state="all", labels=FLAG) == [1]


def test_the_listing_lags_behind_label_changes_too(
    make_github: Factory, clock: ManualClock
) -> None:
    github = make_github(clock=clock, listing_lag=30)
    github.seed_issue("flagged", labels=[FLAG])  # listed at once
    with github.client() as c:
        assert c.delete(f"{ISSUES}/1/labels/{FLAG}").status_code == 200
        stale = c.get(ISSUES, params={"labels": FLAG}).json()
        assert [i["number"] for i in stale] == [1]  # still listed as flagged...
        assert [x["name"] for x in stale[0]["labels"]] == [FLAG]  # ...as it was then
        assert c.get(f"{ISSUES}/1").json()["labels"] == []
        clock.advance(30)
        assert numbers(c, labels=FLAG) == []


def test_a_frozen_listing_shows_nothing_new_until_thawed(
    make_github: Factory, clock: ManualClock
) -> None:
    github = make_github(clock=clock)
    github.seed_issue("old")
    github.freeze_listing()
    clock.advance(1)
    with github.client() as c:
        c.post(ISSUES, json={"title": "new"})
        clock.advance(3600)
        assert numbers(c) == [1]
        assert c.get(f"{ISSUES}/2").status_code == 200
        github.thaw_listing()
        assert numbers(c) == [2, 1]


def test_the_listing_lag_in_real_time(make_github: Factory) -> None:
    github = make_github(listing_lag=0.3)
    with github.client() as c:
        c.post(ISSUES, json={"title": "fresh"})
        assert numbers(c) == []
        time.sleep(0.35)
        assert numbers(c) == [1]
