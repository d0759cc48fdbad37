"""Who the job is on GitHub: a personal access token, or a GitHub App's installation.

Both give the ``Authorization`` header of each request and the *identity*: the
login GitHub records as the author (``user.login``) of every issue the job
creates, which `GitHubTickets` compares with each flagged issue's author
(`Ticket.by_job`, I7).

- `TokenCredentials`: a fine-grained or classic personal access token, sent as
  ``Bearer``; the identity is the token's user (``GET /user``, once a run).
- `AppCredentials`: a GitHub App. Its RS256 JWT (PyJWT; ``iat`` a minute in the
  past against clock drift, ``exp`` nine minutes ahead, GitHub allows ten) is
  exchanged for an installation access token (``POST
  /app/installations/{id}/access_tokens``, narrowed to the one repository),
  which GitHub lets live an hour. A token is minted on first use in each run and
  again when less than `RENEW_BEFORE` of its life is left (or half of a shorter
  life), its life measured on the run's monotonic clock from the answer's own
  ``expires_at`` and ``Date`` (so the machine's clock does not matter). The
  installation is found from the repository (``GET
  /repos/{owner}/{repo}/installation``) unless ``INSTALLATION_ID`` names it.
  The identity is ``<app slug>[bot]`` (``GET /app``).

Every token and JWT is added to the safety policy's redactor as it is made (I10).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shitshovela_core import ProviderError, Unreachable, answer_detail

from .config import GitHubSettings, private_key

if TYPE_CHECKING:
    import httpx

    from .api import GitHubApi

#: Renew an installation token when less than this much of its life is left (seconds).
RENEW_BEFORE = 300.0
#: How long GitHub lets an installation token live (its documentation: one hour).
TOKEN_LIFETIME = 3600.0
#: The App JWT: issued this long in the past (clock drift), valid this long ahead.
JWT_BACKDATE = 60
JWT_LIFETIME = 540


def _login(response: httpx.Response, what: str) -> str:
    try:
        data: Any = response.json()
        login = data["login"] if "login" in data else data["slug"]
    except (ValueError, KeyError, TypeError):
        raise ProviderError(f"{what}: GitHub's answer has no login") from None
    return str(login)


class TokenCredentials:
    """A personal access token (fine-grained or classic)."""

    kind = "user"

    def __init__(self, api: GitHubApi, token: str, env: Callable[[str], str]) -> None:
        self._api = api
        self._token = token
        self._env = env
        self._login: str | None = None

    def header(self) -> str:
        """``Bearer <token>``."""
        return f"Bearer {self._token}"

    def identity(self) -> str:
        """The token's user (``GET /user``, read once)."""
        if self._login is None:
            what = "read the token's user (GET /user)"
            response = self._api.call("GET", "/user", what=what)
            if response.status_code != 200:
                raise Unreachable(
                    f"{what}: GitHub answered {response.status_code} "
                    f"({answer_detail(response, scrub=self._api.scrub)}); the job needs to know "
                    "its own login to tell its issues from planted ones"
                )
            self._login = _login(response, what)
        return self._login

    def renew(self) -> bool:
        """A personal token cannot be renewed."""
        return False

    def names(self) -> str:
        """``SHITSHOVELA_GITHUB__TOKEN``."""
        return self._env("TOKEN")

    def writes_issues(self) -> bool | None:
        """A personal token does not say (the repository's ``permissions`` do)."""
        return None


