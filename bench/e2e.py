"""End-to-end benchmarks: S3 (moto) -> Jira (emulator), the real CLI, one process tree.

Prints every figure and writes ``bench/RESULTS.md`` and ``bench/throughput.png``:

- throughput vs the limit: Jira RATE=R, N items; items a second as a fraction of
  R/2 (two ticket-system calls per item);
- throughput vs a naive script (get, create, delete; no flags, no limiter) on
  an unlimited emulator, against this job with its limits off, with the S3
  requests the job sends per item (counted at a proxy in a separate run);
- start-up: process start to the first request, median of 20, vs `python -c pass`;
- memory: peak RSS draining many small items, and one 50 MB item;
- deadline use: with work left, how far before the deadline the run stops.

Every run must end the way its figure assumes (exit 0, reason ``drained`` or
``deadline``: see `_outcome.expect`); a figure from any other run is refused
(``no figure: ...``) and the script exits 1 at the end.

Run: ``uv run python bench/e2e.py`` (``--quick`` for smaller sizes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from _outcome import Figures, Outcome, expect, measured_on, run_cli, write_section
from shitshovela_jira_emulator import JiraEmulator, ProjectConfig
from shitshovela_testkit import jobenv
from shitshovela_testkit.faultproxy import FaultProxy
from shitshovela_testservers.motoserver import MotoServer

HERE = Path(__file__).resolve().parent
EMAIL, TOKEN = "bench@example.com", "bench-token"
_buckets = iter(range(1, 10_000))


def jira() -> JiraEmulator:
    return JiraEmulator(
        attachment_max_bytes=512 * 1024 * 1024,
        flavour="cloud",
        projects={"OPS": ProjectConfig("OPS", ("Task",))},
        email=EMAIL,
        api_token=TOKEN,
    ).start()


def fill(moto: MotoServer, count: int, size: int = 0) -> str:
    """A new bucket with ``count`` objects (or one of ``size`` bytes)."""
    from concurrent.futures import ThreadPoolExecutor

    bucket = f"bench-{next(_buckets)}"
    client: Any = moto.client()
    client.create_bucket(Bucket=bucket)
    if size:
        client.put_object(Bucket=bucket, Key="in/big.txt", Body=b"Big export\n" + b"x" * size)
        return bucket

    def put(n: int) -> None:
        client.put_object(
            Bucket=bucket, Key=f"in/{n:06d}.txt", Body=f"Alert {n}\nbody {n}\n".encode()
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(count)))
    return bucket


def job_env(moto: MotoServer, bucket: str, j: JiraEmulator, **extra: str) -> dict[str, str]:
    return jobenv.job_env(
        # info: the last line (run_finished, with the reason) is logged at info.
        jobenv.core("bench", max_runtime="30m", LOG_LEVEL="info", MAX_TICKETS=100000),
        jobenv.s3(
            moto.url,
            bucket,
            access_key_id="AKIDBENCH",
            secret_access_key="bench-secret",
            PREFIX="in/",
            RATE=1000,
        ),
        jobenv.jira(j.url, email=EMAIL, api_token=TOKEN, RATE=1000),
        **extra,
    )


def run_job(env: dict[str, str]) -> Outcome:
    """Run the CLI's ``run``: wall seconds, exit code, last log line, peak RSS (VmHWM)."""
    return run_cli(["run"], env, rss=True)


def drained(env: dict[str, str]) -> Outcome:
    """A run that must drain its source (exit 0, reason ``drained``)."""
    return expect(run_job(env), code=0, reason="drained")


def creates(j: JiraEmulator) -> list[float]:
    return [r.time for r in j.requests if r.method == "POST" and r.path.endswith("/issue")]


def throughput_vs_limit(moto: MotoServer, rate: float, items: int, out: dict[str, Any]) -> None:
    j = jira()
    try:
        bucket = fill(moto, items)
        run = drained(job_env(moto, bucket, j, SHITSHOVELA_JIRA__RATE=str(rate)))
        times = creates(j)
        span = max(times) - min(times)
        achieved = (len(times) - 1) / span
        out.update(rate=rate, items=len(times), seconds=run.seconds, achieved=achieved,
                   fraction=achieved / (rate / 2), times=times)  # fmt: skip
        print(f"throughput vs limit: RATE={rate:g}/s, {len(times)} items: {achieved:.2f} items/s "
              f"= {achieved / (rate / 2):.3f} of R/2 ({run.describe()}, wall {run.seconds:.1f}s)")  # fmt: skip
    finally:
        j.stop()


