"""The GitHub Issues ticket system: one issue per item, in one repository.

Requests per ticket, in a run without faults (each a second apart at the
default ``RATE``):

- ``create``: one ``POST /repos/{owner}/{repo}/issues`` carrying title, body
  (the origin marker at its end) and labels (this instance's flag among them):
  flag and origin are atomic with the issue (I3);
- ``unflag``: one ``DELETE …/issues/{n}/labels/{flag}``, which touches no other
  label; a 404 ("Label does not exist") means it is gone already: idempotent.

Per run: the identity (``GET /user``; an App: ``GET /app`` and an installation
token), the flagged listing (``GET …/issues?labels=<flag>&state=all``, 100 a
page), the number probe (`shitshovela_github.probe`: one listing request and
about ``PROBE_GAP`` reads by number), and before the first create `prepare`:
the repository's permissions (``GET /repos/{owner}/{repo}``) and the labels
(``GET …/labels/{name}``, a ``POST …/labels`` for each one missing).

**Labels GitHub drops (I3).** GitHub silently drops the labels of a new issue
when the identity lacks push access, and may refuse labels the repository
lacks. So `prepare` stops the run (`SetupError`, exit 3) before anything
changed when the repository says ``push: false``, makes the flag label (and
the configured ones) exist, and `create` checks the labels of the issue GitHub
returns: an issue without the flag is closed as not planned (``[void]`` in its
title) and the run stops with `SetupError`, naming the permission to grant.

**A lagging listing (I11).** GitHub promises no read-after-write for issue
listings: ``listing_lag = LISTING_LAG`` (60 s by default) tells the core, whose
claim window covers it, and the number probe reads past the listing so that a
ticket is usually finished by the very next run.

**Attachments.** The Issues API cannot upload files: the body lists each file
(name, type, size), or, with ``ATTACHMENTS=set_aside``, an item with files is
set aside (`ItemRejected` with ``by_setting``) for an operator.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from shitshovela_core import (
    Flag,
    ItemRejected,
    Origin,
    OutcomeUnknown,
    ProviderContext,
    ProviderError,
    SetupError,
    Ticket,
    TicketDraft,
    TicketSystem,
    Unreachable,
    answer_detail,
    env_name,
    find_origin,
    follow_links,
    read_whole,
)

from . import auth, text
from .api import GitHubApi
from .config import TITLE_MAX, GitHubSettings, private_key
from .probe import Found, NumberProbe
from .writes import WriteBudget

#: Issues per listing page (GitHub's most).
PAGE = 100
#: The flag label's colour and description, as `prepare` makes it.
FLAG_COLOR = "fbca04"
OTHER_COLOR = "ededed"
VOID_PREFIX = "[void] "

#: What to grant, by kind of credentials, when GitHub would drop the flag label.
GRANT = (
    "grant push access to the repository: a fine-grained token needs Issues: Read and "
    "write on it (and its user the Write role), a classic token the repo scope (public_repo "
    "for a public repository) and a user with the Write role, a GitHub App Issues: Read and "
    "write"
)


def number_of(key: str) -> int:
    """The issue number of a ticket key ``owner/name#42``."""
    return int(key.rsplit("#", 1)[1])


def _wall_of(clock: Callable[[], float]) -> Callable[[], float]:
    """Epoch seconds that go with ``clock`` (a test's manual clock has a ``wall``)."""
    wall = getattr(clock, "wall", None)
    if wall is None:
        return time.time
    return lambda: float(wall().timestamp())


def _error_fields(response: httpx.Response) -> set[str]:
    """The ``field`` of each error in GitHub's 422 answer."""
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return set()
    return {str(e.get("field")) for e in errors if isinstance(e, dict) and e.get("field")}


