"""A system that accepts the connection and then never answers must not look like success.

The real CLI, real servers (moto's S3, Dovecot, the Jira emulator), and the
fault proxy in front of one of them: silent (accepts, never answers), dripping
(one byte a second) or a silent TLS handshake. Each run must end before its
deadline (I5) and exit non-zero (README, "Exit codes": 3, nothing changed),
with a last line that says the system was cut off at the deadline. `check`
follows the same rule.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from shitshovela_jira_emulator import JiraEmulator, ProjectConfig
from shitshovela_testkit import jobenv
from shitshovela_testkit.faultproxy import Drip, Fault, FaultProxy, Hang, Script

#: ``alone``: each run's 6 s, counted from its process start, must reach the stuck system.
pytestmark = [pytest.mark.e2e, pytest.mark.alone]

RUNTIME = 6.0
EMAIL, API_TOKEN = "stuck@example.com", "stuck-api-token-12345"
S3_SECRET, IMAP_PASSWORD = "stuck-s3-secret", "stuck-imap-password"
_names = itertools.count(1)

#: (fault, proxy mode, speaks TLS): the three ways a system can leave a call hanging.
FAULTS: dict[str, tuple[Fault, str, bool]] = {
    "silent": (Hang(), "http", False),
    "dripping": (Drip(bytes_per_second=1.0), "http", False),
    "silent-tls": (Hang(), "tcp", True),
}


class Stack:
    """One Jira emulator, one bucket and one mailbox, each behind its own proxy."""

    def __init__(self, moto: Any, dovecot: Any, stuck: str, fault: str) -> None:
        self.stack = ExitStack()
        self.moto, self.dovecot = moto, dovecot
        self.stuck = stuck
        kind, mode, tls = FAULTS[fault]
        self.tls = tls
        self.jira = JiraEmulator(
            flavour="cloud",
            projects={"OPS": ProjectConfig("OPS", ("Task",))},
            email=EMAIL,
            api_token=API_TOKEN,
        ).start()
        self.stack.callback(self.jira.stop)
        jira_port = int(self.jira.url.rsplit(":", 1)[1])
        self.bucket = f"stuck-{os.getpid()}-{next(_names)}"
        self.s3 = moto.client()
        self.s3.create_bucket(Bucket=self.bucket)
        for n in range(3):
            body = f"Alert {n}\nbody".encode()
            self.s3.put_object(Bucket=self.bucket, Key=f"in/item{n}", Body=body)
        self.user = f"stuck{next(_names)}"
        dovecot.add_user(self.user, IMAP_PASSWORD)
        dovecot.deliver_many(self.user, [self._mail(n) for n in range(3)])

        def proxy(upstream: tuple[str, int], system: str) -> FaultProxy:
            if system != stuck:
                http = system != "imap"
                return self.stack.enter_context(
                    FaultProxy(upstream, Script(), mode="http" if http else "tcp")
                )
            # IMAP is not HTTP: its faults are per connection.
            return self.stack.enter_context(
                FaultProxy(upstream, Script(default=kind), mode="tcp" if system == "imap" else mode)  # type: ignore[arg-type]
            )

        self.proxies = {
            "jira": proxy(("127.0.0.1", jira_port), "jira"),
            "s3": proxy(("127.0.0.1", moto.port), "s3"),
            "imap": proxy(("127.0.0.1", dovecot.port), "imap"),
        }

    def _mail(self, n: int) -> bytes:
        from email.message import EmailMessage

        message = EmailMessage()
        message["From"] = "monitor@example.com"
        message["To"] = f"{self.user}@example.com"
        message["Subject"] = f"Alert {n}"
        message["Message-ID"] = f"<item{n}@stuck.example.com>"
        message.set_content("body")
        return message.as_bytes()

    def url(self, system: str) -> str:
        scheme = "https" if self.tls and system == self.stuck else "http"
        return f"{scheme}://127.0.0.1:{self.proxies[system].port}"

    def env(self, source: str) -> dict[str, str]:
        if source == "s3":
            chosen = jobenv.s3(
                self.url("s3"),
                self.bucket,
                access_key_id="AKIDSTUCK",
                secret_access_key=S3_SECRET,
                PREFIX="in/",
                SET_ASIDE_PREFIX="set-aside/",
            )
        else:
            chosen = jobenv.imap(
                "127.0.0.1",
                self.proxies["imap"].port,
                self.user,
                IMAP_PASSWORD,
                security="tls" if self.tls and self.stuck == "imap" else "plain",
                SET_ASIDE_FOLDER="SetAside",
            )
        return jobenv.job_env(
            jobenv.core("stuck", max_runtime=RUNTIME),
            jobenv.jira(self.url("jira"), email=EMAIL, api_token=API_TOKEN, INDEX_LAG=0),
            chosen,
        )

    def s3_keys(self) -> list[str]:
        """The objects under the prefix, without the run lease: a run that reaches its
        deadline has no time to give it back, and it expires 2 s after the deadline
        (the S3 README, "the run lease")."""
        listing = self.s3.list_objects_v2(Bucket=self.bucket, Prefix="in/")
        keys = (entry["Key"] for entry in listing.get("Contents", []))
        return sorted(k for k in keys if not k.startswith("in/.shitshovela-lease-"))

    def imap_count(self) -> int:
        client = self.dovecot.imap_client(self.user, password=IMAP_PASSWORD)
        try:
            client.select_folder("INBOX", readonly=True)
            return len(client.search(["NOT", "DELETED"]))
        finally:
            client.logout()

    def close(self) -> None:
        self.stack.close()


@pytest.fixture
def stack_for(moto: Any, dovecot: Any) -> Iterator[Any]:
    made: list[Stack] = []

    def make(stuck: str, fault: str) -> Stack:
        made.append(Stack(moto, dovecot, stuck, fault))
        return made[-1]

    yield make
    for stack in made:
        stack.close()


def cli(command: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "shitshovela_core", command],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return result, time.monotonic() - started


def last_line(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    line: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return line


def assert_no_secret(result: subprocess.CompletedProcess[str]) -> None:
    for secret in (API_TOKEN, S3_SECRET, IMAP_PASSWORD):
        assert secret not in result.stdout + result.stderr


CASES = [
    pytest.param(stuck, source, fault, id=f"{stuck}-{fault}")
    for stuck, source in (("jira", "s3"), ("s3", "s3"), ("imap", "imap"))
    for fault in FAULTS
]


@pytest.mark.parametrize(("stuck", "source", "fault"), CASES)
def test_a_system_that_never_answers_fails_the_run_before_its_deadline(
    stack_for: Any, stuck: str, source: str, fault: str
) -> None:
    stack = stack_for(stuck, fault)
    result, elapsed = cli("run", stack.env(source))
    assert stack.proxies[stuck].connection_count >= 1, "the fault was never met"
    line = last_line(result)
    before = RUNTIME - elapsed
    print(f"{stuck}-{fault}: exit {result.returncode}, {before:.2f}s before the deadline")
    assert elapsed < RUNTIME, f"exited {elapsed:.2f}s after start, deadline {RUNTIME}s"
    assert result.returncode == 3, result.stdout[-3000:] + result.stderr[-2000:]
    assert line["event"] == "run_failed"
    assert line["exit_code"] == 3
    assert "at the deadline" in line["reason"], line["reason"]
    assert stuck in line["reason"], line["reason"]  # names the system that did not answer
    assert line["created"] == 0 and stack.jira.issues() == []
    if source == "s3":
        assert stack.s3_keys() == ["in/item0", "in/item1", "in/item2"]
    else:
        assert stack.imap_count() == 3
    assert_no_secret(result)


@pytest.mark.parametrize("stuck", ["jira", "imap"])
def test_check_against_a_silent_system_fails_before_its_deadline(
    stack_for: Any, stuck: str
) -> None:
    stack = stack_for(stuck, "silent")
    result, elapsed = cli("check", stack.env("imap"))
    assert elapsed < RUNTIME, f"exited {elapsed:.2f}s after start, deadline {RUNTIME}s"
    assert result.returncode == 3, result.stdout[-3000:] + result.stderr[-2000:]
    line = last_line(result)
    assert line["event"] == "run_failed" and "at the deadline" in line["reason"], line
    assert_no_secret(result)
