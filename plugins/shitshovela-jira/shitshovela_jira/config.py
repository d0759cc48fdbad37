"""The Jira provider's settings, `JiraSettings`, with the rules that span them.

This module is imported by the entry point, so it stays cheap: no httpx, no
provider code. The core reads `JiraSettings` from the environment, lists it in
``shitshovela plugins`` and runs its `JiraSettings.problems` (Cloud needs
e-mail and API token, Data Center a personal access token) while it loads the
configuration, with every other problem of the run, before anything is
contacted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import attrs

from shitshovela_core import (
    FLAG_PREFIX,
    EnvName,
    ProviderSettings,
    TlsSettings,
    env_name,
    rate_setting,
    setting,
)

#: Jira's own limits (FACTS.md): summary and label length, description on Cloud.
SUMMARY_MAX = 255
LABEL_MAX = 255
DESCRIPTION_MAX = 32767

#: The issue property that holds the origin reference (set in the create request, I3).
ORIGIN_PROPERTY = "shitshovela.origin"

_PROJECT_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,254}$")


def _check_project(value: Any) -> None:
    if not _PROJECT_KEY.match(str(value)):
        raise ValueError("expected a Jira project key such as OPS (a letter, then letters/digits)")


def check_label(label: str) -> None:
    """Raise `ValueError` unless ``label`` is a valid Jira label that is not a flag."""
    if not label or any(ch.isspace() for ch in label):
        raise ValueError(f"label {label!r} is empty or contains spaces (Jira refuses those)")
    if len(label) > LABEL_MAX:
        raise ValueError(f"label {label[:40]!r}... is longer than {LABEL_MAX} characters")
    if label.startswith(FLAG_PREFIX):
        raise ValueError(f"label {label!r} would look like an in-progress flag")


def _check_labels(value: Any) -> None:
    for label in value:
        check_label(str(label))


def parse_map(entries: Any) -> dict[str, str]:
    """Parse ``["mail=Mail", "db=Databases"]`` into ``{"mail": "Mail", ...}``."""
    out: dict[str, str] = {}
    for entry in entries or ():
        key, sep, value = str(entry).partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"expected value=Name pairs such as mail=Mail, got {entry!r}")
        out[key.strip()] = value.strip()
    return out


def _unique(labels: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(label) for label in labels))


def _strip(value: Any) -> str:
    return str(value).strip()


DEFAULT_RATE = 2.0


@attrs.frozen(kw_only=True)
class JiraSettings(ProviderSettings, TlsSettings):
    """The Jira ticket system's settings (``SHITSHOVELA_JIRA__*``), and the rules
    that span them: Cloud needs e-mail and API token, Data Center a personal
    access token."""

    url: str = setting(
        kind="url",
        required=True,
        converter=lambda url: str(url).rstrip("/"),
        help="Jira's base URL: https://example.atlassian.net or https://jira.example.com/jira.",
    )
    flavour: Literal["auto", "cloud", "datacenter"] = setting(
        default="auto",
        choices=("auto", "cloud", "datacenter"),
        help="cloud (REST v3), datacenter (REST v2), or auto: read serverInfo once per run.",
    )
    email: str = setting(
        kind="str",
        default="",
        converter=_strip,
        help="Cloud: the e-mail of the account the API token belongs to.",
    )
    api_token: str = setting(default="", secret=True, help="Cloud: an API token (with EMAIL).")
    pat: str = setting(
        default="",
        secret=True,
        ascii_only=True,  # sent as "Authorization: Bearer <PAT>"
        help="Data Center: a personal access token.",
    )
    project: str = setting(
        kind="str",
        required=True,
        check=_check_project,
        converter=lambda key: str(key).strip().upper(),
        help="The key of the project tickets are created in, e.g. OPS.",
    )
    issue_type: str = setting(
        kind="str", default="Task", converter=_strip, help="The issue type of every ticket."
    )
    labels: tuple[str, ...] = setting(
        kind="list",
        default=[],
        check=_check_labels,
        converter=_unique,
        help="Extra labels on every ticket (comma-separated, no spaces).",
    )
    component: str = setting(
        kind="str",
        default="",
        converter=_strip,
        help="A component set on every ticket (none if empty).",
    )
    component_map: Mapping[str, str] = setting(
        kind="list",
        default=[],
        check=parse_map,
        converter=parse_map,
        help="value=Component pairs: maps a draft's 'component' field to a Jira component.",
    )
    priority: str = setting(
        kind="str",
        default="",
        converter=_strip,
        help="A priority name set on every ticket (Jira's default if empty).",
    )
    priority_map: Mapping[str, str] = setting(
        kind="list",
        default=[],
        check=parse_map,
        converter=parse_map,
        help="value=Priority pairs: maps a draft's 'priority' field to a Jira priority name.",
    )
    index_lag: float = setting(
        default=60.0,
        minimum=0.0,
        maximum=3600.0,
        help="Seconds the JQL search may lag behind a create (the listing lag, I11); shorter "
        f"than {env_name(None, 'CLAIM_WINDOW')}, which keeps a claimed item waiting for its ticket "
        "however long the index lags. A source without claims waits this long before "
        "reconcile lists.",
    )
    probe_gap: int = setting(
        default=3,
        minimum=1,
        maximum=100,
        help="Missing issue keys in a row that end the read-by-key probe past the index. The "
        "probe only finishes a ticket the index has not listed yet sooner; it does not "
        "prevent duplicates (the claim window does).",
    )
    max_description: int = setting(
        default=DESCRIPTION_MAX,
        minimum=1000,
        maximum=10_000_000,
        help="Longest description (characters); longer text is cut with a note and attached.",
    )
    max_attachment: int = setting(
        default=10 * 1024 * 1024,
        minimum=0,
        help="Largest attachment uploaded (bytes, the server's limit); larger ones are listed.",
    )
    rate: float = rate_setting(DEFAULT_RATE)

    def problems(self, env: EnvName) -> Iterator[str]:
        """FLAVOUR against the credentials given."""
        cloud_ok = bool(self.email and self.api_token)
        if self.flavour == "cloud" and not cloud_ok:
            yield (
                f"{env('FLAVOUR')}=cloud needs {env('EMAIL')} and {env('API_TOKEN')} "
                "(an Atlassian API token)"
            )
        elif self.flavour == "datacenter" and not self.pat:
            yield f"{env('FLAVOUR')}=datacenter needs {env('PAT')} (a personal access token)"
        elif self.flavour == "auto" and not (cloud_ok or self.pat):
            yield (
                f"set {env('EMAIL')} and {env('API_TOKEN')} (Cloud) or {env('PAT')} (Data Center)"
            )
        if self.api_token and not self.email:
            yield f"{env('API_TOKEN')} is set but {env('EMAIL')} is not"
