"""Tests of the Jira emulator, with every request/response checked against Jira's OpenAPI."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from shitshovela_jira_emulator import JiraEmulator, ProjectConfig, jira_openapi, routes
from shitshovela_jira_emulator.jql import Clause, JqlError, parse, tokenize
from shitshovela_testkit.clock import ManualClock
from shitshovela_testkit.emulatorsuite import checked_emulators, run_python

pytestmark = pytest.mark.servers

PLUGIN_ROOT = Path(__file__).resolve().parents[1]

Factory = Callable[..., JiraEmulator]


@pytest.fixture(scope="session")
def spec_path() -> Path:
    """Jira's OpenAPI excerpt in the repository's ``specs/`` (raises when missing)."""
    return jira_openapi()


@pytest.fixture
def make_jira(spec_path: Path) -> Iterator[Factory]:
    """Start emulators (spec-validated unless told otherwise); fail on any violation."""
    with checked_emulators(JiraEmulator, spec_path) as make:
        yield make


@pytest.fixture
def jira(make_jira: Factory) -> JiraEmulator:
    return make_jira(projects={"OPS": ProjectConfig("OPS", ("Task", "Bug"), components=("Mail",))})


def client(jira: JiraEmulator, **headers: str) -> httpx.Client:
    return httpx.Client(base_url=jira.url, headers={**jira.auth_headers(), **headers}, timeout=5.0)


def adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


def create(
    c: httpx.Client,
    summary: str = "Mail from alice",
    *,
    labels: list[str] | None = None,
    properties: dict[str, Any] | None = None,
    api: str = "3",
    description: Any = None,
) -> httpx.Response:
    fields: dict[str, Any] = {
        "project": {"key": "OPS"},
        "issuetype": {"name": "Task"},
        "summary": summary,
        "labels": labels if labels is not None else ["shitshovela-inprogress"],
    }
    if description is not None:
        fields["description"] = description
    body: dict[str, Any] = {"fields": fields}
    if properties:
        body["properties"] = [{"key": k, "value": v} for k, v in properties.items()]
    return c.post(f"/rest/api/{api}/issue", json=body)


def search(c: httpx.Client, jql: str, **params: Any) -> httpx.Response:
    return c.get("/rest/api/3/search/jql", params={"jql": jql, **params})


def keys_of(c: httpx.Client, jql: str) -> list[str]:
    r = search(c, jql, fields="key", maxResults=100)
    assert r.status_code == 200, r.text
    return [i["key"] for i in r.json()["issues"]]


def jql_quote(value: str) -> str:
    """The test's own JQL escaper (independent of the emulator's helper)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


# ------------------------------------------------------------------ create / get / edit


def test_create_then_get_returns_fields_properties_and_sequential_keys(
    jira: JiraEmulator,
) -> None:
    with client(jira) as c:
        r1 = create(
            c,
            labels=["shitshovela-inprogress", "mail"],
            properties={"shitshovela.origin": {"ref": "imap://inbox/42", "uidvalidity": 7}},
            description=adf("Hello\nworld"),
        )
        r2 = create(c, "Second")
        assert (r1.status_code, r2.status_code) == (201, 201), r1.text
        first = r1.json()
        assert first["key"] == "OPS-1" and r2.json()["key"] == "OPS-2"
        assert isinstance(first["id"], str) and first["id"].isdigit()
        assert first["self"] == f"{jira.url}/rest/api/3/issue/{first['id']}"

        got = c.get("/rest/api/3/issue/OPS-1", params={"properties": "shitshovela.origin"})
        assert got.status_code == 200
        issue = got.json()
        assert issue["key"] == "OPS-1" and issue["id"] == first["id"]
        assert issue["fields"]["labels"] == ["mail", "shitshovela-inprogress"]
        assert issue["fields"]["summary"] == "Mail from alice"
        assert issue["fields"]["description"] == adf("Hello\nworld")
        assert issue["fields"]["project"]["key"] == "OPS"
        assert issue["fields"]["issuetype"]["name"] == "Task"
        assert issue["properties"] == {
            "shitshovela.origin": {"ref": "imap://inbox/42", "uidvalidity": 7}
        }
        # by id too, and without ?properties there is no properties member
        by_id = c.get(f"/rest/api/3/issue/{first['id']}", params={"fields": "summary"}).json()
        assert by_id["fields"] == {"summary": "Mail from alice"}
        assert "properties" not in by_id
        assert c.get("/rest/api/3/issue/OPS-99").status_code == 404
    assert [i.key for i in jira.issues()] == ["OPS-1", "OPS-2"]
    assert jira.issue("OPS-1").description == "Hello\nworld"


