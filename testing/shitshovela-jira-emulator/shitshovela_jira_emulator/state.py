"""The emulator's data: projects, issues, the lagging search index, faults, recordings."""

from __future__ import annotations

import copy
import datetime as _dt
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from shitshovela_testkit.faultscript import FAULT_MODES, Countdown

__all__ = [
    "AttachmentRecord",
    "CommentRecord",
    "Faults",
    "HeldCreate",
    "HeldCreates",
    "IssueRecord",
    "ProjectConfig",
]

PRIORITIES: tuple[tuple[str, str], ...] = (
    ("1", "Highest"),
    ("2", "High"),
    ("3", "Medium"),
    ("4", "Low"),
    ("5", "Lowest"),
)
STATUSES: dict[str, tuple[str, str, int, str]] = {
    # name -> (id, category key, category id, category name)
    "To Do": ("10000", "new", 2, "To Do"),
}


@dataclass(frozen=True)
class ProjectConfig:
    """A project of the emulated instance."""

    key: str
    issue_types: Sequence[str] = ("Task",)
    name: str | None = None
    components: Sequence[str] = ()


@dataclass(frozen=True)
class AttachmentRecord:
    id: str
    filename: str
    size: int
    mime_type: str
    content: bytes
    created: _dt.datetime
    #: The username of who uploaded it.
    author: str = ""


@dataclass(frozen=True)
class CommentRecord:
    id: str
    body_text: str
    body_adf: dict[str, Any] | None
    created: _dt.datetime
    #: The username of who wrote it.
    author: str = ""

    def __str__(self) -> str:
        return self.body_text


@dataclass(frozen=True)
class IssueRecord:
    """An immutable copy of one issue (what tests assert on, and what the index holds)."""

    id: str
    key: str
    project_key: str
    issuetype: str
    summary: str
    description: str | None  # plain text (v2 form, or the text of the ADF)
    description_adf: dict[str, Any] | None  # ADF as sent through v3, if it was
    labels: tuple[str, ...]
    components: tuple[str, ...]
    priority: str
    status: str
    properties: dict[str, Any]
    attachments: tuple[AttachmentRecord, ...]
    comments: tuple[CommentRecord, ...]
    created: _dt.datetime
    updated: _dt.datetime
    custom_fields: dict[str, Any] = field(default_factory=dict)
    #: The username of the user whose request created the issue (Jira's ``creator``,
    #: which no edit changes; the emulator's ``reporter`` is the same user).
    creator: str = ""

    @property
    def number(self) -> int:
        return int(self.key.rsplit("-", 1)[1])


@dataclass
class _Project:
    id: str
    key: str
    name: str
    issue_types: list[str]
    components: dict[str, str]  # name -> id
    next_number: int = 1


@dataclass
class _Issue:
    record: IssueRecord
    # (clock time of the write, what the index learns from that write)
    index_history: list[tuple[float, IssueRecord]] = field(default_factory=list)


#: How long a held create waits for its commit when no delay was given (an upper
#: bound, so that a forgotten hold cannot keep a server thread forever).
HOLD_FOREVER = 3600.0


class HeldCreate:
    """A create the server accepted and has not committed yet: its issue appears only
    when it is committed (a late commit), or never when it is discarded.

    ``after`` is how long it waits to commit by itself (real seconds from `wait`),
    None for "only when told"."""

    def __init__(
        self, commit: Callable[[], IssueRecord], lock: threading.RLock, after: float | None
    ) -> None:
        self._commit = commit
        self._lock = lock
        self._settled = threading.Event()
        self.after = after
        self.record: IssueRecord | None = None

    def commit(self) -> IssueRecord | None:
        """Commit the create now (once); its issue, or None if it was discarded."""
        with self._lock:
            if not self._settled.is_set():
                self.record = self._commit()
                self._settled.set()
            return self.record

    def discard(self) -> None:
        """Never commit it (unless it was already)."""
        with self._lock:
            self._settled.set()

    @property
    def settled(self) -> bool:
        """Committed or discarded."""
        return self._settled.is_set()

    def wait(self) -> IssueRecord | None:
        """Block until committed or discarded, committing it at its delay; the issue,
        or None when it was discarded."""
        if self._settled.wait(HOLD_FOREVER if self.after is None else self.after):
            return self.record
        return self.commit() if self.after is not None else None


