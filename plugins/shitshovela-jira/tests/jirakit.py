"""Test helpers: the Jira provider wired to the emulator.

Shared by this plugin's tests and its bench script. `JiraHarness` is the
conformance kit's harness (``ticket_system_suite(lambda: JiraHarness(...))``);
`make_tickets` builds a `JiraTickets` for an emulator with the core's real
safety policy; `EngineWorld` runs the core's engine in-process (the testkit's
`run_once`) from an in-memory source into the emulator. Budget, engine and the
emulator's index share one clock: the testkit's `ManualClock`, following real
time (``ManualClock(follow_real_time=True)``) when requests must keep real
per-call deadlines.
"""

from __future__ import annotations

import io
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import attrs
from shitshovela_jira.tickets import JiraTickets
from shitshovela_jira_emulator import JiraEmulator, ProjectConfig
from shitshovela_testkit.clock import ManualClock
from shitshovela_testkit.conformance import StoredTicket
from shitshovela_testkit.fakes import FakeSource, FakeStore, HardStop, fake_context
from shitshovela_testkit.runs import run_once

from shitshovela_core.deadline import Budget
from shitshovela_core.engine import RunHooks, RunSummary
from shitshovela_core.models import FLAG_PREFIX, Attachment, Item, Origin, PoisonItem
from shitshovela_core.providers import ProviderContext

#: Credentials the emulator is started with (test doubles, not secrets of anyone).
EMAIL = "bot@example.com"
API_TOKEN = "cl0ud-T0ken/with+odd=chars 1e3"
PAT = "dc-PAT:0x1F/with+odd=chars"
PROJECT = "OPS"


def emulator(
    flavour: str = "cloud",
    *,
    spec: Path | None = None,
    index_lag: float = 0.0,
    clock: Any = None,
    **kwargs: Any,
) -> JiraEmulator:
    """A started emulator with project ``OPS`` (Task, Bug; component Mail)."""
    options: dict[str, Any] = {
        "flavour": flavour,
        "projects": {PROJECT: ProjectConfig(PROJECT, ("Task", "Bug"), components=("Mail",))},
        "email": EMAIL,
        "api_token": API_TOKEN,
        "pat": PAT,
        "validate_spec": spec,
        "index_lag": index_lag,
        **kwargs,
    }
    if clock is not None:
        options["clock"] = clock
    return JiraEmulator(**options).start()


def settings_for(
    jira: JiraEmulator, *, flavour: str | None = None, **overrides: Any
) -> dict[str, Any]:
    """Provider settings (by NAME) that reach ``jira`` with the right credentials."""
    settings: dict[str, Any] = {
        "URL": jira.url,
        "FLAVOUR": flavour or jira.flavour,
        "PROJECT": PROJECT,
        "RATE": 1000.0,
        "INDEX_LAG": 0.0,
    }
    if jira.flavour == "cloud":
        settings.update(EMAIL=EMAIL, API_TOKEN=API_TOKEN)
    else:
        settings.update(PAT=PAT)
    settings.update(overrides)
    return settings


def make_tickets(
    jira: JiraEmulator,
    instance: str = "test",
    *,
    budget: Budget | None = None,
    flavour: str | None = None,
    **overrides: Any,
) -> JiraTickets:
    """A `JiraTickets` for ``jira`` under the core's real safety policy (rate, retries,
    redaction)."""
    settings = settings_for(jira, flavour=flavour, **overrides)
    context = fake_context("jira", instance, settings=settings, budget=budget)
    return JiraTickets(context)


def _stored(record: Any) -> StoredTicket:
    prop = record.properties.get("shitshovela.origin")
    ref = prop.get("ref") if isinstance(prop, dict) else None
    return StoredTicket(tuple(record.labels), ref)


class JiraHarness:
    """The conformance kit's harness over one emulator, offering every capability.

    ``settle`` jumps the emulator's index clock past its lag; with
    ``settle_index=False`` it does nothing, so the kit passes only if the
    provider finds tickets the index has not seen (the key probe). Search
    pages hold `page_size` issues (the emulator's limit), so the kit's paging
    check flags several pages."""

    #: Issues per search page (the emulator caps ``maxResults`` at this).
    page_size = 5

    def __init__(
        self,
        flavour: str,
        spec: Path | None,
        *,
        index_lag: float = 30.0,
        settle_index: bool = True,
    ) -> None:
        self.clock = ManualClock()
        self.settle_index = settle_index
        self.jira = emulator(
            flavour,
            spec=spec,
            index_lag=index_lag,
            clock=self.clock,
            search_max_results=self.page_size,
            dc_search_max_results=self.page_size,
        )
        self._made: list[JiraTickets] = []

    def tickets(self, instance: str, **overrides: Any) -> JiraTickets:
        """A fresh provider for ``instance``."""
        made = make_tickets(self.jira, instance, **overrides)
        self._made.append(made)
        return made

    def tickets_with_wrong_credential(self, instance: str) -> JiraTickets:
        """A provider whose token (Cloud) or PAT (Data Center) is wrong."""
        wrong = (
            {"API_TOKEN": "wrong-token"} if self.jira.flavour == "cloud" else {"PAT": "wrong-pat"}
        )
        return self.tickets(instance, **wrong)

    def _write(self, key: str, **changes: Any) -> None:
        state = self.jira.site.state
        with state.lock:
            issue = state.find(key)
            assert issue is not None, key
            if "labels" in changes:
                changes["labels"] = (*issue.record.labels, *changes["labels"])
            state.update(issue, **changes)

    def close_ticket(self, key: str) -> None:
        """Move the issue to Done, as a person would."""
        self._write(key, status="Done")

    def add_label(self, key: str, label: str) -> None:
        """Add a label, as a person would."""
        self._write(key, labels=(label,))

    def stored(self, key: str) -> StoredTicket:
        """The issue's labels and origin property now."""
        return _stored(self.jira.issue(key))

    def stored_at_create(self, key: str) -> StoredTicket:
        """The issue as its create left it: the first entry of its write history."""
        state = self.jira.site.state
        with state.lock:
            issue = state.find(key)
            assert issue is not None, key
            return _stored(issue.index_history[0][1])

    def lose_next_create_answer(self) -> None:
        """The emulator applies the next create and drops the connection unanswered."""
        self.jira.faults.next_create = "commit_then_drop"

    def settle(self) -> None:
        """Let the index catch up with every write so far (unless told not to)."""
        if self.settle_index:
            self.clock.advance(self.jira.index_lag + 1.0)

    def close(self) -> None:
        """Stop the emulator; fail if any request or response broke the OpenAPI spec."""
        for made in self._made:
            made.close()
        self.jira.stop()
        self.jira.assert_no_violations()


