"""Checks requests and responses against Graph's OpenAPI excerpt with openapi-core.

openapi-core (and werkzeug, which it brings) is imported only when a validator
is made, so the emulator works without it when validation is off. Requests are
checked as if sent to the description's own server
(``https://graph.microsoft.com/v1.0/``): the path given is the part below
``/v1.0``.
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

_HOST = "https://graph.microsoft.com"
_BASE = "/v1.0"


@dataclass(frozen=True)
class SpecCall:
    """One request, in the form it is checked in."""

    method: str  # lower case
    path: str  # below /v1.0, as the description writes it: /users/x/messages/y/microsoft.graph.move
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
            raise FileNotFoundError(f"Graph's OpenAPI description not found: {path}")
        doc = json.loads(path.read_text(encoding="utf-8"))
        self.doc = doc
        self._ops: list[tuple[str, re.Pattern[str], str, str]] = []
        for template, item in doc["paths"].items():
            regex = re.compile(
                "^"
                + "".join("[^/]+" if p.startswith("{") else re.escape(p)
                          for p in re.split(r"(\{[^}]+\})", template))
                + "$"
            )  # fmt: skip
            for method, op in item.items():
                if method in ("get", "put", "post", "delete", "patch", "head", "options"):
                    self._ops.append((method, regex, template, str(op.get("operationId"))))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._api = OpenAPI.from_dict(doc)
        self._lock = threading.Lock()

    def operations(self) -> list[tuple[str, str]]:
        """Every (METHOD, path template) the description holds."""
        return [(m.upper(), template) for m, _regex, template, _op in self._ops]

    def operation(self, method: str, path: str) -> str | None:
        """The operationId of a method and path below ``/v1.0``, if in the excerpt."""
        for m, regex, _template, op_id in self._ops:
            if m == method.lower() and regex.match(path):
                return op_id
        return None

    def _request(self, call: SpecCall) -> Any:
        from openapi_core.testing import MockRequest
        from werkzeug.datastructures import MultiDict

        return MockRequest(
            _HOST,
            call.method,
            _BASE + call.path,
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
        content_type: str | None,
        headers: dict[str, str],
    ) -> list[str]:
        from openapi_core.testing import MockResponse

        req = self._request(call)
        resp = MockResponse(
            body, status_code=status, content_type=content_type or "", headers=headers
        )
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
