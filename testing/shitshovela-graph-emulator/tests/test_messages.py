"""Messages from MIME: the properties Graph derives, get, $select/$expand, $value, attachments,
updates."""

from __future__ import annotations

import base64
import email.utils
from datetime import UTC, datetime

import pytest
from shitshovela_graph_emulator import DEFAULT_MAILBOX, GraphEmulator, build_mime

pytestmark = pytest.mark.servers

U = f"users/{DEFAULT_MAILBOX}"
CLAIM = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name ShitShovelaClaim"


def test_a_message_seeded_from_mime_has_graph_s_properties(graph: GraphEmulator) -> None:
    mime = build_mime(
        "Disk full on db-1",
        "The disk of db-1 is full.",
        sender="Alerts <alerts@example.com>",
        message_id="<alert-1@example.com>",
        date=datetime(2027, 1, 15, 7, 59, 30, tzinfo=UTC),
        attachments=[("df.txt", b"/dev/sda1 100%", "text/plain")],
        headers=[("Cc", "Ops <ops@example.com>")],
    )
    seeded = graph.seed_message(mime, received=1_800_000_000, categories=["Triage"])
    with graph.client() as c:
        got = c.get(f"{U}/messages/{seeded.id}").json()
        headers = c.get(f"{U}/messages/{seeded.id}", params={"$select": "internetMessageHeaders"})
    assert got["id"] == seeded.id  # Prefer: IdType="ImmutableId" was sent
    assert got["subject"] == "Disk full on db-1"
    assert got["from"] == {"emailAddress": {"name": "Alerts", "address": "alerts@example.com"}}
    assert got["sender"] == got["from"]
    assert got["toRecipients"] == [
        {"emailAddress": {"name": DEFAULT_MAILBOX, "address": DEFAULT_MAILBOX}}
    ]
    assert got["ccRecipients"][0]["emailAddress"]["address"] == "ops@example.com"
    assert got["internetMessageId"] == "<alert-1@example.com>"
    assert got["receivedDateTime"] == "2027-01-15T08:00:00Z"
    assert got["sentDateTime"] == "2027-01-15T07:59:30Z"
    assert got["hasAttachments"] is True
    assert got["isRead"] is False and got["isDraft"] is False
    assert got["categories"] == ["Triage"]
    assert (
        got["changeKey"] == seeded.change_key and got["@odata.etag"] == f'W/"{seeded.change_key}"'
    )
    assert got["parentFolderId"] == graph.folder("inbox").id
    assert (
        got["body"]["contentType"] == "html"
        and "The disk of db-1 is full." in got["body"]["content"]
    )
    assert got["bodyPreview"] == "The disk of db-1 is full."
    assert got["importance"] == "normal" and got["flag"] == {"flagStatus": "notFlagged"}
    assert "internetMessageHeaders" not in got  # only when selected
    names = [h["name"] for h in headers.json()["internetMessageHeaders"]]
    assert {"From", "To", "Subject", "Message-ID", "Cc"} <= set(names)


def test_a_message_without_sender_or_message_id(graph: GraphEmulator) -> None:
    seeded = graph.seed_message(b"Subject: bare\r\n\r\nno headers to speak of\r\n")
    with graph.client() as c:
        got = c.get(f"{U}/messages/{seeded.id}").json()
    assert "from" not in got and "sender" not in got  # not nullable in the excerpt: left out
    assert got["internetMessageId"].endswith(".prod.outlook.com>")  # Exchange makes one
    assert got["hasAttachments"] is False and got["subject"] == "bare"


def test_either_id_names_the_message_and_the_folder_in_the_path_must_hold_it(
    graph: GraphEmulator,
) -> None:
    seeded = graph.seed_message(build_mime())
    with graph.client() as c, graph.client(immutable_ids=False) as plain:
        by_rest = c.get(f"{U}/messages/{seeded.rest_id}").json()
        rest_form = plain.get(f"{U}/messages/{seeded.id}")
        in_inbox = c.get(f"{U}/mailFolders/inbox/messages/{seeded.id}")
        in_archive = c.get(f"{U}/mailFolders/archive/messages/{seeded.id}")
    assert by_rest["id"] == seeded.id
    assert rest_form.json()["id"] == seeded.rest_id  # without the header: the REST id
    assert "Preference-Applied" not in rest_form.headers
    assert in_inbox.status_code == 200
    assert in_inbox.headers["Preference-Applied"] == 'IdType="ImmutableId"'
    assert in_archive.status_code == 404


