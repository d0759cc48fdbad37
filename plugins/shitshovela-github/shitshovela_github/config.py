"""The GitHub provider's settings, `GitHubSettings`, with the rules that span them.

This module is imported by the entry point, so it stays cheap: no httpx, no
JWT library, no provider code. The core reads `GitHubSettings` from the
environment (``SHITSHOVELA_GITHUB__*``), lists it in ``shitshovela plugins`` and
runs `GitHubSettings.problems` (one way to authenticate, GitHub.com's secondary
limits) while it loads the configuration, before anything is contacted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

import attrs

from shitshovela_core import (
    FLAG_PREFIX,
    EnvName,
    ProviderSettings,
    TlsSettings,
    setting,
)

#: GitHub's own limits (REST documentation and its answers): title, body, label name.
TITLE_MAX = 256
BODY_MAX = 65536
LABEL_MAX = 50

#: GitHub's secondary limits on content-creating requests (``POST``, ``PATCH``,
#: ``PUT``, ``DELETE``) of one identity.
WRITES_PER_MINUTE = 80
WRITES_PER_HOUR = 500

#: The REST API of github.com; GitHub Enterprise Server's is ``https://HOST/api/v3``.
GITHUB_API = "https://api.github.com"

_REPO = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_PEM = re.compile(r"-----BEGIN (?:RSA )?PRIVATE KEY-----")


def _check_repo(value: Any) -> None:
    text = str(value)
    if not _REPO.match(text) or text.split("/", 1)[1] in (".", ".."):
        raise ValueError("expected owner/name, such as acme/tickets")


def check_label(label: str) -> None:
    """Raise `ValueError` unless ``label`` is a GitHub label name that is not a flag."""
    if not label.strip():
        raise ValueError("a label name is empty")
    if len(label) > LABEL_MAX:
        raise ValueError(f"label {label[:40]!r}... is longer than {LABEL_MAX} characters")
    if "," in label:
        raise ValueError(f"label {label!r} has a comma (GitHub's label filters split on it)")
    if label.lower().startswith(FLAG_PREFIX):
        raise ValueError(f"label {label!r} would look like an in-progress flag")


def _check_labels(value: Any) -> None:
    for label in value:
        check_label(str(label))


def _unique(labels: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(label).strip() for label in labels))


def _strip(value: Any) -> str:
    return str(value).strip()


def _api_url(value: Any) -> str:
    return str(value).strip().rstrip("/")


def _check_id(value: Any) -> None:
    if str(value).strip() and not str(value).strip().isdigit():
        raise ValueError("expected a number, such as 123456")


def is_github_com(api_url: str) -> bool:
    """True for github.com's API (its secondary limits apply, whatever is configured)."""
    return api_url.rstrip("/").lower() == GITHUB_API


def private_key(value: str) -> str:
    """The PEM as given, with ``\\n`` written out in one line (as env files hold it)
    turned back into line breaks."""
    return value if "\n" in value else value.replace("\\n", "\n")


