"""GitHub's REST API under the core's safety policy, read by GitHub's own rules.

`GitHubApi.call` sends one request through the core's `HttpClient` (pacing at
``RATE``, the budget, the deadline, retries of idempotent calls, the breaker,
redaction) with GitHub's headers and the credentials' ``Authorization``. What
is GitHub's own lives here:

- **Rate-limit answers** (`classify`): GitHub answers its primary limit (quota
  spent) and its secondary limits with 403 as often as with 429. A 403 or 429
  that carries ``retry-after``, or ``x-ratelimit-remaining: 0``, or says "rate
  limit" is a *throttle* for the safety policy (`Fault.THROTTLED`: the request
  was not acted on, so even a create may be sent again): it waits
  ``retry-after`` seconds, else until ``x-ratelimit-reset``, else at least
  `BACKOFF` (a minute), as GitHub's documentation asks, and stops the run
  cleanly when that wait does not fit in the time left. Any other 403 is the
  provider's to read (a missing permission).
- **The quota** (`GitHubApi.call`): an answer with ``x-ratelimit-remaining: 0``
  pauses every further request until ``x-ratelimit-reset``.
- **Writes** (``POST``, ``PATCH``, ``PUT``, ``DELETE``) take a place in the
  run's `WriteBudget` first (GitHub's secondary limits, 80 a minute and 500 an
  hour); each request and retry is paced at ``RATE`` (at most one a second on
  GitHub.com), one at a time: the job never sends two requests at once.
- **A refused token**: a 401 on an App's installation token mints a new one
  and sends the request once more (a 401 was not acted on); any other 401 is
  `Unreachable`, naming the credential settings.
"""

from __future__ import annotations

import time
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from shitshovela_core import (
    Fault,
    HttpClient,
    ProviderContext,
    ProviderError,
    Unreachable,
    Verdict,
    answer_detail,
    classify_http,
    parse_retry_after,
)

from .config import GitHubSettings
from .writes import WriteBudget

#: The wait after a rate-limit answer that names no time (GitHub: "at least one minute").
BACKOFF = 60.0
#: The REST API version the job was written against.
API_VERSION = "2022-11-28"
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


def is_rate_limited(response: httpx.Response) -> bool:
    """True when a 403 or 429 is one of GitHub's rate-limit answers, not a refusal."""
    if response.status_code not in (403, 429):
        return False
    if response.status_code == 429 or "retry-after" in response.headers:
        return True
    if response.headers.get("x-ratelimit-remaining", "").strip() == "0":
        return True
    try:
        text = response.text.lower()
    except (httpx.ResponseNotRead, UnicodeDecodeError):
        return False
    return "rate limit" in text


def rate_limit_wait(response: httpx.Response, now: float | None = None) -> float:
    """Seconds to wait after a rate-limit answer: ``retry-after``, else until
    ``x-ratelimit-reset`` when ``x-ratelimit-remaining`` is 0, else `BACKOFF`."""
    wait = parse_retry_after(response.headers, now=(lambda: now) if now is not None else time.time)
    return BACKOFF if wait is None else wait


def classify(outcome: httpx.Response | Exception) -> Verdict | None:
    """The safety policy's reading of one try to GitHub (see the module docstring)."""
    if isinstance(outcome, httpx.Response) and is_rate_limited(outcome):
        wait = rate_limit_wait(outcome)
        kind = "secondary" if "secondary" in outcome.text.lower() else "rate"
        return Verdict(
            Fault.THROTTLED,
            f"GitHub's {kind} limit ({outcome.status_code}; waiting {wait:.0f}s)",
            retry_after=wait,
        )
    return classify_http(outcome)


class Credentials(Protocol):
    """How the job authenticates: `auth.TokenCredentials` or `auth.AppCredentials`
    (see the `auth` module)."""

    #: What `describe` calls the identity: ``user`` or ``app``.
    kind: str

    def header(self) -> str:
        """The ``Authorization`` header's value for the next request."""
        ...

    def identity(self) -> str:
        """The login GitHub records as the author of what the job creates."""
        ...

    def renew(self) -> bool:
        """Drop the current token after GitHub refused it; True when a new one can be
        made (an App's installation token), False when not (a personal token)."""
        ...

    def names(self) -> str:
        """The settings to check when GitHub refuses the credentials."""
        ...

    def writes_issues(self) -> bool | None:
        """Whether the credentials themselves grant writing issues (and so setting
        labels): an installation token's answer says; None when they do not tell."""
        ...


