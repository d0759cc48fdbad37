"""Start a real Dovecot IMAP server for tests, on 127.0.0.1, from Python.

Usage::

    with DovecotServer(tmp_path, users={"alice": "secret"}) as server:
        server.deliver("alice", b"Subject: hi\\r\\n\\r\\nbody\\r\\n")  # fast, no IMAP
        client = server.imap_client("alice", security="tls")  # logged-in IMAPClient
        client.select_folder("INBOX")

What it does: writes a standalone ``dovecot.conf`` into the given directory (never reads
``/etc/dovecot``), generates a throw-away CA plus a server certificate for ``127.0.0.1`` and
``localhost`` (``ca_file`` is what clients verify against), writes one passwd-file per user
with a ``{PLAIN}`` password, and runs ``dovecot -F -c <conf>`` in the foreground as a child
process.  It listens on 127.0.0.1 only: a plaintext port (``port``; plaintext LOGIN allowed,
STARTTLS offered when ``tls=True``) and an implicit-TLS port (``tls_port``).  Mail is Maildir
(``LAYOUT=fs``, hierarchy separator ``/``) in ``<mail_root>/<user>/Maildir``, accessed as
``nobody:nogroup``.

Where things are: config, log (``log_file``), certificates and state in the given directory
``root``; mail, passwd-files and sockets in ``runtime_dir``, a short 0711 directory below
``runtime_parent`` (symlinked as ``<root>/runtime``), because Dovecot's unprivileged processes
must be able to traverse every ancestor of what they read and pytest's temp dirs are 0700.
``runtime_parent`` defaults to ``/dev/shm`` when it has 1 GiB free (mail in RAM: creating
files there was ~10-30x faster than on this VM's disk), else ``/tmp``.
:meth:`DovecotServer.stop` keeps it (restart works), :meth:`DovecotServer.close` (also
``__exit__``) deletes it; it is deleted at interpreter exit otherwise.

Requirements and limits (read these when something fails):

* Dovecot must be installed (Debian 12: ``bash .ci/install-dovecot``); a missing binary raises
  :class:`DovecotNotInstalledError`, never a skip.  ``tls=True`` needs the ``openssl`` CLI.
* Must run as root: the master process switches to the mail user itself.
* ``root`` must not contain whitespace, ``%``, quotes or backslashes (Dovecot config values).
* Passwords may contain spaces, quotes, backslashes, ``#``, ``%`` and non-ASCII, but not ``:``,
  CR, LF or NUL (the passwd-file format has no escaping): those raise :class:`ValueError`.
  User names are limited to ``[A-Za-z0-9._@-]`` and are case-sensitive.
* Maildir keeps at most 26 keywords (custom flags) per mailbox.
* Failed logins are answered after ~0.5 s (Dovecot flushes failures on a timer); the growing
  per-IP auth penalty is switched off.
* Start-up errors include the tail of Dovecot's log and the exact command.
"""

from __future__ import annotations

import base64
import contextlib
import grp
import itertools
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from imapclient import IMAPClient  # type: ignore[import-untyped,import-not-found,unused-ignore]

__all__ = [
    "DEFAULT_USERS",
    "DovecotError",
    "DovecotNotInstalledError",
    "DovecotServer",
    "DovecotStartError",
    "Security",
    "find_dovecot_binary",
    "live_group_members",
    "start_dovecot",
]

Security = Literal["plain", "starttls", "tls"]

DEFAULT_USERS: Mapping[str, str] = {"alice": "password"}
HOST = "127.0.0.1"
INSTALL_HINT = "run `bash .ci/install-dovecot` (installs Debian's dovecot-imapd) as root"

_DOVECOT_CANDIDATES = ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot")
_USERNAME_RE = re.compile(r"[A-Za-z0-9._@-]+")
_BIND_FAILURE_MARKERS = ("Address already in use", "EADDRINUSE")
_MAX_BIND_ATTEMPTS = 5
_SYSTEM_FLAGS = {
    "\\draft": "D",
    "\\flagged": "F",
    "\\answered": "R",
    "\\seen": "S",
    "\\deleted": "T",
}
_delivery_counter = itertools.count()


class DovecotError(RuntimeError):
    """Something went wrong starting, using or stopping the test Dovecot."""


class DovecotNotInstalledError(DovecotError):
    """The dovecot binary is missing; run ``.ci/install-dovecot``."""


class DovecotStartError(DovecotError):
    """Dovecot did not come up; the message has the command and the log's tail."""


