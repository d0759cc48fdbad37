"""The GitHub provider against the emulator: what it sends, and what it makes of GitHub's
answers (labels dropped without push access, label removal 404s, authors, pull
request numbers, body and title limits, attachments, ``check``)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import structlog
from ghkit import (
    BOT,
    NO_PUSH_TOKEN,
    OTHER,
    READER,
    REPO,
    EngineWorld,
    make_tickets,
    wall_clock,
)
from shitshovela_github import text
from shitshovela_github.config import BODY_MAX, TITLE_MAX
from shitshovela_github.tickets import VOID_PREFIX, GitHubTickets
from shitshovela_github_emulator import GitHubEmulator, RepoConfig, TokenConfig
from shitshovela_testkit.clock import ManualClock
from shitshovela_testkit.fakes import FakeSource, fake_context

from shitshovela_core import (
    Attachment,
    Flag,
    ItemRejected,
    Origin,
    ProviderError,
    SetupError,
    TicketDraft,
    Unreachable,
    find_origin,
)
from shitshovela_core.errors import ExitCode

pytestmark = pytest.mark.servers

Start = Callable[..., GitHubEmulator]
FLAG = Flag("a")
ORIGIN = Origin("imap", "imap://ops@mail/INBOX", "4711", "77", "sha256:abc")
ITEMS = {"alpha": "Disk full\non db1", "bravo": "CPU hot\non web2", "charlie": "Mail\nqueue"}


def writes(gh: GitHubEmulator) -> list[tuple[str, str, int | None]]:
    """Every request but reads, as (method, path, status)."""
    return [(r.method, r.path, r.status) for r in gh.requests if r.method != "GET"]


def test_one_create_request_carries_flag_origin_and_content(start_github: Start) -> None:
    gh = start_github()
    tickets = make_tickets(gh, "a", LABELS=["ops"])
    tickets.prepare(FLAG)
    gh.clear_requests()
    draft = TicketDraft(title="Disk full", body="on db1", labels=("mail",))
    ticket = tickets.create(draft, FLAG, ORIGIN)
    assert writes(gh) == [("POST", f"/repos/{REPO}/issues", 201)]
    sent = json.loads(next(r.body for r in gh.requests if r.method == "POST"))
    assert sent["title"] == "Disk full"
    assert sent["labels"] == ["ops", "mail", FLAG.label]
    assert find_origin(sent["body"]) == ORIGIN.to_ref()
    assert ticket.key == f"{REPO}#1" and ticket.flagged and ticket.by_job is True
    assert ticket.origin == ORIGIN
    assert gh.issue(1).labels == ("ops", "mail", FLAG.label)
    assert gh.issue(1).user == BOT


def test_prepare_makes_the_labels_once_and_reads_them_after(start_github: Start) -> None:
    gh = start_github()
    make_tickets(gh, "a", LABELS=["ops"]).prepare(FLAG)
    made = {label.name: label for label in gh.labels()}
    assert FLAG.label in made and "ops" in made
    assert writes(gh) == [
        ("POST", f"/repos/{REPO}/labels", 201),
        ("POST", f"/repos/{REPO}/labels", 201),
    ]
    gh.clear_requests()
    again = make_tickets(gh, "a", LABELS=["ops"])  # the next run
    again.prepare(FLAG)
    again.create(TicketDraft(title="t", body="b"), FLAG, ORIGIN)
    assert writes(gh) == [("POST", f"/repos/{REPO}/issues", 201)]
    reads = [r.path for r in gh.requests if r.method == "GET"]
    assert reads.count(f"/repos/{REPO}/labels/{FLAG.label}") == 1, "read once a run"


def test_no_push_access_stops_before_anything_changes(start_github: Start) -> None:
    """GitHub would drop the flag: the run stops (exit 3) before it claims or creates
    anything, however often it is started, and once push access is granted exactly
    one ticket is made per item."""
    clock = ManualClock()
    gh = start_github(clock=wall_clock(clock))
    world = EngineWorld(gh, ITEMS, clock=clock)
    for _ in range(2):
        summary = world.run(TOKEN=NO_PUSH_TOKEN)
        assert summary is not None
        assert summary.exit_code == ExitCode.UNREACHABLE
        assert f"{READER} has no push access to {REPO}" in summary.reason
        assert "Issues: Read and write" in summary.reason
        assert world.issues() == []
        assert all(not item.claims for item in world.store.items.values()), "nothing claimed"
        assert writes(gh) == []
    gh.set_token(NO_PUSH_TOKEN, TokenConfig(login=READER, push=True))  # access granted
    summary = world.run(TOKEN=NO_PUSH_TOKEN)
    assert summary is not None and summary.exit_code == ExitCode.OK, summary
    assert world.tickets_per_item() == {key: 1 for key in ITEMS}
    assert world.flags_left() == 0 and world.remaining() == []


def test_an_issue_made_without_the_flag_is_voided_and_stops_the_run(start_github: Start) -> None:
    """GitHub did not say the identity lacks push access (no ``permissions``), and
    dropped the flag: the run stops with exit 3 naming the permission, the issue is
    closed as not planned, and once access is granted each item has one live ticket."""
    clock = ManualClock()
    gh = start_github(clock=wall_clock(clock), repos={REPO: RepoConfig(labels=[FLAG.label])})
    world = EngineWorld(gh, ITEMS, clock=clock)
    blind = pytest.MonkeyPatch()
    blind.setattr(GitHubTickets, "_require_push", lambda self, repository: None)
    try:
        summary = world.run(TOKEN=NO_PUSH_TOKEN)
    finally:
        blind.undo()
    assert summary is not None
    assert summary.exit_code == ExitCode.UNREACHABLE, summary
    assert "without the in-progress flag label" in summary.reason
    assert "Issues: Read and write" in summary.reason
    (void,) = world.issues()
    assert void.state == "closed" and void.state_reason == "not_planned"
    assert void.title.startswith(VOID_PREFIX) and not void.labels
    gh.set_token(NO_PUSH_TOKEN, TokenConfig(login=READER, push=True))
    for _ in range(3):  # the voided item's claim waits out its window
        summary = world.run(TOKEN=NO_PUSH_TOKEN, claim_window=120.0)
        assert summary is not None and summary.exit_code == ExitCode.OK, summary
        clock.advance(121.0)
    live = [i for i in world.issues() if not i.title.startswith(VOID_PREFIX)]
    assert len(live) == len(ITEMS)
    assert {Origin.from_ref(find_origin(i.body or "") or "").key for i in live} == set(ITEMS)
    assert world.flags_left() == 0 and world.remaining() == []


def test_unflag_removes_only_the_flag_and_a_404_means_done(start_github: Start) -> None:
    gh = start_github()
    tickets = make_tickets(gh, "a")
    ticket = tickets.create(TicketDraft(title="t", body="b", labels=("mail",)), FLAG, ORIGIN)
    tickets.unflag(ticket, FLAG)
    tickets.unflag(ticket, FLAG)
    deletes = [(r.path, r.status) for r in gh.requests if r.method == "DELETE"]
    path = f"/repos/{REPO}/issues/1/labels/{FLAG.label}"
    assert deletes == [(path, 200), (path, 404)]
    assert gh.issue(1).labels == ("mail",)


def test_a_planted_flag_and_origin_are_not_by_the_job(start_github: Start) -> None:
    """Someone else's issue with this instance's flag and a real origin: reconcile
    leaves it (and the item) alone; the drain gives the item its own ticket."""
    clock = ManualClock()
    gh = start_github(clock=wall_clock(clock))
    world = EngineWorld(gh, {"alpha": "Disk full\non db1"}, clock=clock)
    (item,) = FakeSource(fake_context("fake", "a"), world.store).items()
    body = text.body(
        instance="a",
        origin=item.origin,
        draft_title="planted",
        draft_body="",
        attachments=(),
        limit=BODY_MAX,
    )
    planted = gh.seed_issue("planted", body=body, labels=[FLAG.label], user=OTHER)
    summary = world.run()
    assert summary is not None and summary.exit_code == ExitCode.OK
    assert summary.foreign == 1 and summary.reconciled == 0 and summary.created == 1
    assert gh.issue(planted.number).labels == (FLAG.label,), "the planted flag is untouched"
    mine = [i for i in world.issues() if i.user == BOT]
    assert len(mine) == 1 and not mine[0].labels


def test_pull_request_numbers_are_used_and_never_ours(start_github: Start) -> None:
    """The probe reads past the listing by number: a pull request's number exists (so
    a probe that stops after one missing number goes on past it) and is not a ticket,
    even with the flag and an origin on it."""
    clock = ManualClock()
    gh = start_github(clock=wall_clock(clock), listing_lag=3600.0)
    tickets = make_tickets(gh, "a", PROBE_GAP=1)
    first = tickets.create(TicketDraft(title="one", body=""), FLAG, ORIGIN)
    marker_body = text.body(
        instance="a", origin=ORIGIN, draft_title="", draft_body="", attachments=(), limit=BODY_MAX
    )
    gh.add_pull_request(body=marker_body, labels=[FLAG.label], listed=False, user=BOT)
    third = tickets.create(TicketDraft(title="three", body=""), FLAG, ORIGIN)
    assert [first.key, third.key] == [f"{REPO}#1", f"{REPO}#3"]
    assert [t.key for t in tickets.flagged(FLAG)] == [first.key, third.key]
    assert tickets.find(ORIGIN, FLAG) is not None


def test_titles_and_bodies_over_github_s_limits_are_cut_never_refused(start_github: Start) -> None:
    gh = start_github()
    tickets = make_tickets(gh, "a")
    title = "Overflow " * 50
    body = "line of a very long mail\n" * 4000
    ticket = tickets.create(TicketDraft(title=title, body=body), FLAG, ORIGIN)
    issue = gh.issue(1)
    assert len(issue.title) <= TITLE_MAX and issue.title.endswith(text.ELLIPSIS)
    assert issue.body is not None and len(issue.body) <= BODY_MAX
    assert "cut to fit" in issue.body and "Full title: Overflow" in issue.body
    assert find_origin(issue.body) == ORIGIN.to_ref() and ticket.origin == ORIGIN


def test_a_lower_body_limit_is_kept(start_github: Start) -> None:
    gh = start_github()
    tickets = make_tickets(gh, "a", MAX_BODY=4096)
    tickets.create(TicketDraft(title="t", body="x" * 10_000), FLAG, ORIGIN)
    body = gh.issue(1).body or ""
    assert len(body) <= 4096 and find_origin(body) == ORIGIN.to_ref()


FILES = (Attachment("report.pdf", "application/pdf", 2048), Attachment("log.txt", "text/plain", 9))


def test_files_are_listed_in_the_body(start_github: Start) -> None:
    gh = start_github()
    make_tickets(gh, "a").create(TicketDraft(title="t", body="b", attachments=FILES), FLAG, ORIGIN)
    body = gh.issue(1).body or ""
    assert "- `report.pdf` (application/pdf, 2.0 KB)" in body
    assert "- `log.txt` (text/plain, 9 bytes)" in body


def test_items_with_files_can_be_set_aside_instead(start_github: Start) -> None:
    gh = start_github()
    tickets = make_tickets(gh, "a", ATTACHMENTS="set_aside")
    with pytest.raises(ItemRejected, match="cannot upload files") as refused:
        tickets.create(TicketDraft(title="t", body="b", attachments=FILES), FLAG, ORIGIN)
    assert refused.value.by_setting
    assert writes(gh) == [] and gh.issues() == []
    clock = ManualClock()
    world = EngineWorld(start_github(clock=wall_clock(clock)), {}, clock=clock)
    for n in range(5):
        world.store.put(f"mail-{n}", f"Mail {n}\nbody", files=("scan.pdf",))
    world.store.put("plain", "No files\nbody")
    summary = world.run(ATTACHMENTS="set_aside")
    assert summary is not None and summary.exit_code == ExitCode.OK, summary
    assert summary.set_aside == 5 and summary.created == 1
    assert sorted(world.store.set_aside) == [f"mail-{n}" for n in range(5)]


def test_labels_github_refuses_on_create_are_a_setup_problem(start_github: Start) -> None:
    gh = start_github(unknown_labels="refuse")
    tickets = make_tickets(gh, "a")
    tickets.prepare(FLAG)  # the flag label is made, so only the draft's label is unknown
    with pytest.raises(SetupError, match="may create issues"):
        tickets.create(TicketDraft(title="t", body="b", labels=("no-such",)), FLAG, ORIGIN)
    gh422 = start_github(unknown_labels="refuse", refused_label_status=422)
    other = make_tickets(gh422, "a")
    other.prepare(FLAG)
    with pytest.raises(ProviderError, match="LABELS"):
        other.create(TicketDraft(title="t", body="b", labels=("no-such",)), FLAG, ORIGIN)


def test_check_reports_the_identity_and_its_push_access(start_github: Start) -> None:
    gh = start_github()
    with structlog.testing.capture_logs() as logs:
        make_tickets(gh, "a").check(FLAG)
    (event,) = [e for e in logs if e["event"] == "github_check"]
    assert event["identity"] == BOT and event["kind"] == "user" and event["push"] is True
    assert event["repo"] == REPO and event["flag_label_exists"] is False
    assert writes(gh) == [], "check changes nothing"
    with pytest.raises(SetupError, match=f"{READER} has no push access") as refused:
        make_tickets(gh, "a", TOKEN=NO_PUSH_TOKEN).check(FLAG)
    assert "fine-grained token needs Issues: Read and write" in str(refused.value)
    with pytest.raises(Unreachable, match="SHITSHOVELA_GITHUB__TOKEN"):
        make_tickets(gh, "a", TOKEN="ghp_unknown").check(FLAG)
    with pytest.raises(SetupError, match="SHITSHOVELA_GITHUB__REPO"):
        make_tickets(gh, "a", REPO="acme/elsewhere").check(FLAG)


def test_the_harness_plants_as_another_user() -> None:
    """The conformance harness's ``plant``: an issue another user made with the flag
    and an origin is listed with ``by_job`` False, the job's own with True."""
    from ghkit import GitHubHarness

    harness = GitHubHarness(None)
    try:
        tickets = harness.tickets("a")
        own = tickets.create(TicketDraft(title="own", body=""), FLAG, ORIGIN)
        planted = harness.plant(FLAG, ORIGIN.to_ref())
        harness.settle()
        listed = {t.key: t for t in tickets.flagged(FLAG)}
        assert listed[planted].by_job is False and listed[planted].origin == ORIGIN
        assert listed[own.key].by_job is True
    finally:
        harness.close()
