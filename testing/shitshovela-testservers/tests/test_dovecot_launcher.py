"""Tests of shitshovela_testservers.dovecot: a real Dovecot on 127.0.0.1.

Needs Dovecot (``bash .ci/install-dovecot``), root, ``openssl`` and ``imapclient``.
"""

from __future__ import annotations

import email
import itertools
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import imapclient  # type: ignore[import-untyped,unused-ignore]
import pytest
from imapclient.exceptions import LoginError  # type: ignore[import-untyped,unused-ignore]
from shitshovela_testservers import dovecot
from shitshovela_testservers.dovecot import (
    DovecotNotInstalledError,
    DovecotServer,
    DovecotStartError,
    start_dovecot,
)

_user_numbers = itertools.count()


# --- example fixtures: one server per session, one fresh user (empty mailbox) per test -----


@pytest.fixture(scope="session")
def dovecot_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[DovecotServer]:
    server = start_dovecot(tmp_path_factory.mktemp("dovecot"), users={"alice": "password"})
    yield server
    server.close()  # stop, delete mail and sockets; the log stays in the temp dir
    if request.session.testsfailed and sys.__stderr__ is not None:
        # Make Dovecot's side of a failure visible (bypasses pytest's capture).
        sys.__stderr__.write(f"\n--- Dovecot log {server.log_file}:\n{server.log_tail(60)}\n")


@pytest.fixture
def imap_user(dovecot_server: DovecotServer) -> str:
    """A new user with an empty INBOX, so tests sharing the server do not interfere."""
    name = f"user{next(_user_numbers)}"
    dovecot_server.add_user(name, f"pw {name}")
    return name


def message(i: int, subject: str = "test") -> bytes:
    return (
        f"From: sender@example.com\r\nTo: alice@example.com\r\nSubject: {subject} {i}\r\n"
        f"Message-ID: <{i}.{subject}@example.com>\r\n\r\nBody {i}\r\n"
    ).encode()


def port_accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


# --- login, TLS, capabilities --------------------------------------------------------------


@pytest.mark.servers
def test_plain_login_and_capabilities(dovecot_server: DovecotServer) -> None:
    raw = imapclient.IMAPClient("127.0.0.1", port=dovecot_server.port, ssl=False, timeout=10)
    before_login = raw.capabilities()
    assert b"STARTTLS" in before_login
    assert b"LOGINDISABLED" not in before_login
    raw.login("alice", "password")
    after_login = set(raw.capabilities())
    assert {b"UIDPLUS", b"MOVE", b"CONDSTORE", b"QRESYNC", b"IDLE"} <= after_login
    raw.logout()
    assert dovecot_server.host == "127.0.0.1"
    assert "ShitShovela test Dovecot" in raw.welcome.decode()


@pytest.mark.servers
def test_implicit_tls_login_verifies_generated_certificate(dovecot_server: DovecotServer) -> None:
    assert dovecot_server.tls_port is not None
    client = dovecot_server.imap_client("alice", security="tls")
    try:
        sock = client._imap.sock
        assert isinstance(sock, ssl.SSLSocket)
        peer = sock.getpeercert()
        assert peer is not None
        assert ("IP Address", "127.0.0.1") in peer["subjectAltName"]
        assert client.select_folder("INBOX", readonly=True)[b"EXISTS"] >= 0
    finally:
        client.logout()
    # The same port with the system's trust store must fail verification.
    with pytest.raises(ssl.SSLCertVerificationError):
        imapclient.IMAPClient(
            "127.0.0.1",
            port=dovecot_server.tls_port,
            ssl_context=ssl.create_default_context(),
            timeout=10,
        )
    assert Path(dovecot_server.ca_file).read_text().startswith("-----BEGIN CERTIFICATE-----")


@pytest.mark.servers
def test_starttls_login(dovecot_server: DovecotServer) -> None:
    client = dovecot_server.imap_client("alice", security="starttls")
    try:
        assert isinstance(client._imap.sock, ssl.SSLSocket)
        assert b"UIDPLUS" in client.capabilities()
    finally:
        client.logout()


