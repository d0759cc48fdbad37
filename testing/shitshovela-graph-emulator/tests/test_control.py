"""The control API: every lever over HTTP, for an emulator in another process."""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import pytest
from shitshovela_graph_emulator import DEFAULT_MAILBOX, GraphEmulator, build_mime
from shitshovela_testkit.clock import ManualClock

pytestmark = pytest.mark.servers

Factory = Callable[..., GraphEmulator]

U = f"users/{DEFAULT_MAILBOX}"
MB = f"/_emulator/mailboxes/{DEFAULT_MAILBOX}"


def test_mailboxes_folders_and_messages_over_http(graph: GraphEmulator) -> None:
    mime = build_mime("over the wire")
    with httpx.Client(base_url=graph.url, timeout=10) as ctl:
        added = ctl.post("/_emulator/mailboxes", json={"upn": "second@contoso.com"})
        folder = ctl.post(f"{MB}/folders", json={"path": "Inbox/Done"})
        raw = ctl.post(
            f"{MB}/messages",
            content=mime,
            headers={"Content-Type": "message/rfc822"},
            params={"received": "1800000000", "is_read": "true", "categories": "A,B"},
        )
        encoded = ctl.post(
            f"{MB}/messages",
            json={
                "mime_base64": base64.b64encode(build_mime("second")).decode(),
                "folder": "Inbox/Done",
                "categories": ["Claimed"],
            },
        )
        listed = ctl.get(f"{MB}/messages").json()["messages"]
        done = ctl.get(f"{MB}/messages", params={"folder": "Inbox/Done"}).json()["messages"]
        one = ctl.get(f"{MB}/messages/{raw.json()['id']}").json()
        back = ctl.get(f"{MB}/messages/{raw.json()['id']}/mime")
        patched = ctl.patch(
            f"{MB}/messages/{raw.json()['id']}",
            json={"categories": ["X"], "extended": {"String 0x0037": "v"}},
        )
        moved = ctl.post(f"{MB}/messages/{raw.json()['id']}/move", json={"folder": "archive"})
        soft = ctl.delete(f"{MB}/messages/{encoded.json()['id']}", params={"permanent": "false"})
        hard = ctl.delete(f"{MB}/messages/{raw.json()['id']}")
        purged = ctl.get(f"{MB}/purged").json()["messages"]
        gone = ctl.get(f"{MB}/messages/{raw.json()['id']}")
        folders = ctl.get(f"{MB}/folders").json()["folders"]
        boxes = ctl.get("/_emulator/mailboxes").json()["mailboxes"]
    assert added.status_code == 200 and folder.status_code == 201
    assert raw.status_code == 201 and raw.json()["received"] == "2027-01-15T08:00:00Z"
    assert raw.json()["is_read"] is True and raw.json()["size"] == len(mime)
    assert raw.json()["categories"] == ["A", "B"]
    assert [m["subject"] for m in listed] == ["over the wire"]
    assert [(m["subject"], m["categories"]) for m in done] == [("second", ["Claimed"])]
    assert one["folder"] == "inbox" and back.content == mime
    assert patched.json()["categories"] == ["X"] and patched.json()["extended"] == {
        "String 0x0037": "v"
    }
    assert moved.json()["folder"] == "archive" and moved.json()["rest_id"] != one["rest_id"]
    assert soft.status_code == 200 and hard.status_code == 200
    assert [m["subject"] for m in purged] == ["over the wire"]
    assert gone.status_code == 404
    assert {"Done", "Inbox", "Deletions"} <= {f["display_name"] for f in folders}
    assert [b["upn"] for b in boxes] == [DEFAULT_MAILBOX, "second@contoso.com"]
    assert graph.messages("deleteditems", mailbox=DEFAULT_MAILBOX)[0].subject == "second"