class OneWayStream(io.BytesIO):
    """A stream that cannot seek, like a socket or a pipe."""

    def seekable(self) -> bool:
        """Never."""
        return False

    def seek(self, *args: Any) -> int:
        """Refuse."""
        raise io.UnsupportedOperation("not seekable")

    def tell(self) -> int:
        """Refuse."""
        raise io.UnsupportedOperation("not seekable")


class AttachingSource(FakeSource):
    """A `FakeSource` whose items carry attachments: ``files[item name]`` lists
    ``(file name, content)``; streams are one-way unless ``seekable``. Records
    when each origin was deleted (monotonic time)."""

    def __init__(
        self,
        context: ProviderContext,
        store: FakeStore,
        files: Mapping[str, Sequence[tuple[str, bytes]]],
        *,
        claims: bool = True,
        seekable: bool = False,
    ) -> None:
        super().__init__(context, store, claims=claims)
        self.files = files
        self.seekable = seekable
        self.deleted_at: dict[str, float] = {}

    def _attach(self, entry: Item | PoisonItem | None) -> Item | PoisonItem | None:
        if not isinstance(entry, Item):
            return entry
        stream: Callable[[bytes], IO[bytes]] = io.BytesIO if self.seekable else OneWayStream

        def opener(data: bytes) -> Callable[[], IO[bytes]]:
            return lambda: stream(data)

        attachments = tuple(
            Attachment(name, "application/octet-stream", len(data), opener=opener(data))
            for name, data in self.files.get(entry.origin.key, ())
        )
        return attrs.evolve(entry, attachments=attachments)

    def items(self) -> Iterator[Item | PoisonItem]:
        """The store's items, with their attachments."""
        for entry in super().items():
            attached = self._attach(entry)
            assert attached is not None
            yield attached

    def read(self, origin: Origin) -> Item | PoisonItem | None:
        """The item again, with its attachments."""
        return self._attach(super().read(origin))

    def delete(self, origin: Origin) -> bool:
        """Delete, and remember when."""
        self.deleted_at[origin.key] = time.monotonic()
        return super().delete(origin)


class EngineWorld:
    """The core's `Engine` in-process: a `FakeStore` source, Jira through the emulator.

    Budget, engine and the emulator's index share ``clock`` (a `ManualClock` makes
    the engine's settle wait take no real time). ``run`` returns None when the
    run died of a `HardStop` (a simulated kill)."""

    def __init__(
        self,
        jira: JiraEmulator,
        items: Mapping[str, str],
        *,
        clock: Callable[[], float],
        files: Mapping[str, Sequence[tuple[str, bytes]]] | None = None,
    ) -> None:
        self.jira = jira
        self.clock = clock
        self.files = files or {}
        self.store = FakeStore("fake://inbox")
        for name, content in items.items():
            self.store.put(name, content)
        self.sources: list[AttachingSource] = []

    def run(
        self,
        *,
        claims: bool,
        index_lag: float = 60.0,
        instance: str = "a",
        hooks: RunHooks | None = None,
        **settings: Any,
    ) -> RunSummary | None:
        """One run of ``instance`` from the store into Jira (with ``hooks``, if given)."""
        sleep = getattr(self.clock, "sleep", time.sleep)
        budget = Budget(600.0, started=self.clock(), clock=self.clock, sleep=sleep, margin=1.0)
        context = fake_context("fake", instance, budget=budget)
        source: FakeSource
        if self.files:
            source = AttachingSource(context, self.store, self.files, claims=claims)
            self.sources.append(source)
        else:  # the core's own fake source, as it is
            source = FakeSource(context, self.store, claims=claims)
        tickets = make_tickets(self.jira, instance, budget=budget, INDEX_LAG=index_lag, **settings)
        try:
            return run_once(source, tickets, max_tickets=100, hooks=hooks)
        except HardStop:
            return None

    def tickets_per_item(self) -> Counter[str]:
        """How many issues carry each item's origin (issues without one are not counted)."""
        counts: Counter[str] = Counter()
        for issue in self.jira.issues():
            prop = issue.properties.get("shitshovela.origin")
            if prop is not None:
                counts[Origin.from_ref(prop["ref"]).key] += 1
        return counts

    def issue_of(self, name: str) -> Any:
        """The one issue whose origin is item ``name``."""
        (found,) = [
            i
            for i in self.jira.issues()
            if "shitshovela.origin" in i.properties
            and Origin.from_ref(i.properties["shitshovela.origin"]["ref"]).key == name
        ]
        return found

    def flags_left(self) -> int:
        """Flag labels still on any issue."""
        return sum(
            1 for i in self.jira.issues() for label in i.labels if label.startswith(FLAG_PREFIX)
        )
