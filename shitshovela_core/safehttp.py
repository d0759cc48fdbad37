"""HTTP under the safety policy: `HttpClient`, its httpx transport, and how HTTP is read.

Layers, from the provider down:

- `HttpClient.request` sends one request through `SafetyPolicy.attempt`
  (pacing, budget, deadline, retries, Retry-After, breaker, outcome-unknown:
  all decided there); `classify_http` is how HTTP reads its own outcomes (a
  provider may pass a classifier of its own that adds its system's rules): a failed
  connect was not sent, any other httpx error lost the request, 429 throttles,
  503 with ``Retry-After`` is busy, other 5xx failed, anything else is an answer
  for the provider to read (a 404 on a delete means "already gone").
- `raise_for_answer` is how a provider reads the rest in one line: 2xx is
  returned, 401/403 raise `Unreachable` (credentials, permissions), a 404
  raises `Unreachable` with the caller's hint, the statuses a caller names as
  ``rejected`` (400/422 on a create) raise `ItemRejected`, anything else
  `ProviderError`; each message carries a short, scrubbed excerpt of the body.
- `DeadlineTransport`, an httpx transport: httpx's timeouts bound each network
  operation, not a whole response, so a server that drips a byte a second
  never trips them (FACTS.md). Its httpcore network backend clips *every*
  connect, TLS handshake, read and write to the deadline of the exchange in
  progress: a dripping body, dripping headers or a silent TLS handshake are
  all cut off at that deadline (itself clipped to the run's budget, I5).

A provider builds its client with ``HttpClient(context.safety, base_url, ...)``.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import email.utils
import ssl
import time
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import IO, Any

import httpcore
import httpx

from .errors import ItemRejected, ProviderError, TransferTooSlow, Unreachable
from .safety import DEFAULT_TIMEOUT, Exchange, Fault, SafetyPolicy, Verdict

#: When the HTTP call in progress must be over, and the clock that says so.
_CALL_DEADLINE: contextvars.ContextVar[tuple[float, Callable[[], float]] | None] = (
    contextvars.ContextVar("shitshovela_call_deadline", default=None)
)


@contextlib.contextmanager
def _within(exchange: Exchange) -> Iterator[None]:
    """The transport's reads and writes bounded by ``exchange``'s deadline meanwhile."""
    token = _CALL_DEADLINE.set((exchange.deadline, exchange.clock))
    try:
        yield
    finally:
        _CALL_DEADLINE.reset(token)


def _clip(timeout: float | None, error: type[Exception]) -> float | None:
    current = _CALL_DEADLINE.get()
    if current is None:
        return timeout
    deadline, clock = current
    left = deadline - clock()
    if left <= 0:
        raise error("the call's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the call's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clip(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # Large bodies go out in one write: clip it, and write in pieces so the
        # deadline is checked between them.
        step = 64 * 1024
        for start in range(0, len(buffer), step) or [0]:
            self._inner.write(buffer[start : start + step], _clip(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _clip(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's sync backend with every operation clipped to the call's deadline."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _clip(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(
            path, _clip(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


def _mapped(exc: Exception) -> Exception:
    for source, target in _EXCEPTIONS:
        if isinstance(exc, source):
            return target(str(exc))
    return exc


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except Exception as exc:
            raise _mapped(exc) from exc

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class DeadlineTransport(httpx.BaseTransport):
    """An httpx transport on an httpcore pool whose network backend honours the
    call deadline. HTTP/1.1 only; no proxies (providers talk to one system)."""

    def __init__(self, ssl_context: ssl.SSLContext, max_connections: int = 4) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=max_connections,
            http1=True,
            http2=False,
            retries=0,
            network_backend=_DeadlineBackend(),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = self._pool.handle_request(core_request)
        except Exception as exc:
            raise _mapped(exc) from exc
        assert isinstance(response.stream, typing.Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


def parse_retry_after(
    headers: Mapping[str, str], now: Callable[[], float] = time.time
) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date), or from
    ``X-RateLimit-Reset`` (epoch seconds) when ``X-RateLimit-Remaining`` is 0."""
    value = headers.get("retry-after")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                parsed = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None  # not seconds, not a date: the caller backs off instead
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=datetime.UTC)
            return max(0.0, parsed.timestamp() - now())
    if headers.get("x-ratelimit-remaining", "").strip() == "0":
        reset = headers.get("x-ratelimit-reset", "").strip()
        try:
            return max(0.0, float(reset) - now())
        except ValueError:
            return None
    return None


