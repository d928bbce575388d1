"""Load generation through the full gateway path: store, dispatcher, binds, receipts.

`run_load` builds a gateway configuration for one SMSC account, accepts N messages through
`Gateway.submit_many` (so every message is committed to the store first, as in production),
waits until every message in the store is final (or `timeout`), and reports rates, latencies,
final states and error codes. With an existing database and ``count=0`` it resumes: start-up
recovery requeues what was in flight and the run waits for everything in the store.

Invariants:
    * The report counts what the store says (final states) and what the gateway measured
      (latencies: submit_sm written -> response / receipt, from log-scale histograms with a
      4.4 % bound on percentiles). ``cpu_s`` is the process's CPU time over the same span as
      ``elapsed_s`` (all threads, a thread store writer included), ``loop_thread_cpu_s`` the
      event loop thread's alone, ``writer_process_cpu_s`` the store's writer process's (the
      gateway default ``store.writer: process``; read from /proc, None elsewhere).
    * Nothing is sent that the store has not committed; the temporary database is removed
      afterwards unless a path was given.
    * During a run the cyclic garbage collector is tuned (`GC_THRESHOLD`, start-up objects
      frozen) and restored afterwards; reference counting still frees almost everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gateway.config import config_from_dict
from gateway.gateway import Gateway, SubmitRequest, open_store
from gateway.store import TERMINAL_STATES, MessageState
from sms.bus import InMemoryBus
from sms.clock import SystemClock

__all__ = ["LoadOptions", "LoadReport", "run_load"]

#: Messages accepted per store transaction while loading.
ACCEPT_CHUNK = 1000
#: Young-generation threshold of the cyclic garbage collector during a run (CPython's default
#: is 700 allocations; at thousands of messages a second that is a collection every few
#: messages, about 15 % of the run's CPU).
GC_THRESHOLD = 50_000


@contextlib.contextmanager
def _collector_tuned() -> Iterator[None]:
    """Freeze what start-up allocated (modules, schemas: never garbage, but traversed by every
    full collection) and collect the young generation less often; restore both afterwards."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, before[1], before[2])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """What `run_load` does."""

    host: str
    """SMSC host."""
    port: int
    """SMSC port."""
    system_id: str
    """SMPP system_id."""
    password: str
    """SMPP password."""
    count: int
    """Messages to submit (0: only finish what the database holds)."""
    window: int = 10
    """Window per bind."""
    binds: int = 1
    """Sessions."""
    rate: float | None = None
    """Global limit in parts per second (None: unlimited)."""
    text: str = "Load test message {i}"
    """Message text; ``{i}`` is replaced by the message number."""
    source: str = "LOADTEST"
    """Sender ID."""
    db: Path | None = None
    """Database file (None: a temporary one, removed afterwards)."""
    timeout: float = 300.0
    """Most seconds to wait for final states."""
    wait: Literal["receipts", "responses"] = "receipts"
    """``receipts``: ask for receipts and wait for final states; ``responses``: no receipts,
    wait until every message is submitted."""
    synchronous: Literal["FULL", "NORMAL"] = "FULL"
    """Store durability."""
    mode: Literal["transceiver", "transmitter"] = "transceiver"
    """Bind type."""
    response_timeout: float = 30.0
    """submit_sm response timer."""


@dataclass(slots=True)
class LoadReport:
    """What `run_load` measured."""

    submitted: int
    """Messages accepted into the store by this run."""
    in_store: int
    """Messages in the store at the end (all runs on this database)."""
    parts_sent: int
    """submit_sm written (resends included)."""
    responses_ok: int
    """submit_sm answered ESME_ROK."""
    receipts: int
    """Receipts received."""
    elapsed_s: float
    """From the first accept to the end of the wait."""
    accept_s: float
    """Time the accepts took."""
    submit_rate: float
    """ESME_ROK responses per second (first accept -> last response)."""
    receipt_rate: float
    """Receipts per second (first accept -> last receipt)."""
    final_rate: float
    """Messages final per second over the whole run."""
    latency_ms: dict[str, dict[str, float]]
    """p50/p99/max of submit -> response and submit -> receipt."""
    states: dict[str, int]
    """Messages per store state at the end."""
    errors: dict[str, int]
    """Failures by command_status (``0x00000058``) or kind (``timeout``)."""
    complete: bool
    """True when every message reached the wanted state before the timeout."""
    window: int
    """Window per bind."""
    binds: int
    """Sessions."""
    rss_mb: float
    """Peak resident memory of this process."""
    recovered: int = 0
    """Messages requeued by start-up recovery (resume runs)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else worth reporting."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the ``smsh load --json`` object)."""
        return {
            "submitted": self.submitted,
            "in_store": self.in_store,
            "parts_sent": self.parts_sent,
            "responses_ok": self.responses_ok,
            "receipts": self.receipts,
            "elapsed_s": round(self.elapsed_s, 3),
            "accept_s": round(self.accept_s, 3),
            "submit_rate": round(self.submit_rate, 1),
            "receipt_rate": round(self.receipt_rate, 1),
            "final_rate": round(self.final_rate, 1),
            "latency_ms": self.latency_ms,
            "states": self.states,
            "errors": self.errors,
            "complete": self.complete,
            "window": self.window,
            "binds": self.binds,
            "rss_mb": round(self.rss_mb, 1),
            "recovered": self.recovered,
            **self.extra,
        }


