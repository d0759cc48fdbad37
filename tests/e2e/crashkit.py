"""The end-to-end crash harness: the real CLI, real servers, a kill at any request.

A `Scenario` owns one fresh ticket system (a Jira emulator, `JiraSide`, or a
GitHub emulator, `GitHubSide`) and one fresh source (a new bucket, or a new
mailbox user), both reached through proxies that number every request the job
sends, to either system: HTTP requests through the fault proxy, IMAP commands
through `ImapRelay`. `Killer` SIGKILLs the job right before its k-th
request reaches a server (the request is never forwarded) or right after it
did (before the answer reaches the job). The scenario then runs the job
fault-free until the source is empty, and `Scenario.verdict` checks docs/DESIGN.md's
I1-I3: every item is exactly one ticket with its content, no flag is left, the
source is empty.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from imaprelay import ImapRelay
from shitshovela_github_emulator import GitHubEmulator, TokenConfig
from shitshovela_jira_emulator import JiraEmulator, ProjectConfig
from shitshovela_testkit import jobenv
from shitshovela_testkit.faultproxy import (
    Event,
    Fault,
    FaultProxy,
    Hang,
    RequestEvent,
    ResponseEvent,
    Script,
)

from shitshovela_core import find_origin
from shitshovela_core.models import FLAG_PREFIX, Origin

EMAIL, API_TOKEN = "e2e@example.com", 'e2e-api-token-"quoted"-12345'
#: The job's index lag setting for Jira, and its claim window: a claimed item whose
#: ticket cannot be found waits this long (longer than the lag) before it is
#: ticketed again, so `Scenario.settle` waits it out between runs.
INDEX_LAG, CLAIM_WINDOW = 2.0, 3.0
ORIGIN_PROPERTY = "shitshovela.origin"
#: GitHub's side: the repository, the job's token, and the listing lag it declares
#: (below the claim window; the emulator's own lag is `GitHubSide.listing_lag`).
GITHUB_REPO, GITHUB_TOKEN, LISTING_LAG = "acme/e2e", "ghp_e2eToken0000000000000000000000000000", 2.0
_names = itertools.count(1)
T = TypeVar("T")


class Killer:
    """Counts requests across every proxy of a scenario; kills the job at the k-th."""

    def __init__(self, k: int | None = None, when: str = "after") -> None:
        self.k = k
        self.when = when
        self.count = 0
        self.fired = False
        self.process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._numbers: dict[tuple[int, int], int] = {}

    def _kill(self) -> None:
        deadline = time.monotonic() + 5
        while self.process is None and time.monotonic() < deadline:
            time.sleep(0.001)
        if self.process is not None and not self.fired:
            self.fired = True
            self.process.kill()

    def _next(self) -> int:
        with self._lock:
            self.count += 1
            return self.count

    def http(self, proxy_id: int) -> Callable[[Event], Fault | None]:
        """A fault-proxy listener for the proxy numbered ``proxy_id``."""

        def listener(event: Event) -> Fault | None:
            if self.fired:
                return None
            if isinstance(event, RequestEvent):
                number = self._next()
                self._numbers[(proxy_id, event.request)] = number
                if self.when == "before" and number == self.k:
                    self._kill()
                    return Hang()
            elif isinstance(event, ResponseEvent):
                number = self._numbers.get((proxy_id, event.request), -1)
                if self.when == "after" and number == self.k:
                    self._kill()
            return None

        return listener

    def imap(self) -> Callable[[str, int], bool]:
        """An `ImapRelay` listener."""
        local: dict[int, int] = {}

        def listener(when: str, relay_number: int) -> bool:
            if self.fired:
                return False
            if when == "before":
                number = self._next()
                local[relay_number] = number
                if self.when == "before" and number == self.k:
                    self._kill()
                    return True
            elif self.when == "after" and local.get(relay_number) == self.k:
                self._kill()
            return False

        return listener


class Source(Protocol):
    """One side of a pair: where items wait."""

    name: str

    def start(self, stack: ExitStack, killer: Killer) -> None:
        """Create fresh storage and its proxy (wired to ``killer``)."""

    def seed(self, items: dict[str, str]) -> None:
        """Put items (name -> text, first line = title)."""

    def remaining(self) -> list[str]:
        """Names of the items still waiting."""

    def env(self) -> dict[str, str]:
        """The job's source settings (through the proxy)."""

    def overwrite(self, name: str, text: str) -> None:
        """Replace an item with new content (a newer revision with the same name)."""

    def expire_lease(self) -> None:
        """Let the run lease a killed run left in the source run out (as time would)."""