def classify_http(outcome: httpx.Response | Exception) -> Verdict | None:
    """How the safety policy reads one HTTP try: its response, or the exception it raised.

    None for an answer the provider reads itself (2xx, 3xx, 4xx) and for an
    exception that is not httpx's. A provider whose system says more (GitHub
    answers a rate limit with 403) gives `HttpClient` a classifier of its own
    that reads those answers and hands everything else to this one."""
    if isinstance(outcome, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return Verdict(Fault.NOT_SENT, f"{type(outcome).__name__}: {outcome}")
    if isinstance(outcome, httpx.HTTPError):
        return Verdict(Fault.LOST, f"{type(outcome).__name__}: {outcome}")
    if not isinstance(outcome, httpx.Response):
        return None
    status = outcome.status_code
    throttled = status == 429
    if throttled or (status == 503 and "retry-after" in outcome.headers):
        wait = parse_retry_after(outcome.headers)
        shown = "-" if wait is None else wait
        return Verdict(
            Fault.THROTTLED if throttled else Fault.BUSY,
            f"{status} from the server (Retry-After {shown})",
            retry_after=wait,
        )
    if status >= 500:
        return Verdict(Fault.FAILED, f"{status} from the server")
    return None


#: The most characters of a response body `answer_detail` quotes.
DETAIL_LIMIT = 200


def answer_detail(
    response: httpx.Response,
    *,
    scrub: Callable[[str], str] | None = None,
    limit: int = DETAIL_LIMIT,
) -> str:
    """A short, one-line excerpt of ``response``'s body for an error message: its
    whitespace collapsed, passed through ``scrub``, cut to ``limit`` characters
    (give the policy's ``safety.redactor.scrub``: a server may echo a credential)."""
    try:
        text = response.text
    except (httpx.ResponseNotRead, UnicodeDecodeError):
        text = ""
    text = " ".join(text.split())
    if scrub is not None:  # before the cut, so a secret cut in half is still masked
        text = scrub(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def raise_for_answer(
    response: httpx.Response,
    what: str,
    *,
    rejected: Iterable[int] = (),
    credentials: str = "",
    not_found: str = "",
    scrub: Callable[[str], str] | None = None,
) -> httpx.Response:
    """Return ``response`` if it is a success (2xx); else raise the error its status means.

    - 401: `Unreachable`, the credentials were refused (``credentials`` names the
      settings to check, e.g. ``"SHITSHOVELA_GITLAB__TOKEN"``);
    - 403: `Unreachable`, the account lacks a permission;
    - 404: `Unreachable`, with ``not_found`` saying what is missing and which
      setting names it (a caller for whom a 404 means something else, such as
      "already gone" on a delete, reads that status before calling this);
    - a status in ``rejected`` (give ``(400, 422)`` on a create): `ItemRejected`,
      the system refuses the item's content (I12), the item is set aside;
    - anything else (another 4xx, a 3xx): `ProviderError`.

    ``what`` starts every message (``"create the issue"``); the body's excerpt
    is scrubbed with ``scrub`` (`answer_detail`). 429 and 5xx never get here
    through `HttpClient.request`: the safety policy owns them (`classify_http`).
    """
    status = response.status_code
    if 200 <= status < 300:
        return response
    detail = answer_detail(response, scrub=scrub)
    shown = f"{status}: {detail}" if detail else str(status)
    if status == 401:
        check = f"; check {credentials}" if credentials else "; check the credentials"
        raise Unreachable(f"{what}: the server refused the credentials ({shown}){check}")
    if status == 403:
        raise Unreachable(
            f"{what}: permission denied ({shown}); check that the account may do this"
        )
    if status == 404:
        hint = f"; {not_found}" if not_found else ""
        raise Unreachable(f"{what}: not found ({shown}){hint}")
    if status in set(rejected):
        raise ItemRejected(f"{what}: the server refused the content ({shown})")
    raise ProviderError(f"{what}: the server answered {shown}")


#: Bytes `HttpClient.download` writes at a time.
DOWNLOAD_CHUNK = 64 * 1024

#: Headers whose values are credentials: scrubbed from every message (I10).
_SECRET_HEADERS = frozenset({"authorization", "cookie", "x-api-key", "private-token"})


def _too_slow(exchange: Exchange, received: int) -> TransferTooSlow:
    """The error for a body still arriving when the call's own timeout ran out."""
    seconds = exchange.deadline - exchange.started
    return TransferTooSlow(
        f"{exchange.call}: the body was still arriving when the call's timeout ran out "
        f"({received} bytes in {seconds:.1f}s); not tried again, a retry would take as long",
        received=received,
        seconds=seconds,
    )


class HttpClient:
    """An httpx client for one provider, under its `SafetyPolicy`.

    ``request(method, url, idempotent=...)`` returns the response for every
    status except those the policy handles (429, 5xx); the provider reads the
    rest. ``secrets`` (and the password of ``auth`` with its ``user:password``
    pair, and credential headers) are added to the policy's redactor.
    ``timeout`` bounds one whole request. ``classify`` reads each try for the
    policy (`classify_http` unless given: a provider's own classifier adds its
    system's rules and hands the rest to `classify_http`).
    """

    def __init__(
        self,
        safety: SafetyPolicy,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | httpx.Auth | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        secrets: tuple[str, ...] = (),
        classify: Callable[[httpx.Response | Exception], Verdict | None] = classify_http,
    ) -> None:
        self.safety = safety
        self.timeout = timeout
        self.classify = classify
        safety.redactor.add(*secrets)
        if isinstance(auth, tuple):  # the password, and the user:password pair basic auth sends
            safety.redactor.add(auth[1], f"{auth[0]}:{auth[1]}")
        for name, value in (headers or {}).items():
            if name.lower() in _SECRET_HEADERS:
                safety.redactor.add(value)
        self._client = httpx.Client(
            base_url=base_url,
            headers=dict(headers or {}),
            auth=auth,
            transport=DeadlineTransport(safety.ssl_context()),
            follow_redirects=False,
            trust_env=False,
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool,
        what: str = "",
        timeout: float | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request under the safety policy (`SafetyPolicy.attempt`).

        Raises `OutcomeUnknown` (not idempotent, outcome unknown),
        `DeadlineReached` (a clean stop), `CutOff` (the system did not answer
        before the deadline), `Unreachable` or `TransientError`."""

        def send(exchange: Exchange) -> httpx.Response:
            with _within(exchange):
                response = self._client.request(
                    method, url, timeout=httpx.Timeout(exchange.timeout()), **kwargs
                )
            # The body is read; drop the stream so response and stream do not keep each
            # other (and every body) alive until the cyclic garbage collector runs.
            response.stream = httpx.ByteStream(b"")
            return response

        return self.safety.attempt(
            send,
            what=what or f"{method} {url.split('?', 1)[0]}",
            idempotent=idempotent,
            classify=self.classify,
            timeout=timeout or self.timeout,
        )

    def download(
        self,
        url: str,
        into: IO[bytes],
        *,
        limit: int | None = None,
        what: str = "",
        timeout: float | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """``GET url`` under the safety policy, a success's body streamed into ``into``.

        A 2xx answer's body (decoded as its ``Content-Encoding`` says) is written
        to ``into`` as it arrives, `DOWNLOAD_CHUNK` bytes at a time, never whole
        in memory (give it a ``tempfile.SpooledTemporaryFile``); the answer
        returned carries its status and headers, not its body. Every try starts
        ``into`` over (it is truncated to empty first). With ``limit``, at most
        ``limit + 1`` bytes are written: the transfer stops there and its
        connection is closed, so a caller that finds ``into.tell() > limit``
        knows the body is larger than ``limit`` without having fetched it all.
        Any other answer is returned read, as `request` returns it. A GET is
        idempotent: a lost or failed try is tried again as the policy allows;
        the deadline bounds the whole transfer (a dripping body is cut off).
        Raises as `request` does, and `TransferTooSlow` (not tried again) when
        the body was still arriving as the call's ``timeout`` ran out before the
        run's deadline: a body too large for the link at that timeout would take
        every try as long."""

        def send(exchange: Exchange) -> httpx.Response:
            into.seek(0)
            into.truncate()
            with (
                _within(exchange),
                self._client.stream(
                    "GET", url, timeout=httpx.Timeout(exchange.timeout()), **kwargs
                ) as response,
            ):
                if not 200 <= response.status_code < 300:
                    response.read()
                    return response
                written = 0
                try:
                    for chunk in response.iter_bytes(DOWNLOAD_CHUNK):
                        if limit is not None and written + len(chunk) > limit:
                            into.write(chunk[: limit + 1 - written])
                            break
                        into.write(chunk)
                        written += len(chunk)
                except httpx.TimeoutException:
                    arrived = response.num_bytes_downloaded
                    if arrived and exchange.deadline < self.safety.budget.stop_at:
                        raise _too_slow(exchange, arrived) from None
                    raise  # the run's deadline, or a body that never began: the policy's
            response.stream = httpx.ByteStream(b"")
            return response

        return self.safety.attempt(
            send,
            what=what or f"GET {url.split('?', 1)[0]}",
            idempotent=True,
            classify=self.classify,
            timeout=timeout or self.timeout,
        )

    def close(self) -> None:
        """Close the connections."""
        self._client.close()