def test_edit_labels_with_update_operations_and_fields(jira: JiraEmulator) -> None:
    with client(jira) as c:
        assert create(c, labels=["flag", "keep"]).status_code == 201
        r = c.put(
            "/rest/api/3/issue/OPS-1",
            json={"update": {"labels": [{"remove": "flag"}, {"add": "done"}]}},
        )
        assert r.status_code == 204 and r.content == b""
        assert jira.issue("OPS-1").labels == ("done", "keep")
        r = c.put("/rest/api/3/issue/OPS-1", json={"fields": {"labels": ["only"]}})
        assert r.status_code == 204
        got = c.get("/rest/api/3/issue/OPS-1", params={"fields": "labels"}).json()
        assert got["fields"]["labels"] == ["only"]
        # removing a label that is not there is a no-op, as in Jira
        r = c.put("/rest/api/3/issue/OPS-1", json={"update": {"labels": [{"remove": "nope"}]}})
        assert r.status_code == 204
        assert jira.issue("OPS-1").labels == ("only",)
        both = c.put(
            "/rest/api/3/issue/OPS-1",
            json={"fields": {"labels": ["a"]}, "update": {"labels": [{"add": "b"}]}},
        )
        assert both.status_code == 400 and "labels" in both.json()["errors"]


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ({"labels": ["has space"]}, "labels", "contains spaces"),
        ({"labels": ["x" * 256]}, "labels", "maximum length"),
        ({"summary": "s" * 256}, "summary", "less than 255"),
        ({"summary": "two\nlines"}, "summary", "newline"),
        ({"description": adf("d" * 32768)}, "description", "too long"),
        ({"description": "plain text in v3"}, "description", "Atlassian Document"),
        ({"issuetype": {"name": "Epic"}}, "issuetype", "valid issue type"),
        ({"components": [{"name": "Nope"}]}, "components", "not valid"),
        ({"customfield_123": "x"}, "customfield_123", "cannot be set"),
    ],
)
def test_create_enforces_jira_field_rules(
    jira: JiraEmulator, fields: dict[str, Any], field: str, fragment: str
) -> None:
    body = {
        "fields": {
            "project": {"key": "OPS"},
            "issuetype": {"name": "Task"},
            "summary": "ok",
            **fields,
        }
    }
    with client(jira) as c:
        r = c.post("/rest/api/3/issue", json=body)
    assert r.status_code == 400
    assert fragment in r.json()["errors"][field]
    assert jira.issues() == []


def test_label_with_space_rejected_on_edit_too(jira: JiraEmulator) -> None:
    with client(jira) as c:
        assert create(c).status_code == 201
        r = c.put("/rest/api/3/issue/OPS-1", json={"update": {"labels": [{"add": "a b"}]}})
    assert r.status_code == 400
    assert r.json()["errors"] == {"labels": "The label 'a b' contains spaces which is invalid."}
    assert jira.issue("OPS-1").labels == ("shitshovela-inprogress",)


def test_components_priority_and_comments(jira: JiraEmulator) -> None:
    with client(jira) as c:
        body = {
            "fields": {
                "project": {"id": "10000"},
                "issuetype": {"id": "10001"},
                "summary": "with parts",
                "components": [{"name": "Mail"}],
                "priority": {"name": "High"},
            }
        }
        assert c.post("/rest/api/3/issue", json=body).status_code == 201
        r = c.post("/rest/api/3/issue/OPS-1/comment", json={"body": adf("a note")})
        assert r.status_code == 201 and r.json()["body"] == adf("a note")
        page = c.get("/rest/api/3/issue/OPS-1/comment").json()
        assert page["total"] == 1 and page["comments"][0]["id"] == r.json()["id"]
        fields = c.get("/rest/api/3/issue/OPS-1").json()["fields"]
    assert [x["name"] for x in fields["components"]] == ["Mail"]
    assert fields["priority"]["name"] == "High"
    assert fields["comment"]["total"] == 1


