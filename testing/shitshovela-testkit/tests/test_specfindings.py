"""What an emulator's OpenAPI checks found: recorded thread-safe, and failing the test that asks."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from shitshovela_testkit.openapicheck import Operation, SpecCall
from shitshovela_testkit.specfindings import CheckedEmulator, SpecFindings, Violation
from shitshovela_testkit.standin import Request

pytestmark = pytest.mark.unit


@dataclass
class Req:
    method: str
    path: str


GET = Req("GET", "/things/1")


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    name: str
    unvalidated: str | None = None


CREATE = Route("POST", "/things", "create_thing")
PURGE = Route("POST", "/things/purge", "purge", unvalidated="not in the excerpt")
RENAME = Route("PATCH", "/things/{id}", "rename_thing")


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.openapi.json"
    thing = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
    create = {
        "operationId": "createThing",
        "requestBody": {"content": {"application/json": {"schema": thing}}},
        "responses": {"201": {"description": "made"}},
    }
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "servers": [{"url": "https://things.example.com/api/"}],
        "paths": {"/things": {"post": create}},
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def post(body: bytes, path: str = "/api/things") -> Request:
    headers = {"content-type": "application/json", "x-trace": "1"}
    return Request("POST", path, path, [("dry", "1")], headers, body)


def test_without_a_spec_nothing_is_checked_and_only_crashes_are_recorded() -> None:
    findings = SpecFindings(None)
    assert findings.validator is None
    findings.note_unvalidated(GET, "not in the excerpt")
    findings.record_crash(GET, RuntimeError("boom"))
    assert findings.unvalidated == []
    assert findings.violations == [
        Violation("emulator", "GET", "/things/1", "-", "RuntimeError('boom')", 500)
    ]


def test_violations_and_unvalidated_requests_are_kept_until_cleared(spec_file: Path) -> None:
    findings = SpecFindings(spec_file)
    assert findings.validator is not None
    messages = findings.violate("response", GET, "getThing", ["one", "two"], 200)
    assert messages == ["one", "two"]
    assert findings.violate("request", GET, "getThing", []) == []
    findings.note_unvalidated(GET, "not in the excerpt")
    assert [str(v) for v in findings.violations] == [
        "response GET /things/1 (getThing) [status 200]: one",
        "response GET /things/1 (getThing) [status 200]: two",
    ]
    findings.clear()
    assert findings.violations == []
    assert findings.unvalidated == ["GET /things/1: not in the excerpt"]
    findings.forget_unvalidated()
    assert findings.unvalidated == []


def test_findings_from_many_threads_are_all_kept() -> None:
    findings = SpecFindings(None)
    start = threading.Barrier(8)

    def record(n: int) -> None:
        start.wait()
        for i in range(500):
            findings.violate("request", GET, f"op{n}", [str(i)])

    threads = [threading.Thread(target=record, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(findings.violations) == 8 * 500


class Emulator(CheckedEmulator):
    described_as = "Things' OpenAPI description"

    def __init__(self) -> None:
        self.spec = SpecFindings(None)


def test_a_test_fails_listing_every_violation_until_they_are_cleared() -> None:
    emulator = Emulator()
    emulator.assert_no_violations()
    emulator.spec.violate("request", GET, "getThing", ["'id' is a required property"])
    emulator.spec.record_crash(Req("POST", "/things"), KeyError("x"))
    assert emulator.violations == emulator.spec.violations and len(emulator.violations) == 2
    with pytest.raises(AssertionError) as caught:
        emulator.assert_no_violations()
    assert str(caught.value) == (
        "2 request/response(s) do not match Things' OpenAPI description "
        "(or crashed the emulator):\n"
        "  - request GET /things/1 (getThing): 'id' is a required property\n"
        "  - emulator POST /things (-) [status 500]: KeyError('x')"
    )
    emulator.clear_violations()
    emulator.assert_no_violations()
    assert emulator.unvalidated == []


def test_a_request_is_checked_against_the_operation_its_route_serves(spec_file: Path) -> None:
    findings = SpecFindings(spec_file)
    req = post(b'{"name": 7}')
    checked, problems = findings.check_request(req, CREATE, "/things")
    assert checked == (
        SpecCall("post", "/things", [("dry", "1")], req.headers, req.body, "application/json"),
        Operation("createThing", frozenset({"201"})),
    )
    assert len(problems) == 1 and "at 'name': 7 is not of type 'string'" in problems[0]
    (violation,) = findings.violations
    assert (violation.kind, violation.operation, violation.path) == (
        "request",
        "createThing",
        "/api/things",
    )
    assert findings.checked_answer(req, CREATE, checked) == checked


def test_a_body_given_in_place_of_the_requests_own_is_the_one_checked(spec_file: Path) -> None:
    findings = SpecFindings(spec_file)
    checked, problems = findings.check_request(
        post(b'{"Name": "x"}'), CREATE, "/things", body=b'{"name": "x"}'
    )
    assert problems == [] and checked is not None and checked[0].body == b'{"name": "x"}'


def test_a_route_answered_unchecked_is_listed_and_one_the_excerpt_lacks_is_a_violation(
    spec_file: Path,
) -> None:
    findings = SpecFindings(spec_file)
    purge = post(b"{}", "/api/things/purge")
    assert findings.check_request(purge, PURGE, "/things/purge") == (None, [])
    assert findings.checked_answer(purge, PURGE, None) is None
    lost = post(b"{}", "/api/nowhere")
    assert findings.check_request(lost, None, "/nowhere") == (None, [])
    assert findings.checked_answer(lost, None, None) is None
    assert findings.unvalidated == [
        "POST /api/things/purge: not in the excerpt",
        "POST /api/nowhere: no such operation in the emulator",
    ]
    assert findings.violations == []
    rename = Request("PATCH", "/api/things/1", "/api/things/1", [], {}, b"{}")
    checked, problems = findings.check_request(rename, RENAME, "/things/1")
    assert checked is None
    assert problems == ["the route PATCH /things/{id} is not in the excerpt"]
    assert [(v.kind, v.operation) for v in findings.violations] == [("emulator", "rename_thing")]


def test_without_a_spec_no_request_or_answer_is_checked() -> None:
    findings = SpecFindings(None)
    req = post(b'{"name": 7}')
    assert findings.check_request(req, CREATE, "/things") == (None, [])
    assert findings.checked_answer(req, CREATE, None) is None
    assert findings.unvalidated == [] and findings.violations == []
