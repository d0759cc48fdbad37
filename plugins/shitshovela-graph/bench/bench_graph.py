"""Figures for the Microsoft Graph mail source: speed against Graph's budget, and memory.

The Graph emulator and the Jira emulator run in this process on loopback (spec
validation off: it measures the job, not the checker); the real CLI drains a fresh
mailbox into Jira as a subprocess. It prints:

- **listed and done**: messages a second a run lists, tickets and deletes (``DONE=delete``,
  into Deleted Items) or moves (``DONE=move``), ``--items`` messages each with ``RATE``
  lifted, and the Graph requests per item by kind, counted at the emulator;
- **against Graph's budget** (10,000 requests per app and mailbox in any 10 minutes):
  the messages a second that budget allows at the measured requests per item, beside
  the measured rate; and one run at the provider's default ``RATE`` (the emulator
  enforcing Graph's limits): its requests a second as a fraction of the budget, and
  the 429s Graph had to send (none is the aim);
- **peak memory** (the job's RSS: ``VmHWM`` sampled by `bench/_outcome.run_cli`): a
  10,000-message folder against a 100-message one, and one 25 MB message (a 25 MB
  attachment, uploaded to Jira) against a 25 KB one, each as a ratio, so that flat
  memory shows as a ratio near 1. The 10,000-message run lifts the emulator's budget
  (it needs more than 10,000 requests; the budget is the other figure's).

Every run must drain its folder (exit 0, reason ``drained``, ``bench/_outcome.py``) with
one ticket per message: a figure from a run that ended otherwise is refused (``no
figure: ...``) and the script exits 1 at the end. ``--write`` puts the table into
``bench/RESULTS.md`` (its own section). Usage::

    uv run python plugins/shitshovela-graph/bench/bench_graph.py [--items 1000]
        [--big 10000] [--default-rate-items 200] [--write]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shitshovela_graph_emulator import GraphEmulator, Throttling, build_mime
from shitshovela_jira_emulator import JiraEmulator, ProjectConfig
from shitshovela_testkit import jobenv

# The repository's bench/ (not a package) holds the outcome check every benchmark uses.
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
from _outcome import Figures, Outcome, UnexpectedOutcome, expect, run_cli, write_section

ROOT = Path(__file__).resolve().parents[3]

EMAIL, API_TOKEN = "bench@example.com", "bench-api-token"
DOMAIN = "contoso.onmicrosoft.com"
#: Graph's budget per app and mailbox (specs/graph-mail.README.md): requests in a window.
BUDGET, WINDOW = 10_000, 600.0
LIFTED = Throttling(requests_per_window=10**9, upload_bytes_per_window=10**12)
KB, MB = 1024, 1024 * 1024
COMMAND = "plugins/shitshovela-graph/bench/bench_graph.py"
_boxes = iter(range(1, 10**6))


def default_rate() -> float:
    """The provider's default ``RATE`` (requests a second)."""
    from shitshovela_graph.config import DEFAULT_RATE

    return DEFAULT_RATE


def kind(method: str, path: str) -> str:
    """A Graph request's role in a run."""
    tail = path.rstrip("/").rsplit("/", 1)[-1]
    if path.endswith("/$value"):
        return "MIME ($value)"
    if method == "GET" and tail == "messages":
        return "list"
    if "/mailFolders" in path and "/messages" not in path:
        return "folders"
    if method == "PATCH":
        return "claim (PATCH)"
    if method == "DELETE" or tail.endswith("permanentDelete"):
        return "delete"
    if tail.endswith("move"):
        return "move"
    if "/attachments" in path:
        return "attachments"
    if method == "GET" and "/messages/" in path:
        return "read one"
    return f"{method} {tail}"