class GitHubApi:
    """One repository's API root, the run's write budget and the credentials."""

    def __init__(
        self, context: ProviderContext, config: GitHubSettings, writes: WriteBudget
    ) -> None:
        self.context = context
        self.config = config
        self.writes = writes
        self.credentials: Credentials | None = None
        self._http: HttpClient | None = None
        #: Requests sent, by ``METHOD path-kind`` (the benchmark's requests per item).
        self.sent: dict[str, int] = {}

    @property
    def http(self) -> HttpClient:
        """The HTTP client (made on first use)."""
        if self._http is None:
            self._http = HttpClient(
                self.context.safety,
                self.config.api_url,
                headers={
                    "Accept": "application/vnd.github+json",
                    "X-GitHub-Api-Version": API_VERSION,
                    "User-Agent": "shitshovela",
                },
                classify=classify,
            )
        return self._http

    def scrub(self, text: str) -> str:
        """``text`` with every secret masked."""
        return self.context.safety.redactor.scrub(text)

    def secret(self, value: str) -> None:
        """Mask ``value`` (a token or JWT just made) in every output from now on."""
        self.context.safety.redactor.add(value)

    def same_host(self, url: str) -> bool:
        """True when ``url`` is on the API's own scheme, host and port (a next-page
        link elsewhere would carry the token to another server)."""
        mine, theirs = urlsplit(self.config.api_url), urlsplit(url)
        return (mine.scheme, mine.netloc.lower()) == (theirs.scheme, theirs.netloc.lower())

    def call(
        self,
        method: str,
        url: str,
        *,
        what: str,
        auth: str | None = None,
        idempotent: bool | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One request; a write takes its place in the write budget first.

        ``auth`` replaces the credentials' header (the App's JWT calls). Reads,
        and writes whose repetition changes nothing (``DELETE``, ``PUT``,
        ``PATCH``), may be retried by the safety policy; a ``POST`` never once it
        may have been acted on (I4), unless the caller says repeating it is
        harmless (``idempotent=True``: a label that exists is refused, a second
        installation token is just another token). A 401 is `Unreachable` (after
        one new installation token, for an App)."""
        method = method.upper()
        write = method in WRITE_METHODS
        if idempotent is None:
            idempotent = method != "POST"
        for attempt in (1, 2):
            headers = {"Authorization": auth or self._credentials().header()}
            if write:
                self.writes.take(what)
            kind = f"{method} {_path_kind(url)}"
            self.sent[kind] = self.sent.get(kind, 0) + 1
            response = self.http.request(
                method, url, idempotent=idempotent, what=what, headers=headers, **kwargs
            )
            self._watch_quota(response)
            if response.status_code != 401 or auth is not None:
                return response
            credentials = self._credentials()
            if attempt == 1 and credentials.renew():
                continue
            raise Unreachable(
                f"{what}: GitHub refused the credentials (401: "
                f"{answer_detail(response, scrub=self.scrub)}); check {credentials.names()}"
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def _credentials(self) -> Credentials:
        if self.credentials is None:
            raise ProviderError("the GitHub provider has no credentials")
        return self.credentials

    def _watch_quota(self, response: httpx.Response) -> None:
        """Pause until the quota resets when GitHub says none is left."""
        headers = response.headers
        if headers.get("x-ratelimit-remaining", "").strip() != "0":
            return
        wait = parse_retry_after({"x-ratelimit-remaining": "0", **_reset(headers)})
        if wait:
            self.context.safety.retry_after(wait)
            self.context.log.warning("github_quota_spent", resumes_in=round(wait, 1))

    def refused(self, what: str, response: httpx.Response) -> ProviderError:
        """The error for an answer the caller did not expect."""
        status = response.status_code
        detail = answer_detail(response, scrub=self.scrub)
        if status in (403, 404):
            return Unreachable(
                f"{what}: GitHub answered {status} ({detail}); check that {self.config.repo} "
                "exists and the identity may read and write its issues"
            )
        return ProviderError(f"{what}: GitHub answered {status}: {detail}")

    def close(self) -> None:
        """Close the connections."""
        if self._http is not None:
            self._http.close()
            self._http = None


def _reset(headers: httpx.Headers) -> dict[str, str]:
    reset = headers.get("x-ratelimit-reset")
    return {"x-ratelimit-reset": reset} if reset else {}


def _path_kind(url: str) -> str:
    """``/repos/{o}/{r}/issues/{n}/labels/{name}``-like shape of a URL, for counting."""
    path = urlsplit(url).path
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "repos":
        parts[1:3] = ["{owner}", "{repo}"]
    shaped = []
    for index, part in enumerate(parts):
        before = parts[index - 1] if index else ""
        if part.isdigit():
            shaped.append("{n}")
        elif before == "labels" and index == len(parts) - 1:
            shaped.append("{name}")
        else:
            shaped.append(part)
    return "/" + "/".join(shaped)