def test_select_keeps_id_and_etag(graph: GraphEmulator) -> None:
    seeded = graph.seed_message(build_mime())
    with graph.client() as c:
        got = c.get(f"{U}/messages/{seeded.id}", params={"$select": "subject,isRead"}).json()
        bad = c.get(f"{U}/messages/{seeded.id}", params={"$select": "subjekt"})
    assert set(got) == {"@odata.context", "@odata.etag", "id", "subject", "isRead"}
    assert bad.status_code == 400
    assert bad.json()["error"] == {
        "code": "RequestBroker--ParseUri",
        "message": "Could not find a property named 'subjekt' on type 'microsoft.graph.message'.",
        "innerError": bad.json()["error"]["innerError"],
    }


def test_the_mime_is_served_byte_for_byte_and_streamed(graph: GraphEmulator) -> None:
    mime = build_mime("Big", attachments=[("blob.bin", bytes(range(256)) * 2048, "x-app/blob")])
    mime = mime.replace(b"\r\n", b"\n", 3)  # odd line ends stay odd
    seeded = graph.seed_message(mime)
    with graph.client() as c:
        with c.stream("GET", f"{U}/messages/{seeded.id}/$value") as r:
            chunks = list(r.iter_raw())
            headers = r.headers
        in_folder = c.get(f"{U}/mailFolders/inbox/messages/{seeded.rest_id}/$value")
    assert b"".join(chunks) == mime
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Transfer-Encoding"] == "chunked"
    assert in_folder.content == mime


def test_attachments_are_listed_and_read(graph: GraphEmulator) -> None:
    inner = build_mime("Forwarded", "the original")
    mime = build_mime(
        "With files",
        attachments=[
            ("report.pdf", b"%PDF-1.4 ...", "application/pdf"),
            ("original.eml", inner, "message/rfc822"),
        ],
    )
    seeded = graph.seed_message(mime)
    with graph.client() as c:
        listed = c.get(f"{U}/messages/{seeded.id}/attachments").json()["value"]
        one = c.get(f"{U}/messages/{seeded.id}/attachments/{listed[0]['id']}").json()
        gone = c.get(f"{U}/messages/{seeded.id}/attachments/{listed[0]['id'][:-3]}XYZ")
        expanded = c.get(
            f"{U}/messages/{seeded.id}", params={"$expand": "attachments", "$select": "id"}
        ).json()
        small = c.get(f"{U}/messages/{seeded.id}/attachments", params={"$select": "name,size"})
    assert [(a["name"], a["@odata.type"]) for a in listed] == [
        ("report.pdf", "#microsoft.graph.fileAttachment"),
        ("original.eml", "#microsoft.graph.itemAttachment"),  # its file name; else its subject
    ]
    assert base64.b64decode(one["contentBytes"]) == b"%PDF-1.4 ..."
    assert one["size"] == len(b"%PDF-1.4 ...") and one["isInline"] is False
    assert one["contentType"] == "application/pdf"
    assert "contentBytes" not in listed[1]
    assert gone.status_code == 404
    assert [a["id"] for a in expanded["attachments"]] == [a["id"] for a in listed]
    assert set(small.json()["value"][0]) == {"@odata.type", "id", "name", "size"}


def test_inline_parts_are_attachments_but_not_has_attachments(graph: GraphEmulator) -> None:
    mime = (
        b"From: a@example.com\r\nSubject: logo\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/related; boundary="b"\r\n\r\n'
        b'--b\r\nContent-Type: text/html\r\n\r\n<img src="cid:logo">\r\n'
        b"--b\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\nContent-Disposition: inline\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n"
    )
    seeded = graph.seed_message(mime)
    with graph.client() as c:
        got = c.get(f"{U}/messages/{seeded.id}").json()
        listed = c.get(f"{U}/messages/{seeded.id}/attachments").json()["value"]
    assert got["hasAttachments"] is False
    assert [(a["isInline"], a["contentId"]) for a in listed] == [(True, "logo")]


