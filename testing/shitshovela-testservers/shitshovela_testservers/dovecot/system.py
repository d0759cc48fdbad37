"""The operating system's side of the test Dovecot: binary, directories, certificates,
ports and process groups.

Dovecot runs as root and drops privileges, so what its unprivileged processes
read must sit in a short world-searchable directory (`make_runtime_dir`); TLS
needs a throw-away CA and server certificate (`generate_certificates`, with
the openssl CLI); readiness is its greeting on every port (`greeting`); and
stopping it means its whole process group (`kill_group`, `live_group_members`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
from pathlib import Path

from .errors import DovecotError, DovecotNotInstalledError

__all__ = [
    "DOVECOT_CANDIDATES",
    "HOST",
    "INSTALL_HINT",
    "find_dovecot_binary",
    "free_ports",
    "generate_certificates",
    "greeting",
    "kill_group",
    "live_group_members",
    "make_runtime_dir",
    "port_open",
    "read_from",
    "read_line",
]

HOST = "127.0.0.1"
INSTALL_HINT = "run `bash .ci/install-dovecot` (installs Debian's dovecot-imapd) as root"
DOVECOT_CANDIDATES = ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot")


def find_dovecot_binary() -> str:
    """Return the path of the dovecot binary or raise :class:`DovecotNotInstalledError`."""
    for candidate in DOVECOT_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("dovecot")
    if found:
        return found
    raise DovecotNotInstalledError(
        f"Dovecot binary not found (looked at {', '.join(DOVECOT_CANDIDATES)} and PATH); "
        + INSTALL_HINT
    )


def searchable_by_all(directory: Path) -> bool:
    return all(d.stat().st_mode & stat.S_IXOTH for d in (directory, *directory.parents))


def default_runtime_parent() -> Path:
    """``/dev/shm`` (tmpfs: seeding is ~10x faster) if it has 1 GiB free, else ``/tmp``."""
    shm = Path("/dev/shm")  # noqa: S108  (tmpfs; mkdtemp makes ours private)
    with contextlib.suppress(OSError):
        fs = os.statvfs(shm)
        if (
            searchable_by_all(shm)
            and os.access(shm, os.W_OK)
            and fs.f_bavail * fs.f_frsize >= 2**30
        ):
            return shm
    tmp = Path("/tmp")  # noqa: S108  (short and world-searchable; mkdtemp makes ours private)
    return tmp if tmp.is_dir() else Path(tempfile.gettempdir())


def make_runtime_dir(parent: Path | None) -> Path:
    """A short, root-owned, mode 0711 directory below ``parent``.

    Dovecot's unprivileged processes (``nobody`` reading mail, ``dovecot`` reading the
    passwd-files) must traverse every ancestor of what they read; callers' temp dirs (pytest's
    ``/tmp/pytest-of-root`` is 0700) do not allow that.  Short also keeps socket paths below
    the 107-byte limit.
    """
    parent = default_runtime_parent() if parent is None else parent
    if not searchable_by_all(parent):
        raise DovecotError(f"{parent} or an ancestor is not searchable by others (o+x)")
    runtime = Path(tempfile.mkdtemp(prefix="ssv-dovecot-", dir=parent))
    if len(str(runtime)) > 60:
        shutil.rmtree(runtime)
        raise DovecotError(f"runtime_parent {parent} is too long for Dovecot's socket paths")
    runtime.chmod(0o711)
    return runtime


def generate_certificates(tls_dir: Path, ca_file: Path, cert_file: Path, key_file: Path) -> None:
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


def free_ports(count: int) -> list[int]:
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


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def greeting(host: str, port: int, context: ssl.SSLContext | None) -> bytes:
    """The first line the server sends, or b"" if it does not (yet) answer."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as raw:
            if context is None:
                return read_line(raw)
            with context.wrap_socket(raw, server_hostname=host) as wrapped:
                return read_line(wrapped)
    except (OSError, ssl.SSLError):
        return b""


def read_line(sock: socket.socket) -> bytes:
    data = b""
    while b"\n" not in data and len(data) < 4096:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0]


def read_from(path: Path, offset: int) -> str:
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


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL Dovecot's process group (it was started in a session of its own)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.returncode is None:
        with contextlib.suppress(Exception):
            proc.wait(5.0)
