"""Group commit: many concurrent accepts share few transactions, and every awaited accept is
already on disk (visible to a fresh connection) when the await returns. Each test runs with
both writers (thread and process): the batches form the same way."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import IllegalTransitionError, StoreClosedError
from gateway.store import MessageState, MessageStore, ReceiptStatus
from tests.unit.gateway.conftest import T0, new_message

CALLERS = 2000
WRITERS = pytest.mark.parametrize("writer", ["thread", "process"])


def _ids_on_disk(path: Path) -> set[int]:
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT id FROM messages")}
    finally:
        conn.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
@WRITERS
async def test_concurrent_accepts_share_transactions(
    db_path: Path, synchronous: str, writer: Any
) -> None:
    store = MessageStore(db_path, synchronous=synchronous, writer=writer)  # type: ignore[arg-type]
    try:

        async def one(i: int) -> int:
            [mid] = await store.aio.accept([new_message(f"090{i:08d}")], T0)
            if i % 400 == 0:  # durable when the await returns: a new connection sees it
                assert mid in _ids_on_disk(db_path)
            return mid

        async with asyncio.timeout(30):
            ids = await asyncio.gather(*(one(i) for i in range(CALLERS)))
        stats = store.writer_stats()
        assert sorted(ids) == list(range(1, CALLERS + 1))
        assert stats.ops == CALLERS
        assert stats.batches <= CALLERS // 10, stats
        assert stats.largest_batch > 50
        assert _ids_on_disk(db_path) == set(ids)
    finally:
        await store.aio.aclose()
    # ... and after closing, from a fresh store on the same file.
    with MessageStore(db_path) as reopened:
        assert reopened.counts()[MessageState.QUEUED] == CALLERS


@WRITERS
def test_sync_callers_on_threads_are_batched(db_path: Path, writer: Any) -> None:
    with MessageStore(db_path, synchronous="NORMAL", linger=0.002, writer=writer) as store:
        results: list[int] = []
        lock = threading.Lock()

        def worker() -> None:
            for _ in range(50):
                [mid] = store.accept([new_message()], T0)
                with lock:
                    results.append(mid)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(results) == list(range(1, 401))
        assert store.writer_stats().batches < 400


@pytest.mark.asyncio
@WRITERS
async def test_a_failing_op_is_rolled_back_alone(db_path: Path, writer: Any) -> None:
    with MessageStore(db_path, synchronous="NORMAL", linger=0.01, writer=writer) as store:
        [flying] = await store.aio.accept([new_message()], T0)
        await store.aio.claim(T0, 1)
        before = store.writer_stats().batches
        async with asyncio.timeout(10):
            results = await asyncio.gather(
                store.aio.accept([new_message()], T0),
                store.aio.cancel(flying, T0),  # illegal: in flight
                store.aio.accept([new_message()], T0),
                return_exceptions=True,
            )
        assert results[0] == [2]
        assert isinstance(results[1], IllegalTransitionError)
        assert results[2] == [3]
        assert store.writer_stats().batches == before + 1  # one transaction for all three
        assert store.writer_stats().failed_ops == 1
        assert (await store.aio.status(flying)).state is MessageState.SUBMITTING
        assert (await store.aio.counts())[MessageState.QUEUED] == 2


@pytest.mark.asyncio
@WRITERS
async def test_cancelled_awaiter_does_not_undo_the_write(db_path: Path, writer: Any) -> None:
    with MessageStore(db_path, synchronous="NORMAL", linger=0.05, writer=writer) as store:
        task = asyncio.create_task(store.aio.accept([new_message()], T0))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with asyncio.timeout(10):
            assert await store.aio.accept([new_message()], T0) == [2]
        assert _ids_on_disk(db_path) == {1, 2}


@pytest.mark.asyncio
@WRITERS
async def test_async_api_round_trip(db_path: Path, writer: Any) -> None:
    store = MessageStore(db_path, synchronous="NORMAL", writer=writer)
    aio = store.aio
    async with asyncio.timeout(10):
        [mid] = await aio.accept([new_message(parts_total=1)], T0)
        batch = await aio.claim(T0, 5, bind="b1")
        assert [m.id for m in batch.messages] == [mid]
        await aio.record_part_submit(mid, 1, T0, bind="b1", sequence_number=3)
        early = await aio.record_receipt("r1", "DELIVRD", T0 + 0.1)
        out = await aio.record_resp(mid, 1, T0 + 0.2, command_status=0, smsc_message_id="r1")
        assert (early.message_id, out.message_state) == (None, MessageState.DELIVERED)
        assert (await aio.list_messages(state=MessageState.DELIVERED))[0].id == mid
        assert (await aio.receipt_counts())[ReceiptStatus.MATCHED] == 1
        mo = await aio.record_mo("09012345678", "SENDER", "ok", T0 + 1)
        assert mo.linked_message_id == mid
        await aio.suppress("09012345678", "opt_out", T0 + 1)
        assert await aio.is_suppressed("09012345678")
        assert await aio.suppressed_among(["09012345678", "0900"]) == {"09012345678"}
        entry = await aio.suppression("09012345678")
        assert entry is not None
        assert entry.reason == "opt_out"
        assert [m.id for m in await aio.list_mo(source="09012345678")] == [mo.id]
        assert await aio.unsuppress("09012345678")
        [m2, m3] = await aio.accept([new_message(), new_message(validity_deadline=T0 + 1)], T0)
        await aio.defer(m2, T0 + 50, T0)
        assert await aio.expire_overdue(T0 + 2) == [m3]
        await aio.claim(T0 + 50, 1)
        assert await aio.requeue(m2, T0 + 50, retry_at=T0 + 60) is MessageState.SCHEDULED
        await aio.claim(T0 + 60, 1)
        assert await aio.release(m2, T0 + 60) is MessageState.QUEUED
        await aio.claim(T0 + 60, 1)
        assert (await aio.recover(T0 + 61)).requeued == (m2,)
        await aio.finalise(m2, MessageState.FAILED, T0 + 62)
        assert await aio.sweep_receipts(T0 + 100, older_than=10) == 0
        await aio.aclose()
        with pytest.raises(StoreClosedError):
            await aio.accept([new_message()], T0)
