"""Who may call: personal access tokens, GitHub App JWTs and installation access tokens.

GitHub takes ``Authorization: Bearer <token>`` or ``Authorization: token
<token>``. `Identities` knows the configured personal access tokens (each a
`TokenConfig`: its user, push access, repositories, rate limit), the
installation tokens the app flow has minted (until they expire on the
emulator's clock), and the app whose JWTs it accepts. `Identities.authenticate`
answers 401 with GitHub's error body ("Requires authentication", "Bad
credentials", "A JSON web token could not be decoded", ...) or gives the
`Caller`.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping
from typing import Literal

from .caller import Caller
from .config import AppConfig, InstallationConfig, TokenConfig
from .messages import GitHubRequest, GitHubResponse, error

__all__ = ["Caller", "Identities", "Need", "bearer"]

Need = Literal["token", "jwt"]
"""What a route takes: a token (personal or installation), or the app's JWT."""


def bearer(req: GitHubRequest) -> str | None:
    """The credential of ``Authorization: Bearer X`` or ``Authorization: token X``."""
    given = req.headers.get("authorization", "").strip()
    scheme, _, value = given.partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return None


def _looks_like_jwt(value: str) -> bool:
    return value.count(".") == 2 and value.startswith("eyJ")


class Identities:
    """The tokens and the app the emulator accepts (thread-safe)."""

    def __init__(
        self,
        tokens: Mapping[str, TokenConfig],
        app: AppConfig | None,
        clock: Callable[[], float],
    ) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, TokenConfig] = dict(tokens)
        self._user_ids: dict[str, int] = {}
        self._ids = itertools.count(9_000_001)
        # installation token -> (installation id, its repositories, expiry on the clock)
        self._minted: dict[str, tuple[int, frozenset[str], float]] = {}
        self._token_serial = itertools.count(1)
        self.app = app
        self.clock = clock

    # ------------------------------------------------------------------ tokens
    def set_token(self, token: str, config: TokenConfig | None) -> None:
        """Add or replace a personal access token (None revokes it)."""
        with self._lock:
            if config is None:
                self._tokens.pop(token, None)
            else:
                self._tokens[token] = config

    def token(self, token: str) -> TokenConfig | None:
        with self._lock:
            return self._tokens.get(token)

    def first_token(self) -> str:
        with self._lock:
            if not self._tokens:
                raise LookupError("the emulator has no personal access token configured")
            return next(iter(self._tokens))

    def user_id(self, login: str) -> int:
        """A stable numeric id per login."""
        with self._lock:
            if login not in self._user_ids:
                self._user_ids[login] = next(self._ids)
            return self._user_ids[login]

    # ------------------------------------------------------------ installations
    def mint(
        self, installation_id: int, installation: InstallationConfig, repos: frozenset[str]
    ) -> tuple[str, float]:
        """A new installation access token and its expiry (clock time)."""
        with self._lock:
            serial = next(self._token_serial)
            token = f"ghs_emu{installation_id}x{serial:06d}{'A' * 20}"[:40]
            expires = self.clock() + installation.token_lifetime
            self._minted[token] = (installation_id, repos, expires)
            return token, expires

    def installation_caller(self, token: str) -> Caller | None:
        """The caller of a minted installation token; None when unknown or expired."""
        with self._lock:
            found = self._minted.get(token)
        if found is None or self.app is None:
            return None
        installation_id, repos, expires = found
        if self.clock() >= expires:
            return None
        installation = self.app.installation(installation_id)
        if installation is None:
            return None
        login = f"{self.app.slug}[bot]"
        return Caller(
            kind="installation",
            bucket=f"installation:{installation_id}",
            login=login,
            user_id=self.user_id(login),
            push=installation.push,
            admin=False,
            repos=repos,
            rate_limit=installation.rate_limit,
            installation_id=installation_id,
        )

    # ------------------------------------------------------------ authenticate
    def authenticate(
        self, req: GitHubRequest, need: Need, check_jwt: Callable[[str], str | None]
    ) -> Caller | GitHubResponse:
        """The caller, or GitHub's 401. ``check_jwt`` gives a JWT's problem, or None."""
        credential = bearer(req)
        if credential is None:
            if req.headers.get("authorization"):
                return error(401, "Bad credentials")
            return error(401, "Requires authentication")
        if need == "jwt":
            if not _looks_like_jwt(credential):
                return error(401, "A JSON web token could not be decoded")
            problem = check_jwt(credential)
            if problem is not None:
                return error(401, problem)
            assert self.app is not None  # check_jwt refuses every JWT without an app
            return Caller(
                kind="app",
                bucket=f"app:{self.app.app_id}",
                login=self.app.slug,
                user_id=self.user_id(self.app.slug),
                push=False,
                admin=False,
                repos=frozenset(),
                rate_limit=5000,
            )
        config = self.token(credential)
        if config is not None:
            return Caller(
                kind="token",
                bucket=f"token:{credential}",
                login=config.login,
                user_id=self.user_id(config.login),
                push=config.push or config.admin,
                admin=config.admin,
                repos=None
                if config.repos is None
                else frozenset(r.casefold() for r in config.repos),
                rate_limit=config.rate_limit,
                token=config,
            )
        minted = self.installation_caller(credential)
        if minted is not None:
            return minted
        return error(401, "Bad credentials")
