"""`DovecotServer`: one throw-away Dovecot on 127.0.0.1, its users, its clients and its mail.

The package's docstring is the guide (what it writes where, what it needs);
the configuration is rendered by `config`, mail written by `maildir`, and the
operating system's side (binary, directories, certificates, ports, process
group) is `system`.
"""

from __future__ import annotations

import base64
import contextlib
import grp
import os
import pwd
import re
import secrets
import shlex
import shutil
import socket
import ssl
import subprocess
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from . import maildir, system
from .config import OAuth2Validation, render_config, render_oauth2
from .errors import DovecotError, DovecotStartError

if TYPE_CHECKING:
    from imapclient import IMAPClient  # type: ignore[import-untyped,import-not-found,unused-ignore]

__all__ = ["DEFAULT_USERS", "DovecotServer", "Security", "start_dovecot"]

Security = Literal["plain", "starttls", "tls"]

DEFAULT_USERS: Mapping[str, str] = {"alice": "password"}

_USERNAME_RE = re.compile(r"[A-Za-z0-9._@-]+")
_BIND_FAILURE_MARKERS = ("Address already in use", "EADDRINUSE")
_MAX_BIND_ATTEMPTS = 5


def start_dovecot(
    root: str | os.PathLike[str],
    users: Mapping[str, str] | None = None,
    *,
    tls: bool = True,
    start_timeout: float = 20.0,
) -> DovecotServer:
    """Create and start a :class:`DovecotServer` (usable as a context manager)."""
    return DovecotServer(root, users, tls=tls, start_timeout=start_timeout).start()