@dataclass
class S3Side:
    """A fresh bucket on a shared moto server, through the fault proxy."""

    moto: Any
    name: str = "s3"
    bucket: str = ""
    proxy: FaultProxy | None = None

    def start(self, stack: ExitStack, killer: Killer) -> None:
        self.bucket = f"e2e-{os.getpid()}-{next(_names)}"
        self.client = self.moto.client()
        self.client.create_bucket(Bucket=self.bucket)
        self.proxy = stack.enter_context(FaultProxy(("127.0.0.1", self.moto.port)))
        self.proxy.on_event(killer.http(1))

    def seed(self, items: dict[str, str]) -> None:
        for name, text in items.items():
            self.client.put_object(Bucket=self.bucket, Key=f"in/{name}", Body=text.encode())

    def overwrite(self, name: str, text: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=f"in/{name}", Body=text.encode())

    def remaining(self) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=self.bucket, Prefix="in/")
        return sorted(
            entry["Key"][3:]
            for entry in listing.get("Contents", [])
            if ".shitshovela-lease-" not in entry["Key"]
        )

    def expire_lease(self) -> None:
        """Rewrite a lease left by a killed run as expired: the next run takes it over
        (instead of finding the instance busy until the dead run's deadline + 60 s)."""
        listing = self.client.list_objects_v2(Bucket=self.bucket, Prefix="in/.shitshovela-lease-")
        for entry in listing.get("Contents", []):
            lease = json.loads(
                self.client.get_object(Bucket=self.bucket, Key=entry["Key"])["Body"].read()
            )
            lease["seconds"], lease["until"] = -60, "2000-01-01T00:00:00+00:00"
            self.client.put_object(
                Bucket=self.bucket, Key=entry["Key"], Body=json.dumps(lease).encode()
            )

    def env(self) -> dict[str, str]:
        assert self.proxy is not None
        return jobenv.s3(
            self.proxy.url,
            self.bucket,
            access_key_id="AKIDE2E",
            secret_access_key="e2e-s3-secret",
            PREFIX="in/",
            SET_ASIDE_PREFIX="set-aside/",
            RATE=200,
        )

    @staticmethod
    def key_of(origin: Origin) -> str:
        return origin.key.removeprefix("in/")


