"""The core's conformance kit, against moto over HTTP: an unversioned and a versioned bucket,
and a bucket behind a moto that checks signatures (a wrong secret key is refused)."""

from __future__ import annotations

import pytest
from s3kit import S3Harness, SignedS3Harness, VersionedS3Harness
from shitshovela_testkit.conformance import source_suite

pytestmark = pytest.mark.servers

TestUnversionedBucket = source_suite(S3Harness)
TestVersionedBucket = source_suite(VersionedS3Harness)
TestSignedBucket = source_suite(SignedS3Harness)
