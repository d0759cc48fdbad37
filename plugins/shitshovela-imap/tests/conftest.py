"""Fixtures: one real Dovecot per test session, one fresh user (an empty INBOX) per test.

The Dovecot also validates OAuth2 access tokens itself (SASL XOAUTH2 and OAUTHBEARER,
its ``oauth2`` passdb): it trusts the key the testkit's token endpoint stand-in signs
with, so a test that needs tokens starts a `TokenEndpoint` of its own (`token_endpoint`)
and the session's one Dovecot accepts its tokens.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator

import pytest
from imapkit import Mailbox
from shitshovela_testkit.tokenendpoint import GOOGLE_ISSUER, MAIL_AUDIENCE, TokenEndpoint
from shitshovela_testservers.dovecot import DovecotServer, OAuth2Validation

_users = itertools.count()

#: What the session's Dovecot accepts: tokens of the stand-in's default tenant and Google's.
TOKEN_VALIDATION = OAuth2Validation(
    issuers=(TokenEndpoint.microsoft_issuer(), GOOGLE_ISSUER), audience=MAIL_AUDIENCE
)


@pytest.fixture(scope="session")
def dovecot(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[DovecotServer]:
    """A real Dovecot on 127.0.0.1 (plain + STARTTLS port, implicit-TLS port) that also
    validates the token endpoint stand-in's access tokens.

    Fails loudly (DovecotNotInstalledError, DovecotStartError with the log's tail) when it
    cannot start; never skips."""
    server = DovecotServer(
        tmp_path_factory.mktemp("dovecot"), users={"alice": "password"}, oauth2=TOKEN_VALIDATION
    )
    with TokenEndpoint() as endpoint:  # the key every stand-in signs with, unless told otherwise
        server.trust_token_key(endpoint.kid, endpoint.public_key_pem)
    server.start()
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


@pytest.fixture
def token_endpoint() -> Iterator[TokenEndpoint]:
    """A token endpoint stand-in (Microsoft v2.0 client credentials, Google's JWT-bearer
    grant) on loopback, whose tokens the session's Dovecot accepts."""
    with TokenEndpoint() as endpoint:
        yield endpoint