def test_concurrent_creates_get_unique_sequential_keys(jira: JiraEmulator) -> None:
    def worker(n: int) -> list[str]:
        with client(jira) as c:
            return [create(c, f"t{n}-{i}").json()["key"] for i in range(5)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        keys = [k for batch in pool.map(worker, range(4)) for k in batch]
    assert sorted(keys, key=lambda k: int(k.split("-")[1])) == [f"OPS-{n}" for n in range(1, 21)]
    assert len({i.id for i in jira.issues()}) == 20


# ---------------------------------------------------------------------------- search


def test_search_paginates_with_next_page_token(jira: JiraEmulator) -> None:
    with client(jira) as c:
        for n in range(7):
            assert create(c, f"item {n}").status_code == 201
        seen: list[str] = []
        token: str | None = None
        pages = 0
        while True:
            params: dict[str, Any] = {
                "jql": "project = OPS ORDER BY key DESC",
                "maxResults": 3,
                "fields": "summary",
            }
            if token:
                params["nextPageToken"] = token
            page = c.get("/rest/api/3/search/jql", params=params).json()
            pages += 1
            assert "startAt" not in page and "total" not in page
            seen += [i["key"] for i in page["issues"]]
            if page["isLast"]:
                assert "nextPageToken" not in page
                break
            token = page["nextPageToken"]
        assert pages == 3
        assert seen == [f"OPS-{n}" for n in range(7, 0, -1)]
        # POST flavour, default fields = id only
        r = c.post("/rest/api/3/search/jql", json={"jql": "project = OPS", "maxResults": 2})
        assert r.status_code == 200
        assert r.json()["issues"] == [{"id": "10000"}, {"id": "10001"}]
        bad = search(c, "project = OPS", nextPageToken="garbage!")
        assert bad.status_code == 400
        unbounded = search(c, "ORDER BY key")
        assert unbounded.status_code == 400
        assert "Unbounded" in unbounded.json()["errorMessages"][0]


def test_properties_set_at_create_are_searchable(jira: JiraEmulator) -> None:
    with client(jira) as c:
        create(c, "a", properties={"origin": {"ref": "s3://b/k1", "tags": ["x", "y"]}})
        create(c, "b", properties={"origin": {"ref": "s3://b/k2"}})
        create(c, "c")
        assert keys_of(c, 'issue.property[origin].ref = "s3://b/k2"') == ["OPS-2"]
        assert keys_of(c, "issue.property[origin].tags = y") == ["OPS-1"]
        assert keys_of(c, 'issue.property[origin].ref in ("s3://b/k1", "s3://b/k2")') == [
            "OPS-1",
            "OPS-2",
        ]
        assert keys_of(c, "issue.property[origin].ref is EMPTY AND project = OPS") == ["OPS-3"]
        r = c.post(
            "/rest/api/3/search/jql",
            json={
                "jql": "labels = shitshovela-inprogress AND issue.property[origin].ref = 's3://b/k1'",
                "fields": ["labels"],
                "properties": ["origin"],
            },
        )
        assert r.status_code == 200
        (issue,) = r.json()["issues"]
        assert issue["properties"] == {"origin": {"ref": "s3://b/k1", "tags": ["x", "y"]}}
        assert issue["fields"] == {"labels": ["shitshovela-inprogress"]}


def test_index_lag_hides_fresh_issue_from_search_but_not_from_get(make_jira: Factory) -> None:
    clock = ManualClock()
    jira = make_jira(index_lag=30.0, clock=clock)
    with client(jira) as c:
        created = create(c).json()
        assert keys_of(c, "labels = shitshovela-inprogress") == []
        assert c.get(f"/rest/api/3/issue/{created['key']}").status_code == 200
        # reconcileIssues makes exactly those ids consistent
        r = search(
            c,
            "labels = shitshovela-inprogress",
            fields="key",
            reconcileIssues=[int(created["id"])],
        )
        assert [i["key"] for i in r.json()["issues"]] == [created["key"]]
        clock.advance(29.9)
        assert keys_of(c, "labels = shitshovela-inprogress") == []
        clock.advance(0.1)
        assert keys_of(c, "labels = shitshovela-inprogress") == [created["key"]]

        # a label removal lags the same way: the stale index still lists the flag
        c.put(
            f"/rest/api/3/issue/{created['key']}",
            json={"update": {"labels": [{"remove": "shitshovela-inprogress"}]}},
        )
        assert keys_of(c, "labels = shitshovela-inprogress") == [created["key"]]
        assert jira.issue(created["key"]).labels == ()
        jira.index_lag = 0  # settable at run time
        assert keys_of(c, "labels = shitshovela-inprogress") == []


def test_index_lag_in_real_time(make_jira: Factory) -> None:
    lag = 0.3
    jira = make_jira(index_lag=lag)
    with client(jira) as c:
        written = time.monotonic()  # before the create: the server's write is later
        key = create(c).json()["key"]
        deadline = written + 5.0
        visible_after: float | None = None
        while time.monotonic() < deadline:
            found = keys_of(c, "project = OPS")
            done = time.monotonic()
            if found:
                assert found == [key]
                visible_after = done - written
                break
        assert visible_after is not None, "the issue never became searchable"
        # visible only once the lag has passed since the write
        assert visible_after >= lag
        assert c.get(f"/rest/api/3/issue/{key}").status_code == 200


def test_data_center_lags_too(make_jira: Factory) -> None:
    clock = ManualClock()
    jira = make_jira(flavour="datacenter", index_lag=1.0, clock=clock)
    with client(jira) as c:
        assert create(c, api="2", description="text").status_code == 201
        assert c.get("/rest/api/2/search", params={"jql": "project = OPS"}).json()["total"] == 0
        clock.advance(1.0)
        assert c.get("/rest/api/2/search", params={"jql": "project = OPS"}).json()["total"] == 1


# ------------------------------------------------------------------------------- JQL


@pytest.mark.parametrize(
    ("jql", "fragment"),
    [
        ('labels = "abc', "has not been completed"),
        ("labels = 'abc", "has not been completed"),
        ("labels = OR", "reserved JQL word"),
        ("labels = foo OR", "Expecting"),
        ("labels = select", "reserved JQL word"),
        ("labels = a", "reserved JQL word"),
        ('labels = "a"b"', "has not been completed"),
        ("labels = foo bar", "Expecting either 'OR' or 'AND'"),
        ("labels = foo%bar", "reserved JQL character"),
        ('labels = "bad \\q escape"', "escape sequence"),
        ("project = NOPE", "does not exist for the field 'project'"),
        ("key = OPS-999", "does not exist"),
        ("nosuchfield = 1", "does not exist"),
        ("summary = x", "not supported"),
        ("labels in foo", "requires a list"),
        ("(labels = foo", "Expecting ')'"),
    ],
)
def test_bad_jql_is_400_with_jira_error_messages(
    jira: JiraEmulator, jql: str, fragment: str
) -> None:
    with client(jira) as c:
        create(c)
        r = search(c, jql)
    assert r.status_code == 400
    (message,) = r.json()["errorMessages"]
    assert fragment in message


@pytest.mark.parametrize(
    "value",
    ['say "hi"', "it's", "back\\slash", "OR", "x AND labels = shitshovela-inprogress", "'", ""],
)
def test_escaped_values_find_exactly_the_intended_issue(jira: JiraEmulator, value: str) -> None:
    decoys = ["say", "hi", "it", "back", "slash", "x", "AND labels"]
    with client(jira) as c:
        for d in decoys:
            create(c, f"decoy {d}", properties={"origin": {"ref": d}})
        target = create(c, "target", properties={"origin": {"ref": value}}).json()["key"]
        assert keys_of(c, f"issue.property[origin].ref = {jql_quote(value)}") == [target]
        single = value.replace("\\", "\\\\").replace("'", "\\'")
        assert keys_of(c, f"issue.property[origin].ref = '{single}'") == [target]


def test_unescaped_quote_or_keyword_is_rejected_not_widened(jira: JiraEmulator) -> None:
    with client(jira) as c:
        create(c, "a", properties={"origin": {"ref": 'a"b'}})
        create(c, "b", properties={"origin": {"ref": "b"}})
        naive = search(c, 'issue.property[origin].ref = "a"b"')
        assert naive.status_code == 400
        injected = search(c, "issue.property[origin].ref = x OR project = OPS")
        # valid JQL: the unquoted OR really is an operator and widens the query
        assert injected.status_code == 200
        assert len(injected.json()["issues"]) == 2
        quoted = keys_of(c, f"issue.property[origin].ref = {jql_quote('x OR project = OPS')}")
        assert quoted == []


def test_created_clause_and_order_by_created(jira: JiraEmulator) -> None:
    with client(jira) as c:
        create(c, "first")
        create(c, "second")
        assert keys_of(c, "project = OPS AND created >= -1d ORDER BY created DESC, key DESC") == [
            "OPS-2",
            "OPS-1",
        ]
        assert keys_of(c, 'project = OPS AND created < "2000/01/01"') == []
        assert keys_of(c, 'created >= "2000-01-01 00:00" AND summary ~ "second"') == ["OPS-2"]
        bad = search(c, 'created >= "yesterday"')
        assert bad.status_code == 400 and "is invalid" in bad.json()["errorMessages"][0]


def test_jql_parser_units() -> None:
    toks = tokenize(r'labels = "a\"b" AND x ~ \u0041')
    assert [t.kind for t in toks] == ["WORD", "OP", "STRING", "AND", "WORD", "OP", "WORD", "EOF"]
    assert toks[2].text == 'a"b' and toks[6].text == "A"
    q = parse("project = OPS AND (labels in (foo, 'b c') OR NOT key = OPS-1) ORDER BY created DESC")
    assert q.order_by[0].descending is True and q.order_by[0].field.name == "created"
    prop = parse('issue.property[shitshovela.origin].ref.id = "x"').where
    assert isinstance(prop, Clause)
    assert prop.field.prop_key == "shitshovela.origin"
    assert prop.field.prop_path == ("ref", "id")
    with pytest.raises(JqlError, match=r"character 10\)"):
        parse('labels = "open')


# ------------------------------------------------------------------------ fault modes


def test_rate_limit_fault_answers_429_with_retry_after(jira: JiraEmulator) -> None:
    jira.faults.rate_limit(2, retry_after="3")
    with client(jira) as c:
        first = c.get("/rest/api/3/myself")
        second = create(c)
        third = c.get("/rest/api/3/myself")
    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
    assert first.headers["Retry-After"] == "3"
    assert first.headers["X-RateLimit-Remaining"] == "0"
    assert "X-RateLimit-Reset" in first.headers and "RateLimit-Reason" in first.headers
    assert jira.issues() == []  # the throttled create did nothing
    assert [r.status for r in jira.requests] == [429, 429, 200]
    times = [r.time for r in jira.requests]
    assert times == sorted(times)


def test_unavailable_fault_answers_503(jira: JiraEmulator) -> None:
    jira.faults.unavailable(1, retry_after="1")
    with client(jira) as c:
        r = c.get("/rest/api/3/myself")
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"


def test_commit_then_500_creates_the_issue_anyway(jira: JiraEmulator) -> None:
    jira.faults.next_create = "commit_then_500"
    with client(jira) as c:
        r = create(c, properties={"origin": {"ref": "m1"}})
        assert r.status_code == 500
        assert [i.key for i in jira.issues()] == ["OPS-1"]
        assert c.get("/rest/api/3/issue/OPS-1").status_code == 200
        assert create(c).json()["key"] == "OPS-2"  # one-shot


def test_commit_then_drop_creates_the_issue_anyway(jira: JiraEmulator) -> None:
    jira.faults.next_create = "commit_then_drop"
    with client(jira) as c, pytest.raises(httpx.RemoteProtocolError):
        create(c)
    assert [i.key for i in jira.issues()] == ["OPS-1"]
    assert jira.requests[-1].status == 0


def test_fail_without_commit_and_edit_faults(jira: JiraEmulator) -> None:
    with client(jira) as c:
        jira.faults.next_create = "fail_500"
        assert create(c).status_code == 500
        assert jira.issues() == []
        assert create(c).status_code == 201
        jira.faults.next_edit = "commit_then_drop"
        with pytest.raises(httpx.RemoteProtocolError):
            c.put("/rest/api/3/issue/OPS-1", json={"update": {"labels": [{"set": []}]}})
    assert jira.issue("OPS-1").labels == ()
    with pytest.raises(ValueError, match="unknown fault"):
        jira.faults.next_create = "explode"


def test_forbidden_project(jira: JiraEmulator) -> None:
    with client(jira) as c:
        create(c)
        jira.faults.forbid_project("OPS")
        assert create(c).status_code == 403
        assert c.get("/rest/api/3/issue/OPS-1").status_code == 200
        assert c.put("/rest/api/3/issue/OPS-1", json={"fields": {"labels": []}}).status_code == 403
        jira.faults.forbid_project("OPS", browse=False)
        assert c.get("/rest/api/3/issue/OPS-1").status_code == 404
        assert c.get("/rest/api/3/project/OPS").status_code == 404
        hidden = search(c, "project = OPS")
        assert hidden.status_code == 400
        assert "does not exist for the field 'project'" in hidden.json()["errorMessages"][0]
        assert create(c).json()["errors"]["project"] == "Specify a valid project ID or key"
        jira.faults.allow_project("OPS")
        assert keys_of(c, "project = OPS") == ["OPS-1"]


# ------------------------------------------------------------------------------- auth


def test_auth_failures_are_401(make_jira: Factory) -> None:
    jira = make_jira()
    with httpx.Client(base_url=jira.url, timeout=5.0) as anon:
        assert anon.get("/rest/api/3/myself").status_code == 401
        assert anon.get("/rest/api/3/serverInfo").status_code == 200  # anonymous is fine
        wrong = base64.b64encode(b"bot@example.com:wrong").decode()
        r = anon.get("/rest/api/3/myself", headers={"Authorization": f"Basic {wrong}"})
        assert r.status_code == 401
        assert r.headers["X-Seraph-LoginReason"] == "AUTHENTICATED_FAILED"
        bearer = anon.get(
            "/rest/api/3/serverInfo", headers={"Authorization": "Bearer cloud-api-token"}
        )
        assert bearer.status_code == 401
    dc = make_jira(flavour="datacenter", pat="secret-pat")
    with httpx.Client(base_url=dc.url, timeout=5.0) as anon:
        ok = anon.get("/rest/api/2/myself", headers={"Authorization": "Bearer secret-pat"})
        assert ok.status_code == 200 and ok.json()["name"] == "bot"
        assert (
            anon.get("/rest/api/2/myself", headers={"Authorization": "Bearer x"}).status_code == 401
        )
    assert jira.issues() == [] and dc.issues() == []


# ------------------------------------------------------------------------------ users


def test_each_token_is_a_user_and_issues_record_their_creator(make_jira: Factory) -> None:
    jira = make_jira()
    mallory = jira.add_user("mallory")
    with (
        client(jira) as bot,
        httpx.Client(base_url=jira.url, headers=jira.auth_headers("mallory"), timeout=5.0) as other,
    ):
        assert bot.get("/rest/api/3/myself").json()["accountId"] == "5b10ac8d82e05b22cc7d4ef5"
        assert other.get("/rest/api/3/myself").json()["accountId"] == mallory.account_id
        assert create(bot, "by the bot").status_code == 201
        assert create(other, "planted").status_code == 201
        fields = "creator,reporter,labels"
        mine = bot.get("/rest/api/3/issue/OPS-1", params={"fields": fields}).json()["fields"]
        theirs = bot.get("/rest/api/3/issue/OPS-2", params={"fields": fields}).json()["fields"]
        found = bot.post(
            "/rest/api/3/search/jql",
            json={"jql": "project = OPS ORDER BY key ASC", "fields": ["creator"]},
        ).json()["issues"]
    assert mine["creator"]["accountId"] == mine["reporter"]["accountId"] != mallory.account_id
    assert theirs["creator"]["accountId"] == theirs["reporter"]["accountId"] == mallory.account_id
    assert [i["fields"]["creator"]["displayName"] for i in found] == ["Ticket Bot", "Mallory"]
    assert [i.creator for i in jira.issues()] == ["bot", "mallory"]
    assert jira.seed_issue("OPS", "seeded").creator == "bot"
    assert jira.seed_issue("OPS", "seeded by a person", creator="mallory").creator == "mallory"


def test_data_center_users_have_a_key_besides_their_name(make_jira: Factory) -> None:
    jira = make_jira(flavour="datacenter", pat="bot-pat")
    jira.add_user("mallory", pat="mallory-pat")
    with httpx.Client(
        base_url=jira.url, headers={"Authorization": "Bearer mallory-pat"}, timeout=5.0
    ) as other:
        me = other.get("/rest/api/2/myself").json()
        assert (me["name"], me["key"]) == ("mallory", "JIRAUSER10101")
        assert create(other, api="2").status_code == 201
        creator = other.get("/rest/api/2/issue/OPS-1", params={"fields": "creator"}).json()
    assert creator["fields"]["creator"]["key"] == "JIRAUSER10101"
    with pytest.raises(ValueError, match="another user has these credentials"):
        jira.add_user("eve", pat="bot-pat")


def test_a_deleted_issue_leaves_a_gap_in_the_keys(jira: JiraEmulator) -> None:
    with client(jira) as c:
        for n in range(3):
            create(c, f"issue {n}")
        jira.delete_issue("OPS-2")
        assert c.get("/rest/api/3/issue/OPS-2").status_code == 404
        assert keys_of(c, "project = OPS ORDER BY key ASC") == ["OPS-1", "OPS-3"]
        assert create(c, "after").json()["key"] == "OPS-4"
    with pytest.raises(KeyError):
        jira.delete_issue("OPS-2")


# ------------------------------------------------------------------------ held creates


def give_up_on_create(c: httpx.Client, summary: str) -> None:
    """Send a create and stop waiting for its answer after a short while."""
    with pytest.raises(httpx.ReadTimeout):
        c.post(
            "/rest/api/3/issue",
            json={
                "fields": {
                    "project": {"key": "OPS"},
                    "issuetype": {"name": "Task"},
                    "summary": summary,
                    "labels": ["shitshovela-inprogress"],
                }
            },
            timeout=0.3,
        )


def test_a_held_create_commits_when_told_after_the_client_gave_up(jira: JiraEmulator) -> None:
    jira.faults.hold_next_create()
    with client(jira) as c:
        give_up_on_create(c, "held")
        assert jira.held_creates == 1
        assert jira.issues() == []
        assert create(c, "not held").json()["key"] == "OPS-1"  # one-shot; others go on
        assert keys_of(c, "project = OPS") == ["OPS-1"]
        assert jira.commit_held() == ["OPS-2"]  # its key is handed out at the commit
        assert keys_of(c, "project = OPS ORDER BY key ASC") == ["OPS-1", "OPS-2"]
    assert [i.summary for i in jira.issues()] == ["not held", "held"]
    assert jira.held_creates == 0 and jira.commit_held() == []


def test_a_held_create_commits_by_itself_after_its_delay(jira: JiraEmulator) -> None:
    jira.faults.hold_next_create(commit_after=0.2)
    with client(jira) as c:
        r = create(c, "late")  # a client that waits gets the answer at the commit
    assert r.status_code == 201 and r.json()["key"] == "OPS-1"
    assert [i.summary for i in jira.issues()] == ["late"]


def test_a_held_create_that_is_discarded_leaves_nothing(jira: JiraEmulator) -> None:
    jira.faults.hold_next_create()
    with client(jira) as c:
        give_up_on_create(c, "never")
        assert jira.discard_held() == 1
        assert jira.commit_held() == []
        assert create(c, "after").json()["key"] == "OPS-1"
    assert [i.summary for i in jira.issues()] == ["after"]


# ------------------------------------------------------------------------ v2 / DC flavour


def test_data_center_v2_create_and_search_with_start_at(make_jira: Factory) -> None:
    jira = make_jira(flavour="datacenter")
    with client(jira) as c:
        for n in range(5):
            r = create(c, f"dc {n}", api="2", description=f"line one\nline {n}")
            assert r.status_code == 201, r.text
        got = c.get("/rest/api/2/issue/OPS-2").json()
        assert got["fields"]["description"] == "line one\nline 1"
        assert got["self"].endswith("/rest/api/2/issue/10001")
        page = c.get(
            "/rest/api/2/search",
            params={"jql": "project = OPS ORDER BY key ASC", "startAt": 3, "maxResults": 2},
        ).json()
        assert (page["startAt"], page["maxResults"], page["total"]) == (3, 2, 5)
        assert [i["key"] for i in page["issues"]] == ["OPS-4", "OPS-5"]
        assert "summary" in page["issues"][0]["fields"]  # default: navigable fields
        post = c.post("/rest/api/2/search", json={"jql": "labels = nope", "startAt": 0})
        assert post.json()["total"] == 0
        assert c.get("/rest/api/3/issue/OPS-1").status_code == 404  # no v3 on DC
        assert c.get("/rest/api/2/search/jql", params={"jql": "x = 1"}).status_code == 404
        info = c.get("/rest/api/2/serverInfo").json()
        assert info["deploymentType"] == "Server"
        adf_in_v2 = create(c, api="2", description=adf("x"))
        assert adf_in_v2.status_code == 400
        meta = c.get("/rest/api/2/issue/createmeta/OPS/issuetypes").json()
        assert [t["name"] for t in meta["values"]] == ["Task", "Bug"]


def test_cloud_serves_v2_with_plain_text_and_removed_old_search(jira: JiraEmulator) -> None:
    with client(jira) as c:
        assert create(c, api="2", description="plain\ntext").status_code == 201
        v3 = c.get("/rest/api/3/issue/OPS-1").json()["fields"]["description"]
        assert v3["type"] == "doc" and v3["content"][1]["content"][0]["text"] == "text"
        assert c.get("/rest/api/2/issue/OPS-1").json()["fields"]["description"] == "plain\ntext"
        assert c.get("/rest/api/2/search", params={"jql": "project = OPS"}).status_code == 410
        assert c.get("/rest/api/3/search", params={"jql": "project = OPS"}).status_code == 410
        v2jql = c.get(
            "/rest/api/2/search/jql", params={"jql": "project = OPS", "fields": "description"}
        )
        assert v2jql.json()["issues"][0]["fields"]["description"] == "plain\ntext"
        assert c.get("/rest/api/3/serverInfo").json()["deploymentType"] == "Cloud"


# ------------------------------------------------------------------------- attachments


def test_attachments_upload_list_download_and_limits(make_jira: Factory) -> None:
    jira = make_jira(attachment_max_bytes=1000)
    payload = b"\x00binary\r\n--not-a-boundary\r\n\xff" * 10
    with client(jira) as c:
        create(c)
        r = c.post(
            "/rest/api/3/issue/OPS-1/attachments",
            headers={"X-Atlassian-Token": "no-check"},
            files={"file": ("mail.eml", payload, "message/rfc822")},
        )
        assert r.status_code == 200, r.text
        (att,) = r.json()
        assert (att["filename"], att["size"], att["mimeType"]) == (
            "mail.eml",
            len(payload),
            "message/rfc822",
        )
        listed = c.get("/rest/api/3/issue/OPS-1", params={"fields": "attachment"}).json()
        assert [a["id"] for a in listed["fields"]["attachment"]] == [att["id"]]
        assert c.get(att["content"]).content == payload
        big = c.post(
            "/rest/api/3/issue/OPS-1/attachments",
            headers={"X-Atlassian-Token": "no-check"},
            files={"file": ("big.bin", b"x" * 1001)},
        )
        assert big.status_code == 413
    assert jira.issue("OPS-1").attachments[0].content == payload
    assert len(jira.issue("OPS-1").attachments) == 1
    assert any("attachment/content" in u for u in jira.unvalidated)


def test_attachment_rules_from_the_spec_description(jira: JiraEmulator) -> None:
    with client(jira) as c:
        create(c)
        no_token = c.post("/rest/api/3/issue/OPS-1/attachments", files={"file": ("a.txt", b"a")})
        assert no_token.status_code == 403
        wrong_part = c.post(
            "/rest/api/3/issue/OPS-1/attachments",
            headers={"X-Atlassian-Token": "no-check"},
            files={"upload": ("a.txt", b"a")},
        )
        assert wrong_part.status_code == 400
    messages = [v.message for v in jira.violations]
    assert any("X-Atlassian-Token" in m for m in messages)
    assert any("named 'file'" in m for m in messages)
    assert jira.issue("OPS-1").attachments == ()
    jira.clear_violations()


# -------------------------------------------------------------------- spec validation


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "fragment"),
    [
        (
            "POST",
            "/rest/api/3/issue",
            {"json": {"fields": [{"summary": "x"}]}},
            "is not of type 'object'",
        ),
        (
            "PUT",
            "/rest/api/3/issue/OPS-1",
            {"json": {"update": {"labels": {"add": "x"}}}},
            "is not of type 'array'",
        ),
        (
            "PUT",
            "/rest/api/3/issue/OPS-1",
            {"json": {"update": {"labels": [{"append": "x"}]}}},
            "Additional properties",
        ),
        (
            "POST",
            "/rest/api/3/search/jql",
            {"json": {"jql": "project = OPS", "startAt": 50}},
            "'startAt' was unexpected",
        ),
        (
            "GET",
            "/rest/api/3/search/jql",
            {"params": {"jql": "project = OPS", "reconcileIssues": "10000,10001"}},
            "reconcileIssues",
        ),
        (
            "GET",
            "/rest/api/3/search/jql",
            {"params": {"jql": "project = OPS", "maxResults": "lots"}},
            "maxResults",
        ),
    ],
)
def test_spec_validation_catches_malformed_requests(
    jira: JiraEmulator, method: str, path: str, kwargs: dict[str, Any], fragment: str
) -> None:
    with client(jira) as c:
        assert create(c).status_code == 201
        before = jira.issue("OPS-1")
        r = c.request(method, path, **kwargs)
    assert r.status_code == 400
    assert "OpenAPI" in r.json()["errorMessages"][0]
    (violation,) = jira.violations
    assert violation.kind == "request" and fragment in violation.message
    assert jira.issues() == [before]  # nothing was changed
    with pytest.raises(AssertionError, match="do not match Jira's OpenAPI"):
        jira.assert_no_violations()
    jira.clear_violations()


