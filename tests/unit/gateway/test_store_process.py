"""The store's writer in a child process (`gateway.storeproc`): errors cross the process
boundary intact, a failing op is rolled back alone, the child's death fails what was pending
(no hang), and the child does not outlive a parent killed with SIGKILL."""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gateway import storeproc
from gateway.errors import (
    GatewayConfigError,
    GatewayError,
    IllegalTransitionError,
    OwnerCheckError,
    PolicyError,
    QuietHoursError,
    StoreClosedError,
    StoreError,
    UnknownMessageError,
    WindowError,
)
from gateway.store import MessageState, MessageStore, ReceiptStatus
from tests.unit.gateway.conftest import T0, new_message

REPO = Path(__file__).resolve().parents[3]

ERRORS: list[GatewayError] = [
    GatewayError("root"),
    GatewayConfigError("must be >= 1", field="store.max_batch"),
    GatewayConfigError("no field"),
    StoreError("commit failed: disk I/O error"),
    StoreClosedError("the message store is closed"),
    UnknownMessageError(42),
    IllegalTransitionError(7, "submitting", "cancelled", "finalise"),
    QuietHoursError("empty window"),
    OwnerCheckError("HTTP 500"),
    PolicyError("bad use"),
    WindowError("sequence number reused", 99),
]


# --- ops the child runs: module-level, so the child can import them by name ---------------------


def _op_suppress_then_fail(conn: sqlite3.Connection, number: str, error: str) -> None:
    """Writes, then raises: the write must be rolled back with it (and only it)."""
    conn.execute("INSERT INTO suppression (number, reason, at) VALUES (?, 'test', 0)", (number,))
    if error == "sqlite":
        conn.execute("INSERT INTO suppression (number, reason, at) VALUES (?, 'dup', 0)", (number,))
    raise ValueError(f"refused {number}")


