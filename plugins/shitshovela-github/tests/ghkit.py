"""Test helpers: the GitHub provider wired to the GitHub emulator.

Shared by this plugin's tests and its bench script. `GitHubHarness` is the
conformance kit's harness (``ticket_system_suite(lambda: GitHubHarness(...))``);
`make_tickets` builds a `GitHubTickets` for an emulator with the core's real
safety policy; `EngineWorld` runs the core's engine in-process (the testkit's
`run_once`) from an in-memory source into the emulator. The emulator keeps
epoch seconds: give it ``wall_clock(clock)`` to share a `ManualClock` with the
budget and the engine (the clock's ``wall`` moves with it).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from shitshovela_github.tickets import GitHubTickets, number_of
from shitshovela_github_emulator import GitHubEmulator, IssueRecord, TokenConfig
from shitshovela_testkit.clock import ManualClock
from shitshovela_testkit.conformance import StoredTicket
from shitshovela_testkit.fakes import FakeSource, FakeStore, HardStop, fake_context
from shitshovela_testkit.runs import run_once

from shitshovela_core import FLAG_PREFIX, Flag, Origin, find_origin, origin_marker
from shitshovela_core.deadline import Budget
from shitshovela_core.engine import RunHooks, RunSummary

#: The repository and the tokens the emulator is started with (test doubles, not secrets).
REPO = "acme/tickets"
TOKEN = "ghp_shovelBot0000000000000000000000000000"
BOT = "ticket-bot"
NO_PUSH_TOKEN = "ghp_readOnly00000000000000000000000000000"
READER = "read-only-user"
OTHER_TOKEN = "ghp_someoneElse000000000000000000000000000"
OTHER = "someone-else"


def tokens() -> dict[str, TokenConfig]:
    """The bot's token (push access), a reader's (none) and another user's (push)."""
    return {
        TOKEN: TokenConfig(login=BOT, push=True),
        NO_PUSH_TOKEN: TokenConfig(login=READER, push=False),
        OTHER_TOKEN: TokenConfig(login=OTHER, push=True),
    }


def wall_clock(clock: ManualClock) -> Callable[[], float]:
    """Epoch seconds that move with ``clock`` (for the emulator's ``clock=``)."""
    return lambda: clock.wall().timestamp()


def emulator(*, spec: Path | None = None, **kwargs: Any) -> GitHubEmulator:
    """A started emulator with repository ``acme/tickets`` and the `tokens`."""
    options: dict[str, Any] = {"repos": [REPO], "tokens": tokens(), "validate_spec": spec}
    options.update(kwargs)
    return GitHubEmulator(**options).start()


def settings_for(gh: GitHubEmulator, **overrides: Any) -> dict[str, Any]:
    """Provider settings (by NAME) that reach ``gh`` with the bot's token."""
    settings: dict[str, Any] = {
        "API_URL": gh.api_url,
        "REPO": REPO,
        "TOKEN": TOKEN,
        "RATE": 1000.0,
        "LISTING_LAG": 0.0,
    }
    settings.update(overrides)
    return settings


def make_tickets(
    gh: GitHubEmulator,
    instance: str = "test",
    *,
    budget: Budget | None = None,
    wall: Callable[[], float] | None = None,
    **overrides: Any,
) -> GitHubTickets:
    """A `GitHubTickets` for ``gh`` under the core's real safety policy."""
    context = fake_context(
        "github", instance, settings=settings_for(gh, **overrides), budget=budget
    )
    return GitHubTickets(context, wall=wall)


def stored(record: IssueRecord) -> StoredTicket:
    """An issue as the kit's `StoredTicket`: its labels and the origin in its body."""
    return StoredTicket(tuple(record.labels), find_origin(record.body or ""))


