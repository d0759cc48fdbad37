"""The Jira provider's settings: what it declares, and the validated view it works from.

This module is imported by the entry point, so it stays cheap: no httpx, no
provider code. `SETTINGS` is what ``shitshovela plugins`` lists; `JiraConfig`
is built once per run from the values the core validated and checks the
combinations a single setting cannot (Cloud needs e-mail and API token, Data
Center a personal access token), raising `ConfigError` before anything is
contacted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from shitshovela_core.errors import ConfigError
from shitshovela_core.models import FLAG_PREFIX
from shitshovela_core.settings import Setting

Flavour = Literal["cloud", "datacenter"]

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


def _check_map(value: Any) -> None:
    parse_map(value)


def parse_map(entries: Any) -> dict[str, str]:
    """Parse ``["mail=Mail", "db=Databases"]`` into ``{"mail": "Mail", ...}``."""
    out: dict[str, str] = {}
    for entry in entries or ():
        key, sep, value = str(entry).partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"expected value=Name pairs such as mail=Mail, got {entry!r}")
        out[key.strip()] = value.strip()
    return out


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "URL",
        "url",
        required=True,
        help="Jira's base URL: https://example.atlassian.net or https://jira.example.com/jira.",
    ),
    Setting(
        "FLAVOUR",
        "choice",
        default="auto",
        choices=("auto", "cloud", "datacenter"),
        help="cloud (REST v3), datacenter (REST v2), or auto: read serverInfo once per run.",
    ),
    Setting("EMAIL", default="", help="Cloud: the e-mail of the account the API token belongs to."),
    Setting("API_TOKEN", default="", secret=True, help="Cloud: an API token (with EMAIL)."),
    Setting("PAT", default="", secret=True, help="Data Center: a personal access token."),
    Setting(
        "PROJECT",
        required=True,
        check=_check_project,
        help="The key of the project tickets are created in, e.g. OPS.",
    ),
    Setting("ISSUE_TYPE", default="Task", help="The issue type of every ticket."),
    Setting(
        "LABELS",
        "list",
        default=[],
        check=_check_labels,
        help="Extra labels on every ticket (comma-separated, no spaces).",
    ),
    Setting("COMPONENT", default="", help="A component set on every ticket (none if empty)."),
    Setting(
        "COMPONENT_MAP",
        "list",
        default=[],
        check=_check_map,
        help="value=Component pairs: maps a draft's 'component' field to a Jira component.",
    ),
    Setting(
        "PRIORITY",
        default="",
        help="A priority name set on every ticket (Jira's default if empty).",
    ),
    Setting(
        "PRIORITY_MAP",
        "list",
        default=[],
        check=_check_map,
        help="value=Priority pairs: maps a draft's 'priority' field to a Jira priority name.",
    ),
    Setting(
        "INDEX_LAG",
        "float",
        default=60.0,
        minimum=0.0,
        maximum=3600.0,
        help="Seconds the JQL search may lag behind a create (the listing lag, I11).",
    ),
    Setting(
        "PROBE_GAP",
        "int",
        default=3,
        minimum=1,
        maximum=100,
        help="Missing issue keys in a row that end the read-by-key probe past the index.",
    ),
    Setting(
        "MAX_DESCRIPTION",
        "int",
        default=DESCRIPTION_MAX,
        minimum=1000,
        maximum=10_000_000,
        help="Longest description (characters); longer text is cut with a note and attached.",
    ),
    Setting(
        "MAX_ATTACHMENT",
        "int",
        default=10 * 1024 * 1024,
        minimum=0,
        help="Largest attachment uploaded (bytes, the server's limit); larger ones are listed.",
    ),
)

DEFAULT_RATE = 2.0


@attrs.frozen
class JiraConfig:
    """The validated settings of one run, with the cross-setting rules applied."""

    url: str
    flavour: Literal["auto", "cloud", "datacenter"]
    email: str
    api_token: str = attrs.field(repr=False)
    pat: str = attrs.field(repr=False)
    project: str
    issue_type: str
    labels: tuple[str, ...]
    component: str
    component_map: Mapping[str, str]
    priority: str
    priority_map: Mapping[str, str]
    index_lag: float
    probe_gap: int
    max_description: int
    max_attachment: int

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], provider: str = "jira") -> JiraConfig:
        """Build from the core's validated values (declared defaults fill any gap).

        Raises `ConfigError` naming the variables when a combination is wrong."""
        values = {s.name: s.default for s in SETTINGS}
        values.update({k: v for k, v in settings.items() if v is not None})

        def env(name: str) -> str:
            return f"SHITSHOVELA_{provider.upper()}__{name}"

        problems: list[str] = []
        for setting in SETTINGS:
            if setting.required and not values.get(setting.name):
                problems.append(f"{env(setting.name)} is not set: it is required ({setting.help})")
        flavour = str(values["FLAVOUR"]).lower()
        email = str(values["EMAIL"] or "").strip()
        token = str(values["API_TOKEN"] or "")
        pat = str(values["PAT"] or "")
        cloud_ok = bool(email and token)
        if flavour == "cloud" and not cloud_ok:
            problems.append(
                f"{env('FLAVOUR')}=cloud needs {env('EMAIL')} and {env('API_TOKEN')} "
                "(an Atlassian API token)"
            )
        elif flavour == "datacenter" and not pat:
            problems.append(
                f"{env('FLAVOUR')}=datacenter needs {env('PAT')} (a personal access token)"
            )
        elif flavour == "auto" and not (cloud_ok or pat):
            problems.append(
                f"set {env('EMAIL')} and {env('API_TOKEN')} (Cloud) or {env('PAT')} (Data Center)"
            )
        if token and not email:
            problems.append(f"{env('API_TOKEN')} is set but {env('EMAIL')} is not")
        try:
            component_map = parse_map(values["COMPONENT_MAP"])
            priority_map = parse_map(values["PRIORITY_MAP"])
        except ValueError as exc:
            problems.append(f"{env('COMPONENT_MAP')}/{env('PRIORITY_MAP')}: {exc}")
            component_map, priority_map = {}, {}
        if problems:
            raise ConfigError(problems)
        return cls(
            url=str(values["URL"]).rstrip("/"),
            flavour=flavour,  # type: ignore[arg-type]
            email=email,
            api_token=token,
            pat=pat,
            project=str(values["PROJECT"]).strip().upper(),
            issue_type=str(values["ISSUE_TYPE"]).strip(),
            labels=tuple(dict.fromkeys(str(v) for v in values["LABELS"] or ())),
            component=str(values["COMPONENT"] or "").strip(),
            component_map=component_map,
            priority=str(values["PRIORITY"] or "").strip(),
            priority_map=priority_map,
            index_lag=float(values["INDEX_LAG"]),
            probe_gap=int(values["PROBE_GAP"]),
            max_description=int(values["MAX_DESCRIPTION"]),
            max_attachment=int(values["MAX_ATTACHMENT"]),
        )
