"""Moves, copies and deletes: immutable ids survive a move, REST ids do not; DELETE is soft."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from shitshovela_graph_emulator import DEFAULT_MAILBOX, GraphEmulator, build_mime

pytestmark = pytest.mark.servers

Factory = Callable[..., GraphEmulator]

U = f"users/{DEFAULT_MAILBOX}"
GONE = {"code": "ErrorItemNotFound", "message": "The specified object was not found in the store."}


def error_of(body: dict[str, object]) -> dict[str, object]:
    error = dict(body["error"])  # type: ignore[arg-type]
    inner = error.pop("innerError")
    assert set(inner) == {"date", "request-id", "client-request-id"}  # type: ignore[arg-type]
    return error


@pytest.mark.parametrize("action", ["microsoft.graph.move", "move"])
def test_a_move_keeps_the_immutable_id_and_makes_a_new_change_key(
    graph: GraphEmulator, action: str
) -> None:
    seeded = graph.seed_message(build_mime())
    with graph.client() as c:
        moved = c.post(f"{U}/messages/{seeded.id}/{action}", json={"destinationId": "archive"})
        again = c.get(f"{U}/messages/{seeded.id}")
        old_rest = c.get(f"{U}/messages/{seeded.rest_id}")
    assert moved.status_code == 201
    body = moved.json()
    assert body["id"] == seeded.id and body["parentFolderId"] == graph.folder("archive").id
    assert body["changeKey"] != seeded.change_key
    assert again.status_code == 200 and again.json()["changeKey"] == body["changeKey"]
    assert old_rest.status_code == 404 and error_of(old_rest.json()) == GONE
    record = graph.message(seeded.id)
    assert record.folder == "archive" and record.rest_id != seeded.rest_id
    assert graph.messages("inbox") == []


def test_without_immutable_ids_a_move_gives_a_new_id_and_the_old_one_is_gone(
    graph: GraphEmulator,
) -> None:
    seeded = graph.seed_message(build_mime())
    with graph.client(immutable_ids=False) as c:
        listed = c.get(f"{U}/mailFolders/inbox/messages").json()["value"]
        moved = c.post(
            f"{U}/messages/{listed[0]['id']}/move",
            json={"DestinationId": graph.folder("archive").id},
        )
        old = c.get(f"{U}/messages/{listed[0]['id']}")
        new = c.get(f"{U}/messages/{moved.json()['id']}")
        by_immutable = c.get(f"{U}/messages/{seeded.id}")
    assert listed[0]["id"] == seeded.rest_id
    assert moved.status_code == 201 and moved.json()["id"] != seeded.rest_id
    assert old.status_code == 404
    assert new.status_code == 200 and new.json()["internetMessageId"] == seeded.internet_message_id
    assert by_immutable.json()["id"] == moved.json()["id"]  # an immutable id still finds it


def test_a_move_into_a_folder_that_is_not_there(graph: GraphEmulator) -> None:
    seeded = graph.seed_message(build_mime())
    with graph.client() as c:
        nowhere = c.post(
            f"{U}/messages/{seeded.id}/move",
            json={"destinationId": "AAMkAnoSuchFolder000000000000000000000000000"},
        )
        missing = c.post(f"{U}/messages/{seeded.id}/move", json={"other": "x"})
    assert nowhere.status_code == 404
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "ErrorInvalidParameter"
    assert graph.message(seeded.id).folder == "inbox"


def test_a_copy_is_a_new_message(graph: GraphEmulator) -> None:
    seeded = graph.seed_message(build_mime(), categories=["Keep"])
    with graph.client() as c:
        copied = c.post(
            f"{U}/messages/{seeded.id}/microsoft.graph.copy", json={"destinationId": "archive"}
        )
    assert copied.status_code == 201
    made = copied.json()
    assert made["id"] != seeded.id and made["categories"] == ["Keep"]
    assert made["internetMessageId"] == seeded.internet_message_id
    assert [m.id for m in graph.messages("inbox")] == [seeded.id]
    assert [m.id for m in graph.messages("archive")] == [made["id"]]


def test_delete_moves_to_deleted_items_then_recoverable_items_then_away(
    graph: GraphEmulator,
) -> None:
    seeded = graph.seed_message(build_mime())
    with graph.client() as c:
        first = c.delete(f"{U}/messages/{seeded.id}")
        in_deleted = graph.message(seeded.id)
        listed = c.get(f"{U}/mailFolders/deleteditems/messages").json()["value"]
        second = c.delete(f"{U}/messages/{seeded.id}")
        in_recoverable = graph.message(seeded.id)
        everything = c.get(f"{U}/messages").json()["value"]
        third = c.delete(f"{U}/messages/{seeded.id}")
        after = c.get(f"{U}/messages/{seeded.id}")
        fourth = c.delete(f"{U}/messages/{seeded.id}")
    assert first.status_code == 204 and first.content == b""
    assert in_deleted.folder == "deleteditems" and in_deleted.rest_id != seeded.rest_id
    assert [m["id"] for m in listed] == [seeded.id]
    assert second.status_code == 204 and in_recoverable.folder == "recoverableitemsdeletions"
    assert everything == []  # /messages leaves Recoverable Items out
    assert third.status_code == 204
    assert after.status_code == 404 and error_of(after.json()) == GONE
    assert fourth.status_code == 404  # already gone: the caller decides that is fine
    assert [m.id for m in graph.purged()] == [seeded.id]


@pytest.mark.parametrize("action", ["permanentDelete", "microsoft.graph.permanentDelete"])
def test_permanent_delete_is_for_good_and_answered_unchecked(
    graph: GraphEmulator, action: str
) -> None:
    seeded = graph.seed_message(build_mime())
    with graph.client() as c:
        done = c.post(f"{U}/messages/{seeded.id}/{action}")
        after = c.get(f"{U}/messages/{seeded.id}")
    assert done.status_code == 204
    assert after.status_code == 404
    assert graph.all_messages() == [] and [m.id for m in graph.purged()] == [seeded.id]
    assert graph.unvalidated == [
        f"POST /v1.0/{U}/messages/{seeded.id}/{action}: not in specs/graph-mail.openapi.json "
        "(v1.0 has it since the excerpt's 2024 sources)"
    ]


def test_if_match_is_ignored_unless_enforced(make_graph: Factory) -> None:
    graph = make_graph()
    seeded = graph.seed_message(build_mime())
    stale = {"If-Match": 'W/"CQAAABYAAAstale"'}
    with graph.client() as c:
        ignored = c.patch(f"{U}/messages/{seeded.id}", json={"isRead": True}, headers=stale)
        graph.settings.if_match = "enforce"
        refused = c.delete(f"{U}/messages/{seeded.id}", headers=stale)
        current = graph.message(seeded.id).change_key
        matching = c.delete(f"{U}/messages/{seeded.id}", headers={"If-Match": f'W/"{current}"'})
    assert ignored.status_code == 200
    assert refused.status_code == 412
    assert refused.json()["error"]["code"] == "ErrorIrresolvableConflict"
    assert matching.status_code == 204


def test_behind_the_clients_back(graph: GraphEmulator) -> None:
    seeded = graph.seed_message(build_mime("filed by a user"))
    graph.create_folder("Inbox/Filed")
    moved = graph.move_message(seeded.id, "Inbox/Filed")
    changed = graph.update_message(seeded.id, categories=["Mine"], is_read=True)
    with graph.client() as c:
        got = c.get(f"{U}/messages/{seeded.id}").json()
        old = c.get(f"{U}/messages/{seeded.rest_id}")
    assert got["parentFolderId"] == moved.folder_id == graph.folder("Inbox/Filed").id
    assert got["categories"] == ["Mine"] and got["changeKey"] == changed.change_key
    assert old.status_code == 404
    graph.delete_message(seeded.id, permanent=False)
    assert graph.message(seeded.id).folder == "deleteditems"
    graph.delete_message(seeded.id)
    with pytest.raises(KeyError):
        graph.message(seeded.id)
