"""The names of the environment variables the job reads: `env_name` makes every one.

A module of its own, importing nothing, so that the entry point can read the
few variables it needs before anything heavy is imported
(`shitshovela_core.hardstop`). `shitshovela_core.settings` exports both names.
"""

from __future__ import annotations

#: Every variable the core or a plugin reads starts with this.
PREFIX = "SHITSHOVELA_"


def env_name(owner: str | None, name: str) -> str:
    """The environment variable a setting is read from, and the name every message uses.

    ``owner`` is a provider's or a settings group's name (``imap`` ->
    ``SHITSHOVELA_IMAP__HOST``), or None for the core's own
    (``SHITSHOVELA_INSTANCE``). The only place a ``SHITSHOVELA_…`` name is made."""
    if owner is None:
        return PREFIX + name
    return f"{PREFIX}{owner.upper()}__{name}"
