"""What a ticket system may say about its setup, and how the engine hears it.

- `TicketSystem.prepare` runs once a run, right before the first claim or
  create: a setup it finds broken stops the run before the drain changed
  anything (exit 3), and a run with nothing to create never calls it.
- `SetupError` (the system refuses what every item needs, e.g. GitHub dropping
  the flag label) stops the run with exit 3 even after something changed,
  where a plain `Unreachable` would be a drain failure.
- `ItemRejected(by_setting=True)` (the provider's own settings refuse the item)
  sets every such item aside without counting towards the rejections in a row
  that stop the run.
- `HttpClient(classify=...)`: a provider's own reading of answers (GitHub's 403
  rate limits) reaches the safety policy.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from enginekit import World
from shitshovela_testkit.clock import ManualClock
from shitshovela_testkit.fakes import FakeTicketSystem

from shitshovela_core import (
    Fault,
    HttpClient,
    ItemRejected,
    SetupError,
    Unreachable,
    Verdict,
    classify_http,
    parse_retry_after,
)
from shitshovela_core.deadline import Budget
from shitshovela_core.engine import Engine
from shitshovela_core.errors import ExitCode
from shitshovela_core.models import Flag, Origin, Ticket, TicketDraft
from shitshovela_core.safety import SafetyPolicy

pytestmark = pytest.mark.unit

ITEMS = {"alpha": "Disk full\non db1", "bravo": "CPU hot\non web2", "charlie": "Mail\nqueue"}


def world_with(items: dict[str, str] = ITEMS) -> World:
    world = World.make()
    for key, content in items.items():
        world.stores["a"].put(key, content)
    return world


class Recording(FakeTicketSystem):
    """A fake ticket system that records `prepare` calls and the calls around them."""

    calls: list[str]
    fail_prepare: Exception | None = None
    fail_create: Exception | None = None

    def prepare(self, flag: Flag) -> None:
        self.calls.append("prepare")
        if self.fail_prepare is not None:
            raise self.fail_prepare

    def create(self, draft: TicketDraft, flag: Flag, origin: Origin) -> Ticket:
        self.calls.append("create")
        if self.fail_create is not None:
            raise self.fail_create
        return super().create(draft, flag, origin)


def engine_run(world: World, **options: object) -> tuple[Recording, Engine]:
    """One run of instance ``a`` with a `Recording` ticket system."""
    engine = world.engine("a")
    recording = Recording(engine.tickets.context, world.tracker)
    recording.calls = []
    for name, value in options.items():
        setattr(recording, name, value)
    engine.tickets = recording
    return recording, engine


def test_prepare_runs_once_before_the_first_claim() -> None:
    world = world_with()
    recording, engine = engine_run(world)
    claims_before_prepare: list[int] = []
    original = recording.prepare

    def prepare(flag: Flag) -> None:
        claimed = sum(1 for item in world.stores["a"].items.values() if item.claims)
        claims_before_prepare.append(claimed)
        original(flag)

    recording.prepare = prepare  # type: ignore[method-assign]
    summary = engine.run()
    assert summary.exit_code == ExitCode.OK
    assert recording.calls == ["prepare", "create", "create", "create"]
    assert claims_before_prepare == [0], "prepare must come before the first claim"


def test_a_run_with_nothing_to_create_never_prepares() -> None:
    world = world_with({})
    recording, engine = engine_run(world)
    summary = engine.run()
    assert summary.exit_code == ExitCode.OK
    assert recording.calls == []


def test_plan_never_prepares() -> None:
    world = world_with()
    recording, engine = engine_run(world)
    engine.plan(10)
    assert recording.calls == []


def test_a_broken_setup_found_by_prepare_stops_before_anything_changes() -> None:
    world = world_with()
    recording, engine = engine_run(world, fail_prepare=Unreachable("no push access"))
    summary = engine.run()
    assert summary.exit_code == ExitCode.UNREACHABLE
    assert "no push access" in summary.reason
    assert recording.calls == ["prepare"]
    assert all(not item.claims for item in world.stores["a"].items.values()), "nothing claimed"
    assert world.tracker.tickets == {}


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (SetupError("GitHub dropped the flag label"), ExitCode.UNREACHABLE),
        # can fail: the same refusal as a plain Unreachable, after the claim, is a drain failure
        (Unreachable("GitHub dropped the flag label"), ExitCode.DRAIN_FAILED),
    ],
    ids=["setup_error", "plain_unreachable"],
)
def test_a_setup_error_after_the_claim_still_exits_3(error: Exception, code: ExitCode) -> None:
    world = world_with()
    _, engine = engine_run(world, fail_create=error)
    summary = engine.run()
    assert summary.exit_code == code
    assert "dropped the flag label" in summary.reason
    assert world.tracker.tickets == {}
    assert world.stores["a"].names() == sorted(ITEMS), "nothing deleted"


class RefusesFiles(FakeTicketSystem):
    """Refuses every item by its own setting (GitHub's ATTACHMENTS=set_aside)."""

    by_setting = True

    def create(self, draft: TicketDraft, flag: Flag, origin: Origin) -> Ticket:
        raise ItemRejected("the item has files", by_setting=self.by_setting)


@pytest.mark.parametrize("by_setting", [True, False])
def test_items_refused_by_a_setting_are_set_aside_however_many(by_setting: bool) -> None:
    items = {f"item-{n}": f"Title {n}\nbody" for n in range(6)}
    world = world_with(items)
    engine = world.engine("a")
    refusing = RefusesFiles(engine.tickets.context, world.tracker)
    refusing.by_setting = by_setting
    engine.tickets = refusing
    summary = engine.run()
    if by_setting:
        assert summary.exit_code == ExitCode.OK, summary.reason
        assert sorted(world.stores["a"].set_aside) == sorted(items)
        assert summary.set_aside == len(items)
    else:  # can fail: the same refusals without by_setting stop the run after three
        assert summary.exit_code == ExitCode.DRAIN_FAILED
        assert len(world.stores["a"].set_aside) == 2


def _server(answers: Iterator[httpx.Response]) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: next(answers))