@dataclass
class ImapSide:
    """A fresh mailbox user on a shared Dovecot, through the IMAP relay."""

    dovecot: Any
    name: str = "imap"
    user: str = ""
    relay: ImapRelay | None = None
    uids: dict[str, str] = field(default_factory=dict)

    def start(self, stack: ExitStack, killer: Killer) -> None:
        self.user = f"e2e{next(_names)}"
        self.dovecot.add_user(self.user, "e2e-imap-password")
        self.relay = stack.enter_context(ImapRelay(("127.0.0.1", self.dovecot.port), killer.imap()))

    def _message(self, name: str, text: str) -> bytes:
        from email.message import EmailMessage

        title, _, body = text.partition("\n")
        message = EmailMessage()
        message["From"] = "monitor@example.com"
        message["To"] = f"{self.user}@example.com"
        message["Subject"] = title
        message["Message-ID"] = f"<{name}@e2e.example.com>"
        message.set_content(body or "-")
        return message.as_bytes()

    def seed(self, items: dict[str, str]) -> None:
        self.dovecot.deliver_many(self.user, [self._message(n, t) for n, t in items.items()])

    def overwrite(self, name: str, text: str) -> None:
        raise NotImplementedError("mail is not overwritten in place")

    def expire_lease(self) -> None:
        """IMAP holds no run lease (its claims are atomic)."""

    def remaining(self) -> list[str]:
        client = self.dovecot.imap_client(self.user, password="e2e-imap-password")
        try:
            client.select_folder("INBOX", readonly=True)
            uids = client.search(["NOT", "DELETED"])
            fetched = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]) if uids else {}
        finally:
            client.logout()
        names = []
        for data in fetched.values():
            header = next(v for k, v in data.items() if k.startswith(b"BODY"))
            names.append(header.decode().split("<", 1)[1].split("@", 1)[0])
        return sorted(names)

    def env(self) -> dict[str, str]:
        assert self.relay is not None
        return jobenv.imap(
            "127.0.0.1",
            self.relay.port,
            self.user,
            "e2e-imap-password",
            SET_ASIDE_FOLDER="SetAside",
            RATE=200,
        )

    @staticmethod
    def key_of(origin: Origin) -> str:
        message_id = origin.get("message_id") or origin.get("message-id")
        return message_id.strip("<>").split("@", 1)[0]


@dataclass(frozen=True)
class Made:
    """One ticket the job made, as the ticket side reads it behind the job's back."""

    key: str
    title: str
    labels: tuple[str, ...]
    origin: Origin


class TicketSide(Protocol):
    """The other side of a pair: where tickets go."""

    name: str
    proxy: FaultProxy

    def start(self, stack: ExitStack, killer: Killer) -> None:
        """Start a fresh ticket system and its proxy (wired to ``killer``)."""

    def env(self) -> dict[str, str]:
        """The job's ticket-system settings (through the proxy)."""

    def tickets(self, instance: str) -> list[Made]:
        """The tickets ``instance`` made."""

    def flags_left(self, instance: str) -> int:
        """``instance``'s flag labels left on any ticket."""


@dataclass
class JiraSide:
    """A fresh Jira Cloud emulator (project OPS), through the fault proxy."""

    index_lag: float = 1.0
    name: str = "jira"
    #: More ticket-system settings (``{"INDEX_LAG": 0}``), for every run.
    settings: dict[str, Any] = field(default_factory=dict)

    def start(self, stack: ExitStack, killer: Killer) -> None:
        self.jira = JiraEmulator(
            flavour="cloud",
            projects={"OPS": ProjectConfig("OPS", ("Task",))},
            email=EMAIL,
            api_token=API_TOKEN,
            index_lag=self.index_lag,
        ).start()
        stack.callback(self.jira.stop)
        self.proxy = stack.enter_context(
            FaultProxy(("127.0.0.1", int(self.jira.url.rsplit(":", 1)[1])))
        )
        self.proxy.on_event(killer.http(2))

    def env(self) -> dict[str, str]:
        settings: dict[str, Any] = {"INDEX_LAG": INDEX_LAG, "RATE": 200, **self.settings}
        return jobenv.jira(self.proxy.url, email=EMAIL, api_token=API_TOKEN, **settings)

    def tickets(self, instance: str) -> list[Made]:
        made = []
        for issue in self.jira.issues():
            value = issue.properties.get(ORIGIN_PROPERTY)
            if not isinstance(value, dict) or value.get("instance") != instance:
                continue
            origin = Origin.from_ref(value["ref"])
            made.append(Made(issue.key, issue.summary, tuple(issue.labels), origin))
        return made

    def flags_left(self, instance: str) -> int:
        flag = FLAG_PREFIX + instance
        return sum(1 for i in self.jira.issues() for label in i.labels if label == flag)


#: The write budget of the GitHub scenarios, in the job and in the emulator alike: an
#: Enterprise Server's own limits, far above GitHub.com's 80 a minute, so that a crash
#: matrix is not paced at 0.75 s a write (the spacing itself is proven in the plugin's
#: tests and its benchmark).
GITHUB_WRITES_PER_MINUTE = 12_000


