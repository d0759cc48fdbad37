"""A GitHub-like issue tracker: a stand-in server, a ticket system for it, and its kit harness.

It is the worked example of an HTTP ticket system for a tracker with no custom
fields, written on the core's helpers, and what the kit's own tests break on
purpose (``tests/test_kit_catches_mistakes.py``):

- `IssueTracker`, a `StandInServer`: issues with a title, a body, labels and an
  open/closed state; Bearer-token auth; ``GET /issues`` lists *open* issues
  unless asked ``state=all`` and pages by ``page``/``per_page`` with a
  ``Link: rel="next"`` header (at most `IssueTracker.page_size` per page);
  ``DELETE /issues/{n}/labels/{name}`` removes one label, ``PATCH`` with
  ``labels`` replaces them all. ``lose_next_create`` applies the next create and
  drops the connection without an answer.
- `IssueTrackerTickets`, the `TicketSystem`: the flag is a label of the create
  request, the origin a marker at the end of the body
  (`shitshovela_core.origintext`: escaped, last marker wins); the listing
  follows the server's next links (`shitshovela_core.paging`) and is read whole
  before it is yielded; statuses are read by `raise_for_answer`.
- `IssueTrackerHarness`, the conformance kit's harness, offering every capability.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import attrs

from shitshovela_core import (
    FLAG_PREFIX,
    Flag,
    HttpClient,
    Origin,
    OutcomeUnknown,
    ProviderContext,
    ProviderSettings,
    Ticket,
    TicketDraft,
    TicketSystem,
    embed_origin,
    find_origin,
    follow_links,
    raise_for_answer,
    rate_setting,
    read_whole,
    setting,
)

from .conformance import StoredTicket
from .fakes import fake_context
from .standin import Request, Response, StandInServer

__all__ = [
    "IssueTracker",
    "IssueTrackerHarness",
    "IssueTrackerSettings",
    "IssueTrackerTickets",
]

#: The longest issue body the tracker accepts (GitHub's limit).
BODY_LIMIT = 65536


class IssueTracker(StandInServer):
    """A GitHub-like issue tracker on loopback (see the module docstring).

    Test-facing: ``issues`` (number -> issue dict), ``created`` (number -> the
    issue as its create request left it), `close_issue`, `add_label`,
    ``lose_next_create`` and ``page_size``.
    """

    server_name = "IssueTracker/1.0"

    def __init__(self, *, token: str = "tracker-token", page_size: int = 30) -> None:  # noqa: S107
        super().__init__()
        self.token = token
        self.page_size = page_size
        self.lose_next_create = False
        self.issues: dict[int, dict[str, Any]] = {}
        self.created: dict[int, dict[str, Any]] = {}
        self._issues_lock = threading.RLock()

    # -- test-facing ---------------------------------------------------------------------

    def close_issue(self, number: int) -> None:
        """Close an issue, as a person would (its labels stay)."""
        with self._issues_lock:
            self.issues[number]["state"] = "closed"

    def add_label(self, number: int, label: str) -> None:
        """Add a label to an issue, as a person would."""
        with self._issues_lock:
            labels = self.issues[number]["labels"]
            if label not in labels:
                labels.append(label)

    # -- the API -------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Response(401, {"message": "Bad credentials"})
        parts = [p for p in request.path.split("/") if p]
        with self._issues_lock:
            if parts == ["user"] and request.method == "GET":
                return Response(200, {"login": "bot"})
            if parts == ["issues"] and request.method == "POST":
                return self._create(request)
            if parts == ["issues"] and request.method == "GET":
                return self._list(request)
            if len(parts) >= 2 and parts[0] == "issues" and parts[1].isdigit():
                issue = self.issues.get(int(parts[1]))
                if issue is None:
                    return Response(404, {"message": "Not Found"})
                return self._issue(request, issue, parts[2:])
        return Response(404, {"message": "Not Found"})

    @staticmethod
    def _shown(issue: dict[str, Any]) -> dict[str, Any]:
        return {**issue, "labels": [{"name": name} for name in issue["labels"]]}

    def _create(self, request: Request) -> Response:
        data = request.json()
        title, body = str(data.get("title") or ""), str(data.get("body") or "")
        labels = [str(label) for label in data.get("labels") or []]
        problems = []
        if not title.strip() or len(title) > 256:
            problems.append("title must be 1 to 256 characters")
        if len(body) > BODY_LIMIT:
            problems.append(f"body is longer than {BODY_LIMIT} characters")
        if any(len(label) > 50 for label in labels):
            problems.append("a label is longer than 50 characters")
        if problems:
            return Response(422, {"message": "Validation Failed", "errors": problems})
        number = len(self.issues) + 1
        issue = {
            "number": number,
            "title": title,
            "body": body,
            "labels": list(dict.fromkeys(labels)),
            "state": "open",
        }
        self.issues[number] = issue
        self.created[number] = copy.deepcopy(issue)
        if self.lose_next_create:
            self.lose_next_create = False
            return Response(0, drop=True)
        return Response(201, self._shown(issue))

    def _list(self, request: Request) -> Response:
        state = request.q1("state") or "open"
        wanted = set(request.q_list("labels"))
        size = max(1, min(self.page_size, int(request.q1("per_page") or 30)))
        page = max(1, int(request.q1("page") or 1))
        matching = [
            issue
            for _, issue in sorted(self.issues.items())
            if wanted <= set(issue["labels"]) and state in ("all", issue["state"])
        ]
        shown = matching[(page - 1) * size : page * size]
        headers = {}
        if page * size < len(matching):
            query = {k: v for k, v in request.query if k != "page"} | {"page": str(page + 1)}
            headers["Link"] = f'<{self.url}/issues?{urlencode(query)}>; rel="next"'
        return Response(200, [self._shown(i) for i in shown], headers=headers)

    def _issue(self, request: Request, issue: dict[str, Any], rest: list[str]) -> Response:
        if not rest and request.method == "GET":
            return Response(200, self._shown(issue))
        if not rest and request.method == "PATCH":
            data = request.json()
            for name in ("title", "body", "state"):
                if name in data:
                    issue[name] = str(data[name])
            if "labels" in data:
                issue["labels"] = [str(label) for label in data["labels"]]
            return Response(200, self._shown(issue))
        if rest == ["labels"] and request.method == "POST":
            for label in request.json().get("labels") or []:
                if str(label) not in issue["labels"]:
                    issue["labels"].append(str(label))
            return Response(200, [{"name": name} for name in issue["labels"]])
        if len(rest) == 2 and rest[0] == "labels" and request.method == "DELETE":
            if rest[1] not in issue["labels"]:
                return Response(404, {"message": "Label does not exist"})
            issue["labels"].remove(rest[1])
            return Response(200, [{"name": name} for name in issue["labels"]])
        return Response(404, {"message": "Not Found"})


@attrs.frozen(kw_only=True)
class IssueTrackerSettings(ProviderSettings):
    """The tracker's URL and token."""

    url: str = setting(required=True, help="The tracker's base URL.")
    token: str = setting(required=True, secret=True, ascii_only=True, help="An API token.")
    rate: float = rate_setting(20.0)


