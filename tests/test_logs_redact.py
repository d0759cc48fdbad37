"""Logs are JSON or console lines, and no secret survives in any of them (I10)."""

from __future__ import annotations

import io
import json

import pytest
import structlog

from shitshovela_core.logs import configure_logging
from shitshovela_core.redact import REDACTOR, Redactor

pytestmark = pytest.mark.unit

SECRET = "s3cr3t:p@ss/word+1"


def test_redactor_masks_values_and_their_encodings() -> None:
    r = Redactor([SECRET])
    from base64 import b64encode
    from urllib.parse import quote

    text = f"a {SECRET} b {quote(SECRET, safe='')} c {b64encode(SECRET.encode()).decode()}"
    scrubbed = r.scrub(text)
    assert SECRET not in scrubbed
    assert "s3cr3t" not in scrubbed
    assert scrubbed.count("***") == 3


@pytest.mark.parametrize(
    "text",
    [
        "https://alice:hunter2@jira.example/rest",
        "Authorization: Basic aHVudGVyMg==",
        "{'authorization': 'Bearer hunter2'}",
        "GET /x?token=hunter2&y=1",
        "Cookie: session=hunter2",
        "X-Amz-Security-Token: hunter2",
    ],
)
def test_redactor_masks_credential_shapes_of_unknown_values(text: str) -> None:
    scrubbed = Redactor().scrub(text)
    assert "hunter2" not in scrubbed
    assert "aHVudGVyMg" not in scrubbed
    assert "***" in scrubbed


def _capture(fmt: str) -> io.StringIO:
    stream = io.StringIO()
    configure_logging(fmt, "info", stream)
    return stream


def test_json_lines_are_scrubbed_including_tracebacks() -> None:
    REDACTOR.add(SECRET)
    stream = _capture("json")
    log = structlog.get_logger("t")
    try:
        raise RuntimeError(f"login failed for password {SECRET}")
    except RuntimeError:
        log.error("failed", detail={"nested": [SECRET]}, exc_info=True)
    line = stream.getvalue().strip()
    assert SECRET not in line
    event = json.loads(line)
    assert event["event"] == "failed"
    assert event["level"] == "error"
    assert "RuntimeError: login failed for password ***" in event["exception"]
    assert event["detail"] == {"nested": ["***"]}


def test_console_lines_show_no_locals_and_no_secret() -> None:
    REDACTOR.add(SECRET)
    stream = _capture("console")
    log = structlog.get_logger("t")

    def leaky() -> None:
        password = SECRET  # a local that a rich traceback would print
        raise ValueError("bad " + password[:3])

    try:
        leaky()
    except ValueError:
        log.error("failed", exc_info=True)
    out = stream.getvalue()
    assert "failed" in out
    assert "ValueError" in out
    assert SECRET not in out
    assert "password = " not in out.split("raise")[-1] or SECRET not in out


def test_level_filter() -> None:
    stream = io.StringIO()
    configure_logging("json", "warning", stream)
    log = structlog.get_logger("t")
    log.info("hidden")
    log.warning("shown")
    events = [json.loads(line)["event"] for line in stream.getvalue().splitlines()]
    assert events == ["shown"]


def test_redactor_takes_secrets_that_are_not_utf8() -> None:
    bad = b"pa\xffss".decode("utf-8", "surrogateescape")
    r = Redactor([bad])
    assert r.scrub(f"x {bad} y") == "x *** y"


AWKWARD_SECRET = "tök'en\"with\\back/slash%+="


def test_every_form_of_a_secret_is_masked() -> None:
    """As it is, as Python's repr writes it (of the text, of its UTF-8 bytes, within
    either quotes), as JSON writes it, URL-encoded, in base64."""
    import base64
    from urllib.parse import quote, quote_plus

    secret = AWKWARD_SECRET
    raw = secret.encode()
    forms = {
        "raw": secret,
        "repr": repr(secret)[1:-1],
        "repr in a text with both quotes": repr(f"x'\"{secret}")[5:-1],
        "bytes repr": repr(raw)[2:-1],
        "bytes repr as h11 writes it": repr(b"Bearer " + raw)[9:-1],
        "json": json.dumps(secret)[1:-1],
        "json, non-ASCII kept": json.dumps(secret, ensure_ascii=False)[1:-1],
        "url": quote(secret, safe=""),
        "url plus": quote_plus(secret),
        "base64": base64.b64encode(raw).decode(),
        "base64 without padding": base64.b64encode(raw).decode().rstrip("="),
        "url-safe base64": base64.urlsafe_b64encode(raw).decode(),
    }
    redactor = Redactor([secret])
    for name, form in forms.items():
        scrubbed = redactor.scrub(f"before {form} after")
        assert scrubbed == "before *** after", name


def test_a_secret_inside_the_logs_own_words_leaves_the_lines_whole() -> None:
    """A secret of 8 characters may be part of an event name (``run_finished``):
    the event, the level, the timestamp and the keys stay as they are; the values
    are masked."""
    REDACTOR.add("finished")
    stream = _capture("json")
    structlog.get_logger("t").info("run_finished", reason="finished early", finished=1)
    event = json.loads(stream.getvalue())
    assert event["event"] == "run_finished"
    assert event["level"] == "info"
    assert event["reason"] == "*** early"
    assert event["finished"] == 1


def test_an_event_that_is_not_a_name_is_scrubbed() -> None:
    REDACTOR.add(SECRET)
    stream = _capture("json")
    structlog.get_logger("t").info(f"login failed for {SECRET}")
    assert SECRET not in stream.getvalue()
    assert json.loads(stream.getvalue())["event"] == "login failed for ***"


def test_each_log_line_is_one_write_so_a_last_line_cannot_split_it() -> None:
    """The watchdog or a signal handler writes its last line straight to the file
    descriptor: with ``PYTHONUNBUFFERED`` a line written in two pieces (print's text,
    then its newline) could get the last line between them."""

    class Writes(io.StringIO):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[str] = []

        def write(self, text: str) -> int:
            self.calls.append(text)
            return super().write(text)

    stream = Writes()
    configure_logging("json", "info", stream)
    structlog.get_logger("t").info("first", n=1)
    structlog.get_logger("t").info("second", n=2)
    assert len(stream.calls) == 2
    assert all(call.endswith("}\n") and call.count("\n") == 1 for call in stream.calls)