@dataclass
class GitHubSide:
    """A fresh GitHub emulator (repository acme/e2e, the job's token), through the fault
    proxy. Its issue listing lags `listing_lag` seconds; the token has push access
    unless ``push`` is False (`grant` gives it)."""

    listing_lag: float = 1.0
    push: bool = True
    name: str = "github"

    def start(self, stack: ExitStack, killer: Killer) -> None:
        self.github = GitHubEmulator(
            repos=[GITHUB_REPO],
            tokens={GITHUB_TOKEN: TokenConfig(login="e2e-bot", push=self.push)},
            listing_lag=self.listing_lag,
            secondary_per_minute=GITHUB_WRITES_PER_MINUTE,
            secondary_per_hour=GITHUB_WRITES_PER_MINUTE * 60,
        ).start()
        stack.callback(self.github.stop)
        self.proxy = stack.enter_context(
            FaultProxy(("127.0.0.1", int(self.github.url.rsplit(":", 1)[1])))
        )
        self.proxy.on_event(killer.http(2))

    def grant(self) -> None:
        """Give the job's token push access (an administrator fixing the setup)."""
        self.github.set_token(GITHUB_TOKEN, TokenConfig(login="e2e-bot", push=True))

    def env(self) -> dict[str, str]:
        return jobenv.github(
            self.proxy.url,
            GITHUB_REPO,
            token=GITHUB_TOKEN,
            LISTING_LAG=LISTING_LAG,
            RATE=200,
            WRITES_PER_MINUTE=GITHUB_WRITES_PER_MINUTE,
            WRITES_PER_HOUR=GITHUB_WRITES_PER_MINUTE * 60,
        )

    def tickets(self, instance: str) -> list[Made]:
        made = []
        mine = f"Created by ShitShovela ({instance}) "
        for issue in self.github.issues():
            body = issue.body or ""
            ref = find_origin(body)
            if issue.pull_request or ref is None or not body.startswith(mine):
                continue
            key = f"{GITHUB_REPO}#{issue.number}"
            made.append(Made(key, issue.title, tuple(issue.labels), Origin.from_ref(ref)))
        return made

    def flags_left(self, instance: str) -> int:
        flag = FLAG_PREFIX + instance
        return sum(1 for i in self.github.issues() for label in i.labels if label == flag)


@dataclass
class ImapOAuthSide(ImapSide):
    """A fresh mailbox on the shared Dovecot that the job signs in to with an app-only
    token (SASL XOAUTH2): a Microsoft app registered at a fresh token endpoint stand-in,
    reached through the fault proxy, so the token request is one of the requests a
    kill can land before or after."""

    name: str = "imap-oauth"
    endpoint: Any = None
    token_proxy: FaultProxy | None = None
    client_id: str = ""

    def start(self, stack: ExitStack, killer: Killer) -> None:
        from shitshovela_testkit.tokenendpoint import TokenEndpoint

        self.user = f"e2e{next(_names)}@example.com"
        self.dovecot.add_user(self.user, "e2e-imap-password")  # the test's own look inside
        self.relay = stack.enter_context(ImapRelay(("127.0.0.1", self.dovecot.port), killer.imap()))
        self.endpoint = stack.enter_context(TokenEndpoint())
        app = self.endpoint.register_app(secret=OAUTH_CLIENT_SECRET, mailbox=self.user)
        self.client_id = app.client_id
        self.token_proxy = stack.enter_context(FaultProxy(self.endpoint.address))
        self.token_proxy.on_event(killer.http(3))

    def env(self) -> dict[str, str]:
        from shitshovela_testkit.tokenendpoint import TENANT_ID

        assert self.relay is not None and self.token_proxy is not None
        return jobenv.source(
            "imap",
            HOST="127.0.0.1",
            PORT=self.relay.port,
            SECURITY="plain",
            USERNAME=self.user,
            AUTH="xoauth2",
            TOKEN_FROM="microsoft",
            TENANT=TENANT_ID,
            CLIENT_ID=self.client_id,
            CLIENT_SECRET=OAUTH_CLIENT_SECRET,
            AUTHORITY=self.token_proxy.url,
            SET_ASIDE_FOLDER="SetAside",
            RATE=200,
        )

    def secrets(self) -> list[str]:
        """Every token handed out, besides the fixed secrets (`SECRETS`)."""
        return list(self.endpoint.tokens()) if self.endpoint is not None else []


