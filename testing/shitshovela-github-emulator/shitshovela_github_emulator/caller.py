"""Who sent a request to the emulator: the one type the request, auth and handler
modules share (kept apart so that none of them imports another for it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .config import TokenConfig


@dataclass(frozen=True)
class Caller:
    """Who sent a request, and what they may do."""

    kind: Literal["token", "installation", "app"]
    #: The rate-limit bucket (one per token, one per installation, one for the app).
    bucket: str
    login: str
    user_id: int
    push: bool
    admin: bool
    #: Repositories it can see (casefolded ``owner/name``); None: every one.
    repos: frozenset[str] | None
    rate_limit: int
    token: TokenConfig | None = None
    installation_id: int | None = None

    def can_see(self, full_name: str) -> bool:
        return self.repos is None or full_name.casefold() in self.repos
