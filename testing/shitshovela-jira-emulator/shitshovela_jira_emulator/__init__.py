"""A stateful Jira emulator on loopback for tests, optionally checked against Jira's OpenAPI.

    from shitshovela_jira_emulator import JiraEmulator, jira_openapi

    with JiraEmulator(projects={"OPS": ["Task", "Bug"]}, validate_spec=jira_openapi()) as jira:
        httpx.post(f"{jira.url}/rest/api/3/issue", headers=jira.auth_headers(), json=...)
        jira.assert_no_violations()

Importing this package does not import openapi-core; only ``validate_spec=...`` does.
`jira_openapi()` finds the excerpt in the repository's ``specs/`` folder (see `specfile`).

Modules, one concern each: ``server`` (the emulator: the request pipeline and the
test-facing API, on the testkit's stand-in server), ``routes`` (paths to handlers),
``auth`` (the site's users and their credentials: tokens -> users), ``speccheck`` (the
OpenAPI checks, on the testkit's ``openapicheck`` and ``specfindings``), ``fields``
(field rules), ``issues``, ``search`` and ``metadata`` (the handlers), ``jql`` (the
JQL parser and evaluator), ``render`` (Jira's JSON shapes), ``state`` (projects,
issues with their creator, the lagging index, faults, creates held for a late commit),
``site`` (what a handler works on), ``messages`` (requests, answers, error bodies),
``specfile``.
"""

from shitshovela_testkit.standin import RecordedRequest

from .jql import JqlError, escape_jql_string
from .server import JiraEmulator
from .speccheck import Violation
from .specfile import jira_openapi
from .state import (
    AttachmentRecord,
    CommentRecord,
    Faults,
    IssueRecord,
    ProjectConfig,
)

__all__ = [
    "AttachmentRecord",
    "CommentRecord",
    "Faults",
    "IssueRecord",
    "JiraEmulator",
    "JqlError",
    "ProjectConfig",
    "RecordedRequest",
    "Violation",
    "escape_jql_string",
    "jira_openapi",
]
