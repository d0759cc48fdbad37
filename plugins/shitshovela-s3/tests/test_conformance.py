"""The core's conformance kit, against moto over HTTP, on an unversioned and a versioned bucket."""

from __future__ import annotations

import pytest
from s3kit import S3Harness, VersionedS3Harness
from shitshovela_testkit.conformance import source_suite

pytestmark = pytest.mark.servers

TestUnversionedBucket = source_suite(S3Harness)
TestVersionedBucket = source_suite(VersionedS3Harness)
