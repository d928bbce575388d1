"""How the parent reads its writer process's answers (`gateway.storeproc.ProcessWriter`):
the home loop reads the socket itself (partial messages wait for their rest, several
messages per wake-up settle in order, EOF mid-message fails every pending op), and the reader
thread reads for what no loop reads for (a sync caller on the loop thread, another loop, a
send that waits for room while the home loop is the sender).

Most tests play the child themselves (`FakeChild`: the test holds the other end of the
socket, reads the ops and writes the answers byte by byte as it likes); the others run the
real child through `MessageStore`."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import pickle
import random
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

from gateway import storeproc
from gateway.errors import StoreClosedError
from gateway.store import MessageStore, _Op
from gateway.storeproc import ProcessWriter, _frame, _Frames
from tests.unit.gateway.conftest import T0, new_message

COUNTERS = (0, 0, 0, 0, 0)


def _op_echo(conn: sqlite3.Connection, value: Any) -> Any:
    """An op whose answer the fake child writes (the real child would return `value`)."""
    return value


class _FakeProcess:
    """Stands for the writer process: the test is the child."""

    pid = 4242

    def wait(self, timeout: float) -> bool:
        return True

    def kill(self) -> None:
        pass


class FakeChild:
    """The child's end of the socket, driven by the test."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.conn = Connection(os.dup(sock.fileno()))  # reads whole messages

    def ops(self) -> list[tuple[Any, tuple[Any, ...]]]:
        """The next message of ops the parent sent (blocks)."""
        data = self.conn.recv_bytes()
        return list(pickle.loads(memoryview(data)[4:]))

    @staticmethod
    def answer(values: list[Any], picked: tuple[int, list[int]] | None = None) -> bytes:
        """One framed answer message: every value ok."""
        return _frame(pickle.dumps(([(True, v) for v in values], COUNTERS, picked)))

    def write(self, data: bytes) -> None:
        """Bytes to the parent, as they are (a part of a message, or several)."""
        self.sock.sendall(data)

    def close(self) -> None:
        """Close the child's end: the parent reads EOF."""
        if not self.conn.closed:
            self.conn.close()
        self.sock.close()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ProcessWriter, FakeChild]]:
    """A `ProcessWriter` whose child is the test."""
    mine, theirs = socket.socketpair()
    child = FakeChild(theirs)
    child.write(_frame(pickle.dumps(("ready", None))))  # read by the constructor
    monkeypatch.setattr(storeproc, "_start", lambda: (_FakeProcess(), mine))
    writer = ProcessWriter("unused", synchronous="NORMAL", max_batch=10, linger=0.0, cache_kib=64)
    child.conn.recv_bytes()  # the settings
    try:
        yield writer, child
    finally:
        child.close()
        writer.close()


def _callback_op(
    loop: asyncio.AbstractEventLoop, value: Any, seen: list[Any]
) -> tuple[_Op, asyncio.Future[Any]]:
    """An op like `AsyncMessageStore.*_nowait`'s: a callback on `loop`."""
    done: asyncio.Future[Any] = loop.create_future()

    def on_done(result: Any, error: BaseException | None) -> None:
        seen.append(result if error is None else error)
        if not done.done():
            done.set_result(result if error is None else error)

    return _Op(_op_echo, (value,), loop=loop, callback=on_done), done


# --- framing (sans I/O) -------------------------------------------------------------------------


def test_frames_reassemble_any_split_of_the_stream() -> None:
    rng = random.Random(5)
    messages = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300))) for _ in range(60)]
    stream = b"".join(_frame(m) for m in messages)
    for _trial in range(50):
        frames = _Frames()
        got: list[bytes] = []
        pos = 0
        while pos < len(stream):
            step = rng.choice([1, 2, 3, 5, 64, 1000, 5000])
            got.extend(bytes(m) for m in frames.feed(stream[pos : pos + step]))
            pos += step
        assert got == messages
        assert frames.pending == 0


