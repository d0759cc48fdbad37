"""Start-up time: ``--version``, and ``plan`` to its first request.

Prints medians of N runs (default 10) beside ``python -c pass`` measured in the
same run, and the ratio to it. Every ``--version`` and ``plan`` run must exit 0
(``plan`` logs to stderr; a ``run_failed`` line there is its reason), and every
``plan`` must reach the tracker; else that line gives no figure (``no figure:
...``) and the script exits 1 at the end. The CLI runs with its byte code cached,
as installed (`_outcome.run_cli`); one untimed run of each command first writes
the caches. Writes its section of ``bench/RESULTS.md``. Run: ``uv run python
bench/startup.py [N]``.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

from _harness import Tracker, inbox, job_env, site, timed
from _outcome import Figures, UnexpectedOutcome, expect, measured_on, run_cli, write_section


def first_request(args: list[str], env: dict[str, str], tracker: Tracker) -> float:
    """Seconds from spawning the CLI with ``args`` to the first request reaching ``tracker``;
    the run must exit 0."""
    tracker.arrivals.clear()
    started = time.monotonic()
    outcome = expect(run_cli(args, env), code=0)
    if not tracker.arrivals:
        raise UnexpectedOutcome(outcome, "exit 0 after a request to the tracker (none came)")
    return float(tracker.arrivals[0][0]) - started


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    load = os.getloadavg()[0]
    py = sys.executable
    site_dir = site()
    folder = inbox(3)
    figs = Figures()
    results: dict[str, list[float] | None] = {}
    results["python -c pass"] = [timed([py, "-c", "pass"])[0] for _ in range(runs)]
    env = job_env(site_dir, folder, "http://127.0.0.1:9", SHITSHOVELA_LOG_LEVEL="info")
    results["shitshovela --version"] = figs.attempt(
        "shitshovela --version",
        lambda: [expect(run_cli(["--version"], env), code=0).seconds for _ in range(1 + runs)][1:],
    )
    with Tracker("bench-token") as tracker:
        env = job_env(site_dir, folder, tracker.url, SHITSHOVELA_LOG_LEVEL="info")
        results["shitshovela plan -> first request"] = figs.attempt(
            "shitshovela plan -> first request",
            lambda: [first_request(["plan"], env, tracker) for _ in range(1 + runs)][1:],
        )
    base = statistics.median(results["python -c pass"] or [0.0])
    print(f"start-up, median of {runs} runs (seconds; ratio to `python -c pass`)")
    rows = []
    for name, values in results.items():
        if values is None:
            why = next(r for r in figs.refused if r.startswith(name)).partition(": ")[2]
            rows.append(f"| {name} | no figure: {why} | | | |")
            continue
        median = statistics.median(values)
        print(
            f"  {name:36s} {median:7.3f}  x{median / base:5.1f}  (min {min(values):.3f}, max {max(values):.3f})"
        )
        rows.append(
            f"| {name} | {median:.3f} | x{median / base:.1f} | {min(values):.3f} | {max(values):.3f} |"
        )
    write_section(
        Path(__file__).resolve().parent / "RESULTS.md",
        "bench/startup.py",
        [
            f"## Start-up: `uv run python bench/startup.py {runs}`",
            "",
            f"Measured {measured_on(load)}.",
            f"Seconds, median of {runs} runs, and the ratio to `python -c pass` measured in the",
            "same run; `plan` (the `dir` source -> HTTP test tracker) is timed from spawn to its",
            "first request, with every installed plugin's entry point loaded. The CLI's byte code",
            "is cached, as installed (one untimed run of each command first). A figure is given",
            "only if every one of its runs exited 0.",
            "",
            "| command | median | ratio | min | max |",
            "| --- | --- | --- | --- | --- |",
            *rows,
        ],
    )
    figs.exit()


if __name__ == "__main__":
    main()
