"""How content becomes a title and a body: text and JSON, truncation, poison (unit)."""

from __future__ import annotations

import json

import pytest
from shitshovela_s3.client import etag_of, parse_content_range, query, quote_key
from shitshovela_s3.content import Rendered, Undecodable, key_title, render_json, render_text

pytestmark = pytest.mark.unit


def text(data: bytes, total: int | None = None, **kw: object) -> Rendered:
    options: dict[str, object] = {
        "total": len(data) if total is None else total,
        "key": "alerts/disk full.txt",
        "prefix": "alerts/",
        "title_from": "first-line",
        "body_limit": 1000,
        "attachment": "disk full.txt",
    }
    options.update(kw)
    return render_text(data, **options)  # type: ignore[arg-type]


def test_first_line_is_the_title_and_the_rest_the_body() -> None:
    rendered = text(b"Disk full on db1\nused 100%\nsecond line")
    assert rendered.title == "Disk full on db1"
    assert rendered.body == "used 100%\nsecond line"
    assert rendered.truncated is False


def test_title_from_the_key_keeps_the_whole_content_as_body() -> None:
    rendered = text(b"line one\nline two", title_from="key")
    assert rendered.title == "disk full.txt"
    assert rendered.body == "line one\nline two"


def test_an_empty_object_is_titled_by_its_key() -> None:
    rendered = text(b"")
    assert rendered.title == "disk full.txt"
    assert rendered.body == ""


def test_a_bom_is_dropped_and_long_titles_are_cut() -> None:
    rendered = text(b"\xef\xbb\xbf" + b"x" * 400 + b"\nbody")
    assert rendered.title.startswith("xxx")
    assert len(rendered.title) == 250


def test_a_prefix_of_a_larger_object_is_truncated_with_a_note_on_a_character_boundary() -> None:
    data = ("Title\n" + "é" * 100).encode()  # 2-byte characters
    cut = data[:51]  # ends in the middle of an "é"
    rendered = text(cut, total=len(data))
    assert rendered.truncated is True
    assert rendered.body.startswith("é" * 22)
    assert "\ufffd" not in rendered.body
    assert f"the first 51 of {len(data)} bytes" in rendered.body
    assert "attached as disk full.txt" in rendered.body


def test_invalid_utf8_is_undecodable() -> None:
    with pytest.raises(Undecodable, match="not UTF-8 text"):
        text(b"ok\n\xff\xfe broken")


def js(document: object, **kw: object) -> Rendered:
    data = json.dumps(document).encode() if not isinstance(document, bytes) else document
    options: dict[str, object] = {
        "total": len(data),
        "key": "in/event-1.json",
        "prefix": "in/",
        "title_field": "title",
        "body_field": "",
        "body_limit": 1000,
        "attachment": "event-1.json",
    }
    options.update(kw)
    return render_json(data, **options)  # type: ignore[arg-type]


def test_json_fields_map_to_title_body_and_meta() -> None:
    rendered = js(
        {"summary": "Backup failed", "details": "exit 3", "priority": 2},
        title_field="summary",
        body_field="details",
    )
    assert rendered.title == "Backup failed"
    assert rendered.body == "exit 3"
    assert rendered.meta["json.priority"] == "2"


def test_json_without_a_body_field_shows_the_other_fields() -> None:
    rendered = js({"title": "T", "host": "db1", "n": [1, 2]})
    assert rendered.title == "T"
    assert json.loads(rendered.body) == {"host": "db1", "n": [1, 2]}


def test_json_without_the_title_field_is_titled_by_the_key() -> None:
    assert js({"other": 1}).title == "event-1.json"


def test_a_long_json_body_is_truncated_with_a_note() -> None:
    rendered = js({"title": "T", "body": "x" * 5000}, body_field="body", body_limit=200)
    assert rendered.truncated is True
    assert rendered.body.startswith("x" * 200)
    assert "[Truncated" in rendered.body


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "not an object"), (b"\xff", "not UTF-8")],
)
def test_bad_json_is_undecodable(data: bytes, reason: str) -> None:
    with pytest.raises(Undecodable, match=reason):
        js(data)


def test_key_title_strips_the_prefix() -> None:
    assert key_title("in/a/b.txt", "in/") == "a/b.txt"
    assert key_title("other/x", "in/") == "other/x"


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("a b+c%d/ü", "a%20b%2Bc%25d/%C3%BC"),
        ("x/../y/./z", "x/%2E%2E/y/%2E/z"),
        ("q?x#y", "q%3Fx%23y"),
        ("~t*(!)'", "~t%2A%28%21%29%27"),
        ("a//b", "a//b"),
    ],
)
def test_keys_are_encoded_once_as_sigv4_signs_them(key: str, path: str) -> None:
    assert quote_key(key) == path


def test_query_is_canonical() -> None:
    assert query({"prefix": "a b/", "list-type": "2", "tagging": None}) == (
        "list-type=2&prefix=a%20b%2F&tagging"
    )


def test_etags_and_content_ranges() -> None:
    assert etag_of("abc") == '"abc"'
    assert etag_of('W/"abc"') == '"abc"'
    assert parse_content_range("bytes 0-3/11") == 11
    assert parse_content_range("bytes */11") is None


def test_json_with_a_lone_surrogate_escape_is_undecodable() -> None:
    data = b'{"title": "bad \\ud800 text", "body": "x"}'
    with pytest.raises(Undecodable, match="not valid Unicode"):
        render_json(data, total=len(data), key="k.json", prefix="", title_field="title",
                    body_field="body", body_limit=1000, attachment="k.json")  # fmt: skip
