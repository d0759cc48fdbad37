"""Figures for the s3 source against a local moto server (a separate process, over HTTP).

Run it from the repository root:

    uv run python plugins/shitshovela-s3/bench/bench_s3.py [--objects 2000] [--keys 10000]

It prints:

- objects a second listed and read (one ListObjectsV2 per 1,000 keys plus one ranged GET
  per object), with the source's rate set high so that moto, not the limiter, is measured;
- the peak RSS of a subprocess that lists 10,000 keys, and of one that reads a 50 MB object
  (its item, then the whole attachment streamed), each next to the same process's RSS
  before the work (imports done), so the growth is visible;
- which conditional-delete path moto exercised (``if-match`` or ``head``).

Figures, not assertions: the tests check behaviour; this prints what it costs. It runs no
engine (no exit code or reason to check), but each figure is refused (``no figure: ...``,
exit 1 at the end) unless its work was done in full: every object read, every key
listed, every byte of the big object streamed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

# The plugin's test helpers (tests/s3kit.py) serve this script too, and the
# repository's bench/ (not a package) holds the outcome bookkeeping every benchmark uses.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
from _outcome import Figures

BIG = 50 * 1024 * 1024


def rss_mb(field: str = "VmHWM") -> float:
    """This process's peak (``VmHWM``) or current (``VmRSS``) resident set, in MB.

    Read from /proc/self/status: unlike getrusage's ru_maxrss, the high-water mark of the
    process's own memory map starts afresh at exec, so the parent's size at fork (moto's
    client, a 50 MB test body) does not leak into the child's figure."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, url: str, bucket: str) -> None:
    """Run in a subprocess: do one job and print a JSON line with its figures."""
    from s3kit import make_source

    from shitshovela_core.models import Item

    source = make_source(url, bucket, PREFIX="", RATE=1000.0, BODY_LIMIT=30000)
    before = rss_mb("VmRSS")
    started = time.perf_counter()
    result: dict[str, Any] = {"mode": mode, "rss_before_mb": round(before, 1)}
    if mode == "list":
        result["keys"] = sum(1 for _ in source.listing())
    elif mode == "big":
        (item,) = [e for e in source.items() if e.origin.key == "big/export.csv"]
        assert isinstance(item, Item)
        digest = hashlib.sha256()
        size = 0
        with item.attachments[0].open() as stream:
            while chunk := stream.read(1024 * 1024):
                digest.update(chunk)
                size += len(chunk)
        result["streamed_bytes"] = size
        result["body_chars"] = len(item.body)
    result["seconds"] = round(time.perf_counter() - started, 3)
    result["rss_peak_mb"] = round(rss_mb(), 1)
    source.close()
    print(json.dumps(result))


def run_child(mode: str, url: str, bucket: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, url, bucket],
        capture_output=True,
        text=True,
        check=True,
    )
    data: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return data


def put_many(s3: Any, bucket: str, keys: list[str], body: bytes) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket=bucket, Key=key, Body=body), keys))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=2000, help="objects to list and read")
    parser.add_argument("--keys", type=int, default=10000, help="keys for the listing RSS")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "URL", "BUCKET"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    import moto
    from s3kit import make_source, new_bucket
    from shitshovela_testservers.motoserver import MotoServer

    figs = Figures()
    with MotoServer() as server:
        s3 = server.client()
        print(f"moto {moto.__version__} server at {server.url} (separate process, HTTP)")

        bucket = new_bucket(s3, versioned=False)
        body = b"Disk almost full on db-1\nused 93% of /var\n" + b"x" * 400
        put_many(s3, bucket, [f"inbox/alert-{n:06d}.txt" for n in range(args.objects)], body)
        source = make_source(server.url, bucket, RATE=1000.0)
        started = time.perf_counter()
        count = sum(1 for _ in source.items())
        elapsed = time.perf_counter() - started
        if count != args.objects:
            figs.refuse("listed+read", f"{count} of {args.objects} objects read")
        else:
            print(
                f"listed+read: {count} objects in {elapsed:.2f}s = {count / elapsed:.0f} objects/s "
                "(one ranged GET each; RATE=1000)"
            )
        first = next(iter(source.items()))
        source.delete(first.origin)
        print(f"conditional delete path moto exercised: {source.delete_path}")
        source.close()

        bucket = new_bucket(s3, versioned=False)
        put_many(s3, bucket, [f"k/{n:06d}" for n in range(args.keys)], b"x")
        listing = run_child("list", server.url, bucket)
        if listing["keys"] != args.keys:
            figs.refuse("listing RSS", f"{listing['keys']} of {args.keys} keys listed")
        else:
            print(
                f"listing {listing['keys']} keys: {listing['seconds']}s, peak RSS "
                f"{listing['rss_peak_mb']} MB (before listing: {listing['rss_before_mb']} MB)"
            )

        bucket = new_bucket(s3, versioned=False)
        s3.put_object(Bucket=bucket, Key="big/export.csv", Body=b"Export\n" + b"y" * (BIG - 7))
        big = run_child("big", server.url, bucket)
        if big["streamed_bytes"] != BIG:
            figs.refuse("big object RSS", f"{big['streamed_bytes']} of {BIG} bytes streamed")
        else:
            print(
                f"reading one {BIG // (1024 * 1024)} MB object (item + attachment streamed, "
                f"{big['streamed_bytes']} bytes): {big['seconds']}s, peak RSS "
                f"{big['rss_peak_mb']} MB (before: {big['rss_before_mb']} MB)"
            )
    figs.exit()


if __name__ == "__main__":
    main()
