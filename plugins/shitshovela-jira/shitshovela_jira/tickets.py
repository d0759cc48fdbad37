"""The Jira ticket system: Jira Cloud (REST v3) and Jira Data Center (REST v2).

What differs between the two (path prefix, auth, search paging, text format)
is the provider's `Flavour` (`shitshovela_jira.flavours`), which this module
asks and never branches on. Calls per ticket, in a run without faults:

- ``create``: one ``POST /issue`` carrying summary, description, labels (with
  this instance's flag label) and the origin as the issue property
  ``shitshovela.origin`` — flag and origin are atomic with the issue (I3);
- ``complete``: nothing, unless the draft has attachments or a long text: then
  one ``GET /issue/{key}`` (what is attached already) and one upload per
  missing file;
- ``unflag``: one ``PUT /issue/{key}`` with ``{"update": {"labels": [{"remove":
  flag}]}}``, which touches no other label and is idempotent.

Per run, `flagged` costs one JQL search (per page of 100) plus the key probe
(`shitshovela_jira.probe`): one more search and about ``PROBE_GAP`` direct
reads; the job's own account (``GET /myself``) is read at most once, when
the first issue is listed.

**Whose tickets (I7).** Every listed issue is read with its ``creator``;
``Ticket.by_job`` says whether the job's account made it, so the engine never
finishes a flag and an origin someone else planted.

**Lagging search (I2, I11).** JQL search is indexed: on Cloud it lags behind
writes by seconds to minutes, on Data Center across nodes. What keeps a
lagging index from making a second ticket is the core's claim window: the
core claims an item in the source before its create, and a claimed item
whose ticket cannot be found is left alone until ``SHITSHOVELA_CLAIM_WINDOW``
has passed since its claim; ``listing_lag = INDEX_LAG`` (60 s by default)
must be shorter than that window (checked when the provider is built), and a
source without claims makes reconcile wait ``INDEX_LAG`` before it lists.
The key probe (`KeyProbe`) only finishes sooner: after the JQL search it
reads by key, past the index, the flagged tickets the index has not seen yet,
so the next run reconciles such a ticket at once instead of after the index
caught up. It rests on assumptions nobody can check (keys handed out in
order, fewer than ``PROBE_GAP`` deleted in a row), so with claims nothing
depends on it finding every ticket; with a source without claims, the
``INDEX_LAG`` wait and the probe are all there is (that source's README says
so).
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import IO, Any

import httpx

from shitshovela_core import (
    FLAG_PREFIX,
    Attachment,
    ConfigError,
    Flag,
    HttpClient,
    ItemRejected,
    Origin,
    OutcomeUnknown,
    ProviderContext,
    ProviderError,
    Ticket,
    TicketDraft,
    TicketSystem,
    TransientError,
    Unreachable,
    env_name,
)

from . import flavours, jql, text
from .config import LABEL_MAX, ORIGIN_PROPERTY, JiraSettings
from .flavours import Flavour
from .probe import KeyProbe

#: Issues per search page (Jira Cloud returns at most 100 with fields).
PAGE = 100
#: Bodies longer than MAX_DESCRIPTION / this may have been cut: complete() checks.
LONG_TEXT_SHARE = 8
CUT_MARKER = "cut by ShitShovela"
#: Attachment content is copied to a temporary file when its stream cannot seek
#: (a retry after 429 resends it); in memory up to this size.
SPOOL_IN_MEMORY = 1024 * 1024

#: The issue fields a listed ticket is read with: its flag, and who created it.
TICKET_FIELDS = ("labels", "creator")

#: ``createIssue`` error fields that are about the item's content, not the configuration.
_CONTENT_FIELDS = frozenset({"summary", "description", "labels", "environment"})


def _errors_text(response: httpx.Response) -> str:
    """Jira's error answer in one line: errorMessages and errors, else the text."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:300].strip()
    if not isinstance(data, dict):
        return str(data)[:300]
    parts = [str(m) for m in data.get("errorMessages") or []]
    errors = data.get("errors") or {}
    if isinstance(errors, dict):
        parts += [f"{k}: {v}" for k, v in errors.items()]
    return "; ".join(parts)[:500] or response.text[:300].strip()


