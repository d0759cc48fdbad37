"""Jira Cloud and Jira Data Center: what differs between them, each in one place.

`JiraTickets` asks its `Flavour` and never branches on which one it talks to:

=============  ====================================  ====================================
difference     Cloud (`CLOUD`)                       Data Center (`DATA_CENTER`)
=============  ====================================  ====================================
path prefix    ``/rest/api/3``                       ``/rest/api/2``
auth           e-mail and API token (basic)          personal access token (bearer)
search         ``POST /search/jql``, next-page token ``POST /search``, ``startAt`` offset
text           ADF documents                         wiki markup; comments as plain text
user id        ``accountId``                         ``key`` (else ``name``)
=============  ====================================  ====================================

`configured` gives the flavour ``FLAVOUR`` names; `detect` tells one from the
other for ``FLAVOUR=auto`` (one anonymous ``GET serverInfo``, which both answer
under ``/rest/api/2``).
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Literal

from shitshovela_core import (
    ConfigError,
    EnvName,
    HttpClient,
    SafetyPolicy,
    Unreachable,
)

from . import text
from .config import JiraSettings

FlavourName = Literal["cloud", "datacenter"]

#: One search request: the path and the JSON body in, the parsed answer out.
Post = Callable[[str, Mapping[str, Any]], Any]

_HEADERS = {"Accept": "application/json"}


def _issues(data: Any) -> list[dict[str, Any]]:
    """The issues of one search answer (entries without a key are skipped)."""
    return [i for i in data.get("issues") or [] if isinstance(i, dict) and "key" in i]


class Flavour(ABC):
    """One kind of Jira: its REST path, its credentials, its search paging, its text."""

    #: ``cloud`` or ``datacenter``, as ``FLAVOUR`` spells it.
    name: ClassVar[FlavourName]
    #: How messages name this kind of Jira.
    title: ClassVar[str]
    #: The REST path prefix every request starts with.
    api: ClassVar[str]

    def __repr__(self) -> str:
        return f"<Jira flavour {self.name}>"

    @abstractmethod
    def has_credentials(self, settings: JiraSettings) -> bool:
        """Whether ``settings`` hold the secret this flavour authenticates with."""

    @abstractmethod
    def credentials(self, env: EnvName) -> str:
        """The variables that hold this flavour's credentials, for messages."""

    @abstractmethod
    def client(self, safety: SafetyPolicy, settings: JiraSettings) -> HttpClient:
        """An HTTP client that authenticates every request this flavour's way."""

    @abstractmethod
    def search(self, post: Post, body: Mapping[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """The pages of a JQL search (``body`` holds the query), one list of issues
        each, read lazily: the next page is requested only when asked for."""

    @abstractmethod
    def render(self, lines: Sequence[str]) -> str | dict[str, Any]:
        """``lines`` as the value of a description field."""

    @abstractmethod
    def comment(self, message: str) -> str | dict[str, Any]:
        """``message`` as the body of a comment."""

    @abstractmethod
    def user_id(self, user: Mapping[str, Any]) -> str:
        """The stable id of a user as Jira renders one (``/myself``, an issue's
        ``creator``); empty when the answer names none."""


class Cloud(Flavour):
    """Jira Cloud: REST v3, basic auth with e-mail and API token, token-paged search, ADF."""

    name = "cloud"
    title = "Jira Cloud"
    api = "/rest/api/3"

    def has_credentials(self, settings: JiraSettings) -> bool:
        return bool(settings.api_token)

    def credentials(self, env: EnvName) -> str:
        return f"{env('EMAIL')} and {env('API_TOKEN')}"

    def client(self, safety: SafetyPolicy, settings: JiraSettings) -> HttpClient:
        return HttpClient(
            safety,
            settings.url,
            headers=dict(_HEADERS),
            auth=(settings.email, settings.api_token),
            secrets=(settings.api_token,),
        )

    def search(self, post: Post, body: Mapping[str, Any]) -> Iterator[list[dict[str, Any]]]:
        path = f"{self.api}/search/jql"
        token: str | None = None
        while True:
            data = post(path, {**body, "nextPageToken": token} if token else body)
            yield _issues(data)
            token = data.get("nextPageToken")
            if data.get("isLast", True) or not token:
                return

    def render(self, lines: Sequence[str]) -> dict[str, Any]:
        return text.adf(lines)

    def comment(self, message: str) -> dict[str, Any]:
        return text.adf([message])

    def user_id(self, user: Mapping[str, Any]) -> str:
        """The ``accountId`` (Cloud has no user names in its API)."""
        return str(user.get("accountId") or "")


class DataCenter(Flavour):
    """Jira Data Center: REST v2, a bearer personal access token, offset-paged search,
    wiki markup."""

    name = "datacenter"
    title = "Jira Data Center"
    api = "/rest/api/2"

    def has_credentials(self, settings: JiraSettings) -> bool:
        return bool(settings.pat)

    def credentials(self, env: EnvName) -> str:
        return env("PAT")

    def client(self, safety: SafetyPolicy, settings: JiraSettings) -> HttpClient:
        headers = {**_HEADERS, "Authorization": f"Bearer {settings.pat}"}
        return HttpClient(safety, settings.url, headers=headers, secrets=(settings.pat,))

    def search(self, post: Post, body: Mapping[str, Any]) -> Iterator[list[dict[str, Any]]]:
        path = f"{self.api}/search"
        start = 0
        while True:
            data = post(path, {**body, "startAt": start})
            issues = _issues(data)
            yield issues
            start += len(issues)
            if not issues or start >= int(data.get("total", 0)):
                return

    def render(self, lines: Sequence[str]) -> str:
        return text.wiki(lines)

    def comment(self, message: str) -> str:
        return message

    def user_id(self, user: Mapping[str, Any]) -> str:
        """The user's ``key`` (it survives a rename), else the ``name``."""
        return str(user.get("key") or user.get("name") or "")


CLOUD = Cloud()
DATA_CENTER = DataCenter()
FLAVOURS: Mapping[str, Flavour] = {flavour.name: flavour for flavour in (CLOUD, DATA_CENTER)}


def configured(settings: JiraSettings) -> Flavour | None:
    """The flavour ``FLAVOUR`` names, or None for ``auto`` (then `detect` it)."""
    return FLAVOURS.get(settings.flavour)


def secrets(settings: JiraSettings) -> tuple[str, ...]:
    """Every form in which either flavour may send a credential of ``settings``
    (the token, the PAT, and the base64 of ``email:token`` that basic auth sends),
    for the redactor before the flavour is known."""
    found = [settings.api_token, settings.pat]
    if settings.email and settings.api_token:
        pair = f"{settings.email}:{settings.api_token}".encode()
        found.append(base64.b64encode(pair).decode())
    return tuple(found)


def detect(safety: SafetyPolicy, settings: JiraSettings, env: EnvName) -> Flavour:
    """Read serverInfo anonymously and tell Cloud from Data Center (``FLAVOUR=auto``).

    A server that hides serverInfo (401/403) is taken to be the flavour whose
    credentials alone are set. Raises `Unreachable` when the answer does not
    tell, and `ConfigError` when the flavour found lacks its credentials."""
    anonymous = HttpClient(safety, settings.url, headers=dict(_HEADERS))
    try:
        response = anonymous.request(
            "GET", "/rest/api/2/serverInfo", idempotent=True, what="read Jira's serverInfo"
        )
    finally:
        anonymous.close()
    flavour: Flavour
    if response.status_code == 200:
        try:
            deployment = str(response.json().get("deploymentType", ""))
        except (ValueError, AttributeError):
            deployment = ""
        flavour = CLOUD if deployment.lower() == "cloud" else DATA_CENTER
    elif response.status_code in (401, 403) and bool(settings.pat) != bool(settings.api_token):
        flavour = DATA_CENTER if settings.pat else CLOUD
    else:
        raise Unreachable(
            f"cannot tell Jira Cloud from Data Center: serverInfo answered "
            f"{response.status_code}; set {env('FLAVOUR')}"
        )
    if not flavour.has_credentials(settings):
        raise ConfigError(f"{settings.url} is {flavour.title}: set {flavour.credentials(env)}")
    return flavour