def test_metadata_endpoints_pass_response_validation(jira: JiraEmulator) -> None:
    with client(jira) as c:
        for path in (
            "/rest/api/3/myself",
            "/rest/api/3/serverInfo",
            "/rest/api/3/project/OPS",
            "/rest/api/3/issue/createmeta/OPS/issuetypes",
            "/rest/api/3/field",
        ):
            assert c.get(path).status_code == 200, path
        assert c.get("/rest/api/3/project/NOPE").status_code == 404
        r = c.post("/rest/api/3/search/approximate-count", json={"jql": "project = OPS"})
        assert r.json() == {"count": 0}
    assert jira.violations == []
    assert [r.path for r in jira.requests][:2] == ["/rest/api/3/myself", "/rest/api/3/serverInfo"]


def test_response_validation_catches_a_wrong_emulator_answer(
    jira: JiraEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(site: Any, req: Any) -> Any:
        return original(site, req).__class__(200, {"accountId": 42, "bogus": True})

    original = routes.HANDLERS["myself"]
    monkeypatch.setitem(routes.HANDLERS, "myself", broken)
    with client(jira) as c:
        assert c.get("/rest/api/3/myself").status_code == 200  # answered all the same
    (violation,) = jira.violations
    assert violation.kind == "response" and violation.operation == "getCurrentUser"
    assert "bogus" in violation.message
    jira.clear_violations()


def test_without_validation_no_violations_are_recorded(make_jira: Factory) -> None:
    jira = make_jira(validate_spec=None)
    with client(jira) as c:
        r = c.post("/rest/api/3/issue", json={"fields": ["not", "an", "object"]})
    assert r.status_code == 400  # the emulator's own check, in Jira's words
    assert jira.violations == [] and jira.unvalidated == []


def test_emulator_imports_and_runs_without_openapi_core() -> None:
    code = (
        "import sys; sys.modules['openapi_core'] = None\n"
        "import httpx\n"
        "from shitshovela_jira_emulator import JiraEmulator\n"
        "with JiraEmulator() as j:\n"
        "    r = httpx.get(j.url + '/rest/api/3/myself', headers=j.auth_headers())\n"
        "    assert r.status_code == 200, r.text\n"
        "assert 'openapi_core' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "print('ok')\n"
    )
    out = run_python(code, pythonpath=PLUGIN_ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
