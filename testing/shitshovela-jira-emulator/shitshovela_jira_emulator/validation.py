"""Checks requests and responses against Jira's OpenAPI description with openapi-core.

openapi-core (and werkzeug, which it brings) is imported only when a validator is made,
so the emulator works without it when validation is off.
"""

from __future__ import annotations

import json
import re
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["SpecCall", "SpecValidator"]

# The spec's server; requests are checked as if sent there (no need to rewrite `servers`).
_SPEC_HOST_FALLBACK = "https://your-domain.atlassian.net"


@dataclass(frozen=True)
class SpecCall:
    """One request, already mapped onto the v3 operation it is checked against."""

    method: str  # lower case
    path: str  # /rest/api/3/...
    query: Sequence[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    content_type: str
    params_only: bool = False  # check path and query parameters only (multipart uploads)


def _describe(exc: BaseException) -> str:
    parts = [f"{type(exc).__name__}: {exc}"]
    cause = exc.__cause__
    if cause is not None:
        schema_errors = getattr(cause, "schema_errors", None)
        if schema_errors:
            for err in schema_errors:
                where = "/".join(str(p) for p in getattr(err, "absolute_path", []))
                msg = getattr(err, "message", str(err))
                parts.append(f"at '{where}': {msg}" if where else msg)
        else:
            parts.append(f"{type(cause).__name__}: {cause}")
    return "; ".join(parts)


class SpecValidator:
    """Thread-safe wrapper around one loaded OpenAPI document."""

    def __init__(self, spec_path: Path | str) -> None:
        from openapi_core import OpenAPI  # lazy: optional dependency

        path = Path(spec_path)
        if not path.is_file():
            raise FileNotFoundError(f"Jira OpenAPI description not found: {path}")
        doc = json.loads(path.read_text(encoding="utf-8"))
        servers = doc.get("servers") or [{"url": _SPEC_HOST_FALLBACK}]
        self.host = str(servers[0]["url"]).rstrip("/")
        self._ops: list[tuple[str, re.Pattern[str], str, str, frozenset[str]]] = []
        for template, item in doc["paths"].items():
            regex = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
            for method, op in item.items():
                if method in ("get", "put", "post", "delete", "patch", "head", "options"):
                    statuses = frozenset(str(s) for s in op.get("responses", {}))
                    self._ops.append(
                        (method, regex, template, str(op.get("operationId")), statuses)
                    )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._api = OpenAPI.from_dict(doc)
            from openapi_core.validation.request.validators import (
                V30RequestParametersValidator,
            )

            self._params_validator = V30RequestParametersValidator(self._api.spec)
        self._lock = threading.Lock()

    def operation(self, method: str, path: str) -> tuple[str, frozenset[str]] | None:
        """(operationId, declared statuses) for a v3 method and path, if in the excerpt."""
        for m, regex, _template, op_id, statuses in self._ops:
            if m == method.lower() and regex.match(path):
                return op_id, statuses
        return None

    def _request(self, call: SpecCall) -> Any:
        from openapi_core.testing import MockRequest
        from werkzeug.datastructures import MultiDict

        return MockRequest(
            self.host,
            call.method,
            call.path,
            args=MultiDict(list(call.query)),
            headers=call.headers,
            data=call.body or None,
            content_type=call.content_type,
        )

    def check_request(self, call: SpecCall) -> list[str]:
        req = self._request(call)
        with self._lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if call.params_only:
                errors = list(self._params_validator.iter_errors(req))
            else:
                errors = list(self._api.iter_request_errors(req))
        return [_describe(e) for e in errors]

    def check_response(
        self, call: SpecCall, status: int, body: bytes, content_type: str
    ) -> list[str]:
        from openapi_core.testing import MockResponse

        req = self._request(call)
        resp = MockResponse(body, status_code=status, content_type=content_type)
        with self._lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            errors = list(self._api.iter_response_errors(req, resp))
        return [_describe(e) for e in errors]


_CACHE: dict[str, SpecValidator] = {}
_CACHE_LOCK = threading.Lock()


def load_validator(spec_path: Path | str) -> SpecValidator:
    """One validator per spec file per process (loading takes a fraction of a second)."""
    key = str(Path(spec_path).resolve())
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = SpecValidator(key)
        return _CACHE[key]
