"""Checks an emulator's requests and answers against a vendor's OpenAPI excerpt, with openapi-core.

The adapter the loopback emulators share. `SpecValidator` wraps one loaded
OpenAPI 3.0 document: the operation a method and path belong to
(`SpecValidator.operation`), and the problems openapi-core finds with a request
(`check_request`), an answer (`check_response`) or a JSON body against one of
the description's schemas (`check_schema`). `load_validator` loads one per file
per process. An emulator's ``speccheck`` maps its requests onto the excerpt (its
quirks) and records what breaks it (`shitshovela_testkit.specfindings`).

openapi-core (and werkzeug and openapi-schema-validator, which it brings) is
imported only when a validator is made, so an emulator imports and runs without
it while validation is off: install the ``openapi`` extra to check. Requests are
checked as if sent to the description's first server: its scheme and host are
the host, its path (Graph's ``/v1.0``) the base that every path given here is
below.

`excerpt_in_checkout` finds an excerpt in the repository's top-level ``specs/``
folder, where each vendor's excerpt lives once with its provenance.
"""

from __future__ import annotations

import json
import re
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from .standin import Request

__all__ = ["Operation", "SpecCall", "SpecValidator", "excerpt_in_checkout", "load_validator"]

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

#: Where requests are checked as sent when a description names no server.
_NO_SERVER = "https://api.example.com"


@dataclass(frozen=True)
class SpecCall:
    """One request, in the form it is checked in (already mapped onto the excerpt)."""

    method: str  # lower case
    path: str  # below the server's base path, as the description writes it: /repos/o/r/issues
    query: Sequence[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    content_type: str
    params_only: bool = False  # check path and query parameters only (multipart uploads)

    @classmethod
    def of(
        cls,
        request: Request,
        path: str,
        *,
        query: Sequence[tuple[str, str]] | None = None,
        body: bytes | None = None,
        params_only: bool = False,
    ) -> SpecCall:
        """A stand-in server's request as checked at ``path``, with ``query`` and ``body``
        in place of its own when an emulator maps them onto the excerpt."""
        return cls(
            method=request.method.lower(),
            path=path,
            query=list(request.query if query is None else query),
            headers=dict(request.headers),
            body=request.body if body is None else body,
            content_type=request.content_type or "application/json",
            params_only=params_only,
        )


class Operation(NamedTuple):
    """An operation of the excerpt: its ``operationId`` and the statuses it declares."""

    id: str
    statuses: frozenset[str]


def _describe(exc: BaseException) -> str:
    """openapi-core's error as one line, with each schema error and where it is."""
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


def _template_regex(template: str) -> re.Pattern[str]:
    """A path template as a pattern: each ``{parameter}`` is one path segment."""
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile(
        "^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$"
    )


class SpecValidator:
    """Thread-safe wrapper around one loaded OpenAPI document."""

    def __init__(self, spec_path: Path | str) -> None:
        from openapi_core import OpenAPI  # lazy: an optional dependency

        path = Path(spec_path)
        if not path.is_file():
            raise FileNotFoundError(f"OpenAPI description not found: {path}")
        doc = json.loads(path.read_text(encoding="utf-8"))
        self.doc: dict[str, Any] = doc
        server = urlsplit(str((doc.get("servers") or [{"url": _NO_SERVER}])[0]["url"]))
        self.host = f"{server.scheme}://{server.netloc}"
        self.base = server.path.rstrip("/")
        self._ops: list[tuple[str, re.Pattern[str], str, Operation]] = []
        for template, item in doc["paths"].items():
            regex = _template_regex(template)
            for method, op in item.items():
                if method in _METHODS:
                    statuses = frozenset(str(s) for s in op.get("responses", {}))
                    found = Operation(str(op.get("operationId")), statuses)
                    self._ops.append((method, regex, template, found))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._api = OpenAPI.from_dict(doc)
        self._params_validator: Any = None
        self._schema_validators: dict[str, Any] = {}
        self._lock = threading.Lock()

    def operations(self) -> list[tuple[str, str]]:
        """Every (METHOD, path template) the description holds."""
        return [(m.upper(), template) for m, _regex, template, _op in self._ops]

    def operation(self, method: str, path: str) -> Operation | None:
        """The operation of a method and a path (below the base path), if in the excerpt."""
        for m, regex, _template, found in self._ops:
            if m == method.lower() and regex.match(path):
                return found
        return None

    def _request(self, call: SpecCall) -> Any:
        from openapi_core.testing import MockRequest
        from werkzeug.datastructures import MultiDict

        return MockRequest(
            self.host,
            call.method,
            self.base + call.path,
            args=MultiDict(list(call.query)),
            headers=call.headers,
            data=call.body or None,
            content_type=call.content_type,
        )

    def check_request(self, call: SpecCall) -> list[str]:
        """What breaks the description in a request (only its parameters if ``params_only``)."""
        req = self._request(call)
        with self._lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if call.params_only:
                errors = list(self._parameters_validator().iter_errors(req))
            else:
                errors = list(self._api.iter_request_errors(req))
        return [_describe(e) for e in errors]

    def _parameters_validator(self) -> Any:
        """openapi-core's check of a request's parameters alone (made once, under the lock)."""
        if self._params_validator is None:
            from openapi_core.validation.request.validators import (
                V30RequestParametersValidator,
            )

            self._params_validator = V30RequestParametersValidator(self._api.spec)
        return self._params_validator

    def check_response(
        self,
        call: SpecCall,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: Mapping[str, str] | None = None,
    ) -> list[str]:
        """What breaks the description in the answer to ``call``."""
        from openapi_core.testing import MockResponse

        req = self._request(call)
        resp = MockResponse(
            body, status_code=status, content_type=content_type or "", headers=dict(headers or {})
        )
        with self._lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            errors = list(self._api.iter_response_errors(req, resp))
        return [_describe(e) for e in errors]

    def check_schema(self, component: str, body: bytes) -> list[str]:
        """What breaks ``#/components/schemas/<component>`` in a JSON body."""
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


def excerpt_in_checkout(checkout: Path, name: str, *, vendor: str, emulator: str) -> Path:
    """The path of ``specs/<name>`` in a repository checkout.

    An emulator passes its checkout as found from its own file's location, so
    the answer does not depend on the working directory. Raises
    `FileNotFoundError` naming the path and the way out (``validate_spec=PATH``)
    when the file is not there: an installed wheel carries no ``specs/``.
    ``vendor`` is whose excerpt (``"GitHub's"``), ``emulator`` its class name."""
    path = checkout / "specs" / name
    if not path.is_file():
        raise FileNotFoundError(
            f"{vendor} OpenAPI excerpt is not at {path}: it lives in specs/ at the root of the "
            "ShitShovela repository, so spec validation needs this emulator to run from a "
            "checkout (uv sync --all-packages installs it editable); elsewhere pass the file "
            f"as {emulator}(validate_spec=PATH)"
        )
    return path
