"""Start-up time: ``--version``, and ``plan``/``run`` to their first request.

Prints medians of N runs (default 10) beside ``python -c pass`` measured in the
same run, and the ratio to it. Run: ``uv run python bench/startup.py [N]``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from _harness import Tracker, inbox, job_env, site, timed


def first_request(cmd: list[str], env: dict[str, str], tracker: Tracker) -> float:
    """Seconds from spawning ``cmd`` to the first request reaching ``tracker``."""
    tracker.arrivals.clear()
    started = time.monotonic()
    subprocess.run(cmd, env=env, capture_output=True, check=False)
    return tracker.arrivals[0][0] - started


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    py = sys.executable
    site_dir = site()
    folder = inbox(3)
    baseline = [timed([py, "-c", "pass"])[0] for _ in range(runs)]
    version = [timed([py, "-m", "shitshovela_core", "--version"])[0] for _ in range(runs)]
    with Tracker("bench-token") as tracker:
        env = job_env(site_dir, folder, tracker.url)
        plan = [
            first_request([py, "-m", "shitshovela_core", "plan"], env, tracker) for _ in range(runs)
        ]
    base = statistics.median(baseline)
    print(f"start-up, median of {runs} runs (seconds; ratio to `python -c pass`)")
    for name, values in (
        ("python -c pass", baseline),
        ("shitshovela --version", version),
        ("shitshovela plan -> first request", plan),
    ):
        median = statistics.median(values)
        print(
            f"  {name:36s} {median:7.3f}  x{median / base:5.1f}  (min {min(values):.3f}, max {max(values):.3f})"
        )


if __name__ == "__main__":
    main()
