"""Mail delivered straight into a user's Maildir, as Dovecot lays it out on disk.

Seeding thousands of messages over IMAP is slow; writing the files is not.
Folders use Dovecot's ``LAYOUT=fs`` (hierarchy separator ``/``, names in
modified UTF-7); a message is written to ``tmp/`` and renamed into ``new/``
(no flags: \\Recent) or ``cur/`` (with its system flags in the file name), owned
by the mail user.
"""

from __future__ import annotations

import base64
import itertools
import os
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

__all__ = [
    "SYSTEM_FLAGS",
    "create_folder",
    "encode_mutf7",
    "flag_suffix",
    "folder_path",
    "write_message",
]

#: IMAP system flags and their Maildir letters.
SYSTEM_FLAGS = {
    "\\draft": "D",
    "\\flagged": "F",
    "\\answered": "R",
    "\\seen": "S",
    "\\deleted": "T",
}
_delivery_counter = itertools.count()


def folder_path(mail_root: Path, user: str, mailbox: str) -> Path:
    """The Maildir directory (holding cur/new/tmp) of ``user``'s ``mailbox``; not created."""
    parts = mailbox.split("/")
    if parts[0].upper() == "INBOX":
        parts[0] = "INBOX"
    for part in parts:
        if part in ("", ".", "..", "cur", "new", "tmp"):
            raise ValueError(f"mailbox name {mailbox!r} not supported by file delivery")
    return mail_root / user / "Maildir" / Path(*(encode_mutf7(p) for p in parts))


def create_folder(folder: Path, mail_root: Path, uid: int, gid: int) -> Path:
    """Create ``folder`` (every level below ``mail_root``, and its cur/new/tmp), owned by
    the mail user; returns it."""
    if (folder / "tmp").is_dir():
        return folder
    path = mail_root
    for part in folder.relative_to(mail_root).parts:
        path = path / part
        if not path.is_dir():
            path.mkdir(mode=0o700)
            os.chown(path, uid, gid)
    for sub in ("cur", "new", "tmp"):
        path = folder / sub
        if not path.is_dir():
            path.mkdir(mode=0o700)
            os.chown(path, uid, gid)
    return folder


def write_message(
    folder: Path,
    message: bytes,
    *,
    suffix: str,
    internal_date: datetime | None,
    uid: int,
    gid: int,
) -> Path:
    """Write one message into ``folder`` (``tmp/``, then renamed into place); its path."""
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
        os.fchown(fd, uid, gid)
    finally:
        os.close(fd)
    if internal_date is not None:
        stamp = internal_date.timestamp()
        os.utime(tmp_path, (stamp, stamp))
    target = folder / ("cur" if suffix else "new") / (name + suffix)
    os.rename(tmp_path, target)
    return target


def flag_suffix(flags: Sequence[str]) -> str:
    """The Maildir file-name suffix (``:2,FS``) for system flags; none without flags."""
    letters = []
    for flag in flags:
        letter = SYSTEM_FLAGS.get(flag.lower())
        if letter is None:
            raise ValueError(
                f"file delivery supports only system flags {sorted(SYSTEM_FLAGS)}, got {flag!r}; "
                "use append() for keywords"
            )
        letters.append(letter)
    return ":2," + "".join(sorted(set(letters))) if letters else ""


def encode_mutf7(name: str) -> str:
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