@pytest.mark.servers
def test_wrong_password_and_unknown_user_fail(dovecot_server: DovecotServer) -> None:
    with pytest.raises(LoginError):
        dovecot_server.imap_client("alice", password="wrong")
    with pytest.raises(LoginError):
        dovecot_server.imap_client("alice", password="PASSWORD")
    client = imapclient.IMAPClient("127.0.0.1", port=dovecot_server.port, ssl=False, timeout=10)
    with pytest.raises(LoginError):
        client.login("mallory", "password")
    client.shutdown()
    assert "Password mismatch" in dovecot_server.log_file.read_text(errors="replace")


@pytest.mark.servers
def test_awkward_passwords(dovecot_server: DovecotServer) -> None:
    awkward = {
        "quoter": 'a "quoted" \\back\\slash #hash %d {PLAIN}x ',
        "spacer": "  spaces inside and around  ",
        "unicoder": "pässwörd ✓",
    }
    for name, password in awkward.items():
        dovecot_server.add_user(name, password)
    for name in awkward:
        client = dovecot_server.imap_client(name, security="tls")
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
        client.logout()
    with pytest.raises(LoginError):
        dovecot_server.imap_client("spacer", password="spaces inside and around")
    with pytest.raises(ValueError, match="':'"):
        dovecot_server.add_user("colon", "a:b")
    with pytest.raises(ValueError, match="CR, LF"):
        dovecot_server.add_user("newline", "a\nb")
    with pytest.raises(ValueError, match="user name"):
        dovecot_server.add_user("bad/name", "x")
    assert "colon" not in dovecot_server.users


# --- mail: APPEND, SELECT, MOVE, UID EXPUNGE, seeding -------------------------------------


@pytest.mark.servers
def test_append_select_move_and_uid_expunge(dovecot_server: DovecotServer, imap_user: str) -> None:
    client = dovecot_server.imap_client(imap_user)
    try:
        response = client.append("INBOX", message(1), flags=[b"\\Seen"])
        assert b"APPENDUID" in response  # UIDPLUS
        client.append("INBOX", message(2))
        info = client.select_folder("INBOX")
        assert info[b"EXISTS"] == 2
        uids = client.search()
        assert len(uids) == 2
        fetched = client.fetch(uids[:1], ["RFC822", "FLAGS"])[uids[0]]
        assert email.message_from_bytes(fetched[b"RFC822"])["Subject"] == "test 1"
        assert b"\\Seen" in fetched[b"FLAGS"]

        client.create_folder("Processed/2024")
        client.move(uids[:1], "Processed/2024")
        assert client.search() == uids[1:]
        client.delete_messages(uids[1:])
        client.uid_expunge(uids[1:])
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
        assert client.folder_status("Processed/2024", [b"MESSAGES"])[b"MESSAGES"] == 1
    finally:
        client.logout()


@pytest.mark.servers
def test_deliver_writes_into_maildir(dovecot_server: DovecotServer, imap_user: str) -> None:
    when = datetime(2021, 5, 4, 3, 2, 1, tzinfo=UTC)
    path = dovecot_server.deliver(imap_user, message(1), internal_date=when)
    assert path.parent.name == "new"
    assert path.stat().st_uid == 65534
    assert path.is_relative_to(dovecot_server.mail_root)
    seen = dovecot_server.deliver(imap_user, message(2), flags=["\\Seen", "\\Flagged"])
    assert seen.parent.name == "cur"
    assert seen.name.endswith(":2,FS")
    delivered = dovecot_server.deliver_many(
        imap_user, (message(i, "archived") for i in range(3)), "Archive/Überweisungen"
    )
    assert delivered == 3

    client = dovecot_server.imap_client(imap_user)
    try:
        folders = {name for _flags, _sep, name in client.list_folders()}
        assert {"INBOX", "Archive/Überweisungen"} <= folders
        assert client.select_folder("INBOX")[b"EXISTS"] == 2
        data = client.fetch(client.search(), ["FLAGS", "INTERNALDATE", "ENVELOPE"])
        by_subject = {v[b"ENVELOPE"].subject.decode(): v for v in data.values()}
        assert by_subject["test 1"][b"INTERNALDATE"].astimezone(UTC) == when
        assert set(by_subject["test 2"][b"FLAGS"]) >= {b"\\Seen", b"\\Flagged"}
        assert b"\\Seen" not in by_subject["test 1"][b"FLAGS"]
        status = client.folder_status("Archive/Überweisungen", [b"MESSAGES"])
        assert status[b"MESSAGES"] == 3
    finally:
        client.logout()
    with pytest.raises(ValueError, match="keywords"):
        dovecot_server.deliver(imap_user, message(9), flags=["$Important"])


