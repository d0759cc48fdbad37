"""Unit tests without a server: settings, titles and bodies, labels, the write budget,
how GitHub's answers are read."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shitshovela_github import text
from shitshovela_github.api import BACKOFF, _path_kind, classify, is_rate_limited
from shitshovela_github.auth import TOKEN_LIFETIME, _lifetime
from shitshovela_github.config import BODY_MAX, TITLE_MAX, GitHubSettings
from shitshovela_github.writes import WriteBudget
from shitshovela_testkit.clock import ManualClock

from shitshovela_core import Attachment, Fault, Origin, find_origin, origin_marker
from shitshovela_core.deadline import Budget
from shitshovela_core.envsettings import build_settings
from shitshovela_core.errors import ConfigError, DeadlineReached

pytestmark = pytest.mark.unit

PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIE...\n-----END RSA PRIVATE KEY-----\n"


def github_settings(**values: Any) -> GitHubSettings:
    return build_settings(GitHubSettings, "github", {"REPO": "acme/tickets", **values})


def problems(**values: Any) -> list[str]:
    try:
        github_settings(**values)
    except ConfigError as exc:
        return exc.problems
    return []


# -- settings --------------------------------------------------------------------------


def test_a_token_or_an_app_exactly_one() -> None:
    assert problems(TOKEN="ghp_0123456789") == []
    assert problems(APP_ID="123", APP_PRIVATE_KEY=PEM) == []
    assert problems(APP_ID="123", APP_PRIVATE_KEY=PEM, INSTALLATION_ID="77") == []
    (neither,) = problems()
    assert "SHITSHOVELA_GITHUB__TOKEN" in neither and "SHITSHOVELA_GITHUB__APP_ID" in neither
    (both,) = problems(TOKEN="ghp_0123456789", APP_ID="1", APP_PRIVATE_KEY=PEM)
    assert "not both" in both
    assert problems(APP_ID="1") == [
        "SHITSHOVELA_GITHUB__APP_ID is set but SHITSHOVELA_GITHUB__APP_PRIVATE_KEY is not"
    ]
    assert problems(APP_PRIVATE_KEY=PEM) == [
        "SHITSHOVELA_GITHUB__APP_PRIVATE_KEY is set but SHITSHOVELA_GITHUB__APP_ID is not"
    ]
    (not_pem,) = problems(APP_ID="1", APP_PRIVATE_KEY="hunter2-not-a-key")
    assert "not a PEM" in not_pem and "hunter2-not-a-key" not in not_pem
    assert problems(TOKEN="ghp_0123456789", INSTALLATION_ID="5") == [
        "SHITSHOVELA_GITHUB__INSTALLATION_ID is set but SHITSHOVELA_GITHUB__APP_ID is not"
    ]


def test_a_key_with_written_out_line_breaks_is_read_as_pem() -> None:
    one_line = PEM.replace("\n", "\\n")
    assert problems(APP_ID="1", APP_PRIVATE_KEY=one_line) == []


@pytest.mark.parametrize(
    "repo", ["acme", "acme/", "/tickets", "acme/tickets/x", "a b/c", "acme/.."]
)
def test_the_repository_is_owner_slash_name(repo: str) -> None:
    (found,) = problems(TOKEN="ghp_0123456789", REPO=repo)
    assert "SHITSHOVELA_GITHUB__REPO" in found and "owner/name" in found


def test_github_com_s_secondary_limits_are_the_ceiling() -> None:
    found = problems(TOKEN="ghp_0123456789", RATE=2, WRITES_PER_MINUTE=81, WRITES_PER_HOUR=501)
    assert len(found) == 3
    assert "RATE=2" in found[0] and "at most 1" in found[0]
    assert "80 a minute" in found[1] and "500 an hour" in found[2]


def test_an_enterprise_server_decides_its_own_limits() -> None:
    ghes = "https://ghe.example.com/api/v3/"
    made = github_settings(TOKEN="ghp_0123456789", API_URL=ghes, RATE=5, WRITES_PER_MINUTE=1000)
    assert made.api_url == "https://ghe.example.com/api/v3"
    assert made.rate == 5 and made.writes_per_minute == 1000


def test_defaults() -> None:
    made = github_settings(TOKEN="ghp_0123456789")
    assert made.api_url == "https://api.github.com"
    assert made.rate == 1.0 and made.listing_lag == 60.0 and made.max_body == BODY_MAX
    assert (made.writes_per_minute, made.writes_per_hour) == (80, 500)
    assert made.attachments == "list"
    assert (made.owner, made.name) == ("acme", "tickets")


@pytest.mark.parametrize(
    "label", ["shitshovela-inprogress-x", "Shitshovela-InProgress-x", "a,b", "x" * 51, " "]
)
def test_labels_github_cannot_take_or_that_look_like_a_flag_are_refused(label: str) -> None:
    (found,) = problems(TOKEN="ghp_0123456789", LABELS=[label])
    assert "SHITSHOVELA_GITHUB__LABELS" in found


# -- titles, bodies, labels ------------------------------------------------------------


def origin(key: str = "mail-1") -> Origin:
    return Origin("imap", "imap://ops@mail/INBOX", key, "77", "sha256:abc")


def test_a_long_title_is_cut_with_an_ellipsis_and_kept_whole_in_the_body() -> None:
    long = "Disk full " * 40
    title, cut = text.title(long)
    assert cut and len(title) <= TITLE_MAX and title.endswith(text.ELLIPSIS)
    body = text.body(
        instance="a",
        origin=origin(),
        draft_title=long,
        draft_body="b",
        attachments=(),
        limit=BODY_MAX,
    )
    assert "Full title: " + long.strip() in body


def test_a_title_is_one_line_and_never_empty() -> None:
    assert text.title("  Disk\n\tfull  ") == ("Disk full", False)
    assert text.title(" \n ") == (text.NO_TITLE, False)


def test_a_long_body_is_cut_with_a_note_and_the_marker_survives_whole() -> None:
    body = text.body(
        instance="a",
        origin=origin(),
        draft_title="t",
        draft_body="x" * 200_000,
        attachments=(),
        limit=BODY_MAX,
    )
    assert len(body) <= BODY_MAX
    assert "cut to fit" in body
    assert find_origin(body) == origin().to_ref()


@settings(max_examples=200, deadline=None)
@given(
    st.text(), st.text(min_size=1, max_size=300), st.integers(min_value=4096, max_value=BODY_MAX)
)
def test_any_text_and_key_fit_and_the_origin_reads_back(content: str, key: str, limit: int) -> None:
    made = origin(key)
    quoted = origin_marker(origin("forged").to_ref())
    body = text.body(
        instance="a",
        origin=made,
        draft_title=content,
        draft_body=f"{quoted}\n{content}\n{quoted}",
        attachments=(),
        limit=limit,
    )
    assert len(body) <= limit
    assert find_origin(body) == made.to_ref()


def test_files_are_listed_with_name_type_and_size() -> None:
    files = (
        Attachment("report`s.pdf", "application/pdf", 1_500_000),
        Attachment("a   b.txt", "", 12),
    )
    lines = text.attachment_lines(files)
    assert "cannot take files" in lines[1]
    assert lines[2] == "- `report's.pdf` (application/pdf, 1.4 MB)"
    assert lines[3] == "- `a b.txt` (application/octet-stream, 12 bytes)"
    assert text.attachment_lines(()) == []


def test_labels_configured_then_drafted_then_the_flag_unique_ignoring_case() -> None:
    made = text.labels(
        ["ops", "Mail"],
        ["mail", "shitshovela-inprogress-b", "x" * 51, "a,b", "  ", "urgent"],
        "shitshovela-inprogress-a",
    )
    assert made == ["ops", "Mail", "urgent", "shitshovela-inprogress-a"]


# -- the write budget ------------------------------------------------------------------


def budget(clock: ManualClock, runtime: float = 3600.0 * 3) -> Budget:
    return Budget(runtime, started=clock(), clock=clock, sleep=clock.sleep, margin=1.0)


def most_in_a_minute(times: list[float]) -> int:
    return max(sum(1 for u in times if t <= u < t + 60.0) for t in times)


def test_the_write_budget_spaces_writes_so_no_minute_holds_too_many() -> None:
    clock = ManualClock()
    writes = WriteBudget(budget(clock), per_minute=3, per_hour=100)
    times = []
    for _ in range(7):
        writes.take("a write")
        times.append(clock())
    assert most_in_a_minute(times) == 3
    assert times[1] - times[0] == pytest.approx(61.0 / 3), "evenly spaced, no burst"
    assert writes.taken == 7


def test_at_github_s_defaults_the_spacing_is_below_a_second() -> None:
    clock = ManualClock()
    writes = WriteBudget(budget(clock), per_minute=80, per_hour=500)
    assert writes.spacing < 1.0, "RATE=1 (a second between requests) binds, not the budget"


def test_the_write_budget_waits_for_room_in_the_hour() -> None:
    clock = ManualClock()
    writes = WriteBudget(budget(clock), per_minute=100, per_hour=5)
    start = clock()
    for _ in range(5):
        writes.take("a write")
        clock.advance(61.0)
    writes.take("the sixth")
    assert clock() - start == pytest.approx(3601.0)


def test_a_wait_that_does_not_fit_is_a_clean_stop() -> None:
    clock = ManualClock()
    writes = WriteBudget(budget(clock, runtime=30.0), per_minute=1, per_hour=100)
    writes.take("the first")
    with pytest.raises(DeadlineReached, match=r"secondary limit \(1 writes a minute\)"):
        writes.take("the second")
    assert writes.taken == 1


# -- GitHub's answers ------------------------------------------------------------------


def answer(status: int, text: str = "", **headers: str) -> httpx.Response:
    return httpx.Response(status, text=text, headers=headers)


SECONDARY = "You have exceeded a secondary rate limit. Please wait a few minutes."


@pytest.mark.parametrize(
    ("response", "wait"),
    [
        (answer(403, SECONDARY, **{"retry-after": "37"}), 37.0),
        (answer(429, SECONDARY, **{"retry-after": "5"}), 5.0),
        (answer(403, SECONDARY), BACKOFF),
        (answer(429, "slow down"), BACKOFF),
        (answer(403, "API rate limit exceeded", **{"x-ratelimit-remaining": "0"}), BACKOFF),
    ],
    ids=["403_retry_after", "429_retry_after", "403_no_header", "429_no_header", "no_reset"],
)
def test_rate_limit_answers_are_throttles(response: httpx.Response, wait: float) -> None:
    verdict = classify(response)
    assert verdict is not None
    assert verdict.fault is Fault.THROTTLED
    assert verdict.retry_after == wait


def test_the_quota_reset_decides_the_wait_when_none_is_left() -> None:
    import time

    reset = int(time.time()) + 120
    response = answer(
        403,
        "API rate limit exceeded",
        **{"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
    )
    verdict = classify(response)
    assert verdict is not None and verdict.retry_after is not None
    assert 100 < verdict.retry_after <= 120


def test_a_refusal_is_not_a_throttle() -> None:
    refused = answer(403, '{"message": "Resource not accessible by personal access token"}')
    assert not is_rate_limited(refused)
    assert classify(refused) is None
    assert classify(answer(404, "Not Found")) is None
    failed = classify(answer(502))
    assert failed is not None and failed.fault is Fault.FAILED


def test_request_kinds_are_counted_by_shape() -> None:
    assert _path_kind("/repos/acme/tickets/issues") == "/repos/{owner}/{repo}/issues"
    assert (
        _path_kind("/repos/acme/tickets/issues/12/labels/shitshovela-inprogress-a")
        == "/repos/{owner}/{repo}/issues/{n}/labels/{name}"
    )
    assert _path_kind("https://x.test/repositories/7/issues?page=2") == "/repositories/{n}/issues"


def test_a_token_s_life_is_read_on_github_s_clock() -> None:
    date = "Wed, 01 Jan 2025 00:00:00 GMT"
    assert _lifetime(1735689600.0 + 3000, date) == 3000
    assert _lifetime(1735689600.0 + 99999, date) == TOKEN_LIFETIME  # nonsense: an hour
    assert _lifetime(1735689600.0 - 5, date) == TOKEN_LIFETIME
    assert _lifetime(0.0, None) == TOKEN_LIFETIME


def test_a_next_page_link_must_stay_on_the_api_s_host() -> None:
    from shitshovela_github.api import GitHubApi
    from shitshovela_testkit.fakes import fake_context

    context = fake_context(
        "github",
        settings={
            "REPO": "acme/tickets",
            "TOKEN": "ghp_0123456789",
            "API_URL": "https://ghe.example.com/api/v3",
        },
    )
    config = GitHubSettings.of(context.settings)
    api = GitHubApi(context, config, WriteBudget(context.budget, per_minute=80, per_hour=500))
    assert api.same_host("https://ghe.example.com/api/v3/repositories/1/issues?page=2")
    assert api.same_host("https://GHE.example.com/x")
    assert not api.same_host("https://evil.example.com/api/v3/repositories/1/issues")
    assert not api.same_host("http://ghe.example.com/api/v3/repositories/1/issues")
