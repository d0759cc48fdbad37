"""One IMAP session under the core's safety policy, and how IMAP reads its own errors.

`ImapConnection` owns one imapclient session (connect, TLS, login, SELECT) and
runs every IMAP command through `ImapConnection.command`, which hands it to
`SafetyPolicy.attempt` with `classify`, IMAP's reading of its errors:

- a connection that fails before the server greets us was not sent
  (`Fault.NOT_SENT`); one that dies later (a reset, a socket timeout, EOF, a
  LOGIN cut short) lost the command (`Fault.LOST`): dropped, and the policy
  tries again on a fresh connection (every command this source sends is
  idempotent), or stops the run at the deadline;
- a refused sign-in (LOGIN, or AUTHENTICATE with a token: `shitshovela_imap.signin`,
  whose message names the fix), an untrusted certificate, or a NO/BAD to STARTTLS
  or CAPABILITY is a refusal (`Fault.REFUSED`): `Unreachable`, never retried;
- a NO or BAD to a command is the caller's (imapclient's error, `CommandError`);
  so is a server that ends the session in answer (`ServerBye`) when asked.

Signing in is `shitshovela_imap.signin`'s: a password, or an access token from
the run's token provider, obtained before the connection is opened (a slow token
endpoint never holds an IMAP connection; its request runs under its own policy).

Pacing, the budget, the timeouts, the deadline, retries and the breaker are
the policy's. Each command of a try (connect, STARTTLS, LOGIN, SELECT, the
command) takes its own rate-limit slot (`Exchange.next`) and a socket timeout
clipped to the time left (I5, I6). imapclient's timeout bounds one socket
operation, so a server that drips a byte a second never trips it (FACTS.md,
imapclient #327/#403): `SafetyPolicy.guard` shuts the socket down at the run's
stop whatever is happening on it. It is armed when the socket connects, so it
covers the greeting and the TLS handshake too, and it cuts a duplicate
descriptor of the socket, which works whatever TLS wraps around it; one guard
(one timer thread) covers the connection's life. No secret reaches a message
(the policy scrubs every reason, I10).

Claims (I2) use CONDSTORE (RFC 7162) where the server has it: the session
enables it right after LOGIN (``ENABLE CONDSTORE``, RFC 5161; one command per
connection), and `store_unchanged_since` sends the one conditional
``UID STORE`` a claim is, reading the server's ``[MODIFIED]`` answer.
"""

from __future__ import annotations

import contextlib
import imaplib
import socket
import ssl
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import attrs
from imapclient import IMAPClient  # type: ignore[import-untyped]
from imapclient.exceptions import LoginError  # type: ignore[import-untyped]
from imapclient.response_parser import parse_fetch_response  # type: ignore[import-untyped]

from shitshovela_core import Exchange, Fault, SafetyPolicy, TransientError, Verdict

from .config import ImapSettings
from .signin import LoginRefused, SignIn

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
    #: The mailbox keeps mod-sequences (SELECT answered HIGHESTMODSEQ, not NOMODSEQ).
    modseq: bool = False


@attrs.frozen
class StoreAnswer:
    """What a conditional ``UID STORE`` (`store_unchanged_since`) did to its message."""

    #: The flags were replaced.
    stored: bool
    #: Refused: the message changed after the given MODSEQ (``[MODIFIED]``).
    modified: bool
    #: The message's MODSEQ after the store (None when nothing was stored).
    modseq: int | None = None

    @property
    def gone(self) -> bool:
        """No such message (expunged): the server stored nothing and refused nothing."""
        return not self.stored and not self.modified


def store_unchanged_since(client: Any, uid: int, modseq: int, flags: Sequence[str]) -> StoreAnswer:
    """``UID STORE <uid> (UNCHANGEDSINCE <modseq>) FLAGS.SILENT (<flags>)`` (RFC 7162): set
    the message's whole flag set, only if nothing changed it since ``modseq``.

    imapclient has no STORE modifiers, so the command goes through imaplib (still one
    command of this session under the caller's `ImapConnection.command`). A refusal is
    the tagged ``OK [MODIFIED <uid>]``; a store that changed the flags is answered with
    the message's new MODSEQ, even ``.SILENT``; a UID with no message gets neither. The
    caller must change the flags: a store that changes nothing leaves MODSEQ as it was
    and would read as "gone"."""
    imap = client._imap
    imap.untagged_responses.pop("MODIFIED", None)
    typ, data = imap.uid(
        "STORE", str(uid), f"(UNCHANGEDSINCE {modseq}) FLAGS.SILENT", f"({' '.join(flags)})"
    )
    if typ != "OK":
        raise CommandError(f"UID STORE {uid} refused: {typ} {data!r}"[:300])
    modified = bool(imap.untagged_responses.pop("MODIFIED", None))
    for entry in parse_fetch_response(data, False, False).values():
        if entry.get(b"UID") == uid and not modified:
            found = entry.get(b"MODSEQ")
            return StoreAnswer(True, False, int(found[0]) if found else None)
    return StoreAnswer(False, modified)


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