class GitHubTickets(TicketSystem):
    """Tickets as GitHub issues; see the module docstring for the requests it sends."""

    completes_from_draft = False

    def __init__(
        self, context: ProviderContext, *, wall: Callable[[], float] | None = None
    ) -> None:
        super().__init__(context)
        self.config = config = GitHubSettings.of(context.settings)
        self.listing_lag = config.listing_lag
        self.writes = WriteBudget(
            context.budget, per_minute=config.writes_per_minute, per_hour=config.writes_per_hour
        )
        self.api = GitHubApi(context, config, self.writes)
        clock = context.budget.clock
        self.credentials = auth.credentials(
            self.api, config, self._env, wall=wall or _wall_of(clock), clock=clock
        )
        self.api.credentials = self.credentials
        context.safety.redactor.add(*(s for s in (config.token, config.app_private_key) if s))
        # Each line of the key's body too, should a piece of it ever show alone.
        key_lines = private_key(config.app_private_key).splitlines()
        context.safety.redactor.add(
            *(line.strip() for line in key_lines if len(line.strip()) >= 16 and "-----" not in line)
        )
        self.repo_path = f"/repos/{config.owner}/{config.name}"
        self._ready_labels: set[str] = set()
        self._prepared = False
        self.probe = NumberProbe(
            gap=config.probe_gap,
            newest=self._newest_number,
            read=self._read_number,
            on_stop=lambda reads: context.log.info(
                "github_probe_stopped", reads=reads, note="the claim window covers the rest"
            ),
        )

    def _env(self, name: str) -> str:
        return env_name(self.context.provider, name)

    def key(self, number: int) -> str:
        """The ticket key of issue ``number``: ``owner/name#42``."""
        return f"{self.config.repo}#{number}"

    def identity(self) -> str:
        """The login the job's issues are authored by (read once a run)."""
        return self.credentials.identity()

    # -- setup -----------------------------------------------------------------------

    def _repository(self) -> Mapping[str, Any]:
        """The repository as the identity sees it (``GET /repos/{owner}/{repo}``)."""
        what = f"read the repository {self.config.repo}"
        response = self.api.call("GET", self.repo_path, what=what)
        if response.status_code in (404, 403):
            raise SetupError(
                f"{what}: GitHub answered {response.status_code}: it does not exist or "
                f"{self.identity()} cannot see it; check {self._env('REPO')} and the "
                "credentials' access to it"
            )
        if response.status_code != 200:
            raise self.api.refused(what, response)
        data: Mapping[str, Any] = response.json()
        if data.get("has_issues") is False:
            raise SetupError(f"issues are turned off in {self.config.repo} (Settings > Features)")
        return data

    def _require_push(self, repository: Mapping[str, Any]) -> bool | None:
        """Stop unless the identity may set labels (None: GitHub did not say).

        An App's installation token says itself what it may do (``issues: write``
        in the answer that minted it); for a personal token the repository's
        ``permissions.push`` (its user's role) says it."""
        allowed = self.credentials.writes_issues()
        if allowed is None:
            permissions = repository.get("permissions")
            if not isinstance(permissions, Mapping):
                return None
            allowed = permissions.get("push") is True
        if allowed:
            return True
        raise SetupError(
            f"{self.identity()} has no push access to {self.config.repo}: GitHub would "
            f"silently drop the in-progress flag label from every new issue; {GRANT}"
        )

    def _ensure_label(self, name: str, *, color: str, description: str) -> None:
        """Make label ``name`` exist (idempotently: read it, create it when missing)."""
        if name.casefold() in self._ready_labels:
            return
        path = f"{self.repo_path}/labels/{quote(name, safe='')}"
        found = self.api.call("GET", path, what=f"read the label {name!r}")
        if found.status_code == 404:
            what = f"create the label {name!r}"
            made = self.api.call(
                "POST",
                f"{self.repo_path}/labels",
                what=what,
                idempotent=True,  # a second try finds it made: 422 already_exists
                json={"name": name, "color": color, "description": description[:100]},
            )
            if made.status_code == 422 and "already_exists" in made.text:
                pass
            elif made.status_code in (403, 404):
                raise SetupError(
                    f"{what}: GitHub answered {made.status_code} "
                    f"({answer_detail(made, scrub=self.api.scrub)}): {self.identity()} may not "
                    f"make labels in {self.config.repo}; {GRANT}, or make the label by hand"
                )
            elif made.status_code != 201:
                raise self.api.refused(what, made)
        elif found.status_code != 200:
            raise self.api.refused(f"read the label {name!r}", found)
        self._ready_labels.add(name.casefold())

    def _ensure_labels(self, flag: Flag) -> None:
        self._ensure_label(
            flag.label,
            color=FLAG_COLOR,
            description=f"ShitShovela ({flag.instance}) is moving this item; removed when done",
        )
        for name in self.config.labels:
            self._ensure_label(name, color=OTHER_COLOR, description="")

    def prepare(self, flag: Flag) -> None:
        """Before the run's first create: push access (GitHub drops labels without it)
        and the labels; `SetupError` naming the permission to grant otherwise."""
        if self._prepared:
            return
        self._require_push(self._repository())
        self._ensure_labels(flag)
        self._prepared = True

    # -- create ----------------------------------------------------------------------

    def create(self, draft: TicketDraft, flag: Flag, origin: Origin) -> Ticket:
        """One ``POST …/issues`` carrying the flag label and the origin (I3); never
        retried once sent (I4). An issue GitHub returns without the flag stops the run
        (`SetupError`)."""
        if draft.attachments and self.config.attachments == "set_aside":
            raise ItemRejected(
                f"the item has {len(draft.attachments)} file(s) and GitHub's API cannot "
                f"upload files ({self._env('ATTACHMENTS')}=set_aside)",
                by_setting=True,
            )
        self._ensure_labels(flag)
        self.identity()  # read before the create, so nothing stands between it and its answer
        title, _ = text.title(draft.title)
        body = text.body(
            instance=flag.instance,
            origin=origin,
            draft_title=draft.title,
            draft_body=draft.body,
            attachments=draft.attachments,
            limit=self.config.max_body,
        )
        labels = text.labels(self.config.labels, draft.labels, flag.label)
        what = "create the GitHub issue"
        response = self.api.call(
            "POST",
            f"{self.repo_path}/issues",
            what=what,
            json={"title": title, "body": body, "labels": labels},
        )
        status = response.status_code
        if status == 201:
            try:
                data = response.json()
                int(data["number"])
            except (ValueError, KeyError, TypeError):
                raise OutcomeUnknown(
                    f"{what}: GitHub answered 201 but the issue number could not be read"
                ) from None
            ticket = self._ticket(data, flag)
            if not ticket.flagged:
                self._void(ticket, title)
                raise SetupError(
                    f"GitHub created {ticket.key} without the in-progress flag label "
                    f"{flag.label} (it drops labels when {self.identity()} lacks push access "
                    f"to {self.config.repo}); {GRANT}. {ticket.key} was closed as not planned; "
                    "its item stays in the source"
                )
            return ticket
        detail = answer_detail(response, scrub=self.api.scrub)
        if status == 422:
            fields = _error_fields(response)
            if fields and fields <= {"title", "body"}:
                raise ItemRejected(
                    f"GitHub refused the issue's {', '.join(sorted(fields))}: {detail}"
                )
            raise ProviderError(
                f"{what}: GitHub refused it (422: {detail}); check {self._env('LABELS')} and "
                "the labels the plugins add"
            )
        if status in (403, 404, 410):
            raise SetupError(
                f"{what}: GitHub answered {status} ({detail}); check that {self.config.repo} "
                f"exists with issues turned on and that {self.identity()} may create issues "
                "in it"
            )
        raise self.api.refused(what, response)

    def _void(self, ticket: Ticket, title: str) -> None:
        """Close an issue made without the flag as not planned, marked ``[void]``, so
        that nobody works on it: its item stays in the source and is ticketed again
        once the setup is fixed. Best effort: the run stops either way."""
        void_title = VOID_PREFIX + title
        if len(void_title) > TITLE_MAX:
            void_title = void_title[: TITLE_MAX - 1] + text.ELLIPSIS
        try:
            response = self.api.call(
                "PATCH",
                f"{self.repo_path}/issues/{number_of(ticket.key)}",
                what="close an issue made without the flag",
                json={"title": void_title, "state": "closed", "state_reason": "not_planned"},
            )
            closed = response.status_code == 200
        except ProviderError:
            closed = False
        self.context.log.error(
            "github_flag_dropped",
            ticket=ticket.key,
            closed_as_void=closed,
            note="the issue has no flag; close it by hand if it is still open",
        )

    # -- listing ---------------------------------------------------------------------

    def _ticket(self, issue: Mapping[str, Any], flag: Flag) -> Ticket:
        """An issue (as GitHub renders it) as a ticket: flag, origin, author."""
        labels = tuple(
            str(label.get("name")) if isinstance(label, Mapping) else str(label)
            for label in issue.get("labels") or ()
        )
        ref = find_origin(str(issue.get("body") or ""))
        origin: Origin | None = None
        if ref is not None:
            try:
                origin = Origin.from_ref(ref)
            except ValueError:
                origin = None
        user = issue.get("user")
        login = user.get("login") if isinstance(user, Mapping) else None
        by_job = None if not login else str(login).casefold() == self.identity().casefold()
        return Ticket(
            key=self.key(int(issue["number"])),
            origin=origin,
            flagged=flag.label.casefold() in {label.casefold() for label in labels},
            url=str(issue.get("html_url") or ""),
            origin_ref=ref or "",
            labels=labels,
            by_job=by_job,
        )

    def _pages(self, params: Mapping[str, str | int]) -> Iterator[list[Mapping[str, Any]]]:
        """The issue listing with ``params``, page by page, following ``Link``."""
        what = "list GitHub issues"

        def fetch(url: str) -> httpx.Response:
            if url.startswith(("http://", "https://")) and not self.api.same_host(url):
                raise ProviderError(f"{what}: the next-page link leaves {self.config.api_url}")
            response = self.api.call("GET", url, what=what)
            if response.status_code != 200:
                raise self.api.refused(what, response)
            return response

        first = f"{self.repo_path}/issues?{urlencode(params)}"
        for response in follow_links(fetch, first):
            page = response.json()
            if not isinstance(page, list):
                raise ProviderError(f"{what}: GitHub's answer is not a list of issues")
            yield [issue for issue in page if isinstance(issue, Mapping)]

    def flagged(self, flag: Flag) -> Iterator[Ticket]:
        """This instance's flagged tickets, open or closed: the listing (read whole:
        reconcile unflags while it iterates), then the number probe."""
        params: dict[str, str | int] = {
            "labels": flag.label,
            "state": "all",
            "sort": "created",
            "direction": "asc",
            "per_page": PAGE,
        }
        listed: dict[str, Ticket] = {}
        for page in read_whole(self._pages(params)):
            for issue in page:
                ticket = self._ticket(issue, flag)
                if ticket.flagged:
                    listed.setdefault(ticket.key, ticket)
        seen = set(listed)
        yield from listed.values()
        for ticket in self.probe.unlisted(flag, seen):
            self.context.log.info("github_unlisted_ticket", ticket=ticket.key)
            yield ticket

    def _newest_number(self) -> int:
        """The highest issue or pull-request number the listing shows (0: none)."""
        params: dict[str, str | int] = {
            "state": "all",
            "sort": "created",
            "direction": "desc",
            "per_page": 1,
        }
        page = next(self._pages(params), [])
        return max((int(issue["number"]) for issue in page if "number" in issue), default=0)

    def _read_number(self, number: int, flag: Flag) -> Found:
        """Issue ``number`` read directly (never lags)."""
        what = "read a GitHub issue by number"
        response = self.api.call("GET", f"{self.repo_path}/issues/{number}", what=what)
        status = response.status_code
        if status == 404:
            return Found(exists=False)
        if status in (301, 410):  # transferred or deleted: the number was used
            return Found(exists=True)
        if status != 200:
            raise self.api.refused(what, response)
        issue = response.json()
        if not isinstance(issue, Mapping) or "pull_request" in issue:
            return Found(exists=True)  # a pull request shares the numbers: not ours
        return Found(exists=True, ticket=self._ticket(issue, flag))

    # -- unflag ----------------------------------------------------------------------

    def unflag(self, ticket: Ticket, flag: Flag) -> None:
        """Remove only ``flag.label``; a 404 ("Label does not exist") means done."""
        what = "remove the flag label"
        path = (
            f"{self.repo_path}/issues/{number_of(ticket.key)}/labels/{quote(flag.label, safe='')}"
        )
        response = self.api.call("DELETE", path, what=what)
        status = response.status_code
        if status == 200:
            return
        if status == 404 and "label does not exist" in response.text.lower():
            return
        if status in (404, 410):
            self.context.log.warning(
                "github_ticket_gone", ticket=ticket.key, note="no flag left to remove"
            )
            return
        if status == 403:
            raise Unreachable(
                f"{what} from {ticket.key}: GitHub answered 403 "
                f"({answer_detail(response, scrub=self.api.scrub)}); {GRANT}"
            )
        raise self.api.refused(what, response)

    # -- check -----------------------------------------------------------------------

    def check(self, flag: Flag) -> None:
        """Read-only: the identity, its push access to the repository, the flag label.

        Logs ``github_check`` with what it found; raises `Unreachable` (or
        `SetupError`) naming what to fix."""
        identity = self.identity()
        push = self._require_push(self._repository())
        path = f"{self.repo_path}/labels/{quote(flag.label, safe='')}"
        found = self.api.call("GET", path, what="read the flag label")
        if found.status_code not in (200, 404):
            raise self.api.refused("read the flag label", found)
        self.context.log.info(
            "github_check",
            identity=identity,
            kind=self.credentials.kind,
            repo=self.config.repo,
            push=push,
            flag_label=flag.label,
            flag_label_exists=found.status_code == 200,
            note="the flag label is made before the first create"
            if found.status_code == 404
            else "",
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self.api.close()
