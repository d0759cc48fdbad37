"""One test per hook (tests/test_docs.py checks that each hook has one), and the
facade's promises: every call traced, each observer isolated, the shaped draft
used all the way to `complete`."""

from __future__ import annotations

from typing import Any

import pytest
from enginekit import World
from shitshovela_testkit.fakes import (
    FakePlugin,
    FakeSource,
    FakeTicketSystem,
    fake_context,
)
from shitshovela_testkit.runs import run_once
from structlog.testing import capture_logs

from shitshovela_core import hookimpl
from shitshovela_core.deadline import Budget
from shitshovela_core.engine import RunInfo, RunSummary
from shitshovela_core.models import Item, TicketDraft
from shitshovela_core.plugins import create_plugins
from shitshovela_core.providers import Register
from shitshovela_core.redact import REDACTOR
from shitshovela_core.settings import RegisterSettings, Setting, settings_of

pytestmark = pytest.mark.unit


def run_with(world: World, *extra: tuple[str, object], settings: Any = None) -> RunSummary:
    plugins = create_plugins(extra=list(extra), entry_points=False)
    budget = Budget(3600, started=world.clock(), clock=world.clock, sleep=world.clock.sleep)
    context = fake_context(instance="a", budget=budget)
    source = FakeSource(context, world.stores["a"])
    tickets = FakeTicketSystem(context, world.tracker)
    return run_once(source, tickets, max_tickets=100, hooks=plugins.hooks(), settings=settings)


def test_hook_register_sources() -> None:
    class P:
        @hookimpl
        def register_sources(self, register: Register) -> None:
            register("mine", "some.module:Factory", help="Mine.", default_rate=2.5)

    plugins = create_plugins(extra=[("p", P())], entry_points=False)
    spec = plugins.sources["mine"]
    assert spec.plugin == "p"
    assert spec.kind == "source"
    assert spec.default_rate == 2.5


def test_hook_register_ticket_systems() -> None:
    class P:
        @hookimpl
        def register_ticket_systems(self, register: Register) -> None:
            register("tracker", lambda context: None, help="Tracker.")

    plugins = create_plugins(extra=[("p", P())], entry_points=False)
    assert plugins.ticket_systems["tracker"].kind == "ticket_system"
    assert "tracker" not in plugins.sources


def test_hook_shape_ticket_draft() -> None:
    world = World.make()
    world.stores["a"].put("m1", "Printer on fire\nfrom ops@example.com")

    class Component:
        @hookimpl
        def shape_ticket_draft(self, item: Item, draft: TicketDraft) -> TicketDraft:
            return draft.evolve(labels=(*draft.labels, "ops"), fields={"component": "Printers"})

    class Prefix:
        @hookimpl
        def shape_ticket_draft(self, item: Item, draft: TicketDraft) -> TicketDraft | None:
            assert draft.labels == ("ops",)  # sees the previous plugin's result
            return draft.evolve(title="[ops] " + draft.title)

    class Nothing:
        @hookimpl
        def shape_ticket_draft(self, item: Item, draft: TicketDraft) -> None:
            return None

    # pluggy's order: the plugin registered last is called first (tryfirst/trylast adjust).
    summary = run_with(
        world, ("prefix", Prefix()), ("nothing", Nothing()), ("component", Component())
    )
    assert summary.created == 1
    (ticket,) = world.tracker.tickets.values()
    assert ticket.title == "[ops] Printer on fire"
    assert "ops" in ticket.labels


def test_hook_shape_ticket_draft_failure_stops_before_create() -> None:
    world = World.make()
    world.stores["a"].put("m1", "x")

    class Broken:
        @hookimpl
        def shape_ticket_draft(self, item: Item, draft: TicketDraft) -> TicketDraft:
            raise KeyError("no mapping")

    summary = run_with(world, ("broken", Broken()))
    assert summary.exit_code == 5
    assert "KeyError" in summary.reason
    assert world.tracker.tickets == {}
    assert world.stores["a"].names() == ["m1"]


def test_hook_register_settings() -> None:
    class P:
        @hookimpl
        def register_settings(self, register: RegisterSettings) -> None:
            register("metrics", settings=[Setting("URL", "url")], help="Pushes metrics.")

    plugins = create_plugins(extra=[("p", P())], entry_points=False)
    group = plugins.settings_groups["metrics"]
    assert group.plugin == "p"
    assert group.help == "Pushes metrics."
    assert [s.name for s in settings_of(group.settings)] == ["URL"]
    assert plugins.group_clashes == []