class World:
    """The emulators a run drains between: a Graph mailbox per run, one Jira."""

    def __init__(self, throttling: Throttling | None = None) -> None:
        self.graph = GraphEmulator(mailboxes=[], throttling=throttling).start()
        self.jira = JiraEmulator(
            attachment_max_bytes=512 * MB,
            flavour="cloud",
            projects={"OPS": ProjectConfig("OPS", ("Task",))},
            email=EMAIL,
            api_token=API_TOKEN,
            index_lag=0.0,
        ).start()

    def close(self) -> None:
        self.graph.stop()
        self.jira.stop()

    def mailbox(self, messages: Iterator[bytes]) -> str:
        """A fresh mailbox with ``messages`` in its inbox."""
        name = f"bench{next(_boxes)}@{DOMAIN}"
        self.graph.add_mailbox(name)
        start = time.time() - 86_400  # received a day ago, a second apart: oldest first
        for n, mime in enumerate(messages):
            self.graph.seed_message(mime, mailbox=name, received=start + n)
        return name

    def env(self, mailbox: str, **settings: Any) -> dict[str, str]:
        source: dict[str, Any] = {
            "URL": self.graph.api_url,
            "MAILBOX": mailbox,
            "TOKEN_FROM": "static",
            "ACCESS_TOKEN": self.graph.make_token(lifetime=7200),
            "RATE": 1000,
            "MAX_PER_SENDER": 0,  # the bench's few senders are no mail loop
            **settings,
        }
        return jobenv.job_env(
            # info: the last line (run_finished, with the reason) is logged at info.
            jobenv.core("bench", max_runtime="30m", LOG_LEVEL="info", MAX_TICKETS=100_000),
            jobenv.jira(
                self.jira.url,
                email=EMAIL,
                api_token=API_TOKEN,
                RATE=1000,
                INDEX_LAG=0,
                MAX_ATTACHMENT=200 * MB,
            ),
            jobenv.source("graph", **source),
        )

    def drain(self, mailbox: str, count: int, **settings: Any) -> Outcome:
        """A run that must drain ``mailbox`` (exit 0 ``drained``), ``count`` tickets made."""
        before = len(self.jira.issues())
        outcome = expect(
            run_cli(["run"], self.env(mailbox, **settings), rss=True), reason="drained"
        )
        made = len(self.jira.issues()) - before
        if made != count or self.graph.messages("inbox", mailbox=mailbox):
            raise UnexpectedOutcome(outcome, f"exit 0 'drained' with {count} ticket(s) made")
        return outcome

    def requests(self, mailbox: str) -> list[Any]:
        """The Graph requests a run sent to ``mailbox``."""
        return [r for r in self.graph.requests if f"/users/{mailbox}/" in r.path]


def alerts(count: int, size: int = 0) -> Iterator[bytes]:
    """``count`` small alert mails (or, with ``size``, one mail with an attachment of
    ``size`` bytes)."""
    if size:
        payload = os.urandom(size)
        yield build_mime(
            "Nightly export",
            "The export is attached.",
            attachments=[("export.bin", payload, "application/octet-stream")],
        )
        return
    for n in range(count):
        yield build_mime(
            f"Alert {n} on host-{n % 97}",
            f"check {n} failed\nhost: host-{n % 97}\n",
            sender=f"Monitor <monitor{n % 13}@example.com>",
            message_id=f"<alert-{n}@bench.example.com>",
        )


Row = tuple[str, str, str]


def listed_and_done(items: int, rows: list[Row]) -> None:
    """``DONE=delete`` and ``DONE=move`` with ``RATE`` and Graph's budget lifted: messages
    a second, Graph requests per item, and how soon that pace would spend the budget."""
    for done in ("delete", "move"):
        world = World(LIFTED)
        try:
            box = world.mailbox(alerts(items))
            extra = {"DONE_FOLDER": "Done"} if done == "move" else {}
            run = world.drain(box, items, DONE=done, **extra)
            sent = world.requests(box)
        finally:
            world.close()
        kinds = Counter(kind(r.method, r.path) for r in sent)
        rpi = len(sent) / items
        allowed = BUDGET / WINDOW / rpi
        rate = items / run.seconds
        by_kind = ", ".join(f"{k} {v / items:.2f}" for k, v in kinds.most_common())
        rows.append(
            (
                f"listed and done, DONE={done}, {items} messages, RATE lifted",
                f"{rate:.1f} messages/s; {rpi:.2f} Graph requests/item ({by_kind}); "
                f"Graph's budget sustains {allowed:.2f} messages/s: this pace is "
                f"{rate / allowed:.1f}x that, and would spend the 10-minute budget in "
                f"{BUDGET / (rpi * rate):.0f} s",
                run.describe(),
            )
        )


def at_default_rate(items: int, rows: list[Row]) -> None:
    """One run at the default ``RATE``, Graph's limits enforced: the budget used."""
    rate = default_rate()
    world = World(Throttling())
    try:
        box = world.mailbox(alerts(items))
        run = world.drain(box, items, RATE=rate)
        sent = world.requests(box)
        refused = sum(1 for r in sent if r.status == 429)
        used = world.graph.usage(mailbox=box).requests
    finally:
        world.close()
    per_second = len(sent) / run.seconds
    fraction = per_second * WINDOW / BUDGET
    rows.append(
        (
            f"default RATE={rate:g}/s, {items} messages, Graph's limits on",
            f"{per_second:.1f} requests/s = {per_second * WINDOW:.0f} per 10 min: "
            f"{fraction:.2f} of the budget ({BUDGET:,} per 10 min; this run used {used:,}); "
            f"{items / run.seconds:.1f} messages/s; answered 429: {refused}",
            run.describe(),
        )
    )


