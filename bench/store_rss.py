"""Queue N messages into a fresh store and show that memory stays flat.

Usage::

    .venv/bin/python bench/store_rss.py [--count 1000000] [--chunk 10000] [--path FILE]
                                        [--synchronous FULL|NORMAL] [--json]

Prints the process RSS before, during (every 10 %) and after, the peak RSS, the database file
sizes, and how long the queue-facing reads take on the full queue (counts, claim, status).
``--json`` prints one JSON object of the figures instead (``smsh bench`` reads it).
The store never loads the queue into memory: RSS is bounded by SQLite's page caches
(``cache_kib`` per connection), whatever N is.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from gateway.store import MessageState, MessageStore, NewMessage

T0 = 1_767_225_600.0


def rss_mib() -> float:
    """Current resident set size of this process, in MiB (Linux /proc)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    """Peak RSS of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def files_mib(path: Path) -> dict[str, float]:
    """Sizes of the database, WAL and shared-memory files, in MiB."""
    sizes = {}
    for suffix in ("", "-wal", "-shm"):
        f = Path(str(path) + suffix)
        sizes[f.name] = f.stat().st_size / 2**20 if f.exists() else 0.0
    return sizes


def messages(start: int, count: int) -> Iterator[NewMessage]:
    """`count` realistic messages (Japanese text, metadata), generated lazily."""
    for i in range(start, start + count):
        yield NewMessage(
            source="DUNNING",
            destination=f"090{i % 100_000_000:08d}",
            text=f"【ご連絡】お支払い期限を過ぎております。ご確認ください。参照番号 {i:09d}",
            parts_total=1 + (i % 3 == 0),
            encoding="ucs2",
            campaign_id="bench",
            client_ref=f"ref-{i}",
            validity_deadline=T0 + 72 * 3600,
            metadata={"debtor": i, "template": "reminder-1"},
        )


def _quiet(_line: str) -> None:
    """Print nothing (``--json``: only the final object goes to stdout)."""


def main(argv: list[str] | None = None) -> int:
    """Run the measurement; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--path", type=Path, default=None)
    parser.add_argument("--synchronous", choices=["FULL", "NORMAL"], default="FULL")
    parser.add_argument("--json", action="store_true", help="print one JSON object of figures")
    args = parser.parse_args(argv)
    say: Callable[[str], None] = _quiet if args.json else print

    tmp = None
    if args.path is None:
        tmp = tempfile.TemporaryDirectory(prefix="store-rss-")
        path = Path(tmp.name) / "queue.sqlite3"
    else:
        path = args.path
    say(f"queueing {args.count:,} messages into {path} (synchronous={args.synchronous})")
    rss_before = rss_mib()
    say(f"RSS before open:        {rss_before:8.1f} MiB")
    store = MessageStore(path, synchronous=args.synchronous)
    say(f"RSS after open:         {rss_mib():8.1f} MiB")

    start = time.perf_counter()
    done = 0
    step = max(args.count // 10, 1)
    next_report = step
    samples: list[float] = []
    while done < args.count:
        n = min(args.chunk, args.count - done)
        store.accept(list(messages(done, n)), T0)
        done += n
        if done >= next_report or done == args.count:
            samples.append(rss_mib())
            rate = done / (time.perf_counter() - start)
            say(f"  {done:>10,} queued   RSS {samples[-1]:8.1f} MiB   {rate:10,.0f} msg/s")
            next_report += step
    elapsed = time.perf_counter() - start

    t = time.perf_counter()
    counts = store.counts()
    counts_ms = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    claimed = store.claim(T0 + 1, 100, bind="bench").messages
    claim_ms = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    store.status(claimed[-1].id)
    status_ms = (time.perf_counter() - t) * 1000
    rss_after = rss_mib()
    store.close()

    say(f"RSS after queueing:     {rss_after:8.1f} MiB   (peak {peak_rss_mib():.1f} MiB)")
    # The first samples include the page caches filling up (bounded by cache_kib).
    warm = samples[min(2, len(samples) - 1)] if samples else 0.0
    growth = samples[-1] - warm if samples else 0.0
    say(f"RSS growth 30%->100%:   {growth:8.1f} MiB")
    say(f"accept rate:            {args.count / elapsed:10,.0f} msg/s (bulk, {args.chunk:,}/call)")
    say(f"queued per counts():    {counts[MessageState.QUEUED]:,} ({counts_ms:.2f} ms)")
    say(f"claim(100) on the queue: {claim_ms:.2f} ms; status(): {status_ms:.2f} ms")
    for name, size in files_mib(path).items():
        say(f"file {name:24s} {size:10.1f} MiB")
    db_bytes = Path(path).stat().st_size
    say(f"bytes per message:      {db_bytes / args.count:10.0f}")
    if args.json:
        figures = {
            "count": args.count,
            "rss_before_mib": round(rss_before, 1),
            "rss_after_mib": round(rss_after, 1),
            "peak_rss_mib": round(peak_rss_mib(), 1),
            "growth_30_100_mib": round(growth, 1),
            "accept_rate": round(args.count / elapsed, 1),
            "bytes_per_message": round(db_bytes / args.count, 1),
        }
        print(json.dumps(figures))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
