"""Deadline use (I5) and politeness (I6) of real CLI runs, with faults on the wire.

For each fault kind, N runs (default 10) of ``shitshovela run`` against a
tracker behind the fault proxy, with ``SHITSHOVELA_MAX_RUNTIME`` = R: prints
how long before the deadline the process exited (min / median / max; time from
spawn to exit, so a little pessimistic). Every run must end as its kind says:
a call to a hung or dripping server or a silent TLS handshake is cut off at the
deadline (exit 3, reason containing "cut off at the deadline"); a provider that
ignores its budget is ended by the watchdog (exit 7). Then one run under a 429
storm (it must drain) prints the highest request count in any one-second window
against the configured rate, and the smallest gap between two requests against
``1/RATE`` (arrival times at the proxy). A kind with any other run gives no figure (``no
figure: ...``) and the script exits 1 at the end. Writes its section of
``bench/RESULTS.md``. Run: ``uv run python bench/deadline.py [N]``.
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
from pathlib import Path

from _harness import Tracker, inbox, job_env, site
from _outcome import Figures, expect, measured_on, run_cli, write_section
from shitshovela_testkit.faultproxy import (
    Answer,
    Drip,
    FaultProxy,
    Hang,
    Script,
    max_in_window,
)

from shitshovela_core.deadline import default_margin, watchdog_lead

RUNTIME = 4.0
#: How a run of each kind must end: (exit code, the reason's prefix, a text in the reason).
CUT_OFF = (3, None, "cut off at the deadline")
WATCHDOG = (7, "watchdog", None)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    load = os.getloadavg()[0]
    margin = default_margin(RUNTIME)
    site_dir = site()
    figs = Figures()
    kinds = {
        "hung server": (Hang(), "http", "http", {}, CUT_OFF),
        "dripping server (1 B/s)": (Drip(bytes_per_second=1.0), "http", "http", {}, CUT_OFF),
        "silent TLS handshake": (Hang(), "tcp", "https", {}, CUT_OFF),
        "provider ignoring its budget (watchdog)": (
            None,
            "http",
            "http",
            {"SHITSHOVELA_DIR__HANG": "60"},
            WATCHDOG,
        ),
    }
    rows: list[str] = []
    print(f"exit before the deadline, {runs} runs each, SHITSHOVELA_MAX_RUNTIME={RUNTIME:g}s")
    with Tracker("bench-token") as tracker:
        for name, (fault, mode, scheme, extra, wanted) in kinds.items():
            margins: list[float] = []
            code, prefix, text = wanted
            ended = f"exit {code}, reason " + (
                f"starting {prefix!r}" if prefix else f"containing {text!r}"
            )
            refused = len(figs.refused)
            script = Script(default=fault) if fault is not None else None
            with (
                FaultProxy(("127.0.0.1", tracker.port), script, mode=mode) as proxy,
                figs.guard(name),
            ):
                for _ in range(runs):
                    env = job_env(
                        site_dir,
                        inbox(3),
                        f"{scheme}://127.0.0.1:{proxy.port}",
                        SHITSHOVELA_MAX_RUNTIME=str(RUNTIME),
                        SHITSHOVELA_LOG_LEVEL="info",
                        **extra,
                    )
                    outcome = expect(run_cli(["run"], env), code=code, reason=prefix, contains=text)
                    margins.append(RUNTIME - outcome.seconds)
                print(
                    f"  {name:42s} min {min(margins):.3f}s  median {statistics.median(margins):.3f}s"
                    f"  max {max(margins):.3f}s  every run {ended}"
                )
                rows.append(
                    f"| {name} | {min(margins):.3f} | {statistics.median(margins):.3f} | "
                    f"{max(margins):.3f} | {ended} |"
                )
            if len(figs.refused) > refused:
                rows.append(f"| {name} | | | | {figs.refused[-1].partition(': ')[2]} |")
        rate = 5
        storm = {n: Answer(429, retry_after="1") for n in (2, 3, 9, 15)}
        storm_row = ""
        with (
            FaultProxy(("127.0.0.1", tracker.port), Script(http=storm)) as proxy,
            figs.guard("429 storm"),
        ):
            env = job_env(
                site_dir,
                inbox(20),
                proxy.url,
                SHITSHOVELA_MAX_RUNTIME="60",
                SHITSHOVELA_LOG_LEVEL="info",
                SHITSHOVELA_HTTPTICKETS__RATE=str(rate),
            )
            outcome = expect(run_cli(["run"], env), code=0, reason="drained")
            times = [e.time for e in proxy.requests]
            peak = max_in_window(times, 1.0)
            gap = min(b - a for a, b in itertools.pairwise(times))
            print(
                f"429 storm, 20 items: {len(times)} requests, {outcome.describe()}; highest count "
                f"in any 1 s window: {peak} (configured rate {rate}/s); smallest gap between two "
                f"requests {gap:.3f}s (1/RATE = {1 / rate:g}s)"
            )
            storm_row = (
                f"429 storm (four `429 Retry-After: 1` answers), 20 items, RATE={rate}/s: "
                f"{len(times)} requests, the highest count in any 1 s window **{peak}**, the "
                f"smallest gap between two requests **{gap:.3f} s** (1/RATE = {1 / rate:g} s; "
                "arrival times at the proxy) (the run ended exit 0 `drained`)."
            )
        if not storm_row:
            storm_row = f"429 storm: no figure: {figs.refused[-1].partition(': ')[2]}"
    write_section(
        Path(__file__).resolve().parent / "RESULTS.md",
        "bench/deadline.py",
        [
            f"## Deadline use under faults: `uv run python bench/deadline.py {runs}`",
            "",
            f"Measured {measured_on(load)}.",
            "The real CLI (`dir` source -> HTTP test tracker behind the fault proxy, 3 items),",
            f"`SHITSHOVELA_MAX_RUNTIME={RUNTIME:g}`, {runs} runs per fault: seconds from the",
            "deadline back to the process's exit (spawn to exit, so a little pessimistic).",
            f"Work stops {margin:g} s before the deadline (the margin: 5 % of MAX_RUNTIME, 1 s to "
            "10 s) and a",
            f"call under way is cut off there, so a cut-off run exits a little under {margin:g} s "
            "before the",
            f"deadline; the watchdog fires {watchdog_lead(margin):g} s before it and ends its run "
            "a little under that.",
            "",
            "| fault | min | median | max | every run ended |",
            "| --- | --- | --- | --- | --- |",
            *rows,
            "",
            storm_row,
        ],
    )
    figs.exit()


if __name__ == "__main__":
    main()