def memory(big: int, rows: list[Row], figs: Figures) -> None:
    """Peak RSS: a big folder against a small one, a 25 MB message against a 25 KB one."""
    world = World(LIFTED)
    try:
        small = min(100, big)
        with figs.guard("peak RSS, folder size"):
            base = world.drain(world.mailbox(alerts(small)), small)
            large = world.drain(world.mailbox(alerts(big)), big)
            ratio = (large.peak_rss_mb or 0) / (base.peak_rss_mb or 1)
            rows.append(
                (
                    f"peak RSS, {big:,} messages vs {small}",
                    f"{large.peak_rss_mb:.1f} MB vs {base.peak_rss_mb:.1f} MB: x{ratio:.2f} "
                    f"({big / large.seconds:.0f} messages/s)",
                    large.describe(),
                )
            )
        with figs.guard("peak RSS, message size"):
            base = world.drain(world.mailbox(alerts(1, size=25 * KB)), 1)
            large = world.drain(world.mailbox(alerts(1, size=25 * MB)), 1)
            uploaded = max((a.size for i in world.jira.issues() for a in i.attachments), default=0)
            if uploaded < 25 * MB:
                raise UnexpectedOutcome(large, "the 25 MB attachment uploaded to Jira")
            ratio = (large.peak_rss_mb or 0) / (base.peak_rss_mb or 1)
            above = ((large.peak_rss_mb or 0) - (base.peak_rss_mb or 0)) / 25
            rows.append(
                (
                    "peak RSS, one 25 MB message vs one 25 KB message",
                    f"{large.peak_rss_mb:.1f} MB vs {base.peak_rss_mb:.1f} MB: x{ratio:.2f}; "
                    f"RSS above the small one / message size = {above:.2f}",
                    large.describe(),
                )
            )
    finally:
        world.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--big", type=int, default=10_000)
    parser.add_argument("--default-rate-items", type=int, default=200)
    parser.add_argument("--write", action="store_true", help="write bench/RESULTS.md's section")
    options = parser.parse_args()
    rows: list[Row] = []
    figs = Figures()
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("listed and done", lambda: listed_and_done(options.items, rows)),
        ("at the default RATE", lambda: at_default_rate(options.default_rate_items, rows)),
        ("peak RSS", lambda: memory(options.big, rows, figs)),
    ]
    for what, step in steps:
        figs.attempt(what, step)
    width = max((len(label) for label, _, _ in rows), default=0)
    print(f"shitshovela-graph bench (Graph and Jira emulators on 127.0.0.1, {os.cpu_count()} CPUs)")
    for label, value, ended in rows:
        print(f"  {label.ljust(width)}  {value}  [{ended}]")
    if options.write:
        write_results(rows, figs.refused)
    figs.exit()


def write_results(rows: list[Row], refused: list[str]) -> None:
    """Replace this bench's section of ``bench/RESULTS.md`` with ``rows``."""
    when = datetime.now(UTC).date().isoformat()
    lines = [
        f"## Microsoft Graph source: `uv run python {COMMAND} --write`",
        "",
        f"Measured {when} on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}: the Graph and Jira emulators in the benchmark's process "
        "on loopback (spec checks off), the real CLI as a subprocess. Loopback emulators make "
        "these ratios, not a real tenant's figures. Graph's budget is 10,000 requests per app "
        "and mailbox in any 10 minutes; a figure with `RATE lifted` also lifts the emulator's "
        "budget, to show the job's own pace.",
        "",
        "| figure | result | every run ended |",
        "| --- | --- | --- |",
        *(f"| {label} | {value} | {ended} |" for label, value, ended in rows),
        *(
            f"| {line.split(':', 1)[0]} | no figure: {line.split(':', 1)[1].strip()} | |"
            for line in refused
        ),
        "",
        "Graph requests per message: its MIME (`$value`), the claim (a `PATCH` of an "
        "extended property), the read that checks it is still the message ticketed, in the "
        "folder it was listed in (its Internet message id and folder), and the delete or the "
        "move; per run, the "
        "folder's id, a listing per 100 messages, and for `DONE=move` the done folder "
        "(found or made once).",
    ]
    write_section(ROOT / "bench" / "RESULTS.md", COMMAND, lines)


if __name__ == "__main__":
    main()