class HeldCreates:
    """The creates the server holds (`Faults.hold_next_create`), in arrival order."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._held: list[HeldCreate] = []

    def hold(self, commit: Callable[[], IssueRecord], after: float | None) -> HeldCreate:
        """Hold a create (``commit`` makes its issue): see `HeldCreate`."""
        held = HeldCreate(commit, self._lock, after)
        with self._lock:
            self._held.append(held)
        return held

    def pending(self) -> list[HeldCreate]:
        """The held creates neither committed nor discarded yet."""
        with self._lock:
            return [held for held in self._held if not held.settled]

    def commit_all(self) -> list[IssueRecord]:
        """Commit every pending create now, in arrival order; their issues."""
        return [rec for held in self.pending() if (rec := held.commit()) is not None]

    def discard_all(self) -> int:
        """Discard every pending create; how many there were."""
        pending = self.pending()
        for held in pending:
            held.discard()
        return len(pending)


class Faults:
    """Fault modes a test sets at run time; every method is thread-safe.

    * ``next_create`` / ``next_edit``: one-shot, one of ``"commit_then_500"`` (apply the
      write, answer 500), ``"commit_then_drop"`` (apply it, close the connection without
      an answer), ``"fail_500"`` (answer 500, nothing written), ``"drop"`` (close the
      connection, nothing written).
    * ``rate_limit(n, retry_after="2")``: the next ``n`` requests get 429 with
      ``Retry-After`` and ``X-RateLimit-*`` headers.
    * ``unavailable(n, retry_after=None)``: the next ``n`` requests get 503.
    * ``forbid_project(key, browse=True)``: no create/edit permission in the project
      (403; createmeta lists no issue types); with ``browse=False`` the project and its
      issues are invisible (404, JQL "does not exist", filtered from search).
    * ``hold_next_create(commit_after=None)``: one-shot; the next create is checked,
      then held uncommitted with its connection open (the client times out, its
      outcome unknown) and committed ``commit_after`` seconds later, or only when
      the test says (`JiraEmulator.commit_held`), or never.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hold_after: float | None = None
        self._next: dict[str, str | None] = {"create": None, "edit": None}
        # (status, Retry-After, RateLimit-Reason) for the next n requests
        self._throttle: Countdown[tuple[int, str | None, str | None]] = Countdown()
        self._forbidden: dict[str, bool] = {}  # project key -> browse allowed

    def _set(self, kind: str, mode: str | None) -> None:
        if mode is not None and mode not in FAULT_MODES:
            raise ValueError(f"unknown fault {mode!r}; one of {sorted(FAULT_MODES)}")
        with self._lock:
            self._next[kind] = mode

    @property
    def next_create(self) -> str | None:
        with self._lock:
            return self._next["create"]

    @next_create.setter
    def next_create(self, mode: str | None) -> None:
        self._set("create", mode)

    @property
    def next_edit(self) -> str | None:
        with self._lock:
            return self._next["edit"]

    @next_edit.setter
    def next_edit(self, mode: str | None) -> None:
        self._set("edit", mode)

    def hold_next_create(self, commit_after: float | None = None) -> None:
        """Hold the next create: see the class docstring."""
        with self._lock:
            self._next["create"] = "hold"
            self._hold_after = commit_after

    def take_hold(self) -> float | None:
        """The delay of the held create just taken (None: until told)."""
        with self._lock:
            after, self._hold_after = self._hold_after, None
            return after

    def take(self, kind: str) -> str | None:
        with self._lock:
            mode = self._next[kind]
            self._next[kind] = None
            return mode

    def rate_limit(
        self, n_requests: int, retry_after: str | None = "2", reason: str = "jira-burst-based"
    ) -> None:
        self._throttle.add(n_requests, (429, retry_after, reason))

    def unavailable(self, n_requests: int, retry_after: str | None = None) -> None:
        self._throttle.add(n_requests, (503, retry_after, None))

    def take_throttle(self) -> tuple[int, str | None, str | None] | None:
        """(status, Retry-After, RateLimit-Reason) for this request, or None."""
        return self._throttle.take()

    def forbid_project(self, key: str, *, browse: bool = True) -> None:
        with self._lock:
            self._forbidden[key.upper()] = browse

    def allow_project(self, key: str) -> None:
        with self._lock:
            self._forbidden.pop(key.upper(), None)

    def can_browse(self, key: str) -> bool:
        with self._lock:
            return self._forbidden.get(key.upper(), True)

    def can_write(self, key: str) -> bool:
        with self._lock:
            return key.upper() not in self._forbidden

    def clear(self) -> None:
        with self._lock:
            self._next = {"create": None, "edit": None}
            self._throttle.clear()
            self._forbidden.clear()


