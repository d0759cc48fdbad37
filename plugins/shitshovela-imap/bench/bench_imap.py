"""Figures for the IMAP source against a local Dovecot: speed, memory, generated MIME.

Run as root (Dovecot drops privileges itself) from the workspace's virtualenv::

    python plugins/shitshovela-imap/bench/bench_imap.py [--messages 10000] [--mime-cases 200]
        [--claim-rounds 3]

It prints:

- messages a second listed and fetched (`ImapSource.items()`: metadata, text parts,
  drafts), and items a second through a whole engine run (list, claim, create, delete);
- what a claim costs: IMAP commands per item and items a second of the same engine run
  with claims (the atomic ``UID STORE ... UNCHANGEDSINCE``) and without (``CLAIMS``
  off, as a source without claims runs), alternating ``--claim-rounds`` times and
  keeping each side's best rate (the run least disturbed by other work);
- peak RSS of a child process that drains N messages, for N = 1,000 and 10,000 (flat
  memory means the two are close), next to a child that only connects;
- peak RSS of a child that drains one message with a 25 MiB attachment and streams the
  attachment to a ticket system (as an upload would);
- how many generated MIME cases (hypothesis) were delivered and run, and how they ended.

Every engine run must drain its mailbox (exit 0, reason ``drained``; ``bench/_outcome.py``),
and a listing must list every message: a figure from a run that ended otherwise is refused
(``no figure: ...``) and the script exits 1 at the end. (The MIME cases count the runs that
ended otherwise as failures: that count is the figure.)

Each measurement runs in its own child process (``--child ...``), which reports its peak
RSS (``VmHWM`` of ``/proc/self/status``: the high-water mark of the process image since
its exec; ``getrusage``'s ``ru_maxrss`` would also count the parent's memory that the
child shared before its exec). The ticket system is an in-memory stub that keeps
nothing, so the figures are the source's and the engine's own. Dovecot is told it is the
only writer of its Maildirs (``maildir_very_dirty_syncs``): without it every expunge
rereads the whole ``cur/`` directory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# The plugin's test helpers (tests/imapkit.py) serve this script too, and
# the repository's bench/ (not a package) holds the outcome check every benchmark uses.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
from _outcome import Figures, Outcome, UnexpectedOutcome, expect

SELF = os.path.abspath(__file__)
ATTACHMENT = 25 * 1024 * 1024


# -- the children ---------------------------------------------------------------------------


def _quiet() -> None:
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))


def _source(settings: dict[str, Any]) -> Any:
    from shitshovela_imap.source import ImapSource
    from shitshovela_testkit.fakes import fake_context

    from shitshovela_core.deadline import Budget

    values = dict(settings)
    rate = float(values.pop("RATE"))  # beyond what RATE allows: the bench is not paced
    context = fake_context(
        "imap",
        "bench",
        settings=values,
        budget=Budget(3600, started=time.monotonic()),
        rate=rate,
    )
    return ImapSource(context)


def _null_tickets(source: Any, *, stream: bool) -> Any:
    """A ticket system that keeps nothing (and, with ``stream``, reads every attachment)."""
    import itertools

    from shitshovela_testkit.fakes import fake_context

    from shitshovela_core.models import Ticket
    from shitshovela_core.providers import TicketSystem

    class NullTickets(TicketSystem):
        completes_from_draft = stream

        def __init__(self) -> None:
            super().__init__(fake_context("null", "bench", budget=source.context.budget))
            self.keys = itertools.count(1)
            self.streamed = 0

        def create(self, draft: Any, flag: Any, origin: Any) -> Ticket:
            return Ticket(f"N-{next(self.keys)}", origin, True)

        def flagged(self, flag: Any) -> Iterator[Ticket]:
            return iter(())

        def unflag(self, ticket: Any, flag: Any) -> None:
            return None

        def complete(self, ticket: Any, draft: Any) -> None:
            for attachment in draft.attachments:
                digest = hashlib.sha256()
                with attachment.open() as handle:
                    while chunk := handle.read(1024 * 1024):
                        digest.update(chunk)
                        self.streamed += len(chunk)

    return NullTickets()


def child(mode: str, settings: dict[str, Any]) -> dict[str, Any]:
    _quiet()
    from shitshovela_testkit.runs import run_once

    claims = bool(settings.pop("CLAIMS", True))
    source = _source(settings)
    if not claims:
        source.supports_claims = False
    started = time.monotonic()
    if mode == "connect":
        source.conn.ensure_view()
        return {"seconds": time.monotonic() - started}
    if mode == "list":
        count = sum(1 for _ in source.items())
        seconds = time.monotonic() - started
        source.close()
        commands = source.context.safety.requests_sent
        return {"listed": count, "seconds": seconds, "commands": commands}
    tickets = _null_tickets(source, stream=mode == "stream")
    summary = run_once(source, tickets, max_tickets=10**7, close=False)
    seconds = time.monotonic() - started
    source.close()
    return {
        "created": summary.created,
        "reason": summary.reason,
        "exit_code": int(summary.exit_code),
        "seconds": seconds,
        "streamed": tickets.streamed,
        "peak_buffered": source.peak_buffered,
        "commands": source.context.safety.requests_sent,
    }


def mime_cases(server: Any, settings: dict[str, Any], cases: int) -> dict[str, int]:
    """Deliver generated messages (hypothesis), one folder per case, and drain each."""
    import itertools

    from hypothesis import HealthCheck, given, strategies
    from hypothesis import settings as hypothesis_settings
    from imapkit import Mailbox
    from shitshovela_testkit import mimegen
    from shitshovela_testkit.fakes import fake_tickets
    from shitshovela_testkit.runs import run_once

    folders = itertools.count()
    totals = {"cases": 0, "messages": 0, "tickets": 0, "set_aside": 0, "failures": 0}

    @hypothesis_settings(
        max_examples=cases, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(
        batch=strategies.lists(mimegen.messages(), min_size=1, max_size=4),
        ticket_auto=strategies.booleans(),
    )
    def case(batch: list[bytes], ticket_auto: bool) -> None:
        box = Mailbox(server, settings["USERNAME"], f"Bench/{next(folders)}")
        box.deliver(*batch)
        auto = "ticket" if ticket_auto else "set_aside"
        source = _source({**settings, "MAILBOX": box.mailbox, "AUTO_REPLIES": auto})
        summary = run_once(source, fake_tickets())
        totals["cases"] += 1
        totals["messages"] += len(batch)
        totals["tickets"] += summary.created
        totals["set_aside"] += summary.set_aside
        if summary.exit_code != 0 or summary.created + summary.set_aside != len(batch):
            totals["failures"] += 1

    case()
    return totals


# -- the parent -------------------------------------------------------------------------------


def peak_rss_mib() -> float:
    """This process's peak resident memory since its exec (VmHWM), in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def run_child(
    args: list[str], check: Callable[[dict[str, Any]], Any] | None = None
) -> tuple[dict[str, Any], float]:
    """Run this script as a child; return its JSON answer (passed through ``check`` first,
    which raises if the run did not end as measured) and its peak RSS in MiB."""
    result = subprocess.run([sys.executable, SELF, *args], stdout=subprocess.PIPE, check=True)
    answer = json.loads(result.stdout.decode().strip().splitlines()[-1])
    peak = float(answer.pop("peak_rss_mib"))
    if check is not None:
        check(answer)
    return answer, peak