class AppCredentials:
    """A GitHub App's installation token, minted and renewed as needed."""

    kind = "app"

    def __init__(
        self,
        api: GitHubApi,
        config: GitHubSettings,
        env: Callable[[str], str],
        *,
        wall: Callable[[], float],
        clock: Callable[[], float],
    ) -> None:
        self._api = api
        self._config = config
        self._env = env
        self._wall = wall
        self._clock = clock
        self._key = private_key(config.app_private_key)
        self._installation = config.installation_id
        self._token: str | None = None
        self._renew_at = 0.0
        self._slug: str | None = None
        self._permissions: dict[str, str] = {}
        #: Installation tokens minted in this run.
        self.minted = 0

    def names(self) -> str:
        """The App's settings."""
        return f"{self._env('APP_ID')} and {self._env('APP_PRIVATE_KEY')}"

    def jwt(self) -> str:
        """A fresh app JWT (RS256), added to the redactor."""
        import jwt

        now = int(self._wall())
        claims = {
            "iat": now - JWT_BACKDATE,
            "exp": now + JWT_LIFETIME,
            "iss": self._config.app_id,
        }
        try:
            made = jwt.encode(claims, self._key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise Unreachable(
                f"the GitHub App's private key cannot sign a JWT ({type(exc).__name__}); "
                f"check {self._env('APP_PRIVATE_KEY')}"
            ) from None
        self._api.secret(made)
        return made

    def _app_call(self, method: str, path: str, what: str, **kwargs: Any) -> httpx.Response:
        response = self._api.call(method, path, what=what, auth=f"Bearer {self.jwt()}", **kwargs)
        if response.status_code == 401:
            raise Unreachable(
                f"{what}: GitHub refused the App's JWT (401: "
                f"{answer_detail(response, scrub=self._api.scrub)}); check {self.names()} "
                "and this machine's clock"
            )
        return response

    def installation(self) -> str:
        """The installation id: configured, or the one that covers the repository."""
        if not self._installation:
            config = self._config
            what = "find the App's installation on the repository"
            response = self._app_call("GET", f"/repos/{config.repo}/installation", what)
            if response.status_code == 404:
                raise Unreachable(
                    f"{what}: the GitHub App {config.app_id} is not installed on {config.repo}; "
                    "install it there (Settings > GitHub Apps) with Issues: read and write"
                )
            if response.status_code != 200:
                raise self._api.refused(what, response)
            try:
                self._installation = str(int(response.json()["id"]))
            except (ValueError, KeyError, TypeError):
                raise ProviderError(f"{what}: GitHub's answer has no installation id") from None
        return self._installation

    def _mint(self) -> None:
        """A new installation token for the repository, and when to renew it."""
        what = "mint an installation token"
        installation = self.installation()
        started = self._clock()
        response = self._app_call(
            "POST",
            f"/app/installations/{installation}/access_tokens",
            what,
            idempotent=True,  # a second token is just another token
            json={"repositories": [self._config.name]},
        )
        if response.status_code in (404, 422):
            raise Unreachable(
                f"{what}: GitHub answered {response.status_code} "
                f"({answer_detail(response, scrub=self._api.scrub)}); check "
                f"{self._env('INSTALLATION_ID')} and that the App is installed on "
                f"{self._config.repo}"
            )
        if response.status_code != 201:
            raise self._api.refused(what, response)
        try:
            data = response.json()
            token = str(data["token"])
            expires = datetime.fromisoformat(str(data["expires_at"]).replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError):
            raise ProviderError(f"{what}: GitHub's answer has no token or expiry") from None
        self._api.secret(token)
        permissions = data.get("permissions")
        if isinstance(permissions, dict):
            self._permissions = {str(k): str(v) for k, v in permissions.items()}
        lifetime = _lifetime(expires.timestamp(), response.headers.get("date"))
        self._token = token
        self._renew_at = started + max(lifetime - RENEW_BEFORE, lifetime / 2)
        self.minted += 1

    def header(self) -> str:
        """``Bearer <installation token>``, minted or renewed first when needed."""
        if self._token is None or self._clock() >= self._renew_at:
            self._mint()
        return f"Bearer {self._token}"

    def writes_issues(self) -> bool | None:
        """What the installation token's own answer says of ``issues`` (minted first)."""
        self.header()
        if "issues" not in self._permissions:
            return None
        return self._permissions["issues"] == "write"

    def renew(self) -> bool:
        """Forget the token GitHub refused: the next request mints another."""
        self._token = None
        return True

    def identity(self) -> str:
        """``<app slug>[bot]`` (``GET /app``, read once)."""
        if self._slug is None:
            what = "read the GitHub App (GET /app)"
            response = self._app_call("GET", "/app", what)
            if response.status_code != 200:
                raise self._api.refused(what, response)
            self._slug = _login(response, what)
        return f"{self._slug}[bot]"


def _lifetime(expires_at: float, date: str | None) -> float:
    """A token's life in seconds: ``expires_at`` against the answer's ``Date`` (both
    on GitHub's clock), or GitHub's documented hour when that gives nothing sensible."""
    if date:
        try:
            server_now = email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return TOKEN_LIFETIME
        seconds = expires_at - server_now
        if 0 < seconds <= TOKEN_LIFETIME:
            return seconds
    return TOKEN_LIFETIME


def credentials(
    api: GitHubApi,
    config: GitHubSettings,
    env: Callable[[str], str],
    *,
    wall: Callable[[], float] = time.time,
    clock: Callable[[], float] = time.monotonic,
) -> TokenCredentials | AppCredentials:
    """The credentials the settings name: an App when ``APP_ID`` is set, else the token."""
    if config.uses_app:
        return AppCredentials(api, config, env, wall=wall, clock=clock)
    return TokenCredentials(api, config.token, env)