def test_frames_keep_an_unfinished_message_and_read_the_long_header() -> None:
    frames = _Frames()
    whole = _frame(b"abc")
    assert frames.feed(whole[:2]) == []
    assert frames.pending == 2
    assert [bytes(m) for m in frames.feed(whole[2:] + whole + whole[:5])] == [b"abc", b"abc"]
    assert frames.pending == 5
    # A length above 2 GiB is written as -1 and a 64-bit length (`Connection`'s format).
    long_form = (-1).to_bytes(4, "big", signed=True) + (3).to_bytes(8, "big") + b"xyz"
    assert [bytes(m) for m in _Frames().feed(long_form)] == [b"xyz"]
    assert _Frames().feed(long_form[:11]) == []


def test_frames_gather_a_large_message_from_many_reads() -> None:
    big = bytes(range(256)) * 4096  # 1 MiB
    stream = _frame(big) + _frame(b"next")
    frames = _Frames()
    got: list[bytes] = []
    for pos in range(0, len(stream), 4000):
        got.extend(bytes(m) for m in frames.feed(stream[pos : pos + 4000]))
        if not got:
            assert frames.pending == min(pos + 4000, len(stream))
    assert got == [big, b"next"]
    assert frames.pending == 0


# --- the home loop reads -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_partial_message_waits_for_its_rest(fake: tuple[ProcessWriter, FakeChild]) -> None:
    writer, child = fake
    loop = asyncio.get_running_loop()
    seen: list[Any] = []
    op, done = _callback_op(loop, "v", seen)
    writer.submit([op])
    assert writer.home is loop
    assert child.ops() == [(_op_echo, ("v",))]
    answer = child.answer(["v"])
    for i in range(len(answer) - 1):
        child.write(answer[i : i + 1])
        await asyncio.sleep(0.002)
    assert seen == []  # one byte short
    child.write(answer[-1:])
    async with asyncio.timeout(5):
        assert await done == "v"
    assert seen == ["v"]


@pytest.mark.asyncio
async def test_several_messages_in_one_read_settle_in_order_without_a_wakeup(
    fake: tuple[ProcessWriter, FakeChild], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, child = fake
    loop = asyncio.get_running_loop()
    wakeups: list[Any] = []

    def woken(*args: Any, **kwargs: Any) -> None:
        wakeups.append(args)

    monkeypatch.setattr(loop, "call_soon_threadsafe", woken)
    reads = 0
    original = ProcessWriter._on_readable

    def counting(self: ProcessWriter) -> None:
        nonlocal reads
        reads += 1
        original(self)

    monkeypatch.setattr(ProcessWriter, "_on_readable", counting)
    seen: list[Any] = []
    ops = [_callback_op(loop, i, seen) for i in range(5)]
    writer.submit([op for op, _ in ops])
    assert len(child.ops()) == 5
    # Three transactions' answers arrive in one write (the last is split over two).
    first, second, third = child.answer([0, 1]), child.answer([2]), child.answer([3, 4])
    child.write(first + second + third[:3])
    async with asyncio.timeout(5):
        await ops[2][1]
    assert seen == [0, 1, 2]
    assert reads == 1
    child.write(third[3:])
    async with asyncio.timeout(5):
        await ops[4][1]
    assert seen == [0, 1, 2, 3, 4]
    assert wakeups == []  # all settled on the loop by the loop's own reads


@pytest.mark.asyncio
async def test_a_picked_answer_holds_the_others_for_the_next(
    fake: tuple[ProcessWriter, FakeChild],
) -> None:
    writer, child = fake
    loop = asyncio.get_running_loop()
    seen: list[Any] = []
    ops = [_callback_op(loop, v, seen) for v in "abc"]
    writer.submit([op for op, _ in ops])
    child.ops()
    child.write(child.answer(["B"], picked=(3, [1])) + child.answer(["A", "C"]))
    async with asyncio.timeout(5):
        await asyncio.gather(*(done for _, done in ops))
    assert seen == ["B", "A", "C"]


@pytest.mark.asyncio
async def test_eof_mid_message_fails_every_pending_op(
    fake: tuple[ProcessWriter, FakeChild],
) -> None:
    writer, child = fake
    loop = asyncio.get_running_loop()
    seen: list[Any] = []
    first, first_done = _callback_op(loop, 1, seen)
    second, second_done = _callback_op(loop, 2, seen)
    waiting: asyncio.Future[Any] = loop.create_future()
    third = _Op(_op_echo, (3,), loop=loop, async_future=waiting)
    writer.submit([first, second, third])
    sync: concurrent.futures.Future[Any] = concurrent.futures.Future()
    writer.submit(_Op(_op_echo, (4,), sync_future=sync))  # a sync op, from this thread
    child.ops()
    child.ops()
    child.write(child.answer([1]) + child.answer([2, 3])[:7])
    child.close()
    async with asyncio.timeout(5):
        assert await first_done == 1
        assert isinstance(await second_done, StoreClosedError)
        with pytest.raises(StoreClosedError, match=r"pid 4242\) stopped"):
            await waiting
    with pytest.raises(StoreClosedError):
        sync.result(timeout=5)
    assert writer.closed
    with pytest.raises(StoreClosedError):
        writer.submit(_callback_op(loop, 5, seen)[0])


@pytest.mark.asyncio
async def test_an_unreadable_answer_fails_what_is_pending_instead_of_hanging(
    fake: tuple[ProcessWriter, FakeChild],
) -> None:
    writer, child = fake
    loop = asyncio.get_running_loop()
    seen: list[Any] = []
    op, done = _callback_op(loop, 1, seen)
    writer.submit([op])
    child.ops()
    child.write(_frame(b"not a pickle"))
    async with asyncio.timeout(5):
        assert isinstance(await done, StoreClosedError)
    assert writer.closed


# --- the reader thread reads --------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_sync_caller_on_the_home_loop_is_answered_and_order_is_kept(
    fake: tuple[ProcessWriter, FakeChild],
) -> None:
    writer, child = fake
    loop = asyncio.get_running_loop()
    seen: list[Any] = []
    before, before_done = _callback_op(loop, "before", seen)
    writer.submit([before])
    child.ops()

    def answer_both() -> None:
        child.ops()  # the sync op
        child.write(child.answer(["before"]) + child.answer(["sync"]))

    helper = threading.Thread(target=answer_both)
    helper.start()
    # A sync call on the loop's own thread: the loop cannot read; the reader thread does.
    sync: concurrent.futures.Future[Any] = concurrent.futures.Future()
    writer.submit(_Op(_op_echo, ("sync",), sync_future=sync))
    assert sync.result(timeout=5) == "sync"
    helper.join()
    assert seen == []  # the loop's callback runs on the loop, after the sync call returns
    async with asyncio.timeout(5):
        assert await before_done == "before"
    after, after_done = _callback_op(loop, "after", seen)
    writer.submit([after])
    child.ops()
    child.write(child.answer(["after"]))
    async with asyncio.timeout(5):
        assert await after_done == "after"
    assert seen == ["before", "after"]