def now_utc() -> _dt.datetime:
    """The wall-clock time, to Jira's millisecond precision."""
    t = _dt.datetime.now(_dt.UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


class JiraState:
    """All mutable state behind one lock."""

    def __init__(
        self,
        projects: Mapping[str, Sequence[str] | ProjectConfig],
        clock: Callable[[], float],
        index_lag: float,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self._index_lag = float(index_lag)
        self.projects: dict[str, _Project] = {}
        self.issue_type_ids: dict[str, str] = {}
        self.issues: dict[str, _Issue] = {}  # id -> issue
        self.by_key: dict[str, str] = {}  # upper key -> id
        self._next_issue_id = 10000
        self._next_attachment_id = 20000
        self._next_comment_id = 30000
        component_id = 10100
        for n, (key, spec) in enumerate(projects.items()):
            cfg = spec if isinstance(spec, ProjectConfig) else ProjectConfig(key, tuple(spec))
            comps: dict[str, str] = {}
            for cname in cfg.components:
                comps[cname] = str(component_id)
                component_id += 1
            for t in cfg.issue_types:
                self.issue_type_ids.setdefault(t, str(10001 + len(self.issue_type_ids)))
            self.projects[key.upper()] = _Project(
                id=str(10000 + n),
                key=key.upper(),
                name=cfg.name or f"{key.upper()} project",
                issue_types=list(cfg.issue_types),
                components=comps,
            )

    # ------------------------------------------------------------------ index lag
    @property
    def index_lag(self) -> float:
        with self.lock:
            return self._index_lag

    @index_lag.setter
    def index_lag(self, seconds: float) -> None:
        with self.lock:
            self._index_lag = float(seconds)

    def _index(self, issue: _Issue, *, immediately: bool = False) -> None:
        at = float("-inf") if immediately else self.clock()
        issue.index_history.append((at, issue.record))

    def indexed_view(self, issue: _Issue, reconcile: bool) -> IssueRecord | None:
        """What search sees of ``issue`` now: the newest write older than the lag."""
        if reconcile:
            return issue.record
        now = self.clock()
        seen: IssueRecord | None = None
        for at, rec in issue.index_history:
            if now - at >= self._index_lag:
                seen = rec
        return seen

    # --------------------------------------------------------------------- lookup
    def project(self, key_or_id: str) -> _Project | None:
        p = self.projects.get(key_or_id.upper())
        if p is not None:
            return p
        for p in self.projects.values():
            if p.id == key_or_id:
                return p
        return None

    def find(self, key_or_id: str) -> _Issue | None:
        ident = self.by_key.get(key_or_id.upper(), key_or_id)
        return self.issues.get(ident)

    # --------------------------------------------------------------------- writes
    def create(
        self,
        project: _Project,
        *,
        issuetype: str,
        summary: str,
        description: str | None,
        description_adf: dict[str, Any] | None,
        labels: Sequence[str],
        components: Sequence[str],
        priority: str,
        properties: Mapping[str, Any],
        custom_fields: Mapping[str, Any] | None = None,
        indexed_immediately: bool = False,
        creator: str = "",
    ) -> IssueRecord:
        issue_id = str(self._next_issue_id)
        self._next_issue_id += 1
        key = f"{project.key}-{project.next_number}"
        project.next_number += 1
        now = now_utc()
        rec = IssueRecord(
            id=issue_id,
            key=key,
            project_key=project.key,
            issuetype=issuetype,
            summary=summary,
            description=description,
            description_adf=copy.deepcopy(description_adf),
            labels=tuple(sorted(set(labels))),
            components=tuple(components),
            priority=priority,
            status="To Do",
            properties=copy.deepcopy(dict(properties)),
            attachments=(),
            comments=(),
            created=now,
            updated=now,
            custom_fields=copy.deepcopy(dict(custom_fields or {})),
            creator=creator,
        )
        issue = _Issue(rec)
        self._index(issue, immediately=indexed_immediately)
        self.issues[issue_id] = issue
        self.by_key[key.upper()] = issue_id
        return rec

    def update(self, issue: _Issue, *, reindex: bool = True, **changes: Any) -> IssueRecord:
        if "labels" in changes:
            changes["labels"] = tuple(sorted(set(changes["labels"])))
        if "properties" in changes:
            changes["properties"] = copy.deepcopy(changes["properties"])
        issue.record = replace(issue.record, updated=now_utc(), **changes)
        if reindex:
            self._index(issue)
        return issue.record

    def new_attachment_id(self) -> str:
        self._next_attachment_id += 1
        return str(self._next_attachment_id)

    def new_comment_id(self) -> str:
        self._next_comment_id += 1
        return str(self._next_comment_id)
