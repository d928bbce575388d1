"""Responses first (`gateway.store._Batches`): in a batch that also holds heavier work, the part
submits and responses are committed in a transaction of their own and answered before the rest
runs; they move only ahead of the ops they commute with (receipts, claims, accepts), at most
`MAX_OVERTAKES` more times; every answer comes after its own COMMIT; and the writer process's
parent matches answers that come out of order to their callers."""

from __future__ import annotations

import concurrent.futures
import queue
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.store import (
    _STOP,
    MAX_OVERTAKES,
    SPLIT_MIN_REST,
    MessageState,
    MessageStore,
    PartState,
    RespOutcome,
    _Batches,
    _early,
    _message_row,
    _Op,
    _op_accept,
    _op_claim,
    _op_group,
    _op_part_submit,
    _op_receipt,
    _op_requeue,
    _op_resp,
    _open_writer,
    default_normalize,
)
from tests.unit.gateway.conftest import T0, new_message

# --- which ops go first ------------------------------------------------------------------------


def _group(run: Callable[..., Any], n: int, ids: str | None = None) -> _Op:
    """A group op of `n` facts of `run`; responses and receipts carry SMSC ids
    ``{ids}0``, ``{ids}1``, ... (by default "s" for responses, "r" for receipts)."""
    ids = ids if ids is not None else "s" if run is _op_resp else "r"
    if run is _op_resp:
        facts: list[Any] = [
            (default_normalize, i + 1, 1, T0, 0, f"{ids}{i}", None) for i in range(n)
        ]
    elif run is _op_receipt:
        facts = [
            (default_normalize, f"{ids}{i}", "DELIVRD", T0, None, None, None) for i in range(n)
        ]
    else:
        facts = [(i + 1, 1, T0, "b1", i + 1) for i in range(n)]
    return _Op(_op_group, (run, facts))


def test_submits_and_responses_go_ahead_of_receipts_claims_and_accepts() -> None:
    batch = [
        _group(_op_part_submit, 3),
        _group(_op_receipt, 5),
        _Op(_op_claim, (T0, SPLIT_MIN_REST, None)),
        _group(_op_resp, 4),
        _Op(_op_accept, ([()] * 2,)),
    ]
    assert _early(batch) == [0, 3]


def test_nothing_moves_past_an_op_that_does_not_commute() -> None:
    barrier = _Op(_op_requeue, (1, T0, None, None))
    # The response after the requeue stays after it; the one before still goes first.
    batch = [_group(_op_resp, 2), _group(_op_receipt, SPLIT_MIN_REST), barrier, _group(_op_resp, 2)]
    assert _early(batch) == [0]
    assert _early([_group(_op_receipt, SPLIT_MIN_REST), barrier, _group(_op_resp, 2)]) is None


def test_a_response_stays_behind_a_receipt_for_its_own_part() -> None:
    # The receipt came first: it must be kept pending, then matched when the response lands.
    receipts = _group(_op_receipt, SPLIT_MIN_REST, ids="r")
    mine = _Op(_op_group, (_op_resp, [(default_normalize, 7, 1, T0, 0, "R5", None)]))
    others = _group(_op_resp, 3, ids="x")
    assert _early([others, receipts, mine, _group(_op_resp, 2, ids="y")]) == [0]
    assert _early([receipts, others]) == [1]  # other ids overtake it


def test_a_light_rest_is_not_worth_a_second_commit() -> None:
    light = SPLIT_MIN_REST - 1
    assert _early([_group(_op_resp, 50), _group(_op_receipt, light)]) is None
    assert _early([_group(_op_resp, 50), _group(_op_receipt, light + 1)]) == [0]
    assert _early([_group(_op_part_submit, 50), _group(_op_resp, 50)]) is None  # no rest


# --- the engine ----------------------------------------------------------------------------------


def _prepared(db_path: Path, n: int) -> list[int]:
    """`n` one-part messages, claimed and their part submitted (a response may come)."""
    with MessageStore(db_path, synchronous="NORMAL") as store:
        ids = store.accept([new_message(f"0901{i:04d}") for i in range(n)], T0)
        store.claim(T0, n)
        for mid in ids:
            store.record_part_submit(mid, 1, T0, bind="b1")
    return ids


def _resp(message_id: int) -> _Op:
    fact = (default_normalize, message_id, 1, T0 + 1, 0, f"s-{message_id}", None)
    return _Op(_op_group, (_op_resp, [fact]))


def _receipts(n: int) -> _Op:
    facts = [(default_normalize, f"r-{i}", "DELIVRD", T0 + 2, None, None, None) for i in range(n)]
    return _Op(_op_group, (_op_receipt, facts))


def _committed(db_path: Path) -> tuple[dict[int, str], int]:
    """What a fresh connection sees: part states by message, receipt rows."""
    conn = sqlite3.connect(db_path)
    try:
        parts = dict(conn.execute("SELECT message_id, state FROM parts").fetchall())
        (receipts,) = conn.execute("SELECT COUNT(*) FROM receipts").fetchone()
        return parts, receipts
    finally:
        conn.close()


#: A message of ops for `_Script`: it arrives once its condition holds.
_Arrival = tuple[Callable[[], bool], list[_Op]]