@pytest.mark.asyncio
async def test_a_send_that_waits_for_room_on_the_home_loop_does_not_deadlock(
    fake: tuple[ProcessWriter, FakeChild],
) -> None:
    writer, child = fake
    loop = asyncio.get_running_loop()
    seen: list[Any] = []
    small, small_done = _callback_op(loop, "x", seen)
    writer.submit([small])
    big_value = b"y" * 4_000_000  # more than both socket buffers
    big, big_done = _callback_op(loop, big_value, seen)

    def child_side() -> None:
        child.ops()
        # The child answers with more than the parent's buffer holds before it reads on:
        # it waits for the parent to read while the parent's loop waits to send `big`.
        child.write(child.answer([b"z" * 4_000_000]))
        assert child.ops() == [(_op_echo, (big_value,))]
        child.write(child.answer(["big"]))

    helper = threading.Thread(target=child_side)
    helper.start()
    writer.submit([big])  # on the loop thread: blocks until the child reads it
    helper.join(timeout=10)
    assert not helper.is_alive()
    async with asyncio.timeout(5):
        assert await small_done == b"z" * 4_000_000
        assert await big_done == "big"


# --- with the real child ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_home_loop_reads_the_real_child_and_a_sync_call_on_it_returns(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    with MessageStore(db_path, synchronous="NORMAL", writer="process") as store:
        writer = store._writer
        assert isinstance(writer, ProcessWriter)
        assert await store.aio.accept([new_message()], T0) == [1]
        assert writer.home is loop
        wakeups = 0
        original = loop.call_soon_threadsafe

        def counting(*args: Any, **kwargs: Any) -> Any:
            nonlocal wakeups
            wakeups += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(loop, "call_soon_threadsafe", counting)
        async with asyncio.timeout(10):
            for i in range(20):
                assert await store.aio.accept([new_message()], T0) == [i + 2]
            assert wakeups == 0  # settled by the loop's own reads
            pending = asyncio.ensure_future(store.aio.accept([new_message()], T0))
            await asyncio.sleep(0.01)  # sent: the child answers while we block below
            assert store.accept([new_message()], T0) == [23]  # sync, on the loop thread
            assert await pending == [22]
        monkeypatch.undo()


