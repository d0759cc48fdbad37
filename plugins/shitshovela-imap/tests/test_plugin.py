"""The plugin as the core sees it: installed, cheap to import, settings validated before
anything is contacted, secrets kept out of every output, and a real CLI run end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from imapkit import Mailbox, plain_message
from shitshovela_imap.config import ImapSettings, is_loopback
from shitshovela_testservers.dovecot import DovecotServer

from shitshovela_core.envsettings import build_settings
from shitshovela_core.errors import ConfigError, Unreachable
from shitshovela_core.settings import settings_of

SETTINGS = settings_of(ImapSettings)

SETTING_NAMES = {
    "HOST",
    "PORT",
    "SECURITY",
    "ALLOW_PLAINTEXT",
    "AUTH",
    "USERNAME",
    "PASSWORD",
    "MAILBOX",
    "SEARCH",
    "DONE",
    "DONE_FOLDER",
    "SET_ASIDE_FOLDER",
    "MAX_MESSAGE_SIZE",
    "AUTO_REPLIES",
    "MAX_PER_SENDER",
    "SENDER_OVERFLOW",
    "TIMEOUT",
    "RATE",
    "TLS_VERIFY",
    "CA_BUNDLE",
    # the core's OAuthSettings (app-only sign-in with a token)
    "TOKEN_FROM",
    "TENANT",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "CERTIFICATE",
    "PRIVATE_KEY",
    "AUTHORITY",
    "SERVICE_ACCOUNT_KEY",
    "ACCESS_TOKEN",
    "TOKEN_SCOPE",
}


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHITSHOVELA_")}
    return {**env, **extra}


@pytest.mark.unit
def test_plugin_is_installed() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shitshovela_core", "plugins", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=_clean_env(),
    )
    providers = {p["name"]: p for p in json.loads(result.stdout)["providers"]}
    imap = providers["imap"]
    assert imap["plugin"] == "imap"
    assert imap["kind"] == "source"
    settings = {s["env"]: s for s in imap["settings"]}
    assert {f"SHITSHOVELA_IMAP__{name}" for name in SETTING_NAMES} == set(settings)
    secrets = ("PASSWORD", "CLIENT_SECRET", "PRIVATE_KEY", "SERVICE_ACCOUNT_KEY", "ACCESS_TOKEN")
    for secret in secrets:
        assert settings[f"SHITSHOVELA_IMAP__{secret}"]["secret"] is True
    assert settings["SHITSHOVELA_IMAP__SECURITY"]["default"] == "tls"


@pytest.mark.unit
def test_entry_point_does_not_import_the_client_libraries() -> None:
    code = (
        "import sys, shitshovela_imap\n"
        "heavy = ['imapclient', 'imaplib', 'html_text', 'lxml', 'shitshovela_imap.source',"
        " 'shitshovela_imap.connection', 'shitshovela_mail.mime', 'shitshovela_imap.signin',"
        " 'shitshovela_core.tokens', 'jwt', 'cryptography']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def _settings(**values: Any) -> dict[str, Any]:
    return {"HOST": "imap.example.com", "USERNAME": "u", "PASSWORD": "p-secret", **values}


def imap_settings(values: dict[str, Any]) -> ImapSettings:
    return build_settings(ImapSettings, "imap", values)


@pytest.mark.unit
def test_cross_setting_checks_name_the_variables() -> None:
    with pytest.raises(ConfigError) as info:
        imap_settings(_settings(SECURITY="plain"))
    assert "SHITSHOVELA_IMAP__ALLOW_PLAINTEXT" in str(info.value)
    allowed = imap_settings(_settings(SECURITY="plain", ALLOW_PLAINTEXT=True))
    assert allowed.server_port == 143
    local = imap_settings(_settings(HOST="127.0.0.2", SECURITY="plain"))
    assert local.scope == "imap://u@127.0.0.2:143/INBOX"
    with pytest.raises(ConfigError, match="SHITSHOVELA_IMAP__DONE_FOLDER"):
        imap_settings(_settings(DONE="move"))
    with pytest.raises(ConfigError, match="SET_ASIDE_FOLDER='inbox' is the mailbox"):
        imap_settings(_settings(SET_ASIDE_FOLDER="inbox"))
    assert imap_settings(_settings()).set_aside_folder == "ShitShovela-Set-Aside"
    assert imap_settings(_settings(SET_ASIDE_FOLDER="")).set_aside_folder == ""  # none: stop
    tls = imap_settings(_settings(USERNAME="support@example.com", PASSWORD="s3cr3t-value"))
    assert tls.scope == "imap://support%40example.com@imap.example.com:993/INBOX"
    assert "s3cr3t" not in repr(tls)
    assert [is_loopback(h) for h in ("localhost", "::1", "127.9.9.9", "10.0.0.1")] == [
        True,
        True,
        True,
        False,
    ]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("UNSEEN", True),
        ('SINCE 1-Jan-2026 FROM "alerts@example.com"', True),
        ("OR (FROM a) (FROM b)", True),
        ("UNSEEN)", False),
        ('FROM "unclosed', False),
        ("FROM é", False),
        ("UNSEEN\r\nA LOGOUT", False),
    ],
)
def test_search_keys_are_checked(raw: str, ok: bool) -> None:
    setting = next(s for s in SETTINGS if s.name == "SEARCH")
    if ok:
        assert setting.parse(raw) == raw
    else:
        with pytest.raises(ValueError):  # noqa: PT011 (the message varies by problem)
            setting.parse(raw)


@pytest.mark.unit
def test_bad_configuration_exits_2_and_contacts_nothing(tmp_path: Path) -> None:
    env = _clean_env(
        SHITSHOVELA_SOURCE="imap",
        SHITSHOVELA_TICKET_SYSTEM="jsonl",
        SHITSHOVELA_INSTANCE="cfg",
        SHITSHOVELA_JSONL__PATH=str(tmp_path / "tickets.jsonl"),
        SHITSHOVELA_IMAP__HOST="imap.invalid",
        SHITSHOVELA_IMAP__SECURITY="plain",
        SHITSHOVELA_IMAP__USERNAME="u",
        SHITSHOVELA_IMAP__PASSWORD="hunter2-secret",
    )
    result = subprocess.run(
        [sys.executable, "-m", "shitshovela_core", "run"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "SHITSHOVELA_IMAP__ALLOW_PLAINTEXT" in result.stdout
    assert "hunter2-secret" not in result.stdout + result.stderr


@pytest.mark.servers
def test_a_refused_login_is_unreachable_and_names_no_secret(mailbox: Mailbox) -> None:
    source = mailbox.source(PASSWORD="wrong pw 1e3 ✓")
    with pytest.raises(Unreachable) as info:
        list(source.items())
    assert "refused" in str(info.value)
    assert "wrong pw" not in str(info.value)
    assert source.conn.connects == 0


@pytest.mark.e2e
def test_cli_run_end_to_end(dovecot: DovecotServer, tmp_path: Path) -> None:
    """`shitshovela run` in a subprocess: TLS to Dovecot, tickets into the example's
    JSON-lines tracker, a password that TOML would turn into a number (and non-ASCII)."""
    password = "1e3 Pässwörd"
    dovecot.add_user("e2e", password)
    box = Mailbox(dovecot, "e2e")
    box.deliver(*(plain_message(n) for n in range(5)))
    box.deliver(plain_message(99, headers={"Auto-Submitted": "auto-replied"}))
    tickets = tmp_path / "tickets.jsonl"
    env = _clean_env(
        SHITSHOVELA_SOURCE="imap",
        SHITSHOVELA_TICKET_SYSTEM="jsonl",
        SHITSHOVELA_INSTANCE="e2e",
        SHITSHOVELA_MAX_RUNTIME="60s",
        SHITSHOVELA_JSONL__PATH=str(tickets),
        SHITSHOVELA_IMAP__HOST="127.0.0.1",
        SHITSHOVELA_IMAP__PORT=str(dovecot.tls_port),
        SHITSHOVELA_IMAP__CA_BUNDLE=str(dovecot.ca_file),
        SHITSHOVELA_IMAP__USERNAME="e2e",
        SHITSHOVELA_IMAP__PASSWORD=password,
        SHITSHOVELA_LOG_FORMAT="json",
    )
    result = subprocess.run(
        [sys.executable, "-m", "shitshovela_core", "run"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert (last["event"], last["created"], last["set_aside"]) == ("run_finished", 5, 1)
    rows = [json.loads(line) for line in tickets.read_text().splitlines()]
    assert sorted(r["title"] for r in rows) == [f"Request {n}" for n in range(5)]
    assert all(r["labels"] == [] for r in rows)
    assert box.count() == 0
    assert box.count("ShitShovela-Set-Aside") == 1
    assert "Pässwörd" not in output
