"""Claims in IMAP (I2, I11): the time kept in keywords, atomic claims with CONDSTORE
against a real Dovecot, the claim window for a create the server commits late (item 5
of issue 13), and planted tickets that must expunge nothing (I7, I9)."""

from __future__ import annotations

import imaplib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from imapkit import Mailbox, plain_message
from shitshovela_imap.claims import (
    CLAIM_KEYWORD,
    CLAIM_KEYWORDS,
    SCALE_KEYWORDS,
    SLOTS,
    TIME_KEYWORDS,
    ClaimMark,
    ClaimToken,
    claim_time,
    flags_after_claim,
    read_mark,
    scale_for,
    stamp,
)
from shitshovela_testkit.clock import ManualClock
from shitshovela_testkit.fakes import FakeTracker, fake_tickets
from shitshovela_testkit.runs import engine_for, run_once
from structlog.testing import capture_logs

from shitshovela_core.deadline import Budget
from shitshovela_core.errors import ExitCode
from shitshovela_core.models import Flag, Item, Origin

#: Claim times the tests use: 2001 to 2100, to the microsecond.
times = st.datetimes(
    min_value=datetime(2001, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
#: Claim windows: 0.1 s to 3 days (beyond, slots stay 2**15 s long: about 9 hours).
windows = st.floats(min_value=0.1, max_value=3 * 86400.0)
#: The default claim window (SHITSHOVELA_CLAIM_WINDOW).
WINDOW = 600.0


def _read_back(
    at: datetime, read_at: datetime, window: float = WINDOW, current: ClaimMark | None = None
) -> datetime:
    """The claim time a reader at ``read_at`` sees for a claim made at ``at``."""
    mark = read_mark(stamp(at, window, current).keywords())
    assert mark is not None
    return claim_time(mark, read_at)


def _slot(window: float) -> timedelta:
    return timedelta(seconds=1 << scale_for(window))


# -- the time in keywords (unit) ------------------------------------------------------------


@pytest.mark.unit
def test_a_claim_uses_thirteen_keywords_and_slots_of_an_eighth_of_the_window() -> None:
    assert len(CLAIM_KEYWORDS) == 13 and len(set(CLAIM_KEYWORDS)) == 13
    assert [scale_for(w) for w in (0.5, 3, 15.9, 16, 600, 3600, 86400, 10**9)] == [
        0, 0, 0, 1, 6, 8, 13, 15,
    ]  # fmt: skip
    at = datetime(2026, 3, 2, 10, 0, 1, tzinfo=UTC)
    mark = stamp(at, WINDOW)  # 64-second slots
    assert mark == ClaimMark((int(at.timestamp()) // 64) % SLOTS, 6)
    assert mark.keywords() == [
        CLAIM_KEYWORD,
        *(TIME_KEYWORDS[bit] for bit in range(8) if mark.bits >> bit & 1),
        SCALE_KEYWORDS[1],
        SCALE_KEYWORDS[2],
    ]


@pytest.mark.unit
@given(at=times, window=windows, later=st.floats(min_value=0, max_value=11.0))
def test_a_claim_reads_back_as_the_end_of_its_slot(
    at: datetime, window: float, later: float
) -> None:
    """Round trip: read up to 11 windows later, the claim time is the end of the slot it
    was written in: never earlier than the claim, at most 3 slots later (its own slot's
    end, plus the two slots a stamp may be moved), which is at most 3/8 of a window
    (or 3 s for windows under 16 s)."""
    read = _read_back(at, at + later * timedelta(seconds=window), window)
    slot = _slot(window)
    assert at <= read <= at + 3 * slot
    assert slot <= max(timedelta(seconds=1), timedelta(seconds=window / 8))
    assert read.timestamp() % slot.total_seconds() == 0


@pytest.mark.unit
def test_a_claim_time_is_rounded_up_never_down() -> None:
    at = datetime(2026, 3, 2, 10, 0, 1, 500, tzinfo=UTC)  # 1 s into a 64-second slot
    start = datetime.fromtimestamp(int(at.timestamp()) // 64 * 64, UTC)
    assert _read_back(at, at) == start + timedelta(seconds=64)
    assert _read_back(at, at + timedelta(hours=1)) == start + timedelta(seconds=64)
    assert _read_back(at, at, window=3.0) == datetime(2026, 3, 2, 10, 0, 2, tzinfo=UTC)


@pytest.mark.unit
@given(
    at=times,
    window=st.floats(min_value=0.1, max_value=365 * 86400.0),
    later=st.floats(min_value=0, max_value=10 * 365 * 86400.0),
)
def test_after_the_bits_wrap_a_claim_looks_younger_never_older(
    at: datetime, window: float, later: float
) -> None:
    """However late it is read (the bits repeat every 16-32 windows), a claim is never
    read as made before it was: it waits longer, never less."""
    assert _read_back(at, at + timedelta(seconds=later), window) >= at


@pytest.mark.unit
def test_a_claim_a_whole_wrap_old_reads_as_recent_so_it_waits_one_more_window() -> None:
    at = datetime(2026, 3, 2, 10, 0, 1, tzinfo=UTC)
    slot = _slot(WINDOW)
    for wraps in (1, 2, 100):
        read_at = at + wraps * SLOTS * slot
        assert abs(_read_back(at, read_at) - read_at) <= slot


@pytest.mark.unit
@given(at=times, window=windows, ahead=st.floats(min_value=0, max_value=1.0))
def test_a_writer_whose_clock_is_ahead_is_not_read_as_old(
    at: datetime, window: float, ahead: float
) -> None:
    """Another machine's clock ahead by up to 3.5 windows (or a minute): its fresh
    claim reads as made when its clock said, not a wrap ago."""
    lead = ahead * max(timedelta(seconds=3.5 * window), timedelta(seconds=60))
    assert _read_back(at + lead, at, window) >= at + lead


@pytest.mark.unit
@given(at=times, window=windows)
def test_a_stamp_never_looks_legacy_and_always_changes_the_keywords(
    at: datetime, window: float
) -> None:
    fresh = stamp(at, window)
    assert not fresh.legacy and read_mark(fresh.keywords()) == fresh
    again = stamp(at, window, fresh)  # claimed again in the same slot
    assert again != fresh and not again.legacy
    assert _read_back(at, at, window, fresh) >= at


@pytest.mark.unit
def test_a_claim_written_under_another_window_reads_back_by_its_own_scale() -> None:
    """The slot length travels with the claim: a run with another claim window reads
    an older run's claim right."""
    at = datetime(2026, 3, 2, 10, 0, 1, tzinfo=UTC)
    for window in (3.0, 600.0, 86400.0):
        mark = read_mark(stamp(at, window).keywords())
        assert mark is not None
        assert at <= claim_time(mark, at + timedelta(seconds=1)) <= at + 3 * _slot(window)


@pytest.mark.unit
def test_the_claim_keyword_alone_is_a_legacy_claim() -> None:
    assert read_mark([b"\\Seen"]) is None
    assert read_mark([TIME_KEYWORDS[3]]) is None, "time keywords alone are no claim"
    legacy = read_mark([b"\\Seen", CLAIM_KEYWORD.lower().encode()])
    assert legacy is not None and legacy.legacy
    marked = read_mark([CLAIM_KEYWORD, TIME_KEYWORDS[0], TIME_KEYWORDS[7], SCALE_KEYWORDS[3]])
    assert marked == ClaimMark(129, 8)


@pytest.mark.unit
def test_the_full_flag_set_keeps_other_flags_and_replaces_ours() -> None:
    flags = [b"\\Seen", b"\\Recent", b"$Label1", CLAIM_KEYWORD.encode(), b"$ShitShovelaT1"]
    assert flags_after_claim(flags, ClaimMark(5, 1)) == [
        "\\Seen",
        "$Label1",
        CLAIM_KEYWORD,
        TIME_KEYWORDS[0],
        TIME_KEYWORDS[2],
        SCALE_KEYWORDS[0],
    ]


@pytest.mark.unit
def test_a_claim_token_round_trips() -> None:
    token = ClaimToken.of([b"\\Seen", b"$X"], 1234)
    assert ClaimToken.loads(token.dumps()) == token == ClaimToken(1234, ("\\Seen", "$X"))
    assert ClaimToken.loads("") is None
    assert ClaimToken.loads('{"modseq": "x", "flags": []}') is None


# -- claims against Dovecot --------------------------------------------------------------------

FLAG = Flag("test")


def _listed(mailbox: Mailbox, **settings: Any) -> dict[int, Item]:
    """The mailbox's items as a fresh run lists them, by UID."""
    source = mailbox.source(**settings)
    try:
        return {int(e.origin.get("uid")): e for e in source.items() if isinstance(e, Item)}
    finally:
        source.close()


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every IMAP command the job sends, as text (``UID STORE 1 (UNCHANGEDSINCE 7) ...``)."""
    sent: list[str] = []
    command = imaplib.IMAP4._command

    def spy(self: imaplib.IMAP4, name: str, *args: Any) -> Any:
        words = [a.decode() if isinstance(a, bytes) else str(a) for a in args if a is not None]
        sent.append(" ".join([name, *words]))
        return command(self, name, *args)

    monkeypatch.setattr(imaplib.IMAP4, "_command", spy)
    return sent


@pytest.fixture
def without_condstore(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server as one without CONDSTORE: the job does not see the capability."""
    monkeypatch.setattr("shitshovela_imap.connection._Client.capabilities", _no_condstore())


@pytest.mark.servers
def test_a_claim_is_one_conditional_store_and_reads_back_its_time(
    mailbox: Mailbox, wire: list[str]
) -> None:
    """The MODSEQ comes with the listing's metadata FETCH; the claim is one command,
    ``UID STORE <uid> (UNCHANGEDSINCE <modseq>) FLAGS.SILENT (<full set>)``; listed
    again, the item's claim time is the claim's, rounded up to its slot."""
    mailbox.deliver(plain_message(1), plain_message(2))
    with mailbox.client() as other:
        other.add_flags([1], [b"\\Flagged", b"$Customer"])  # flags the claim must keep
    source = mailbox.source()
    assert source.supports_claims
    wire.clear()
    first, _ = list(source.items())
    metadata = [c for c in wire if "BODYSTRUCTURE" in c]
    assert metadata and all("MODSEQ" in c for c in metadata)
    assert not [c for c in wire if "MODSEQ" in c and "BODYSTRUCTURE" not in c], "no extra FETCH"
    token = ClaimToken.loads(first.claim_token)
    assert token is not None and token.modseq is not None
    at = datetime.now(UTC)
    wire.clear()
    assert source.claim(first, FLAG, at) is True
    assert len(wire) == 1 and wire[0].startswith(
        f"UID STORE 1 (UNCHANGEDSINCE {token.modseq}) FLAGS.SILENT ("
    ), wire
    again = _listed(mailbox)
    assert again[1].claimed_at is not None and at <= again[1].claimed_at <= at + 3 * _slot(WINDOW)
    assert again[2].claimed_at is None
    assert again[1].origin == first.origin, "keywords change neither the UID nor the digest"
    flags = {f.decode() for f in mailbox.flags(1)}
    assert {"\\Flagged", "$Customer", CLAIM_KEYWORD} <= flags
    assert read_mark(flags) == stamp(at, WINDOW)
    source.close()


@pytest.mark.servers
def test_of_two_runs_claiming_one_message_only_one_wins(mailbox: Mailbox) -> None:
    """Two runs listed the same message; the second claim finds it changed since its
    listing (``[MODIFIED]``) and loses, and so does a claim on a message another client
    changed, or expunged, since the listing."""
    mailbox.deliver(plain_message(1), plain_message(2), plain_message(3))
    one, two = mailbox.source(), mailbox.source()
    mine, theirs = list(one.items()), list(two.items())
    at = datetime.now(UTC)
    assert one.claim(mine[0], FLAG, at) is True
    assert two.claim(theirs[0], FLAG, at + timedelta(seconds=1)) is False
    assert read_mark(mailbox.flags(1)) == stamp(at, WINDOW), "one stamp"
    with mailbox.client() as other:
        other.add_flags([2], [b"\\Seen"])  # a person read it meanwhile
        other.delete_messages([3])
        other.expunge()
    assert one.claim(mine[1], FLAG, at) is False
    assert one.claim(mine[2], FLAG, at) is False
    assert read_mark(mailbox.flags(2)) is None
    relisted = _listed(mailbox)
    assert one.claim(relisted[2], FLAG, at) is True, "listed afresh, it can be claimed"
    one.close()
    two.close()


@pytest.mark.servers
def test_an_expired_claim_is_claimed_again_once(mailbox: Mailbox) -> None:
    """A claim made again in the same slot changes the keywords (a store that changes
    nothing could not tell two runs apart): one of two runs re-claiming wins."""
    mailbox.deliver(plain_message(1))
    at = datetime.now(UTC)
    assert mailbox.source().claim(_listed(mailbox)[1], FLAG, at) is True
    one, two = mailbox.source(), mailbox.source()
    (mine,), (theirs,) = list(one.items()), list(two.items())
    assert mine.claimed_at is not None
    assert one.claim(mine, FLAG, at) is True
    assert two.claim(theirs, FLAG, at) is False
    one.close()
    two.close()


@pytest.mark.servers
def test_without_condstore_claims_work_but_are_not_atomic_and_a_warning_says_so(
    mailbox: Mailbox, without_condstore: None, wire: list[str]
) -> None:
    mailbox.deliver(plain_message(1))
    one, two = mailbox.source(), mailbox.source()
    with capture_logs() as logs:
        assert one.supports_claims
    assert [e for e in logs if e["event"] == "claims_not_atomic"], logs
    assert not [c for c in wire if "ENABLE" in c or "MODSEQ" in c]
    (mine,), (theirs,) = list(one.items()), list(two.items())
    at = datetime.now(UTC)
    assert one.claim(mine, FLAG, at) is True
    assert two.claim(theirs, FLAG, at) is True, "the race the README warns about"
    claimed = _listed(mailbox)[1].claimed_at
    assert claimed is not None and at <= claimed <= at + 3 * _slot(WINDOW)
    with mailbox.client() as other:
        other.delete_messages([1])
        other.expunge()
    assert one.claim(mine, FLAG, at) is False, "gone"
    one.close()
    two.close()


@pytest.mark.servers
@pytest.mark.usefixtures("without_condstore")
def test_without_condstore_a_claim_again_replaces_the_time(mailbox: Mailbox) -> None:
    mailbox.deliver(plain_message(1))
    at = datetime.now(UTC)
    assert mailbox.source().claim(_listed(mailbox)[1], FLAG, at) is True
    later = at + timedelta(hours=1)
    assert mailbox.source().claim(_listed(mailbox)[1], FLAG, later) is True
    assert read_mark(mailbox.flags(1)) == stamp(later, WINDOW)


@pytest.mark.servers
def test_a_legacy_claim_is_stamped_with_the_time_it_is_first_listed(mailbox: Mailbox) -> None:
    """A claim keyword from before claims had a time counts as made when first listed:
    the listing stamps it (one store), so it expires one window later, not never."""
    mailbox.deliver(plain_message(1), plain_message(2))
    with mailbox.client() as other:
        other.add_flags([1], [CLAIM_KEYWORD.encode()])
    before = datetime.now(UTC)
    first = _listed(mailbox)
    assert first[2].claimed_at is None
    stamped = first[1].claimed_at
    assert stamped is not None and before <= stamped <= datetime.now(UTC) + 3 * _slot(WINDOW)
    mark = read_mark(mailbox.flags(1))
    assert mark is not None and not mark.legacy
    assert _listed(mailbox)[1].claimed_at == stamped, "stamped once, not at every listing"


@pytest.mark.servers
def test_a_create_the_server_commits_late_is_not_made_twice(mailbox: Mailbox) -> None:
    """Item 5 of issue 13 with IMAP claims: the server holds the create (exit 6); the next
    run finds no ticket, but the claim is younger than the window, so it creates nothing;
    once the create commits, the run after finishes that one ticket."""
    mailbox.deliver(plain_message(1))
    tracker = FakeTracker()
    tracker.hold_creates = True
    held = run_once(mailbox.source(), fake_tickets(tracker), claim_window=60)
    assert held.exit_code == ExitCode.OUTCOME_UNKNOWN, held.reason
    tracker.hold_creates = False
    waiting = run_once(mailbox.source(), fake_tickets(tracker), claim_window=60)
    assert waiting.exit_code == ExitCode.OK, waiting.reason
    assert (waiting.created, waiting.waiting) == (0, 1)
    assert mailbox.count() == 1 and not tracker.tickets
    tracker.commit_held()
    done = run_once(mailbox.source(), fake_tickets(tracker), claim_window=60)
    assert (done.exit_code, done.created, done.reconciled) == (ExitCode.OK, 0, 1)
    assert len(tracker.tickets) == 1 and mailbox.count() == 0
    assert tracker.flagged_keys(FLAG) == []


@pytest.mark.servers
def test_a_create_that_never_commits_is_made_once_the_window_has_passed(
    mailbox: Mailbox,
) -> None:
    mailbox.deliver(plain_message(1))
    tracker = FakeTracker()
    tracker.hold_creates = True
    assert run_once(mailbox.source(), fake_tickets(tracker), claim_window=60).exit_code == 6
    tracker.hold_creates = False
    tracker.held.clear()  # the create was lost for good
    waiting = run_once(mailbox.source(), fake_tickets(tracker), claim_window=60)
    assert (waiting.created, waiting.waiting) == (0, 1)
    # A run 20 minutes later (the window plus the claim's slot rounding has passed).
    clock = ManualClock(follow_real_time=True)
    budget = Budget(3600, started=clock(), clock=clock)
    source = mailbox.source(budget=budget)
    engine = engine_for(source, fake_tickets(tracker), budget=budget, claim_window=60)
    clock.advance(20 * 60)
    later = engine.run()
    source.close()
    assert (later.exit_code, later.created, later.waiting) == (ExitCode.OK, 1, 0), later.reason
    assert len(tracker.tickets) == 1 and mailbox.count() == 0


def _planted(origin: Origin, how: str, validity: int) -> Origin:
    if how == "no digest":
        return Origin(origin.provider, origin.scope, origin.key, origin.version, "", origin.extra)
    if how == "wrong digest":
        return Origin(
            origin.provider, origin.scope, origin.key, origin.version, "sha256:" + "0" * 64,
            origin.extra,
        )  # fmt: skip
    uid = origin.get("uid")  # guessed: the UID and UIDVALIDITY, nothing else
    return Origin(origin.provider, origin.scope, uid, str(validity), "", {"uid": uid})


@pytest.mark.servers
@pytest.mark.parametrize("how", ["no digest", "wrong digest", "guessed uid"])
def test_a_planted_ticket_naming_a_message_expunges_nothing(mailbox: Mailbox, how: str) -> None:
    """Item 2 of issue 13 for IMAP: a flagged ticket anyone could have created, naming a
    message that has no ticket, is not finished by deleting that message. The drain is
    kept away from the mailbox (SEARCH matches nothing), so only reconcile could act."""
    mailbox.deliver(plain_message(1), plain_message(2))
    listed = _listed(mailbox)
    with mailbox.client() as other:
        validity = int(other.folder_status(mailbox.mailbox, ["UIDVALIDITY"])[b"UIDVALIDITY"])
    tracker = FakeTracker()
    for item in listed.values():
        tracker.plant(FLAG, _planted(item.origin, how, validity).to_ref(), author="job")
    summary = run_once(
        mailbox.source(SEARCH='FROM "nobody@example.invalid"'), fake_tickets(tracker)
    )
    assert summary.exit_code == ExitCode.OK, summary.reason
    assert summary.deleted == 0
    assert mailbox.count() == 2 and mailbox.uids(deleted=False) == [1, 2]


@pytest.mark.servers
def test_the_source_refuses_to_delete_a_message_no_digest_pins(mailbox: Mailbox) -> None:
    """I9 in the source itself: an origin without a digest names no exact message, so
    `delete` refuses it (the core never asks; a planted origin is the only way)."""
    from shitshovela_core.errors import ProviderError

    mailbox.deliver(plain_message(1))
    source = mailbox.source()
    (item,) = list(source.items())
    with pytest.raises(ProviderError, match="digest"):
        source.delete(_planted(item.origin, "no digest", 0))
    assert mailbox.count() == 1
    source.close()


@pytest.mark.servers
@pytest.mark.parametrize("condstore", [True, False])
def test_a_listing_and_check_say_whether_claims_are_atomic(
    mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch, condstore: bool
) -> None:
    """The warning comes when a run first opens the mailbox, even an empty one, and
    ``shitshovela check`` reports it."""
    if not condstore:
        monkeypatch.setattr("shitshovela_imap.connection._Client.capabilities", _no_condstore())
    with capture_logs() as logs:
        source = mailbox.source()
        assert list(source.items()) == []
        source.check()
        source.close()
    warned = [e for e in logs if e["event"] == "claims_not_atomic"]
    assert len(warned) == (0 if condstore else 1)
    (checked,) = [e for e in logs if e["event"] == "mailbox_checked"]
    assert checked["atomic_claims"] is condstore


def _no_condstore() -> Any:
    from shitshovela_imap.connection import _Client

    capabilities = _Client.capabilities

    def stripped(self: Any) -> tuple[bytes, ...]:
        return tuple(c for c in capabilities(self) if c.upper() != b"CONDSTORE")

    return stripped
