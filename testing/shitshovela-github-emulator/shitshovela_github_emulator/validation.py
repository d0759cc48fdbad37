"""Checks requests and responses against GitHub's OpenAPI description with openapi-core.

openapi-core (and werkzeug, which it brings) is imported only when a validator is made,
so the emulator works without it when validation is off. Requests are checked as if
sent to the description's own server (``https://api.github.com``).
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

__all__ = ["SpecCall", "SpecValidator", "load_validator"]

_SPEC_HOST_FALLBACK = "https://api.github.com"


@dataclass(frozen=True)
class SpecCall:
    """One request, in the form it is checked in."""

    method: str  # lower case
    path: str  # as the description writes it: /repos/o/r/issues
    query: Sequence[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    content_type: str


def _describe(exc: BaseException) -> str:
    cause = exc.__cause__
    schema_errors = getattr(cause, "schema_errors", None) if cause is not None else None
    text = str(exc)
    if schema_errors and len(text) > 160:  # the whole value is in it: the errors say enough
        text = text[:160] + "..."
    parts = [f"{type(exc).__name__}: {text}"]
    if cause is not None:
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
            raise FileNotFoundError(f"GitHub OpenAPI description not found: {path}")
        doc = json.loads(path.read_text(encoding="utf-8"))
        servers = doc.get("servers") or [{"url": _SPEC_HOST_FALLBACK}]
        self.host = str(servers[0]["url"]).rstrip("/")
        self.doc = doc
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
        self._schema_validators: dict[str, Any] = {}
        self._lock = threading.Lock()

    def operations(self) -> list[tuple[str, str]]:
        """Every (METHOD, path template) the description holds."""
        return [(m.upper(), template) for m, _regex, template, _op, _s in self._ops]

    def operation(self, method: str, path: str) -> tuple[str, frozenset[str]] | None:
        """(operationId, declared statuses) for a method and path, if in the excerpt."""
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
            errors = list(self._api.iter_request_errors(req))
        return [_describe(e) for e in errors]

    def check_response(
        self,
        call: SpecCall,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str],
    ) -> list[str]:
        from openapi_core.testing import MockResponse

        req = self._request(call)
        resp = MockResponse(body, status_code=status, content_type=content_type, headers=headers)
        with self._lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            errors = list(self._api.iter_response_errors(req, resp))
        return [_describe(e) for e in errors]

    def check_schema(self, component: str, body: bytes) -> list[str]:
        """Check a JSON body against ``#/components/schemas/<component>``."""
        from openapi_schema_validator import OAS30Validator

        try:
            instance = json.loads(body)
        except ValueError as exc:
            return [f"the body is not JSON: {exc}"]
        with self._lock:
            validator = self._schema_validators.get(component)
            if validator is None:
                schema = {
                    "$ref": f"#/components/schemas/{component}",
                    "components": self.doc["components"],
                }
                validator = self._schema_validators[component] = OAS30Validator(schema)
            errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        problems = []
        for err in errors:
            where = "/".join(str(p) for p in err.absolute_path)
            problems.append(f"at '{where}': {err.message}" if where else err.message)
        return problems


_CACHE: dict[str, SpecValidator] = {}
_CACHE_LOCK = threading.Lock()


def load_validator(spec_path: Path | str) -> SpecValidator:
    """One validator per spec file per process (loading takes a fraction of a second)."""
    key = str(Path(spec_path).resolve())
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = SpecValidator(key)
        return _CACHE[key]
