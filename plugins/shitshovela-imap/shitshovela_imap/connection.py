"""One IMAP session under the safety layer: deadline, politeness, retries, redaction.

`ImapConnection` owns one imapclient session (connect, TLS, login, SELECT) and
runs every IMAP command through `ImapConnection.command`:

- ``transport.pace()`` takes a rate-limit slot before *each* command, the
  connect, STARTTLS, LOGIN and SELECT included (I6);
- the socket's per-operation timeout is ``TIMEOUT`` clipped to the time left
  (``transport.timeout()``), so a silent server is given up at the deadline;
- ``transport.guard()`` shuts the socket down at the run's deadline whatever
  is happening on it: imapclient's timeout is per socket operation, so a
  server that drips a byte a second never trips it (FACTS.md, imapclient
  #327/#403). The guard is armed when the socket connects, so it also covers
  the greeting and the TLS handshake, and it cuts a duplicate descriptor of
  the socket, which works whatever TLS wraps around it. One guard covers the
  connection's life (one timer thread per connection, not per command);
- a lost connection is dropped; ``transport.call`` reconnects, selects the
  mailbox again and repeats the command (every command this source sends is
  idempotent); at the deadline the run stops (I5): cleanly (`DeadlineReached`)
  if the command had only just started, as a failure (`CutOff`) if the server
  left it unanswered (`Transport.cut_off`);
- a refused login or certificate is `Unreachable` at once, never retried;
  no secret reaches a message (I10).
"""

from __future__ import annotations

import contextlib
import imaplib
import socket
import ssl
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import attrs
from imapclient import IMAPClient  # type: ignore[import-untyped]
from imapclient.exceptions import LoginError  # type: ignore[import-untyped]

from shitshovela_core.errors import TransientError, Unreachable
from shitshovela_core.transport import RetryLater, Transport

from .config import ImapSettings

T = TypeVar("T")


#: What a dead or cut-off connection raises (imaplib.IMAP4.abort is imapclient's AbortError).
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (imaplib.IMAP4.abort, OSError, EOFError)

#: imapclient's error for a NO or BAD answer (imaplib.IMAP4.error).
CommandError: type[Exception] = imaplib.IMAP4.error


class ServerBye(imaplib.IMAP4.error):
    """The server answered a command by ending the session (``* BYE``), as Dovecot does
    when it cannot read a message ("Internal error"). Raised only for commands sent with
    ``bye_is_error=True``; the connection is dropped and the next command reconnects."""


class MailboxMissing(TransientError):
    """The mailbox does not exist (the server said NONEXISTENT)."""


class ViewChanged(TransientError):
    """The mailbox's UIDVALIDITY changed under a command that relies on UIDs."""


@attrs.frozen
class View:
    """The selected mailbox as the last SELECT saw it."""

    mailbox: str
    uidvalidity: int
    uidnext: int
    exists: int
    permanent_flags: tuple[str, ...]


class _GuardedIMAP4(imaplib.IMAP4):
    """imaplib's IMAP4 with a socket made (and guarded) by the caller."""

    def __init__(self, host: str, port: int, make_socket: Callable[[], socket.socket]) -> None:
        self._make_socket = make_socket
        super().__init__(host, port)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        return self._make_socket()


class _Client(IMAPClient):  # type: ignore[misc]
    """An IMAPClient whose connection comes from `_GuardedIMAP4` (TLS is done by the socket
    factory, so imapclient itself is told ``ssl=False``)."""

    def __init__(
        self, host: str, port: int, make_socket: Callable[[], socket.socket], timeout: float
    ) -> None:
        self._make_socket = make_socket
        super().__init__(host, port=port, ssl=False, timeout=timeout)

    def _create_IMAP4(self) -> imaplib.IMAP4:
        return _GuardedIMAP4(self.host, self.port, self._make_socket)


def _is_bye(exc: BaseException) -> bool:
    """True when imaplib's abort carries the server's BYE text, not a socket failure."""
    return isinstance(exc, imaplib.IMAP4.abort) and "socket error" not in str(exc)


def _server_text(exc: BaseException) -> str:
    text = str(exc)
    return text[:300]