@pytest.mark.servers
def test_seed_10000_messages_both_ways(dovecot_server: DovecotServer, imap_user: str) -> None:
    count = 10_000
    assert dovecot_server.deliver_many(imap_user, (message(i) for i in range(count))) == count
    assert (
        dovecot_server.append(
            imap_user, (message(i) for i in range(count)), "Appended", flags=["$Seeded"]
        )
        == count
    )
    client = dovecot_server.imap_client(imap_user)
    try:
        assert client.select_folder("INBOX")[b"EXISTS"] == count
        assert client.folder_status("Appended", [b"MESSAGES"])[b"MESSAGES"] == count
        client.select_folder("Appended", readonly=True)
        assert len(client.search(["KEYWORD", "$Seeded"])) == count
    finally:
        client.logout()


# --- lifecycle -----------------------------------------------------------------------------


@pytest.mark.servers
def test_stop_is_clean(tmp_path: Path) -> None:
    server = DovecotServer(tmp_path, users={"bob": "secret"})
    with server:
        assert server.running
        pid, ports = server.pid, [server.port, server.tls_port]
        assert pid is not None
        assert server.startup_seconds is not None and server.startup_seconds < 20
        assert all(port is not None and port_accepts(port) for port in ports)
        client = server.imap_client("bob")  # a session still open at stop
        assert client.noop()
    assert not server.running
    assert server.pid is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # the master was reaped
    assert dovecot.live_group_members(pid) == []  # and no child is left running
    assert not any(port is not None and port_accepts(port) for port in ports)
    server.stop()  # idempotent
    assert "starting up for imap" in server.log_file.read_text()
    assert server.runtime_dir is None  # __exit__ = close(): mail and sockets removed
    assert not any(Path("/proc", str(p)).exists() for p in dovecot.live_group_members(pid))


@pytest.mark.servers
def test_restart_keeps_mail_and_close_removes_it(tmp_path: Path) -> None:
    server = DovecotServer(tmp_path, users={"erin": "pw"}, tls=False, runtime_parent="/tmp")
    server.start()
    try:
        server.deliver("erin", message(1))
        runtime = server.runtime_dir
        assert runtime is not None and runtime.parent == Path("/tmp")
        assert (tmp_path / "runtime").resolve() == runtime
        server.stop()
        assert not server.running
        server.start()
        client = server.imap_client("erin")
        assert client.select_folder("INBOX")[b"EXISTS"] == 1
        client.logout()
    finally:
        server.close()
    assert not runtime.exists()
    assert server.log_file.exists()


@pytest.mark.servers
def test_start_without_tls(tmp_path: Path) -> None:
    with start_dovecot(tmp_path, users={"carol": "pw"}, tls=False) as server:
        assert server.tls_port is None
        client = server.imap_client("carol")
        assert b"STARTTLS" not in client.capabilities()
        client.logout()
        with pytest.raises(dovecot.DovecotError, match="tls=False"):
            server.imap_client("carol", security="tls")


@pytest.mark.servers
def test_port_race_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    real_free_ports = dovecot.system.free_ports
    calls: list[list[int]] = []

    def racy_free_ports(count: int) -> list[int]:
        ports = real_free_ports(count)
        if not calls:
            ports[0] = taken  # someone grabbed it between our pick and Dovecot's bind
        calls.append(ports)
        return ports

    monkeypatch.setattr(dovecot.system, "free_ports", racy_free_ports)
    try:
        with DovecotServer(tmp_path) as server:
            assert len(calls) == 2
            assert server.port != taken
            client = server.imap_client("alice")
            assert client.noop()
            client.logout()
        assert "Address already in use" in server.log_file.read_text()
    finally:
        squatter.close()


