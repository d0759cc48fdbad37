"""Fault schedules on the Graph side of a scenario, and what a Graph run must keep to.

`GraphFaults` is a fault-proxy listener that gives the n-th Graph request of a kind
(the listing, a message's MIME, a claim, a check, a delete or move: `kind_of`) a
fault, or the n-th request of the run whatever it is: a schedule aims at the
requests that matter (a ``DELETE`` whose answer is lost after Graph applied it)
rather than at numbers that shift with every setting. It records what it applied.

The checks read the proxy's events (arrival times on the monotonic clock, every
process's same clock):

- `retry_after_problems`: after an answer with ``Retry-After``, the next request came
  no sooner than it said (a lower bound: the answer left the proxy after the request
  arrived, and the job waits from when it read it);
- `removal_problems`: a delete or move Graph applied is never sent again for that
  message (the source reads the message again after a lost answer instead);
- `requests_bound`: a run's Graph requests stay within `PER_RUN + PER_ITEM * items +
  PER_FAULT * faults` (no request storm).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from shitshovela_graph.api import path_shape
from shitshovela_testkit.faultproxy import (
    Answer,
    Event,
    Fault,
    RequestEvent,
    ResponseEvent,
)

#: Kinds of Graph request a schedule aims at (``any``: the n-th request of the run;
#: ``folders``: finding or making the source, done and set-aside folders).
KINDS = ("any", "folders", "listing", "mime", "claim", "check", "removal")

#: A run's Graph requests that do not depend on the items: the source folder's id, the
#: done or set-aside folder's (found, or made: a request a path segment each way), and
#: the first listing page.
PER_RUN = 6
#: Requests an item costs at most in one run: listed again (a page emptied before it),
#: its MIME, the claim, the exactness check and the delete or move; in reconcile the
#: read, its MIME, the check and the delete.
PER_ITEM = 5
#: Requests a fault costs at most: the request once more after a wait, or for a
#: removal whose answer was lost, the message read again and the removal sent again.
PER_FAULT = 3


def graph_answer(status: int, code: str, message: str, retry_after: int | None = None) -> Answer:
    """An answer in Graph's own shape (``{"error": {"code", "message"}}``, JSON), given by
    the proxy in Graph's place: the request never reaches the emulator."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return Answer(
        status, retry_after=retry_after, body=body, headers={"Content-Type": "application/json"}
    )


def requests_bound(items: int, faults: int) -> int:
    """The most Graph requests one run of ``items`` items meeting ``faults`` faults sends."""
    return PER_RUN + PER_ITEM * items + PER_FAULT * faults


def kind_of(method: str, target: str) -> str:
    """What a request to Graph is, from its method and target (``listing``, ``mime``,
    ``claim``, ``check``, ``removal``, ``folders``), or ``other``."""
    shape = path_shape(unquote(urlsplit(target).path))
    if shape.endswith("/messages") and "/mailFolders/" in shape:
        return "listing" if method == "GET" else "other"
    if shape.endswith("/messages/{id}/$value"):
        return "mime"
    if shape.endswith("/messages/{id}"):
        return {"PATCH": "claim", "GET": "check", "DELETE": "removal"}.get(method, "other")
    if shape.endswith("/messages/{id}/move") and method == "POST":
        return "removal"
    if "/mailFolders" in shape:
        return "folders"
    return "other"


def message_of(target: str) -> str:
    """The message id a ``…/messages/{id}…`` target names ("" for none)."""
    parts = [unquote(p) for p in urlsplit(target).path.split("/")]
    if "messages" in parts:
        at = parts.index("messages") + 1
        return parts[at] if at < len(parts) else ""
    return ""


@dataclass
class Applied:
    """A fault `GraphFaults` gave one request."""

    request: int
    time: float
    kind: str
    fault: Fault


@dataclass
class GraphFaults:
    """A fault-proxy listener: ``schedule[(kind, n)]`` meets the n-th request of ``kind``
    (`KINDS`; ``("any", n)``: the n-th request). Off until `arm`, and while ``held()``
    (a kill that just took the request: its ``Hang`` must stand). A request both an
    ``any`` entry and a kind's entry name meets the kind's."""

    schedule: Mapping[tuple[str, int], Fault]
    held: Callable[[], bool] = lambda: False
    applied: list[Applied] = field(default_factory=list)
    armed: bool = False
    _seen: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(self, on: bool = True) -> None:
        """Apply the schedule from the next request on (``on``), or stop applying it."""
        with self._lock:
            self.armed = on
            self._seen.clear()

    def __call__(self, event: Event) -> Fault | None:
        if not isinstance(event, RequestEvent):
            return None
        with self._lock:
            if not self.armed or self.held():
                return None
            kind = kind_of(event.method, event.target)
            for counted in ("any", kind):
                self._seen[counted] = self._seen.get(counted, 0) + 1
            fault = self.schedule.get((kind, self._seen[kind]))
            fault = fault or self.schedule.get(("any", self._seen["any"]))
            if fault is not None:
                self.applied.append(Applied(event.request, event.time, kind, fault))
            return fault


def retry_after_problems(events: Iterable[Event], applied: Iterable[Applied]) -> list[str]:
    """Each answer with ``Retry-After`` (429, 503) that the next request came sooner than."""
    arrivals = sorted((e.time, e.request) for e in events if isinstance(e, RequestEvent))
    problems = []
    for fault in applied:
        answer = fault.fault
        if not isinstance(answer, Answer) or not isinstance(answer.retry_after, int):
            continue
        later = [(t, n) for t, n in arrivals if n != fault.request and t >= fault.time]
        if later and later[0][0] - fault.time < answer.retry_after:
            gap = later[0][0] - fault.time
            problems.append(
                f"request {later[0][1]} came {gap:.3f}s after request {fault.request} was "
                f"answered {answer.status} with Retry-After {answer.retry_after}"
            )
    return problems


def removal_problems(events: Iterable[Event]) -> list[str]:
    """Each delete or move sent for a message after Graph had applied one to it (a 2xx
    reached the proxy, whether or not the job read it)."""
    statuses: dict[int, int] = {}
    removals: list[RequestEvent] = []
    for event in events:
        if isinstance(event, ResponseEvent):
            statuses[event.request] = event.status
        elif isinstance(event, RequestEvent) and kind_of(event.method, event.target) == "removal":
            removals.append(event)
    applied: dict[str, int] = {}
    problems = []
    for request in sorted(removals, key=lambda e: e.time):
        message = message_of(request.target)
        if message in applied:
            problems.append(
                f"{request.method} of message …{message[-12:]} (request {request.request}) "
                f"sent again after request {applied[message]} was applied"
            )
        elif 200 <= statuses.get(request.request, 0) < 300:
            applied[message] = request.request
    return problems
