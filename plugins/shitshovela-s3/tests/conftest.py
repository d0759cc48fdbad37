"""Fixtures: one moto S3 server (a separate process on loopback) for the whole session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from s3kit import make_source, new_bucket, shared_server
from shitshovela_s3.source import S3Source
from shitshovela_testservers.motoserver import MotoServer


@pytest.fixture(scope="session")
def moto() -> MotoServer:
    """moto's S3 server, started once; fails loudly if it cannot start."""
    return shared_server()


@pytest.fixture(scope="session")
def s3(moto: MotoServer) -> Any:
    """A boto3 client on the server, for seeding and checking (never the code under test)."""
    return moto.client()


@pytest.fixture(params=[False, True], ids=["unversioned", "versioned"])
def bucket(request: pytest.FixtureRequest, s3: Any) -> str:
    """A fresh bucket, unversioned and versioned."""
    return new_bucket(s3, versioned=request.param)


@pytest.fixture
def plain_bucket(s3: Any) -> str:
    """A fresh unversioned bucket."""
    return new_bucket(s3, versioned=False)


@pytest.fixture
def source_for(moto: MotoServer) -> Iterator[Callable[..., S3Source]]:
    """Build sources over the server: ``source_for(bucket, **settings)``; closed at the end."""
    made: list[S3Source] = []

    def build(bucket: str, endpoint: str | None = None, **settings: Any) -> S3Source:
        source = make_source(endpoint or moto.url, bucket, **settings)
        made.append(source)
        return source

    yield build
    for source in made:
        source.close()


def keys(client: Any, bucket: str, prefix: str = "") -> list[str]:
    """Current keys in ``bucket`` (checked with boto3, not the code under test)."""
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


@pytest.fixture
def list_keys(s3: Any) -> Callable[..., list[str]]:
    """``list_keys(bucket, prefix="")``: the current keys, via boto3."""
    return lambda bucket, prefix="": keys(s3, bucket, prefix)
