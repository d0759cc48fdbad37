"""A TCP relay that understands just enough IMAP to count commands.

The end-to-end crash matrix kills the job "right before its k-th request
reached the server" and "right after": for IMAP a request is a tagged command.
The relay reads the client's stream line by line (following ``{n}`` literals),
calls ``listener("before", n)`` before it forwards the n-th command and
``listener("after", n)`` when the server's tagged completion of it arrives,
before that completion reaches the client. A listener that returns True on
"before" keeps the command from ever reaching the server. The lines a client
sends inside an ``AUTHENTICATE`` exchange (SASL responses, such as XOAUTH2's)
belong to that command and are not counted.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Callable

_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")
_TAGGED = re.compile(rb"^([A-Za-z0-9.]+) (OK|NO|BAD)\b")
_AUTHENTICATE = re.compile(rb"^([A-Za-z0-9.]+) AUTHENTICATE\b", re.IGNORECASE)

Listener = Callable[[str, int], bool | None]


class ImapRelay:
    """Relays 127.0.0.1:port <-> upstream, counting IMAP commands across connections."""

    def __init__(self, upstream: tuple[str, int], listener: Listener | None = None) -> None:
        self.upstream = upstream
        self.listener = listener
        self.commands = 0
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> ImapRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop accepting and cut every relayed connection."""
        self._closed = True
        with contextlib.suppress(OSError):
            self._server.close()
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            self._sockets += [client, server]
            tags: dict[bytes, int] = {}
            sasl: set[bytes] = set()  # AUTHENTICATE commands still in their exchange
            threading.Thread(
                target=self._up, args=(client, server, tags, sasl), daemon=True
            ).start()
            threading.Thread(
                target=self._down, args=(server, client, tags, sasl), daemon=True
            ).start()

    def _notify(self, when: str, number: int) -> bool:
        return bool(self.listener(when, number)) if self.listener else False

    def _up(
        self, client: socket.socket, server: socket.socket, tags: dict[bytes, int], sasl: set[bytes]
    ) -> None:
        """Client to server, line by line: a synchronising literal's line must reach the
        server before the client sends the literal (it waits for the server's "+")."""
        reader = client.makefile("rb")
        continued = False
        try:
            while line := reader.readline():
                if not continued and not sasl:  # a SASL response belongs to its AUTHENTICATE
                    authenticate = _AUTHENTICATE.match(line)
                    if authenticate:
                        sasl.add(authenticate.group(1))
                    with self._lock:
                        self.commands += 1
                        number = self.commands
                    tags[line.split(b" ", 1)[0]] = number
                    if self._notify("before", number):
                        return  # never forwarded; the client is being killed
                server.sendall(line)
                match = _LITERAL.search(line)
                continued = match is not None
                if match:
                    server.sendall(reader.read(int(match.group(1))))
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_WR)

    def _down(
        self, server: socket.socket, client: socket.socket, tags: dict[bytes, int], sasl: set[bytes]
    ) -> None:
        reader = server.makefile("rb")
        try:
            while line := reader.readline():
                match = _TAGGED.match(line)
                if match:
                    sasl.discard(match.group(1))  # before the client can send its next command
                if match and match.group(1) in tags:
                    self._notify("after", tags.pop(match.group(1)))
                client.sendall(line)
                literal = _LITERAL.search(line)
                if literal:
                    client.sendall(reader.read(int(literal.group(1))))
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_WR)
