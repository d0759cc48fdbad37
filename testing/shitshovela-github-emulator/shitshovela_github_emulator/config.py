"""What a test configures: repositories, tokens, a GitHub App and its installations.

All frozen values; the emulator copies them into its state when it is made
(`GitHubEmulator.set_token` replaces a token's configuration at run time).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "DEFAULT_LABELS",
    "AppConfig",
    "InstallationConfig",
    "LabelSpec",
    "RepoConfig",
    "TokenConfig",
]


@dataclass(frozen=True)
class LabelSpec:
    """A label a repository starts with."""

    name: str
    color: str = "ededed"
    description: str | None = None


#: The labels GitHub gives every new repository (``default: true``).
DEFAULT_LABELS: tuple[LabelSpec, ...] = (
    LabelSpec("bug", "d73a4a", "Something isn't working"),
    LabelSpec("documentation", "0075ca", "Improvements or additions to documentation"),
    LabelSpec("duplicate", "cfd3d7", "This issue or pull request already exists"),
    LabelSpec("enhancement", "a2eeef", "New feature or request"),
    LabelSpec("good first issue", "7057ff", "Good for newcomers"),
    LabelSpec("help wanted", "008672", "Extra attention is needed"),
    LabelSpec("invalid", "e4e669", "This doesn't seem right"),
    LabelSpec("question", "d876e3", "Further information is requested"),
    LabelSpec("wontfix", "ffffff", "This will not be worked on"),
)


@dataclass(frozen=True)
class RepoConfig:
    """A repository of the emulated GitHub (its owner and name are the key it is given under)."""

    #: Labels it starts with besides GitHub's defaults (names, or `LabelSpec`).
    labels: Sequence[str | LabelSpec] = ()
    #: Start with GitHub's nine default labels.
    default_labels: bool = True
    private: bool = True
    description: str | None = None
    default_branch: str = "main"


@dataclass(frozen=True)
class TokenConfig:
    """A personal access token (classic or fine-grained) and what it may do."""

    #: The user the token belongs to (``GET /user``, the author of what it creates).
    login: str = "ticket-bot"
    #: Push access: without it GitHub silently drops labels (and assignees, milestone)
    #: from a new issue and refuses label changes.
    push: bool = True
    admin: bool = False
    #: The repositories it can see (``owner/name``); None: every repository.
    repos: Collection[str] | None = None
    kind: Literal["classic", "fine_grained"] = "classic"
    #: The ``X-OAuth-Scopes`` header GitHub sends for a classic token.
    scopes: str = "repo"
    #: The primary rate limit: requests an hour.
    rate_limit: int = 5000


@dataclass(frozen=True)
class InstallationConfig:
    """One installation of the GitHub App, on an account, for some repositories."""

    #: The repositories it is installed on (``owner/name``).
    repos: Sequence[str]
    #: The account it is installed on (default: the first repository's owner).
    account: str | None = None
    #: The app's permissions there; ``issues: write`` is what setting labels needs.
    permissions: Mapping[str, str] = field(
        default_factory=lambda: {"issues": "write", "metadata": "read"}
    )
    #: How long an installation access token lives (GitHub: one hour).
    token_lifetime: float = 3600.0
    #: The primary rate limit of its tokens: requests an hour.
    rate_limit: int = 5000

    @property
    def push(self) -> bool:
        """Whether its tokens may set labels (``issues: write``)."""
        return self.permissions.get("issues") == "write"

    @property
    def owner(self) -> str:
        """The account's login."""
        if self.account is not None:
            return self.account
        return self.repos[0].split("/", 1)[0] if self.repos else "octo-org"


@dataclass(frozen=True)
class AppConfig:
    """A GitHub App: its id, the public half of its key, its installations by id."""

    app_id: int
    #: The PEM of the public key that checks the app's RS256 JWTs.
    public_key_pem: str
    installations: Mapping[int, InstallationConfig | Sequence[str]] = field(default_factory=dict)
    slug: str = "shitshovela-bot"
    name: str = "ShitShovela Bot"
    client_id: str = "Iv23liEmulatorClient"
    owner: str = "octo-org"

    def installation(self, installation_id: int) -> InstallationConfig | None:
        """The installation with this id, if the app has one."""
        found = self.installations.get(installation_id)
        if found is None or isinstance(found, InstallationConfig):
            return found
        return InstallationConfig(repos=tuple(found))
