"""HTTP for providers: httpx with a whole-call deadline, pacing, retries and redaction.

httpx's timeouts bound each network operation, not a whole response: a server
that drips a byte a second never trips them (FACTS.md). So the client runs on
its own httpx transport whose httpcore network backend clips *every* connect,
TLS handshake, read and write to the deadline of the call in progress: a
dripping body, dripping headers or a silent TLS handshake are all cut off at
that deadline (itself clipped to the run's budget, I5).

`HttpClient.request` paces every attempt through the provider's rate limiter
(I6), honours ``Retry-After`` on 429/503, retries only idempotent calls (or
requests the server certainly did not act on), and turns an unknown outcome
of a create into `OutcomeUnknown` (I4).
"""

from __future__ import annotations

import contextvars
import datetime
import email.utils
import ssl
import time
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import httpcore
import httpx

from .errors import OutcomeUnknown
from .transport import RetryLater, Transport

#: When the HTTP call in progress must be over, and the clock that says so.
_CALL_DEADLINE: contextvars.ContextVar[tuple[float, Callable[[], float]] | None] = (
    contextvars.ContextVar("shitshovela_call_deadline", default=None)
)


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


class HttpClient:
    """An httpx client bound to one provider's `Transport`.

    ``request(method, url, idempotent=...)`` returns the response for every
    status except those it handles itself (429, and 5xx); the provider reads
    4xx answers (404 on a delete means "already gone"). Build it with
    `Transport.http`.
    """

    def __init__(
        self,
        transport: Transport,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | httpx.Auth | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.transport = transport
        self.timeout = timeout
        if isinstance(auth, tuple):
            transport.redactor.add(auth[1])
        self._client = httpx.Client(
            base_url=base_url,
            headers=dict(headers or {}),
            auth=auth,
            transport=DeadlineTransport(transport.ssl_context()),
            follow_redirects=False,
            trust_env=False,
        )
        for name, value in (headers or {}).items():
            if name.lower() in {"authorization", "cookie", "x-api-key", "private-token"}:
                transport.redactor.add(value)

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
        """Send one request under the safety rules; see the module docstring.

        Raises `OutcomeUnknown` (non-idempotent, outcome unknown),
        `DeadlineReached` (a clean stop), `CutOff` (the system did not answer before
        the deadline), `Unreachable` or `TransientError`."""
        label = what or f"{method} {url.split('?', 1)[0]}"
        return self.transport.call(
            lambda: self._once(method, url, idempotent, label, timeout or self.timeout, kwargs),
            idempotent=idempotent,
            what=label,
        )

    def _once(
        self,
        method: str,
        url: str,
        idempotent: bool,
        label: str,
        timeout: float,
        kwargs: dict[str, Any],
    ) -> httpx.Response:
        transport = self.transport
        transport.pace(label)
        transport.budget.check(label)
        deadline = transport.call_deadline(timeout)
        started = transport.clock()
        token = _CALL_DEADLINE.set((deadline, transport.clock))
        scrub = transport.redactor.scrub
        try:
            response = self._client.request(
                method, url, timeout=httpx.Timeout(transport.timeout(timeout, label)), **kwargs
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            if transport.clock() >= deadline and transport.budget.remaining() <= 0:
                raise transport.cut_off(
                    label, scrub(f"still connecting: {type(exc).__name__}"), started
                ) from None
            transport.record_failure(label)
            raise RetryLater(
                scrub(f"cannot connect: {type(exc).__name__}: {exc}"), connect=True
            ) from None
        except httpx.HTTPError as exc:
            text = scrub(f"{type(exc).__name__}: {exc}")
            cut = transport.clock() >= deadline
            if not idempotent:
                raise OutcomeUnknown(f"{label}: {text}; the server may have acted on it") from None
            if cut and transport.budget.remaining() <= 0:
                raise transport.cut_off(label, text, started) from None
            transport.record_failure(label)
            raise RetryLater(text) from None
        finally:
            _CALL_DEADLINE.reset(token)
        status = response.status_code
        if status == 429 or (status == 503 and "retry-after" in response.headers):
            wait = parse_retry_after(response.headers)
            transport.retry_after(wait if wait is not None else transport.backoff_max)
            if status == 503 and not idempotent:
                raise OutcomeUnknown(f"{label}: 503 Service Unavailable; the server may have acted")
            transport.log.warning("rate_limited", call=label, status=status, retry_after=wait)
            raise RetryLater(
                f"{status} from the server (Retry-After {wait if wait is not None else '-'})",
                retry_after=wait,
                unprocessed=status == 429,
                throttled=True,
            )
        if status >= 500:
            if not idempotent:
                raise OutcomeUnknown(f"{label}: {status} from the server; it may have acted on it")
            transport.record_failure(label)
            raise RetryLater(f"{status} from the server")
        transport.record_success()
        # The body is read; drop the stream so response and stream do not keep each
        # other (and every body) alive until the cyclic garbage collector runs.
        response.stream = httpx.ByteStream(b"")
        return response

    def close(self) -> None:
        """Close the connections."""
        self._client.close()