def _config(options: LoadOptions, db: Path) -> dict[str, Any]:
    data: dict[str, Any] = {
        "instance": "load",
        "store": {"path": str(db), "synchronous": options.synchronous},
        "binds": [
            {
                "name": "load",
                "host": options.host,
                "port": options.port,
                "system_id": options.system_id,
                "password": options.password,
                "mode": options.mode,
                "window": options.window,
                "count": options.binds,
                "response_timeout": options.response_timeout,
                "reconnect": {"base": 0.2, "factor": 2.0, "cap": 5.0},
            }
        ],
        "routes": [
            {
                "name": "default",
                "default_sender": options.source,
                "registered_delivery": options.wait == "receipts",
            }
        ],
        "numbers": {"default_country": "JP"},
        "dispatch": {"claim_batch": 1000},
        "retry": {
            "timeout": {"action": "retry_later", "max_attempts": 5, "backoff": {"base": 1.0}}
        },
    }
    if options.rate is not None:
        data["rates"] = {"global": {"rate": options.rate, "burst": max(1.0, options.rate / 10)}}
    return data


def _process_cpu(pid: int | None) -> float | None:
    """User + system CPU seconds of process `pid` from /proc (Linux), or None."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _latency(hist: Any) -> dict[str, float]:
    if hist.count == 0:
        return {"count": 0, "p50": 0.0, "p99": 0.0, "max": 0.0}
    return {
        "count": hist.count,
        "p50": round(hist.quantile(0.5), 3),
        "p99": round(hist.quantile(0.99), 3),
        "max": round(hist.max, 3),
    }


async def run_load(options: LoadOptions) -> LoadReport:
    """Run one load test (see the module docstring).

    Args:
        options: What to do.

    Returns:
        The report.

    Raises:
        GatewayConfigError: The options make an invalid gateway configuration.
    """
    tmp: Path | None = None
    if options.db is None:
        tmp = Path(tempfile.mkdtemp(prefix="smsh-load-"))
        db = tmp / "load.sqlite3"
    else:
        db = options.db
    config = config_from_dict(_config(options, db), source="smsh load")
    clock = SystemClock()
    store = open_store(config)
    wanted = (
        TERMINAL_STATES
        if options.wait == "receipts"
        else TERMINAL_STATES | {MessageState.SUBMITTED}
    )
    tuned = contextlib.ExitStack()
    try:
        tuned.enter_context(_collector_tuned())
        async with InMemoryBus() as bus, Gateway(config, store, bus, clock) as gateway:
            start_wall = clock.now()
            start = time.perf_counter()
            cpu0, loop_cpu0 = time.process_time(), time.thread_time()
            writer_cpu0 = _process_cpu(store.writer_pid)
            for first in range(0, options.count, ACCEPT_CHUNK):
                chunk = range(first, min(options.count, first + ACCEPT_CHUNK))
                await gateway.submit_many(
                    [
                        SubmitRequest(
                            f"090{10_000_000 + (i % 90_000_000):08d}",
                            options.text.replace("{i}", str(i)),
                            client_ref=f"load-{i}",
                        )
                        for i in chunk
                    ]
                )
            accept_s = time.perf_counter() - start
            complete = False
            deadline = start + options.timeout
            while True:
                counts = await gateway.counts()
                total = sum(counts.values())
                done = sum(n for state, n in counts.items() if state in wanted)
                if done >= total:
                    complete = True
                    break
                if time.perf_counter() >= deadline:
                    break
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - start
            cpu_s, loop_cpu_s = time.process_time() - cpu0, time.thread_time() - loop_cpu0
            writer_cpu = _process_cpu(store.writer_pid)
            writer_cpu_s = (
                round(writer_cpu - writer_cpu0, 3)
                if writer_cpu is not None and writer_cpu0 is not None
                else None
            )
            stats = gateway.stats
            resp_span = (stats.last_resp_at - start_wall) if stats.last_resp_at else 0.0
            receipt_span = (stats.last_receipt_at - start_wall) if stats.last_receipt_at else 0.0
            recovered = len(gateway.recovery.requeued) if gateway.recovery else 0
            report = LoadReport(
                submitted=options.count,
                in_store=total,
                parts_sent=stats.parts_sent,
                responses_ok=stats.resp_ok,
                receipts=stats.receipts,
                elapsed_s=elapsed,
                accept_s=accept_s,
                submit_rate=stats.resp_ok / resp_span if resp_span > 0 else 0.0,
                receipt_rate=stats.receipts / receipt_span if receipt_span > 0 else 0.0,
                final_rate=done / elapsed if elapsed > 0 else 0.0,
                latency_ms={
                    "submit_to_resp": _latency(stats.resp_latency),
                    "submit_to_receipt": _latency(stats.receipt_latency),
                },
                states={state.value: n for state, n in sorted(counts.items()) if n},
                errors=dict(sorted(stats.errors.items())),
                complete=complete,
                window=options.window,
                binds=options.binds,
                rss_mb=0.0,
                recovered=recovered,
                extra={
                    "throttled": stats.throttled,
                    "timeouts": stats.timeouts,
                    "reconnects": stats.reconnects,
                    "unmatched_responses": stats.unmatched_responses,
                    "receipt_outcomes": dict(stats.receipt_status),
                    "store_batches": store.writer_stats().batches,
                    "synchronous": options.synchronous,
                    "cpu_s": round(cpu_s, 3),
                    "loop_thread_cpu_s": round(loop_cpu_s, 3),
                    "writer_process_cpu_s": writer_cpu_s,
                },
            )
    finally:
        tuned.close()
        store.close()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    report.rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return report
