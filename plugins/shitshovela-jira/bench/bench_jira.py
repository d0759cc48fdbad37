"""Figures for the Jira provider: throughput against the rate limit, calls per ticket,
per-run overhead, memory, and the cost of importing the entry point.

Runs the core's engine in-process with an in-memory source and the Jira provider
against the emulator on loopback (spec validation off: it measures the client).
Prints figures; asserts nothing about them, but every drain must end with exit 0 and
reason ``drained`` (``bench/_outcome.py``): a figure from a run that ended otherwise is
refused (``no figure: ...``) and the script exits 1 at the end. Usage::

    python plugins/shitshovela-jira/bench/bench_jira.py [--items 60] [--rates 10,40]
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import structlog

# The plugin's test helpers (tests/jirakit.py) serve this script too.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from jirakit import EngineWorld, emulator

# The repository's bench/ (not a package) holds the outcome check every benchmark uses.
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
from _outcome import Figures, expect, from_summary

MAIN = ("create", "unflag", "search", "read-by-key")


def category(method: str, path: str) -> str:
    """A request's role: create, unflag, search, read, upload, other."""
    if method == "POST" and path.endswith("/issue"):
        return "create"
    if method == "PUT":
        return "unflag"
    if "/search" in path:
        return "search"
    if method == "GET" and "/issue/" in path:
        return "read-by-key"
    return f"{method} {path}"


def run(flavour: str, items: int, rate: float) -> None:
    """One drain of ``items`` at ``rate`` requests a second; print its figures (it must
    drain: exit 0, reason ``drained``; else `expect` raises)."""
    jira = emulator(flavour)
    try:
        for n in range(25):
            jira.seed_issue("OPS", f"made by a person {n}")
        world = EngineWorld(
            jira,
            {f"item-{n:05d}": f"Alert {n}\nbody line\n" * 3 for n in range(items)},
            clock=time.monotonic,
        )
        tracemalloc.start()
        started = time.monotonic()
        summary = world.run(claims=True, index_lag=60.0, RATE=rate)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        expect(from_summary(summary, elapsed), code=0, reason="drained")
        assert summary is not None
        kinds = Counter(category(r.method, r.path) for r in jira.requests)
        created = summary.created
        ideal = rate / 2
        achieved = created / elapsed
        print(
            f"{flavour:10} rate {rate:5.1f}/s  items {created:4d}  {elapsed:6.2f} s  "
            f"{achieved:6.2f} items/s  (limit R/2 = {ideal:.2f}: {100 * achieved / ideal:5.1f} %)  "
            f"peak traced memory (emulator included) {peak / 1024:7.0f} KiB"
        )
        print(
            f"{'':10} calls per ticket: create {kinds['create'] / created:.2f}, "
            f"unflag {kinds['unflag'] / created:.2f}; per run: search {kinds['search']}, "
            f"read-by-key {kinds['read-by-key']}, other "
            f"{sum(v for k, v in kinds.items() if k not in MAIN)}"
        )
    finally:
        jira.stop()


def import_cost() -> None:
    """Seconds to import the entry point, and the provider module, in a fresh interpreter."""
    for module in ("shitshovela_jira", "shitshovela_jira.tickets"):
        code = (
            f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
        )
        best = min(
            float(
                subprocess.run(
                    [sys.executable, "-c", code], capture_output=True, text=True, check=True
                ).stdout
            )
            for _ in range(3)
        )
        print(f"import {module:26} {best * 1000:6.1f} ms (best of 3)")


def main() -> None:
    """Parse arguments and print every figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=60)
    parser.add_argument("--rates", default="10,40")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    figs = Figures()
    for rate in (float(r) for r in args.rates.split(",")):
        for flavour in ("cloud", "datacenter"):
            figs.attempt(f"{flavour} rate {rate:g}/s", lambda: run(flavour, args.items, rate))  # noqa: B023
    import_cost()
    figs.exit()


if __name__ == "__main__":
    main()