class ImapConnection:
    """One IMAP session for one source; reconnects on demand. Not thread-safe."""

    def __init__(self, settings: ImapSettings, transport: Transport) -> None:
        self.settings = settings
        self.transport = transport
        self.view: View | None = None
        self.capabilities: frozenset[str] = frozenset()
        #: How many times a connection was opened (tests and logs read it).
        self.connects = 0
        #: How many times a new SELECT found a different UIDVALIDITY than the one before.
        self.uidvalidity_changes = 0
        self._client: Any = None
        self._cut: socket.socket | None = None
        self._guards = contextlib.ExitStack()
        self._last_uidvalidity: int | None = None
        self._ssl_context: ssl.SSLContext | None = None

    # -- the one way to run a command ---------------------------------------------------

    def command(
        self,
        what: str,
        fn: Callable[[Any], T],
        *,
        select: bool = True,
        bye_is_error: bool = False,
    ) -> T:
        """Run ``fn(client)`` as one paced, deadline-bound command, after connecting,
        logging in and (with ``select``) selecting the mailbox if needed; repeat it on
        a fresh connection when the connection is lost. NO/BAD answers raise
        imapclient's error (`CommandError`) to the caller; with ``bye_is_error`` so does
        a server that ends the session in answer (`ServerBye`), instead of a retry."""

        def once() -> T:
            self._ensure(select)
            return self._send(what, fn, bye_is_error=bye_is_error)

        return self.transport.call(once, idempotent=True, what=what)

    def _send(self, what: str, fn: Callable[[Any], T], *, bye_is_error: bool = False) -> T:
        transport = self.transport
        transport.pace(what)
        transport.budget.check(what)
        client = self._client
        started = transport.clock()
        try:
            client.socket().settimeout(transport.timeout(self.settings.timeout, what))
            result = fn(client)
        except CONNECTION_ERRORS as exc:
            self.discard()
            if bye_is_error and _is_bye(exc) and transport.budget.remaining() > 0:
                text = transport.redactor.scrub(_server_text(exc))
                raise ServerBye(f"{what}: the server closed the session: {text}") from None
            self._lost(what, exc, started)
        finally:
            if self._client is not None:
                # Unsolicited answers (EXPUNGE, EXISTS, ...) would pile up in imaplib.
                self._client._imap.untagged_responses.clear()
        transport.record_success()
        return result

    def _lost(self, what: str, exc: BaseException, started: float) -> NoReturn:
        """A command's connection died: stop at the deadline (a clean stop, or a
        `CutOff` when the server left it unanswered), else ask for a retry."""
        transport = self.transport
        text = transport.redactor.scrub(f"{type(exc).__name__}: {_server_text(exc)}")
        if transport.budget.remaining() <= 0:
            raise transport.cut_off(what, text, started)
        if isinstance(exc, ssl.SSLCertVerificationError):
            raise Unreachable(f"{what}: the server's certificate is not trusted: {text}")
        transport.record_failure(what)
        raise RetryLater(f"{what}: connection lost: {text}")

    # -- connecting ---------------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = self.transport.ssl_context()
        return self._ssl_context

    def _ensure(self, select: bool) -> None:
        if self._client is None:
            self._connect()
        if select and self.view is None:
            self._select()

    def _connect(self) -> None:
        settings = self.settings
        transport = self.transport
        where = f"{settings.host}:{settings.server_port}"
        transport.pace(f"connecting to {where}")
        started = transport.clock()

        def make_socket() -> socket.socket:
            raw = socket.create_connection(
                (settings.host, settings.server_port),
                timeout=transport.timeout(settings.timeout, f"connecting to {where}"),
            )
            self._cut = raw.dup()
            # Cut at the run's deadline, whatever the connection is doing then (I5).
            lifetime = max(1.0, transport.budget.remaining() + 1.0)
            self._guards.enter_context(transport.guard(self._cut, lifetime))
            if settings.security == "tls":
                return self._tls_context().wrap_socket(raw, server_hostname=settings.host)
            return raw

        connected = False
        try:
            client = _Client(
                settings.host,
                settings.server_port,
                make_socket,
                transport.timeout(settings.timeout, f"connecting to {where}"),
            )
            connected = True
            self._client = client
            client.normalise_times = False
            if settings.security == "starttls":
                transport.pace("STARTTLS")
                client.starttls(self._tls_context())
            transport.pace("LOGIN")
            if settings.password.isascii() and settings.username.isascii():
                client.login(settings.username, settings.password)
            else:  # imaplib's LOGIN sends ASCII only; AUTHENTICATE PLAIN sends UTF-8
                client.plain_login(settings.username, settings.password)
            self.capabilities = frozenset(
                c.decode("ascii", "replace").upper() if isinstance(c, bytes) else str(c)
                for c in client.capabilities()
            )
        except LoginError as exc:
            self.discard()
            if isinstance(exc.__context__, CONNECTION_ERRORS):  # the connection died in LOGIN
                text = transport.redactor.scrub(_server_text(exc))
                transport.record_failure("LOGIN")
                raise RetryLater(f"LOGIN at {where}: connection lost: {text}") from None
            text = transport.redactor.scrub(_server_text(exc))
            raise Unreachable(
                f"IMAP login to {where} as {settings.username!r} refused: {text}"
            ) from None
        except ssl.SSLCertVerificationError as exc:
            self.discard()
            text = transport.redactor.scrub(str(exc))
            raise Unreachable(f"TLS to {where}: the certificate is not trusted: {text}") from None
        except CONNECTION_ERRORS as exc:
            self.discard()
            text = transport.redactor.scrub(f"{type(exc).__name__}: {_server_text(exc)}")
            if transport.budget.remaining() <= 0:
                raise transport.cut_off(f"connecting to {where}", text, started) from None
            transport.record_failure(f"connecting to {where}")
            raise RetryLater(f"connecting to {where}: {text}", connect=not connected) from None
        except CommandError as exc:  # a NO/BAD to STARTTLS or CAPABILITY
            self.discard()
            text = transport.redactor.scrub(_server_text(exc))
            raise Unreachable(f"IMAP server {where} refused the session: {text}") from None
        self.connects += 1
        transport.record_success()

    def _select(self) -> None:
        mailbox = self.settings.mailbox

        def select(client: Any) -> dict[bytes, Any]:
            return dict(client.select_folder(mailbox))

        try:
            info = self._send(f"SELECT {mailbox}", select)
        except CommandError as exc:
            text = _server_text(exc)
            # Servers word this differently ([NONEXISTENT] is optional): ask LIST.
            exists = self._send(f"LIST {mailbox}", lambda client: client.folder_exists(mailbox))
            if not exists:
                raise MailboxMissing(f"mailbox {mailbox!r} does not exist") from None
            raise TransientError(f"SELECT {mailbox!r} refused: {text}") from None
        flags = tuple(
            (f.decode("ascii", "replace") if isinstance(f, bytes) else str(f))
            for f in info.get(b"PERMANENTFLAGS", ())
        )
        view = View(
            mailbox=mailbox,
            uidvalidity=int(info.get(b"UIDVALIDITY", 0)),
            uidnext=int(info.get(b"UIDNEXT", 0)),
            exists=int(info.get(b"EXISTS", 0)),
            permanent_flags=flags,
        )
        if self._last_uidvalidity is not None and self._last_uidvalidity != view.uidvalidity:
            self.uidvalidity_changes += 1
        self._last_uidvalidity = view.uidvalidity
        self.view = view

    def ensure_connected(self) -> None:
        """Connect and log in if needed (the capabilities are known afterwards)."""
        self.transport.call(
            lambda: self._ensure(False), idempotent=True, what=f"connecting to {self.settings.host}"
        )

    def ensure_view(self) -> View:
        """The selected mailbox's view, connecting and selecting first if needed."""

        def once() -> View:
            self._ensure(True)
            assert self.view is not None
            return self.view

        return self.transport.call(once, idempotent=True, what=f"SELECT {self.settings.mailbox}")

    def select(self) -> View | None:
        """SELECT the mailbox afresh (a new view of it); None if it does not exist."""
        self.view = None
        try:
            return self.ensure_view()
        except MailboxMissing:
            return None

    # -- closing ------------------------------------------------------------------------

    def discard(self) -> None:
        """Forget the session without a word to the server (its socket is closed)."""
        client, cut = self._client, self._cut
        self._client = None
        self._cut = None
        self.view = None
        self._guards.close()
        if client is not None:
            with contextlib.suppress(Exception):
                client.shutdown()
        if cut is not None:
            with contextlib.suppress(OSError):
                cut.close()

    def close(self) -> None:
        """LOGOUT politely if there is time and a session, then drop the connection."""
        if self._client is not None and self.transport.budget.remaining() > 1.0:
            with contextlib.suppress(Exception):
                self._send("LOGOUT", lambda client: client.logout())
        self.discard()
