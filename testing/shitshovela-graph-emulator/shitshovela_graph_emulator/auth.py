"""Who may call: app-only access tokens, their permissions, and application access policies.

Graph takes ``Authorization: Bearer <token>``. `Authority.authenticate` checks
the token as Graph does for an app-only call: an RS256 JWT signed by a trusted
key (the one named by its ``kid``, or any trusted key without a kid), ``aud``
Microsoft Graph (`GRAPH_AUDIENCE`, or Graph's app id), ``iss`` one of the
tenant's issuers (v1.0 ``https://sts.windows.net/{tenant}/`` or v2.0), ``tid``
the tenant, ``nbf``/``exp`` around the emulator's clock (5 minutes of skew
forgiven, as Microsoft's token validation does), and a ``roles`` or ``scp``
claim. Refusals are 401 ``InvalidAuthenticationToken`` with a
``WWW-Authenticate`` header, in the words commonly reported for Graph (the
README lists them; their exact text is not documented by Microsoft).

`Authority.permits` then asks for the application permission: ``Mail.Read`` or
``Mail.ReadWrite`` to read, ``Mail.ReadWrite`` to change (403
``ErrorAccessDenied`` "Access is denied. Check credentials and try again.").
`Authority.admits` applies the application access policies (`AccessPolicy`)
to the mailbox: outside them, 403 ``ErrorAccessDenied`` "Access to OData is
disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings."
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from .config import GRAPH_APP_ID, GRAPH_AUDIENCE, AccessPolicy
from .identity import Caller
from .state import Mailbox
from .tokens import v1_issuer, v2_issuer
from .wire import GraphRequest, GraphResponse, error

__all__ = ["Authority", "TrustedKey"]

_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
    f'authorize", client_id="{GRAPH_APP_ID}"'
)
#: Seconds of clock skew forgiven on ``nbf`` and ``exp``.
SKEW = 300


@dataclass(frozen=True)
class TrustedKey:
    """A public key (PEM) whose tokens are accepted; ``kid`` None: whatever the token names."""

    public_pem: str
    kid: str | None = None


def _unauthorized(message: str) -> GraphResponse:
    return error(401, "InvalidAuthenticationToken", message, WWW_Authenticate=_AUTHENTICATE)


class Authority:
    """The tenant's trust: keys, issuers, audiences, access policies (thread-safe)."""

    def __init__(
        self,
        *,
        tenant_id: str,
        keys: Iterable[TrustedKey],
        clock: Callable[[], float],
        issuers: Collection[str] | None = None,
        audiences: Collection[str] = (GRAPH_AUDIENCE, GRAPH_AUDIENCE + "/", GRAPH_APP_ID),
        policies: Iterable[AccessPolicy] = (),
    ) -> None:
        self.tenant_id = tenant_id
        self.issuers = frozenset(issuers or (v1_issuer(tenant_id), v2_issuer(tenant_id)))
        self.audiences = frozenset(audiences)
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: list[TrustedKey] = list(keys)
        self._policies: list[AccessPolicy] = list(policies)
        self._verified: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ settings
    def trust(self, public_pem: str, kid: str | None = None) -> None:
        """Accept tokens signed by this key (named ``kid`` in their header, if given)."""
        with self._lock:
            self._keys.append(TrustedKey(public_pem, kid))
            self._verified.clear()

    def distrust(self, kid: str) -> None:
        """Stop accepting tokens of the key ``kid`` (a rotated signing key)."""
        with self._lock:
            self._keys = [k for k in self._keys if k.kid != kid]
            self._verified.clear()

    @property
    def policies(self) -> list[AccessPolicy]:
        with self._lock:
            return list(self._policies)

    def set_policies(self, app_id: str, policies: Iterable[AccessPolicy]) -> None:
        """Replace the access policies of one app (none: it reaches every mailbox)."""
        with self._lock:
            self._policies = [p for p in self._policies if p.app_id != app_id]
            self._policies.extend(policies)

    # -------------------------------------------------------------- the checks
    def _verify(self, token: str) -> dict[str, Any] | str:
        """The token's claims when its signature, audience and issuer are good; else why not."""
        import jwt

        with self._lock:
            known = self._verified.get(token)
            keys = list(self._keys)
        if known is not None:
            return known
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return "CompactToken parsing failed with error code: 80049217"
        if header.get("alg") != "RS256":
            return "Access token validation failure. Invalid signature algorithm."
        kid = header.get("kid")
        candidates = [k for k in keys if k.kid is None or k.kid == kid]
        claims: dict[str, Any] | None = None
        for key in candidates:
            try:
                claims = jwt.decode(
                    token,
                    key.public_pem,
                    algorithms=["RS256"],
                    options={
                        "verify_exp": False,
                        "verify_nbf": False,
                        "verify_iat": False,
                        "verify_aud": False,
                        "verify_iss": False,
                    },
                )
                break
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError:
                return "CompactToken parsing failed with error code: 80049217"
        if claims is None:
            return "Access token validation failure. Invalid signature."
        if claims.get("aud") not in self.audiences:
            return "Access token validation failure. Invalid audience."
        if claims.get("iss") not in self.issuers:
            return "Access token validation failure. Invalid issuer."
        if claims.get("tid", self.tenant_id) != self.tenant_id:
            return "Access token validation failure. Invalid tenant."
        with self._lock:
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[token] = claims
        return claims

    def authenticate(self, req: GraphRequest) -> Caller | GraphResponse:
        """The caller, or Graph's 401."""
        given = req.headers.get("authorization", "").strip()
        scheme, _, token = given.partition(" ")
        token = token.strip()
        if not given or scheme.lower() != "bearer" or not token:
            return _unauthorized("Access token is empty.")
        claims = self._verify(token)
        if isinstance(claims, str):
            return _unauthorized(claims)
        now = self.clock()
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int | float) or exp + SKEW <= now:
            return _unauthorized("Lifetime validation failed, the token is expired.")
        if isinstance(nbf, int | float) and nbf - SKEW > now:
            return _unauthorized("Lifetime validation failed, the token is not yet valid.")
        roles = claims.get("roles")
        if not roles and not claims.get("scp"):
            return _unauthorized("Either scp or roles claim need to be present in the token.")
        app_id = str(claims.get("appid") or claims.get("azp") or "")
        return Caller(
            app_id=app_id,
            tenant_id=str(claims.get("tid", self.tenant_id)),
            roles=frozenset(r for r in roles or () if isinstance(r, str)),
            object_id=str(claims.get("oid", "")),
            claims=claims,
        )

    def permits(self, caller: Caller, method: str) -> GraphResponse | None:
        """None when the app's permissions allow the request; else Graph's 403."""
        if caller.may(method):
            return None
        return error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")

    def admits(self, caller: Caller, box: Mailbox) -> GraphResponse | None:
        """None when the access policies let the app reach the mailbox; else Graph's 403."""
        names = {box.upn.casefold(), box.object_id.casefold()}
        mine = [p for p in self.policies if p.app_id.casefold() == caller.app_id.casefold()]
        restrict = [p for p in mine if p.access_right == "RestrictAccess"]
        deny = [p for p in mine if p.access_right == "DenyAccess"]
        inside = any(names & {m.casefold() for m in p.mailboxes} for p in restrict)
        denied = any(names & {m.casefold() for m in p.mailboxes} for p in deny)
        if (restrict and not inside) or denied:
            return error(
                403,
                "ErrorAccessDenied",
                "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly "
                "AccessPolicy settings.",
            )
        return None
