"""The core's conformance kit against the emulator, on both flavours.

The ``FrozenIndex`` variants never let the search index catch up (``settle``
does nothing and the lag is a day): the kit passes there only because the
provider reads recent keys directly instead of trusting the index (I11).
"""

from __future__ import annotations

import pytest
from jirakit import JiraHarness
from shitshovela_jira_emulator import jira_openapi
from shitshovela_testkit.conformance import ticket_system_suite

pytestmark = pytest.mark.servers

TestCloudConformance = ticket_system_suite(lambda: JiraHarness("cloud", jira_openapi()))
TestDataCenterConformance = ticket_system_suite(lambda: JiraHarness("datacenter", jira_openapi()))
TestCloudFrozenIndex = ticket_system_suite(
    lambda: JiraHarness("cloud", jira_openapi(), index_lag=86400.0, settle_index=False)
)
TestDataCenterFrozenIndex = ticket_system_suite(
    lambda: JiraHarness("datacenter", jira_openapi(), index_lag=86400.0, settle_index=False)
)
