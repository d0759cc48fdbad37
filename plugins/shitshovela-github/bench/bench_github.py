"""Figures for the GitHub provider: items a minute against GitHub's secondary limit, side
by side with the limit in the same run, and requests per item.

Runs the core's engine in-process with an in-memory source and the GitHub provider
against the emulator on loopback, in real time (the pacing is the point), with the
emulator enforcing GitHub's secondary limits (80 writes a minute, 500 an hour) and
spec validation off (it measures the client). Two runs of ``--minutes`` each, with
more items than fit:

- ``github.com``: the defaults (``RATE=1``, at most 80 writes a minute and 500 an
  hour): the rate binds;
- ``Enterprise Server, RATE=10``: the rate lifted, the write budget of 80 a minute
  kept: the secondary limit binds, and the run must keep just under it.

For each it prints items a minute and writes in the busiest 60 s against the
limit (80 writes a minute = 40 items a minute at two writes an item), the 403s
GitHub had to send (none is the aim), and requests per item by kind. Every run
must end with exit 0 and reason ``deadline`` (``bench/_outcome.py``); a figure
from a run that ended otherwise is refused and the script exits 1. Usage::

    python plugins/shitshovela-github/bench/bench_github.py [--minutes 2] [--items 400]
"""

from __future__ import annotations

import argparse
import bisect
import logging
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

# The plugin's test helpers (tests/ghkit.py) serve this script too.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from ghkit import EngineWorld, emulator

# The repository's bench/ (not a package) holds the outcome check every benchmark uses.
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
from _outcome import Figures, expect, from_summary

LIMIT_PER_MINUTE = 80
LIMIT_PER_HOUR = 500
WRITES = frozenset({"POST", "PATCH", "PUT", "DELETE"})


def category(method: str, path: str) -> str:
    """A request's role: create, unflag, label, listing, read-by-number, identity, repo."""
    if method == "POST" and path.endswith("/issues"):
        return "create"
    if method == "DELETE":
        return "unflag"
    if "/labels" in path and "/issues/" not in path:
        return f"label {method}"
    if method == "GET" and path.endswith("/issues"):
        return "listing"
    if method == "GET" and "/issues/" in path:
        return "read-by-number"
    if path == "/user":
        return "identity"
    return f"{method} {path}"


def busiest_minute(times: Sequence[float]) -> int:
    """The most of ``times`` (seconds) inside any 60 s window."""
    ordered = sorted(times)
    return max(
        (bisect.bisect_left(ordered, t + 60.0) - i for i, t in enumerate(ordered)), default=0
    )


def run(label: str, minutes: float, items: int, **settings: Any) -> None:
    """One run of ``minutes`` against the emulator; print its figures."""
    gh = emulator(secondary_per_minute=LIMIT_PER_MINUTE, secondary_per_hour=LIMIT_PER_HOUR)
    try:
        world = EngineWorld(
            gh,
            {f"item-{n:05d}": f"Alert {n}\nbody line\n" * 3 for n in range(items)},
            clock=time.monotonic,
        )
        started = time.monotonic()
        summary = world.run(max_runtime=minutes * 60.0, claim_window=600.0, **settings)
        elapsed = time.monotonic() - started
        expect(from_summary(summary, elapsed), code=0, reason="deadline")
        assert summary is not None
        created = summary.created
        requests = gh.requests
        kinds = Counter(category(r.method, r.path) for r in requests)
        writes = [r.time for r in requests if r.method in WRITES]
        refused = sum(1 for r in requests if r.status in (403, 429))
        per_minute = created / (elapsed / 60.0)
        limit_items = LIMIT_PER_MINUTE / 2
        print(
            f"{label}: {created} items in {elapsed:.1f} s = {per_minute:.1f} items/min "
            f"against GitHub's limit of {limit_items:.0f} items/min "
            f"({LIMIT_PER_MINUTE} writes/min at 2 writes/item): "
            f"{100 * per_minute / limit_items:.1f} % of it"
        )
        print(
            f"{'':4}writes in the busiest 60 s: {busiest_minute(writes)} (limit "
            f"{LIMIT_PER_MINUTE}); writes in the run: {len(writes)} (limit {LIMIT_PER_HOUR} "
            f"an hour = {LIMIT_PER_HOUR // 2} items an hour); answered 403/429: {refused}"
        )
        per_item = ", ".join(
            f"{kind} {count / created:.2f}" for kind, count in kinds.most_common() if count
        )
        print(
            f"{'':4}requests per item: {len(requests) / created:.2f} in all ({per_item}); "
            f"per run: {sum(v for k, v in kinds.items() if k not in ('create', 'unflag'))}"
        )
    finally:
        gh.stop()


def main() -> None:
    """Parse arguments and print every figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--items", type=int, default=400)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    figs = Figures()
    figs.attempt(
        "github.com defaults",
        lambda: run("github.com", args.minutes, args.items, RATE=1.0),
    )
    figs.attempt(
        "Enterprise Server RATE=10",
        lambda: run("Enterprise Server, RATE=10", args.minutes, args.items, RATE=10.0),
    )
    figs.exit()


if __name__ == "__main__":
    main()