OAUTH_CLIENT_SECRET = "e2e-oauth-client-secret~1e3"
SECRETS = (API_TOKEN, GITHUB_TOKEN, "e2e-s3-secret", "e2e-imap-password", OAUTH_CLIENT_SECRET)


#: The Graph scenarios' tenant domain (their mailboxes' UPNs end in it).
GRAPH_DOMAIN = "contoso.onmicrosoft.com"
#: The folder a Graph source sets poison and auto-replies aside into (made if missing).
GRAPH_SET_ASIDE = "Set aside"


@dataclass
class GraphSide:
    """A fresh mailbox on a shared Microsoft Graph emulator (in the test process, every
    exchange checked against Graph's OpenAPI excerpt), through the fault proxy.

    The job signs in with a static app-only token the emulator made, or (``entra``)
    with client credentials at a fresh token endpoint stand-in (Entra ID), reached
    through its own fault proxy, so the token request is one more crash point; the
    app is then restricted to this mailbox by an application access policy, as an
    administrator scopes a real one. ``done`` is the source's ``DONE`` (``delete``:
    into Deleted Items; ``move``: into ``Done``)."""

    graph: Any
    entra: bool = False
    done: str = "delete"
    name: str = "graph"
    mailbox: str = ""
    proxy: FaultProxy | None = None
    token_proxy: FaultProxy | None = None
    token: str = ""
    client_id: str = ""
    endpoint: Any = None
    #: More source settings (``{"MAX_PER_SENDER": 0}``), for every run.
    settings: dict[str, Any] = field(default_factory=dict)
    #: Each seeded message's immutable id and Internet message id -> its item name.
    names: dict[str, str] = field(default_factory=dict)
    violations_before: int = 0

    def start(self, stack: ExitStack, killer: Killer) -> None:
        self.mailbox = f"e2e{os.getpid()}-{next(_names)}@{GRAPH_DOMAIN}"
        self.graph.add_mailbox(self.mailbox)
        self.violations_before = len(self.graph.violations)
        self.proxy = stack.enter_context(FaultProxy(self.graph.address))
        self.proxy.on_event(killer.http(1))
        if not self.entra:
            self.token = self.graph.make_token()
            return
        from shitshovela_testkit.tokenendpoint import TokenEndpoint

        self.endpoint = stack.enter_context(TokenEndpoint())
        app = self.endpoint.register_app(secret=OAUTH_CLIENT_SECRET, roles=("Mail.ReadWrite",))
        self.client_id = app.client_id
        self.graph.set_policy(app.client_id, [self.mailbox])
        self.token_proxy = stack.enter_context(FaultProxy(self.endpoint.address))
        self.token_proxy.on_event(killer.http(3))

    def seed(self, items: dict[str, str]) -> None:
        from shitshovela_graph_emulator import build_mime

        for name, text in items.items():
            title, _, body = text.partition("\n")
            message_id = f"<{name}@e2e.example.com>"
            mime = build_mime(
                title,
                body or "-",
                sender="Monitor <monitor@example.com>",
                to=self.mailbox,
                message_id=message_id,
            )
            record = self.graph.seed_message(mime, mailbox=self.mailbox)
            self.names[record.id] = self.names[message_id.strip("<>")] = name

    def claim(self, names: list[str], instance: str) -> None:
        """Claim the messages of these items now for ``instance``, behind the job's back, as
        another run of that instance does (the claim property a run writes): a run leaves
        them alone within its claim window, and tickets them once it has passed."""
        from datetime import UTC, datetime

        from shitshovela_graph.claims import claim_property, claim_value

        wanted = set(names)
        prop, value = claim_property(instance), claim_value(datetime.now(UTC))
        for message in self.graph.messages("inbox", mailbox=self.mailbox):
            if self.names.get(message.id) in wanted:
                self.graph.update_message(message.id, mailbox=self.mailbox, extended={prop: value})

    def overwrite(self, name: str, text: str) -> None:
        raise NotImplementedError("mail is not overwritten in place")

    def expire_lease(self) -> None:
        """Graph holds no run lease (its claims are per message)."""

    def remaining(self) -> list[str]:
        messages = self.graph.messages("inbox", mailbox=self.mailbox)
        return sorted(
            self.names.get(m.internet_message_id.strip("<>"), m.subject or "?") for m in messages
        )

    def env(self) -> dict[str, str]:
        assert self.proxy is not None
        settings: dict[str, Any] = {
            "MAILBOX": self.mailbox,
            "URL": self.proxy.url + "/v1.0",
            "SET_ASIDE_FOLDER": GRAPH_SET_ASIDE,
            "DONE": self.done,
            "DONE_FOLDER": "Done" if self.done == "move" else None,
            "RATE": 200,
            **self.settings,
        }
        if self.entra:
            from shitshovela_testkit.tokenendpoint import TENANT_ID

            assert self.token_proxy is not None
            settings.update(
                TOKEN_FROM="microsoft",
                TENANT=TENANT_ID,
                CLIENT_ID=self.client_id,
                CLIENT_SECRET=OAUTH_CLIENT_SECRET,
                AUTHORITY=self.token_proxy.url,
            )
        else:
            settings.update(TOKEN_FROM="static", ACCESS_TOKEN=self.token)
        return jobenv.source("graph", **settings)

    def key_of(self, origin: Origin) -> str:
        """The item a ticket's origin names: by the Internet message id it pins, else by
        the immutable id its key starts with."""
        message_id = origin.get("message_id").strip("<>")
        if message_id in self.names:
            return self.names[message_id]
        immutable_id = origin.key.split("/", 1)[0]
        return self.names.get(immutable_id, origin.key)

    def secrets(self) -> list[str]:
        """The token the job was given, or every token the stand-in handed out."""
        if self.endpoint is not None:
            return list(self.endpoint.tokens())
        return [self.token] if self.token else []

    def problems(self) -> list[str]:
        """What the emulator found wrong in this scenario's exchanges (Graph's excerpt
        broken by a request or an answer), and anything set aside."""
        found = [str(v) for v in self.graph.violations[self.violations_before :]]
        found = [f"Graph excerpt violated: {v}" for v in found]
        aside = [
            f for f in self.graph.folders(mailbox=self.mailbox) if f.display_name == GRAPH_SET_ASIDE
        ]
        if aside and aside[0].total:
            found.append(f"{aside[0].total} message(s) set aside")
        return found