class DovecotServer:
    """A Dovecot instance on 127.0.0.1, configured and owned by this object.

    ``root`` is a directory for everything (config, log, certificates, mail); it is created if
    needed and kept after :meth:`stop` so its log and mail can be inspected.
    ``extra_config`` is appended to the generated ``dovecot.conf`` (Dovecot 2.3 syntax),
    e.g. ``"maildir_very_dirty_syncs = yes\n"`` for a test that drains a huge Maildir.
    ``oauth2`` also lets users sign in with access tokens (SASL XOAUTH2 and
    OAUTHBEARER) that Dovecot validates itself (`OAuth2Validation`): trust the
    keys that sign them with :meth:`trust_token_key`.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        users: Mapping[str, str] | None = None,
        *,
        tls: bool = True,
        start_timeout: float = 20.0,
        mail_user: str = "nobody",
        mail_group: str = "nogroup",
        binary: str | None = None,
        runtime_parent: str | os.PathLike[str] | None = None,
        extra_config: str = "",
        oauth2: OAuth2Validation | None = None,
    ) -> None:
        self.root = Path(root).absolute()
        self.oauth2 = oauth2
        self._token_keys: dict[tuple[str, str, str], str] = {}
        self.runtime_parent = None if runtime_parent is None else Path(runtime_parent)
        self.extra_config = extra_config
        if re.search(r"[\s%\"\\]", str(self.root)):
            raise ValueError(
                f"Dovecot test directory must not contain whitespace, %, quotes or backslashes: "
                f"{str(self.root)!r}"
            )
        self.tls = tls
        self.start_timeout = start_timeout
        self.mail_user = mail_user
        self.mail_group = mail_group
        self._binary = binary
        self._users: dict[str, str] = {}
        for name, password in (DEFAULT_USERS if users is None else users).items():
            _validate_user(name, password)
            self._users[name] = password

        # Root-only files (read by Dovecot's privileged processes) live in ``root``.
        self.config_file = self.root / "dovecot.conf"
        self.log_file = self.root / "dovecot.log"
        self.state_dir = self.root / "state"
        self.tls_dir = self.root / "tls"
        self.ca_file = self.tls_dir / "ca.pem"
        self.cert_file = self.tls_dir / "server.pem"
        self.key_file = self.tls_dir / "server.key"
        # What unprivileged processes use lives in a short runtime dir made by start().
        self.runtime_dir: Path | None = None
        self._runtime_finalizer: weakref.finalize[Any, Any] | None = None

        self.host = system.HOST
        self.port = 0
        self.tls_port: int | None = None
        self.command: list[str] = []
        self.greeting_token = secrets.token_hex(6)
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._uid = -1
        self._gid = -1

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.running else "stopped"
        return (
            f"<DovecotServer {self.host} port={self.port} tls_port={self.tls_port} "
            f"{state} root={str(self.root)!r}>"
        )

    @property
    def running(self) -> bool:
        """Whether the Dovecot process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The master process's pid while it runs."""
        return self._proc.pid if self._proc is not None else None

    @property
    def mail_uid(self) -> int:
        """The uid mail is stored as (known once started)."""
        return self._uid

    @property
    def mail_gid(self) -> int:
        """The gid mail is stored as (known once started)."""
        return self._gid

    @property
    def mail_root(self) -> Path:
        """``<runtime_dir>/mail``: one home per user, Maildir in ``<home>/Maildir``."""
        return self._runtime() / "mail"

    @property
    def passwd_dir(self) -> Path:
        """``<runtime_dir>/passwd.d``: one passwd-file per user."""
        return self._runtime() / "passwd.d"

    @property
    def base_dir(self) -> Path:
        """Dovecot's ``base_dir`` (sockets, pid file)."""
        return self._runtime() / "run"

    @property
    def oauth2_file(self) -> Path:
        """``<runtime_dir>/dovecot-oauth2.conf.ext``: the ``oauth2`` passdb's settings."""
        return self._runtime() / "dovecot-oauth2.conf.ext"

    @property
    def token_key_dir(self) -> Path:
        """``<runtime_dir>/token-keys``: ``<azp>/<ALG>/<kid>`` files of trusted public keys."""
        return self._runtime() / "token-keys"

    def trust_token_key(
        self, kid: str, public_key_pem: str, *, alg: str = "RS256", azp: str = "default"
    ) -> None:
        """Trust ``public_key_pem`` (a PEM ``PUBLIC KEY``) for access tokens whose header
        has ``kid`` and ``alg`` (and whose ``azp`` claim is ``azp``; ``default``: none).

        Takes effect at once, also while the server runs. Dovecot keeps a key once
        it has read it: to rotate, trust a new key under a new ``kid``."""
        if self.oauth2 is None:
            raise DovecotError("this DovecotServer was made without oauth2=OAuth2Validation(...)")
        if "BEGIN PUBLIC KEY" not in public_key_pem:
            raise ValueError("Dovecot wants RS/PS/ES keys as a PEM PUBLIC KEY block")
        for part in (kid, alg, azp):
            if not re.fullmatch(r"[A-Za-z0-9._-]+", part):
                raise ValueError(f"{part!r}: use letters, digits, '.', '_' or '-' only")
        self._token_keys[(azp, alg, kid)] = public_key_pem
        if self.runtime_dir is not None and self._uid >= 0:
            self._write_token_key(azp, alg, kid, public_key_pem)

    @property
    def users(self) -> dict[str, str]:
        """A copy of the user -> password mapping."""
        return dict(self._users)

    def start(self) -> DovecotServer:
        """Start Dovecot and wait until it greets on every port; no-op if already running."""
        if self.running:
            return self
        binary = self._binary or system.find_dovecot_binary()
        if os.geteuid() != 0:
            raise DovecotError("the test Dovecot must be started as root (it drops privileges)")
        try:
            self._uid = pwd.getpwnam(self.mail_user).pw_uid
            self._gid = grp.getgrnam(self.mail_group).gr_gid
        except KeyError as exc:
            raise DovecotError(f"mail user/group missing: {exc}") from exc
        self._prepare_files()

        began = time.monotonic()
        for attempt in range(1, _MAX_BIND_ATTEMPTS + 1):
            ports = system.free_ports(2 if self.tls else 1)
            self.port = ports[0]
            self.tls_port = ports[1] if self.tls else None
            self.config_file.write_text(render_config(self), encoding="utf-8")
            self.command = [binary, "-F", "-c", str(self.config_file)]
            log_offset = self._spawn(attempt)
            try:
                self._wait_ready(log_offset)
            except _PortTaken:
                self._shutdown_process(timeout=5.0)
                continue
            except BaseException:
                self._shutdown_process(timeout=5.0)
                raise
            self.startup_seconds = time.monotonic() - began
            return self
        raise DovecotStartError(
            f"Dovecot could not bind free ports in {_MAX_BIND_ATTEMPTS} attempts\n"
            + self._diagnostics()
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate Dovecot (SIGTERM, then SIGKILL), wait for it and its ports to close."""
        if self._proc is None:
            return
        self._shutdown_process(timeout)
        ports = [p for p in (self.port, self.tls_port) if p]
        deadline = time.monotonic() + 5.0
        while any(system.port_open(self.host, p) for p in ports):
            if time.monotonic() > deadline:
                raise DovecotError(f"Dovecot stopped but ports {ports} still accept connections")
            time.sleep(0.02)

    def close(self) -> None:
        """:meth:`stop`, then delete :attr:`runtime_dir` (mail, passwd-files, sockets).

        ``root`` (config, log, certificates) is left for the caller's temp-dir handling.
        """
        self.stop()
        if self._runtime_finalizer is not None:
            self._runtime_finalizer()
            self._runtime_finalizer = None
        self.runtime_dir = None

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of Dovecot's log (empty string if there is none yet)."""
        try:
            data = self.log_file.read_bytes()
        except FileNotFoundError:
            return ""
        return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])

    # ------------------------------------------------------------------ users and clients

    def add_user(self, name: str, password: str) -> None:
        """Add a user, or change a password; takes effect at once, also while running.

        (Dovecot re-reads a known user's passwd-file at most once a second: changing the
        password of a user who already logged in waits, up to ~2 s, until the new one works.)
        """
        _validate_user(name, password)
        changed = name in self._users and self._users[name] != password
        self._users[name] = password
        if self._uid >= 0:
            self._write_passwd(name)
            self._ensure_mailbox(name, "INBOX")
        if changed and self.running:
            deadline = time.monotonic() + 5.0
            while not self.check_login(name, password):
                if time.monotonic() > deadline:
                    raise DovecotError(
                        f"new password of {name!r} not accepted\n" + self._diagnostics()
                    )
                time.sleep(0.05)

    def check_login(self, user: str, password: str) -> bool:
        """Try ``AUTHENTICATE PLAIN`` on the plain port with a raw socket (no imapclient)."""
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        with socket.create_connection((self.host, self.port), timeout=10.0) as sock:
            system.read_line(sock)
            sock.sendall(f"a AUTHENTICATE PLAIN {token}\r\nb LOGOUT\r\n".encode())
            buffer = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return False
                buffer += chunk
                for line in buffer.split(b"\r\n")[:-1]:  # complete lines only
                    if line.startswith(b"a "):
                        return line.startswith(b"a OK")

    def password(self, user: str) -> str:
        """The password of a known test user; `KeyError` naming the known ones otherwise."""
        try:
            return self._users[user]
        except KeyError:
            raise KeyError(f"unknown test user {user!r}; known: {sorted(self._users)}") from None

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that verifies the server against the generated CA."""
        if not self.tls:
            raise DovecotError("this DovecotServer was started with tls=False")
        return ssl.create_default_context(cafile=str(self.ca_file))

    def imap_client(
        self,
        user: str,
        *,
        security: Security = "plain",
        password: str | None = None,
        timeout: float = 10.0,
    ) -> IMAPClient:
        """A logged-in ``imapclient.IMAPClient`` (imapclient is imported only here).

        ``security``: ``"plain"`` (no TLS), ``"starttls"`` (plain port, then STARTTLS) or
        ``"tls"`` (implicit TLS port); TLS verifies against :attr:`ca_file`.
        """
        import imapclient  # optional dependency: imported here only

        secret = self.password(user) if password is None else password
        client: Any
        if security == "tls":
            if self.tls_port is None:
                raise DovecotError("this DovecotServer was started with tls=False")
            client = imapclient.IMAPClient(
                self.host,
                port=self.tls_port,
                ssl=True,
                ssl_context=self.ssl_context(),
                timeout=timeout,
            )
        elif security in ("plain", "starttls"):
            client = imapclient.IMAPClient(self.host, port=self.port, ssl=False, timeout=timeout)
            if security == "starttls":
                client.starttls(self.ssl_context())
        else:
            raise ValueError(f"security must be 'plain', 'starttls' or 'tls', not {security!r}")
        try:
            if secret.isascii():
                client.login(user, secret)
            else:  # imaplib's LOGIN only sends ASCII; AUTHENTICATE PLAIN sends UTF-8
                client.plain_login(user, secret)
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        return client

    # ------------------------------------------------------------------ seeding mail

    def mailbox_dir(self, user: str, mailbox: str = "INBOX") -> Path:
        """The Maildir directory (holding cur/new/tmp) of ``mailbox``; not created."""
        self.password(user)
        return maildir.folder_path(self.mail_root, user, mailbox)

    def deliver(
        self,
        user: str,
        message: bytes,
        mailbox: str = "INBOX",
        *,
        flags: Sequence[str] = (),
        internal_date: datetime | None = None,
    ) -> Path:
        """Put one message straight into the Maildir (no IMAP); returns the file's path.

        Without flags the message lands in ``new/`` (Dovecot reports it as \\Recent); with
        system flags (\\Seen, \\Answered, \\Flagged, \\Deleted, \\Draft) in ``cur/``.  Keywords are
        not supported here (use :meth:`append`).  ``internal_date`` sets INTERNALDATE (the file's
        mtime).  The mailbox is created if missing.  Dovecot notices the file at its next sync
        (SELECT, NOOP, STATUS, ...).
        """
        folder = self._ensure_mailbox(user, mailbox)
        return maildir.write_message(
            folder,
            message,
            suffix=maildir.flag_suffix(flags),
            internal_date=internal_date,
            uid=self._uid,
            gid=self._gid,
        )

    def deliver_many(
        self,
        user: str,
        messages: Iterable[bytes],
        mailbox: str = "INBOX",
        *,
        flags: Sequence[str] = (),
    ) -> int:
        """Like :meth:`deliver` for many messages (fast seeding); returns how many."""
        folder = self._ensure_mailbox(user, mailbox)
        suffix = maildir.flag_suffix(flags)
        count = 0
        for message in messages:
            maildir.write_message(
                folder, message, suffix=suffix, internal_date=None, uid=self._uid, gid=self._gid
            )
            count += 1
        return count

    def append(
        self,
        user: str,
        messages: Iterable[bytes],
        mailbox: str = "INBOX",
        *,
        flags: Sequence[str] = (),
        batch_size: int = 500,
    ) -> int:
        """APPEND messages over IMAP (MULTIAPPEND in batches); creates the mailbox if missing.

        Unlike :meth:`deliver` this supports keywords in ``flags``.  Returns how many.
        """
        client = self.imap_client(user)
        try:
            if not client.folder_exists(mailbox):
                client.create_folder(mailbox)
            count = 0
            batch: list[dict[str, Any]] = []
            for message in messages:
                batch.append({"msg": message, "flags": list(flags)})
                if len(batch) >= batch_size:
                    client.multiappend(mailbox, batch)
                    count += len(batch)
                    batch = []
            if batch:
                client.multiappend(mailbox, batch)
                count += len(batch)
            return count
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    # ------------------------------------------------------------------ internals

    def _runtime(self) -> Path:
        if self.runtime_dir is None:
            raise DovecotError("start() the server first (its runtime directory is made there)")
        return self.runtime_dir

    def _prepare_files(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(exist_ok=True)
        if self.runtime_dir is None:
            self.runtime_dir = system.make_runtime_dir(self.runtime_parent)
            self._runtime_finalizer = weakref.finalize(
                self, shutil.rmtree, str(self.runtime_dir), ignore_errors=True
            )
            with contextlib.suppress(OSError):  # a pointer for people browsing ``root``
                link = self.root / "runtime"
                link.unlink(missing_ok=True)
                link.symlink_to(self.runtime_dir)
        self.mail_root.mkdir(mode=0o755, exist_ok=True)
        if self.tls and not (self.cert_file.exists() and self.key_file.exists()):
            system.generate_certificates(self.tls_dir, self.ca_file, self.cert_file, self.key_file)
        for user in self._users:
            self._write_passwd(user)
            self._ensure_mailbox(user, "INBOX")
        if self.oauth2 is not None:
            self._write_auth_file(self.oauth2_file, render_oauth2(self).encode("utf-8"))
            for (azp, alg, kid), pem in self._token_keys.items():
                self._write_token_key(azp, alg, kid, pem)

    def _auth_group(self) -> tuple[int, int, int]:
        """(gid, file mode, directory mode) for what only Dovecot's auth process reads."""
        try:
            return grp.getgrnam("dovecot").gr_gid, 0o640, 0o750
        except KeyError:
            return 0, 0o644, 0o755

    def _write_auth_file(self, target: Path, data: bytes) -> None:
        """Write a file the auth process (user ``dovecot``) reads, and make its folders."""
        gid, file_mode, dir_mode = self._auth_group()
        runtime = self._runtime()
        folder = runtime
        for part in target.parent.relative_to(runtime).parts:
            folder = folder / part
            folder.mkdir(exist_ok=True)
            os.chown(folder, 0, gid)
            folder.chmod(dir_mode)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(data)
        os.chown(tmp, 0, gid)
        tmp.chmod(file_mode)
        os.replace(tmp, target)

    def _write_token_key(self, azp: str, alg: str, kid: str, pem: str) -> None:
        self._write_auth_file(self.token_key_dir / azp / alg / kid, pem.encode("ascii"))

    def _write_passwd(self, name: str) -> None:
        """Write ``name``'s passwd-file (one file per user, see ``_render_config``)."""
        # The auth process runs as the "dovecot" user: let it (and only it) read the files.
        try:
            auth_gid = grp.getgrnam("dovecot").gr_gid
            file_mode, dir_mode = 0o640, 0o750
        except KeyError:
            auth_gid, file_mode, dir_mode = 0, 0o644, 0o755
        self.passwd_dir.mkdir(exist_ok=True)
        os.chown(self.passwd_dir, 0, auth_gid)
        self.passwd_dir.chmod(dir_mode)
        target = self.passwd_dir / name
        home = self.mail_root / name
        line = f"{name}:{{PLAIN}}{self._users[name]}:{self._uid}:{self._gid}::{home}::\n"
        tmp = self.passwd_dir / f".{name}.tmp"
        tmp.write_bytes(line.encode("utf-8"))
        os.chown(tmp, 0, auth_gid)
        tmp.chmod(file_mode)
        try:
            old = target.stat()
        except FileNotFoundError:
            old = None
        new = tmp.stat()
        if old is not None and int(old.st_mtime) == int(new.st_mtime):
            # Dovecot reloads a changed file only if its mtime (in seconds) or size differs.
            os.utime(tmp, (new.st_atime, int(old.st_mtime) + 1))
        os.replace(tmp, target)

    def _spawn(self, attempt: int) -> int:
        with self.log_file.open("ab") as log:
            log.write(f"--- starting attempt {attempt}: {shlex.join(self.command)}\n".encode())
            log.flush()
            offset = log.tell()
            self._proc = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                close_fds=True,
            )
        self._finalizer = weakref.finalize(self, system.kill_group, self._proc)
        return offset

    def _wait_ready(self, log_offset: int) -> None:
        assert self._proc is not None
        marker = f"Dovecot {self.greeting_token} ready".encode()
        targets: list[tuple[int, ssl.SSLContext | None]] = [(self.port, None)]
        if self.tls_port is not None:
            targets.append((self.tls_port, self.ssl_context()))
        deadline = time.monotonic() + self.start_timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                new_log = system.read_from(self.log_file, log_offset)
                if any(m in new_log for m in _BIND_FAILURE_MARKERS):
                    raise _PortTaken()
                raise DovecotStartError(
                    f"Dovecot exited with code {code} during start-up\n" + self._diagnostics()
                )
            if all(marker in system.greeting(self.host, port, ctx) for port, ctx in targets):
                return
            if time.monotonic() > deadline:
                raise DovecotStartError(
                    f"Dovecot did not greet on {self.host} ports "
                    f"{[port for port, _ in targets]} within {self.start_timeout} s\n"
                    + self._diagnostics()
                )
            time.sleep(0.02)

    def _shutdown_process(self, timeout: float) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                system.kill_group(proc)
                proc.wait(timeout)
        system.kill_group(proc)  # leftovers in Dovecot's own process group, if any
        deadline = time.monotonic() + 5.0
        while system.live_group_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        self._proc = None

    def _diagnostics(self) -> str:
        return (
            f"command: {shlex.join(self.command)}\n"
            f"config: {self.config_file}\n"
            f"log ({self.log_file}), last lines:\n{self.log_tail(40)}"
        )

    def _ensure_mailbox(self, user: str, mailbox: str) -> Path:
        folder = self.mailbox_dir(user, mailbox)
        if self._uid < 0 and not (folder / "tmp").is_dir():
            raise DovecotError("start() the server before delivering mail")
        return maildir.create_folder(folder, self.mail_root, self._uid, self._gid)


class _PortTaken(Exception):
    """Dovecot could not bind a port we picked (someone else took it meanwhile)."""


def _validate_user(name: str, password: str) -> None:
    if not isinstance(name, str) or not _USERNAME_RE.fullmatch(name) or name in (".", ".."):
        raise ValueError(f"test user name must match [A-Za-z0-9._@-]+, got {name!r}")
    if not isinstance(password, str) or not password:
        raise ValueError(f"password of {name!r} must be a non-empty str")
    bad = sorted({c for c in password if c in ":\r\n\0"})
    if bad:
        raise ValueError(
            f"password of {name!r} contains {bad!r}: Dovecot's passwd-file format cannot store "
            "':', CR, LF or NUL in a {PLAIN} password"
        )
