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
* ``oauth2=OAuth2Validation(issuers=..., audience=...)`` adds sign-in with JWT access tokens
  (SASL XOAUTH2 and OAUTHBEARER) that Dovecot validates itself with the keys given to
  :meth:`DovecotServer.trust_token_key` (its ``oauth2`` passdb, local validation); the
  token's ``email`` claim must be the login.
* Failed logins are answered after ~0.5 s (Dovecot flushes failures on a timer); the growing
  per-IP auth penalty is switched off.
* Start-up errors include the tail of Dovecot's log and the exact command.
"""

from .config import OAuth2Validation
from .errors import DovecotError, DovecotNotInstalledError, DovecotStartError
from .server import DEFAULT_USERS, DovecotServer, Security, start_dovecot
from .system import find_dovecot_binary, live_group_members

__all__ = [
    "DEFAULT_USERS",
    "DovecotError",
    "DovecotNotInstalledError",
    "DovecotServer",
    "DovecotStartError",
    "OAuth2Validation",
    "Security",
    "find_dovecot_binary",
    "live_group_members",
    "start_dovecot",
]