@attrs.frozen(kw_only=True)
class GitHubSettings(ProviderSettings, TlsSettings):
    """The GitHub Issues ticket system's settings (``SHITSHOVELA_GITHUB__*``), and the
    rules that span them: exactly one way to authenticate (``TOKEN``, or ``APP_ID``
    with ``APP_PRIVATE_KEY``), and GitHub.com's secondary limits as the ceiling."""

    repo: str = setting(
        kind="str",
        required=True,
        check=_check_repo,
        converter=_strip,
        help="The repository tickets are created in: owner/name.",
    )
    api_url: str = setting(
        kind="url",
        default=GITHUB_API,
        converter=_api_url,
        help="The REST API root: https://api.github.com, or https://HOST/api/v3 for "
        "GitHub Enterprise Server.",
    )
    token: str = setting(
        default="",
        secret=True,
        ascii_only=True,
        help="A personal access token (fine-grained or classic); or use APP_ID.",
    )
    app_id: str = setting(
        kind="str",
        default="",
        check=_check_id,
        converter=_strip,
        help="A GitHub App's id (with APP_PRIVATE_KEY), instead of TOKEN.",
    )
    app_private_key: str = setting(
        default="",
        secret=True,
        multiline=True,
        help="The GitHub App's private key (PEM; line breaks may be written as \\n).",
    )
    installation_id: str = setting(
        kind="str",
        default="",
        check=_check_id,
        converter=_strip,
        help="The App's installation id; found from the repository when empty.",
    )
    labels: tuple[str, ...] = setting(
        kind="list",
        default=[],
        check=_check_labels,
        converter=_unique,
        help="Extra labels on every ticket (comma-separated; made if missing).",
    )
    listing_lag: float = setting(
        default=60.0,
        minimum=0.0,
        maximum=3600.0,
        help="Seconds GitHub's issue listing may lag behind a create (I11); below the "
        "claim window.",
    )
    probe_gap: int = setting(
        default=3,
        minimum=1,
        maximum=50,
        help="Missing issue numbers in a row that end the read-by-number probe past the listing.",
    )
    max_body: int = setting(
        default=BODY_MAX,
        minimum=4096,
        maximum=BODY_MAX,
        help="Longest issue body (characters); a longer text is cut with a note, never "
        "the origin marker.",
    )
    attachments: Literal["list", "set_aside"] = setting(
        default="list",
        choices=("list", "set_aside"),
        help="Items with files (GitHub's API cannot upload them): list name, type and size "
        "in the body, or set the item aside.",
    )
    writes_per_minute: int = setting(
        default=WRITES_PER_MINUTE,
        minimum=1,
        maximum=100_000,
        help="Most writes (POST, PATCH, PUT, DELETE) a run sends in any minute "
        "(GitHub.com: at most 80).",
    )
    writes_per_hour: int = setting(
        default=WRITES_PER_HOUR,
        minimum=1,
        maximum=1_000_000,
        help="Most writes a run sends in any hour (GitHub.com: at most 500).",
    )
    rate: float = setting(
        kind="float",
        default=1.0,
        minimum=0.01,
        maximum=1000,
        help="Most requests a second, retries included (GitHub.com: at most 1, a second "
        "between writes).",
    )

    @property
    def owner(self) -> str:
        """The repository's owner."""
        return self.repo.split("/", 1)[0]

    @property
    def name(self) -> str:
        """The repository's name."""
        return self.repo.split("/", 1)[1]

    @property
    def uses_app(self) -> bool:
        """True when the job authenticates as a GitHub App."""
        return bool(self.app_id)

    def problems(self, env: EnvName) -> Iterator[str]:
        """One way to authenticate; an App's key and id together; GitHub.com's limits."""
        if self.token and (self.app_id or self.app_private_key):
            yield (f"set {env('TOKEN')} or {env('APP_ID')} with {env('APP_PRIVATE_KEY')}, not both")
        elif not self.token and not (self.app_id or self.app_private_key):
            yield (
                f"set {env('TOKEN')} (a personal access token) or {env('APP_ID')} and "
                f"{env('APP_PRIVATE_KEY')} (a GitHub App)"
            )
        elif self.app_id and not self.app_private_key:
            yield f"{env('APP_ID')} is set but {env('APP_PRIVATE_KEY')} is not"
        elif self.app_private_key and not self.app_id:
            yield f"{env('APP_PRIVATE_KEY')} is set but {env('APP_ID')} is not"
        elif self.app_private_key and not _PEM.search(private_key(self.app_private_key)):
            yield (
                f"{env('APP_PRIVATE_KEY')} is not a PEM private key (it starts with "
                "-----BEGIN RSA PRIVATE KEY----- in the file GitHub lets you download)"
            )
        if self.installation_id and not self.app_id:
            yield f"{env('INSTALLATION_ID')} is set but {env('APP_ID')} is not"
        if is_github_com(self.api_url):
            if self.rate > 1:
                yield (
                    f"{env('RATE')}={self.rate:g}: GitHub.com asks for at least a second "
                    "between writes, retries included; at most 1"
                )
            if self.writes_per_minute > WRITES_PER_MINUTE:
                yield (
                    f"{env('WRITES_PER_MINUTE')}={self.writes_per_minute}: GitHub.com's "
                    f"secondary limit is {WRITES_PER_MINUTE} a minute"
                )
            if self.writes_per_hour > WRITES_PER_HOUR:
                yield (
                    f"{env('WRITES_PER_HOUR')}={self.writes_per_hour}: GitHub.com's "
                    f"secondary limit is {WRITES_PER_HOUR} an hour"
                )