def naive(moto: MotoServer, bucket: str, j: JiraEmulator) -> int:
    """The ten-line script: list, get, create, delete. No flags, no limiter, no retries."""
    s3: Any = moto.client()
    moved = 0
    with httpx.Client(base_url=j.url, auth=(EMAIL, TOKEN)) as http:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="in/"):
            for entry in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read().decode()
                title, _, text = body.partition("\n")
                fields = {"project": {"key": "OPS"}, "issuetype": {"name": "Task"}, "summary": title,
                          "description": {"type": "doc", "version": 1, "content": [
                              {"type": "paragraph", "content": [{"type": "text", "text": text or "-"}]}]}}  # fmt: skip
                http.post("/rest/api/3/issue", json={"fields": fields}).raise_for_status()
                s3.delete_object(Bucket=bucket, Key=entry["Key"])
                moved += 1
    return moved


def s3_requests_per_item(moto: MotoServer, lag: str, items: int = 100) -> float:
    """S3 requests per item of a drained run, counted at a proxy (a separate run, so that
    the proxy costs the timed runs nothing); the run's own requests (lease, listing,
    probe) are spread over its items."""
    j = jira()
    try:
        bucket = fill(moto, items)
        with FaultProxy(("127.0.0.1", moto.port)) as proxy:
            drained(job_env(moto, bucket, j, SHITSHOVELA_JIRA__INDEX_LAG=lag,
                            SHITSHOVELA_S3__ENDPOINT_URL=proxy.url))  # fmt: skip
            return len(proxy.requests) / items
    finally:
        j.stop()


def versus_naive(moto: MotoServer, items: int, out: dict[str, Any], figs: Figures) -> None:
    j = jira()
    try:
        bucket = fill(moto, items)
        started = time.perf_counter()
        moved = naive(moto, bucket, j)
        naive_rate = moved / (time.perf_counter() - started)
    finally:
        j.stop()
    if moved != items:
        figs.refuse("vs naive script", f"the naive script moved {moved} of {items} items")
        return
    out.update(naive=naive_rate, job={})
    for lag in ("0", "60"):
        j = jira()
        try:
            bucket = fill(moto, items)
            with figs.guard(f"vs naive script, INDEX_LAG={lag}"):
                run = drained(job_env(moto, bucket, j, SHITSHOVELA_JIRA__INDEX_LAG=lag))
                rate, per_item = items / run.seconds, len(j.requests) / items
                s3_per_item = s3_requests_per_item(moto, lag)
                out["job"][lag] = (rate, per_item, s3_per_item)
                print(f"vs naive script, {items} items, limits off, INDEX_LAG={lag}: job {rate:.1f} "
                      f"items/s, naive {naive_rate:.1f} items/s, ratio {rate / naive_rate:.2f} "
                      f"({run.describe()}; Jira requests per item {per_item:.2f}, S3 "
                      f"{s3_per_item:.2f})")  # fmt: skip
        finally:
            j.stop()


def startup(moto: MotoServer, runs: int, out: dict[str, Any]) -> None:
    baseline = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        baseline.append(time.perf_counter() - started)
    j = jira()
    first = []
    try:
        for _ in range(runs):
            bucket = fill(moto, 1)
            j.clear_requests()
            started = time.monotonic()
            drained(job_env(moto, bucket, j, SHITSHOVELA_S3__ENDPOINT_URL=moto.url))
            first.append(min(r.time for r in j.requests) - started)
    finally:
        j.stop()
    out.update(runs=runs, baseline=statistics.median(baseline), first=statistics.median(first))
    print(f"start-up to the first Jira request, median of {runs}: {statistics.median(first):.3f}s "
          f"(python -c pass: {statistics.median(baseline):.3f}s, x{statistics.median(first) / statistics.median(baseline):.0f}; "
          f"every run exit 0 'drained')")  # fmt: skip


