"""Shared pieces for the s3 plugin's tests and bench: one moto server, buckets, sources.

`shared_server` starts one moto server per process on first use (stopped at
exit), so the conformance kit's harness factory, which takes no arguments,
and pytest fixtures use the same server. `S3Harness` drives the core's
conformance kit against a fresh bucket (versioned or not) on that server.
"""

from __future__ import annotations

import atexit
import itertools
import os
from typing import Any

from shitshovela_s3.source import S3Source
from shitshovela_testkit.fakes import fake_context
from shitshovela_testservers.motoserver import MotoServer

__all__ = ["PREFIX", "S3Harness", "make_source", "new_bucket", "shared_server"]

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


class S3Harness:
    """A `SourceHarness` (shitshovela_testkit.conformance) over a fresh bucket."""

    versioned = False

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


class VersionedS3Harness(S3Harness):
    """The same over a versioned bucket."""

    versioned = True