class IssueTrackerTickets(TicketSystem):
    """Tickets as issues of an `IssueTracker` (see the module docstring)."""

    #: Issues per listing page the provider asks for (the server may send fewer).
    per_page = 100

    def __init__(self, context: ProviderContext) -> None:
        super().__init__(context)
        settings = IssueTrackerSettings.of(context.settings)
        self.settings = settings
        self.http = HttpClient(
            context.safety,
            settings.url,
            headers={"Authorization": f"Bearer {settings.token}"},
            secrets=(settings.token,),
        )
        self._scrub = context.safety.redactor.scrub

    @staticmethod
    def origin_in(body: str) -> str | None:
        """The origin reference an issue's body carries (its last marker), or None."""
        return find_origin(body)

    def _ticket(self, issue: dict[str, Any], flag: Flag) -> Ticket:
        labels = tuple(str(label["name"]) for label in issue.get("labels") or [])
        ref = self.origin_in(str(issue.get("body") or "")) or ""
        try:
            origin: Origin | None = Origin.from_ref(ref)
        except ValueError:
            origin = None
        return Ticket(
            key=str(issue["number"]),
            origin=origin,
            flagged=flag.label in labels,
            origin_ref=ref,
            labels=labels,
        )

    def create(self, draft: TicketDraft, flag: Flag, origin: Origin) -> Ticket:
        """One ``POST /issues`` with the flag among the labels and the origin marker
        ending the body (I3); never retried (I4)."""
        labels = [label for label in draft.labels if not label.startswith(FLAG_PREFIX)]
        body = {
            "title": draft.title,
            "body": embed_origin(draft.body, origin.to_ref(), limit=BODY_LIMIT),
            "labels": [*labels, flag.label],
        }
        what = "create the issue"
        response = self.http.request("POST", "/issues", idempotent=False, what=what, json=body)
        raise_for_answer(response, what, rejected=(400, 422), scrub=self._scrub)
        try:
            return self._ticket(response.json(), flag)
        except (ValueError, KeyError, TypeError):
            raise OutcomeUnknown(f"{what}: the answer could not be read") from None

    def _page(self, url: str) -> Any:
        what = "list the flagged issues"
        response = self.http.request("GET", url, idempotent=True, what=what)
        return raise_for_answer(response, what, scrub=self._scrub)

    def flagged(self, flag: Flag) -> Iterator[Ticket]:
        """Every issue with the flag, open or closed, read whole before the first is
        yielded (reconcile unflags while it iterates)."""
        query = urlencode({"labels": flag.label, "state": "all", "per_page": self.per_page})
        issues = (
            issue for page in follow_links(self._page, f"/issues?{query}") for issue in page.json()
        )
        for issue in read_whole(issues):
            ticket = self._ticket(issue, flag)
            if ticket.flagged:
                yield ticket

    def unflag(self, ticket: Ticket, flag: Flag) -> None:
        """``DELETE /issues/{n}/labels/{flag}``: that label only; a 404 means it is gone."""
        what = "remove the flag label"
        response = self.http.request(
            "DELETE", f"/issues/{ticket.key}/labels/{flag.label}", idempotent=True, what=what
        )
        if response.status_code == 404:
            return
        raise_for_answer(response, what, scrub=self._scrub)

    def check(self, flag: Flag) -> None:
        """``GET /user``: the token works."""
        what = "read the token's user"
        response = self.http.request("GET", "/user", idempotent=True, what=what)
        raise_for_answer(response, what, credentials="the TOKEN setting", scrub=self._scrub)

    def close(self) -> None:
        """Close the HTTP connections."""
        self.http.close()


