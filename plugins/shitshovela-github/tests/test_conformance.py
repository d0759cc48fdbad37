"""The core's conformance kit against the GitHub emulator.

`TestConformance` runs with a listing that lags 30 s (``settle`` jumps past
it). `TestFrozenListing` never lets the listing learn anything new: the kit
passes there only because the provider reads issues by number past the
listing (the number probe, I11).
"""

from __future__ import annotations

import pytest
from ghkit import GitHubHarness
from shitshovela_github_emulator import github_openapi
from shitshovela_testkit.conformance import ticket_system_suite

pytestmark = pytest.mark.servers

TestConformance = ticket_system_suite(lambda: GitHubHarness(github_openapi()))
TestFrozenListing = ticket_system_suite(lambda: GitHubHarness(github_openapi(), frozen=True))