class _Script:
    """A `_Batches` source and sink: messages of ops that arrive when their condition holds,
    and a record of each answer with what was committed when it was given."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.arrivals: list[_Arrival] = []
        self.answers: list[tuple[list[_Op], list[int] | None, tuple[dict[int, str], int]]] = []

    def after(self, answers: int) -> Callable[[], bool]:
        """The condition: `answers` transactions have been answered."""
        return lambda: len(self.answers) >= answers

    def get(self, timeout: float | None) -> Any:
        if self.arrivals and self.arrivals[0][0]():
            return self.arrivals.pop(0)[1]
        if timeout is None:
            assert not self.arrivals, "the engine waits for a message that cannot come"
            return _STOP
        raise queue.Empty

    def finish(self, ops: list[_Op], picks: list[int] | None) -> None:
        answered = ops if picks is None else [ops[i] for i in picks]
        assert all(op.ok for op in answered), [op.error for op in answered]
        self.answers.append((list(ops), picks, _committed(self.db_path)))

    def run(self) -> list[list[_Op]]:
        """Run the engine to the end; returns the ops each answer settled."""
        conn = _open_writer(str(self.db_path), synchronous="NORMAL", cache_kib=1024)
        try:
            _Batches(conn, max_batch=100, linger=0.0, finish=self.finish).run(self.get)
        finally:
            conn.close()
        return [ops if picks is None else [ops[i] for i in picks] for ops, picks, _ in self.answers]


def test_responses_are_committed_and_answered_before_the_rest_runs(db_path: Path) -> None:
    [a] = _prepared(db_path, 1)
    receipts, resp = _receipts(SPLIT_MIN_REST), _resp(a)
    script = _Script(db_path)
    script.arrivals = [(script.after(0), [receipts, resp])]
    script.run()
    [(ops1, picks1, seen1), (ops2, picks2, seen2)] = script.answers
    assert (ops1, picks1) == ([receipts, resp], [1])
    assert seen1 == ({a: PartState.SUBMITTED.value}, 0)  # the response alone is committed
    assert (ops2, picks2) == ([receipts], None)
    assert seen2[1] == SPLIT_MIN_REST
    [(outcome, error)] = resp.value
    assert error is None
    assert isinstance(outcome, RespOutcome)
    assert outcome.message_state is MessageState.SUBMITTED


def test_a_batch_with_an_op_that_does_not_commute_runs_whole_in_order(db_path: Path) -> None:
    [a, b] = _prepared(db_path, 2)
    requeue = _Op(_op_requeue, (b, T0 + 1, None, "timeout"))
    batch = [_receipts(SPLIT_MIN_REST), requeue, _resp(a)]
    script = _Script(db_path)
    script.arrivals = [(script.after(0), batch)]
    assert script.run() == [batch]
    assert script.answers[0][1] is None
    assert requeue.value is MessageState.QUEUED


def test_responses_that_came_meanwhile_overtake_the_rest_a_bounded_number_of_times(
    db_path: Path,
) -> None:
    ids = _prepared(db_path, 2 + MAX_OVERTAKES)
    receipts = _receipts(SPLIT_MIN_REST)
    first = [_resp(ids[0]), receipts]
    script = _Script(db_path)
    # Each further response arrives while the previous transaction runs.
    script.arrivals = [(script.after(0), first)] + [
        (script.after(i + 1), [_resp(mid)]) for i, mid in enumerate(ids[1:])
    ]
    overtakers = [script.arrivals[i + 1][1][0] for i in range(MAX_OVERTAKES)]
    late = script.arrivals[-1][1][0]
    answered = script.run()
    # The last one came when the rest's turn had come: it runs with the rest, after it.
    assert answered == [[first[0]], *[[op] for op in overtakers], [receipts, late]]
    assert script.answers[MAX_OVERTAKES][2][1] == 0  # no receipt before the rest's turn


def test_responses_that_come_while_other_work_runs_go_next_in_the_same_transaction(
    db_path: Path,
) -> None:
    [a] = _prepared(db_path, 1)
    receipts, claim, resp = _receipts(3), _Op(_op_claim, (T0, SPLIT_MIN_REST, None)), _resp(a)
    script = _Script(db_path)
    script.arrivals = [
        (script.after(0), [receipts, claim]),
        (lambda: receipts.ok, [resp]),  # while the batch runs, after its first op
    ]
    answered = script.run()
    # The response runs after what ran, ahead of the claim, and is answered at that COMMIT.
    assert answered == [[receipts, resp], [claim]]
    assert script.answers[0][1] == [0, 2]  # positions in [receipts, claim, resp]
    assert script.answers[0][2] == ({a: PartState.SUBMITTED.value}, 3)
    assert claim.value is not None


# --- through the writers ---------------------------------------------------------------------


@pytest.mark.parametrize("writer", ["thread", "process"])
def test_answers_out_of_order_reach_their_own_callers(db_path: Path, writer: Any) -> None:
    [a] = _prepared(db_path, 1)
    with MessageStore(db_path, synchronous="NORMAL", writer=writer) as store:
        before = store.writer_stats()
        rows = [_message_row(new_message(f"0902{i:04d}"), T0) for i in range(SPLIT_MIN_REST)]
        ops = [_Op(_op_accept, (rows,)), _resp(a), _Op(_op_accept, (rows[:1],))]
        futures: list[concurrent.futures.Future[Any]] = [concurrent.futures.Future() for _ in ops]
        for op, future in zip(ops, futures, strict=True):
            op.sync_future = future
        store._writer.submit(ops)
        first, resp, last = (f.result(timeout=10) for f in futures)
        assert first == list(range(2, 2 + SPLIT_MIN_REST))
        assert last == [2 + SPLIT_MIN_REST]
        [(outcome, error)] = resp
        assert error is None
        assert outcome.message_state is MessageState.SUBMITTED
        after = store.writer_stats()
        assert after.batches - before.batches == 2  # the response's, then the rest's
        # The FIFO is still aligned: the next op gets its own answer.
        assert store.accept([new_message()], T0) == [3 + SPLIT_MIN_REST]
