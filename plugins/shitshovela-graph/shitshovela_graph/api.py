"""Microsoft Graph's REST API under the core's safety policy: `GraphApi`.

Every request goes through the core's `HttpClient` on ``context.safety``: paced
at ``RATE`` and sent one at a time (Graph allows an app four at once per
mailbox; this source never has more than one in flight), bounded by the
run's deadline, ``429``/``503`` with ``Retry-After`` waited out (or the run
stops cleanly when the wait does not fit), idempotent calls retried with
backoff, the breaker, and redaction. What is Graph's own lives here:

- **Immutable ids**: every request carries ``Prefer: IdType="ImmutableId"``
  (the preference holds for the one request that carries it), so a message's
  id stays the same when it is moved within the mailbox.
- **The token**: each request carries the run's access token (obtained once,
  again only when it would expire). A ``401`` mid-run (the token revoked, the
  tenant's keys rolled over) gets one fresh token and the request is sent once
  more; a second ``401`` is `Unreachable`, naming the sign-in settings.
- **Error bodies**: Graph's ``{"error": {"code", "message"}}``, read by
  `shitshovela_graph.answers.GraphError` (the fixes they call for are in
  `shitshovela_graph.diagnose`).
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import IO, Any
from urllib.parse import quote, urlsplit

import httpx

from shitshovela_core import HttpClient, ProviderContext, TokenProvider, Unreachable

from .answers import GraphError
from .config import GraphSettings
from .diagnose import unauthorized

#: The preference every request sends (`specs/graph-mail.README.md`, section 5.2).
IMMUTABLE_IDS = 'IdType="ImmutableId"'


class GraphApi:
    """One mailbox's Graph API: the HTTP client, the token, and the request count."""

    def __init__(
        self, context: ProviderContext, settings: GraphSettings, tokens: TokenProvider
    ) -> None:
        self.context = context
        self.settings = settings
        self.tokens = tokens
        self._http: HttpClient | None = None
        #: Requests sent, by ``METHOD path-shape`` (tests and the benchmark read it).
        self.sent: collections.Counter[str] = collections.Counter()

    @property
    def http(self) -> HttpClient:
        """The HTTP client (made on first use)."""
        if self._http is None:
            self._http = HttpClient(
                self.context.safety,
                self.settings.url + "/",
                headers={
                    "Prefer": IMMUTABLE_IDS,
                    "Accept": "application/json",
                    "User-Agent": "shitshovela",
                },
                timeout=self.settings.timeout,
            )
        return self._http

    @property
    def user(self) -> str:
        """``users/<mailbox>``: the path every call of this source starts with."""
        return f"users/{quote(self.settings.mailbox, safe='@')}"

    def scrub(self, text: str) -> str:
        """``text`` with every secret masked."""
        return self.context.safety.redactor.scrub(text)

    def same_service(self, url: str) -> bool:
        """True when ``url`` is on Graph's own scheme, host and port (a next-page link
        elsewhere would carry the token to another server)."""
        mine, theirs = urlsplit(self.settings.url), urlsplit(url)
        return (mine.scheme, mine.netloc.lower()) == (theirs.scheme, theirs.netloc.lower())

    def call(
        self,
        method: str,
        url: str,
        *,
        what: str,
        idempotent: bool,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One request (``url`` relative to ``URL``, or a next-page link), with the token.

        Returns every answer the safety policy hands back (2xx, 3xx, 4xx); a 401 gets
        one new token and one more try, then is `Unreachable`."""
        return self._signed(
            lambda token: self.http.request(
                method,
                url,
                idempotent=idempotent,
                what=what,
                headers={**(headers or {}), "Authorization": f"Bearer {token}"},
                **kwargs,
            ),
            method,
            url,
            what,
        )

    def download(self, url: str, into: IO[bytes], *, limit: int, what: str) -> httpx.Response:
        """``GET url`` with a success's body streamed into ``into`` (at most ``limit + 1``
        bytes: `HttpClient.download`), with the token as `call` sends it."""
        return self._signed(
            lambda token: self.http.download(
                url,
                into,
                limit=limit,
                what=what,
                headers={"Authorization": f"Bearer {token}"},
            ),
            "GET",
            url,
            what,
        )

    def _signed(
        self, send: Callable[[str], httpx.Response], method: str, url: str, what: str
    ) -> httpx.Response:
        """``send`` with the run's token; after a 401, once more with a new one (if the
        token provider can get one); a 401 after that is `Unreachable`, naming the fix."""
        token = self.tokens.token()
        self.sent[f"{method} {path_shape(url)}"] += 1
        response = send(token.value)
        if response.status_code == 401 and self.tokens.renew(token):
            self.context.log.warning(
                "token_refused_mid_run",
                call=what,
                error=GraphError.of(response).describe(self.scrub),
                action="one new token, then the request once more",
            )
            token = self.tokens.token()
            self.sent[f"{method} {path_shape(url)}"] += 1
            response = send(token.value)
        if response.status_code == 401:
            fix = unauthorized(self.settings, self.context.provider, GraphError.of(response), token)
            raise Unreachable(f"{what}: {fix}")
        return response

    def close(self) -> None:
        """Close the connections (the token endpoint's too)."""
        if self._http is not None:
            self._http.close()
            self._http = None
        self.tokens.close()


def path_shape(url: str) -> str:
    """The shape of a Graph path for counting (``GET /users/{mailbox}/messages/{id}/$value``):
    the mailbox, ids and folder names left out."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    if "users" in parts:
        parts = parts[parts.index("users") :]
    shaped: list[str] = []
    for index, part in enumerate(parts):
        before = parts[index - 1] if index else ""
        if before == "users":
            shaped.append("{mailbox}")
        elif before == "messages":
            shaped.append("{id}")
        elif before in ("mailFolders", "childFolders") and part not in ("messages",):
            shaped.append("{folder}")
        else:
            shaped.append(part)
    return "/" + "/".join(shaped)