def drained(created: int) -> Callable[[dict[str, Any]], None]:
    """The check of a child's engine run that must drain (exit 0, reason ``drained``) with
    ``created`` tickets (a message set aside would make the figure another's)."""

    def check(answer: dict[str, Any]) -> None:
        outcome = Outcome(answer["seconds"], answer["exit_code"], answer)
        expect(outcome, code=0, reason="drained")
        if answer["created"] != created:
            raise UnexpectedOutcome(outcome, f"exit 0 'drained' with {created} ticket(s) created")

    return check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--mime-cases", type=int, default=200)
    parser.add_argument("--claim-rounds", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "SETTINGS"))
    options = parser.parse_args()
    if options.child:
        mode, raw = options.child
        settings = json.loads(raw)
        print(json.dumps({**child(mode, settings), "peak_rss_mib": peak_rss_mib()}))
        return

    from imapkit import (
        Mailbox,
        attachment_message,
        plain_message,
        random_bytes,
    )
    from shitshovela_testservers.dovecot import DovecotServer

    n = options.messages
    root = tempfile.mkdtemp(prefix="bench-imap-")
    server = DovecotServer(
        root, users={"bench": "bench-password"}, extra_config="maildir_very_dirty_syncs = yes\n"
    ).start()
    rows: list[tuple[str, str]] = []
    figs = Figures()

    def refuse(what: str, why: str) -> None:
        figs.refuse(what, why)
        rows.append((what, f"no figure: {why}"))

    try:
        rounds = max(1, options.claim_rounds)
        pairs = [(f"claimed{r}", f"unclaimed{r}") for r in range(rounds)]
        for user in ("small", "big", "large", "mime", *(u for pair in pairs for u in pair)):
            server.add_user(user, "bench-password")

        def settings(user: str) -> dict[str, Any]:
            return {
                "HOST": server.host,
                "PORT": server.port,
                "SECURITY": "plain",
                "USERNAME": user,
                "PASSWORD": "bench-password",
                "RATE": 1_000_000.0,
                "MAX_PER_SENDER": 0,
            }

        def seed(user: str, count: int) -> None:
            box = Mailbox(server, user)
            box.deliver_many(
                plain_message(i, sender=f"customer{i % 500}@example.com") for i in range(count)
            )
            with box.client() as client:  # a mail client opened it: new/ moves to cur/
                client.noop()

        _, base_rss = run_child(["--child", "connect", json.dumps(settings("bench"))])
        rows.append(("child that only connects: peak RSS", f"{base_rss:.1f} MiB"))

        seed("big", n)
        listed, list_rss = run_child(["--child", "list", json.dumps(settings("big"))])
        if listed["listed"] != n:
            refuse("listed + fetched", f"{listed['listed']} of {n} messages listed")
        else:
            label = f"listed + fetched ({listed['listed']} messages, {listed['commands']} commands)"
            rows.append((label, f"{listed['listed'] / listed['seconds']:.0f} messages/s"))
            rows.append((f"  peak RSS while listing {n}", f"{list_rss:.1f} MiB"))

        small = max(1, n // 10)
        seed("small", small)
        with figs.guard(f"engine run, {small} messages"):
            _, small_rss = run_child(
                ["--child", "drain", json.dumps(settings("small"))], drained(small)
            )
            rows.append((f"engine run, {small} messages: peak RSS", f"{small_rss:.1f} MiB"))
        with figs.guard(f"engine runs, {small} messages, claims on and off"):
            best: dict[bool, dict[str, Any]] = {}
            for pair in pairs:
                for user, claims in zip(pair, (True, False), strict=True):
                    seed(user, small)
                    run, _ = run_child(
                        ["--child", "drain", json.dumps({**settings(user), "CLAIMS": claims})],
                        drained(small),
                    )
                    if claims not in best or run["seconds"] < best[claims]["seconds"]:
                        best[claims] = run
            for claims, label in ((True, "claims on"), (False, "claims off")):
                run = best[claims]
                rows.append(
                    (
                        f"  {label}: {run['commands']} IMAP commands",
                        f"{run['commands'] / small:.2f} commands/item, "
                        f"{small / run['seconds']:.0f} items/s (best of {rounds})",
                    )
                )
            on, off = best[True], best[False]
            rows.append(
                (
                    "  a claim costs",
                    f"{(on['commands'] - off['commands']) / small:+.2f} commands/item; "
                    f"claims on drain at {off['seconds'] / on['seconds']:.2f} of claims off",
                )
            )
        with figs.guard(f"engine run, {n} messages"):
            run, big_rss = run_child(["--child", "drain", json.dumps(settings("big"))], drained(n))
            rows.append((f"engine run, {n} messages: peak RSS", f"{big_rss:.1f} MiB"))
            rows.append(
                (
                    f"  {run['created']} tickets in {run['seconds']:.1f} s",
                    f"{run['created'] / run['seconds']:.0f} items/s "
                    f"(peak {run['peak_buffered']} messages buffered)",
                )
            )

        payload = random_bytes(ATTACHMENT)
        Mailbox(server, "large").deliver(attachment_message(payload))
        with figs.guard("engine run, one message with a 25 MiB attachment"):
            streamed, large_rss = run_child(
                ["--child", "stream", json.dumps(settings("large"))], drained(1)
            )
            rows.append(
                (
                    "engine run, one message with a 25 MiB attachment streamed: peak RSS",
                    f"{large_rss:.1f} MiB ({streamed['streamed'] / 2**20:.1f} MiB streamed "
                    f"in {streamed['seconds']:.1f} s)",
                )
            )

        _quiet()
        started = time.monotonic()
        mime = mime_cases(server, settings("mime"), options.mime_cases)
        rows.append(
            (
                "generated MIME cases tried (hypothesis)",
                f"{mime['cases']} cases, {mime['messages']} messages: {mime['tickets']} tickets, "
                f"{mime['set_aside']} set aside, {mime['failures']} failures "
                f"({time.monotonic() - started:.1f} s)",
            )
        )
    finally:
        server.close()
    width = max(len(label) for label, _ in rows)
    print(f"shitshovela-imap bench (Dovecot on 127.0.0.1, {os.cpu_count()} CPUs)")
    for label, value in rows:
        print(f"  {label.ljust(width)}  {value}")
    figs.exit()


if __name__ == "__main__":
    main()
