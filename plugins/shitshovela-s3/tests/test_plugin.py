"""The plugin is installed, its entry point is light, and its settings are validated (exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SHITSHOVELA_", "AWS_"))}
    return subprocess.run(
        [sys.executable, "-m", "shitshovela_core", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=60,
    )


def test_plugin_is_installed() -> None:
    result = cli("plugins", "--json")
    assert result.returncode == 0, result.stderr
    providers = {p["name"]: p for p in json.loads(result.stdout)["providers"]}
    s3 = providers["s3"]
    assert (s3["plugin"], s3["kind"]) == ("s3", "source")
    settings = {s["env"]: s for s in s3["settings"]}
    assert settings["SHITSHOVELA_S3__BUCKET"]["required"] is True
    assert settings["SHITSHOVELA_S3__SECRET_ACCESS_KEY"]["secret"] is True
    assert settings["SHITSHOVELA_S3__SESSION_TOKEN"]["secret"] is True
    assert settings["SHITSHOVELA_S3__RATE"]["default"] == 50.0
    for name in (
        "ENDPOINT_URL",
        "REGION",
        "PREFIX",
        "ACCESS_KEY_ID",
        "ADDRESSING",
        "DONE",
        "DONE_PREFIX",
        "SET_ASIDE_PREFIX",
        "CONDITIONAL_DELETE",
        "MAX_SIZE",
        "BODY_LIMIT",
        "FORMAT",
        "TITLE_FROM",
        "TITLE_FIELD",
        "BODY_FIELD",
        "JSON_MAX_SIZE",
        "TLS_VERIFY",
        "CA_BUNDLE",
    ):
        assert f"SHITSHOVELA_S3__{name}" in settings


def test_the_entry_point_does_not_import_the_heavy_modules() -> None:
    code = (
        "import sys, shitshovela_s3\n"
        "heavy = [m for m in ('botocore', 'defusedxml', 'httpx', 'shitshovela_s3.source',"
        " 'shitshovela_s3.client', 'shitshovela_s3.auth') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_selecting_the_source_loads_botocore_only_then() -> None:
    code = (
        "import sys\n"
        "from shitshovela_core.providers import ProviderSpec\n"
        "from shitshovela_testkit.fakes import fake_context\n"
        "import shitshovela_s3\n"
        "assert 'botocore' not in sys.modules\n"
        "factory = ProviderSpec('s3', 'source', 'shitshovela_s3.source:S3Source').load()\n"
        "factory(fake_context('s3', settings={'BUCKET': 'b-1', 'ACCESS_KEY_ID': 'a',"
        " 'SECRET_ACCESS_KEY': 'b-secret'}))\n"
        "print('botocore' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "True"


BASE = {
    "SHITSHOVELA_SOURCE": "s3",
    "SHITSHOVELA_TICKET_SYSTEM": "jsonl",
    "SHITSHOVELA_INSTANCE": "cfg",
    "SHITSHOVELA_JSONL__PATH": "/nonexistent/tickets.jsonl",
    "SHITSHOVELA_S3__BUCKET": "some-bucket",
    # A closed port: nothing may be contacted before the configuration is valid.
    "SHITSHOVELA_S3__ENDPOINT_URL": "http://127.0.0.1:9",
    "SHITSHOVELA_S3__ACCESS_KEY_ID": "AKIDCONFIGTEST",
    "SHITSHOVELA_S3__SECRET_ACCESS_KEY": "config-secret-value",
}


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"SHITSHOVELA_S3__BUCKET": ""}, "SHITSHOVELA_S3__BUCKET"),
        ({"SHITSHOVELA_S3__ADDRESSING": "sideways"}, "SHITSHOVELA_S3__ADDRESSING"),
        ({"SHITSHOVELA_S3__DONE": "move"}, "SHITSHOVELA_S3__DONE_PREFIX"),
        ({"SHITSHOVELA_S3__MAX_SIZE": "lots"}, "SHITSHOVELA_S3__MAX_SIZE"),
        ({"SHITSHOVELA_S3__PREFIX": "/abs"}, "SHITSHOVELA_S3__PREFIX"),
        ({"SHITSHOVELA_S3__SET_ASIDE_PREFIX": "in/", "SHITSHOVELA_S3__PREFIX": "in/"}, "SET_ASIDE"),
        (
            {
                "SHITSHOVELA_S3__PREFIX": "in/x/",
                "SHITSHOVELA_S3__DONE": "move",
                "SHITSHOVELA_S3__DONE_PREFIX": "in/",
            },
            "SHITSHOVELA_S3__DONE_PREFIX",
        ),
        ({"SHITSHOVELA_S3__SECRET_ACCESS_KEY": ""}, "AWS_SECRET_ACCESS_KEY"),
        ({"SHITSHOVELA_S3__BUCKTE": "x"}, "SHITSHOVELA_S3__BUCKET"),
    ],
    ids=[
        "missing",
        "choice",
        "move-needs-prefix",
        "int",
        "prefix",
        "same-prefix",
        "around-prefix",
        "creds",
        "typo",
    ],
)
def test_bad_settings_exit_2_naming_the_variable(changes: dict[str, str], named: str) -> None:
    env = {**BASE, **changes}
    env = {k: v for k, v in env.items() if v != ""}
    result = cli("run", env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert named in result.stdout + result.stderr
    assert "config-secret-value" not in result.stdout + result.stderr


def test_the_readme_lists_every_setting() -> None:
    from shitshovela_s3.config import S3Settings

    from shitshovela_core.settings import settings_of

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for setting in settings_of(S3Settings):
        assert f"SHITSHOVELA_S3__{setting.name}" in readme


@pytest.mark.parametrize(
    ("settings", "scope", "url"),
    [
        (
            {"REGION": "eu-west-1"},
            "s3://alerts-bucket/in/",
            "https://alerts-bucket.s3.eu-west-1.amazonaws.com/in/a%20b",
        ),
        (
            {"BUCKET": "dotted.bucket.name"},
            "s3://dotted.bucket.name/in/",
            "https://s3.us-east-1.amazonaws.com/dotted.bucket.name/in/a%20b",
        ),
        (
            {"ENDPOINT_URL": "http://minio.local:9000"},
            "s3+minio.local:9000://alerts-bucket/in/",
            "http://minio.local:9000/alerts-bucket/in/a%20b",
        ),
        (
            {"ENDPOINT_URL": "https://r2.example.com", "ADDRESSING": "virtual"},
            "s3+r2.example.com://alerts-bucket/in/",
            "https://alerts-bucket.r2.example.com/in/a%20b",
        ),
    ],
    ids=["aws", "aws-dotted", "minio", "virtual"],
)
def test_scope_and_addressing(settings: dict[str, str], scope: str, url: str) -> None:
    from shitshovela_s3.source import S3Source
    from shitshovela_testkit.fakes import fake_context

    values = {
        "BUCKET": "alerts-bucket",
        "PREFIX": "in/",
        "ACCESS_KEY_ID": "AKIDUNIT",
        "SECRET_ACCESS_KEY": "unit-secret",
        **settings,
    }
    source = S3Source(fake_context("s3", "unit", settings=values))
    assert source.scope == scope
    request = source.client.http._client.build_request("GET", source.client.url("in/a b"))
    assert str(request.url) == url
    source.close()