def test_two_loops_use_one_store(db_path: Path) -> None:
    with MessageStore(db_path, synchronous="NORMAL", writer="process") as store:
        writer = store._writer
        assert isinstance(writer, ProcessWriter)
        start = threading.Barrier(2)

        async def work(tag: str, together: bool = True) -> tuple[list[int], bool]:
            if together:
                start.wait(timeout=10)
            ids: list[int] = []
            for _ in range(30):
                ids.extend(await store.aio.accept([new_message(tag)], T0))
                await asyncio.sleep(0)
            home = writer.home is asyncio.get_running_loop()
            if together:
                start.wait(timeout=10)  # both loops alive when both looked
            return ids, home

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            (a, a_home), (b, b_home) = pool.map(asyncio.run, [work("0901"), work("0902")])
        assert sorted(a + b) == list(range(1, 61))
        assert [a_home, b_home].count(True) == 1  # the other's answers came by the thread
        # Both loops are closed: a new one becomes the home loop and reads.
        assert asyncio.run(work("0903", together=False)) == (list(range(61, 91)), True)
        assert store.accept([new_message()], T0) == [91]  # sync, no loop running


@pytest.mark.asyncio
async def test_close_from_another_thread_leaves_the_home_loop_clean(db_path: Path) -> None:
    store = MessageStore(db_path, synchronous="NORMAL", writer="process")
    writer = store._writer
    assert isinstance(writer, ProcessWriter)
    assert await store.aio.accept([new_message()], T0) == [1]
    assert writer.home is asyncio.get_running_loop()
    await asyncio.to_thread(store.close)
    async with asyncio.timeout(5):
        for _ in range(500):
            if writer._sock.fileno() == -1:  # the loop unregistered and closed it
                break
            await asyncio.sleep(0.01)
    assert writer._sock.fileno() == -1
    with pytest.raises(StoreClosedError):
        await store.aio.accept([new_message()], T0)


def test_close_stops_a_child_whose_answers_were_given_up(db_path: Path) -> None:
    store = MessageStore(db_path, synchronous="NORMAL", writer="process")
    writer = store._writer
    assert isinstance(writer, ProcessWriter)
    assert store.accept([new_message()], T0) == [1]
    with writer._read_lock:
        writer._at_eof()  # as after an unreadable answer: the child was not asked to stop
    started = time.monotonic()
    store.close()
    assert time.monotonic() - started < 10  # it read EOF, instead of a kill after 30 s
    assert writer._proc.wait(0)


@pytest.mark.asyncio
async def test_a_thread_of_sync_callers_and_the_home_loop_share_the_answers(
    db_path: Path,
) -> None:
    """While the loop's answers come by its own reads, a plain thread's sync calls keep the
    reader thread reading: both read the one socket, in turns; every caller gets its own."""
    with MessageStore(db_path, synchronous="NORMAL", writer="process") as store:
        stop = threading.Event()
        sync_ids: list[int] = []

        def sync_caller() -> None:
            while not stop.is_set() and len(sync_ids) < 200:
                sync_ids.extend(store.accept([new_message("0800")], T0))

        thread = threading.Thread(target=sync_caller)
        thread.start()
        try:
            batches: list[list[int]] = []
            async with asyncio.timeout(30):
                for _ in range(150):  # many round trips, while the thread makes its own
                    batches.extend(
                        await asyncio.gather(
                            store.aio.accept([new_message("0900")], T0),
                            store.aio.accept([new_message("0901"), new_message("0902")], T0),
                        )
                    )
        finally:
            stop.set()
            thread.join(timeout=30)
        loop_ids = [i for ids in batches for i in ids]
        assert len(loop_ids) == 450
        assert sync_ids
        assert len(set(loop_ids) | set(sync_ids)) == len(loop_ids) + len(sync_ids)
        assert sorted(loop_ids + sync_ids) == list(range(1, len(loop_ids) + len(sync_ids) + 1))