def _origin_of(value: Any) -> tuple[Origin | None, str]:
    """The origin from the ``shitshovela.origin`` property value, and its raw text."""
    if isinstance(value, dict) and isinstance(value.get("ref"), str):
        ref = value["ref"]
        try:
            return Origin.from_ref(ref), ref
        except ValueError:
            return None, ref
    return None, "" if value is None else json.dumps(value)[:1000]


class JiraTickets(TicketSystem):
    """Tickets as Jira issues; see the module docstring for the calls it makes."""

    completes_from_draft = True

    def __init__(self, context: ProviderContext) -> None:
        super().__init__(context)
        self.config = JiraSettings.of(context.settings)
        self.listing_lag = self.config.index_lag
        if self.listing_lag > 0 and context.claim_window <= self.listing_lag:
            raise ConfigError(
                f"{self._env('INDEX_LAG')} ({self.listing_lag:g}s) must be shorter than "
                f"{env_name(None, 'CLAIM_WINDOW')} ({context.claim_window:g}s): a claimed item "
                "would be ticketed again before Jira's search could list its first ticket; "
                "raise the window or lower the lag"
            )
        self._flavour: Flavour | None = flavours.configured(self.config)
        self._http: HttpClient | None = None
        self._myself: str | None = None
        self._near_limit_logged = False
        self._probe = KeyProbe(
            project=self.config.project,
            gap=self.config.probe_gap,
            newest=lambda query, n: self._search(query, page=n, limit=n),
            read=self._read_ticket,
        )
        context.safety.redactor.add(*flavours.secrets(self.config))

    # -- connection ------------------------------------------------------------------

    @property
    def flavour(self) -> Flavour:
        """Cloud or Data Center; with ``FLAVOUR=auto`` read from serverInfo once."""
        if self._flavour is None:
            self._flavour = flavours.detect(self.context.safety, self.config, self._env)
            self.context.log.info("jira_flavour", flavour=self._flavour.name, detected=True)
        return self._flavour

    @property
    def api(self) -> str:
        """The flavour's REST path prefix: ``/rest/api/3`` on Cloud, ``/rest/api/2`` on
        Data Center."""
        return self.flavour.api

    def _env(self, name: str) -> str:
        return env_name(self.context.provider, name)

    def myself(self) -> str:
        """The id of the account the job runs as (``GET /myself``: the ``accountId`` on
        Cloud, the user key on Data Center), read once per run."""
        if self._myself is None:
            what = "read myself"
            response = self._call("GET", f"{self.api}/myself", idempotent=True, what=what)
            if response.status_code != 200:
                raise self._refused(what, response)
            try:
                found = self.flavour.user_id(response.json())
            except (ValueError, AttributeError):
                found = ""
            if not found:
                raise Unreachable(f"{what}: Jira's answer names no account id")
            self._myself = found
        return self._myself

    def _by_job(self, fields: Mapping[str, Any]) -> bool | None:
        """Whether the job's account created the issue, from its ``creator`` (which no
        edit changes; the reporter can be set to anyone). A null creator (anonymous,
        or a deleted user) is not the job; None when Jira sent no creator at all."""
        if "creator" not in fields:
            return None
        creator = fields["creator"]
        if not isinstance(creator, Mapping):
            return False
        return self.flavour.user_id(creator) == self.myself()

    def _client(self) -> HttpClient:
        if self._http is None:
            self._http = self.flavour.client(self.context.safety, self.config)
        return self._http

    def _call(
        self, method: str, path: str, *, idempotent: bool, what: str, **kwargs: Any
    ) -> httpx.Response:
        """One request; 401 anywhere means the credentials are wrong (Unreachable)."""
        response = self._client().request(method, path, idempotent=idempotent, what=what, **kwargs)
        self._watch_limits(response)
        if response.status_code == 401:
            names = self.flavour.credentials(self._env)
            raise Unreachable(f"{what}: Jira refused the credentials (401): check {names}")
        return response

    def _watch_limits(self, response: httpx.Response) -> None:
        """Slow down for a second when Jira says the rate limit is near (Cloud)."""
        if response.headers.get("x-ratelimit-nearlimit", "").strip().lower() == "true":
            self.context.safety.retry_after(1.0)
            if not self._near_limit_logged:
                self._near_limit_logged = True
                self.context.log.warning("jira_rate_limit_near", note="pausing 1 s")

    def _refused(self, what: str, response: httpx.Response) -> ProviderError:
        detail = self.context.safety.redactor.scrub(_errors_text(response))
        status = response.status_code
        if status in (403, 404):
            return Unreachable(
                f"{what}: Jira answered {status} ({detail}); check that project "
                f"{self.config.project} exists and this account may browse, create and edit "
                "issues in it"
            )
        return ProviderError(f"{what}: Jira answered {status}: {detail}")

    # -- create ----------------------------------------------------------------------

    def _header(self, origin: Origin, title: str, attachments: Sequence[Attachment]) -> list[str]:
        lines = [f"Created by ShitShovela ({self.context.instance}) from {origin.describe()}"]
        _, cut = text.summary(title)
        if cut:
            lines.append("Full title: " + text.clean(title).replace("\n", " "))
        limit = self.config.max_attachment
        large = [a for a in attachments if a.size > limit]
        if large:
            names = ", ".join(f"{a.name} ({a.size} bytes)" for a in large)
            lines.append(f"Not attached, larger than {limit} bytes: {names}")
        return lines

    def _mapped(self, draft: TicketDraft, name: str, mapping: Mapping[str, str]) -> str:
        value = draft.fields.get(name)
        if value is None or str(value).strip() == "":
            return ""
        return mapping.get(str(value), str(value))

    def _fields(
        self, draft: TicketDraft, flag: Flag, origin: Origin
    ) -> tuple[dict[str, Any], set[str]]:
        """The ``fields`` of the create request, and which of them came from the draft."""
        config = self.config
        summary, _ = text.summary(draft.title)
        header = self._header(origin, draft.title, draft.attachments)
        description, _ = text.description(
            header, draft.body, limit=config.max_description, render=self.flavour.render
        )
        labels: list[str] = list(config.labels)
        for raw in draft.labels:
            cleaned = text.label(raw)
            if cleaned is not None and not cleaned.startswith(FLAG_PREFIX):
                labels.append(cleaned)
        labels.append(flag.label)
        fields: dict[str, Any] = {
            "project": {"key": config.project},
            "issuetype": {"name": config.issue_type},
            "summary": summary,
            "description": description,
            "labels": list(dict.fromkeys(label[:LABEL_MAX] for label in labels)),
        }
        from_draft: set[str] = set()
        component = self._mapped(draft, "component", config.component_map)
        if component:
            from_draft.add("components")
        component = component or config.component
        if component:
            fields["components"] = [{"name": component}]
        priority = self._mapped(draft, "priority", config.priority_map)
        if priority:
            from_draft.add("priority")
        priority = priority or config.priority
        if priority:
            fields["priority"] = {"name": priority}
        return fields, from_draft

    def create(self, draft: TicketDraft, flag: Flag, origin: Origin) -> Ticket:
        """One ``POST /issue`` carrying flag label and origin property (I3); never retried."""
        fields, from_draft = self._fields(draft, flag, origin)
        body = {
            "fields": fields,
            "properties": [
                {
                    "key": ORIGIN_PROPERTY,
                    "value": {"ref": origin.to_ref(), "instance": flag.instance},
                }
            ],
        }
        what = "create the Jira issue"
        response = self._call("POST", f"{self.api}/issue", idempotent=False, what=what, json=body)
        status = response.status_code
        if status in (200, 201):
            try:
                data = response.json()
                key = str(data["key"])
            except (ValueError, KeyError, TypeError):
                raise OutcomeUnknown(
                    f"{what}: Jira answered {status} but the issue key could not be read"
                ) from None
            return Ticket(
                key=key,
                origin=origin,
                flagged=True,
                url=f"{self.config.url}/browse/{key}",
                origin_ref=origin.to_ref(),
                labels=tuple(fields["labels"]),
                by_job=True,
            )
        detail = self.context.safety.redactor.scrub(_errors_text(response))
        if status == 400:
            bad = self._bad_fields(response)
            lowered = detail.lower()
            if "cannot be set" in lowered or "appropriate screen" in lowered:
                # A field missing from the project's create screen is a setup problem,
                # not this item's: every item would be refused, so stop, do not set aside.
                raise ProviderError(
                    f"{what}: Jira cannot set a field on this project ({detail}); add it to "
                    f"the create screen of {self._env('PROJECT')} / {self._env('ISSUE_TYPE')}"
                )
            if bad and bad <= _CONTENT_FIELDS | from_draft:
                raise ItemRejected(f"Jira refused the ticket's content: {detail}")
            if not bad and "content" in detail.lower():
                raise ItemRejected(f"Jira refused the ticket's content: {detail}")
            raise ProviderError(
                f"{what}: Jira refused it (400: {detail}); check {self._env('PROJECT')}, "
                f"{self._env('ISSUE_TYPE')}, {self._env('COMPONENT')} and {self._env('PRIORITY')}"
            )
        if status == 413:
            raise ItemRejected(f"Jira refused the ticket as too large: {detail}")
        raise self._refused(what, response)

    @staticmethod
    def _bad_fields(response: httpx.Response) -> set[str]:
        try:
            errors = response.json().get("errors") or {}
        except (ValueError, AttributeError):
            return set()
        return set(errors) if isinstance(errors, dict) else set()

    # -- listing ---------------------------------------------------------------------

    def _search(
        self, query: str, *, page: int = PAGE, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Issues matching ``query`` as the (lagging) index sees them, page by page
        (as the flavour pages), with their labels, creator and origin property."""
        body = {
            "jql": query,
            "maxResults": page,
            "fields": list(TICKET_FIELDS),
            "properties": [ORIGIN_PROPERTY],
        }
        what = "search Jira (JQL)"

        def post(path: str, body: Mapping[str, Any]) -> Any:
            response = self._call("POST", path, idempotent=True, what=what, json=body)
            if response.status_code != 200:
                raise self._refused(what, response)
            return response.json()

        count = 0
        for issues in self.flavour.search(post, body):
            for issue in issues:
                yield issue
                count += 1
                if limit is not None and count >= limit:
                    return

    def _ticket(self, issue: Mapping[str, Any], flag: Flag) -> Ticket:
        fields = issue.get("fields") or {}
        labels = tuple(str(x) for x in fields.get("labels") or ())
        origin, ref = _origin_of((issue.get("properties") or {}).get(ORIGIN_PROPERTY))
        key = str(issue["key"])
        return Ticket(
            key=key,
            origin=origin,
            flagged=flag.label in labels,
            url=f"{self.config.url}/browse/{key}",
            origin_ref=ref,
            labels=labels,
            by_job=self._by_job(fields),
        )

    def flagged(self, flag: Flag) -> Iterator[Ticket]:
        """This instance's flagged tickets: the JQL listing, then the key probe.

        The JQL listing is read completely before the first ticket is yielded:
        reconcile unflags tickets while it iterates, which would make offset
        pagination skip some."""
        listed: dict[str, Ticket] = {}
        for issue in self._search(jql.flagged(self.config.project, flag.label)):
            ticket = self._ticket(issue, flag)
            if ticket.flagged:
                listed.setdefault(ticket.key, ticket)
        seen = set(listed)
        yield from listed.values()
        for ticket in self._probe.unindexed(flag, seen):
            self.context.log.info("jira_unindexed_ticket", ticket=ticket.key)
            yield ticket

    def _read(self, key: str, fields: str) -> httpx.Response:
        return self._call(
            "GET",
            f"{self.api}/issue/{key}",
            idempotent=True,
            what="read a Jira issue",
            params={"fields": fields, "properties": ORIGIN_PROPERTY},
        )

    def _read_ticket(self, key: str, flag: Flag) -> Ticket | None:
        """The issue ``key`` as a ticket (with its labels and creator), None if it does
        not exist."""
        response = self._read(key, ",".join(TICKET_FIELDS))
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._refused("read a Jira issue", response)
        return self._ticket(response.json(), flag)

    # -- unflag ----------------------------------------------------------------------

    def unflag(self, ticket: Ticket, flag: Flag) -> None:
        """Remove only ``flag.label`` (the ``update.labels`` remove form); idempotent."""
        what = "remove the flag label"
        response = self._call(
            "PUT",
            f"{self.api}/issue/{ticket.key}",
            idempotent=True,
            what=what,
            json={"update": {"labels": [{"remove": flag.label}]}},
        )
        if response.status_code in (200, 204):
            return
        if response.status_code == 404:
            self.context.log.warning(
                "jira_ticket_gone", ticket=ticket.key, note="no flag left to remove"
            )
            return
        raise self._refused(what, response)

    # -- complete (attachments) --------------------------------------------------------

    def complete(self, ticket: Ticket, draft: TicketDraft) -> None:
        """Upload the draft's attachments the ticket lacks (by name and size), and the
        full text when the description was cut. Idempotent; costs nothing for a
        draft without attachments and with a short text. The draft is the one the
        create used, so a file a hook dropped is never uploaded."""
        long_text = text.jira_length(draft.title) + text.jira_length(draft.body) > (
            self.config.max_description // LONG_TEXT_SHARE
        )
        if not draft.attachments and not long_text:
            return
        response = self._read(ticket.key, "attachment,description")
        if response.status_code == 404:
            raise TransientError(
                f"ticket {ticket.key} is gone from Jira; its item is kept for the next run"
            )
        if response.status_code != 200:
            raise self._refused("read a Jira issue's attachments", response)
        fields = response.json().get("fields") or {}
        present = collections.Counter(
            (str(a.get("filename")), int(a.get("size", -1)))
            for a in fields.get("attachment") or []
            if isinstance(a, dict)
        )
        uploads: list[tuple[str, int, str, Callable[[], AbstractContextManager[IO[bytes]]]]] = []
        limit = self.config.max_attachment
        for attachment in draft.attachments:
            if attachment.size <= limit:
                uploads.append(
                    (attachment.name, attachment.size, attachment.content_type, attachment.open)
                )
        if long_text and CUT_MARKER in json.dumps(fields.get("description"), ensure_ascii=False):
            full = (draft.title + "\n\n" + draft.body).encode("utf-8")
            uploads.append((text.FULL_TEXT_NAME, len(full), "text/plain", lambda: io.BytesIO(full)))
        too_large: list[str] = []
        for name, size, content_type, opener in uploads:
            if present[(name, size)] > 0:
                present[(name, size)] -= 1
                continue
            if not self._upload(ticket.key, name, content_type, opener):
                too_large.append(f"{name} ({size} bytes)")
        if too_large:
            self._comment(
                ticket.key,
                "ShitShovela could not attach these files, Jira refused them as too large: "
                + ", ".join(too_large),
            )

    def _upload(
        self,
        key: str,
        name: str,
        content_type: str,
        opener: Callable[[], AbstractContextManager[IO[bytes]]],
    ) -> bool:
        """Upload one file; False if Jira refuses it as too large (413)."""
        what = "upload an attachment"
        with opener() as stream, contextlib.ExitStack() as stack:
            body: IO[bytes] = stream
            if not (getattr(stream, "seekable", lambda: False)()):
                spool = stack.enter_context(tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY))
                shutil.copyfileobj(stream, spool, 64 * 1024)
                spool.seek(0)
                body = spool
            try:
                response = self._call(
                    "POST",
                    f"{self.api}/issue/{key}/attachments",
                    idempotent=False,
                    what=what,
                    headers={"X-Atlassian-Token": "no-check"},
                    files={"file": (name, body, content_type or "application/octet-stream")},
                )
            except OutcomeUnknown as exc:
                # Not a create: the ticket exists and stays flagged, and the next run's
                # complete() sees whether this file arrived. Stop the run, no exit 6.
                raise TransientError(f"{exc}; the next run completes {key}") from None
        if response.status_code == 200:
            self.context.log.info("jira_attached", ticket=key, file=name)
            return True
        if response.status_code == 413:
            self.context.log.warning("jira_attachment_too_large", ticket=key, file=name)
            return False
        raise self._refused(what, response)

    def _comment(self, key: str, message: str) -> None:
        body = self.flavour.comment(message)
        what = "add a comment"
        try:
            response = self._call(
                "POST",
                f"{self.api}/issue/{key}/comment",
                idempotent=False,
                what=what,
                json={"body": body},
            )
        except OutcomeUnknown as exc:
            raise TransientError(f"{exc}; the next run completes {key}") from None
        if response.status_code != 201:
            raise self._refused(what, response)

    # -- check -----------------------------------------------------------------------

    def check(self, flag: Flag) -> None:
        """Read-only: credentials, the project, the issue type, the flag query.

        Raises `Unreachable` naming what is wrong (401 credentials, 403/404 project,
        an issue type this account cannot create)."""
        config = self.config
        self.myself()
        project = self._call(
            "GET", f"{self.api}/project/{config.project}", idempotent=True, what="read the project"
        )
        if project.status_code != 200:
            raise Unreachable(
                f"project {config.project} cannot be read (Jira answered {project.status_code}): "
                f"it does not exist or this account may not browse it; check {self._env('PROJECT')}"
            )
        components = {
            str(c.get("name"))
            for c in project.json().get("components") or []
            if isinstance(c, dict)
        }
        wanted = {config.component} | set(config.component_map.values())
        missing = sorted(c for c in wanted if c and c not in components)
        if missing:
            raise Unreachable(
                f"project {config.project} has no component {', '.join(missing)}; check "
                f"{self._env('COMPONENT')} and {self._env('COMPONENT_MAP')}"
            )
        meta = self._call(
            "GET",
            f"{self.api}/issue/createmeta/{config.project}/issuetypes",
            idempotent=True,
            what="read the creatable issue types",
            params={"maxResults": 200},
        )
        if meta.status_code != 200:
            raise self._refused("read the creatable issue types", meta)
        data = meta.json()
        types = data.get("issueTypes", data.get("values")) or []
        names = {str(t.get("name")) for t in types if isinstance(t, dict)}
        if config.issue_type not in names:
            raise Unreachable(
                f"this account cannot create {config.issue_type!r} issues in {config.project} "
                f"(creatable: {', '.join(sorted(names)) or 'none'}): the type is wrong "
                f"({self._env('ISSUE_TYPE')}) or the Create Issues permission is missing"
            )
        if any(ch.isspace() for ch in flag.label) or len(flag.label) > LABEL_MAX:
            raise Unreachable(f"the flag label {flag.label!r} is not a valid Jira label")
        next(self._search(jql.flagged(config.project, flag.label), page=1, limit=1), None)

    def close(self) -> None:
        """Close the HTTP connections."""
        if self._http is not None:
            self._http.close()
            self._http = None
