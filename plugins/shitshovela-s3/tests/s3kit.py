"""Shared pieces for the s3 plugin's tests and bench: one moto server, buckets, sources.

`shared_server` starts one moto server per process on first use (stopped at
exit), so the conformance kit's harness factory, which takes no arguments,
and pytest fixtures use the same server. `S3Harness` drives the core's
conformance kit against a fresh bucket (versioned or not) on that server.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from shitshovela_s3.source import S3Source
from shitshovela_testkit.fakes import fake_context
from shitshovela_testkit.faultproxy import Answer, Event, Fault, RequestEvent
from shitshovela_testservers.motoserver import MotoServer

__all__ = ["PREFIX", "KeyLimit", "S3Harness", "make_source", "new_bucket", "shared_server"]

#: The prefix the harness lists (keys outside it are not items).
PREFIX = "inbox/"
#: Credentials the tests use: distinctive, so that a leak is easy to find (I10).
ACCESS_KEY = "AKIDTESTACCESSKEY7Q4"
SECRET_KEY = "test-Secret/Key+9zQ=shitshovela"

_server: MotoServer | None = None
_names = itertools.count(1)


def shared_server() -> MotoServer:
    """The process's moto server, started on first use."""
    global _server
    if _server is None:
        server = MotoServer().start()
        atexit.register(server.stop)
        _server = server
    return _server


def new_bucket(client: Any, *, versioned: bool) -> str:
    """Create a bucket with a fresh name; enable versioning if asked."""
    name = f"{'ver' if versioned else 'plain'}-{os.getpid()}-{next(_names)}"
    client.create_bucket(Bucket=name)
    if versioned:
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def make_source(
    endpoint: str,
    bucket: str,
    *,
    instance: str = "conf-a",
    **settings: Any,
) -> S3Source:
    """An `S3Source` over ``bucket`` at ``endpoint`` (a generous budget and rate unless
    ``budget``/``RATE`` are given)."""
    budget = settings.pop("budget", None)
    values: dict[str, Any] = {
        "BUCKET": bucket,
        "ENDPOINT_URL": endpoint,
        "ACCESS_KEY_ID": ACCESS_KEY,
        "SECRET_ACCESS_KEY": SECRET_KEY,
        "PREFIX": PREFIX,
        **settings,
    }
    extra: dict[str, Any] = {"budget": budget} if budget is not None else {}
    return S3Source(fake_context("s3", instance, settings=values, **extra))


class KeyLimit:
    """A `FaultProxy` listener that refuses, as AWS does, a write to a key longer than
    1,024 bytes of UTF-8 (moto stores any length): ``400 KeyTooLongError``. It records
    the key of every write (PUT: objects, copies, tags) in ``written``."""

    LIMIT = 1024
    TOO_LONG = Answer(
        400,
        body=b"<Error><Code>KeyTooLongError</Code><Message>Your key is too long</Message></Error>",
        headers={"Content-Type": "application/xml"},
    )

    def __init__(self) -> None:
        self.written: list[str] = []

    def __call__(self, event: Event) -> Fault | None:
        """Record a write's key; refuse it when it is too long."""
        if not isinstance(event, RequestEvent) or event.method not in ("PUT", "POST"):
            return None
        key = unquote(urlsplit(event.target).path).split("/", 2)[-1]  # path style
        self.written.append(key)
        return self.TOO_LONG if len(key.encode()) > self.LIMIT else None


class S3Harness:
    """A `SourceHarness` (shitshovela_testkit.conformance) over a fresh bucket."""

    versioned = False
    #: Capabilities this harness cannot offer, and why (the kit skips those checks).
    unsupported: ClassVar[dict[str, str]] = {
        "source_with_wrong_credential": (
            "this moto checks no request signature, so it accepts any credential; "
            "SignedS3Harness (a moto that checks SigV4) offers it"
        )
    }

    def __init__(self) -> None:
        self.server = shared_server()
        self.client = self.server.client()
        self.bucket = new_bucket(self.client, versioned=self.versioned)

    def source(self) -> S3Source:
        """A fresh source over the bucket."""
        return make_source(self.server.url, self.bucket)

    def add(self, name: str, content: bytes) -> None:
        """Put an object ``PREFIX + name``."""
        self.client.put_object(Bucket=self.bucket, Key=PREFIX + name, Body=content)

    replace = add

    def names(self) -> list[str]:
        """Names (keys without the prefix) of the objects waiting."""
        listed = self.client.list_objects_v2(Bucket=self.bucket, Prefix=PREFIX)
        return sorted(o["Key"][len(PREFIX) :] for o in listed.get("Contents", []))

    def close(self) -> None:
        """Nothing to clean: every harness has its own bucket."""


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


_auth: AuthServer | None = None


def shared_auth_server() -> AuthServer:
    """The process's signature-checking moto server, started on first use."""
    global _auth
    if _auth is None:
        auth = AuthServer()
        atexit.register(auth.server.stop)
        _auth = auth
    return _auth


class SignedS3Harness(S3Harness):
    """The same over a moto that checks every request's SigV4 signature against an
    IAM user's key: a wrong secret key is refused."""

    unsupported: ClassVar[dict[str, str]] = {}

    def __init__(self) -> None:
        self.auth = shared_auth_server()
        self.client = self.auth.s3
        self.bucket = new_bucket(self.client, versioned=self.versioned)

    def _source(self, secret: str) -> S3Source:
        return make_source(
            self.auth.server.url,
            self.bucket,
            ACCESS_KEY_ID=self.auth.access_key,
            SECRET_ACCESS_KEY=secret,
        )

    def source(self) -> S3Source:
        """A fresh source signing with the IAM user's key."""
        return self._source(self.auth.secret_key)

    def source_with_wrong_credential(self) -> S3Source:
        """A source signing with a wrong secret key."""
        return self._source("wrong/Secret+Value=42")


class VersionedS3Harness(S3Harness):
    """The same over a versioned bucket."""

    versioned = True
