"""The emulator's data: repositories, their labels, issues and pull requests, the lagging listing.

Issues and pull requests share one number sequence per repository, as on
GitHub. Every write to an issue is kept with the time it was made, so that
the listing (``GET /repos/{owner}/{repo}/issues``) can lag behind: it sees,
of each issue, the newest write at least `GitHubState.listing_lag` seconds
old (an issue created more recently is not listed at all), and nothing
written after `GitHubState.freeze_listing` until `GitHubState.thaw_listing`.
A read by number always sees the current state. Every timestamp is seconds
since the epoch on the emulator's clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .config import DEFAULT_LABELS, LabelSpec, RepoConfig

__all__ = ["CommentRecord", "GitHubState", "IssueRecord", "LabelRecord", "Repo"]


@dataclass(frozen=True)
class LabelRecord:
    """A repository's label."""

    id: int
    name: str
    color: str
    description: str | None
    default: bool


@dataclass(frozen=True)
class CommentRecord:
    """A comment on an issue."""

    id: int
    body: str
    user: str
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class IssueRecord:
    """An immutable copy of one issue or pull request (what tests assert on)."""

    id: int
    repo: str  # owner/name, as configured
    number: int
    title: str
    body: str | None
    state: str  # "open" | "closed"
    state_reason: str | None
    labels: tuple[str, ...]  # label names as the repository spells them, in the order added
    user: str
    created_at: float
    updated_at: float
    closed_at: float | None = None
    closed_by: str | None = None
    comments: tuple[CommentRecord, ...] = ()
    pull_request: bool = False

    def has_label(self, name: str) -> bool:
        """Whether it carries the label (names are compared as GitHub does, ignoring case)."""
        return name.casefold() in {n.casefold() for n in self.labels}


@dataclass
class _Issue:
    record: IssueRecord
    # (clock time of the write, the issue as that write left it)
    history: list[tuple[float, IssueRecord]] = field(default_factory=list)


@dataclass
class Repo:
    """One repository's mutable state (read and change it under `GitHubState.lock`)."""

    id: int
    owner: str
    name: str
    config: RepoConfig
    created_at: float
    labels: dict[str, LabelRecord] = field(default_factory=dict)  # casefolded name -> label
    issues: dict[int, _Issue] = field(default_factory=dict)  # number -> issue
    next_number: int = 1

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def label(self, name: str) -> LabelRecord | None:
        """The label of that name, ignoring case."""
        return self.labels.get(name.casefold())

    def issue(self, number: int) -> _Issue | None:
        return self.issues.get(number)


