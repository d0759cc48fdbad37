"""The Jira provider against the spec-validated emulator: create, unflag, check, JQL."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from jirakit import make_tickets
from shitshovela_jira import text
from shitshovela_jira_emulator import JiraEmulator
from shitshovela_jira_emulator.jql import And, Clause, parse

from shitshovela_core.errors import ConfigError, ItemRejected, ProviderError, Unreachable
from shitshovela_core.models import Flag, Origin, TicketDraft

pytestmark = pytest.mark.servers

Start = Callable[..., JiraEmulator]
FLAG = Flag("mail-a")


def origin(key: str = "m-1", scope: str = "imap://inbox") -> Origin:
    return Origin("imap", scope, key, version="7", extra={"message_id": "<a@b>"})


def draft(**changes: object) -> TicketDraft:
    base = TicketDraft(title="Disk full", body="free: 0%\n\nsecond paragraph", labels=("mail",))
    return base.evolve(**changes)


def writes(jira: JiraEmulator) -> list[str]:
    return [
        f"{r.method} {r.path}"
        for r in jira.requests
        if r.method != "GET" and "search" not in r.path
    ]


# -- create (I3) ---------------------------------------------------------------------


def test_one_create_request_carries_flag_origin_and_content(
    start_jira: Start, flavour: str
) -> None:
    jira = start_jira(flavour)
    tickets = make_tickets(jira, "mail-a", LABELS=["from-mail"])
    made = tickets.create(draft(labels=("mail", "two words", "")), FLAG, origin())
    assert writes(jira) == [f"POST /rest/api/{'3' if flavour == 'cloud' else '2'}/issue"]
    issue = jira.issue(made.key)
    assert set(issue.labels) == {"from-mail", "mail", "two_words", FLAG.label}
    assert issue.properties["shitshovela.origin"]["ref"] == origin().to_ref()
    assert Origin.from_ref(issue.properties["shitshovela.origin"]["ref"]) == origin()
    assert issue.summary == "Disk full"
    assert "from imap:imap://inbox/m-1@7" in (issue.description or "")
    if flavour == "cloud":
        assert issue.description_adf is not None
        assert issue.description_adf["content"][1]["content"][0]["text"] == "free: 0%"
    else:
        assert (issue.description or "").startswith("{noformat}\n")
    assert made.flagged and made.origin == origin() and made.url.endswith(f"/browse/{made.key}")


def test_long_title_and_body_are_cut_with_a_note_never_refused(
    start_jira: Start, flavour: str
) -> None:
    jira = start_jira(flavour)
    tickets = make_tickets(jira, "mail-a")
    body = ('line with emoji \U0001f600 and "quotes"\n' * 3000) + "THE END"
    title = "T" * 300 + "\nsecond line"
    made = tickets.create(draft(title=title, body=body), FLAG, origin())
    issue = jira.issue(made.key)
    assert len(issue.summary) <= 255 and issue.summary.endswith(text.ELLIPSIS)
    description = issue.description or ""
    assert "cut by ShitShovela" in description
    assert "THE END" not in description
    assert "Full title: " + "T" * 300 in description
    sent = issue.description_adf if flavour == "cloud" else description
    assert text.size_of(sent) <= 32767


def test_content_jira_refuses_is_item_rejected(start_jira: Start, flavour: str) -> None:
    jira = start_jira(flavour, description_max_chars=2000)  # a DC admin set a lower limit
    tickets = make_tickets(jira, "mail-a")
    with pytest.raises(ItemRejected, match="description"):
        tickets.create(draft(body="x" * 5000), FLAG, origin())
    assert jira.issues() == []


def test_a_bad_configuration_stops_the_run_instead_of_setting_items_aside(
    start_jira: Start,
) -> None:
    jira = start_jira("cloud")
    with pytest.raises(ProviderError, match="ISSUE_TYPE") as caught:
        make_tickets(jira, "mail-a", ISSUE_TYPE="Epic").create(draft(), FLAG, origin())
    assert not isinstance(caught.value, ItemRejected)
    with pytest.raises(ProviderError, match="COMPONENT") as caught:
        make_tickets(jira, "mail-a", COMPONENT="Nope").create(draft(), FLAG, origin())
    assert not isinstance(caught.value, ItemRejected)
    # a component that came from the item (mapped from the draft) is the item's problem
    shaped = draft(fields={"component": "weird"})
    with pytest.raises(ItemRejected, match="components"):
        make_tickets(jira, "mail-a").create(shaped, FLAG, origin())
    mapped = make_tickets(jira, "mail-a", COMPONENT_MAP=["weird=Mail"], PRIORITY="High")
    made = mapped.create(shaped, FLAG, origin())
    assert jira.issue(made.key).components == ("Mail",)
    assert jira.issue(made.key).priority == "High"


def test_settings_combinations_are_checked_before_any_request(start_jira: Start) -> None:
    jira = start_jira("cloud")
    with pytest.raises(ConfigError, match="SHITSHOVELA_JIRA__PAT"):
        make_tickets(jira, "a", FLAVOUR="datacenter", PAT="")
    with pytest.raises(ConfigError, match="SHITSHOVELA_JIRA__API_TOKEN"):
        make_tickets(jira, "a", FLAVOUR="cloud", API_TOKEN="")
    with pytest.raises(ConfigError, match="SHITSHOVELA_JIRA__EMAIL"):
        make_tickets(jira, "a", FLAVOUR="auto", EMAIL="")
    assert jira.requests == []


# -- unflag --------------------------------------------------------------------------


def test_unflag_removes_only_the_flag_and_is_idempotent(start_jira: Start, flavour: str) -> None:
    jira = start_jira(flavour)
    tickets = make_tickets(jira, "mail-a")
    made = tickets.create(draft(labels=("keep-me",)), FLAG, origin())
    tickets.unflag(made, FLAG)
    tickets.unflag(made, FLAG)
    assert jira.issue(made.key).labels == ("keep-me",)
    puts = [r for r in jira.requests if r.method == "PUT"]
    assert len(puts) == 2
    assert all(json.loads(r.body) == {"update": {"labels": [{"remove": FLAG.label}]}} for r in puts)


def test_unflag_retries_a_lost_answer(start_jira: Start) -> None:
    jira = start_jira("cloud")
    tickets = make_tickets(jira, "mail-a")
    made = tickets.create(draft(), FLAG, origin())
    jira.faults.next_edit = "commit_then_drop"
    tickets.unflag(made, FLAG)
    assert jira.issue(made.key).labels == ("mail",)
    assert [r.status for r in jira.requests if r.method == "PUT"] == [0, 204]


# -- flavour and check ---------------------------------------------------------------


def test_auto_flavour_reads_server_info_once(start_jira: Start, flavour: str) -> None:
    jira = start_jira(flavour)
    tickets = make_tickets(jira, "mail-a", flavour="auto")
    tickets.create(draft(), FLAG, origin("one"))
    tickets.create(draft(), FLAG, origin("two"))
    assert tickets.flavour.name == flavour
    infos = [r for r in jira.requests if r.path.endswith("/serverInfo")]
    assert len(infos) == 1 and "authorization" not in {k.lower() for k in infos[0].headers}
    assert len(jira.issues()) == 2


def test_check_passes_read_only(start_jira: Start, flavour: str) -> None:
    jira = start_jira(flavour)
    make_tickets(jira, "mail-a", flavour="auto", COMPONENT="Mail").check(FLAG)
    assert {r.method for r in jira.requests} <= {"GET", "POST"}
    assert all(r.method == "GET" or "/search" in r.path for r in jira.requests)
    assert jira.issues() == []


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("token", r"refused the credentials \(401\): check SHITSHOVELA_JIRA__"),
        ("hidden", "project OPS cannot be read"),
        ("read-only", "Create Issues permission"),
        ("issue-type", "cannot create 'Incident' issues"),
        ("component", "has no component Nope"),
    ],
)
def test_check_names_what_is_wrong(
    start_jira: Start, flavour: str, breakage: str, message: str
) -> None:
    jira = start_jira(flavour)
    overrides: dict[str, object] = {}
    if breakage == "token":
        overrides = {"API_TOKEN": "wrong-token"} if flavour == "cloud" else {"PAT": "wrong-pat"}
    elif breakage == "hidden":
        jira.faults.forbid_project("OPS", browse=False)
    elif breakage == "read-only":
        jira.faults.forbid_project("OPS")
    elif breakage == "issue-type":
        overrides = {"ISSUE_TYPE": "Incident"}
    else:
        overrides = {"COMPONENT": "Nope"}
    with pytest.raises(Unreachable, match=message):
        make_tickets(jira, "mail-a", **overrides).check(FLAG)
    assert all(r.method == "GET" or "/search" in r.path for r in jira.requests)


def test_forbidden_create_is_unreachable_not_item_rejected(start_jira: Start) -> None:
    jira = start_jira("cloud")
    jira.faults.forbid_project("OPS")
    with pytest.raises(Unreachable, match="403"):
        make_tickets(jira, "mail-a").create(draft(), FLAG, origin())


# -- JQL injection -------------------------------------------------------------------

HOSTILE = [
    'say "hi"',
    "it's",
    "back\\slash\\",
    "x OR project = OPS",
    '" OR labels = "shitshovela-inprogress-mail-a',
    "' AND labels = x",
    "AND labels",
]


def _clauses(jql: str) -> list[tuple[str, str, tuple[str, ...]]]:
    where = parse(jql).where
    nodes = where.items if isinstance(where, And) else (where,)
    out = []
    for node in nodes:
        assert isinstance(node, Clause), f"unexpected structure in {jql!r}"
        out.append((node.field.name, node.op, tuple(o.text for o in node.operands)))
    return out


def test_hostile_origins_never_change_a_query_and_still_round_trip(
    start_jira: Start, flavour: str
) -> None:
    jira = start_jira(flavour)
    tickets = make_tickets(jira, "mail-a")
    made = {
        value: tickets.create(draft(title=value), FLAG, origin(key=value, scope=value))
        for value in HOSTILE
    }
    decoy = tickets.create(draft(), Flag("mail-b"), origin(key="x", scope="x"))
    for value, ticket in made.items():
        found = tickets.find(origin(key=value, scope=value), FLAG)
        assert found is not None and found.key == ticket.key
    listed = {t.key for t in tickets.flagged(FLAG)}
    assert listed == {t.key for t in made.values()} and decoy.key not in listed
    queries = [json.loads(r.body)["jql"] for r in jira.requests if "/search" in r.path]
    assert queries
    for query in queries:
        clauses = _clauses(query)
        assert clauses[0] == ("project", "=", ("OPS",))
        assert clauses[1:] in ([], [("labels", "=", (FLAG.label,))]), query
        assert "imap" not in query  # origins are matched on the results, never in JQL


def test_a_hostile_flag_label_stays_one_value(start_jira: Start, flavour: str) -> None:
    """Instance names are restricted by the core; even a label outside those rules
    cannot widen the listing."""
    jira = start_jira(flavour)
    tickets = make_tickets(jira, "mail-a")
    tickets.create(draft(), FLAG, origin())
    hostile = Flag('x" OR project = OPS OR labels = "y')
    assert list(tickets.flagged(hostile)) == []
    (query, *_) = [json.loads(r.body)["jql"] for r in jira.requests if "/search" in r.path]
    assert _clauses(query) == [("project", "=", ("OPS",)), ("labels", "=", (hostile.label,))]