def find_dovecot_binary() -> str:
    """Return the path of the dovecot binary or raise :class:`DovecotNotInstalledError`."""
    for candidate in _DOVECOT_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("dovecot")
    if found:
        return found
    raise DovecotNotInstalledError(
        f"Dovecot binary not found (looked at {', '.join(_DOVECOT_CANDIDATES)} and PATH); "
        + INSTALL_HINT
    )


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
    ) -> None:
        self.root = Path(root).absolute()
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

        self.host = HOST
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
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

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
    def users(self) -> dict[str, str]:
        """A copy of the user -> password mapping."""
        return dict(self._users)

    def start(self) -> DovecotServer:
        """Start Dovecot and wait until it greets on every port; no-op if already running."""
        if self.running:
            return self
        binary = self._binary or find_dovecot_binary()
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
            ports = _free_ports(2 if self.tls else 1)
            self.port = ports[0]
            self.tls_port = ports[1] if self.tls else None
            self.config_file.write_text(self._render_config(), encoding="utf-8")
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
        while any(_port_open(self.host, p) for p in ports):
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
            _read_line(sock)
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
        parts = mailbox.split("/")
        if parts[0].upper() == "INBOX":
            parts[0] = "INBOX"
        for part in parts:
            if part in ("", ".", "..", "cur", "new", "tmp"):
                raise ValueError(f"mailbox name {mailbox!r} not supported by file delivery")
        return self.mail_root / user / "Maildir" / Path(*(_encode_mutf7(p) for p in parts))

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
        return self._write_message(folder, message, _flag_suffix(flags), internal_date)

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
        suffix = _flag_suffix(flags)
        count = 0
        for message in messages:
            self._write_message(folder, message, suffix, None)
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
            self.runtime_dir = _make_runtime_dir(self.runtime_parent)
            self._runtime_finalizer = weakref.finalize(
                self, shutil.rmtree, str(self.runtime_dir), ignore_errors=True
            )
            with contextlib.suppress(OSError):  # a pointer for people browsing ``root``
                link = self.root / "runtime"
                link.unlink(missing_ok=True)
                link.symlink_to(self.runtime_dir)
        self.mail_root.mkdir(mode=0o755, exist_ok=True)
        if self.tls and not (self.cert_file.exists() and self.key_file.exists()):
            _generate_certificates(self.tls_dir, self.ca_file, self.cert_file, self.key_file)
        for user in self._users:
            self._write_passwd(user)
            self._ensure_mailbox(user, "INBOX")

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

    def _render_config(self) -> str:
        def quoted(path: Path) -> str:
            return str(path).replace("%", "%%")

        ssl_lines = ["ssl = no"]
        tls_listener = ""
        if self.tls:
            ssl_lines = [
                "ssl = yes",
                f"ssl_cert = <{self.cert_file}",
                f"ssl_key = <{self.key_file}",
                "ssl_min_protocol = TLSv1.2",
            ]
            if Path("/usr/share/dovecot/dh.pem").exists():
                ssl_lines.append("ssl_dh = </usr/share/dovecot/dh.pem")
            tls_listener = (
                f"  inet_listener imaps {{\n"
                f"    address = {self.host}\n"
                f"    port = {self.tls_port}\n"
                f"    ssl = yes\n"
                f"  }}\n"
            )
        return (
            "# Generated by shitshovela_testservers.dovecot: a throw-away test instance.\n"
            f"base_dir = {self.base_dir}\n"
            f"state_dir = {self.state_dir}\n"
            f"instance_name = shitshovela-test-{self.greeting_token}\n"
            "protocols = imap\n"
            f"listen = {self.host}\n"
            f"log_path = {self.log_file}\n"
            f"info_log_path = {self.log_file}\n"
            f"debug_log_path = {self.log_file}\n"
            f"login_greeting = ShitShovela test Dovecot {self.greeting_token} ready.\n"
            "\n"
            "disable_plaintext_auth = no\n"
            "auth_mechanisms = plain login\n"
            "auth_cache_size = 0\n"
            "auth_username_format = %u\n"
            "auth_verbose = yes\n"
            "auth_failure_delay = 0\n"
            f"passdb {{\n  driver = passwd-file\n"
            # One passwd-file per user: Dovecot re-reads a file at most once a second, but a
            # file it has not seen yet is read at once, so add_user() takes effect immediately.
            f"  args = scheme=PLAIN username_format=%u {quoted(self.passwd_dir)}/%u\n}}\n"
            f"userdb {{\n  driver = static\n"
            f"  args = uid={self._uid} gid={self._gid} home={quoted(self.mail_root)}/%u\n}}\n"
            "\n"
            "mail_location = maildir:~/Maildir:LAYOUT=fs:INBOX=~/Maildir/INBOX\n"
            "mail_fsync = never\n"
            "namespace inbox {\n  inbox = yes\n  separator = /\n}\n"
            "protocol imap {\n  mail_max_userip_connections = 1000\n}\n"
            + (f"{self.extra_config.rstrip()}\n" if self.extra_config.strip() else "")
            + "\n"
            + "\n".join(ssl_lines)
            + "\n\n"
            "# No growing delay after failed logins (anvil's auth penalty).\n"
            "service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}\n"
            "default_process_limit = 1000\n"
            "default_client_limit = 4000\n"
            "service imap-login {\n"
            "  inet_listener imap {\n"
            f"    address = {self.host}\n"
            f"    port = {self.port}\n"
            "  }\n"
            f"{tls_listener}"
            "  service_count = 0\n"
            "  process_min_avail = 1\n"
            "  client_limit = 1000\n"
            "}\n"
        )

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
        self._finalizer = weakref.finalize(self, _kill_group, self._proc)
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
                new_log = _read_from(self.log_file, log_offset)
                if any(m in new_log for m in _BIND_FAILURE_MARKERS):
                    raise _PortTaken()
                raise DovecotStartError(
                    f"Dovecot exited with code {code} during start-up\n" + self._diagnostics()
                )
            if all(marker in _greeting(self.host, port, ctx) for port, ctx in targets):
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
                _kill_group(proc)
                proc.wait(timeout)
        _kill_group(proc)  # leftovers in Dovecot's own process group, if any
        deadline = time.monotonic() + 5.0
        while live_group_members(proc.pid) and time.monotonic() < deadline:
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
        if (folder / "tmp").is_dir():
            return folder
        if self._uid < 0:
            raise DovecotError("start() the server before delivering mail")
        # Create every level below the mail root with the mail user's ownership.
        path = self.mail_root
        for part in folder.relative_to(self.mail_root).parts:
            path = path / part
            if not path.is_dir():
                path.mkdir(mode=0o700)
                os.chown(path, self._uid, self._gid)
        for sub in ("cur", "new", "tmp"):
            path = folder / sub
            if not path.is_dir():
                path.mkdir(mode=0o700)
                os.chown(path, self._uid, self._gid)
        return folder

    def _write_message(
        self, folder: Path, message: bytes, suffix: str, internal_date: datetime | None
    ) -> Path:
        now = time.time()
        name = (
            f"{int(now)}.M{int(now * 1_000_000) % 1_000_000}P{os.getpid()}"
            f"Q{next(_delivery_counter)}.shitshovela"
        )
        tmp_path = folder / "tmp" / name
        fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(message)
            while view:
                view = view[os.write(fd, view) :]
            os.fchown(fd, self._uid, self._gid)
        finally:
            os.close(fd)
        if internal_date is not None:
            stamp = internal_date.timestamp()
            os.utime(tmp_path, (stamp, stamp))
        target = folder / ("cur" if suffix else "new") / (name + suffix)
        os.rename(tmp_path, target)
        return target


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


