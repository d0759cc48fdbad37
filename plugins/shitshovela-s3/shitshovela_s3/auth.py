"""AWS Signature Version 4 for httpx, done by botocore.

`SigV4Auth` is an ``httpx.Auth`` that hands each request to botocore's
`S3SigV4Auth` (the signer boto3 itself uses) and copies the headers it adds
(``Authorization``, ``X-Amz-Date``, ``X-Amz-Content-SHA256``,
``X-Amz-Security-Token``) back onto the request. No signing code of our own:
only the choice of which headers are signed.

Only headers that S3 needs signed, or that must not be altered on the way
(``host``, ``content-*``, ``range``, ``if-*``, ``x-amz-*``), are signed; hop-by-hop
headers that httpx adds (``connection``, ``accept-encoding``, ``user-agent``)
are left out, so a proxy in between cannot break the signature.

A signing failure becomes `Unreachable` with a message that names no credential
(I10): botocore's own text is scrubbed, and no exception chain is kept.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

import httpx

from shitshovela_core import Unreachable

if TYPE_CHECKING:
    from shitshovela_core import Redactor

_SIGNED_PREFIXES = ("x-amz-", "content-", "if-")
_SIGNED_NAMES = frozenset({"host", "range", "content-md5", "content-type"})
_COPIED = ("Authorization", "X-Amz-Date", "X-Amz-Content-SHA256", "X-Amz-Security-Token")


def _signed(name: str) -> bool:
    lowered = name.lower()
    if lowered == "content-length":
        return False
    return lowered in _SIGNED_NAMES or lowered.startswith(_SIGNED_PREFIXES)


class SigV4Auth(httpx.Auth):
    """Signs every request (every retry too, with a fresh date) for the ``s3`` service."""

    requires_request_body = True

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        session_token: str,
        region: str,
        redactor: Redactor,
    ) -> None:
        from botocore.auth import S3SigV4Auth  # type: ignore[import-untyped]
        from botocore.credentials import Credentials  # type: ignore[import-untyped]

        self._redactor = redactor
        redactor.add(access_key, secret_key, session_token)
        credentials = Credentials(access_key, secret_key, session_token or None)
        self._signer = S3SigV4Auth(credentials, "s3", region)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Sign ``request`` and send it once."""
        self.sign(request)
        yield request

    def sign(self, request: httpx.Request) -> None:
        """Add the SigV4 headers to ``request``; raise `Unreachable` on failure."""
        from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]

        headers = {name: value for name, value in request.headers.items() if _signed(name)}
        aws_request = AWSRequest(
            method=request.method, url=str(request.url), headers=headers, data=request.content
        )
        try:
            self._signer.add_auth(aws_request)
        except Exception as exc:
            text = self._redactor.scrub(f"{type(exc).__name__}: {exc}")
            raise Unreachable(
                f"S3: cannot sign the request with the configured credentials ({text})"
            ) from None
        for name in _COPIED:
            value = aws_request.headers.get(name)
            if value is not None:
                request.headers[name] = value
