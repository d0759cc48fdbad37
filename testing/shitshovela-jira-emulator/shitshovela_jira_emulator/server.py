"""A stateful Jira (Cloud REST v3/v2, Data Center REST v2) emulator on loopback."""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import hashlib
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from . import jql as _jql
from . import render
from .state import (
    PRIORITIES,
    AttachmentRecord,
    CommentRecord,
    Faults,
    IssueRecord,
    JiraState,
    ProjectConfig,
    RecordedRequest,
    Violation,
    _Issue,
    _Project,
    now_utc,
)

if TYPE_CHECKING:  # typing only: openapi-core stays optional at run time
    from .validation import SpecCall, SpecValidator

__all__ = ["JiraEmulator"]

Flavour = Literal["cloud", "datacenter"]

SUMMARY_MAX = 255
LABEL_MAX = 255
PROPERTY_KEY_MAX = 255
PROPERTY_VALUE_MAX = 32768
RECONCILE_MAX = 50
SEARCH_PROPERTIES_MAX = 5


class _Reject(Exception):
    """Raised inside handlers to answer with an error at once."""

    def __init__(self, response: _Resp) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass
class _Req:
    method: str
    path: str  # decoded path
    raw_path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    api: str = "3"  # "2" or "3"

    def q(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name]

    def q_list(self, name: str) -> list[str]:
        return [i.strip() for v in self.q(name) for i in v.split(",") if i.strip()]

    def q1(self, name: str) -> str | None:
        vals = self.q(name)
        return vals[-1] if vals else None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def media_type(self) -> str:
        return self.content_type.split(";", 1)[0].strip().lower()


@dataclass
class _Resp:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json;charset=UTF-8"
    drop: bool = False
    fault: bool = False  # injected on purpose: the response is not checked against the spec

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


