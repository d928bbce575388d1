"""Message store benchmarks: durable accepts per second, and the send cycle rate.

Run: `.venv/bin/pytest bench/test_bench_store.py --benchmark-only -p no:cacheprovider`.
Each round starts from a fresh database file; the figure to read is ``extra_info`` (rates),
printed at the end of the run. Messages are durable when counted: the awaited accept has
returned, i.e. the batch holding it has committed (synchronous=FULL: fsynced).

* accept, group commit: CALLERS concurrent asyncio callers, one message each (the gateway's
  real shape: many clients, small requests).
* accept, one transaction per message: the same callers through a store with max_batch=1.
* accept, bulk: one caller, lists of 1,000 (CSV import shape).
* cycle: claim -> record_part_submit -> record_resp (ROK) -> record_receipt (DELIVRD), driven
  concurrently like an ESME with a window.

The group-commit accept and the cycle run with both writers (``writer="thread"``, and
``writer="process"``: the gateway's default, the writer in a child process).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from gateway.store import MessageState, MessageStore, NewMessage

T0 = 1_767_225_600.0
CALLERS = 5_000
PER_TX_CALLERS = 1_000
BULK = 20_000
CYCLE = 3_000
RESULTS: dict[str, str] = {}

Sync = Literal["FULL", "NORMAL"]
Writer = Literal["thread", "process"]
WRITERS = pytest.mark.parametrize("writer", ["thread", "process"])


def _message(i: int) -> NewMessage:
    return NewMessage("SENDER", f"090{i:08d}", f"benchmark message {i}")


@pytest.fixture
def fresh_db(tmp_path: Path) -> Callable[[], Path]:
    counter = iter(range(1_000_000))

    def make() -> Path:
        return tmp_path / f"bench-{next(counter)}.sqlite3"

    return make


def _accept_concurrently(
    path: Path, n: int, synchronous: Sync, max_batch: int, writer: Writer = "thread"
) -> float:
    store = MessageStore(path, synchronous=synchronous, max_batch=max_batch, writer=writer)

    async def run() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(store.aio.accept([_message(i)], T0) for i in range(n)))
        return time.perf_counter() - start

    try:
        elapsed = asyncio.run(run())
        assert store.counts()[MessageState.QUEUED] == n
    finally:
        store.close()
    return n / elapsed


def _rounds(benchmark: BenchmarkFixture, fn: Callable[[], None]) -> None:
    """Three timed rounds of `fn` (each round is long: no calibration loop)."""
    benchmark.pedantic(fn, rounds=3, iterations=1)  # type: ignore[no-untyped-call]


def _record(name: str, rates: list[float], unit: str = "msg/s") -> None:
    best = max(rates)
    RESULTS[name] = f"{best:,.0f} {unit} (best of {len(rates)}; all {[round(r) for r in rates]})"


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
@WRITERS
def test_accept_group_commit(
    benchmark: BenchmarkFixture, fresh_db: Callable[[], Path], synchronous: Sync, writer: Writer
) -> None:
    rates: list[float] = []
    _rounds(
        benchmark,
        lambda: rates.append(_accept_concurrently(fresh_db(), CALLERS, synchronous, 2000, writer)),
    )
    _record(f"accept group commit {synchronous}, {writer} writer", rates)
    benchmark.extra_info["msg_per_s"] = max(rates)


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
def test_accept_one_transaction_per_message(
    benchmark: BenchmarkFixture, fresh_db: Callable[[], Path], synchronous: Sync
) -> None:
    rates: list[float] = []
    _rounds(
        benchmark,
        lambda: rates.append(_accept_concurrently(fresh_db(), PER_TX_CALLERS, synchronous, 1)),
    )
    _record(f"accept one tx per message {synchronous}", rates)
    benchmark.extra_info["msg_per_s"] = max(rates)


def test_accept_bulk(benchmark: BenchmarkFixture, fresh_db: Callable[[], Path]) -> None:
    rates: list[float] = []

    def run() -> None:
        with MessageStore(fresh_db()) as store:
            start = time.perf_counter()
            for chunk in range(0, BULK, 1000):
                store.accept([_message(i) for i in range(chunk, chunk + 1000)], T0)
            rates.append(BULK / (time.perf_counter() - start))

    _rounds(benchmark, run)
    _record("accept bulk (1,000 per call) FULL", rates)
    benchmark.extra_info["msg_per_s"] = max(rates)


def _cycle(path: Path, n: int, window: int, writer: Writer = "thread") -> float:
    store = MessageStore(path, writer=writer)
    store.accept([_message(i) for i in range(n)], T0)

    async def one(mid: int, serial: int) -> None:
        aio = store.aio
        await aio.record_part_submit(mid, 1, T0 + 1, bind="b1", sequence_number=serial)
        await aio.record_resp(mid, 1, T0 + 2, command_status=0, smsc_message_id=f"{serial:x}")
        await aio.record_receipt(f"{serial:x}", "DELIVRD", T0 + 3)

    async def run() -> float:
        start = time.perf_counter()
        serial = 0
        while True:
            batch = await store.aio.claim(T0 + 1, window, bind="b1")
            if not batch.messages:
                break
            tasks = []
            for m in batch.messages:
                serial += 1
                tasks.append(one(m.id, serial))
            await asyncio.gather(*tasks)
        return time.perf_counter() - start

    try:
        elapsed = asyncio.run(run())
        assert store.counts()[MessageState.DELIVERED] == n
    finally:
        store.close()
    return n / elapsed


@pytest.mark.parametrize("window", [10, 100])
@WRITERS
def test_claim_resp_receipt_cycle(
    benchmark: BenchmarkFixture, fresh_db: Callable[[], Path], window: int, writer: Writer
) -> None:
    rates: list[float] = []
    _rounds(benchmark, lambda: rates.append(_cycle(fresh_db(), CYCLE, window, writer)))
    _record(f"claim+submit+resp+receipt cycle, {window} in flight, FULL, {writer} writer", rates)
    benchmark.extra_info["msg_per_s"] = max(rates)


def teardown_module() -> None:
    """Print the figures (pytest -s shows them; they are also in extra_info)."""
    for name, figure in RESULTS.items():
        print(f"{name:60s} {figure}")