def test_tokens_keys_and_policies_over_http(graph: GraphEmulator) -> None:
    with httpx.Client(base_url=graph.url, timeout=10) as ctl:
        issued = ctl.post("/_emulator/tokens", json={"roles": ["Mail.Read"], "lifetime": 60}).json()
        keys = ctl.get("/_emulator/keys").json()
        policy = ctl.put("/_emulator/policies/other-app", json={"mailboxes": ["x@contoso.com"]})
        lifted = ctl.delete("/_emulator/policies/other-app")
    assert issued["token_type"] == "Bearer" and issued["expires_in"] == 60
    assert keys["kid"] == graph.signing_key.kid and keys["public_pem"].startswith("-----BEGIN")
    assert policy.status_code == 200 and lifted.status_code == 200
    with graph.client(issued["access_token"]) as c:
        assert c.get(f"{U}/messages").status_code == 200
        assert c.post(f"{U}/mailFolders", json={"displayName": "x"}).status_code == 403


def test_throttling_settings_faults_and_violations_over_http(
    make_graph: Factory, clock: ManualClock
) -> None:
    graph = make_graph(clock=clock)
    with httpx.Client(base_url=graph.url, timeout=10) as ctl:
        limits = ctl.put("/_emulator/throttling", json={"requests_per_window": 2}).json()
        settings = ctl.put("/_emulator/settings", json={"paging": "skiptoken"}).json()
        bad_setting = ctl.put("/_emulator/settings", json={"paging": "sideways"})
        unknown_setting = ctl.put("/_emulator/settings", json={"colour": "red"})
        ctl.post("/_emulator/faults/unavailable", json={"requests": 1, "retry_after": 5})
        with graph.client() as c:
            unavailable = c.get(f"{U}/mailFolders")
            served = c.get(f"{U}/mailFolders")
            throttled = c.get(f"{U}/mailFolders")
        usage = ctl.get("/_emulator/usage", params={"mailbox": DEFAULT_MAILBOX}).json()
        ctl.put("/_emulator/throttling", json={"requests_per_window": 10_000})
        ctl.post("/_emulator/faults", json={"operation": "list_folders", "mode": "fail_500"})
        ctl.post("/_emulator/faults/slow", json={"requests": 1, "seconds": 0})
        ctl.post("/_emulator/faults/throttle", json={"requests": 1})
        ctl.post("/_emulator/faults/gateway_timeout", json={"requests": 1})
        cleared = ctl.delete("/_emulator/faults")
        with graph.client() as c:
            after = c.get(f"{U}/mailFolders")
            c.get(f"{U}/messages", params={"$top": "x"})
        found = ctl.get("/_emulator/violations").json()
        forgotten = ctl.delete("/_emulator/violations")
        missing_field = ctl.post("/_emulator/faults", json={"mode": "drop"})
        unknown_kind = ctl.post("/_emulator/faults/meteor", json={})
        nowhere = ctl.get("/_emulator/nowhere")
        no_box = ctl.get("/_emulator/mailboxes/nobody@x.com/messages")
    assert limits["requests_per_window"] == 2 and limits["max_concurrent"] == 4
    assert settings["paging"] == "skiptoken" and graph.settings.paging == "skiptoken"
    assert bad_setting.status_code == 400 and unknown_setting.status_code == 400
    assert [unavailable.status_code, served.status_code, throttled.status_code] == [503, 200, 429]
    assert unavailable.headers["Retry-After"] == "5"
    assert usage["requests"] == 2
    assert cleared.status_code == 200 and after.status_code == 200
    assert len(found["violations"]) == 1 and "$top" in found["violations"][0]
    assert forgotten.status_code == 200 and graph.violations == []
    assert missing_field.status_code == 400 and "operation" in missing_field.json()["message"]
    assert unknown_kind.status_code == 400
    assert nowhere.status_code == 404 and no_box.status_code == 404


def test_the_control_api_can_be_turned_off(make_graph: Factory) -> None:
    graph = make_graph(control=False)
    r = httpx.get(f"{graph.url}/_emulator/violations", timeout=10)
    assert r.status_code == 400 and r.json()["error"]["message"] == "Invalid version: _emulator"
