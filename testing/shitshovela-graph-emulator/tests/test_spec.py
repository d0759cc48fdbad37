"""The OpenAPI checks: a client or the emulator breaking Graph's description fails loudly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from shitshovela_graph_emulator import (
    DEFAULT_MAILBOX,
    NOT_IN_EXCERPT,
    ROUTES,
    GraphEmulator,
    build_mime,
    routes,
)
from shitshovela_graph_emulator.wire import GraphResponse
from shitshovela_testkit.emulatorsuite import check_routes_documented, run_python

pytestmark = pytest.mark.servers

Factory = Callable[..., GraphEmulator]

ROOT = Path(__file__).resolve().parents[1]
U = f"users/{DEFAULT_MAILBOX}"


@pytest.mark.parametrize(
    ("method", "tail", "kwargs", "fragment"),
    [
        ("GET", "mailFolders/inbox/messages", {"params": {"$top": "ten"}}, "$top"),
        ("GET", "mailFolders/inbox/messages", {"params": {"$top": "-1"}}, "$top"),
        ("GET", "mailFolders/inbox/messages", {"params": {"$count": "maybe"}}, "$count"),
        (
            "PATCH",
            "messages/{id}",
            {"json": {"categories": "Claimed"}},
            "'Claimed' is not of type 'array'",
        ),
        ("PATCH", "messages/{id}", {"json": {"isRead": "yes"}}, "'yes' is not of type 'boolean'"),
        ("PATCH", "messages/{id}", {"json": {"importance": "urgent"}}, "urgent"),
        (
            "PATCH",
            "messages/{id}",
            {"json": {"singleValueExtendedProperties": [{"id": "x", "value": 5}]}},
            "5 is not of type 'string'",
        ),
        ("POST", "messages/{id}/move", {"json": {"destinationId": 5}}, "5 is not of type 'string'"),
        (
            "POST",
            "messages/{id}/microsoft.graph.copy",
            {"json": {"DestinationId": ["archive"]}},
            "is not of type 'string'",
        ),
        ("POST", "messages/{id}/move", {}, "Missing required request body"),
        ("POST", "mailFolders", {"json": {"displayName": 7}}, "7 is not of type 'string'"),
        (
            "POST",
            "mailFolders",
            {"content": b"{nope", "headers": {"Content-Type": "application/json"}},
            "deserialize",
        ),
    ],
)
def test_a_client_breaking_the_description_gets_500_and_a_recorded_violation(
    graph: GraphEmulator, method: str, tail: str, kwargs: dict[str, Any], fragment: str
) -> None:
    seeded = graph.seed_message(build_mime())
    path = f"{U}/{tail.format(id=seeded.id)}"
    with graph.client() as c:
        r = c.request(method, path, **kwargs)
    assert r.status_code == 500
    message = r.json()["error"]["message"]
    assert "the request does not match Graph's OpenAPI description" in message
    assert fragment in message
    assert graph.violations, "recorded"
    assert all(v.kind == "request" for v in graph.violations)
    assert any(fragment in v.message for v in graph.violations)
    assert graph.violations[0].method == method and graph.violations[0].path == f"/v1.0/{path}"
    record = graph.message(seeded.id)
    assert record.change_key == seeded.change_key and record.folder == "inbox"  # nothing changed
    assert len(graph.folders()) == 11
    assert graph.usage().requests == 1  # counted like any other request
    with pytest.raises(AssertionError, match="do not match Microsoft Graph's OpenAPI"):
        graph.assert_no_violations()
    graph.clear_violations()


def test_a_wrong_emulator_answer_is_500_and_a_recorded_violation(
    graph: GraphEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(site: Any, req: Any, **params: str) -> GraphResponse:
        resp = original(site, req, **params)
        resp.body["from"] = None  # not nullable in the excerpt
        resp.body["receivedDateTime"] = "2027-01-15 08:00:00"
        resp.body["isRead"] = "no"
        return resp

    original = routes.HANDLERS["get_message"]
    monkeypatch.setitem(routes.HANDLERS, "get_message", broken)
    seeded = graph.seed_message(build_mime())
    with graph.client() as c:
        r = c.get(f"{U}/messages/{seeded.id}")
    assert r.status_code == 500
    assert (
        "the emulator's 200 answer does not match the description" in r.json()["error"]["message"]
    )
    messages = " ".join(v.message for v in graph.violations)
    assert all(v.kind == "response" and v.operation == "user_GetMessage" for v in graph.violations)
    assert "None for not nullable" in messages
    assert "does not match" in messages and "'no' is not of type 'boolean'" in messages
    graph.clear_violations()


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        (GraphResponse(404, {"error": {"code": "ErrorItemNotFound"}}), "'message' is a required"),
        (GraphResponse(429, {"message": "slow down"}), "'error' is a required property"),
        (GraphResponse(200, raw=b"MIME", content_type="message/rfc822"), "message/rfc822"),
    ],
)
def test_error_bodies_and_media_types_are_checked_too(
    graph: GraphEmulator,
    monkeypatch: pytest.MonkeyPatch,
    answer: GraphResponse,
    fragment: str,
) -> None:
    monkeypatch.setitem(routes.HANDLERS, "get_message_content", lambda site, req, **p: answer)
    seeded = graph.seed_message(build_mime())
    with graph.client() as c:
        r = c.get(f"{U}/messages/{seeded.id}/$value")
    assert r.status_code == 500 and fragment in r.json()["error"]["message"]
    assert all(v.operation == "user_GetMessagesContent" for v in graph.violations)
    graph.clear_violations()


def test_an_emulator_crash_is_500_and_a_recorded_violation(
    graph: GraphEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(site: Any, req: Any, **params: str) -> GraphResponse:
        raise RuntimeError("boom")

    monkeypatch.setitem(routes.HANDLERS, "list_folders", crash)
    with graph.client() as c:
        r = c.get(f"{U}/mailFolders")
    assert r.status_code == 500 and "boom" in r.json()["error"]["message"]
    (violation,) = graph.violations
    assert violation.kind == "emulator" and "boom" in violation.message
    graph.clear_violations()


def test_without_validation_nothing_is_recorded_and_graph_s_own_checks_answer(
    make_graph: Factory,
) -> None:
    graph = make_graph(validate_spec=None)
    seeded = graph.seed_message(build_mime())
    with graph.client() as c:
        bad_json = c.post(
            f"{U}/mailFolders", content=b"{nope", headers={"Content-Type": "application/json"}
        )
        not_a_list = c.patch(f"{U}/messages/{seeded.id}", json={"categories": "x"})
        no_destination = c.post(f"{U}/messages/{seeded.id}/move", json={"destinationId": 5})
        bad_top = c.get(f"{U}/messages", params={"$top": "ten"})
    assert bad_json.status_code == 400 and bad_json.json()["error"]["code"] == "BadRequest"
    assert not_a_list.status_code == 400
    assert no_destination.status_code == 400
    assert bad_top.status_code == 400
    assert graph.violations == [] and graph.unvalidated == []


# ---------------------------------------------------------------- what is (not) checked


def test_every_served_operation_is_in_the_excerpt_or_documented_as_unchecked(
    spec_path: Path,
) -> None:
    served = check_routes_documented(ROUTES, spec_path, ROOT / "README.md", NOT_IN_EXCERPT)
    assert served >= {f"{route.method} {route.template}" for route in ROUTES}


def test_every_answer_of_a_checked_operation_was_checked(graph: GraphEmulator) -> None:
    seeded = graph.seed_message(build_mime(attachments=[("a.txt", b"a", "text/plain")]))
    with graph.client() as c:
        attachment = c.get(f"{U}/messages/{seeded.id}/attachments").json()["value"][0]["id"]
        folder = c.post(f"{U}/mailFolders", json={"displayName": "Done"}).json()["id"]
        answers = [
            c.get(f"{U}/mailFolders"),
            c.get(f"{U}/mailFolders/inbox"),
            c.get(f"{U}/mailFolders/inbox/childFolders"),
            c.post(f"{U}/mailFolders/inbox/childFolders", json={"displayName": "Sub"}),
            c.get(f"{U}/mailFolders/inbox/messages"),
            c.get(f"{U}/mailFolders/inbox/messages/{seeded.id}"),
            c.get(f"{U}/mailFolders/inbox/messages/{seeded.id}/$value"),
            c.get(f"{U}/messages"),
            c.get(f"{U}/messages/{seeded.id}"),
            c.patch(f"{U}/messages/{seeded.id}", json={"isRead": True}),
            c.get(f"{U}/messages/{seeded.id}/$value"),
            c.get(f"{U}/messages/{seeded.id}/attachments/{attachment}"),
            c.post(
                f"{U}/messages/{seeded.id}/microsoft.graph.copy", json={"DestinationId": folder}
            ),
            c.post(f"{U}/messages/{seeded.id}/copy", json={"destinationId": folder}),
            c.post(
                f"{U}/messages/{seeded.id}/microsoft.graph.move", json={"destinationId": folder}
            ),
            c.post(f"{U}/messages/{seeded.id}/move", json={"destinationId": "inbox"}),
            c.delete(f"{U}/messages/{seeded.id}"),
            c.get(f"{U}/messages/{seeded.id}/attachments/nope"),
        ]
    assert [r.status_code for r in answers] == [
        200,
        200,
        200,
        201,
        200,
        200,
        200,
        200,
        200,
        200,
        200,
        200,
        201,
        201,
        201,
        201,
        204,
        404,
    ]
    assert graph.unvalidated == []


def test_the_package_imports_neither_openapi_core_nor_pyjwt_and_runs_without_openapi_core() -> None:
    code = (
        "import sys; sys.modules['openapi_core'] = None\n"
        "import shitshovela_graph_emulator as g\n"
        "loaded = [m for m in ('openapi_core', 'jwt', 'cryptography') if sys.modules.get(m)]\n"
        "assert not loaded, loaded\n"
        "with g.GraphEmulator() as graph, graph.client() as c:\n"
        "    graph.seed_message(g.build_mime('x'))\n"
        f"    r = c.get('users/{DEFAULT_MAILBOX}/mailFolders/inbox/messages')\n"
        "    assert r.status_code == 200 and len(r.json()['value']) == 1, r.text\n"
        "print('ok')\n"
    )
    out = run_python(code, pythonpath=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