class _NotConnected(Exception):
    """Connecting failed before the server greeted us: no command reached it."""


class _SessionRefused(Exception):
    """The server answered NO or BAD to STARTTLS or CAPABILITY while we connected."""


def classify(outcome: object) -> Verdict | None:
    """How the safety policy reads one IMAP try: the exception it raised (a result
    is always an answer). None leaves the exception to the caller (a NO or BAD)."""
    if not isinstance(outcome, Exception):
        return None
    text = f"{type(outcome).__name__}: {_server_text(outcome)}"
    if isinstance(outcome, LoginError):
        if isinstance(outcome.__context__, CONNECTION_ERRORS):  # the connection died in LOGIN
            return Verdict(Fault.LOST, f"connection lost: {_server_text(outcome)}")
        # A LoginRefused message is ours: the server's words, cut, then the fix (kept whole).
        said = str(outcome) if isinstance(outcome, LoginRefused) else _server_text(outcome)
        return Verdict(Fault.REFUSED, f"login refused: {said}")
    if isinstance(outcome, ssl.SSLCertVerificationError):
        return Verdict(Fault.REFUSED, f"the server's certificate is not trusted: {text}")
    if isinstance(outcome, _SessionRefused):
        return Verdict(Fault.REFUSED, f"the server refused the session: {outcome}")
    if isinstance(outcome, _NotConnected):
        return Verdict(Fault.NOT_SENT, str(outcome))
    if isinstance(outcome, CONNECTION_ERRORS):
        return Verdict(Fault.LOST, f"connection lost: {text}")
    return None


