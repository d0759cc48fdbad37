"""The control API: the test's levers over HTTP, under ``/_emulator/`` (never a Graph path).

For a test whose emulator runs in another process (or a shell script): every
lever of `Levers` has a call here. No authentication, no throttling, no
OpenAPI check; bodies and answers are JSON (a seeded message's MIME may also be
sent as it is, ``Content-Type: message/rfc822``). ``{mb}`` is a mailbox's UPN or
object id; ``{id}`` a message's REST or immutable id.

=============  ==========================================  ===================================
method         path                                        what
=============  ==========================================  ===================================
GET, POST      /_emulator/mailboxes                        list; add ``{"upn", "enabled"}``
GET, POST      /_emulator/mailboxes/{mb}/folders           list; make ``{"path", "hidden"}``
GET            /_emulator/mailboxes/{mb}/messages          ``?folder=inbox`` (default), oldest
                                                           first
POST           /_emulator/mailboxes/{mb}/messages          seed: MIME as the body (with
                                                           ``?folder=&received=&is_read=``), or
                                                           ``{"mime_base64", "folder",
                                                           "received", "is_read", "categories"}``
GET            /_emulator/mailboxes/{mb}/messages/{id}     one message (404 when gone)
GET            /_emulator/mailboxes/{mb}/messages/{id}/mime  its MIME (``message/rfc822``)
PATCH          /_emulator/mailboxes/{mb}/messages/{id}     ``{"is_read", "categories",
                                                           "extended": {id: value}}``
POST           /_emulator/mailboxes/{mb}/messages/{id}/move  ``{"folder"}``
DELETE         /_emulator/mailboxes/{mb}/messages/{id}     for good; ``?permanent=false``: into
                                                           Deleted Items
GET            /_emulator/mailboxes/{mb}/purged            messages deleted for good
POST           /_emulator/tokens                           ``{"app_id", "roles", "lifetime",
                                                           …claims}`` -> a token response
GET, POST      /_emulator/keys                             the signing key; trust
                                                           ``{"public_pem", "kid"}``
PUT, DELETE    /_emulator/policies/{app_id}                ``{"mailboxes", "access_right"}``
GET, PUT       /_emulator/throttling                       `Throttling`'s fields
GET            /_emulator/usage                            ``?app_id=&mailbox=``
GET, PUT       /_emulator/settings                         ``{"paging", "page_size",
                                                           "max_page_size", "if_match"}``
POST           /_emulator/faults                           ``{"operation", "mode", "times"}``
POST           /_emulator/faults/{kind}                    ``throttle``, ``unavailable``
                                                           (``{"requests", "retry_after"}``),
                                                           ``gateway_timeout`` (``{"requests"}``),
                                                           ``slow`` (``{"requests", "seconds"}``)
DELETE         /_emulator/faults                           clear every scheduled fault
GET, DELETE    /_emulator/violations                       ``{"violations", "unvalidated"}``
=============  ==========================================  ===================================

A bad call is answered 400 with ``{"message": ...}``, an unknown mailbox or
message 404.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from .config import MailboxConfig
from .levers import Levers
from .state import FolderRecord, MessageRecord
from .wire import GraphRequest, GraphResponse

__all__ = ["PREFIX", "handle"]

PREFIX = "/_emulator/"

Lever = Callable[[Levers, GraphRequest, dict[str, str]], GraphResponse]


class _Bad(Exception):
    pass


def _ok(body: Any = None, status: int = 200) -> GraphResponse:
    return GraphResponse(
        status, body if body is not None else {"ok": True}, content_type="application/json"
    )


def _need(body: dict[str, Any], name: str) -> Any:
    if name not in body:
        raise _Bad(f"the body lacks {name!r}")
    return body[name]


def _body(req: GraphRequest) -> dict[str, Any]:
    if not req.body.strip():
        return {}
    try:
        body = json.loads(req.body)
    except ValueError as exc:
        raise _Bad(f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise _Bad("the body must be a JSON object")
    return body


def message_json(rec: MessageRecord) -> dict[str, Any]:
    out = dataclasses.asdict(rec)
    out.pop("mime")
    out["size"] = len(rec.mime)
    out["categories"] = list(rec.categories)
    out["extended"] = dict(rec.extended)
    return out


def folder_json(rec: FolderRecord) -> dict[str, Any]:
    return dataclasses.asdict(rec)


def _mailboxes(lv: Levers, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
    if req.method == "POST":
        body = _body(req)
        lv.add_mailbox(
            MailboxConfig(str(_need(body, "upn")), enabled=bool(body.get("enabled", True)))
        )
    boxes = lv.site.state.mailboxes.values()
    return _ok(
        {
            "mailboxes": [
                {"upn": b.upn, "id": b.object_id, "enabled": b.config.enabled} for b in boxes
            ]
        }
    )


def _folders(lv: Levers, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
    if req.method == "POST":
        body = _body(req)
        made = lv.create_folder(
            str(_need(body, "path")), mailbox=p["mb"], hidden=bool(body.get("hidden", False))
        )
        return _ok(folder_json(made), 201)
    return _ok({"folders": [folder_json(f) for f in lv.folders(mailbox=p["mb"])]})


def _messages(lv: Levers, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
    if req.method == "GET":
        found = lv.messages(req.q1("folder") or "inbox", mailbox=p["mb"])
        return _ok({"messages": [message_json(m) for m in found]})
    if req.media_type == "message/rfc822":
        mime = req.body
        options: dict[str, Any] = {k: v for k, v in req.query}
        options["categories"] = req.q_list("categories")
    else:
        options = _body(req)
        mime = base64.b64decode(str(options.get("mime_base64", "")))
    if not mime:
        raise _Bad("no MIME given")
    received = options.get("received")
    rec = lv.seed_message(
        mime,
        mailbox=p["mb"],
        folder=str(options.get("folder", "inbox")),
        received=float(received) if received not in (None, "") else None,
        is_read=str(options.get("is_read", "false")).lower() == "true",
        categories=list(options.get("categories") or []),
    )
    return _ok(message_json(rec), 201)


def _message(lv: Levers, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
    if req.method == "DELETE":
        permanent = (req.q1("permanent") or "true").lower() != "false"
        lv.delete_message(p["id"], mailbox=p["mb"], permanent=permanent)
        return _ok()
    if req.method == "PATCH":
        body = _body(req)
        rec = lv.update_message(
            p["id"],
            mailbox=p["mb"],
            is_read=body.get("is_read"),
            categories=body.get("categories"),
            extended=body.get("extended"),
        )
        return _ok(message_json(rec))
    return _ok(message_json(lv.message(p["id"], mailbox=p["mb"])))


def _mime(lv: Levers, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
    rec = lv.message(p["id"], mailbox=p["mb"])
    return GraphResponse(200, raw=rec.mime, content_type="message/rfc822")


def _move(lv: Levers, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
    rec = lv.move_message(p["id"], str(_need(_body(req), "folder")), mailbox=p["mb"])
    return _ok(message_json(rec))


def _purged(lv: Levers, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
    return _ok({"messages": [message_json(m) for m in lv.purged(mailbox=p["mb"])]})


def _tokens(lv: Levers, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
    body = _body(req)
    lifetime = int(body.pop("lifetime", 3599))
    token = lv.make_token(**body, lifetime=lifetime)
    return _ok(
        {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }
    )


def _keys(lv: Levers, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
    if req.method == "POST":
        body = _body(req)
        lv.trust_key(str(_need(body, "public_pem")), body.get("kid"))
    key = lv.signing_key
    return _ok({"kid": key.kid, "public_pem": key.public_pem, "tenant_id": lv.authority.tenant_id})


def _policy(lv: Levers, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
    if req.method == "DELETE":
        lv.set_policy(p["app_id"], None)
        return _ok()
    body = _body(req)
    lv.set_policy(
        p["app_id"], list(_need(body, "mailboxes")), body.get("access_right", "RestrictAccess")
    )
    return _ok()


def _throttling(lv: Levers, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
    if req.method == "PUT":
        lv.throttling = dataclasses.replace(lv.throttling, **_body(req))
    return _ok(dataclasses.asdict(lv.throttling))


def _usage(lv: Levers, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
    kwargs: dict[str, Any] = {}
    if req.q1("app_id"):
        kwargs["app_id"] = req.q1("app_id")
    return _ok(dataclasses.asdict(lv.usage(mailbox=req.q1("mailbox"), **kwargs)))


def _settings(lv: Levers, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
    settings = lv.settings
    if req.method == "PUT":
        changes = _body(req)
        known = {f.name for f in dataclasses.fields(settings)}
        if set(changes) - known:
            raise _Bad(f"unknown settings {sorted(set(changes) - known)}; known: {sorted(known)}")
        if changes.get("paging", settings.paging) not in ("skip", "skiptoken"):
            raise _Bad("paging is 'skip' or 'skiptoken'")
        if changes.get("if_match", settings.if_match) not in ("ignore", "enforce"):
            raise _Bad("if_match is 'ignore' or 'enforce'")
        for name, value in changes.items():
            setattr(settings, name, value)
    return _ok(dataclasses.asdict(settings))


def _fault(lv: Levers, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
    body = _body(req)
    kind = p.get("kind")
    requests = int(body.get("requests", 1))
    if kind is None:
        lv.faults.fail_next(
            str(_need(body, "operation")), str(_need(body, "mode")), int(body.get("times", 1))
        )
    elif kind == "throttle":
        lv.faults.throttle(requests, retry_after=body.get("retry_after", 30))
    elif kind == "unavailable":
        lv.faults.unavailable(requests, retry_after=body.get("retry_after"))
    elif kind == "gateway_timeout":
        lv.faults.gateway_timeout(requests)
    elif kind == "slow":
        lv.faults.slow(requests, float(_need(body, "seconds")))
    else:
        raise _Bad(f"no fault kind {kind!r}")
    return _ok()


def _clear_faults(lv: Levers, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
    lv.faults.clear()
    return _ok()


def _violations(lv: Levers, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
    if req.method == "DELETE":
        lv.clear_violations()
        return _ok()
    return _ok({"violations": [str(v) for v in lv.violations], "unvalidated": lv.unvalidated})


_MB = r"mailboxes/(?P<mb>[^/]+)"
_LEVERS: tuple[tuple[frozenset[str], re.Pattern[str], Lever], ...] = tuple(
    (frozenset(methods.split()), re.compile(f"^{PREFIX}{pattern}/?$"), lever)
    for methods, pattern, lever in (
        ("GET POST", r"mailboxes", _mailboxes),
        ("GET POST", _MB + r"/folders", _folders),
        ("GET POST", _MB + r"/messages", _messages),
        ("GET PATCH DELETE", _MB + r"/messages/(?P<id>[^/]+)", _message),
        ("GET", _MB + r"/messages/(?P<id>[^/]+)/mime", _mime),
        ("POST", _MB + r"/messages/(?P<id>[^/]+)/move", _move),
        ("GET", _MB + r"/purged", _purged),
        ("POST", r"tokens", _tokens),
        ("GET POST", r"keys", _keys),
        ("PUT DELETE", r"policies/(?P<app_id>[^/]+)", _policy),
        ("GET PUT", r"throttling", _throttling),
        ("GET", r"usage", _usage),
        ("GET PUT", r"settings", _settings),
        ("POST", r"faults", _fault),
        ("POST", r"faults/(?P<kind>[a-z_]+)", _fault),
        ("DELETE", r"faults", _clear_faults),
        ("GET DELETE", r"violations", _violations),
    )
)


def handle(levers: Levers, req: GraphRequest) -> GraphResponse:
    """Answer a control call."""
    for methods, pattern, lever in _LEVERS:
        m = pattern.match(req.raw_path)
        if m is not None and req.method in methods:
            params = {k: unquote(v) for k, v in m.groupdict().items() if v is not None}
            try:
                return lever(levers, req, params)
            except KeyError as exc:
                return _ok({"message": f"not found: {exc}"}, 404)
            except (_Bad, TypeError, ValueError) as exc:
                return _ok({"message": f"{type(exc).__name__}: {exc}"}, 400)
    return _ok({"message": f"no control call {req.method} {req.path}"}, 404)