def _flag_suffix(flags: Sequence[str]) -> str:
    letters = []
    for flag in flags:
        letter = _SYSTEM_FLAGS.get(flag.lower())
        if letter is None:
            raise ValueError(
                f"file delivery supports only system flags {sorted(_SYSTEM_FLAGS)}, got {flag!r}; "
                "use append() for keywords"
            )
        letters.append(letter)
    return ":2," + "".join(sorted(set(letters))) if letters else ""


def _encode_mutf7(name: str) -> str:
    """Modified UTF-7 (RFC 3501 5.1.3), as Dovecot names Maildir folders on disk."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def _searchable_by_all(directory: Path) -> bool:
    return all(d.stat().st_mode & stat.S_IXOTH for d in (directory, *directory.parents))


def _default_runtime_parent() -> Path:
    """``/dev/shm`` (tmpfs: seeding is ~10x faster) if it has 1 GiB free, else ``/tmp``."""
    shm = Path("/dev/shm")  # noqa: S108  (tmpfs; mkdtemp makes ours private)
    with contextlib.suppress(OSError):
        fs = os.statvfs(shm)
        if (
            _searchable_by_all(shm)
            and os.access(shm, os.W_OK)
            and fs.f_bavail * fs.f_frsize >= 2**30
        ):
            return shm
    tmp = Path("/tmp")  # noqa: S108  (short and world-searchable; mkdtemp makes ours private)
    return tmp if tmp.is_dir() else Path(tempfile.gettempdir())


def _make_runtime_dir(parent: Path | None) -> Path:
    """A short, root-owned, mode 0711 directory below ``parent``.

    Dovecot's unprivileged processes (``nobody`` reading mail, ``dovecot`` reading the
    passwd-files) must traverse every ancestor of what they read; callers' temp dirs (pytest's
    ``/tmp/pytest-of-root`` is 0700) do not allow that.  Short also keeps socket paths below
    the 107-byte limit.
    """
    parent = _default_runtime_parent() if parent is None else parent
    if not _searchable_by_all(parent):
        raise DovecotError(f"{parent} or an ancestor is not searchable by others (o+x)")
    runtime = Path(tempfile.mkdtemp(prefix="ssv-dovecot-", dir=parent))
    if len(str(runtime)) > 60:
        shutil.rmtree(runtime)
        raise DovecotError(f"runtime_parent {parent} is too long for Dovecot's socket paths")
    runtime.chmod(0o711)
    return runtime


def _generate_certificates(tls_dir: Path, ca_file: Path, cert_file: Path, key_file: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise DovecotError("the openssl CLI is needed for tls=True (Debian package: openssl)")
    tls_dir.mkdir(mode=0o700, exist_ok=True)
    cnf = tls_dir / "openssl.cnf"
    cnf.write_text(
        "[req]\n"
        "distinguished_name = dn\n"
        "prompt = no\n"
        "[dn]\n"
        "CN = unused\n"
        "[v3_ca]\n"
        "basicConstraints = critical, CA:TRUE\n"
        "keyUsage = critical, keyCertSign, cRLSign\n"
        "subjectKeyIdentifier = hash\n"
        "[v3_server]\n"
        "basicConstraints = critical, CA:FALSE\n"
        "keyUsage = critical, digitalSignature, keyEncipherment\n"
        "extendedKeyUsage = serverAuth\n"
        "subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1\n"
        "subjectKeyIdentifier = hash\n"
        "authorityKeyIdentifier = keyid\n",
        encoding="ascii",
    )
    ca_key = tls_dir / "ca.key"
    csr = tls_dir / "server.csr"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    ca_subject = "/CN=ShitShovela test CA " + secrets.token_hex(4)
    serial = "0x" + secrets.token_hex(16)
    commands = [
        [openssl, "req", "-x509", "-config", str(cnf), "-extensions", "v3_ca", *ec,
         "-keyout", str(ca_key), "-out", str(ca_file), "-days", "30", "-subj", ca_subject],
        [openssl, "req", "-new", "-config", str(cnf), *ec,
         "-keyout", str(key_file), "-out", str(csr), "-subj", "/CN=localhost"],
        [openssl, "x509", "-req", "-in", str(csr), "-CA", str(ca_file), "-CAkey", str(ca_key),
         "-set_serial", serial, "-days", "30",
         "-extfile", str(cnf), "-extensions", "v3_server", "-out", str(cert_file)],
    ]  # fmt: skip
    for command in commands:
        result = subprocess.run(command, capture_output=True, timeout=60, check=False)
        if result.returncode != 0:
            raise DovecotError(
                f"openssl failed ({result.returncode}): {shlex.join(command)}\n"
                + result.stderr.decode("utf-8", "replace")
            )


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _greeting(host: str, port: int, context: ssl.SSLContext | None) -> bytes:
    """The first line the server sends, or b"" if it does not (yet) answer."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as raw:
            if context is None:
                return _read_line(raw)
            with context.wrap_socket(raw, server_hostname=host) as wrapped:
                return _read_line(wrapped)
    except (OSError, ssl.SSLError):
        return b""


def _read_line(sock: socket.socket) -> bytes:
    data = b""
    while b"\n" not in data and len(data) < 4096:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0]


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def live_group_members(pgid: int) -> list[int]:
    """PIDs of processes in group ``pgid`` that are not zombies (Linux ``/proc``).

    Dovecot's killed children are re-parented to PID 1, which may take a while to reap them;
    zombies hold no ports or files, so they are not counted.
    """
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            members.append(int(entry))
    return members


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL Dovecot's process group (it was started in a session of its own)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.returncode is None:
        with contextlib.suppress(Exception):
            proc.wait(5.0)
