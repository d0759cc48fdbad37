"""The demo: real servers on loopback, the real job, the real plugins, over real HTTP.

``python examples/demo.py`` starts moto's S3 server and the Jira emulator on
127.0.0.1, drops a few realistic objects into a bucket (two alerts, a CSV
export, and one object that cannot become a ticket), runs ``shitshovela run``
with the S3 source and the Jira ticket system, and shows what happened: the
job's console log, the tickets (key, summary, labels), what was set aside, and
the summary line. ``--imap`` does the same from a Dovecot mailbox (needs
Debian's ``dovecot-imapd``: ``bash .ci/install-dovecot``). ``--graph`` does it from
a Microsoft 365 mailbox through Microsoft Graph (the Graph emulator, every request
and answer checked against Graph's OpenAPI excerpt), signing in as an app with
client credentials at a stand-in for Entra ID: a message with an attachment
becomes a ticket with it, an out-of-office reply is set aside into a folder, and
the ticketed messages go to Deleted Items. ``--github`` moves
the bucket into the GitHub emulator instead of Jira: first with a token that
lacks push access (the job stops before it changes anything: GitHub would drop
its flag label), then with the bot's token. Servers are stopped and temporary
files removed at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shitshovela_github_emulator import GitHubEmulator, TokenConfig
from shitshovela_jira_emulator import JiraEmulator, ProjectConfig
from shitshovela_testkit import jobenv

EMAIL, API_TOKEN = "demo@example.com", "demo-api-token"
REPO = "acme/ops-inbox"
GITHUB_TOKEN = "ghp_demoBotToken000000000000000000000000"  # noqa: S105 - a demo double
READ_ONLY_TOKEN = "ghp_demoReadOnly00000000000000000000000"  # noqa: S105
BUCKET = "ops-drop"

OBJECTS: dict[str, bytes] = {
    "alerts/2026-11-24T04-10Z-disk-db1.txt": (
        b"Disk almost full on db1\n"
        b"host: db1.prod\nmount: /var\nused: 97%\nsince: 2026-11-24T04:10Z\n"
    ),
    "alerts/2026-11-24T04-12Z-uplink.txt": (
        b"Packet loss on uplink 2\nrouter: edge-2\nloss: 3.1% over 15 min\n"
    ),
    "exports/failed-logins-week-47.csv": (
        b"Failed logins, week 47 (CSV export)\n"
        b"user,failures,last_seen\nalice,12,2026-11-23T22:01Z\nbob,31,2026-11-24T01:17Z\n"
    ),
    "alerts/core-dump.bin": b"\x7fELF\x02\x01\x01\x00\xff\xfe binary, not text",
}

MAILS = [
    ("monitor@db.example.com", "Disk almost full on db1", "/var is at 97%."),
    ("probe@net.example.com", "Packet loss on uplink 2", "3.1% loss over 15 minutes."),
    ("noreply@example.com", "Out of office", "I am away until Monday."),
]


def banner(text: str) -> None:
    print(f"\n== {text}", flush=True)


def run_job(env: dict[str, str]) -> int:
    """``shitshovela run`` as a subprocess, its console log shown as it comes."""
    command = [sys.executable, "-m", "shitshovela_core", "run"]
    return subprocess.run(command, env=env, check=False).returncode


def job_env(jira: JiraEmulator, instance: str, source: dict[str, str]) -> dict[str, str]:
    """The job's environment: the instance, the emulated Jira and ``source``."""
    log_format = os.environ.get("SHITSHOVELA_LOG_FORMAT", "console")
    return jobenv.job_env(
        jobenv.core(instance, max_runtime="60s", log_format=log_format),
        jobenv.jira(
            jira.url,
            email=EMAIL,
            api_token=API_TOKEN,
            LABELS="from-shitshovela",
            INDEX_LAG=5,
            RATE=10,
        ),
        source,
    )


def show_tickets(jira: JiraEmulator) -> None:
    banner("tickets in Jira (emulated)")
    for issue in jira.issues():
        components = f" components={list(issue.components)}" if issue.components else ""
        print(f"  {issue.key:7s} {issue.summary!r:40s} labels={list(issue.labels)}{components}")
        for attachment in issue.attachments:
            print(f"          attachment {attachment.filename} ({attachment.size} bytes)")


@contextmanager
def jira_emulator() -> Iterator[JiraEmulator]:
    jira = JiraEmulator(
        flavour="cloud",
        # Databases and Network: the example in-house plugin maps sender domains to them.
        projects={
            "OPS": ProjectConfig("OPS", ("Task", "Bug"), components=("Databases", "Network"))
        },
        email=EMAIL,
        api_token=API_TOKEN,
        index_lag=2.0,
    ).start()
    try:
        yield jira
    finally:
        jira.stop()


