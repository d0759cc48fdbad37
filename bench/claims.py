"""What claims cost: the job against the naive script, in pairs, and the S3 requests per item.

`bench/e2e.py` measures the naive script once and then the job; on a busy machine the
load moves between the two and so does the ratio. Here the naive script and the job
(S3 in moto -> the Jira emulator, limits off) run alternately on fresh buckets, PAIRS
times per listing lag, and each pair gives one ratio; the median is reported with the
range. Then one more run of the job per lag goes through a proxy that counts its S3
requests (not timed). Every job run must end exit 0 ``drained``. One untimed run of one
item first writes the CLI's byte-code caches (`_outcome.run_cli`), as installed.

Run: ``uv run python bench/claims.py [ITEMS] [PAIRS]`` (300 and 5 by default); it writes
its section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from _outcome import Figures, write_section
from e2e import drained, fill, jira, job_env, naive
from shitshovela_testkit.faultproxy import FaultProxy
from shitshovela_testservers.motoserver import MotoServer

HERE = Path(__file__).resolve().parent
LAGS = ("0", "60")


def pair(moto: MotoServer, items: int, lag: str) -> float:
    """One naive run and one job run, each on a fresh bucket: the job's rate / the naive's."""
    j = jira()
    try:
        bucket = fill(moto, items)
        started = time.perf_counter()
        moved = naive(moto, bucket, j)
        naive_rate = moved / (time.perf_counter() - started)
    finally:
        j.stop()
    if moved != items:
        raise RuntimeError(f"the naive script moved {moved} of {items} items")
    j = jira()
    try:
        run = drained(job_env(moto, fill(moto, items), j, SHITSHOVELA_JIRA__INDEX_LAG=lag))
    finally:
        j.stop()
    return (items / run.seconds) / naive_rate


def warm_up(moto: MotoServer) -> None:
    """One untimed run of one item: the first run writes the byte-code caches (some
    0.45 s of compiling the core, httpx and boto3 that no timed run should carry)."""
    j = jira()
    try:
        drained(job_env(moto, fill(moto, 1), j))
    finally:
        j.stop()


def s3_requests(moto: MotoServer, items: int, lag: str) -> Counter[str]:
    """The S3 requests of one drained run, by kind, counted at a proxy."""
    j = jira()
    try:
        bucket = fill(moto, items)
        with FaultProxy(("127.0.0.1", moto.port)) as proxy:
            drained(job_env(moto, bucket, j, SHITSHOVELA_JIRA__INDEX_LAG=lag,
                            SHITSHOVELA_S3__ENDPOINT_URL=proxy.url))  # fmt: skip
            kinds: Counter[str] = Counter()
            for r in proxy.requests:
                what = (
                    "tagging" if "tagging" in r.target else "lease" if "-lease-" in r.target else ""
                )
                what = "listing" if "list-type" in r.target else what
                kinds[f"{r.method} {what}".strip()] += 1
            return kinds
    finally:
        j.stop()


def main() -> None:
    items = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    pairs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    figs = Figures()
    ratios: dict[str, list[float]] = {lag: [] for lag in LAGS}
    counted: dict[str, Counter[str]] = {}
    load = os.getloadavg()[0]
    with MotoServer() as moto:
        with figs.guard("warm-up"):
            warm_up(moto)
        for n in range(pairs):
            for lag in LAGS:
                with figs.guard(f"pair {n}, INDEX_LAG={lag}"):
                    ratios[lag].append(pair(moto, items, lag))
                    print(f"pair {n}, INDEX_LAG={lag}: ratio {ratios[lag][-1]:.2f}", flush=True)
        for lag in LAGS:
            with figs.guard(f"S3 requests, INDEX_LAG={lag}"):
                counted[lag] = s3_requests(moto, 100, lag)
    load = max(load, os.getloadavg()[0])
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        "## Claims: `uv run python bench/claims.py`",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine} (load average up to {load:.1f}):",
        f"{items} items per run, the naive script and the job (limits off) alternately,",
        f"{pairs} pairs per listing lag; the job's S3 requests counted at a proxy in one",
        "more run of 100 items. Every job run ended exit 0 `drained`. The CLI's byte code",
        "is cached, as installed (one untimed run first writes the caches).",
        "",
        "| INDEX_LAG | job / naive (median of pairs) | range | S3 requests per item | S3 requests of 100 items |",
        "| --- | --- | --- | --- | --- |",
    ]  # fmt: skip
    for lag in LAGS:
        if len(ratios[lag]) != pairs or lag not in counted:
            lines.append(f"| {lag} | no figure: {', '.join(figs.refused)} | | | |")
            continue
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(counted[lag].items()))
        lines.append(
            f"| {lag} | **{statistics.median(ratios[lag]):.2f}** | {min(ratios[lag]):.2f} to "
            f"{max(ratios[lag]):.2f} | {sum(counted[lag].values()) / 100:.2f} | {kinds} |"
        )
    write_section(HERE / "RESULTS.md", "bench/claims.py", lines)
    print("\n".join(lines))
    figs.exit()


if __name__ == "__main__":
    main()