def _error(status: int, *messages: str, errors: Mapping[str, str] | None = None) -> _Resp:
    return _Resp(status, {"errorMessages": list(messages), "errors": dict(errors or {})})


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _unb64(token: str) -> dict[str, Any]:
    padded = token + "=" * (-len(token) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # one response = headers + body; no 40 ms delayed-ACK stalls
    server_version = "JiraEmulator/1.0"
    sys_version = ""
    timeout = 60

    def setup(self) -> None:
        super().setup()
        emulator: JiraEmulator = self.server.emulator  # type: ignore[attr-defined]
        emulator._track(self.connection, add=True)

    def finish(self) -> None:
        emulator: JiraEmulator = self.server.emulator  # type: ignore[attr-defined]
        emulator._track(self.connection, add=False)
        with contextlib.suppress(OSError):
            super().finish()

    def _dispatch(self) -> None:
        emulator: JiraEmulator = self.server.emulator  # type: ignore[attr-defined]
        emulator._serve(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: JiraEmulator


class JiraEmulator:
    """A stateful Jira on ``http://127.0.0.1:<free port>``, as a context manager.

    ``flavour="cloud"`` serves ``/rest/api/3`` (ADF descriptions) and ``/rest/api/2``
    (plain-text descriptions), Basic auth with ``email:api_token``, enhanced search at
    ``/rest/api/{2,3}/search/jql`` (the old ``/search`` answers 410).
    ``flavour="datacenter"`` serves ``/rest/api/2`` only, Bearer PAT auth, and search at
    ``/rest/api/2/search`` with ``startAt``/``total``.
    """

    def __init__(
        self,
        *,
        flavour: Flavour = "cloud",
        projects: Mapping[str, Sequence[str] | ProjectConfig] | None = None,
        email: str = "bot@example.com",
        api_token: str = "cloud-api-token",  # noqa: S107 - a test double's default
        pat: str = "dc-personal-access-token",
        username: str = "bot",
        display_name: str = "Ticket Bot",
        validate_spec: Path | str | None = None,
        index_lag: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        attachment_max_bytes: int = 10 * 1024 * 1024,
        description_max_chars: int = 32767,
        search_max_results: int = 100,
        dc_search_max_results: int = 1000,
        indexed_properties: Mapping[str, Collection[str]] | None = None,
        custom_fields: Mapping[str, str] | None = None,
        dc_deployment_type: str = "Server",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if flavour not in ("cloud", "datacenter"):
            raise ValueError(f"flavour must be 'cloud' or 'datacenter', not {flavour!r}")
        self.flavour: Flavour = flavour
        self._state = JiraState(
            projects if projects is not None else {"OPS": ["Task", "Bug"]}, clock, index_lag
        )
        self.faults = Faults()
        self._email = email
        self._api_token = api_token
        self._pat = pat
        self._identity = render.Identity(email, display_name, "5b10ac8d82e05b22cc7d4ef5", username)
        self._attachment_max = attachment_max_bytes
        self._description_max = description_max_chars
        self._search_max = search_max_results
        self._dc_search_max = dc_search_max_results
        self._indexed_properties = indexed_properties
        self._custom_fields = dict(custom_fields or {})
        self._dc_deployment_type = dc_deployment_type
        self._host = host
        self._port = port
        self._validator: SpecValidator | None = None
        if validate_spec is not None:
            from .validation import load_validator

            self._validator = load_validator(validate_spec)
        self._log_lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._violations: list[Violation] = []
        self._unvalidated: list[str] = []
        self._conns: set[socket.socket] = set()
        self._server: _Server | None = None
        self._url = ""
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> JiraEmulator:
        if self._server is not None:
            return self
        server = _Server((self._host, self._port), _Handler)
        server.emulator = self
        self._server = server
        host, port = server.server_address[:2]
        self._url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="jira-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._log_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> JiraEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._log_lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return self._url

    # ---------------------------------------------------------- test-facing state
    @property
    def index_lag(self) -> float:
        return self._state.index_lag

    @index_lag.setter
    def index_lag(self, seconds: float) -> None:
        self._state.index_lag = seconds

    def auth_headers(self) -> dict[str, str]:
        """The Authorization header the configured credentials give."""
        if self.flavour == "cloud":
            token = base64.b64encode(f"{self._email}:{self._api_token}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        return {"Authorization": f"Bearer {self._pat}"}

    def issues(self) -> list[IssueRecord]:
        """A snapshot of every issue (current state, not the lagging index), by id."""
        with self._state.lock:
            return sorted((i.record for i in self._state.issues.values()), key=lambda r: int(r.id))

    def issue(self, key_or_id: str) -> IssueRecord:
        with self._state.lock:
            found = self._state.find(key_or_id)
            if found is None:
                raise KeyError(key_or_id)
            return found.record

    def seed_issue(
        self,
        project: str,
        summary: str,
        *,
        issuetype: str | None = None,
        description: str | None = None,
        labels: Sequence[str] = (),
        properties: Mapping[str, Any] | None = None,
        indexed: bool = True,
    ) -> IssueRecord:
        """Create an issue directly (no HTTP, no checks); ``indexed=False`` lets it lag."""
        with self._state.lock:
            proj = self._state.project(project)
            if proj is None:
                raise KeyError(project)
            return self._state.create(
                proj,
                issuetype=issuetype or proj.issue_types[0],
                summary=summary,
                description=description,
                description_adf=None,
                labels=labels,
                components=(),
                priority="Medium",
                properties=properties or {},
                indexed_immediately=indexed,
            )

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far (method, path, query, monotonic time, status)."""
        with self._log_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._log_lock:
            self._requests.clear()

    @property
    def violations(self) -> list[Violation]:
        with self._log_lock:
            return list(self._violations)

    @property
    def unvalidated(self) -> list[str]:
        """Requests answered without a spec check (``"METHOD /path: why"``)."""
        with self._log_lock:
            return list(self._unvalidated)

    def clear_violations(self) -> None:
        with self._log_lock:
            self._violations.clear()

    def assert_no_violations(self) -> None:
        found = self.violations
        if found:
            lines = "\n".join(f"  - {v}" for v in found)
            raise AssertionError(
                f"{len(found)} request/response(s) do not match Jira's OpenAPI description:\n"
                f"{lines}"
            )

    # ------------------------------------------------------------------- serving
    def _serve(self, h: _Handler) -> None:
        received = time.monotonic()
        try:
            body = self._read_body(h)
        except (ValueError, OSError):
            h.close_connection = True
            return
        split = urlsplit(h.path)
        req = _Req(
            method=h.command.upper(),
            path=unquote(split.path),
            raw_path=split.path,
            query=parse_qsl(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in h.headers.items()},
            body=body,
        )
        query: dict[str, list[str]] = {}
        for k, v in req.query:
            query.setdefault(k, []).append(v)
        record = RecordedRequest(
            req.method, req.path, query, received, dict(h.headers.items()), body
        )
        with self._log_lock:
            index = len(self._requests)
            self._requests.append(record)
        try:
            resp = self._respond(req)
        except Exception as exc:  # an emulator bug: answer 500 and make the test fail
            with self._log_lock:
                self._violations.append(
                    Violation("emulator", req.method, req.path, "-", repr(exc), 500)
                )
            resp = _error(500, f"emulator error: {exc!r}")
        with self._log_lock:
            self._requests[index] = replace(record, status=0 if resp.drop else resp.status)
        if resp.drop:
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = b"" if req.method == "HEAD" else resp.payload()
        try:
            h.send_response(resp.status)
            if payload or resp.status not in (204, 304):
                h.send_header("Content-Type", resp.content_type)
            h.send_header("Content-Length", str(len(payload)))
            h.send_header("X-AREQUESTID", uuid.uuid4().hex[:12])
            for name, value in resp.headers.items():
                h.send_header(name, value)
            h.end_headers()
            h.wfile.write(payload)
            h.wfile.flush()
        except OSError:
            h.close_connection = True

    @staticmethod
    def _read_body(h: _Handler) -> bytes:
        if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                line = h.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while h.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(h.rfile.read(size))
                h.rfile.readline(65537)
        length = int(h.headers.get("Content-Length") or 0)
        return h.rfile.read(length) if length > 0 else b""

    # ------------------------------------------------------------------- routing
    _ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
        (m, re.compile("^" + p + "$"), n)
        for m, p, n in (
            ("POST", r"issue", "create_issue"),
            ("GET", r"issue/createmeta/(?P<p>[^/]+)/issuetypes", "createmeta"),
            ("GET", r"issue/(?P<k>[^/]+)", "get_issue"),
            ("PUT", r"issue/(?P<k>[^/]+)", "edit_issue"),
            ("POST", r"issue/(?P<k>[^/]+)/attachments", "add_attachment"),
            ("GET", r"issue/(?P<k>[^/]+)/comment", "get_comments"),
            ("POST", r"issue/(?P<k>[^/]+)/comment", "add_comment"),
            ("GET", r"search/jql", "search_jql"),
            ("POST", r"search/jql", "search_jql"),
            ("POST", r"search/approximate-count", "approximate_count"),
            ("GET", r"search", "search_v2"),
            ("POST", r"search", "search_v2"),
            ("GET", r"project/(?P<p>[^/]+)", "get_project"),
            ("GET", r"field", "get_fields"),
            ("GET", r"myself", "myself"),
            ("GET", r"serverInfo", "server_info"),
            ("GET", r"attachment/content/(?P<a>[^/]+)", "attachment_content"),
        )
    )
    _API = re.compile(r"^/rest/api/(?P<v>2|3|latest)/(?P<rest>.*?)/?$")
    _DC_CONTENT = re.compile(r"^/secure/attachment/(?P<a>\d+)/[^/]*$")

    def _route(self, req: _Req) -> tuple[str, dict[str, str]] | None:
        m = self._API.match(req.raw_path)
        if m is None:
            dc = self._DC_CONTENT.match(req.raw_path)
            if dc is not None and req.method == "GET":
                return "attachment_content", {"a": dc.group("a")}
            return None
        version = m.group("v")
        if version == "latest":
            version = "2" if self.flavour == "datacenter" else "3"
        if self.flavour == "datacenter" and version == "3":
            return None
        req.api = version
        rest = m.group("rest")
        for method, pattern, name in self._ROUTES:
            pm = pattern.match(rest)
            if pm is not None and method == req.method:
                params = {k: unquote(v) for k, v in pm.groupdict().items()}
                if name in ("search_jql", "approximate_count") and self.flavour != "cloud":
                    return None
                return name, params
        return None

    def _respond(self, req: _Req) -> _Resp:
        route = self._route(req)
        spec_call, op = self._spec_call(req, route)
        request_problems: list[str] = []
        if spec_call is not None and op is not None and self._validator is not None:
            request_problems = self._validator.check_request(spec_call)
            # the documented rules are recorded, but answered as Jira does (403/400/415)
            for problem in request_problems + self._extra_rules(req, route):
                self._violate("request", req, op, problem)

        throttle = self.faults.take_throttle()
        if throttle is not None:
            return self._throttled(*throttle)

        denied = self._authenticate(req, route)
        if denied is not None:
            return denied
        if request_problems:
            return _error(
                400,
                "The request does not match Jira's OpenAPI description: "
                + " | ".join(request_problems),
            )
        if route is None:
            self._note_unvalidated(req, "no such resource in the emulator")
            return _error(404, "null for uri: " + req.path)
        name, params = route
        if req.api == "2" and name == "search_v2" and self.flavour == "cloud":
            resp = _error(
                410,
                "The requested API has been removed. Please migrate to the "
                "/rest/api/3/search/jql API. A full migration guideline is available at "
                "https://developer.atlassian.com/changelog/#CHANGE-2046",
            )
        elif name == "search_v2" and req.api == "3":
            resp = _error(
                410,
                "The requested API has been removed. Please migrate to the "
                "/rest/api/3/search/jql API.",
            )
        else:
            try:
                resp = getattr(self, "_h_" + name)(req, **params)
            except _Reject as rej:
                resp = rej.response
        if spec_call is None or op is None or self._validator is None:
            if self._validator is not None and spec_call is None:
                self._note_unvalidated(req, "not in the OpenAPI excerpt")
            return resp
        if not resp.fault:
            self._check_response(req, spec_call, op, resp)
        return resp

    def _spec_call(
        self, req: _Req, route: tuple[str, dict[str, str]] | None
    ) -> tuple[SpecCall | None, tuple[str, frozenset[str]] | None]:
        """Map the request onto the v3 operation of the excerpt that it is checked against."""
        if self._validator is None or route is None:
            return None, None
        from .validation import SpecCall

        name = route[0]
        if name == "search_v2" and self.flavour == "cloud":
            return None, None  # removed on Cloud (410); nothing to check it against
        v3_path = re.sub(r"^/rest/api/(2|latest)/", "/rest/api/3/", req.raw_path.rstrip("/"))
        query = list(req.query)
        body = req.body
        headers = dict(req.headers)
        if name == "search_v2":
            # DC search: checked as the enhanced search minus its paging differences
            v3_path = "/rest/api/3/search/jql"
            query = [(k, v) for k, v in query if k not in ("startAt", "validateQuery")]
            if req.method == "POST":
                body = self._v2_to_v3_body(body, drop=("startAt", "validateQuery"))
        elif req.api == "2" and req.method in ("POST", "PUT") and req.media_type.endswith("json"):
            body = self._v2_to_v3_body(body)
        op = self._validator.operation(req.method, v3_path)
        if op is None:
            return None, None
        return (
            SpecCall(
                method=req.method.lower(),
                path=v3_path,
                query=query,
                headers=headers,
                body=body,
                content_type=req.content_type or "application/json",
                params_only=name == "add_attachment",
            ),
            op,
        )

    @staticmethod
    def _v2_to_v3_body(body: bytes, drop: Sequence[str] = ()) -> bytes:
        """A v2 body in v3 form: plain-text description/comment -> ADF."""
        try:
            doc = json.loads(body)
        except ValueError:
            return body
        if not isinstance(doc, dict):
            return body
        for key in drop:
            doc.pop(key, None)
        fields = doc.get("fields")
        if isinstance(fields, dict) and isinstance(fields.get("description"), str):
            fields["description"] = render.text_to_adf(fields["description"])
        if isinstance(doc.get("body"), str):
            doc["body"] = render.text_to_adf(doc["body"])
        upd = doc.get("update")
        if isinstance(upd, dict) and isinstance(upd.get("description"), list):
            for op in upd["description"]:
                if isinstance(op, dict) and isinstance(op.get("set"), str):
                    op["set"] = render.text_to_adf(op["set"])
        return json.dumps(doc).encode()

    def _extra_rules(self, req: _Req, route: tuple[str, dict[str, str]] | None) -> list[str]:
        """Documented rules the schema cannot express (addAttachment's description)."""
        if route is None or route[0] != "add_attachment":
            return []
        problems = []
        if req.headers.get("x-atlassian-token", "").lower() not in ("no-check", "nocheck"):
            problems.append("addAttachment requires the header 'X-Atlassian-Token: no-check'")
        if req.media_type != "multipart/form-data":
            problems.append(f"addAttachment needs multipart/form-data, got {req.media_type!r}")
        else:
            names = [p[0] for p in self._multipart(req)]
            if "file" not in names:
                problems.append(
                    f"addAttachment: the multipart part must be named 'file' (got {names})"
                )
        return problems

    def _check_response(
        self, req: _Req, call: SpecCall, op: tuple[str, frozenset[str]], resp: _Resp
    ) -> None:
        assert self._validator is not None
        op_id, statuses = op
        status = str(resp.status)
        declared = status in statuses or "default" in statuses
        if not declared:
            if resp.status >= 400:
                self._note_unvalidated(req, f"status {status} is not declared by {op_id}")
            else:
                self._violate("response", req, op, f"status {status} is not declared", status)
            return
        if resp.status == 204:
            if resp.payload():
                self._violate("response", req, op, "a 204 response must not have a body", 204)
            return  # the spec's 204s declare a JSON body of schema {} (specs/README.md, quirks)
        payload = resp.payload()
        if not self._cloud and op_id.startswith("searchAndReconsile") and resp.status == 200:
            # v2 DC search answer, checked as an enhanced-search page of the same issues
            page = json.loads(payload)
            payload = json.dumps(
                {
                    "issues": page.get("issues", []),
                    "isLast": page["startAt"] + len(page["issues"]) >= page["total"],
                }
            ).encode()
        problems = self._validator.check_response(
            call, resp.status, payload, resp.content_type.split(";", 1)[0]
        )
        for problem in problems:
            self._violate("response", req, op, problem, resp.status)

    def _violate(
        self,
        kind: str,
        req: _Req,
        op: tuple[str, frozenset[str]],
        message: str,
        status: str | int | None = None,
    ) -> None:
        with self._log_lock:
            self._violations.append(
                Violation(
                    kind,
                    req.method,
                    req.path,
                    op[0],
                    message,
                    int(status) if status is not None else None,
                )
            )

    def _note_unvalidated(self, req: _Req, why: str) -> None:
        if self._validator is None:
            return
        with self._log_lock:
            self._unvalidated.append(f"{req.method} {req.path}: {why}")

    def _throttled(self, status: int, retry_after: str | None, reason: str | None) -> _Resp:
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        if status == 429:
            reset = now_utc().timestamp() + float(retry_after or 1)
            headers.update(
                {
                    "X-RateLimit-Limit": "100",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-NearLimit": "true",
                    "X-RateLimit-Reset": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(reset + 60)),
                    "RateLimit-Reason": reason or "jira-burst-based",
                }
            )
            resp = _error(429, "Rate limit exceeded.")
        else:
            resp = _error(503, "Service Unavailable")
        resp.headers.update(headers)
        resp.fault = True
        return resp

    def _authenticate(self, req: _Req, route: tuple[str, dict[str, str]] | None) -> _Resp | None:
        given = req.headers.get("authorization")
        anonymous_ok = route is not None and route[0] == "server_info"
        if given is None:
            if anonymous_ok:
                return None
            resp = _error(
                401, "You are not authenticated. Authentication required to perform this operation."
            )
            resp.headers["WWW-Authenticate"] = (
                'Basic realm="protected-by-api-token"'
                if self.flavour == "cloud"
                else 'Bearer realm="Jira"'
            )
            return resp
        if given.strip() == self.auth_headers()["Authorization"]:
            return None
        resp = _error(401, "Client must be authenticated to access this resource.")
        resp.headers["X-Seraph-LoginReason"] = "AUTHENTICATED_FAILED"
        resp.headers["WWW-Authenticate"] = (
            'Basic realm="protected-by-api-token"'
            if self.flavour == "cloud"
            else 'Bearer realm="Jira"'
        )
        return resp

    # ------------------------------------------------------------------- helpers
    @property
    def _cloud(self) -> bool:
        return self.flavour == "cloud"

    def _base(self) -> str:
        return self._url

    def _json(self, req: _Req) -> Any:
        if req.media_type != "application/json":
            raise _Reject(_error(415, "Unsupported Media Type"))
        try:
            return json.loads(req.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise _Reject(_error(400, f"Unexpected character in the request body: {exc}")) from None

    def _visible_issue(self, key_or_id: str) -> _Issue:
        issue = self._state.find(key_or_id)
        if issue is None or not self.faults.can_browse(issue.record.project_key):
            raise _Reject(
                _error(404, "Issue does not exist or you do not have permission to see it.")
            )
        return issue

    def _render_issue(
        self,
        rec: IssueRecord,
        api: str,
        fields: Sequence[str],
        default: str,
        properties: Sequence[str],
    ) -> dict[str, Any]:
        base = self._base()
        universe = list(render.ALL_FIELDS) + sorted(self._custom_fields)
        wanted = render.select(fields, default, universe)
        out: dict[str, Any] = {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,"
            "versionedRepresentations",
            "id": rec.id,
            "self": f"{base}/rest/api/{api}/issue/{rec.id}",
            "key": rec.key,
        }
        project = self._state.projects[rec.project_key]
        out["fields"] = render.issue_fields(
            rec,
            base=base,
            api=api,
            cloud=self._cloud,
            wanted=wanted,
            project_id=project.id,
            project_name=project.name,
            issue_type_id=self._state.issue_type_ids.get(rec.issuetype, "10001"),
            component_ids=project.components,
            user=self._identity.details(base, api, self._cloud),
        )
        for cf in self._custom_fields:
            if cf in wanted:
                out["fields"].setdefault(cf, rec.custom_fields.get(cf))
        if properties:
            keys = render.select(properties, "", sorted(rec.properties))
            out["properties"] = {k: rec.properties[k] for k in sorted(keys) if k in rec.properties}
        return out

    # -------------------------------------------------------------- field checks
    def _check_description(
        self, value: Any, api: str, errors: dict[str, str]
    ) -> tuple[str | None, dict[str, Any] | None]:
        if value is None:
            return None, None
        if api == "3":
            problem = render.adf_problem(value)
            if problem:
                errors["description"] = problem
                return None, None
            text = render.adf_text(value)
            adf: dict[str, Any] | None = copy.deepcopy(value)
        else:
            if not isinstance(value, str):
                errors["description"] = "Operation value must be a string"
                return None, None
            text, adf = value, None
        if len(text) > self._description_max:
            errors["description"] = (
                "The entered text is too long. It exceeds the allowed limit of "
                f"{self._description_max:,} characters."
            )
        return text, adf

    @staticmethod
    def _check_label(label: Any, errors: dict[str, str]) -> str | None:
        if not isinstance(label, str):
            errors["labels"] = "Labels must be strings."
            return None
        if label == "":
            errors["labels"] = "The label '' is invalid: a label cannot be empty."
        elif any(c.isspace() for c in label):
            errors["labels"] = f"The label '{label}' contains spaces which is invalid."
        elif len(label) > LABEL_MAX:
            errors["labels"] = (
                f"The label '{label}' exceeds the maximum length for a single label of "
                f"{LABEL_MAX} characters."
            )
        else:
            return label
        return None

    @staticmethod
    def _check_summary(value: Any, errors: dict[str, str]) -> str | None:
        if not isinstance(value, str) or not value.strip():
            errors["summary"] = "You must specify a summary of the issue."
            return None
        if "\n" in value or "\r" in value:
            errors["summary"] = "The summary is invalid because it contains newline characters."
            return None
        if len(value) > SUMMARY_MAX:
            errors["summary"] = f"Summary must be less than {SUMMARY_MAX} characters."
            return None
        return value

    @staticmethod
    def _ref(value: Any) -> tuple[str | None, str | None]:
        if isinstance(value, dict):
            rid, rname = value.get("id"), value.get("name")
            return (str(rid) if rid is not None else None), (
                str(rname) if rname is not None else None
            )
        return None, None

    def _check_components(
        self, value: Any, project: _Project, errors: dict[str, str]
    ) -> list[str] | None:
        if not isinstance(value, list):
            errors["components"] = "Components must be a list."
            return None
        out: list[str] = []
        by_id = {cid: n for n, cid in project.components.items()}
        for item in value:
            cid, cname = self._ref(item)
            if cid is not None and cid in by_id:
                out.append(by_id[cid])
            elif cname is not None and cname in project.components:
                out.append(cname)
            else:
                errors["components"] = (
                    f"Component name '{cname}' is not valid"
                    if cname is not None
                    else f"Component with id '{cid}' does not exist."
                )
                return None
        return out

    @staticmethod
    def _check_priority(value: Any, errors: dict[str, str]) -> str | None:
        pid, pname = JiraEmulator._ref(value)
        for i, n in PRIORITIES:
            if pid == i or (pname is not None and pname.lower() == n.lower()):
                return n
        errors["priority"] = "Specify a valid priority"
        return None

    def _check_properties(self, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, list):
            raise _Reject(_error(400, "Issue properties must be a list."))
        out: dict[str, Any] = {}
        for prop in value:
            if not isinstance(prop, dict) or not isinstance(prop.get("key"), str):
                raise _Reject(_error(400, "The property key must be specified."))
            key = prop["key"]
            if not key or len(key) > PROPERTY_KEY_MAX:
                raise _Reject(
                    _error(400, "The property key must be between 1 and 255 characters long.")
                )
            if "value" not in prop:
                raise _Reject(_error(400, f"The property '{key}' has no value."))
            size = len(json.dumps(prop["value"], ensure_ascii=False).encode("utf-8"))
            if size > PROPERTY_VALUE_MAX:
                raise _Reject(
                    _error(
                        400,
                        f"The property value of '{key}' exceeds the maximum length of "
                        f"{PROPERTY_VALUE_MAX} bytes.",
                    )
                )
            out[key] = copy.deepcopy(prop["value"])
        return out

    def _apply(
        self,
        body: Any,
        api: str,
        *,
        project: _Project,
        current: IssueRecord | None,
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Validate ``fields``/``update`` of an IssueUpdateDetails; return (changes, errors)."""
        if not isinstance(body, dict):
            raise _Reject(_error(400, "Can not deserialize the request body: not an object."))
        fields = body.get("fields") or {}
        update = body.get("update") or {}
        if not isinstance(fields, dict):
            raise _Reject(
                _error(
                    400,
                    f"Can not deserialize instance of fields out of {type(fields).__name__} token",
                )
            )
        if not isinstance(update, dict):
            raise _Reject(
                _error(
                    400,
                    f"Can not deserialize instance of update out of {type(update).__name__} token",
                )
            )
        errors: dict[str, str] = {}
        changes: dict[str, Any] = {}
        creating = current is None
        both = set(fields) & set(update)
        for name in both:
            errors[name] = f"Field '{name}' cannot be set and updated in the same request."

        allowed = {
            "summary",
            "description",
            "labels",
            "components",
            "priority",
            "issuetype",
            "project",
            *self._custom_fields,
        }
        for name, value in fields.items():
            if name in both:
                continue
            if name not in allowed or (name == "project" and not creating):
                errors[name] = (
                    f"Field '{name}' cannot be set. It is not on the appropriate screen, or "
                    "unknown."
                )
            elif name == "summary":
                summary = self._check_summary(value, errors)
                if summary is not None:
                    changes["summary"] = summary
            elif name == "description":
                text, adf = self._check_description(value, api, errors)
                if "description" not in errors:
                    changes["description"], changes["description_adf"] = text, adf
            elif name == "labels":
                if not isinstance(value, list):
                    errors["labels"] = "Labels must be a list of strings."
                else:
                    labels = [self._check_label(v, errors) for v in value]
                    if "labels" not in errors:
                        changes["labels"] = [lb for lb in labels if lb is not None]
            elif name == "components":
                comps = self._check_components(value, project, errors)
                if comps is not None:
                    changes["components"] = comps
            elif name == "priority":
                prio = self._check_priority(value, errors)
                if prio is not None:
                    changes["priority"] = prio
            elif name == "issuetype":
                tid, tname = self._ref(value)
                found = next(
                    (
                        t
                        for t in project.issue_types
                        if t == tname or self._state.issue_type_ids.get(t) == tid
                    ),
                    None,
                )
                if found is None:
                    errors["issuetype"] = "Specify a valid issue type"
                else:
                    changes["issuetype"] = found
            elif name in self._custom_fields:
                custom = dict(current.custom_fields) if current else {}
                custom.update(changes.get("custom_fields", {}))
                custom[name] = copy.deepcopy(value)
                changes["custom_fields"] = custom

        for name, ops in update.items():
            if name in both:
                continue
            if name not in ("labels", "components", "summary", "description", "priority"):
                errors[name] = (
                    f"Field '{name}' cannot be set. It is not on the appropriate screen, or "
                    "unknown."
                )
                continue
            if not isinstance(ops, list):
                errors[name] = f"Operations on '{name}' must be a list."
                continue
            for op in ops:
                if not isinstance(op, dict) or len(op) != 1:
                    errors[name] = f"Each operation on '{name}' must have exactly one verb."
                    break
                verb, arg = next(iter(op.items()))
                if name in ("labels", "components"):
                    base_list: list[str] = list(
                        changes.get(name, getattr(current, name) if current else [])
                    )
                    if verb == "set":
                        if name == "labels":
                            if not isinstance(arg, list):
                                errors[name] = "Labels must be a list of strings."
                                break
                            new = [self._check_label(v, errors) for v in arg]
                            base_list = [x for x in new if x is not None]
                        else:
                            comps = self._check_components(arg, project, errors)
                            base_list = comps or []
                    elif verb in ("add", "remove"):
                        if name == "labels":
                            item = self._check_label(arg, errors)
                        else:
                            got = self._check_components([arg], project, errors)
                            item = got[0] if got else None
                        if item is None:
                            break
                        if verb == "add" and item not in base_list:
                            base_list.append(item)
                        if verb == "remove":
                            base_list = [x for x in base_list if x != item]
                    else:
                        errors[name] = f"Operation '{verb}' is not supported for '{name}'."
                        break
                    if name not in errors:
                        changes[name] = base_list
                elif verb != "set":
                    errors[name] = f"Operation '{verb}' is not supported for '{name}'."
                    break
                elif name == "summary":
                    summary = self._check_summary(arg, errors)
                    if summary is not None:
                        changes["summary"] = summary
                elif name == "description":
                    text, adf = self._check_description(arg, api, errors)
                    if "description" not in errors:
                        changes["description"], changes["description_adf"] = text, adf
                elif name == "priority":
                    prio = self._check_priority(arg, errors)
                    if prio is not None:
                        changes["priority"] = prio
        return changes, errors

    # ------------------------------------------------------------------ handlers
    def _h_create_issue(self, req: _Req) -> _Resp:
        body = self._json(req)
        if not isinstance(body, dict):
            return _error(400, "Can not deserialize the request body: not an object.")
        fields = body.get("fields")
        if not isinstance(fields, dict):
            fields = {}
        with self._state.lock:
            errors: dict[str, str] = {}
            pref = fields.get("project")
            ident = None
            if isinstance(pref, dict):
                raw_ident = pref.get("key", pref.get("id"))
                ident = str(raw_ident) if raw_ident is not None else None
            project = self._state.project(ident) if ident else None
            if project is None or not self.faults.can_browse(project.key):
                errors["project"] = "Specify a valid project ID or key"
                if "summary" not in fields:
                    errors["summary"] = "You must specify a summary of the issue."
                if "issuetype" not in fields:
                    errors["issuetype"] = "Specify an issue type"
                return _error(400, errors=errors)
            if not self.faults.can_write(project.key):
                return _error(403, "You do not have permission to create issues in this project.")
            changes, errors = self._apply(body, req.api, project=project, current=None)
            if "summary" not in changes and "summary" not in errors:
                errors["summary"] = "You must specify a summary of the issue."
            if "issuetype" not in changes and "issuetype" not in errors:
                errors["issuetype"] = "Specify an issue type"
            properties = self._check_properties(body.get("properties"))
            if errors:
                return _error(400, errors=errors)
            fault = self.faults.take("create")
            if fault in ("fail_500", "drop"):
                return _Resp(
                    500,
                    {"errorMessages": ["Internal server error"], "errors": {}},
                    drop=fault == "drop",
                    fault=True,
                )
            rec = self._state.create(
                project,
                issuetype=changes["issuetype"],
                summary=changes["summary"],
                description=changes.get("description"),
                description_adf=changes.get("description_adf"),
                labels=changes.get("labels", []),
                components=changes.get("components", []),
                priority=changes.get("priority", "Medium"),
                properties=properties,
                custom_fields=changes.get("custom_fields"),
            )
        if fault == "commit_then_500":
            return _Resp(
                500, {"errorMessages": ["Internal server error"], "errors": {}}, fault=True
            )
        if fault == "commit_then_drop":
            return _Resp(500, drop=True, fault=True)
        return _Resp(
            201,
            {
                "id": rec.id,
                "key": rec.key,
                "self": f"{self._base()}/rest/api/{req.api}/issue/{rec.id}",
            },
        )

    def _h_get_issue(self, req: _Req, k: str) -> _Resp:
        with self._state.lock:
            issue = self._visible_issue(k)
            return _Resp(
                200,
                self._render_issue(
                    issue.record, req.api, req.q("fields"), "*all", req.q("properties")
                ),
            )

    def _h_edit_issue(self, req: _Req, k: str) -> _Resp:
        body = self._json(req)
        with self._state.lock:
            issue = self._visible_issue(k)
            project = self._state.projects[issue.record.project_key]
            if not self.faults.can_write(project.key):
                return _error(403, "You do not have permission to edit issues in this project.")
            changes, errors = self._apply(body, req.api, project=project, current=issue.record)
            props = self._check_properties(body.get("properties"))
            if errors:
                return _error(400, errors=errors)
            fault = self.faults.take("edit")
            if fault in ("fail_500", "drop"):
                return _Resp(
                    500,
                    {"errorMessages": ["Internal server error"], "errors": {}},
                    drop=fault == "drop",
                    fault=True,
                )
            if props:
                merged = dict(issue.record.properties)
                merged.update(props)
                changes["properties"] = merged
            rec = self._state.update(issue, **changes)
            rendered = self._render_issue(rec, req.api, [], "*all", [])
        if fault == "commit_then_500":
            return _Resp(
                500, {"errorMessages": ["Internal server error"], "errors": {}}, fault=True
            )
        if fault == "commit_then_drop":
            return _Resp(500, drop=True, fault=True)
        if (req.q1("returnIssue") or "").lower() == "true":
            return _Resp(200, rendered)
        return _Resp(204)

    def _multipart(self, req: _Req) -> list[tuple[str, str | None, str, bytes]]:
        """(name, filename, content type, content) of each part."""
        msg = Message()
        msg["content-type"] = req.content_type
        boundary = msg.get_param("boundary")
        if not isinstance(boundary, str) or not boundary:
            return []
        delimiter = b"\r\n--" + boundary.encode("latin-1")
        chunks = (b"\r\n" + req.body).split(delimiter)
        parts: list[tuple[str, str | None, str, bytes]] = []
        for chunk in chunks[1:]:
            if chunk.startswith(b"--"):
                break
            chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk
            head, _sep, content = chunk.partition(b"\r\n\r\n")
            headers = Message()
            for line in head.decode("utf-8", "replace").split("\r\n"):
                if ":" in line:
                    hname, hvalue = line.split(":", 1)
                    headers[hname.strip()] = hvalue.strip()
            name = headers.get_param("name", header="content-disposition")
            filename = headers.get_filename()
            parts.append(
                (
                    name if isinstance(name, str) else "",
                    filename,
                    headers.get_content_type()
                    if "content-type" in headers
                    else "application/octet-stream",
                    content,
                )
            )
        return parts

    def _h_add_attachment(self, req: _Req, k: str) -> _Resp:
        if req.headers.get("x-atlassian-token", "").lower() not in ("no-check", "nocheck"):
            return _Resp(403, raw=b"XSRF check failed", content_type="text/plain;charset=UTF-8")
        if req.media_type != "multipart/form-data":
            return _error(415, "Unsupported Media Type")
        files = [p for p in self._multipart(req) if p[0] == "file"]
        if not files:
            return _error(400, "No attachment found: the multipart part must be named 'file'.")
        with self._state.lock:
            issue = self._visible_issue(k)
            if not self.faults.can_write(issue.record.project_key):
                return _error(
                    403, "You do not have permission to create attachments for this issue."
                )
            for _name, filename, _ctype, content in files:
                if len(content) > self._attachment_max:
                    return _error(
                        413,
                        f"The file '{filename}' is too large: the maximum attachment size is "
                        f"{self._attachment_max} bytes.",
                    )
            new = [
                AttachmentRecord(
                    id=self._state.new_attachment_id(),
                    filename=filename or "file",
                    size=len(content),
                    mime_type=ctype,
                    content=content,
                    created=now_utc(),
                )
                for _name, filename, ctype, content in files
            ]
            self._state.update(issue, attachments=issue.record.attachments + tuple(new))
        author = self._identity.details(self._base(), req.api, self._cloud)
        return _Resp(
            200,
            [
                render.attachment_json(
                    self._base(), req.api, a, author, cloud=self._cloud, spec_time=True
                )
                for a in new
            ],
        )

    def _h_attachment_content(self, req: _Req, a: str) -> _Resp:
        with self._state.lock:
            for issue in self._state.issues.values():
                for att in issue.record.attachments:
                    if att.id == a and self.faults.can_browse(issue.record.project_key):
                        return _Resp(200, raw=att.content, content_type=att.mime_type)
        return _error(404, "The attachment does not exist.")

    def _h_add_comment(self, req: _Req, k: str) -> _Resp:
        body = self._json(req)
        if not isinstance(body, dict) or "body" not in body:
            return _error(400, errors={"comment": "Comment body can not be empty!"})
        errors: dict[str, str] = {}
        text, adf = self._check_description(body["body"], req.api, errors)
        if errors or not text:
            return _error(
                400, errors={"comment": errors.get("description", "Comment body can not be empty!")}
            )
        with self._state.lock:
            issue = self._visible_issue(k)
            comment = CommentRecord(self._state.new_comment_id(), text, adf, now_utc())
            self._state.update(issue, comments=(*issue.record.comments, comment))
            author = self._identity.details(self._base(), req.api, self._cloud)
            return _Resp(
                201,
                render.comment_json(
                    self._base(), req.api, issue.record.id, comment, author, spec_time=True
                ),
            )

    def _h_get_comments(self, req: _Req, k: str) -> _Resp:
        with self._state.lock:
            issue = self._visible_issue(k)
            author = self._identity.details(self._base(), req.api, self._cloud)
            comments = [
                render.comment_json(
                    self._base(), req.api, issue.record.id, c, author, spec_time=True
                )
                for c in issue.record.comments
            ]
        start = int(req.q1("startAt") or 0)
        size = int(req.q1("maxResults") or 100)
        page = comments[start : start + size]
        return _Resp(
            200, {"startAt": start, "maxResults": size, "total": len(comments), "comments": page}
        )

    # -------------------------------------------------------------------- search
    def _jql_context(self, *, consistent_keys: bool = True) -> _jql.JqlContext:
        projects = {
            key: (p.id, p.name)
            for key, p in self._state.projects.items()
            if self.faults.can_browse(key)
        }
        keys: dict[str, str] = {}
        if consistent_keys:
            for issue in self._state.issues.values():
                if issue.record.project_key in projects:
                    keys[issue.record.key.upper()] = issue.record.id
                    keys[issue.record.id] = issue.record.id
        return _jql.JqlContext(
            projects=projects,
            issue_keys=keys,
            now=now_utc(),
            indexed_properties=self._indexed_properties,
        )

    def _run_jql(self, jql: str, reconcile: Collection[str], *, bounded: bool) -> list[IssueRecord]:
        """Issues matching ``jql`` as the (lagging) index sees them, sorted."""
        try:
            query = _jql.parse(jql)
            if bounded and not _jql.is_bounded(query):
                raise _jql.JqlError(
                    "Unbounded JQL queries are not allowed here. Please add a search "
                    "restriction to your query."
                )
            with self._state.lock:
                ctx = self._jql_context()
                predicate, sorter = _jql.compile_query(query, ctx)
                views: list[IssueRecord] = []
                for issue in self._state.issues.values():
                    if issue.record.project_key not in ctx.projects:
                        continue
                    view = self._state.indexed_view(issue, issue.record.id in reconcile)
                    if view is not None and predicate(view):
                        views.append(view)
        except _jql.JqlError as exc:
            raise _Reject(_error(400, str(exc))) from None
        return sorter(views)

    def _search_args(self, req: _Req) -> dict[str, Any]:
        if req.method == "GET":
            return {
                "jql": req.q1("jql") or "",
                "nextPageToken": req.q1("nextPageToken"),
                "maxResults": req.q1("maxResults"),
                "startAt": req.q1("startAt"),
                "fields": req.q("fields"),
                "properties": req.q("properties"),
                "reconcileIssues": req.q_list("reconcileIssues"),
            }
        body = self._json(req)
        if not isinstance(body, dict):
            raise _Reject(_error(400, "Can not deserialize the request body: not an object."))

        def as_list(v: Any) -> list[str]:
            if v is None:
                return []
            if isinstance(v, str):
                return [v]
            return [str(x) for x in v] if isinstance(v, list) else [str(v)]

        return {
            "jql": body.get("jql") or "",
            "nextPageToken": body.get("nextPageToken"),
            "maxResults": body.get("maxResults"),
            "startAt": body.get("startAt"),
            "fields": as_list(body.get("fields")),
            "properties": as_list(body.get("properties")),
            "reconcileIssues": as_list(body.get("reconcileIssues")),
        }

    @staticmethod
    def _int(value: Any, name: str, default: int) -> int:
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _Reject(
                _error(400, f"The value '{value}' is not valid for parameter '{name}'.")
            ) from None

    def _search_item(
        self,
        rec: IssueRecord,
        api: str,
        fields: Sequence[str],
        default: str,
        properties: Sequence[str],
    ) -> dict[str, Any]:
        items = [i.strip() for f in fields for i in f.split(",") if i.strip()] or [default]
        if set(items) <= {"id"}:
            return {"id": rec.id}
        return self._render_issue(rec, api, fields, default, properties)

    def _h_search_jql(self, req: _Req) -> _Resp:
        args = self._search_args(req)
        jql = str(args["jql"])
        reconcile = {str(x) for x in args["reconcileIssues"]}
        if len(reconcile) > RECONCILE_MAX:
            return _error(
                400, f"The reconcileIssues list can contain at most {RECONCILE_MAX} issue ids."
            )
        props = [p for v in args["properties"] for p in v.split(",") if p.strip()]
        if len(props) > SEARCH_PROPERTIES_MAX:
            return _error(
                400, f"At most {SEARCH_PROPERTIES_MAX} issue properties can be requested."
            )
        fields = list(args["fields"])
        items = {i.strip() for f in fields for i in f.split(",") if i.strip()} or {"id"}
        cap = 5000 if items <= {"id", "key"} else self._search_max
        size = max(1, min(cap, self._int(args["maxResults"], "maxResults", 50)))
        digest = hashlib.sha256(jql.encode()).hexdigest()[:12]
        offset = 0
        token = args["nextPageToken"]
        if token:
            try:
                data = _unb64(str(token))
                offset = int(data["o"])
                if data.get("q") != digest or offset < 0:
                    raise ValueError("token of another query")
            except (ValueError, KeyError, TypeError, binascii.Error):
                return _error(400, "The provided next page token is invalid or expired.")
        found = self._run_jql(jql, reconcile, bounded=True)
        page = found[offset : offset + size]
        with self._state.lock:
            issues = [self._search_item(r, req.api, fields, "id", props) for r in page]
        out: dict[str, Any] = {"issues": issues}
        if offset + size < len(found):
            out["nextPageToken"] = _b64({"o": offset + size, "q": digest})
            out["isLast"] = False
        else:
            out["isLast"] = True
        return _Resp(200, out)

    def _h_approximate_count(self, req: _Req) -> _Resp:
        body = self._json(req)
        jql = body.get("jql", "") if isinstance(body, dict) else ""
        found = self._run_jql(str(jql or ""), (), bounded=True)
        return _Resp(200, {"count": len(found)})

    def _h_search_v2(self, req: _Req) -> _Resp:
        args = self._search_args(req)
        start = max(0, self._int(args["startAt"], "startAt", 0))
        size = max(0, min(self._dc_search_max, self._int(args["maxResults"], "maxResults", 50)))
        found = self._run_jql(str(args["jql"]), (), bounded=False)
        page = found[start : start + size]
        props = list(args["properties"])
        with self._state.lock:
            issues = [
                self._render_issue(r, req.api, args["fields"], "*navigable", props) for r in page
            ]
        return _Resp(
            200,
            {
                "expand": "schema,names",
                "startAt": start,
                "maxResults": size,
                "total": len(found),
                "issues": issues,
            },
        )

    # ------------------------------------------------------------------ metadata
    def _browsable_project(self, ident: str) -> _Project:
        project = self._state.project(ident)
        if project is None or not self.faults.can_browse(project.key):
            raise _Reject(_error(404, f"No project could be found with key '{ident}'."))
        return project

    def _h_get_project(self, req: _Req, p: str) -> _Resp:
        base = self._base()
        with self._state.lock:
            project = self._browsable_project(p)
            lead = self._identity.myself(base, req.api, self._cloud)
            lead.pop("groups", None)
            lead.pop("applicationRoles", None)
            lead.pop("expand", None)
            out = render.project_ref(base, req.api, project.id, project.key, project.name)
            out.update(
                {
                    "description": "",
                    "lead": lead,
                    "components": [
                        {
                            **render.component_json(base, req.api, cid, cname),
                            "isAssigneeTypeValid": False,
                        }
                        for cname, cid in project.components.items()
                    ],
                    "issueTypes": [
                        render.issue_type_json(base, req.api, t, self._state.issue_type_ids[t])
                        for t in project.issue_types
                    ],
                    "assigneeType": "UNASSIGNED",
                    "versions": [],
                    "roles": {},
                    "style": "classic",
                    "isPrivate": False,
                    "properties": {},
                }
            )
        return _Resp(200, out)

    def _h_createmeta(self, req: _Req, p: str) -> _Resp:
        base = self._base()
        with self._state.lock:
            project = self._browsable_project(p)
            # Jira lists only the issue types this user may create (none without the
            # project's Create Issues permission).
            creatable = project.issue_types if self.faults.can_write(project.key) else []
            types = [
                render.issue_type_json(base, req.api, t, self._state.issue_type_ids[t])
                for t in creatable
            ]
        start = max(0, self._int(req.q1("startAt"), "startAt", 0))
        size = self._int(req.q1("maxResults"), "maxResults", 50)
        if size > 200:
            return _error(400, "Parameter 'maxResults' must not exceed the limit '200'")
        page = types[start : start + max(size, 0)]
        if self._cloud:
            return _Resp(
                200,
                {"issueTypes": page, "maxResults": size, "startAt": start, "total": len(types)},
            )
        return _Resp(
            200,
            {
                "maxResults": size,
                "startAt": start,
                "total": len(types),
                "isLast": start + len(page) >= len(types),
                "values": page,
            },
        )

    def _h_get_fields(self, req: _Req) -> _Resp:
        system = {
            "summary": ("Summary", "string", None),
            "description": ("Description", "string", None),
            "labels": ("Labels", "array", "string"),
            "issuetype": ("Issue Type", "issuetype", None),
            "project": ("Project", "project", None),
            "components": ("Components", "array", "component"),
            "priority": ("Priority", "priority", None),
            "status": ("Status", "status", None),
            "created": ("Created", "datetime", None),
            "updated": ("Updated", "datetime", None),
            "attachment": ("Attachment", "array", "attachment"),
            "comment": ("Comment", "comments-page", None),
        }
        out: list[dict[str, Any]] = []
        for fid, (name, ftype, items) in system.items():
            schema: dict[str, Any] = {"type": ftype, "system": fid}
            if items:
                schema["items"] = items
            out.append(
                {
                    "id": fid,
                    "key": fid,
                    "name": name,
                    "custom": False,
                    "orderable": True,
                    "navigable": fid not in render.NOT_NAVIGABLE,
                    "searchable": True,
                    "clauseNames": [fid],
                    "schema": schema,
                }
            )
        for fid, name in self._custom_fields.items():
            out.append(
                {
                    "id": fid,
                    "key": fid,
                    "name": name,
                    "custom": True,
                    "orderable": True,
                    "navigable": True,
                    "searchable": True,
                    "clauseNames": [f"cf[{fid.rsplit('_', 1)[-1]}]", name],
                    "schema": {
                        "type": "any",
                        "custom": "emulator:any",
                        "customId": int(fid.rsplit("_", 1)[-1])
                        if fid.rsplit("_", 1)[-1].isdigit()
                        else 0,
                    },
                }
            )
        return _Resp(200, out)

    def _h_myself(self, req: _Req) -> _Resp:
        return _Resp(200, self._identity.myself(self._base(), req.api, self._cloud))

    def _h_server_info(self, req: _Req) -> _Resp:
        now = now_utc()
        if self._cloud:
            version, numbers, deployment = "1001.0.0-SNAPSHOT", [1001, 0, 0], "Cloud"
        else:
            version, numbers, deployment = "9.12.15", [9, 12, 15], self._dc_deployment_type
        return _Resp(
            200,
            {
                "baseUrl": self._base(),
                "displayUrl": self._base(),
                "version": version,
                "versionNumbers": numbers,
                "deploymentType": deployment,
                "buildNumber": 100282,
                "buildDate": render.rfc3339(now.replace(hour=0, minute=0, second=0)),
                "serverTime": render.rfc3339(now),
                "scmInfo": "57a0ca5b4a0bb0ac5f3fee4764acb1c14e4d7e71",
                "serverTitle": "Jira (emulated)",
            },
        )