def test_an_http_client_reads_answers_with_the_provider_s_classifier() -> None:
    clock = ManualClock()
    budget = Budget(600.0, started=clock(), clock=clock, sleep=clock.sleep)
    safety = SafetyPolicy("demo", budget, 1000.0)
    seen: list[int] = []

    def github_like(outcome: httpx.Response | Exception) -> Verdict | None:
        if isinstance(outcome, httpx.Response):
            seen.append(outcome.status_code)
            if outcome.status_code == 403 and "rate limit" in outcome.text:
                return Verdict(Fault.THROTTLED, "rate limited", retry_after=42.0)
        return classify_http(outcome)

    answers = iter([httpx.Response(403, text="secondary rate limit"), httpx.Response(201)])
    client = HttpClient(safety, "http://example.test", classify=github_like)
    client._client._transport = _server(answers)  # no network: answer in-process
    started = clock()
    response = client.request("POST", "/things", idempotent=False, what="make a thing")
    assert response.status_code == 201, "a throttled create was not acted on: sent again"
    assert seen == [403, 201]
    assert clock() - started >= 42.0, "the classifier's wait was honoured"


def test_without_a_classifier_a_403_is_the_provider_s_to_read() -> None:
    clock = ManualClock()
    budget = Budget(600.0, started=clock(), clock=clock, sleep=clock.sleep)
    client = HttpClient(SafetyPolicy("demo", budget, 1000.0), "http://example.test")
    client._client._transport = _server(iter([httpx.Response(403, text="rate limit")]))
    assert client.request("GET", "/x", idempotent=True).status_code == 403


def test_parse_retry_after_reads_the_quota_reset() -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1000"}
    assert parse_retry_after(headers, now=lambda: 940.0) == 60.0
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({}) is None