def demo_bucket(moto: Any) -> tuple[Any, dict[str, str]]:
    """The demo bucket on ``moto``, filled with `OBJECTS`: its client and the job's S3
    settings for it."""
    s3: Any = moto.client()
    s3.create_bucket(Bucket=BUCKET)
    for key, body in OBJECTS.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    settings = jobenv.s3(
        moto.url,
        BUCKET,
        access_key_id="demo-access-key",
        secret_access_key="demo-secret-key",
        SET_ASIDE_PREFIX="set-aside/",
        PREFIX="",
    )
    return s3, settings


def s3_demo() -> int:
    from shitshovela_testservers.motoserver import MotoServer

    with MotoServer() as moto, jira_emulator() as jira:
        s3, bucket = demo_bucket(moto)
        banner(f"bucket {BUCKET!r}: {len(OBJECTS)} objects ({moto.url}); Jira on {jira.url}")
        env = job_env(jira, "ops-drop", bucket)
        banner("shitshovela run (S3 -> Jira)")
        code = run_job(env)
        show_tickets(jira)
        banner("left in the bucket")
        listing = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        for entry in listing:
            print(f"  {entry['Key']}")
        if not listing:
            print("  nothing")
        print(f"\nexit code {code}")
        return code


def show_issues(github: GitHubEmulator) -> None:
    banner(f"issues in {REPO} (emulated GitHub)")
    for issue in github.issues():
        print(
            f"  #{issue.number:<3d} {issue.title!r:40s} by {issue.user} {issue.state} "
            f"labels={list(issue.labels)}"
        )
    first = github.issues()[0] if github.issues() else None
    if first is not None and first.body:
        banner(f"the body of #{first.number} (the origin marker last, hidden by Markdown)")
        for line in first.body.splitlines():
            print(f"  | {line[:110]}")


def github_demo() -> int:
    from shitshovela_testservers.motoserver import MotoServer

    with (
        MotoServer() as moto,
        GitHubEmulator(
            repos=[REPO],
            tokens={
                GITHUB_TOKEN: TokenConfig(login="ops-bot"),
                READ_ONLY_TOKEN: TokenConfig(login="reader", push=False),
            },
            listing_lag=2.0,
        ) as github,
    ):
        s3, bucket = demo_bucket(moto)
        banner(f"bucket {BUCKET!r}: {len(OBJECTS)} objects ({moto.url}); GitHub on {github.url}")
        log_format = os.environ.get("SHITSHOVELA_LOG_FORMAT", "console")

        def env(token: str) -> dict[str, str]:
            return jobenv.job_env(
                jobenv.core("ops-drop", max_runtime="60s", log_format=log_format),
                jobenv.github(
                    github.api_url,
                    REPO,
                    token=token,
                    LABELS="from-shitshovela",
                    LISTING_LAG=5,
                    RATE=10,
                ),
                bucket,
            )

        banner("shitshovela run (S3 -> GitHub), a token without push access")
        refused = run_job(env(READ_ONLY_TOKEN))
        print(
            f"\nexit code {refused}"
            + (" (stopped before anything changed)" if refused == 3 else "")
        )
        banner("shitshovela run (S3 -> GitHub), the bot's token")
        code = run_job(env(GITHUB_TOKEN))
        show_issues(github)
        banner("left in the bucket")
        listing = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        for entry in listing:
            print(f"  {entry['Key']}")
        if not listing:
            print("  nothing")
        print(f"\nexit code {code}")
        return code if refused == 3 else 1


def imap_demo() -> int:
    from email.message import EmailMessage

    from shitshovela_testservers.dovecot import DovecotServer

    with (
        tempfile.TemporaryDirectory(prefix="shitshovela-demo-") as folder,
        DovecotServer(Path(folder), users={"alerts": "demo-password"}) as dovecot,
        jira_emulator() as jira,
    ):
        messages = []
        for n, (sender, subject, body) in enumerate(MAILS):
            message = EmailMessage()
            message["From"], message["To"] = sender, "alerts@example.com"
            message["Subject"], message["Message-ID"] = subject, f"<demo-{n}@example.com>"
            if subject == "Out of office":
                message["Auto-Submitted"] = "auto-replied"
            message.set_content(body)
            messages.append(message.as_bytes())
        dovecot.deliver_many("alerts", messages)
        banner(f"mailbox alerts@127.0.0.1:{dovecot.port}: {len(messages)} messages")
        mailbox = jobenv.imap(
            "127.0.0.1", dovecot.port, "alerts", "demo-password", SET_ASIDE_FOLDER="SetAside"
        )
        env = job_env(jira, "alerts-mail", mailbox)
        banner("shitshovela run (IMAP -> Jira)")
        code = run_job(env)
        show_tickets(jira)
        print(f"\nexit code {code}")
        return code


