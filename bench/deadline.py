"""Deadline use (I5) and politeness (I6) of real CLI runs, with faults on the wire.

For each fault kind, N runs (default 10) of ``shitshovela run`` against a
tracker behind the fault proxy, with ``SHITSHOVELA_MAX_RUNTIME`` = R: prints
how long before the deadline the process exited (min / median / max; time from
spawn to exit, so a little pessimistic) and the exit codes seen. Then one run
under a 429 storm prints the highest request count in any one-second window
against the configured rate. Run: ``uv run python bench/deadline.py [N]``.
"""

from __future__ import annotations

import statistics
import sys
from collections import Counter

from _harness import Tracker, inbox, job_env, site, timed
from shitshovela_testkit.faultproxy import (
    Answer,
    Drip,
    FaultProxy,
    Hang,
    Script,
    max_in_window,
)

RUNTIME = 4.0


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    site_dir = site()
    py = [sys.executable, "-m", "shitshovela_core", "run"]
    kinds = {
        "hung server": (Hang(), "http", "http", {}),
        "dripping server (1 B/s)": (Drip(bytes_per_second=1.0), "http", "http", {}),
        "silent TLS handshake": (Hang(), "tcp", "https", {}),
        "provider ignoring its budget (watchdog)": (
            None,
            "http",
            "http",
            {"SHITSHOVELA_DIR__HANG": "60"},
        ),
    }
    print(f"exit before the deadline, {runs} runs each, SHITSHOVELA_MAX_RUNTIME={RUNTIME:g}s")
    with Tracker("bench-token") as tracker:
        for name, (fault, mode, scheme, extra) in kinds.items():
            margins: list[float] = []
            codes: Counter[int] = Counter()
            script = Script(default=fault) if fault is not None else None
            with FaultProxy(("127.0.0.1", tracker.port), script, mode=mode) as proxy:  # type: ignore[arg-type]
                for _ in range(runs):
                    env = job_env(
                        site_dir,
                        inbox(3),
                        f"{scheme}://127.0.0.1:{proxy.port}",
                        SHITSHOVELA_MAX_RUNTIME=str(RUNTIME),
                        **extra,
                    )
                    elapsed, code = timed(py, env)
                    margins.append(RUNTIME - elapsed)
                    codes[code] += 1
            print(
                f"  {name:42s} min {min(margins):.3f}s  median {statistics.median(margins):.3f}s"
                f"  max {max(margins):.3f}s  exit codes {dict(codes)}"
            )
        rate = 5
        storm = {n: Answer(429, retry_after="1") for n in (2, 3, 9, 15)}
        with FaultProxy(("127.0.0.1", tracker.port), Script(http=storm)) as proxy:
            env = job_env(
                site_dir,
                inbox(20),
                proxy.url,
                SHITSHOVELA_MAX_RUNTIME="60",
                SHITSHOVELA_HTTPTICKETS__RATE=str(rate),
            )
            _, code = timed(py, env)
            times = [e.time for e in proxy.requests]
        print(
            f"429 storm, 20 items: {len(times)} requests, exit {code}; highest count in any "
            f"1 s window: {max_in_window(times, 1.0)} (configured rate {rate}/s)"
        )


if __name__ == "__main__":
    main()