class IssueTrackerHarness:
    """The conformance kit's harness over a fresh `IssueTracker` with small pages.

    ``provider`` is the `IssueTrackerTickets` class (or a subclass) it builds."""

    page_size = 3

    def __init__(self, *, provider: type[IssueTrackerTickets] = IssueTrackerTickets) -> None:
        self.provider = provider
        self.server = IssueTracker(page_size=self.page_size).start()
        self._made: list[TicketSystem] = []

    def _build(self, instance: str, token: str) -> TicketSystem:
        settings = {"URL": self.server.url, "TOKEN": token, "RATE": 1000.0}
        context = fake_context(
            "issuetracker", instance, settings=settings, settings_class=IssueTrackerSettings
        )
        made = self.provider(context)
        self._made.append(made)
        return made

    def tickets(self, instance: str) -> TicketSystem:
        return self._build(instance, self.server.token)

    def tickets_with_wrong_credential(self, instance: str) -> TicketSystem:
        return self._build(instance, "wrong-" + self.server.token)

    def settle(self) -> None:
        """The tracker is read-after-write consistent."""

    def close_ticket(self, key: str) -> None:
        self.server.close_issue(int(key))

    def add_label(self, key: str, label: str) -> None:
        self.server.add_label(int(key), label)

    def _stored(self, issue: dict[str, Any]) -> StoredTicket:
        """The issue's labels, and its origin read the way the provider reads it."""
        return StoredTicket(tuple(issue["labels"]), self.provider.origin_in(issue["body"]))

    def stored(self, key: str) -> StoredTicket:
        return self._stored(self.server.issues[int(key)])

    def stored_at_create(self, key: str) -> StoredTicket:
        return self._stored(self.server.created[int(key)])

    def lose_next_create_answer(self) -> None:
        self.server.lose_next_create = True

    def close(self) -> None:
        for made in self._made:
            made.close()
        self.server.stop()
