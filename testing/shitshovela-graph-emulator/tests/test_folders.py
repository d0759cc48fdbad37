"""Mail folders: the well-known ones, listing (hidden, paged, filtered), get, create."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from shitshovela_graph_emulator import DEFAULT_MAILBOX, GraphEmulator, MailboxConfig

pytestmark = pytest.mark.servers

Factory = Callable[..., GraphEmulator]

U = f"users/{DEFAULT_MAILBOX}"
TOP_LEVEL = ["Inbox", "Drafts", "Sent Items", "Deleted Items", "Junk Email", "Outbox", "Archive"]


def test_a_mailbox_starts_with_the_well_known_folders(graph: GraphEmulator) -> None:
    with graph.client() as c:
        listed = c.get(f"{U}/mailFolders").json()
        hidden = c.get(f"{U}/mailFolders", params={"includeHiddenFolders": "true"}).json()
        inbox = c.get(f"{U}/mailFolders/Inbox").json()
        root = c.get(f"{U}/mailFolders/msgfolderroot").json()
        deletions = c.get(f"{U}/mailFolders/recoverableitemsdeletions").json()
    assert [f["displayName"] for f in listed["value"]] == TOP_LEVEL
    assert "@odata.nextLink" not in listed
    assert len(hidden["value"]) == len(TOP_LEVEL)  # Recoverable Items is not under the root
    assert inbox["displayName"] == "Inbox" and inbox["parentFolderId"] == root["id"]
    assert inbox["totalItemCount"] == 0 and inbox["childFolderCount"] == 0
    assert all(f["parentFolderId"] == root["id"] for f in listed["value"])
    assert deletions["displayName"] == "Deletions" and deletions["isHidden"] is True
    assert inbox["id"] == graph.folder("inbox").id  # ids are stable, case-sensitive strings


def test_folders_are_created_found_by_name_and_never_twice(graph: GraphEmulator) -> None:
    with graph.client() as c:
        made = c.post(f"{U}/mailFolders", json={"displayName": "Set aside", "isHidden": False})
        again = c.post(f"{U}/mailFolders", json={"displayName": "SET ASIDE"})
        child = c.post(
            f"{U}/mailFolders/{made.json()['id']}/childFolders", json={"displayName": "Poison"}
        )
        under_inbox = c.post(f"{U}/mailFolders/inbox/childFolders", json={"displayName": "Done"})
        found = c.get(f"{U}/mailFolders", params={"$filter": "displayName eq 'set aside'"})
        children = c.get(f"{U}/mailFolders/inbox/childFolders").json()
        parent = c.get(f"{U}/mailFolders/{made.json()['id']}").json()
        nameless = c.post(f"{U}/mailFolders", json={"isHidden": True})
    assert made.status_code == 201 and made.json()["displayName"] == "Set aside"
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "ErrorFolderExists"
    assert again.json()["error"]["message"] == "A folder with the specified name already exists."
    assert child.status_code == 201 and child.json()["parentFolderId"] == made.json()["id"]
    assert under_inbox.status_code == 201
    assert [f["id"] for f in found.json()["value"]] == [made.json()["id"]]
    assert [f["displayName"] for f in children["value"]] == ["Done"]
    assert parent["childFolderCount"] == 1
    assert nameless.status_code == 400
    assert graph.folder("Inbox/Done").id == under_inbox.json()["id"]


def test_folder_lists_are_paged_and_selected(graph: GraphEmulator) -> None:
    for n in range(8):
        graph.create_folder(f"Folder {n}")
    with graph.client() as c:
        first = c.get(f"{U}/mailFolders", params={"$select": "displayName"}).json()
        second = c.get(first["@odata.nextLink"]).json()
        ordered = c.get(f"{U}/mailFolders", params={"$orderby": "displayName desc", "$top": "3"})
    names = [f["displayName"] for f in first["value"] + second["value"]]
    assert len(first["value"]) == 10 and names == [*TOP_LEVEL, *(f"Folder {n}" for n in range(8))]
    assert set(first["value"][0]) == {"id", "displayName"}
    assert "@odata.nextLink" not in second
    assert [f["displayName"] for f in ordered.json()["value"]] == [
        "Sent Items",
        "Outbox",
        "Junk Email",
    ]


def test_hidden_folders_are_listed_only_when_asked_for(graph: GraphEmulator) -> None:
    with graph.client() as c:
        c.post(f"{U}/mailFolders", json={"displayName": "Secret", "isHidden": True})
        plain = c.get(f"{U}/mailFolders").json()["value"]
        everything = c.get(
            f"{U}/mailFolders", params={"includeHiddenFolders": "true", "$top": "20"}
        ).json()["value"]
    assert "Secret" not in [f["displayName"] for f in plain]
    assert "Secret" in [f["displayName"] for f in everything]


def test_configured_folders_and_missing_ones(make_graph: Factory) -> None:
    graph = make_graph(
        mailboxes=[MailboxConfig(DEFAULT_MAILBOX, folders=["ShitShovela/Set aside", "Inbox/Done"])]
    )
    with graph.client() as c:
        unknown = c.get(f"{U}/mailFolders/AAMkAnotAFolder00000000000000000000000000000000")
        junk = c.get(f"{U}/mailFolders/not-an-id")
        nested = c.get(f"{U}/mailFolders/{graph.folder('ShitShovela').id}/childFolders").json()
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "ErrorItemNotFound"
    assert junk.status_code == 400 and junk.json()["error"]["code"] == "ErrorInvalidIdMalformed"
    assert [f["displayName"] for f in nested["value"]] == ["Set aside"]
    assert graph.folder("inbox/done").display_name == "Done"
    with pytest.raises(KeyError):
        graph.folder("Inbox/Nowhere")