def memory(moto: MotoServer, small: int, big_mb: int, out: dict[str, Any]) -> None:
    j = jira()
    try:
        bucket = fill(moto, small)
        small_run = drained(job_env(moto, bucket, j))
        bucket = fill(moto, 0, size=big_mb * 1024 * 1024)
        # The full 50 MB also goes to Jira as an attachment, streamed from S3.
        big_run = drained(
            job_env(moto, bucket, j, SHITSHOVELA_JIRA__MAX_ATTACHMENT=str(200 * 1024 * 1024))
        )
        uploaded = sum(a.size for i in j.issues() for a in i.attachments)
        print(f"  the big item's attachments in Jira: {uploaded / 1024 / 1024:.1f} MB")
        idle_run = drained(job_env(moto, fill(moto, 0), j))
    finally:
        j.stop()
    small_rss, big_rss, idle_rss = (r.peak_rss_mb or 0.0 for r in (small_run, big_run, idle_run))
    out.update(small=small, small_rss=small_rss, big_mb=big_mb, big_rss=big_rss, idle_rss=idle_rss,
               small_seconds=small_run.seconds, uploaded_mb=uploaded / 1024 / 1024)  # fmt: skip
    print(f"peak RSS: empty bucket {idle_rss:.1f} MB; {small} small items {small_rss:.1f} MB "
          f"({small / small_run.seconds:.0f} items/s); one {big_mb} MB item {big_rss:.1f} MB "
          f"(RSS above idle / item size = {(big_rss - idle_rss) / big_mb:.2f}); every run exit 0 'drained'")  # fmt: skip


DEADLINE_RUNTIME = 10
DEADLINE_RATE = 20
DEADLINE_ITEMS = 400


def deadline_use(moto: MotoServer, runs: int, out: dict[str, Any]) -> None:
    """MAX_RUNTIME=10 s with 400 items at RATE=20 (about 40 s of work): every run must stop
    at its deadline (exit 0, reason ``deadline``). INDEX_LAG=0: with the Jira default (60 s)
    a 10 s run is a configuration error (exit 2 after a second)."""
    margins = []
    created = []
    for _ in range(runs):
        j = jira()
        try:
            bucket = fill(moto, DEADLINE_ITEMS)
            run = expect(
                run_job(job_env(moto, bucket, j, SHITSHOVELA_MAX_RUNTIME=str(DEADLINE_RUNTIME),
                                SHITSHOVELA_JIRA__RATE=str(DEADLINE_RATE),
                                SHITSHOVELA_JIRA__INDEX_LAG="0")),
                code=0, reason="deadline",
            )  # fmt: skip
            margins.append(DEADLINE_RUNTIME - run.seconds)
            created.append(int((run.last or {}).get("created", 0)))
        finally:
            j.stop()
    out.update(margins=margins, created=created)
    print(f"deadline use, MAX_RUNTIME={DEADLINE_RUNTIME}s with work left, {runs} runs, each exit 0 "
          f"'deadline' ({min(created)} to {max(created)} of {DEADLINE_ITEMS} items created): stopped "
          f"{statistics.median(margins):.2f}s before the deadline (median), min {min(margins):.2f}s, "
          f"max {max(margins):.2f}s")  # fmt: skip


