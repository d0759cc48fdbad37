"""One run of the real CLI lists every configuration problem at once: the core's, the
source's and the ticket system's (their cross-setting checks included) and a settings
group's; it exits 2 and contacts nothing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("command", ["run", "check", "plan"])
def test_every_problem_of_every_owner_in_one_exit_2_run(command: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.2)
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHITSHOVELA_")}
        env.update(
            SHITSHOVELA_LOG_FORMAT="json",
            SHITSHOVELA_SOURCE="imap",
            SHITSHOVELA_TICKET_SYSTEM="jira",
            SHITSHOVELA_INSTANCE="all-problems",
            # core: a bad value and a misspelt name
            SHITSHOVELA_MAX_TICKETS="0",
            SHITSHOVELA_MAX_RUNTME="60",
            # source: two problems only its own checks see (each value is fine alone)
            SHITSHOVELA_IMAP__HOST="imap.example.invalid",
            SHITSHOVELA_IMAP__USERNAME="support",
            SHITSHOVELA_IMAP__PASSWORD="imap-secret-1e3",
            SHITSHOVELA_IMAP__SECURITY="plain",
            SHITSHOVELA_IMAP__DONE="move",
            # ticket system: Cloud without its API token
            SHITSHOVELA_JIRA__URL=f"http://{address}",
            SHITSHOVELA_JIRA__PROJECT="OPS",
            SHITSHOVELA_JIRA__FLAVOUR="cloud",
            SHITSHOVELA_JIRA__PAT="jira-secret-0x1F",
            # a settings group: a bad value
            SHITSHOVELA_PROMETHEUS__PUSHGATEWAY=f"http://{address}",
            SHITSHOVELA_PROMETHEUS__TIMEOUT="forever",
        )
        result = subprocess.run(
            [sys.executable, "-m", "shitshovela_core", command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing was contacted
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    found = [e["problem"] for e in events if e["event"] == "config_invalid"]
    assert found == [
        "SHITSHOVELA_MAX_TICKETS='0' is invalid: must be at least 1",
        "SHITSHOVELA_MAX_RUNTME is not a setting of ShitShovela or of any installed plugin; "
        "did you mean SHITSHOVELA_MAX_RUNTIME?",
        "SHITSHOVELA_IMAP__SECURITY=plain would send the password in clear to "
        "imap.example.invalid: use tls or starttls, or set SHITSHOVELA_IMAP__ALLOW_PLAINTEXT=true "
        "if that network is trusted",
        "SHITSHOVELA_IMAP__DONE=move needs SHITSHOVELA_IMAP__DONE_FOLDER, the archive folder to "
        "move ticketed messages to",
        "SHITSHOVELA_JIRA__FLAVOUR=cloud needs SHITSHOVELA_JIRA__EMAIL and "
        "SHITSHOVELA_JIRA__API_TOKEN (an Atlassian API token)",
        "SHITSHOVELA_PROMETHEUS__TIMEOUT='forever' is invalid: expected seconds or a number "
        "with s, m or h, such as 90, 90s, 15m, 1h",
    ]
    assert events[-1]["event"] == "run_failed"
    assert events[-1]["reason"] == "bad configuration: 6 problem(s), see above"
    assert "imap-secret-1e3" not in output
    assert "jira-secret-0x1F" not in output