class ImapConnection:
    """One IMAP session for one source; reconnects on demand. Not thread-safe."""

    def __init__(
        self, settings: ImapSettings, safety: SafetyPolicy, signin: SignIn | None = None
    ) -> None:
        self.settings = settings
        self.safety = safety
        #: How the session signs in (a password, or a token from the run's token provider).
        self.signin = signin or SignIn(settings, None, safety.redactor)
        self.view: View | None = None
        self.capabilities: frozenset[str] = frozenset()
        #: The server has CONDSTORE and the session enabled it (claims are atomic, I2).
        self.condstore = False
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
        """Run ``fn(client)`` as one command under the safety policy, after connecting,
        logging in and (with ``select``) selecting the mailbox if needed; the policy
        repeats it on a fresh connection when the connection is lost. NO/BAD answers
        raise imapclient's error (`CommandError`) to the caller; with ``bye_is_error``
        so does a server that ends the session in answer (`ServerBye`), instead of a
        retry."""

        def once(exchange: Exchange) -> T:
            self._open(exchange, select)
            exchange.next(what)
            return self._send(exchange, fn, bye_is_error=bye_is_error)

        return self._attempt(once, what)

    def _attempt(self, once: Callable[[Exchange], T], what: str, *, idempotent: bool = True) -> T:
        return self.safety.attempt(
            once, what=what, idempotent=idempotent, classify=classify, timeout=self.settings.timeout
        )

    def _send(self, exchange: Exchange, fn: Callable[[Any], T], *, bye_is_error: bool = False) -> T:
        client = self._client
        try:
            client.socket().settimeout(exchange.timeout())
            return fn(client)
        except CONNECTION_ERRORS as exc:
            self.discard()
            if bye_is_error and _is_bye(exc) and not exchange.overdue:
                text = self.safety.redactor.scrub(_server_text(exc))
                raise ServerBye(f"{exchange.what}: the server closed the session: {text}") from None
            raise
        finally:
            if self._client is not None:
                # Unsolicited answers (EXPUNGE, EXISTS, ...) would pile up in imaplib.
                self._client._imap.untagged_responses.clear()

    # -- connecting ---------------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = self.safety.ssl_context()
        return self._ssl_context

    def _open(self, exchange: Exchange, select: bool) -> None:
        if self._client is None:
            self._connect(exchange)
        if select and self.view is None:
            self._select(exchange)

    def _connect(self, exchange: Exchange) -> None:
        settings = self.settings
        where = f"{settings.host}:{settings.server_port}"
        # The token first (usually the one already obtained this run): a slow token
        # endpoint then never holds an IMAP connection open.
        token = self.signin.token()
        exchange.next(f"connecting to {where}")

        def make_socket() -> socket.socket:
            raw = socket.create_connection(
                (settings.host, settings.server_port), timeout=exchange.timeout()
            )
            self._cut = raw.dup()
            self._guards.enter_context(self.safety.guard(self._cut))
            if settings.security == "tls":
                return self._tls_context().wrap_socket(raw, server_hostname=settings.host)
            return raw

        connected = False
        try:
            client = _Client(settings.host, settings.server_port, make_socket, exchange.timeout())
            connected = True
            self._client = client
            client.normalise_times = False
            if settings.security == "starttls":
                exchange.next(f"STARTTLS at {where}")
                client.starttls(self._tls_context())
            command = "LOGIN" if token is None else f"AUTHENTICATE {self.signin.mechanism}"
            exchange.next(f"{command} at {where} as {settings.username!r}")
            self.signin.login(client, token)
            self.capabilities = frozenset(
                c.decode("ascii", "replace").upper() if isinstance(c, bytes) else str(c)
                for c in client.capabilities()
            )
            self.condstore = self._enable_condstore(exchange, client, where)
        except (LoginError, ssl.SSLCertVerificationError):
            self.discard()
            raise
        except CONNECTION_ERRORS as exc:
            self.discard()
            if connected:
                raise
            raise _NotConnected(f"{type(exc).__name__}: {_server_text(exc)}") from exc
        except CommandError as exc:  # a NO/BAD to STARTTLS or CAPABILITY
            self.discard()
            raise _SessionRefused(_server_text(exc)) from exc
        except Exception:  # the deadline, met between two commands: no half-open session
            self.discard()
            raise
        self.connects += 1

    def _enable_condstore(self, exchange: Exchange, client: Any, where: str) -> bool:
        """Enable CONDSTORE if the server has it (RFC 7162 wants it enabled before a
        client relies on MODSEQ): ``ENABLE CONDSTORE`` where ENABLE exists; without
        ENABLE, the listing's ``FETCH ... MODSEQ`` enables it (RFC 7162, 3.1)."""
        if "CONDSTORE" not in self.capabilities:
            return False
        if "ENABLE" not in self.capabilities:
            return True
        exchange.next(f"ENABLE CONDSTORE at {where}")
        try:
            enabled = client.enable("CONDSTORE")
        except CommandError:  # refused: claims go on without it (not atomic)
            return False
        return any(bytes(e).upper() == b"CONDSTORE" for e in enabled)

    def _select(self, exchange: Exchange) -> None:
        mailbox = self.settings.mailbox

        def select(client: Any) -> dict[bytes, Any]:
            return dict(client.select_folder(mailbox))

        exchange.next(f"SELECT {mailbox}")
        try:
            info = self._send(exchange, select)
        except CONNECTION_ERRORS:
            raise  # the policy's (imaplib's abort is a CommandError too)
        except CommandError as exc:
            text = _server_text(exc)
            # Servers word this differently ([NONEXISTENT] is optional): ask LIST.
            exchange.next(f"LIST {mailbox}")
            exists = self._send(exchange, lambda client: client.folder_exists(mailbox))
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
            modseq=b"HIGHESTMODSEQ" in info and b"NOMODSEQ" not in info,
        )
        if self._last_uidvalidity is not None and self._last_uidvalidity != view.uidvalidity:
            self.uidvalidity_changes += 1
        self._last_uidvalidity = view.uidvalidity
        self.view = view

    def ensure_connected(self) -> None:
        """Connect and log in if needed (the capabilities are known afterwards)."""
        if self._client is None:
            self._attempt(
                lambda exchange: self._open(exchange, False), f"connecting to {self.settings.host}"
            )

    def ensure_view(self) -> View:
        """The selected mailbox's view, connecting and selecting first if needed."""

        def once(exchange: Exchange) -> View:
            self._open(exchange, True)
            assert self.view is not None
            return self.view

        if self.view is not None:
            return self.view
        return self._attempt(once, f"SELECT {self.settings.mailbox}")

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
        if self._client is not None and self.safety.budget.remaining() > 1.0:
            with contextlib.suppress(Exception):  # once: a lost LOGOUT is not sent again
                self._attempt(
                    lambda exchange: self._send(exchange, lambda client: client.logout()),
                    "LOGOUT",
                    idempotent=False,
                )
        self.discard()
