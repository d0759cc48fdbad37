"""Fixtures: one real Dovecot per test session, one fresh user (an empty INBOX) per test."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator

import pytest
from imapkit import Mailbox
from shitshovela_testservers.dovecot import DovecotServer, start_dovecot

_users = itertools.count()


@pytest.fixture(scope="session")
def dovecot(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[DovecotServer]:
    """A real Dovecot on 127.0.0.1 (plain + STARTTLS port, implicit-TLS port).

    Fails loudly (DovecotNotInstalledError, DovecotStartError with the log's tail) when it
    cannot start; never skips."""
    server = start_dovecot(tmp_path_factory.mktemp("dovecot"), users={"alice": "password"})
    yield server
    server.close()
    if request.session.testsfailed and sys.__stderr__ is not None:
        sys.__stderr__.write(f"\n--- Dovecot log {server.log_file}:\n{server.log_tail(60)}\n")


@pytest.fixture
def mailbox(dovecot: DovecotServer) -> Mailbox:
    """A new user with an empty INBOX, so that tests sharing the server never meet."""
    user = f"user{next(_users)}"
    dovecot.add_user(user, f"pw {user} 1e3")
    return Mailbox(dovecot, user)
