"""What the test Dovecot raises when it cannot start, be used or stop."""

from __future__ import annotations

__all__ = ["DovecotError", "DovecotNotInstalledError", "DovecotStartError"]


class DovecotError(RuntimeError):
    """Something went wrong starting, using or stopping the test Dovecot."""


class DovecotNotInstalledError(DovecotError):
    """The dovecot binary is missing; run ``.ci/install-dovecot``."""


class DovecotStartError(DovecotError):
    """Dovecot did not come up; the message has the command and the log's tail."""
