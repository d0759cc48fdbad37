"""The openapi-core adapter the emulators share: operations, requests, answers, schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from shitshovela_testkit.emulatorsuite import run_python
from shitshovela_testkit.openapicheck import (
    Operation,
    SpecCall,
    SpecValidator,
    excerpt_in_checkout,
    load_validator,
)

pytestmark = pytest.mark.unit

_ID = {"name": "thing-id", "in": "path", "required": True, "schema": {"type": "string"}}


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


#: A description served below a base path (as Graph's ``/v1.0``), with a multipart upload.
SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Things", "version": "1"},
    "servers": [{"url": "https://api.example.com/v2/"}],
    "paths": {
        "/things/{thing-id}": {
            "get": {
                "operationId": "getThing",
                "parameters": [_ID],
                "responses": {
                    "200": {"description": "ok", "content": _json("Thing")},
                    "default": {"description": "error", "content": _json("Error")},
                },
            },
            "patch": {
                "operationId": "updateThing",
                "parameters": [_ID],
                "requestBody": {"required": True, "content": _json("Thing")},
                "responses": {"204": {"description": "done"}},
            },
        },
        "/things/{thing-id}/files": {
            "post": {
                "operationId": "addFile",
                "parameters": [
                    _ID,
                    {"name": "kind", "in": "query", "schema": {"enum": ["log", "image"]}},
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {"type": "object", "properties": {"file": {}}}
                        }
                    },
                },
                "responses": {"200": {"description": "ok"}},
            }
        },
    },
    "components": {
        "schemas": {
            "Thing": {
                "type": "object",
                "required": ["id"],
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
            },
            "Error": {
                "type": "object",
                "required": ["message"],
                "properties": {"message": {"type": "string"}},
            },
        }
    },
}


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "things.openapi.json"
    path.write_text(json.dumps(SPEC), encoding="utf-8")
    return path


@pytest.fixture
def validator(spec_file: Path) -> SpecValidator:
    return SpecValidator(spec_file)


def call(
    method: str,
    path: str,
    *,
    query: list[tuple[str, str]] | None = None,
    body: Any = None,
    content_type: str = "application/json",
    params_only: bool = False,
) -> SpecCall:
    raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    return SpecCall(method, path, query or [], {}, raw, content_type, params_only)


def test_operations_are_found_below_the_servers_base_path(validator: SpecValidator) -> None:
    assert (validator.host, validator.base) == ("https://api.example.com", "/v2")
    assert validator.operations() == [
        ("GET", "/things/{thing-id}"),
        ("PATCH", "/things/{thing-id}"),
        ("POST", "/things/{thing-id}/files"),
    ]
    found = validator.operation("GET", "/things/t-1")
    assert found == Operation("getThing", frozenset({"200", "default"}))
    assert found is not None and found.id == "getThing"
    assert validator.operation("patch", "/things/t-1") == ("updateThing", frozenset({"204"}))
    assert validator.operation("GET", "/things/t-1/more") is None  # a parameter is one segment
    assert validator.operation("GET", "/v2/things/t-1") is None  # paths are below the base
    assert validator.operation("DELETE", "/things/t-1") is None


def test_a_request_is_checked_as_sent_to_the_described_server(validator: SpecValidator) -> None:
    # Without the base path (/v2) prefixed, openapi-core would find no path for any of these.
    assert validator.check_request(call("get", "/things/t-1")) == []
    assert validator.check_request(call("patch", "/things/t-1", body={"id": 1})) == []
    (problem,) = validator.check_request(call("patch", "/things/t-1", body={"id": "one"}))
    assert "at 'id': 'one' is not of type 'integer'" in problem
    (problem,) = validator.check_request(call("patch", "/things/t-1", body=b"{nope"))
    assert "deserialize" in problem.lower() or "json" in problem.lower()


def test_params_only_checks_a_multipart_upload_by_its_parameters(
    validator: SpecValidator,
) -> None:
    """openapi-core 0.23 cannot read a multipart body (its full check raises), so an upload
    is checked by its path and query parameters (Jira's ``addAttachment``)."""

    def upload(kind: str) -> SpecCall:
        return call(
            "post",
            "/things/t-1/files",
            query=[("kind", kind)],
            body=b"--x\r\n",
            content_type="multipart/form-data; boundary=x",
            params_only=True,
        )

    (problem,) = validator.check_request(upload("bogus"))
    assert "kind" in problem and "'bogus' is not one of" in problem
    assert validator.check_request(upload("log")) == []


def test_an_answer_is_checked_against_its_status(validator: SpecValidator) -> None:
    get = call("get", "/things/t-1")
    assert validator.check_response(get, 200, b'{"id": 1}', "application/json") == []
    problems = validator.check_response(get, 200, b'{"name": "x"}', "application/json")
    assert any("'id' is a required property" in p for p in problems)
    problems = validator.check_response(get, 404, b'{"msg": "gone"}', "application/json", {})
    assert any("'message' is a required property" in p for p in problems)  # default: Error


def test_a_long_value_is_cut_in_the_message_but_every_schema_error_is_kept(
    validator: SpecValidator,
) -> None:
    body = {"id": "x" * 500, "name": 7}
    (problem,) = validator.check_request(call("patch", "/things/t-1", body=body))
    head, *errors = problem.split("; at ")
    assert len(head) < 200 and head.endswith("...")  # openapi-core's text, cut
    assert errors == [
        f"'id': '{'x' * 500}' is not of type 'integer'",
        "'name': 7 is not of type 'string'",
    ]


def test_a_body_is_checked_against_one_schema_of_the_description(
    validator: SpecValidator,
) -> None:
    assert validator.check_schema("Error", b'{"message": "no"}') == []
    assert validator.check_schema("Error", b'{"message": 3}') == [
        "at 'message': 3 is not of type 'string'"
    ]
    assert validator.check_schema("Error", b"{}") == ["'message' is a required property"]
    (problem,) = validator.check_schema("Error", b"<html>")
    assert problem.startswith("the body is not JSON")


def test_one_validator_per_file_per_process(
    spec_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(spec_file.parent)
    assert load_validator(spec_file) is load_validator(spec_file.name)
    with pytest.raises(FileNotFoundError, match="OpenAPI description not found"):
        SpecValidator(spec_file.parent / "missing.json")


def test_an_excerpt_is_found_in_the_checkouts_specs_or_the_error_says_what_to_do(
    tmp_path: Path,
) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "things.openapi.json").write_text("{}", encoding="utf-8")
    found = excerpt_in_checkout(tmp_path, "things.openapi.json", vendor="X's", emulator="XEmu")
    assert found == tmp_path / "specs" / "things.openapi.json"
    with pytest.raises(FileNotFoundError) as caught:
        excerpt_in_checkout(tmp_path, "other.openapi.json", vendor="X's", emulator="XEmu")
    message = str(caught.value)
    assert message.startswith(f"X's OpenAPI excerpt is not at {tmp_path / 'specs' / 'other'}")
    assert "XEmu(validate_spec=PATH)" in message


def test_the_plumbing_imports_and_records_without_openapi_core() -> None:
    code = (
        "import sys; sys.modules['openapi_core'] = None\n"
        "from shitshovela_testkit import emulatorsuite, faultscript, openapicheck, specfindings\n"
        "findings = specfindings.SpecFindings(None)\n"
        "assert findings.validator is None\n"
        "loaded = [m for m in ('openapi_core', 'werkzeug') if sys.modules.get(m)]\n"
        "assert not loaded, loaded\n"
        "print('ok')\n"
    )
    out = run_python(code, pythonpath=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
