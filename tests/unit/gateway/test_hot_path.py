"""The gateway's hot path: store callback ops, the task tracker's callback operations, the
corked writer, one-part plan reuse and unlimited rate limits."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import IllegalTransitionError, StoreClosedError, StoreError
from gateway.esme import CorkedWriter, TaskTracker
from gateway.gateway import reference_for
from gateway.policy import Rate, RateLimits
from gateway.store import MessageState, MessageStore, PartState, ReceiptStatus
from sms.segments import Method, plan
from tests.unit.gateway.conftest import T0, new_message

# -- store callback ops ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_callback_ops_run_in_order_after_one_commit(store: MessageStore) -> None:
    aio = store.aio
    [mid] = await aio.accept([new_message()], T0)
    [claimed] = (await aio.claim(T0 + 1, 10)).messages
    assert claimed.id == mid
    batches = store.writer_stats().batches
    seen: list[tuple[str, Any, BaseException | None]] = []
    done = asyncio.Event()

    def cb(name: str) -> Any:
        def on_done(result: Any, error: BaseException | None) -> None:
            seen.append((name, result, error))
            if name == "receipt":
                done.set()

        return on_done

    # One loop pass: the three facts of a message, issued without awaiting.
    aio.record_part_submit_nowait(mid, 1, T0 + 2, bind="b1", sequence_number=7, on_done=cb("sub"))
    aio.record_resp_nowait(
        mid, 1, T0 + 3, command_status=0, smsc_message_id="00ab", on_done=cb("resp")
    )
    aio.record_receipt_nowait("AB", "DELIVRD", T0 + 4, on_done=cb("receipt"))
    await asyncio.wait_for(done.wait(), 5)
    assert [name for name, _r, _e in seen] == ["sub", "resp", "receipt"]
    assert all(error is None for _n, _r, error in seen)
    assert seen[1][1].message_state is MessageState.SUBMITTED
    receipt = seen[2][1]
    assert (receipt.status, receipt.message_id, receipt.message_state) == (
        ReceiptStatus.MATCHED,
        mid,
        MessageState.DELIVERED,
    )
    # Queued in one pass, they went to the writer together: one transaction.
    assert store.writer_stats().batches == batches + 1
    status = await aio.status(mid)
    assert status.state is MessageState.DELIVERED
    assert status.parts[0].state is PartState.DELIVERED
    assert status.attempt_log[0].sequence_number == 7


@pytest.mark.asyncio
async def test_callback_op_errors_reach_the_callback(store: MessageStore) -> None:
    [mid] = await store.aio.accept([new_message()], T0)
    got: list[BaseException | None] = []
    done = asyncio.Event()

    def on_done(_result: Any, error: BaseException | None) -> None:
        got.append(error)
        done.set()

    # Not claimed: recording a submit is illegal and is rolled back alone.
    store.aio.record_part_submit_nowait(mid, 1, T0, on_done=on_done)
    await asyncio.wait_for(done.wait(), 5)
    assert isinstance(got[0], IllegalTransitionError)
    assert (await store.aio.status(mid)).state is MessageState.QUEUED


@pytest.mark.asyncio
async def test_close_commits_ops_queued_in_the_same_pass(db_path: Path) -> None:
    store = MessageStore(db_path, synchronous="NORMAL")
    [mid] = await store.aio.accept([new_message()], T0)
    await store.aio.claim(T0 + 1, 10)
    store.aio.requeue_nowait(mid, T0 + 2, error="x", on_done=lambda _r, _e: None)
    store.close()  # without yielding to the loop first
    with pytest.raises(StoreClosedError):
        store.aio.requeue_nowait(mid, T0 + 3, on_done=lambda _r, _e: None)
    with MessageStore(db_path, synchronous="NORMAL") as again:
        assert again.status(mid).state is MessageState.QUEUED


@pytest.mark.asyncio
async def test_part_submits_of_one_pass_share_one_op_and_fail_alone(store: MessageStore) -> None:
    aio = store.aio
    ids = await aio.accept([new_message(destination=f"0901234567{i}") for i in range(3)], T0)
    await aio.claim(T0 + 1, 2)  # the third stays queued: its submit is refused
    ops = store.writer_stats().ops
    got: dict[int, tuple[Any, BaseException | None]] = {}
    done = asyncio.Event()

    def on_done(mid: int) -> Any:
        def cb(result: Any, error: BaseException | None) -> None:
            got[mid] = (result, error)
            if len(got) == 3:
                done.set()

        return cb

    for mid in ids:
        aio.record_part_submit_nowait(mid, 1, T0 + 2, bind="b1", on_done=on_done(mid))
    await asyncio.wait_for(done.wait(), 5)
    assert store.writer_stats().ops == ops + 1
    assert [got[m][1] is None for m in ids] == [True, True, False]
    assert isinstance(got[ids[2]][1], IllegalTransitionError)
    assert all(got[m][0] is None for m in ids[:2])
    assert [len((await aio.status(m)).attempt_log) for m in ids] == [1, 1, 0]


@pytest.mark.asyncio
async def test_a_refused_response_in_a_group_writes_nothing(store: MessageStore) -> None:
    aio = store.aio
    ids = await aio.accept([new_message(destination=f"0901234567{i}") for i in range(2)], T0)
    await aio.claim(T0 + 1, 2)
    for mid in ids:
        await aio.record_part_submit(mid, 1, T0 + 2, bind="b1")
    got: dict[int, BaseException | None] = {}
    done = asyncio.Event()

    def on_done(mid: int) -> Any:
        def cb(_result: Any, error: BaseException | None) -> None:
            got[mid] = error
            if len(got) == 2:
                done.set()

        return cb

    # The first has no SMSC id (refused), the second is fine: one op for both.
    aio.record_resp_nowait(ids[0], 1, T0 + 3, command_status=0, on_done=on_done(ids[0]))
    aio.record_resp_nowait(
        ids[1], 1, T0 + 3, command_status=0, smsc_message_id="9", on_done=on_done(ids[1])
    )
    await asyncio.wait_for(done.wait(), 5)
    assert got[ids[1]] is None
    assert isinstance(got[ids[0]], StoreError)
    refused, fine = (await aio.status(ids[0])), (await aio.status(ids[1]))
    assert refused.attempt_log[0].resp_at is None  # nothing of the refused fact was kept
    assert refused.parts[0].state is PartState.SUBMITTING
    assert fine.state is MessageState.SUBMITTED


async def _responses_in_one_pass(
    store: MessageStore, facts: list[tuple[int, int, int, str | None]]
) -> list[tuple[Any, BaseException | None]]:
    """``(message_id, part_seq, command_status, smsc_id)`` answered in one loop pass (one
    group op); the outcomes in order."""
    got: dict[int, tuple[Any, BaseException | None]] = {}
    done = asyncio.Event()

    def on_done(i: int) -> Any:
        def cb(result: Any, error: BaseException | None) -> None:
            got[i] = (result, error)
            if len(got) == len(facts):
                done.set()

        return cb

    ops = store.writer_stats().ops
    for i, (mid, seq, status, smsc_id) in enumerate(facts):
        store.aio.record_resp_nowait(
            mid, seq, T0 + 3, command_status=status, smsc_message_id=smsc_id, on_done=on_done(i)
        )
    await asyncio.wait_for(done.wait(), 5)
    assert store.writer_stats().ops == ops + 1
    return [got[i] for i in range(len(facts))]


@pytest.mark.asyncio
async def test_a_response_group_applies_only_the_receipts_that_came_first(
    store: MessageStore,
) -> None:
    aio = store.aio
    ids = await aio.accept([new_message(destination=f"0901234567{i}") for i in range(3)], T0)
    await aio.claim(T0 + 1, 3)
    for mid in ids:
        await aio.record_part_submit(mid, 1, T0 + 2, bind="b1")
    early = await aio.record_receipt("S1", "DELIVRD", T0 + 2.5)
    assert early.status is ReceiptStatus.PENDING
    got = await _responses_in_one_pass(store, [(m, 1, 0, f"S{i}") for i, m in enumerate(ids)])
    assert [e for _r, e in got] == [None, None, None]
    assert [r.message_state for r, _e in got] == [
        MessageState.SUBMITTED,
        MessageState.DELIVERED,
        MessageState.SUBMITTED,
    ]
    assert [r.receipts_applied for r, _e in got] == [0, 1, 0]
    assert got[1][0].pending_matched == (("DELIVRD", None),)
    assert (await aio.receipt_counts())[ReceiptStatus.MATCHED] == 1
    assert (await aio.counts())[MessageState.SUBMITTED] == 2


@pytest.mark.asyncio
async def test_refused_and_error_responses_in_a_group(store: MessageStore) -> None:
    aio = store.aio
    ids = await aio.accept([new_message(destination=f"0901234567{i}") for i in range(3)], T0)
    await aio.claim(T0 + 1, 3)
    for mid in ids[:2]:
        await aio.record_part_submit(mid, 1, T0 + 2, bind="b1")
    got = await _responses_in_one_pass(
        store,
        [
            (ids[0], 1, 0x58, None),  # throttled: the part is rejected, the message waits
            (ids[0], 1, 0, "X"),  # the part has no outstanding submit any more
            (ids[2], 1, 0, "Y"),  # never submitted
            (999, 1, 0, "Z"),  # no such message
            (999, 1, 0, None),  # no such message (and no SMSC id): unknown wins
            (ids[1], 1, 0, None),  # ESME_ROK without an SMSC id
            (ids[1], 2, 0, "W"),  # no such part
        ],
    )
    rejected, _ = got[0]
    assert (rejected.part_state, rejected.message_state) == (
        PartState.REJECTED,
        MessageState.SUBMITTING,
    )
    assert [type(e).__name__ for _r, e in got[1:]] == [
        "IllegalTransitionError",
        "IllegalTransitionError",
        "UnknownMessageError",
        "UnknownMessageError",
        "StoreError",
        "IllegalTransitionError",
    ]
    first = await aio.status(ids[0])
    assert first.parts[0].state is PartState.REJECTED
    assert first.last_error == "command_status 0x00000058"
    assert first.attempt_log[0].command_status == 0x58
    second = await aio.status(ids[1])  # the refused facts wrote nothing
    assert second.parts[0].state is PartState.SUBMITTING
    assert second.attempt_log[0].resp_at is None
    assert (await aio.status(ids[2])).parts == ()


# -- TaskTracker.call -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_tracker_call_is_joined_counted_and_reports_errors() -> None:
    tracker = TaskTracker()
    loop = asyncio.get_running_loop()
    results: list[tuple[Any, BaseException | None]] = []

    def later(value: Any, error: BaseException | None) -> Any:
        return lambda done: loop.call_later(0.02, done, value, error)

    tracker.call(later(1, None), lambda r, e: results.append((r, e)))
    tracker.call(later(None, ValueError("boom")), lambda r, e: results.append((r, e)))
    tracker.call(later(None, IllegalTransitionError(1, "a", "b", "c")), None)

    def refuse(_done: Any) -> None:
        raise StoreClosedError("closed")

    tracker.call(refuse, lambda r, e: results.append((r, e)))
    assert tracker.pending == 3  # the refused one ended at once
    await asyncio.wait_for(tracker.join(), 5)
    assert tracker.pending == 0
    assert results[0][0] is None
    assert isinstance(results[0][1], StoreClosedError)
    assert results[1] == (1, None)
    assert isinstance(results[2][1], ValueError)
    assert tracker.failed == 2  # boom and the refused start; an illegal transition is expected


@pytest.mark.asyncio
async def test_tracker_track_counts_until_its_shared_callback_runs() -> None:
    tracker = TaskTracker()
    first = tracker.track("op")
    second = tracker.track("op")
    assert first is second
    assert tracker.pending == 2
    joined = asyncio.create_task(tracker.join())
    first(1, None)
    await asyncio.sleep(0)
    assert not joined.done()
    second(None, RuntimeError("lost"))
    await asyncio.wait_for(joined, 5)
    assert (tracker.pending, tracker.failed) == (0, 1)


# -- CorkedWriter ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_corked_writer_coalesces_one_pass_and_flushes_on_eof() -> None:
    received = bytearray()
    closed = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.extend(await reader.read())  # until EOF
        writer.close()
        closed.set()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        _reader, inner = await asyncio.open_connection("127.0.0.1", port)
        corked = CorkedWriter(inner)
        writes: list[bytes] = []
        transport: Any = corked.transport
        real_write = transport.write

        def spy(data: bytes) -> None:
            writes.append(bytes(data))
            real_write(data)

        transport.write = spy
        for chunk in (b"one", b"two", b"three"):
            corked.write(chunk)
            await corked.drain()  # does not flush a small burst
        assert writes == []
        await asyncio.sleep(0)  # end of the pass
        assert writes == [b"onetwothree"]
        corked.write(b"-last")
        corked.write_eof()  # flushes first
        assert writes[-1] == b"-last"
        await asyncio.wait_for(closed.wait(), 5)
        corked.close()
    assert bytes(received) == b"onetwothree-last"


# -- one-part plans are the same whatever the reference -------------------------------------------


@pytest.mark.parametrize("method", list(Method))
@pytest.mark.parametrize("text", ["Load test message 1", "こんにちは", "€uro [x]", "a" * 160])
def test_one_part_plan_does_not_depend_on_the_reference(method: Method, text: str) -> None:
    at_accept = plan(text, "generic", method=method)
    if len(at_accept.parts) != 1:
        pytest.skip("several parts: the dispatcher plans again with the reference")
    for message_id in (1, 255, 256, 70_000):
        again = plan(
            text,
            "generic",
            method=method,
            reference=reference_for(message_id, method),
            encoding=at_accept.encoding,
        )
        assert again.parts == at_accept.parts
        assert again.esm_class == at_accept.esm_class
        assert again.data_coding == at_accept.data_coding


def test_a_long_text_plans_differently_per_reference() -> None:
    # The reason the cache keeps one-part plans only.
    a = plan("b" * 300, "generic", method=Method.UDH8, reference=1)
    b = plan("b" * 300, "generic", method=Method.UDH8, reference=2)
    assert a.parts != b.parts


# -- RateLimits without any limit -----------------------------------------------------------------


def test_unlimited_rate_limits_answer_at_once_and_limited_ones_still_limit() -> None:
    free = RateLimits()
    for i in range(10_000):
        assert free.try_take(1, T0 + i * 1e-6, bind="b", route="r", sender="s")
    assert free.delay_until_available(1, T0, bind="b") == 0.0
    limited = RateLimits(per_sender=Rate(10.0, 2.0))
    assert limited.try_take(1, T0, bind="b", sender="s")
    assert limited.try_take(1, T0, bind="b", sender="s")
    assert not limited.try_take(1, T0, bind="b", sender="s")
    assert limited.delay_until_available(1, T0, bind="b", sender="s") > 0.0
    assert limited.try_take(1, T0, bind="b", sender="other")


# -- the load command's collector tuning ----------------------------------------------------------


def test_collector_tuning_is_restored() -> None:
    import gc

    from gateway.load import GC_THRESHOLD, _collector_tuned

    before = gc.get_threshold()
    with _collector_tuned():
        assert gc.get_threshold()[0] == GC_THRESHOLD
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
