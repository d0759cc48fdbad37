"""I10: credentials never appear in any output: logs, errors, signing failures. The CLI runs
against a moto server that checks SigV4 signatures and IAM policies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from s3kit import make_source
from shitshovela_testservers.motoserver import MotoServer

from shitshovela_core.errors import Unreachable

pytestmark = pytest.mark.servers

SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLE-session/token+value=="


class AuthServer:
    """A moto server that checks signatures, with one IAM user allowed s3:*."""

    def __init__(self) -> None:
        # The first three requests (user, policy, key) pass unauthenticated; then every
        # request must be signed by a known key.
        self.server = MotoServer(environment={"INITIAL_NO_AUTH_ACTION_COUNT": "3"}).start()
        import boto3  # type: ignore[import-untyped,unused-ignore]

        iam = boto3.client(
            "iam",
            endpoint_url=self.server.url,
            region_name="us-east-1",
            aws_access_key_id="AKIDBOOTSTRAP",
            aws_secret_access_key="bootstrap",
        )
        iam.create_user(UserName="shovel")
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="shovel", PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="shovel")["AccessKey"]
        self.access_key: str = key["AccessKeyId"]
        self.secret_key: str = key["SecretAccessKey"]
        self.s3 = self.server.client(
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key
        )


@pytest.fixture(scope="module")
def auth() -> Iterator[AuthServer]:
    server = AuthServer()
    yield server
    server.server.stop()


def forms(*secrets: str) -> list[str]:
    return [f for s in secrets for f in {s, quote(s, safe=""), quote(s)}]


def run_cli(tmp_path: Path, env: dict[str, str], command: str = "run") -> tuple[int, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SHITSHOVELA_", "AWS_"))}
    result = subprocess.run(
        [sys.executable, "-m", "shitshovela_core", command],
        capture_output=True,
        env={
            **base,
            "SHITSHOVELA_TICKET_SYSTEM": "jsonl",
            "SHITSHOVELA_JSONL__PATH": str(tmp_path / "tickets.jsonl"),
            "SHITSHOVELA_SOURCE": "s3",
            "SHITSHOVELA_INSTANCE": "secrets",
            "SHITSHOVELA_MAX_RUNTIME": "60",
            "SHITSHOVELA_LOG_LEVEL": "debug",
            "SHITSHOVELA_LOG_FORMAT": "json",
            **env,
        },
        timeout=90,
    )
    output = (result.stdout + result.stderr).decode("utf-8", errors="replace")
    return result.returncode, output


def test_a_real_run_signs_every_request_and_prints_no_credential(
    auth: AuthServer, tmp_path: Path
) -> None:
    auth.s3.create_bucket(Bucket="secrets-ok")
    for name in ("plain", "with space+plus", "ünï/../code%"):
        auth.s3.put_object(Bucket="secrets-ok", Key=f"in/{name}", Body=f"{name}\nbody".encode())
    code, output = run_cli(
        tmp_path,
        {
            "SHITSHOVELA_S3__BUCKET": "secrets-ok",
            "SHITSHOVELA_S3__PREFIX": "in/",
            "SHITSHOVELA_S3__ENDPOINT_URL": auth.server.url,
            # Credentials from the usual AWS variables (the settings are empty).
            "AWS_ACCESS_KEY_ID": auth.access_key,
            "AWS_SECRET_ACCESS_KEY": auth.secret_key,
        },
    )
    assert code == 0, output
    tickets = [json.loads(line) for line in (tmp_path / "tickets.jsonl").read_text().splitlines()]
    assert sorted(t["title"] for t in tickets) == ["plain", "with space+plus", "ünï/../code%"]
    assert auth.s3.list_objects_v2(Bucket="secrets-ok").get("KeyCount") == 0
    for secret in forms(auth.access_key, auth.secret_key):
        assert secret not in output


@pytest.mark.parametrize("wrong", ["secret", "key", "token"])
def test_refused_credentials_stop_the_run_with_exit_3_and_no_credential_shown(
    auth: AuthServer, tmp_path: Path, wrong: str
) -> None:
    auth.s3.create_bucket(Bucket=f"secrets-{wrong}")
    auth.s3.put_object(Bucket=f"secrets-{wrong}", Key="in/x", Body=b"x")
    access = "AKIDNOSUCHKEY1234567" if wrong == "key" else auth.access_key
    secret = "wrong/Secret+Value=42" if wrong == "secret" else auth.secret_key
    code, output = run_cli(
        tmp_path,
        {
            "SHITSHOVELA_S3__BUCKET": f"secrets-{wrong}",
            "SHITSHOVELA_S3__ENDPOINT_URL": auth.server.url,
            "SHITSHOVELA_S3__ACCESS_KEY_ID": access,
            "SHITSHOVELA_S3__SECRET_ACCESS_KEY": secret,
            "SHITSHOVELA_S3__SESSION_TOKEN": SESSION_TOKEN if wrong != "secret" else "",
        },
    )
    assert code == 3, output
    expected = {
        "secret": "SignatureDoesNotMatch",
        "key": "InvalidAccessKeyId",
        "token": "InvalidToken",
    }[wrong]
    assert expected in output
    for value in forms(access, secret, SESSION_TOKEN):
        assert value not in output


def test_a_secret_that_is_not_text_is_a_config_error_that_shows_nothing(tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SHITSHOVELA_", "AWS_"))}
    env = {k.encode(): v.encode() for k, v in base.items()}
    env.update(
        {
            b"SHITSHOVELA_SOURCE": b"s3",
            b"SHITSHOVELA_TICKET_SYSTEM": b"jsonl",
            b"SHITSHOVELA_JSONL__PATH": str(tmp_path / "t.jsonl").encode(),
            b"SHITSHOVELA_INSTANCE": b"secrets",
            b"SHITSHOVELA_S3__BUCKET": b"whatever",
            b"SHITSHOVELA_S3__ENDPOINT_URL": b"http://127.0.0.1:9",
            b"AWS_ACCESS_KEY_ID": b"AKIDBINARYSECRET",
            b"AWS_SECRET_ACCESS_KEY": b"binarySECRETpart\xff\xfe",
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "shitshovela_core", "run"], capture_output=True, env=env, timeout=60
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert b"AWS_SECRET_ACCESS_KEY" in output
    assert b"binarySECRETpart" not in output


def test_a_signing_failure_is_scrubbed_and_chains_nothing(
    monkeypatch: pytest.MonkeyPatch, moto: MotoServer, plain_bucket: str
) -> None:
    from botocore.auth import S3SigV4Auth  # type: ignore[import-untyped,unused-ignore]

    source = make_source(moto.url, plain_bucket, SESSION_TOKEN=SESSION_TOKEN)
    secret = source.context.settings["SECRET_ACCESS_KEY"]

    def leaky(self: Any, request: Any) -> None:
        raise ValueError(f"cannot sign with {secret} and {SESSION_TOKEN}")

    monkeypatch.setattr(S3SigV4Auth, "add_auth", leaky)
    with pytest.raises(Unreachable) as caught:
        list(source.items())
    text = str(caught.value)
    assert "cannot sign the request" in text
    assert secret not in text
    assert SESSION_TOKEN not in text
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ is True
    source.close()


def test_error_answers_show_only_code_and_message(moto: MotoServer, plain_bucket: str) -> None:
    from shitshovela_testkit.faultproxy import Answer, FaultProxy, Script

    source_secret = "echoed-in-body"
    body = (
        "<Error><Code>SignatureDoesNotMatch</Code><Message>no match</Message>"
        f"<StringToSign>AWS4-HMAC-SHA256 {source_secret}</StringToSign>"
        "<CanonicalRequest>GET / x-amz-security-token:abc</CanonicalRequest></Error>"
    ).encode()
    with FaultProxy(("127.0.0.1", moto.port), Script(http={1: Answer(403, body=body)})) as proxy:
        source = make_source(proxy.url, plain_bucket)
        with pytest.raises(Unreachable) as caught:
            list(source.items())
        source.close()
    assert "SignatureDoesNotMatch: no match" in str(caught.value)
    assert source_secret not in str(caught.value)
    assert "CanonicalRequest" not in str(caught.value)


def test_check_and_plan_read_only(auth: AuthServer, tmp_path: Path) -> None:
    auth.s3.create_bucket(Bucket="secrets-plan")
    auth.s3.put_bucket_versioning(
        Bucket="secrets-plan", VersioningConfiguration={"Status": "Enabled"}
    )
    auth.s3.put_object(Bucket="secrets-plan", Key="in/report", Body=b"Weekly report\nall good")
    auth.s3.put_object(Bucket="secrets-plan", Key="in/bad", Body=b"\xff\xfe")
    env = {
        "SHITSHOVELA_S3__BUCKET": "secrets-plan",
        "SHITSHOVELA_S3__PREFIX": "in/",
        "SHITSHOVELA_S3__ENDPOINT_URL": auth.server.url,
        "SHITSHOVELA_S3__ACCESS_KEY_ID": auth.access_key,
        "SHITSHOVELA_S3__SECRET_ACCESS_KEY": auth.secret_key,
    }
    code, output = run_cli(tmp_path, env, "check")
    assert code == 0, output
    assert '"versioning": "Enabled"' in output
    code, output = run_cli(tmp_path, env, "plan")
    assert code == 0, output
    assert "title:  Weekly report" in output
    assert "would be set aside: cannot be read as text" in output
    listed = auth.s3.list_object_versions(Bucket="secrets-plan")
    assert len(listed["Versions"]) == 2
    assert "DeleteMarkers" not in listed
    assert not (tmp_path / "tickets.jsonl").exists()
    for secret in forms(auth.access_key, auth.secret_key):
        assert secret not in output