class GitHubHarness:
    """The conformance kit's harness over one emulator, offering every capability.

    The listing lags `lag` seconds on a manual clock, which ``settle`` jumps past;
    with ``frozen=True`` the listing never learns anything new and ``settle`` does
    nothing, so the kit passes only if the provider reads issues by number past
    the listing (the probe). Listing pages hold `page_size` issues (the
    emulator's limit), so the kit's paging check flags several pages."""

    #: Issues per listing page (the emulator caps ``per_page`` at this).
    page_size = 5

    def __init__(self, spec: Path | None, *, lag: float = 30.0, frozen: bool = False) -> None:
        self.clock = ManualClock()
        self.frozen = frozen
        self.gh = emulator(
            spec=spec,
            listing_lag=lag,
            clock=wall_clock(self.clock),
            per_page_max=self.page_size,
        )
        if frozen:
            self.gh.freeze_listing()
        self._made: list[GitHubTickets] = []

    def tickets(self, instance: str, **overrides: Any) -> GitHubTickets:
        """A fresh provider for ``instance``."""
        made = make_tickets(self.gh, instance, **overrides)
        self._made.append(made)
        return made

    def tickets_with_wrong_credential(self, instance: str) -> GitHubTickets:
        """A provider whose token GitHub does not know."""
        return self.tickets(instance, TOKEN="ghp_wrong00000000000000000000000000000000")

    def _write(self, key: str, **changes: Any) -> None:
        state = self.gh.site.state
        with state.lock:
            repo = state.repo(REPO)
            assert repo is not None
            issue = repo.issue(number_of(key))
            assert issue is not None, key
            if "labels" in changes:
                changes["labels"] = (*issue.record.labels, *changes["labels"])
            state.update(issue, **changes)

    def close_ticket(self, key: str) -> None:
        """Close the issue as completed, as a person would."""
        self._write(key, state="closed", state_reason="completed", closed_at=time.time())

    def add_label(self, key: str, label: str) -> None:
        """Add a label, as a person would."""
        self._write(key, labels=(label,))

    def stored(self, key: str) -> StoredTicket:
        """The issue's labels and origin marker now."""
        return stored(self.gh.issue(number_of(key)))

    def stored_at_create(self, key: str) -> StoredTicket:
        """The issue as its create left it: the first entry of its write history."""
        state = self.gh.site.state
        with state.lock:
            repo = state.repo(REPO)
            assert repo is not None
            issue = repo.issue(number_of(key))
            assert issue is not None, key
            return stored(issue.history[0][1])

    def plant(self, flag: Flag, origin_ref: str) -> str:
        """Another user (with push access) creates an issue carrying ``flag`` and an
        origin marker for ``origin_ref``, through the API; return its key."""
        with self.gh.client(OTHER_TOKEN) as client:
            made = client.post(
                f"/repos/{REPO}/issues",
                json={
                    "title": "planted",
                    "body": f"Looks like ShitShovela's\n\n{origin_marker(origin_ref)}",
                    "labels": [flag.label],
                },
            )
        assert made.status_code == 201, made.text
        return f"{REPO}#{made.json()['number']}"

    def lose_next_create_answer(self) -> None:
        """The emulator applies the next create and drops the connection unanswered."""
        self.gh.faults.next_create = "commit_then_drop"

    def settle(self) -> None:
        """Let the listing catch up with every write so far (unless it is frozen)."""
        if not self.frozen:
            self.clock.advance(self.gh.listing_lag + 1.0)

    def close(self) -> None:
        """Stop the emulator; fail if any request or answer broke the OpenAPI excerpt."""
        for made in self._made:
            made.close()
        self.gh.stop()
        self.gh.assert_no_violations()


class EngineWorld:
    """The core's `Engine` in-process: a `FakeStore` source, GitHub through the emulator.

    Budget, engine and emulator share ``clock`` (the emulator through a manual clock's
    wall time), so the claim window and the listing lag pass without real time; a
    benchmark gives ``time.monotonic`` and an emulator on real time instead.
    ``run`` returns None when the run died of a `HardStop` (a simulated kill)."""

    def __init__(
        self, gh: GitHubEmulator, items: Mapping[str, str], *, clock: Callable[[], float]
    ) -> None:
        self.gh = gh
        self.clock = clock
        self.store = FakeStore("fake://inbox")
        for name, content in items.items():
            self.store.put(name, content)
        self.providers: list[GitHubTickets] = []

    def run(
        self,
        *,
        instance: str = "a",
        claim_window: float = 120.0,
        max_runtime: float = 600.0,
        hooks: RunHooks | None = None,
        **settings: Any,
    ) -> RunSummary | None:
        """One run of ``instance`` from the store into GitHub."""
        sleep = getattr(self.clock, "sleep", time.sleep)
        budget = Budget(max_runtime, started=self.clock(), clock=self.clock, sleep=sleep)
        context = fake_context("fake", instance, budget=budget)
        source = FakeSource(context, self.store)
        tickets = make_tickets(self.gh, instance, budget=budget, **settings)
        self.providers.append(tickets)
        try:
            return run_once(source, tickets, hooks=hooks, claim_window=claim_window)
        except HardStop:
            return None

    def issues(self) -> list[IssueRecord]:
        """Every issue (pull requests left out)."""
        return [i for i in self.gh.issues() if not i.pull_request]

    def tickets_per_item(self) -> Counter[str]:
        """How many issues carry each item's origin (issues without one are not counted)."""
        counts: Counter[str] = Counter()
        for issue in self.issues():
            ref = find_origin(issue.body or "")
            if ref is not None:
                counts[Origin.from_ref(ref).key] += 1
        return counts

    def flags_left(self) -> int:
        """Flag labels still on any issue."""
        return sum(1 for i in self.issues() for name in i.labels if name.startswith(FLAG_PREFIX))

    def remaining(self) -> Sequence[str]:
        """The names still in the source."""
        return sorted(self.store.names())
