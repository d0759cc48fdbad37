"""Servers for the end-to-end tests (one of each per pytest process), and the crash-matrix
rows each test filled, handed to its report (``tests/matrixtable.py`` prints the table)."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from crashkit import ROWS
from matrixtable import PROPERTY


@pytest.fixture(scope="session")
def moto() -> Iterator[Any]:
    """moto's S3 server as a subprocess on loopback (fails loudly if it cannot start)."""
    from shitshovela_testservers.motoserver import MotoServer

    with MotoServer() as server:
        yield server


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real Dovecot on loopback (fails loudly if it cannot start) that also validates
    the access tokens of the testkit's token endpoint stand-in (XOAUTH2, OAUTHBEARER)."""
    from shitshovela_testkit.tokenendpoint import GOOGLE_ISSUER, MAIL_AUDIENCE, TokenEndpoint
    from shitshovela_testservers.dovecot import DovecotServer, OAuth2Validation

    tokens = OAuth2Validation(
        issuers=(TokenEndpoint.microsoft_issuer(), GOOGLE_ISSUER), audience=MAIL_AUDIENCE
    )
    server = DovecotServer(tmp_path_factory.mktemp("dovecot"), tls=False, oauth2=tokens)
    with TokenEndpoint() as endpoint:  # the key every stand-in signs with
        server.trust_token_key(endpoint.kid, endpoint.public_key_pem)
    with server:
        yield server


@pytest.fixture(scope="session")
def graph() -> Iterator[Any]:
    """A Microsoft Graph emulator in the test process, shared by the Graph scenarios (each
    on a fresh mailbox), every exchange checked against Graph's OpenAPI excerpt; it trusts
    the token endpoint stand-in's key, as Graph trusts Entra ID's. Any violation left
    fails the session at the end (each scenario's verdict checks its own)."""
    from shitshovela_graph_emulator import GraphEmulator, graph_openapi
    from shitshovela_testkit.tokenendpoint import TokenEndpoint

    with TokenEndpoint() as endpoint:  # the key every stand-in signs with
        trusted = {endpoint.kid: endpoint.public_key_pem}
    emulator = GraphEmulator(mailboxes=[], trusted_keys=trusted, validate_spec=graph_openapi())
    with emulator:
        yield emulator
    emulator.assert_no_violations()


@pytest.fixture(autouse=True)
def _report_matrix_rows(request: pytest.FixtureRequest) -> Iterator[None]:
    """The crash-matrix rows this test filled go with its teardown report, so the table
    counts them also when the test ran on an xdist worker."""
    ROWS.clear()
    yield
    for row in ROWS.values():
        request.node.user_properties.append((PROPERTY, dataclasses.asdict(row)))
    ROWS.clear()