GRAPH_MAILBOX = "alerts@contoso.onmicrosoft.com"
GRAPH_CLIENT_SECRET = "demo-graph-client-secret~0"  # noqa: S105 - a demo double
GRAPH_SET_ASIDE = "Set aside"


def graph_mails() -> list[bytes]:
    """The Graph demo's inbox: two alerts, a report with a CSV attached, an auto-reply."""
    from shitshovela_graph_emulator import build_mime

    report = b"user,failures,last_seen\nalice,12,2026-11-23T22:01Z\nbob,31,2026-11-24T01:17Z\n"
    return [
        build_mime(
            "Disk almost full on db1",
            "/var on db1.prod is at 97% since 04:10 UTC.",
            sender="DB monitor <monitor@db.example.com>",
            to=GRAPH_MAILBOX,
        ),
        build_mime(
            "Packet loss on uplink 2",
            "edge-2: 3.1% loss over 15 minutes.",
            sender="Network probe <probe@net.example.com>",
            to=GRAPH_MAILBOX,
        ),
        build_mime(
            "Failed logins, week 47",
            "The weekly export is attached.",
            sender="SIEM <siem@example.com>",
            to=GRAPH_MAILBOX,
            attachments=[("failed-logins-week-47.csv", report, "text/csv")],
        ),
        build_mime(
            "Automatic reply: Packet loss on uplink 2",
            "I am away until Monday.",
            sender="Alex <alex@example.com>",
            to=GRAPH_MAILBOX,
            headers=[("Auto-Submitted", "auto-replied")],
        ),
    ]


def show_mailbox(graph: Any) -> None:
    banner(f"folders of {GRAPH_MAILBOX} (emulated Microsoft 365)")
    for folder in ("Inbox", GRAPH_SET_ASIDE, "Deleted Items"):
        try:
            messages = graph.messages(folder, mailbox=GRAPH_MAILBOX)
        except KeyError:
            messages = []
        print(f"  {folder}: {len(messages)} message(s)")
        for message in messages:
            print(f"    {message.subject!r}")


def graph_demo() -> int:
    from shitshovela_graph_emulator import GraphEmulator, graph_openapi
    from shitshovela_testkit.tokenendpoint import TENANT_ID, TokenEndpoint

    with (
        TokenEndpoint() as entra,
        GraphEmulator(
            mailboxes=[GRAPH_MAILBOX],
            trusted_keys={entra.kid: entra.public_key_pem},
            validate_spec=graph_openapi(),
        ) as graph,
        jira_emulator() as jira,
    ):
        app = entra.register_app(secret=GRAPH_CLIENT_SECRET, roles=("Mail.ReadWrite",))
        graph.set_policy(app.client_id, [GRAPH_MAILBOX])  # an access policy: this mailbox only
        for mime in graph_mails():
            graph.seed_message(mime, mailbox=GRAPH_MAILBOX)
        banner(
            f"mailbox {GRAPH_MAILBOX}: {len(graph.messages(mailbox=GRAPH_MAILBOX))} messages "
            f"(Graph on {graph.api_url}, Entra ID on {entra.url}); Jira on {jira.url}"
        )
        mailbox = jobenv.source(
            "graph",
            URL=graph.api_url,
            MAILBOX=GRAPH_MAILBOX,
            SET_ASIDE_FOLDER=GRAPH_SET_ASIDE,
            TOKEN_FROM="microsoft",
            AUTHORITY=entra.authority,
            TENANT=TENANT_ID,
            CLIENT_ID=app.client_id,
            CLIENT_SECRET=GRAPH_CLIENT_SECRET,
        )
        env = job_env(jira, "alerts-graph", mailbox)
        banner("shitshovela run (Microsoft Graph -> Jira)")
        code = run_job(env)
        show_tickets(jira)
        show_mailbox(graph)
        if graph.violations:
            banner("requests or answers that broke Graph's OpenAPI excerpt")
            for violation in graph.violations:
                print(f"  {violation}")
            code = code or 1
        else:
            print(f"\nevery one of {len(graph.requests)} Graph exchanges matched Graph's excerpt")
        print(f"\nexit code {code}")
        return code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--imap", action="store_true", help="IMAP (Dovecot) -> Jira instead of S3")
    parser.add_argument("--github", action="store_true", help="S3 -> GitHub instead of Jira")
    parser.add_argument(
        "--graph", action="store_true", help="Microsoft Graph (emulated) -> Jira instead of S3"
    )
    args = parser.parse_args()
    if args.graph:
        sys.exit(graph_demo())
    sys.exit(imap_demo() if args.imap else github_demo() if args.github else s3_demo())


if __name__ == "__main__":
    main()
