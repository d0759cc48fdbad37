"""Mail whose text decodes to something that is not well-formed Unicode (I12).

A charset such as UTF-7 can spell a lone UTF-16 surrogate (``+2D0-`` is U+D83D alone),
and Python offers codecs that are no mail charset at all (``unicode-escape`` turns the
text ``\\ud83d`` into that surrogate; ``rot13``, ``hex``, ``base64``, ``zlib`` are
bytes-to-bytes). A string holding a lone surrogate cannot be encoded as UTF-8, so any
ticket system fails on it: one such mail from any sender stopped every run at that
message (exit 5), or, in an attachment's name, after its ticket was created, in every
reconcile (exit 4). The mail library's tests check that `shitshovela_mail.mime` only
ever hands out well-formed text; these end-to-end tests put every shape in a real
Dovecot ahead of a canary and run the real CLI into the Jira emulator.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from imapkit import Mailbox, plain_message
from shitshovela_jira_emulator import JiraEmulator, ProjectConfig
from shitshovela_testkit import jobenv
from shitshovela_testkit.faultproxy import Answer, Event, Fault, FaultProxy, RequestEvent

from shitshovela_core.models import FLAG_PREFIX

REPLACEMENT = "\ufffd"


# -- servers: the real CLI, Dovecot and the Jira emulator -----------------------------------


def _mail(number: int, *head: str, body: bytes = b"body") -> bytes:
    """A message with the header lines ``head`` (a From line unless one is given)."""
    lines = [f"Message-ID: <shape{number}@example.com>", "MIME-Version: 1.0", *head]
    if not any(line.lower().startswith("from:") for line in head):
        lines.insert(0, "From: Sender <sender@example.com>")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body + b"\r\n"


UTF7_LONE = base64.b64encode(b"+2D0-").decode()
ATTACHED = (
    b"--b\r\nContent-Type: text/plain\r\n\r\nsee the file\r\n"
    b"--b\r\nContent-Type: application/octet-stream\r\n"
    b"Content-Disposition: attachment; filename*=utf-7''%2B2D0-.bin\r\n\r\n"
    b"xyz\r\n--b--"
)
#: Every shape the adversary found, and kin: the ticket's title -> the raw message.
SHAPES: dict[str, bytes] = {
    "utf-7 body": _mail(
        1, "Subject: utf-7 body", "Content-Type: text/plain; charset=utf-7", body=b"+2D0-"
    ),
    f"lone {REPLACEMENT} in a Q word": _mail(2, "Subject: lone =?utf-7?Q?+2D0-?= in a Q word"),
    REPLACEMENT: _mail(3, f"Subject: =?utf-7?B?{UTF7_LONE}?="),
    "unicode-escape body": _mail(
        4,
        "Subject: unicode-escape body",
        "Content-Type: text/plain; charset=unicode-escape",
        body=b"\\ud83d caf\\xe9",
    ),
    "rot13 body": _mail(5, "Subject: rot13 body", "Content-Type: text/plain; charset=rot13"),
    "utf-7 html": _mail(
        6, "Subject: utf-7 html", "Content-Type: text/html; charset=utf-7", body=b"<p>+2D0-</p>"
    ),
    "utf-7 sender": _mail(7, "From: =?utf-7?Q?+2D0-?= <x@example.com>", "Subject: utf-7 sender"),
    "attachment": _mail(
        8, "Subject: attachment", 'Content-Type: multipart/mixed; boundary="b"', body=ATTACHED
    ),
}
EMAIL, TOKEN = "bot@example.com", "malformed-text-token-1e3"


@pytest.fixture
def jira() -> Iterator[JiraEmulator]:
    """A Jira Cloud emulator with project OPS."""
    emulator = JiraEmulator(
        flavour="cloud",
        projects={"OPS": ProjectConfig("OPS", ("Task",))},
        email=EMAIL,
        api_token=TOKEN,
    ).start()
    yield emulator
    emulator.stop()


def _run(mailbox: Mailbox, jira_url: str) -> tuple[int, dict[str, Any], str]:
    """One run of the real CLI; its exit code, last JSON line and whole output."""
    env = jobenv.job_env(
        jobenv.core("malformed", max_runtime=60),
        jobenv.jira(jira_url, email=EMAIL, api_token=TOKEN, INDEX_LAG=0, RATE=1000),
        jobenv.imap(
            mailbox.server.host,
            mailbox.server.port,
            mailbox.user,
            mailbox.password,
            SET_ASIDE_FOLDER="SetAside",
            MAX_PER_SENDER=0,
            RATE=1000,
        ),
    )
    result = subprocess.run(
        [sys.executable, "-m", "shitshovela_core", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    last = json.loads(result.stdout.strip().splitlines()[-1]) if result.stdout.strip() else {}
    return result.returncode, last, output


def _flags(jira: JiraEmulator) -> int:
    return sum(1 for i in jira.issues() for label in i.labels if label.startswith(FLAG_PREFIX))


@pytest.mark.e2e
def test_mails_with_malformed_text_never_block_the_queue(
    mailbox: Mailbox, jira: JiraEmulator
) -> None:
    mailbox.deliver(*SHAPES.values(), plain_message(99, subject="canary"))
    code, last, output = _run(mailbox, jira.url)
    assert code == 0, output[-3000:]
    assert (last["created"], last["set_aside"]) == (len(SHAPES) + 1, 0), last
    issues = {i.summary: i for i in jira.issues()}
    assert sorted(issues) == sorted([*SHAPES, "canary"])
    assert REPLACEMENT in (issues["utf-7 body"].description or "")
    assert REPLACEMENT in (issues["utf-7 html"].description or "")
    assert "\\ud83d caf\\xe9" in (issues["unicode-escape body"].description or "")
    (attached,) = issues["attachment"].attachments
    assert (attached.filename, attached.content) == (f"{REPLACEMENT}.bin", b"xyz")
    assert mailbox.count() == 0 and mailbox.count("SetAside") == 0
    assert _flags(jira) == 0

    code, last, output = _run(mailbox, jira.url)
    assert code == 0, output[-3000:]
    assert (last["reconciled"], last["created"]) == (0, 0)
    assert len(jira.issues()) == len(SHAPES) + 1 and _flags(jira) == 0


@pytest.mark.e2e
def test_reconcile_reads_a_malformed_attachment_name_again(
    mailbox: Mailbox, jira: JiraEmulator
) -> None:
    """The upload fails once after the create: the next run's reconcile reads the message
    again, uploads the file under the same well-formed name, deletes it, drains the rest."""
    mailbox.deliver(SHAPES["attachment"], plain_message(99, subject="canary"))
    uploads: list[str] = []

    def fail_first_upload(event: Event) -> Fault | None:
        if isinstance(event, RequestEvent) and event.target.endswith("/attachments"):
            uploads.append(event.target)
            if len(uploads) == 1:
                return Answer(503)
        return None

    with FaultProxy(("127.0.0.1", int(jira.url.rsplit(":", 1)[1]))) as proxy:
        proxy.on_event(fail_first_upload)
        code, last, output = _run(mailbox, proxy.url)
        assert code != 0 and "the next run completes" in last["reason"], output[-3000:]
        assert [i.summary for i in jira.issues()] == ["attachment"]
        assert _flags(jira) == 1 and mailbox.count() == 2

        code, last, output = _run(mailbox, proxy.url)
        assert code == 0, output[-3000:]
        assert (last["reconciled"], last["created"]) == (1, 1), last
        issues = {i.summary: i for i in jira.issues()}
        assert sorted(issues) == ["attachment", "canary"]
        (attached,) = issues["attachment"].attachments
        assert (attached.filename, attached.content) == (f"{REPLACEMENT}.bin", b"xyz")
        assert mailbox.count() == 0 and _flags(jira) == 0

        code, last, output = _run(mailbox, proxy.url)
        assert code == 0, output[-3000:]
        assert (last["reconciled"], last["created"]) == (0, 0)
