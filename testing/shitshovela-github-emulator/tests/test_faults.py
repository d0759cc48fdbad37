"""Injected faults, from Python and through the control API."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from shitshovela_github_emulator import GitHubEmulator

pytestmark = pytest.mark.servers

Factory = Callable[..., GitHubEmulator]

ISSUES = "/repos/acme/tickets/issues"


@pytest.mark.parametrize(
    ("mode", "made"),
    [("commit_then_500", 1), ("commit_then_drop", 1), ("fail_500", 0), ("drop", 0)],
)
def test_a_create_fault_applies_the_write_or_not(
    github: GitHubEmulator, mode: str, made: int
) -> None:
    github.faults.next_create = mode
    assert github.faults.next_create == mode
    with github.client() as c:
        if mode.endswith("drop"):
            with pytest.raises(httpx.RemoteProtocolError):
                c.post(ISSUES, json={"title": "x"})
        else:
            assert c.post(ISSUES, json={"title": "x"}).status_code == 500
        assert len(github.issues()) == made
        assert c.post(ISSUES, json={"title": "y"}).status_code == 201  # one-shot
    assert github.faults.next_create is None


def test_faults_for_any_operation_and_several_times(github: GitHubEmulator) -> None:
    github.seed_issue("flagged", labels=["flag"])
    github.faults.fail_next("remove_label", "commit_then_500", times=2)
    github.faults.fail_next("*", "fail_500")
    with github.client() as c:
        assert c.get(f"{ISSUES}/1").status_code == 500  # the "*" fault
        assert c.delete(f"{ISSUES}/1/labels/flag").status_code == 500  # applied...
        assert github.issue(1).labels == ()
        r = c.delete(f"{ISSUES}/1/labels/flag")
        assert r.status_code == 500  # the second one hides the 404
        assert c.delete(f"{ISSUES}/1/labels/flag").status_code == 404
    with pytest.raises(ValueError, match="unknown fault"):
        github.faults.fail_next("create_issue", "explode")


def test_injected_throttling(github: GitHubEmulator) -> None:
    github.faults.throttle(1, status=429, retry_after=7)
    github.faults.throttle(1, kind="primary", retry_after=120)
    github.faults.unavailable(1, retry_after=3)
    with github.client() as c:
        secondary = c.post(ISSUES, json={"title": "x"})
        primary = c.post(ISSUES, json={"title": "x"})
        unavailable = c.post(ISSUES, json={"title": "x"})
        ok = c.post(ISSUES, json={"title": "x"})
    assert secondary.status_code == 429 and secondary.headers["retry-after"] == "7"
    assert "secondary rate limit" in secondary.json()["message"]
    assert primary.status_code == 403 and primary.headers["x-ratelimit-remaining"] == "0"
    assert "retry-after" not in primary.headers
    assert int(primary.headers["x-ratelimit-reset"]) - int(time.time()) in range(115, 121)
    assert unavailable.status_code == 503 and unavailable.headers["retry-after"] == "3"
    assert ok.status_code == 201
    assert len(github.issues()) == 1
    with pytest.raises(ValueError, match="403 or 429"):
        github.faults.throttle(1, status=500)


def test_clear_forgets_every_fault(github: GitHubEmulator) -> None:
    github.faults.next_create = "drop"
    github.faults.throttle(5)
    github.faults.slow(5, 10)
    github.faults.clear()
    with github.client() as c:
        assert c.post(ISSUES, json={"title": "x"}).status_code == 201


# ------------------------------------------------------------------------ control API


def test_the_control_api_moves_every_lever(github: GitHubEmulator) -> None:
    ctl = httpx.Client(base_url=f"{github.url}/_emulator")
    with ctl, github.client() as c:
        pr = ctl.post("/repos/acme/tickets/pulls", json={"title": "PR"})
        assert pr.status_code == 201 and pr.json()["pull_request"] is True
        seeded = ctl.post(
            "/repos/acme/tickets/issues", json={"title": "seeded", "labels": ["flag"]}
        )
        assert seeded.json()["number"] == 2 and seeded.json()["labels"] == ["flag"]
        assert [i["number"] for i in ctl.get("/issues").json()["issues"]] == [1, 2]

        assert ctl.put("/listing", json={"lag": 60}).json() == {"lag": 60.0, "frozen": False}
        c.post(ISSUES, json={"title": "lagging"})
        assert [i["number"] for i in c.get(ISSUES).json()] == [2, 1]
        assert ctl.put("/listing", json={"lag": 0, "frozen": True}).json()["frozen"] is True
        ctl.put("/listing", json={"frozen": False})
        assert [i["number"] for i in c.get(ISSUES).json()] == [3, 2, 1]

        assert ctl.post(
            "/faults", json={"operation": "create_issue", "mode": "fail_500"}
        ).is_success
        assert c.post(ISSUES, json={"title": "x"}).status_code == 500
        ctl.post("/faults/throttle", json={"requests": 1, "status": 429, "retry_after": 5})
        assert c.get(ISSUES).status_code == 429
        ctl.post("/faults/unavailable", json={"requests": 1})
        assert c.get(ISSUES).status_code == 503
        ctl.post("/faults/slow", json={"requests": 1, "seconds": 0.01})
        ctl.post("/faults", json={"operation": "*", "mode": "fail_500", "times": 3})
        assert ctl.delete("/faults").is_success
        assert c.get(ISSUES).status_code == 200

        assert ctl.put("/tokens/ghp_reader", json={"login": "reader", "push": False}).is_success
        with github.client("ghp_reader") as reader:
            made = reader.post(ISSUES, json={"title": "x", "labels": ["flag"]})
            assert made.status_code == 201 and made.json()["labels"] == []
            ctl.post("/tokens/ghp_reader/exhaust")
            assert reader.get(ISSUES).status_code == 403
            ctl.delete("/tokens/ghp_reader")
            assert reader.get(ISSUES).status_code == 401

        assert ctl.put("/settings", json={"unknown_labels": "refuse"}).json() == {
            "unknown_labels": "refuse"
        }
        assert c.post(ISSUES, json={"title": "x", "labels": ["brand-new"]}).status_code == 403
        ctl.put("/settings", json={"unknown_labels": "create"})

        c.post(ISSUES, json={"nope": True})  # a client breaking the description
        found = ctl.get("/violations").json()
        assert len(found["violations"]) == 1 and "title" in found["violations"][0]
        assert ctl.delete("/violations").is_success
        assert ctl.get("/violations").json()["violations"] == []

        assert ctl.post("/faults", json={"operation": "x", "mode": "bogus"}).status_code == 400
        assert ctl.put("/tokens/t", json={"colour": "red"}).status_code == 400
        assert ctl.get("/nothing").status_code == 404
    assert github.requests[0].path == "/_emulator/repos/acme/tickets/pulls"


def test_the_control_api_can_be_turned_off(make_github: Factory) -> None:
    github = make_github(control=False)
    with github.client() as c:
        assert c.get("/_emulator/issues").status_code == 404