@pytest.mark.unit
def test_start_failure_reports_command_and_log(tmp_path: Path) -> None:
    fake = tmp_path / "fake-dovecot"
    fake.write_text("#!/bin/sh\necho 'Fatal: fake dovecot is broken' >&2\nexit 3\n")
    fake.chmod(0o755)
    server = DovecotServer(tmp_path / "srv", binary=str(fake), start_timeout=5)
    with pytest.raises(DovecotStartError) as info:
        server.start()
    text = str(info.value)
    assert "exited with code 3" in text
    assert f"{fake} -F -c {server.config_file}" in text
    assert "fake dovecot is broken" in text
    assert not server.running


@pytest.mark.unit
def test_missing_binary_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dovecot.system, "DOVECOT_CANDIDATES", ("/nonexistent/dovecot",))
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(DovecotNotInstalledError, match="install-dovecot"):
        dovecot.find_dovecot_binary()


@pytest.mark.unit
def test_rejects_unusable_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="whitespace"):
        DovecotServer(tmp_path / "with space")
    with pytest.raises(ValueError, match="':'"):
        DovecotServer(tmp_path, users={"dave": "x:y"})


@pytest.mark.unit
def test_module_imports_without_imapclient() -> None:
    code = (
        "import sys; sys.modules['imapclient'] = None\n"
        "import shitshovela_testservers.dovecot as d\n"
        "print(d.DovecotServer.__name__)\n"
    )
    env: dict[str, Any] = {**os.environ, "PYTHONPATH": str(Path(dovecot.__file__).parents[2])}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "DovecotServer"


# --- OAuth2: Dovecot validates JWT access tokens itself ------------------------------------


@pytest.mark.servers
def test_oauth2_mode_validates_access_tokens_and_keeps_passwords(tmp_path: Path) -> None:
    import time

    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    def public_pem(key: rsa.RSAPrivateKey) -> str:
        return (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    key, later = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in "ab")
    validation = dovecot.OAuth2Validation(
        issuers=("https://issuer.test/", "https://other.test/"), audience="https://mail.test"
    )
    server = DovecotServer(tmp_path, users={"ann@example.com": "pw"}, tls=False, oauth2=validation)
    server.trust_token_key("k1", public_pem(key))
    with server:

        def token(signing: Any = key, kid: str = "k1", **claims: Any) -> str:
            now = int(time.time())
            body = {
                "iss": "https://issuer.test/",
                "aud": "https://mail.test",
                "sub": "app",
                "email": "ann@example.com",
                "iat": now,
                "nbf": now,
                "exp": now + 60,
            }
            body.update(claims)
            body = {name: value for name, value in body.items() if value is not None}
            return jwt.encode(body, signing, "RS256", headers={"kid": kid, "typ": "JWT"})

        def sign_in(value: str, mechanism: str = "XOAUTH2", user: str = "ann@example.com") -> str:
            client = imapclient.IMAPClient(server.host, port=server.port, ssl=False, timeout=10)
            try:
                if mechanism == "XOAUTH2":
                    client.oauth2_login(user, value)
                else:
                    client.oauthbearer_login(user, value)
                client.select_folder("INBOX")
                return "OK"
            except LoginError as exc:
                return str(exc)
            finally:
                client.shutdown()

        assert sign_in(token()) == "OK"
        assert sign_in(token(iss="https://other.test/"), "OAUTHBEARER") == "OK"
        assert "AUTHENTICATIONFAILED" in sign_in(token(), user="bob@example.com")
        assert "AUTHENTICATIONFAILED" in sign_in(token(exp=int(time.time()) - 5))
        assert "AUTHENTICATIONFAILED" in sign_in(token(aud="https://elsewhere.test"))
        assert "AUTHENTICATIONFAILED" in sign_in(token(iss="https://forged.test/"))
        assert "AUTHENTICATIONFAILED" in sign_in(token(signing=later))  # k1 is not this key
        assert "UNAVAILABLE" in sign_in(token(email=None))  # no username claim: temporary
        server.trust_token_key("k2", public_pem(later))  # a new kid, while it runs
        assert sign_in(token(signing=later, kid="k2")) == "OK"
        assert server.check_login("ann@example.com", "pw")
        assert not server.check_login("ann@example.com", token())
    with pytest.raises(dovecot.DovecotError, match="oauth2"):
        DovecotServer(tmp_path / "x", tls=False).trust_token_key("k", public_pem(key))