def plot(times: list[float], rate: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = min(times)
    seconds = [t - start for t in times]
    buckets = [0] * (int(max(seconds)) + 1)
    for s in seconds:
        buckets[int(s)] += 1
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.axhline(rate / 2, color="red", linestyle=":", label=f"limit R/2 = {rate / 2:g}/s")
    ax.plot(range(len(buckets)), buckets, drawstyle="steps-post", linewidth=2.5, alpha=0.6,
            label="tickets created per second")  # fmt: skip
    ax.set_xlabel("seconds since the first create")
    ax.set_ylabel("tickets / s")
    ax.set_ylim(0, rate / 2 * 1.5)
    ax.legend(loc="lower right")
    ax.set_title(f"S3 -> Jira, Jira RATE={rate:g} requests/s")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    q = args.quick
    load = os.getloadavg()[0]
    figs = Figures()
    figures: dict[str, dict[str, Any]] = {
        k: {} for k in ("limit", "naive", "startup", "memory", "deadline")
    }
    steps: list[tuple[str, Callable[[MotoServer], None]]] = [
        ("throughput vs limit", lambda m: throughput_vs_limit(m, 20.0, 100 if q else 500, figures["limit"])),
        ("vs naive script", lambda m: versus_naive(m, 100 if q else 500, figures["naive"], figs)),
        ("start-up", lambda m: startup(m, 5 if q else 20, figures["startup"])),
        ("memory", lambda m: memory(m, 500 if q else 10_000, 50, figures["memory"])),
        ("deadline use", lambda m: deadline_use(m, 2 if q else 5, figures["deadline"])),
    ]  # fmt: skip
    with MotoServer() as moto:
        for what, step in steps:
            with figs.guard(what):
                step(moto)
    if "times" in figures["limit"]:
        plot(figures["limit"]["times"], figures["limit"]["rate"], HERE / "throughput.png")
    write_results(figures, figs.refused, quick=q, load=load)
    figs.exit()


def write_results(
    f: dict[str, dict[str, Any]], refused: list[str], *, quick: bool, load: float
) -> None:
    """Write this script's section of RESULTS.md (the rest of the file is kept)."""
    lim, nv, su, mem, dl = f["limit"], f["naive"], f["startup"], f["memory"], f["deadline"]
    drained_ = "exit 0 `drained`"

    def no_figure(what: str) -> str:
        why = next((r for r in refused if r.startswith(what)), f"{what}: not measured")
        return f"no figure: {why.partition(': ')[2]}"

    lines = [
        "## End to end: `uv run python bench/e2e.py`",
        "",
        f"Measured {measured_on(load)}{' (--quick sizes)' if quick else ''}:",
        "moto's S3 server (a subprocess) and the Jira emulator (in the benchmark's process) on",
        "loopback, the real CLI as a subprocess with `SHITSHOVELA_LOG_LEVEL=info` (its last",
        "line says why it stopped). Every figure comes from runs that ended as the last column",
        "says (`bench/_outcome.py`'s `expect`); the script refuses a figure from any other run.",
        "Loopback servers make these ratios, not absolute figures for a real Jira.",
        "",
        "| figure | result | target | every run ended |",
        "| --- | --- | --- | --- |",
    ]
    if lim:
        lines.append(
            f"| throughput vs the limit (Jira RATE={lim['rate']:g}, {lim['items']} items) | "
            f"{lim['achieved']:.2f} items/s = **{lim['fraction']:.3f}** of R/2 | ≥ 0.95 | {drained_} |"
        )
    else:
        lines.append(f"| throughput vs the limit | {no_figure('throughput vs limit')} | ≥ 0.95 | |")
    for lag in ("0", "60"):
        if lag in nv.get("job", {}):
            rate, per_item, s3_per_item = nv["job"][lag]
            lines.append(
                f"| vs naive script, limits off, INDEX_LAG={lag} | job {rate:.1f} items/s vs naive "
                f"{nv['naive']:.1f} items/s: **{rate / nv['naive']:.2f}**; {per_item:.2f} Jira "
                f"and {s3_per_item:.2f} S3 requests per item | (ratio) | {drained_} |"
            )
        else:
            lines.append(
                f"| vs naive script, limits off, INDEX_LAG={lag} | {no_figure('vs naive script')} | (ratio) | |"
            )
    if su:
        lines.append(
            f"| start-up to the first request (median of {su['runs']}) | {su['first']:.3f}s; "
            f"`python -c pass` {su['baseline']:.3f}s | well under 1 s | {drained_} |"
        )
    else:
        lines.append(
            f"| start-up to the first request | {no_figure('start-up')} | well under 1 s | |"
        )
    if mem:
        lines += [
            f"| peak RSS, empty bucket | {mem['idle_rss']:.1f} MB | | {drained_} |",
            f"| peak RSS, {mem['small']} small items | {mem['small_rss']:.1f} MB "
            f"({mem['small'] / mem['small_seconds']:.0f} items/s) | flat in N | {drained_} |",
            f"| peak RSS, one {mem['big_mb']} MB item | {mem['big_rss']:.1f} MB; (RSS - idle) / size = "
            f"{(mem['big_rss'] - mem['idle_rss']) / mem['big_mb']:.2f} | no copies of copies | {drained_} |",
        ]
    else:
        lines.append(f"| peak RSS | {no_figure('memory')} | | |")
    if dl:
        lines.append(
            f"| deadline use, MAX_RUNTIME={DEADLINE_RUNTIME} s, {DEADLINE_ITEMS} items at Jira "
            f"RATE={DEADLINE_RATE}, INDEX_LAG=0 ({len(dl['margins'])} runs; {min(dl['created'])} to "
            f"{max(dl['created'])} created) | stopped {statistics.median(dl['margins']):.2f}s before "
            f"(median), {min(dl['margins']):.2f} to {max(dl['margins']):.2f}s | close, never past | "
            "exit 0 `deadline` |"
        )
    else:
        lines.append(f"| deadline use | {no_figure('deadline use')} | close, never past | |")
    lines += [
        "",
        "Round trips per item: the naive script 3 (S3 GET, Jira create, S3 DELETE); this job 5",
        "whatever the listing lag (S3 GET, S3 claim tag, Jira create, S3 conditional DELETE, Jira",
        "unflag); each run adds the S3 lease (a conditional PUT and DELETE), the conditional-delete",
        "probe, a JQL search and a few reads by key for the lag probe.",
        "",
        "![throughput over time](throughput.png)",
    ]
    write_section(HERE / "RESULTS.md", "bench/e2e.py", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