class Observer:
    """Observes with the old signatures (no ``budget``): they keep working."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    @hookimpl
    def run_started(self, run: RunInfo) -> None:
        self.calls.append(("started", run.instance))

    @hookimpl
    def run_finished(self, run: RunInfo, summary: RunSummary) -> None:
        self.calls.append(("finished", summary.created))

    @hookimpl
    def run_failed(self, run: RunInfo, summary: RunSummary, error: str) -> None:
        self.calls.append(("failed", (int(summary.exit_code), error)))


class BudgetObserver:
    """Observes with the budget, and reads its settings group."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Budget]] = []

    @hookimpl
    def run_started(self, run: RunInfo, budget: Budget) -> None:
        self.calls.append(("started", run.settings, budget))

    @hookimpl
    def run_finished(self, run: RunInfo, summary: RunSummary, budget: Budget) -> None:
        self.calls.append(("finished", summary.created, budget))

    @hookimpl
    def run_failed(self, run: RunInfo, summary: RunSummary, error: str, budget: Budget) -> None:
        self.calls.append(("failed", int(summary.exit_code), budget))


def test_hook_run_started() -> None:
    observer = Observer()
    run_with(World.make(), ("observer", observer))
    assert observer.calls[0] == ("started", "a")


def test_observers_get_the_budget_and_the_settings_groups() -> None:
    world = World.make()
    world.stores["a"].put("m1", "x")
    observer = BudgetObserver()
    settings = {"metrics": {"URL": "http://gw.example"}}
    run_with(world, ("observer", observer), settings=settings)
    (started, got, budget), (finished, created, budget_at_end) = observer.calls
    assert (started, got, finished, created) == ("started", settings, "finished", 1)
    assert isinstance(budget, Budget)
    assert budget_at_end is budget
    world.faults.fail_on = "tickets.create.after"
    world.faults.kind = "error"
    world.stores["a"].put("m2", "y")
    observer.calls.clear()
    run_with(world, ("observer", observer))
    assert observer.calls[-1][:2] == ("failed", 6)
    assert isinstance(observer.calls[-1][2], Budget)


def test_hook_run_finished() -> None:
    world = World.make()
    world.stores["a"].put("m1", "x")
    observer = Observer()
    run_with(world, ("observer", observer))
    assert observer.calls == [("started", "a"), ("finished", 1)]


def test_hook_run_failed() -> None:
    world = World.make()
    world.stores["a"].put("m1", "x")
    world.faults.fail_on = "tickets.create.after"
    world.faults.kind = "error"
    observer = Observer()
    run_with(world, ("observer", observer))
    kind, (code, error) = observer.calls[-1]
    assert kind == "failed"
    assert code == 6
    assert "outcome unknown" in error


def test_failing_observer_cannot_change_the_run() -> None:
    class Angry:
        @hookimpl
        def run_finished(self, run: RunInfo, summary: RunSummary) -> None:
            raise RuntimeError("observer bug")

    world = World.make()
    world.stores["a"].put("m1", "x")
    summary = run_with(
        world, ("angry", Angry()), ("fakes", FakePlugin(world.stores["a"], world.tracker))
    )
    assert summary.exit_code == 0
    assert summary.created == 1


def test_shape_ticket_draft_returning_something_else_stops_before_create() -> None:
    world = World.make()
    world.stores["a"].put("m1", "x")

    class Wrong:
        @hookimpl
        def shape_ticket_draft(self, item: Item, draft: TicketDraft) -> Any:
            return {"title": "not a draft"}

    summary = run_with(world, ("wrong", Wrong()))
    assert summary.exit_code == 5
    assert "plugin 'wrong': shape_ticket_draft returned dict" in summary.reason
    assert world.tracker.tickets == {}
    assert world.stores["a"].names() == ["m1"]


HOOKS = {
    "register_sources",
    "register_ticket_systems",
    "register_settings",
    "shape_ticket_draft",
    "run_started",
    "run_finished",
    "run_failed",
}


class EveryHook:
    """Implements every hook and changes nothing."""

    @hookimpl
    def register_sources(self, register: Register) -> None:
        pass

    @hookimpl
    def register_ticket_systems(self, register: Register) -> None:
        pass

    @hookimpl
    def register_settings(self, register: RegisterSettings) -> None:
        pass

    @hookimpl
    def shape_ticket_draft(self, item: Item, draft: TicketDraft) -> None:
        return None

    @hookimpl
    def run_started(self, run: RunInfo) -> None:
        pass

    @hookimpl
    def run_finished(self, run: RunInfo) -> None:
        pass

    @hookimpl
    def run_failed(self, run: RunInfo) -> None:
        pass


def _traced_runs(world: World) -> list[dict[str, Any]]:
    """Load the plugins, then a run that finishes and one that fails; every log event."""
    world.stores["a"].put("m1", "x")
    with capture_logs() as logs:
        hooks = create_plugins(extra=[("every", EveryHook())], entry_points=False).hooks()
        world.run(hooks=hooks)
        world.stores["a"].put("m2", "y")
        world.faults.fail_on = "tickets.create.after"
        world.faults.kind = "error"
        world.run(hooks=hooks)
    return [dict(event) for event in logs]