def _op_sleep(conn: sqlite3.Connection, seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def _op_unpicklable_result(conn: sqlite3.Connection) -> Any:
    return lambda: None  # a result the child cannot send back


def _suppressed(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {row[0] for row in conn.execute("SELECT number FROM suppression")}
    finally:
        conn.close()


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _gone(pid: int) -> bool:
    """True if `pid` has exited (a zombie nobody reaped counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_gateway_errors_round_trip_through_pickle(error: GatewayError) -> None:
    error.__cause__ = sqlite3.OperationalError("database is locked")
    back = pickle.loads(pickle.dumps(error, pickle.HIGHEST_PROTOCOL))
    assert type(back) is type(error)
    assert str(back) == str(error)
    assert back.args == error.args
    assert vars(back) == vars(error)
    assert isinstance(back.__cause__, sqlite3.OperationalError)
    assert str(back.__cause__) == "database is locked"


def test_error_attributes_survive(db_path: Path) -> None:
    back = pickle.loads(pickle.dumps(IllegalTransitionError(3, "queued", "x", "claim")))
    assert (back.message_id, back.current, back.target, back.action) == (3, "queued", "x", "claim")
    unknown = pickle.loads(pickle.dumps(UnknownMessageError(5)))
    assert isinstance(unknown, UnknownMessageError)
    assert isinstance(unknown, KeyError)
    assert (unknown.message_id, str(unknown)) == (5, "no message with id 5")
    assert pickle.loads(pickle.dumps(WindowError("w", 12))).sequence_number == 12


def test_errors_from_the_child_keep_type_and_attributes(db_path: Path) -> None:
    with MessageStore(db_path, synchronous="NORMAL", writer="process") as store:
        [mid] = store.accept([new_message()], T0)
        store.claim(T0, 1)
        with pytest.raises(IllegalTransitionError) as caught:
            store.cancel(mid, T0)
        assert (caught.value.message_id, caught.value.current) == (mid, "submitting")
        with pytest.raises(UnknownMessageError) as unknown:
            store.record_part_submit(mid + 100, 1, T0)
        assert unknown.value.message_id == mid + 100


# --- batches -------------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("error", ["python", "sqlite"])
async def test_a_failing_op_is_rolled_back_alone_in_the_child(db_path: Path, error: str) -> None:
    with MessageStore(db_path, synchronous="NORMAL", linger=0.01, writer="process") as store:
        await store.aio.suppress("0901", "a", T0)
        before = store.writer_stats()
        async with asyncio.timeout(10):
            results = await asyncio.gather(
                store.aio.accept([new_message()], T0),
                store._acall(_op_suppress_then_fail, ("0902", error)),
                store.aio.suppress("0903", "c", T0),
                return_exceptions=True,
            )
        assert results[0] == [1]
        assert isinstance(results[1], ValueError | sqlite3.IntegrityError)
        assert results[2] is None
        after = store.writer_stats()
        assert after.batches == before.batches + 1  # one transaction for all three
        assert after.failed_ops == before.failed_ops + 1
        assert after.ops == before.ops + 3
        assert _suppressed(db_path) == {"0901", "0903"}  # 0902's write was rolled back


@pytest.mark.asyncio
async def test_group_facts_in_the_child_answer_each_caller(db_path: Path) -> None:
    with MessageStore(db_path, synchronous="NORMAL", writer="process") as store:
        [a, b] = store.accept([new_message(), new_message()], T0)
        store.claim(T0, 2)
        loop = asyncio.get_running_loop()
        answers: list[asyncio.Future[tuple[Any, BaseException | None]]] = [
            loop.create_future() for _ in range(3)
        ]

        def into(i: int) -> Any:
            return lambda result, error: answers[i].set_result((result, error))

        # One loop pass: one group op with three facts, the middle one refused.
        store.aio.record_part_submit_nowait(a, 1, T0, bind="b1", on_done=into(0))
        store.aio.record_part_submit_nowait(a + 99, 1, T0, on_done=into(1))
        store.aio.record_part_submit_nowait(b, 1, T0, bind="b1", on_done=into(2))
        async with asyncio.timeout(10):
            (r0, e0), (r1, e1), (r2, e2) = await asyncio.gather(*answers)
        assert (e0, e2) == (None, None)
        assert (r0, r2) == (None, None)
        assert [len(store.status(m).parts) for m in (a, b)] == [1, 1]  # both recorded
        assert isinstance(e1, UnknownMessageError)
        assert e1.message_id == a + 99
        assert r1 is None
        outcome = await store.aio.record_resp(a, 1, T0 + 1, command_status=0, smsc_message_id="x")
        assert outcome.message_state is MessageState.SUBMITTED
        receipt = await store.aio.record_receipt("X", "DELIVRD", T0 + 2)
        assert (receipt.status, receipt.message_state) == (
            ReceiptStatus.MATCHED,
            MessageState.DELIVERED,
        )


def _main_function(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A function that pickles as ``__main__._from_main``: this process can load it back, the
    writer process (another ``__main__``) cannot."""

    def _from_main(*args: Any) -> Any:
        return args[-1]

    _from_main.__module__ = "__main__"
    _from_main.__qualname__ = "_from_main"
    monkeypatch.setattr(sys.modules["__main__"], "_from_main", _from_main, raising=False)
    return _from_main


def test_a_normaliser_from_main_is_refused(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fn = _main_function(monkeypatch)
    with pytest.raises(GatewayConfigError, match="__main__"):
        MessageStore(db_path, normalize=fn, writer="process")


def test_ops_the_child_cannot_read_fail_alone(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fn = _main_function(monkeypatch)
    with MessageStore(db_path, synchronous="NORMAL", writer="process") as store:
        with pytest.raises(StoreError, match="cannot read these ops"):
            store._call(fn, ("x",))
        assert store.accept([new_message()], T0) == [1]  # the writer goes on
        assert store.writer_stats().failed_ops == 1


def test_unsendable_args_and_results_fail_only_their_op(db_path: Path) -> None:
    with MessageStore(db_path, synchronous="NORMAL", writer="process") as store:
        with pytest.raises(StoreError, match="cannot be sent to the writer process"):
            store._call(_op_sleep, (lambda: 0,))
        with pytest.raises(StoreError, match="cannot return"):
            store._call(_op_unpicklable_result, ())
        assert store.accept([new_message()], T0) == [1]  # the writer goes on


# --- lifecycle and crashes -----------------------------------------------------------------------


def test_close_joins_the_child_and_checkpoints(db_path: Path) -> None:
    store = MessageStore(db_path, synchronous="FULL", writer="process")
    pid = store.writer_pid
    assert pid is not None
    assert not _gone(pid)
    store.accept([new_message() for _ in range(50)], T0)
    store.close()
    assert _gone(pid)
    wal = db_path.with_name(db_path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed (TRUNCATE)
    with pytest.raises(StoreClosedError):
        store.accept([new_message()], T0)
    with MessageStore(db_path, writer="process") as again:
        assert again.counts()[MessageState.QUEUED] == 50


def test_without_the_zygote_each_writer_is_started_directly(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storeproc, "_ZYGOTE", None)  # as where pidfds do not exist
    with MessageStore(db_path, synchronous="NORMAL", writer="process") as store:
        pid = store.writer_pid
        assert pid is not None
        assert _parent_of(pid) == os.getpid()  # our own child, not a fork of the zygote
        assert store.accept([new_message()], T0) == [1]
    assert _gone(pid)


@pytest.mark.asyncio
async def test_the_child_dying_fails_pending_ops_and_later_ones(db_path: Path) -> None:
    store = MessageStore(db_path, synchronous="NORMAL", writer="process")
    try:
        pid = store.writer_pid
        assert pid is not None
        async with asyncio.timeout(20):
            slow = asyncio.ensure_future(store._acall(_op_sleep, (30.0,)))
            behind = asyncio.ensure_future(store.aio.accept([new_message()], T0))
            await asyncio.sleep(0.3)  # both sent; the child sleeps in the first
            os.kill(pid, signal.SIGKILL)
            for fut in (slow, behind):
                with pytest.raises(StoreClosedError, match=r"writer process \(pid \d+\) stopped"):
                    await fut
        with pytest.raises(StoreClosedError):
            await store.aio.accept([new_message()], T0)
        with pytest.raises(StoreClosedError):
            store.accept([new_message()], T0)
    finally:
        store.close()  # returns: nothing to join but a dead child


_PARENT = """
import sys
from gateway.store import MessageStore, NewMessage
store = MessageStore(sys.argv[1], synchronous="FULL", writer="process")
print(store.writer_pid, flush=True)
while True:
    [mid] = store.accept([NewMessage(source="S", destination="0901", text="x")], 1.0)
    print(mid, flush=True)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_the_child_exits_when_its_parent_is_killed(db_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-u", "-c", _PARENT, str(db_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
    )
    assert parent.stdout is not None
    try:
        child_pid = int(parent.stdout.readline())
        acknowledged = [int(parent.stdout.readline()) for _ in range(200)]
        assert not _gone(child_pid)
        forker = _parent_of(child_pid)  # the zygote (or the parent itself without one)
        parent.send_signal(signal.SIGKILL)
        rest, _ = parent.communicate(timeout=10)
        acknowledged.extend(int(x) for x in rest.split())
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)
    assert parent.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while not (_gone(child_pid) and _gone(forker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child_pid), f"writer process {child_pid} outlived its parent"
    assert _gone(forker), f"the process that forked the writer ({forker}) outlived the parent"
    # Every acknowledged accept is on disk, and the file opens again at once.
    with MessageStore(db_path, writer="process") as store:
        assert store.counts()[MessageState.QUEUED] >= len(acknowledged) >= 200
        assert store.status(max(acknowledged)).state is MessageState.QUEUED
