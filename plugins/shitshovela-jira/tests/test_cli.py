"""The plugin as installed: discovery, a cheap entry point, and the real CLI against
the emulator with no secret in any output, whatever fails (I10)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from jirakit import EMAIL
from shitshovela_jira_emulator import JiraEmulator

TOKEN = "s3cr3t/T0ken+with=odd chars 1e3"
PAT = "0x1F-pat/with+odd=chars"
Start = Callable[..., JiraEmulator]


def shitshovela(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHITSHOVELA_")}
    return subprocess.run(
        [sys.executable, "-m", "shitshovela_core", *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=60,
        check=False,
    )


@pytest.mark.unit
def test_plugin_is_installed() -> None:
    result = shitshovela("plugins", "--json")
    assert result.returncode == 0, result.stderr
    providers = {p["name"]: p for p in json.loads(result.stdout)["providers"]}
    jira = providers["jira"]
    assert jira["plugin"] == "jira" and jira["kind"] == "ticket_system"
    settings = {s["env"]: s for s in jira["settings"]}
    assert settings["SHITSHOVELA_JIRA__API_TOKEN"]["secret"] is True
    assert settings["SHITSHOVELA_JIRA__PAT"]["secret"] is True
    assert settings["SHITSHOVELA_JIRA__RATE"]["default"] == 2.0
    assert settings["SHITSHOVELA_JIRA__INDEX_LAG"]["default"] == 60.0
    assert "SHITSHOVELA_JIRA__TLS_VERIFY" in settings
    assert settings["SHITSHOVELA_JIRA__URL"]["required"] is True


@pytest.mark.unit
def test_entry_point_import_is_cheap() -> None:
    code = (
        "import sys\n"
        "import shitshovela_jira\n"
        "heavy = ('httpx', 'httpcore', 'openapi_core', 'shitshovela_jira.tickets',\n"
        "         'shitshovela_jira_emulator', 'shitshovela_core.safety',\n"
        "         'shitshovela_core.safehttp')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
        "from shitshovela_core.plugins import load_plugins\n"
        "spec = load_plugins().select('ticket_system', 'jira', 'X')\n"
        "print(spec.load().__name__, 'httpx' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    loaded, selected = result.stdout.splitlines()
    assert loaded == "", f"the entry point imported {loaded}"
    assert selected == "JiraTickets True"  # selecting it loads the provider and httpx


# -- the real CLI, with secrets that must never show ---------------------------------


def forms_of(secret: str) -> list[str]:
    """Every form of ``secret`` a message could carry: as it is, URL-encoded, in base64,
    and escaped as Python's repr (of the text, of its UTF-8 bytes) and JSON write it."""
    raw = secret.encode()
    encoded = base64.b64encode(raw).decode()
    return [
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        encoded,
        encoded.rstrip("="),
        repr(secret)[1:-1],
        repr(raw)[2:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    ]


def secret_forms(token: str = TOKEN, pat: str = PAT) -> list[str]:
    """The forms of both secrets and of the pair basic auth sends."""
    return [form for secret in (token, pat, f"{EMAIL}:{token}") for form in forms_of(secret)]


def environment(jira: JiraEmulator, spool: Path, **extra: str) -> dict[str, str]:
    return environment_for(jira.url, spool, **extra)


def environment_for(url: str, spool: Path, **extra: str) -> dict[str, str]:
    env = {
        "SHITSHOVELA_SOURCE": "spool",
        "SHITSHOVELA_TICKET_SYSTEM": "jira",
        "SHITSHOVELA_INSTANCE": "cli-test",
        "SHITSHOVELA_MAX_RUNTIME": "60",
        "SHITSHOVELA_LOG_LEVEL": "debug",
        "SHITSHOVELA_LOG_FORMAT": "json",
        "SHITSHOVELA_SPOOL__PATH": str(spool),
        "SHITSHOVELA_JIRA__URL": url,
        "SHITSHOVELA_JIRA__PROJECT": "OPS",
        "SHITSHOVELA_JIRA__EMAIL": EMAIL,
        "SHITSHOVELA_JIRA__API_TOKEN": TOKEN,
        "SHITSHOVELA_JIRA__PAT": PAT,
        "SHITSHOVELA_JIRA__RATE": "200",
        "SHITSHOVELA_JIRA__INDEX_LAG": "0",
    }
    env.update(extra)
    return env


def spool_with(tmp_path: Path, count: int = 2) -> Path:
    spool = tmp_path / "spool"
    spool.mkdir()
    for n in range(count):
        (spool / f"mail-{n}.txt").write_text(f"Alert {n}\nFrom: ops@example.com\nbody {n}\n")
    return spool


def assert_no_secret(
    result: subprocess.CompletedProcess[str], forms: list[str] | None = None
) -> None:
    output = result.stdout + result.stderr
    for form in secret_forms() if forms is None else forms:
        assert form not in output, f"a secret leaked ({len(form)} chars)"


SCENARIOS = {
    # name: (emulator options, fault setup, extra env, command, expected exit code)
    "fault-free run": ({}, None, {}, "run", 0),
    "wrong credentials": ({"api_token": "other", "pat": "other"}, None, {}, "run", 3),
    "create answer lost": ({}, "commit_then_drop", {}, "run", 6),
    "create answered 500": ({}, "commit_then_500", {}, "run", 6),
    # Not one answer in the run, only "wait 30 s": a failure (exit 3), never a success.
    "429 storm, wait does not fit": ({}, "storm", {"SHITSHOVELA_MAX_RUNTIME": "8"}, "run", 3),
    "check, project hidden": ({}, "hide", {}, "check", 3),
    "check, wrong credentials": ({"api_token": "x", "pat": "x"}, None, {}, "check", 3),
    "auto flavour, wrong credentials": (
        {"api_token": "x", "pat": "x"},
        None,
        {"SHITSHOVELA_JIRA__FLAVOUR": "auto"},
        "run",
        3,
    ),
}


@pytest.mark.servers
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_cli_never_prints_a_secret(
    start_jira: Start, flavour: str, tmp_path: Path, scenario: str
) -> None:
    options, fault, extra, command, code = SCENARIOS[scenario]
    jira = start_jira(flavour, **{"api_token": TOKEN, "pat": PAT, **options})
    if fault in ("commit_then_drop", "commit_then_500"):
        jira.faults.next_create = fault
    elif fault == "storm":
        jira.faults.rate_limit(100, retry_after="30")
    elif fault == "hide":
        jira.faults.forbid_project("OPS", browse=False)
    env = environment(jira, spool_with(tmp_path), **{"SHITSHOVELA_JIRA__FLAVOUR": flavour, **extra})
    result = shitshovela(command, env=env)
    assert result.returncode == code, result.stdout[-2000:] + result.stderr[-2000:]
    assert_no_secret(result)
    last = json.loads(result.stdout.strip().splitlines()[-1])
    if code == 0 and command == "run" and fault is None:
        assert last["created"] == 2 and len(jira.issues()) == 2
    if scenario == "check, project hidden":
        assert "project OPS cannot be read" in last["reason"]
    if fault == "storm":
        assert last["event"] == "run_failed" and "Retry-After" in last["reason"]
    if "credentials" in scenario:
        assert "refused the credentials (401)" in result.stdout


@pytest.mark.unit
def test_the_secret_check_catches_every_form() -> None:
    """The check above can fail: each encoded form of a secret is caught."""
    for form in secret_forms():
        planted = subprocess.CompletedProcess([], 0, stdout=f"x {form} y", stderr="")
        with pytest.raises(AssertionError, match="a secret leaked"):
            assert_no_secret(planted)


# -- every shape of secret: refused before anything is contacted, or used exactly ----

#: name: (flavour, setting, value, the reason it is refused with)
REFUSED = {
    "PAT from a file": ("datacenter", "PAT", PAT + "\n", "it ends with a line break"),
    "PAT from a Windows file": ("datacenter", "PAT", PAT + "\r\n", "it ends with a line break"),
    "PAT not ASCII": ("datacenter", "PAT", "dc-PAT-tökén-0x1F", "it holds a character that is not"),
    "PAT too short": ("datacenter", "PAT", "info", "it is shorter than 8 characters"),
    "token with a space": ("cloud", "API_TOKEN", " " + TOKEN, "it starts or ends with white space"),
    "token with an escape": ("cloud", "API_TOKEN", TOKEN + "\x1b[0m", "it holds a control"),
}


@pytest.mark.unit
@pytest.mark.parametrize("shape", sorted(REFUSED))
def test_a_secret_of_a_bad_shape_exits_2_naming_it_before_any_request(
    tmp_path: Path, shape: str
) -> None:
    """A PAT ending in a line break used to be printed in every retry line
    (``Illegal header value b'Bearer …\\n'``, exit 3); a non-ASCII one ended the
    run with exit 4 naming no setting."""
    import socket

    flavour, setting, value, reason = REFUSED[shape]
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.2)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        env = {
            **environment_for(url, spool_with(tmp_path)),
            "SHITSHOVELA_JIRA__FLAVOUR": flavour,
            f"SHITSHOVELA_JIRA__{setting}": value,
        }
        result = shitshovela("run", env=env)
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing was contacted
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert f"SHITSHOVELA_JIRA__{setting} is invalid: {reason}" in result.stdout
    assert len(list((tmp_path / "spool").iterdir())) == 2
    if len(value.strip()) >= 8:
        assert_no_secret(result, forms_of(value) + forms_of(value.strip()))


#: name: (flavour, API token, PAT): odd but whole secrets, sent exactly as set.
USED_EXACTLY = {
    "cloud token, not ASCII, quotes, backslash": ("cloud", "tök'en\"with\\back/sla%sh+= 1e3", PAT),
    "PAT with quotes, backslash, percent": ("datacenter", TOKEN, "pat'with\"quotes\\and%2F/+="),
}


@pytest.mark.servers
@pytest.mark.parametrize("shape", sorted(USED_EXACTLY))
def test_an_odd_but_whole_secret_is_used_exactly_and_never_shown(
    start_jira: Start, tmp_path: Path, shape: str
) -> None:
    flavour, token, pat = USED_EXACTLY[shape]
    jira = start_jira(flavour, api_token=token, pat=pat)
    env = environment(jira, spool_with(tmp_path), SHITSHOVELA_JIRA__FLAVOUR=flavour)
    env.update(SHITSHOVELA_JIRA__API_TOKEN=token, SHITSHOVELA_JIRA__PAT=pat)
    result = shitshovela("run", env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert len(jira.issues()) == 2
    assert_no_secret(result, secret_forms(token, pat))
