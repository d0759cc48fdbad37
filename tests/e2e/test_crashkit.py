"""The crash harness's own pieces that need no server."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from crashkit import crash_points, shard_of
from graphschedule import (
    PER_FAULT,
    Applied,
    GraphFaults,
    kind_of,
    message_of,
    removal_problems,
    requests_bound,
    retry_after_problems,
)
from shitshovela_testkit.faultproxy import Answer, Pass, RequestEvent, ResponseEvent

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("shards", [1, 2, 4, 7])
@pytest.mark.parametrize("total", [1, 5, 33])
def test_the_shards_of_a_matrix_hold_every_crash_point_once(total: int, shards: int) -> None:
    parts = [shard_of(crash_points(total), n, shards) for n in range(shards)]
    dealt = [point for part in parts for point in part]
    assert sorted(dealt) == sorted(crash_points(total))
    assert len(dealt) == len(set(dealt)) == 2 * total
    assert max(map(len, parts)) - min(map(len, parts)) <= 1  # evenly dealt


def test_a_shard_outside_the_count_is_refused() -> None:
    with pytest.raises(ValueError, match="shard 4 of 4"):
        shard_of(crash_points(3), 4, 4)


MAILBOX = "/v1.0/users/e2e1@contoso.onmicrosoft.com"
MESSAGE = "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A%2BAbc%3D"


@pytest.mark.parametrize(
    ("method", "target", "kind"),
    [
        ("GET", f"{MAILBOX}/mailFolders/inbox", "folders"),
        ("GET", f"{MAILBOX}/mailFolders/AAMkAx%3D/messages?%24top=100&%24skip=100", "listing"),
        ("GET", f"{MAILBOX}/messages/{MESSAGE}/$value", "mime"),
        ("PATCH", f"{MAILBOX}/messages/{MESSAGE}", "claim"),
        ("GET", f"{MAILBOX}/messages/{MESSAGE}?%24select=parentFolderId", "check"),
        ("DELETE", f"{MAILBOX}/messages/{MESSAGE}", "removal"),
        ("POST", f"{MAILBOX}/messages/{MESSAGE}/move", "removal"),
        ("POST", f"{MAILBOX}/mailFolders/msgfolderroot/childFolders", "folders"),
    ],
)
def test_a_graph_request_is_known_by_its_kind(method: str, target: str, kind: str) -> None:
    assert kind_of(method, target) == kind


def test_the_message_a_graph_target_names() -> None:
    assert message_of(f"{MAILBOX}/messages/{MESSAGE}/move") == unquote(MESSAGE)
    assert message_of(f"{MAILBOX}/mailFolders/inbox") == ""


def _request(number: int, at: float, method: str = "GET", target: str = "/x") -> RequestEvent:
    return RequestEvent(number, 1, at, method, target, Pass())


def test_graph_faults_meet_the_nth_request_of_a_kind_or_of_the_run() -> None:
    delete = ("DELETE", f"{MAILBOX}/messages/{MESSAGE}")
    faults = GraphFaults({("removal", 2): Answer(503), ("any", 1): Answer(504)})
    assert faults(_request(1, 0.0, *delete)) is None, "not armed yet"
    faults.arm()
    assert faults(_request(2, 0.1, *delete)) == Answer(504)  # the run's first
    assert faults(_request(3, 0.2, *delete)) == Answer(503)  # the second removal
    assert faults(_request(4, 0.3, *delete)) is None
    assert [(a.request, a.kind) for a in faults.applied] == [(2, "removal"), (3, "removal")]
    held = GraphFaults({("any", 1): Answer(504)}, held=lambda: True)
    held.arm()
    assert held(_request(1, 0.0)) is None, "a kill's Hang stands"


def test_a_request_sooner_than_retry_after_is_caught() -> None:
    """*Can fail*: the check flags a request 1.9 s after a 429 asking for 2 s."""
    throttled = Answer(429, retry_after=2)
    applied = [Applied(1, 10.0, "claim", throttled)]
    too_soon = [_request(1, 10.0), _request(2, 11.9)]
    assert retry_after_problems(too_soon, applied) == [
        "request 2 came 1.900s after request 1 was answered 429 with Retry-After 2"
    ]
    assert retry_after_problems([_request(1, 10.0), _request(2, 12.0)], applied) == []
    no_wait = [Applied(1, 10.0, "claim", Answer(503))]  # no Retry-After: backoff, not checked
    assert retry_after_problems(too_soon, no_wait) == []


def test_a_removal_sent_again_after_graph_applied_it_is_caught() -> None:
    """*Can fail*: a DELETE sent after one Graph applied (its answer lost on the way)."""
    target = f"{MAILBOX}/messages/{MESSAGE}"
    check = f"{target}?%24select=parentFolderId"
    dropped_before = [  # never reached Graph: sending it again is right
        _request(1, 0.0, "DELETE", target),
        _request(2, 0.1, "GET", check),
        ResponseEvent(2, 1, 0.1, 200),
        _request(3, 0.2, "DELETE", target),
        ResponseEvent(3, 1, 0.2, 204),
    ]
    assert removal_problems(dropped_before) == []
    applied_then_again = [
        _request(1, 0.0, "DELETE", target),
        ResponseEvent(1, 1, 0.0, 204),  # applied; the job never read the answer
        _request(2, 0.2, "DELETE", target),
        ResponseEvent(2, 1, 0.2, 204),
    ]
    assert removal_problems(applied_then_again) == [
        f"DELETE of message …{unquote(MESSAGE)[-12:]} (request 2) sent again after "
        "request 1 was applied"
    ]


def test_the_request_bound_of_a_graph_run() -> None:
    """A fault-free run of n messages sends 2 + 4n requests (folder, listing; MIME,
    claim, check, delete each): within the bound, with room for a done folder."""
    assert requests_bound(3, 0) == 21 >= 2 + 4 * 3 + 2
    assert requests_bound(3, 2) - requests_bound(3, 0) == 2 * PER_FAULT