class GitHubState:
    """All mutable data behind one lock (an `RLock`: handlers hold it while they work)."""

    def __init__(
        self,
        repos: Mapping[str, RepoConfig] | Sequence[str],
        clock: Callable[[], float],
        listing_lag: float,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self._listing_lag = float(listing_lag)
        self._frozen_at: float | None = None
        self.repos: dict[str, Repo] = {}  # casefolded owner/name -> repo
        self._next_repo_id = 700_000_001
        self._next_issue_id = 2_000_000_001
        self._next_label_id = 5_000_000_001
        self._next_comment_id = 3_000_000_001
        configs = repos if isinstance(repos, Mapping) else {name: RepoConfig() for name in repos}
        for full_name, config in configs.items():
            self.add_repo(full_name, config)

    # ---------------------------------------------------------------- repositories
    def add_repo(self, full_name: str, config: RepoConfig | None = None) -> Repo:
        owner, sep, name = full_name.partition("/")
        if not (sep and owner and name) or "/" in name:
            raise ValueError(f"a repository is named owner/name, not {full_name!r}")
        config = config or RepoConfig()
        with self.lock:
            if full_name.casefold() in self.repos:
                raise ValueError(f"repository {full_name} exists already")
            repo = Repo(self._next_repo_id, owner, name, config, self.clock())
            self._next_repo_id += 1
            specs = list(DEFAULT_LABELS) if config.default_labels else []
            for extra in config.labels:
                specs.append(extra if isinstance(extra, LabelSpec) else LabelSpec(extra))
            for spec in specs:
                if repo.label(spec.name) is None:
                    self.add_label(
                        repo,
                        spec.name,
                        spec.color,
                        spec.description,
                        default=spec in DEFAULT_LABELS,
                    )
            self.repos[full_name.casefold()] = repo
            return repo

    def repo(self, full_name: str) -> Repo | None:
        """The repository, its name compared ignoring case (as GitHub does)."""
        return self.repos.get(full_name.casefold())

    # ---------------------------------------------------------------------- labels
    def add_label(
        self,
        repo: Repo,
        name: str,
        color: str = "ededed",
        description: str | None = None,
        *,
        default: bool = False,
    ) -> LabelRecord:
        with self.lock:
            label = LabelRecord(self._next_label_id, name, color.lower(), description, default)
            self._next_label_id += 1
            repo.labels[name.casefold()] = label
            return label

    # ---------------------------------------------------------------------- listing
    @property
    def listing_lag(self) -> float:
        with self.lock:
            return self._listing_lag

    @listing_lag.setter
    def listing_lag(self, seconds: float) -> None:
        with self.lock:
            self._listing_lag = float(seconds)

    @property
    def listing_frozen(self) -> bool:
        with self.lock:
            return self._frozen_at is not None

    def freeze_listing(self) -> None:
        """From now on the listing shows no write until `thaw_listing` (idempotent)."""
        with self.lock:
            if self._frozen_at is None:
                self._frozen_at = self.clock()

    def thaw_listing(self) -> None:
        """The listing catches up again (after its lag)."""
        with self.lock:
            self._frozen_at = None

    def listed_view(self, issue: _Issue) -> IssueRecord | None:
        """What the listing sees of ``issue`` now: its newest write old enough, if any."""
        now = self.clock()
        seen: IssueRecord | None = None
        for at, rec in issue.history:
            if now - at < self._listing_lag:
                break
            if self._frozen_at is not None and at > self._frozen_at:
                break
            seen = rec
        return seen

    def listed(self, repo: Repo) -> list[IssueRecord]:
        """Every issue and pull request of ``repo`` as the lagging listing sees it."""
        with self.lock:
            views = (self.listed_view(i) for i in repo.issues.values())
            return [v for v in views if v is not None]

    # ---------------------------------------------------------------------- writes
    def create_issue(
        self,
        repo: Repo,
        *,
        title: str,
        body: str | None,
        labels: Iterable[str],
        user: str,
        pull_request: bool = False,
        listed_at_once: bool = False,
    ) -> IssueRecord:
        """A new issue (or pull request) with the repository's next number."""
        with self.lock:
            now = self.clock()
            rec = IssueRecord(
                id=self._next_issue_id,
                repo=repo.full_name,
                number=repo.next_number,
                title=title,
                body=body,
                state="open",
                state_reason=None,
                labels=_unique(labels),
                user=user,
                created_at=now,
                updated_at=now,
                pull_request=pull_request,
            )
            self._next_issue_id += 1
            repo.next_number += 1
            issue = _Issue(rec)
            issue.history.append((float("-inf") if listed_at_once else now, rec))
            repo.issues[rec.number] = issue
            return rec

    def update(self, issue: _Issue, **changes: Any) -> IssueRecord:
        """Apply ``changes`` to the issue (``updated_at`` moves on); the listing learns later."""
        with self.lock:
            if "labels" in changes:
                changes["labels"] = _unique(changes["labels"])
            now = self.clock()
            issue.record = replace(issue.record, updated_at=now, **changes)
            issue.history.append((now, issue.record))
            return issue.record

    def add_comment(self, issue: _Issue, body: str, user: str) -> CommentRecord:
        with self.lock:
            now = self.clock()
            comment = CommentRecord(self._next_comment_id, body, user, now, now)
            self._next_comment_id += 1
            self.update(issue, comments=(*issue.record.comments, comment))
            return comment


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    """The names in order, each once (ignoring case)."""
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        if name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return tuple(out)