@dataclass
class Verdict:
    """What the checks found after the fault-free runs."""

    items: int
    lost: int
    duplicated: int
    flags_left: int
    problems: list[str]


class Scenario:
    """One fresh source and ticket system (Jira unless ``tickets`` says otherwise), a
    killer, and the job's runs against them (``job``: more core settings)."""

    def __init__(
        self,
        source: Any,
        *,
        killer: Killer | None = None,
        index_lag: float = 1.0,
        instance: str = "e2e",
        share: Scenario | None = None,
        tickets: TicketSide | None = None,
        job: dict[str, Any] | None = None,
    ) -> None:
        self.source = source
        self.killer = killer or Killer()
        self.instance = instance
        #: More core settings (``{"MAX_TICKETS": 200}``), for every run.
        self.job = dict(job or {})
        self.stack = ExitStack()
        if share is not None:  # a second instance on the same ticket system (I7)
            self.side = share.side
        else:
            self.side = tickets or JiraSide(index_lag)
            self.side.start(self.stack, self.killer)
        source.start(self.stack, self.killer)
        self.items: dict[str, str] = {}
        self.outputs: list[str] = []
        #: When each run began and ended (monotonic, the proxies' clock): the requests a
        #: proxy saw in a span are that run's.
        self.spans: list[tuple[float, float]] = []

    @property
    def jira(self) -> JiraEmulator:
        """The Jira emulator (a Jira scenario's)."""
        assert isinstance(self.side, JiraSide)
        return self.side.jira

    @property
    def jira_proxy(self) -> FaultProxy:
        """The fault proxy before the ticket system (named for Jira, the first one)."""
        return self.side.proxy

    def __enter__(self) -> Scenario:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()

    def seed(self, count: int) -> dict[str, str]:
        """Seed ``count`` items with distinct titles."""
        items = {
            f"item{n:03d}": f"Alert {n} from {self.source.name}\nbody {n}" for n in range(count)
        }
        self.source.seed(items)
        self.items.update(items)
        return items

    def env(self, **extra: str) -> dict[str, str]:
        """The job's environment: this scenario's ticket system and source, through their
        proxies."""
        return jobenv.job_env(
            jobenv.core(
                self.instance, max_runtime=60, **{"CLAIM_WINDOW": CLAIM_WINDOW, **self.job}
            ),
            self.side.env(),
            self.source.env(),
            **extra,
        )

    def run(self, *, armed: bool = False, **extra: str) -> subprocess.CompletedProcess[str]:
        """One run of the real CLI; ``armed`` lets the killer fire in it."""
        if not armed:
            self.killer.fired = True
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "shitshovela_core", "run"],
            env=self.env(**extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.killer.process = process
        out, err = process.communicate(timeout=120)
        self.spans.append((started, time.monotonic()))
        self.outputs.append(out + err)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    def settle(self, rounds: int = 4) -> int:
        """Fault-free runs until the source is empty and no flag is left. A lease a killed
        run left is let run out first; between two runs it waits out the claim window: an
        item claimed by a killed run is left alone until then (docs/DESIGN.md, the claim
        window)."""
        self.source.expire_lease()
        for n in range(1, rounds + 1):
            if n > 1:
                time.sleep(CLAIM_WINDOW)
            result = self.run()
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
            if not self.source.remaining() and self.flags_left() == 0:
                return n
        return rounds

    def tickets(self) -> list[Made]:
        """This instance's tickets."""
        return self.side.tickets(self.instance)

    def flags_left(self) -> int:
        """This instance's flag labels left on any ticket of the ticket system (another
        instance sharing it keeps its own)."""
        return self.side.flags_left(self.instance)

    def verdict(self, expected: dict[str, list[str]] | None = None) -> Verdict:
        """I1-I3 and I10: exactly one ticket per item revision, with its content;
        no flag left; the source empty; no secret in any output."""
        wanted = expected or {name: [text] for name, text in self.items.items()}
        got: dict[str, list[str]] = {}
        for ticket in self.tickets():
            got.setdefault(self.source.key_of(ticket.origin), []).append(ticket.title)
        problems: list[str] = []
        lost = duplicated = 0
        for name, texts in wanted.items():
            titles = Counter(t.partition("\n")[0] for t in texts)
            seen = Counter(got.get(name, []))
            for title, count in titles.items():
                if seen[title] < count:
                    lost += count - seen[title]
                    problems.append(f"{name}: no ticket titled {title!r}")
                if seen[title] > count:
                    duplicated += seen[title] - count
                    problems.append(f"{name}: {seen[title]} tickets titled {title!r}")
        extra = set(got) - set(wanted)
        if extra:
            problems.append(f"tickets for unknown items {sorted(extra)}")
        remaining = self.source.remaining()
        if remaining:
            problems.append(f"left in the source: {remaining}")
        flags = self.flags_left()
        if flags:
            problems.append(f"{flags} flag(s) left")
        problems += getattr(self.source, "problems", list)()  # a source's own findings
        extra = getattr(self.source, "secrets", list)()  # tokens handed out, for OAuth sides
        leaked = [s for s in (*SECRETS, *extra) for out in self.outputs if s in out]
        if leaked:
            problems.append("a secret appeared in the job's output")
        total = sum(len(t) for t in wanted.values())
        return Verdict(total, lost, duplicated, flags, problems)


@dataclass
class MatrixRow:
    """One line of the printed table."""

    pair: str
    crash_points: int = 0
    schedules: int = 0
    items: int = 0
    lost: int = 0
    duplicated: int = 0
    flags_left: int = 0

    def add(self, verdict: Verdict, *, crash: bool = False, schedule: bool = False) -> None:
        self.crash_points += int(crash)
        self.schedules += int(schedule)
        self.items += verdict.items
        self.lost += verdict.lost
        self.duplicated += verdict.duplicated
        self.flags_left += verdict.flags_left


ROWS: dict[str, MatrixRow] = {}


def row(pair: str) -> MatrixRow:
    """The table row of ``pair`` (created on first use)."""
    return ROWS.setdefault(pair, MatrixRow(pair))


def requests_in_a_fault_free_run(make: Callable[[Killer], Scenario], items: int) -> int:
    """How many requests (both systems) a fault-free run of ``items`` items sends."""
    killer = Killer()
    with make(killer) as scenario:
        scenario.seed(items)
        killer.fired = False
        result = scenario.run(armed=True)
        assert result.returncode == 0, result.stdout[-3000:]
        assert not scenario.source.remaining()
        return killer.count


def crash_points(total: int) -> Iterator[tuple[int, str]]:
    """Every (k, when) of a run of ``total`` requests."""
    for k in range(1, total + 1):
        for when in ("before", "after"):
            yield k, when


def shard_of(points: Iterable[T], shard: int, shards: int) -> list[T]:
    """The ``shard``-th of ``shards`` parts of ``points``: every ``shards``-th one from
    the ``shard``-th on (0-based). The parts are disjoint and together hold every point."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} of {shards}")
    return list(points)[shard::shards]


class KillAtRequest(Killer):
    """SIGKILLs the job right before (the request never reaches the server) or right after
    (its answer never reaches the job) the ``nth`` request through the proxy numbered
    ``proxy_id`` that ``matches``: a crash point chosen by what the request is, not by its
    number in the run. `target` keeps the chosen request's target."""

    def __init__(
        self,
        matches: Callable[[RequestEvent], bool],
        when: str,
        *,
        nth: int = 1,
        proxy_id: int = 1,
    ) -> None:
        super().__init__(None, when)
        self.matches = matches
        self.nth = nth
        self.proxy_id = proxy_id
        self.target = ""

    def http(self, proxy_id: int) -> Callable[[Event], Fault | None]:
        hits = 0
        chosen = -1

        def listener(event: Event) -> Fault | None:
            nonlocal hits, chosen
            if self.fired or proxy_id != self.proxy_id:
                return None
            if isinstance(event, RequestEvent):
                self._next()
                if not self.matches(event):
                    return None
                hits += 1
                if hits != self.nth:
                    return None
                self.target = event.target
                if self.when == "before":
                    self._kill()
                    return Hang()
                chosen = event.request
            elif isinstance(event, ResponseEvent) and event.request == chosen:
                self._kill()
            return None

        return listener


class KillAfterCreate(Killer):
    """SIGKILLs the job right after its first create reached Jira: the issue is made,
    its answer never reaches the job."""

    def http(self, proxy_id: int) -> Callable[[Event], Fault | None]:
        creates: set[int] = set()

        def listener(event: Event) -> Fault | None:
            if self.fired:
                return None
            if isinstance(event, RequestEvent) and event.method == "POST":
                if event.target.split("?", 1)[0].rstrip("/").endswith("/issue"):
                    creates.add(event.request)
            elif isinstance(event, ResponseEvent) and event.request in creates:
                self._kill()
            return None

        return listener


__all__ = ["Hang", "Script"]