def test_updates_change_the_change_key_and_read_back(graph: GraphEmulator) -> None:
    seeded = graph.seed_message(build_mime())
    with graph.client() as c:
        patched = c.patch(
            f"{U}/messages/{seeded.id}",
            json={
                "categories": ["Claimed"],
                "isRead": True,
                "singleValueExtendedProperties": [{"id": CLAIM, "value": "run-1 1800000000"}],
            },
        )
        again = c.patch(f"{U}/messages/{seeded.id}", json={"flag": {"flagStatus": "flagged"}})
        plain = c.get(f"{U}/messages/{seeded.id}").json()
        with_claim = c.get(
            f"{U}/messages/{seeded.id}",
            params={"$expand": f"singleValueExtendedProperties($filter=id eq '{CLAIM}')"},
        ).json()
        other = c.get(
            f"{U}/messages/{seeded.id}",
            params={"$expand": "singleValueExtendedProperties($filter=id eq 'String 0x0037')"},
        ).json()
    first, second = patched.json()["changeKey"], again.json()["changeKey"]
    assert patched.status_code == 200 and len({seeded.change_key, first, second}) == 3
    assert plain["categories"] == ["Claimed"] and plain["isRead"] is True
    assert plain["flag"] == {"flagStatus": "flagged"}
    assert "singleValueExtendedProperties" not in plain  # only with $expand
    assert with_claim["singleValueExtendedProperties"] == [
        {"id": CLAIM, "value": "run-1 1800000000"}
    ]
    assert "singleValueExtendedProperties" not in other
    record = graph.message(seeded.id)
    assert record.extended == {CLAIM: "run-1 1800000000"} and record.change_key == second


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"subject": "new"}, "ErrorInvalidPropertyUpdateSentMessage"),
        ({"changeKey": "x"}, "ErrorInvalidProperty"),
        (
            {"singleValueExtendedProperties": [{"id": "Claim", "value": "x"}]},
            "ErrorInvalidProperty",
        ),
        ({"categories": ["ok"], "importance": "urgent"}, "ErrorInvalidRequest"),
    ],
)
def test_updates_graph_refuses_change_nothing(
    make_graph: object, body: dict[str, object], code: str
) -> None:
    graph = make_graph(validate_spec=None)  # type: ignore[operator]
    seeded = graph.seed_message(build_mime())
    with graph.client() as c:
        r = c.patch(f"{U}/messages/{seeded.id}", json=body)
    assert r.status_code == 400 and r.json()["error"]["code"] == code
    assert graph.message(seeded.id).change_key == seeded.change_key
    assert graph.message(seeded.id).categories == ()


def test_text_bodies_on_request_and_html_by_default(graph: GraphEmulator) -> None:
    seeded = graph.seed_message(build_mime("x", "line one\nline <two>", html=None))
    html_only = graph.seed_message(build_mime("y", "ignored", html="<p>Hello <b>you</b></p>"))
    text = {"Prefer": 'IdType="ImmutableId", outlook.body-content-type="text"'}
    with graph.client() as c:
        as_html = c.get(f"{U}/messages/{seeded.id}").json()["body"]
        as_text = c.get(f"{U}/messages/{seeded.id}", headers=text).json()["body"]
        html_as_html = c.get(f"{U}/messages/{html_only.id}").json()["body"]
    assert as_html["contentType"] == "html" and "line &lt;two&gt;" in as_html["content"]
    assert as_text == {"contentType": "text", "content": "line one\r\nline <two>\r\n"}
    assert html_as_html["content"].startswith("<p>Hello <b>you</b></p>")


def test_text_that_decodes_to_lone_surrogates_is_served_well_formed(graph: GraphEmulator) -> None:
    mime = (
        b"From: =?utf-7?q?+2AA-?= <x@example.com>\r\nSubject: =?utf-7?q?a+2AA-b?=\r\n"
        b"Date: "
        + email.utils.format_datetime(datetime(2027, 1, 1, tzinfo=UTC)).encode()
        + b"\r\nContent-Type: text/plain; charset=utf-7\r\n\r\n+2AA-\r\n"
    )
    seeded = graph.seed_message(mime)
    with graph.client() as c:
        got = c.get(f"{U}/messages/{seeded.id}").json()
    assert got["subject"] == "a\ufffdb" and got["from"]["emailAddress"]["name"] == "\ufffd"
    assert "\ufffd" in got["bodyPreview"]