def test_trace_logs_every_hook_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHITSHOVELA_TRACE_PLUGINS", "1")
    events = _traced_runs(World.make())
    calls = [e for e in events if e["event"] == "hook_call"]
    assert {e["hook"] for e in calls} == HOOKS
    assert [e["hook"] for e in calls].count("shape_ticket_draft") == 2  # once per item
    assert all(e["plugins"] == ["every"] for e in calls)
    done = [e for e in events if e["event"] == "hook_done"]
    assert [e["hook"] for e in done] == [e["hook"] for e in calls]


def test_no_trace_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHITSHOVELA_TRACE_PLUGINS", raising=False)
    events = _traced_runs(World.make())
    assert not [e for e in events if e["event"] in {"hook_call", "hook_done"}]


@pytest.mark.parametrize("hook", ["run_started", "run_finished", "run_failed"])
def test_a_failing_observer_does_not_silence_the_others(hook: str) -> None:
    secret = "observer-secret-4c1d"
    REDACTOR.add(secret)
    calls: list[str] = []

    class Failing:
        @hookimpl(specname=hook)
        def observe(self, run: RunInfo) -> None:
            calls.append("failing")
            raise RuntimeError(f"observer bug, token {secret}")

    class Quiet:
        @hookimpl(specname=hook)
        def observe(self, run: RunInfo) -> None:
            calls.append("quiet")

    world = World.make()
    world.stores["a"].put("m1", "x")
    if hook == "run_failed":
        world.faults.fail_on = "tickets.create.after"
        world.faults.kind = "error"
    # pluggy calls the plugin registered last first: the failing one.
    hooks = create_plugins(
        extra=[("quiet", Quiet()), ("failing", Failing())], entry_points=False
    ).hooks()
    with capture_logs() as logs:
        summary = world.run(hooks=hooks)
    assert calls == ["failing", "quiet"]
    assert summary is not None
    assert summary.exit_code == (6 if hook == "run_failed" else 0)  # the run's own
    (warning,) = [e for e in logs if e["event"] == "observer_failed"]
    assert warning["hook"] == hook and warning["plugin"] == "failing"
    assert "RuntimeError: observer bug" in warning["error"]
    assert secret not in str(logs)


def test_registration_failures_stay_with_their_plugin() -> None:
    class Broken:
        @hookimpl
        def register_sources(self, register: Register) -> None:
            raise RuntimeError("no sources today")

        @hookimpl
        def register_settings(self, register: RegisterSettings) -> None:
            register("broken", settings=[Setting("URL", "url")])

    class Fine:
        @hookimpl
        def register_sources(self, register: Register) -> None:
            register("fine", "some.module:Factory")

    plugins = create_plugins(extra=[("fine", Fine()), ("broken", Broken())], entry_points=False)
    assert list(plugins.sources) == ["fine"]
    assert plugins.infos["broken"].error == "RuntimeError: no sources today"
    assert not plugins.infos["fine"].error
    assert "broken" not in plugins.settings_groups  # dropped with its plugin


class DropLogFiles:
    """Shapes every draft without its ``.log`` attachments."""

    @hookimpl
    def shape_ticket_draft(self, item: Item, draft: TicketDraft) -> TicketDraft:
        kept = tuple(a for a in draft.attachments if not a.name.endswith(".log"))
        return draft.evolve(attachments=kept)


@pytest.mark.parametrize("lag", [0.0, 30.0], ids=["reconcile", "claimed-item"])
def test_an_attachment_a_hook_drops_never_reaches_the_ticket(lag: float) -> None:
    """After the create, and after a crash between create and complete: reconcile
    (or, with a lagging listing, the claimed item's lookup) shapes the item it
    reads again with the same hooks."""
    world = World.make(lag=lag)
    world.stores["a"].put("m1", "Printer\nbody", files=("photo.jpg", "debug.log"))
    world.stores["a"].put("m2", "Scanner\nbody", files=("scan.pdf", "trace.log"))
    hooks = create_plugins(extra=[("drop", DropLogFiles())], entry_points=False).hooks()
    world.faults.fail_on = "tickets.complete:FAKE-2"  # killed after m2's create
    assert world.run(hooks=hooks) is None
    stored = {t.title: t for t in world.tracker.tickets.values()}
    assert stored["Printer"].attachments == ["photo.jpg"]
    assert not stored["Scanner"].completed
    world.faults.clear()
    world.clock.sleep(1.0)
    summary = world.run(hooks=hooks)
    assert summary is not None and summary.exit_code == 0, summary
    if lag:  # the listing does not show FAKE-2 yet: the claimed item waits
        assert (summary.reconciled, summary.created, summary.waiting) == (0, 0, 1)
        world.clock.sleep(lag)
        summary = world.run(hooks=hooks)
        assert summary is not None and summary.exit_code == 0, summary
    assert summary.reconciled == 1 and summary.created == 0
    assert {t.title: t.attachments for t in world.tracker.tickets.values()} == {
        "Printer": ["photo.jpg"],
        "Scanner": ["scan.pdf"],
    }
    assert world.stores["a"].names() == [] and world.flags_left() == 0
