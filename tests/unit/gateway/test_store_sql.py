"""The store's SQL on the hot path: statements per fact, counters without triggers (schema v4),
refusals that write nothing, a part's row as the record of its latest submit (schema v5), and
the v3 -> v5 and v4 -> v5 migrations.

The statement counts are measured with ``sqlite3.Connection.set_trace_callback`` on a
connection that runs the op functions directly (the writer's work without its queue): they
pin down the cost the module docstring promises, so a change that adds a statement per
message on the hot path fails here and has to say why.
"""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from gateway import store as s
from gateway import storeproc
from gateway.errors import IllegalTransitionError, StoreError, UnknownMessageError
from gateway.store import MessageState, MessageStore, PartState, ReceiptStatus
from tests.unit.gateway.conftest import T0, new_message

#: The counter triggers of schema v3, as that version created them.
V3_TRIGGERS = """
CREATE TRIGGER trg_messages_ins AFTER INSERT ON messages BEGIN
    UPDATE counters SET n = n + 1 WHERE kind = 'message' AND key = NEW.state;
END;
CREATE TRIGGER trg_messages_upd AFTER UPDATE OF state ON messages
    WHEN OLD.state IS NOT NEW.state BEGIN
    UPDATE counters SET n = n - 1 WHERE kind = 'message' AND key = OLD.state;
    UPDATE counters SET n = n + 1 WHERE kind = 'message' AND key = NEW.state;
END;
CREATE TRIGGER trg_messages_del AFTER DELETE ON messages BEGIN
    UPDATE counters SET n = n - 1 WHERE kind = 'message' AND key = OLD.state;
END;
CREATE TRIGGER trg_receipts_ins AFTER INSERT ON receipts BEGIN
    UPDATE counters SET n = n + 1 WHERE kind = 'receipt' AND key = NEW.status;
END;
CREATE TRIGGER trg_receipts_upd AFTER UPDATE OF status ON receipts
    WHEN OLD.status IS NOT NEW.status BEGIN
    UPDATE counters SET n = n - 1 WHERE kind = 'receipt' AND key = OLD.status;
    UPDATE counters SET n = n + 1 WHERE kind = 'receipt' AND key = NEW.status;
END;
"""


class _Traced:
    """A writer-like connection running the ops directly, counting the statements run."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA foreign_keys = ON")
        s._create_schema(self.conn)
        self.statements: list[str] = []
        self.conn.set_trace_callback(self.statements.append)

    def tx(self, fn: object, *args: object) -> object:
        """Run ``fn(conn, *args)`` in its own transaction; returns its result."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(self.conn, *args)  # type: ignore[operator]
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        return result

    def counted(self, fn: object, *args: object) -> tuple[object, list[str]]:
        """`tx`, returning the statements it ran besides BEGIN and COMMIT."""
        self.statements.clear()
        result = self.tx(fn, *args)
        return result, [q for q in self.statements if q not in ("BEGIN IMMEDIATE", "COMMIT")]

    def group(self, run: object, facts: Sequence[tuple[object, ...]]) -> list[object]:
        """One group op (as `_op_group` runs the facts of a loop pass)."""
        results = self.tx(s._op_group, run, list(facts))
        assert isinstance(results, list)
        for _value, error in results:
            assert error is None, error
        return [value for value, _error in results]

    def counters_match(self) -> bool:
        grouped = {
            **{("message", k): n for k, n in self.conn.execute(_GROUP_MESSAGES)},
            **{("receipt", k): n for k, n in self.conn.execute(_GROUP_RECEIPTS)},
        }
        counters = {
            (kind, key): n for kind, key, n in self.conn.execute("SELECT * FROM counters") if n
        }
        return counters == grouped


_GROUP_MESSAGES = "SELECT state, COUNT(*) FROM messages GROUP BY state"
_GROUP_RECEIPTS = "SELECT status, COUNT(*) FROM receipts GROUP BY status"


@pytest.fixture
def traced(tmp_path: Path) -> Iterator[_Traced]:
    t = _Traced(tmp_path / "traced.sqlite3")
    try:
        yield t
    finally:
        t.conn.close()


def _batch(answer: object) -> s.ClaimBatch:
    """The `ClaimBatch` of an `_op_claim` answer (the caller's side builds it)."""
    assert isinstance(answer, s._Claim)
    return s._claimed_batch(answer)


def _claimed_ids(traced: _Traced, n: int) -> list[int]:
    rows = [s._message_row(new_message(f"090{i:08d}"), T0) for i in range(n)]
    traced.tx(s._op_accept, rows)
    batch = _batch(traced.tx(s._op_claim, T0, n, "b"))
    return [m.id for m in batch.messages]


def test_a_claim_answer_becomes_its_claim_batch_where_it_is_unpickled(traced: _Traced) -> None:
    """The writer answers a claim with plain tuples (`_Claim`); a writer process's answer is
    the `ClaimBatch` once unpickled (as the child pickles its results), the thread writer's
    is built by the caller: the same batch either way."""
    rows = [s._message_row(new_message(f"090{i:08d}", priority=i % 2), T0) for i in range(4)]
    ids = traced.tx(s._op_accept, rows)
    answer = traced.tx(s._op_claim, T0, 3, "b")
    assert isinstance(answer, s._Claim)
    sent = pickle.loads(storeproc._dump_results([(True, answer)]))[0][1]
    assert isinstance(sent, s.ClaimBatch)
    assert sent == s._claimed_batch(answer)
    assert s._claimed_batch(sent) is sent
    assert isinstance(ids, list)
    assert [m.id for m in sent.messages] == [ids[1], ids[3], ids[0]]  # priority 1 first
    assert all(isinstance(m, s.ClaimedMessage) for m in sent.messages)


def test_a_fresh_schema_has_no_triggers(traced: _Traced) -> None:
    triggers = traced.conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    assert triggers.fetchall() == []
    assert traced.conn.execute("PRAGMA user_version").fetchone()[0] == s.SCHEMA_VERSION == 5


def test_statements_per_one_part_message_on_the_hot_path(traced: _Traced) -> None:
    rows = [s._message_row(new_message(f"090{i:08d}"), T0) for i in range(50)]
    _ids, accept = traced.counted(s._op_accept, rows)
    assert len(accept) == 1 + 50 + 1  # MAX(id), one INSERT per row, the counters
    raw, claim = traced.counted(s._op_claim, T0, 50, "b")
    batch = _batch(raw)
    assert len(batch.messages) == 50
    # promote, the deadline probe, one read and one UPDATE for all 50, the counters
    assert len(claim) == 5
    facts = [(m.id, 1, T0 + 1, "b", m.id) for m in batch.messages]
    traced.statements.clear()
    traced.group(s._op_part_submit, facts)
    per_submit = [q for q in traced.statements if q not in ("BEGIN IMMEDIATE", "COMMIT")]
    assert len(per_submit) == 50  # the part's INSERT (its row records the submit)
    norm = s.default_normalize
    traced.statements.clear()
    traced.group(s._op_resp, [(norm, m.id, 1, T0 + 2, 0, f"R{m.id}", None) for m in batch.messages])
    per_resp = [q for q in traced.statements if q not in ("BEGIN IMMEDIATE", "COMMIT")]
    # the group's look for waiting receipts, then per response: part, message; and the
    # counters once for the group (one statement: submitting -50, submitted +50)
    assert len(per_resp) == 1 + 2 * 50 + 1
    traced.statements.clear()
    outcomes = traced.group(
        s._op_receipt,
        [(norm, f"R{m.id}", "DELIVRD", T0 + 3, "000", None, None) for m in batch.messages],
    )
    per_receipt = [q for q in traced.statements if q not in ("BEGIN IMMEDIATE", "COMMIT")]
    # read, part, receipt, message; the counters once for the group (one statement, 3 rows)
    assert len(per_receipt) == 4 * 50 + 1
    # the writer answers each with the fields of its outcome (`_Receipt`), which becomes the
    # `ReceiptOutcome` where it is unpickled (a writer process) or settled (thread writer)
    delivered = [pickle.loads(pickle.dumps(o)) for o in outcomes]
    assert all(isinstance(o, s._Receipt) for o in outcomes)
    assert delivered == [s._receipt_outcome(o) for o in outcomes]  # type: ignore[arg-type]
    assert {(o.status, o.message_state) for o in delivered} == {
        (ReceiptStatus.MATCHED, MessageState.DELIVERED)
    }
    assert [o.message_id for o in delivered] == [m.id for m in batch.messages]
    assert traced.counters_match()


def test_a_waiting_receipt_costs_its_response_a_look_not_every_response(
    traced: _Traced,
) -> None:
    ids = _claimed_ids(traced, 50)
    traced.group(s._op_part_submit, [(m, 1, T0, "b", m) for m in ids])
    norm = s.default_normalize
    traced.tx(s._op_receipt, norm, "nobody", "DELIVRD", T0, None, None, None)  # kept waiting
    traced.tx(s._op_receipt, norm, f"R{ids[7]}", "DELIVRD", T0, None, None, None)  # early
    traced.statements.clear()
    outcomes = traced.group(s._op_resp, [(norm, m, 1, T0 + 1, 0, f"R{m}", None) for m in ids])
    per_resp = [q for q in traced.statements if q not in ("BEGIN IMMEDIATE", "COMMIT")]
    # the group's probe and its IN query; per response part and message; for the one with
    # a receipt waiting (`_apply_receipt`, `_aggregate`) its look, the part's read and
    # UPDATE, the receipt, the message's read, its parts by state and its final state; the
    # counters once
    assert len(per_resp) == 2 + 2 * 50 + 7 + 1
    states = [o.message_state for o in outcomes]  # type: ignore[attr-defined]
    assert states[7] is MessageState.DELIVERED
    assert states[:7] + states[8:] == [MessageState.SUBMITTED] * 49
    assert outcomes[7].pending_matched == (("DELIVRD", None),)  # type: ignore[attr-defined]
    waiting = traced.conn.execute(
        "SELECT smsc_message_id, status FROM receipts WHERE status != 'matched'"
    ).fetchall()
    assert waiting == [("nobody", "pending")]
    assert traced.counters_match()


def test_a_batched_group_writes_the_counters_once(traced: _Traced) -> None:
    ids = _claimed_ids(traced, 20)
    facts = [(mid, 1, T0, "b", mid) for mid in ids]
    traced.tx(s._op_group, s._op_part_submit, facts)
    norm = s.default_normalize
    resps = [(norm, mid, 1, T0, 0, f"R{mid}", None) for mid in ids]
    traced.statements.clear()
    traced.tx(s._op_group, s._op_resp, resps)  # `_op_group` batches its facts' counters
    writes = [q for q in traced.statements if q.startswith("INSERT INTO counters")]
    assert len(writes) == 1  # submitting -20 and submitted +20, once for the group
    assert traced.counters_match()


def test_a_batched_block_that_raises_writes_no_counters(traced: _Traced) -> None:
    ids = _claimed_ids(traced, 3)

    def failing(conn: sqlite3.Connection) -> None:
        with s._batched_counts(conn):
            s._op_finalise(conn, ids[0], MessageState.FAILED, T0, "x")
            with s._batched_counts(conn):  # nested: the outer block writes
                s._op_finalise(conn, ids[1], MessageState.FAILED, T0, "x")
            assert not [q for q in traced.statements if q.startswith("INSERT INTO counters")]
            raise RuntimeError("boom")

    traced.statements.clear()
    with pytest.raises(RuntimeError):
        traced.tx(failing)
    assert not [q for q in traced.statements if q.startswith("INSERT INTO counters")]
    assert s._BATCHES == {}
    assert traced.counters_match()  # rolled back with the state changes


@pytest.mark.parametrize(
    ("setup", "part", "error"),
    [
        ("unknown", 1, UnknownMessageError),
        ("queued", 1, IllegalTransitionError),
        ("submitting", 2, StoreError),
        ("submitting", 0, StoreError),
        ("answered", 1, IllegalTransitionError),
    ],
)
def test_a_refused_part_submit_writes_nothing(
    traced: _Traced, setup: str, part: int, error: type[Exception]
) -> None:
    [mid] = _claimed_ids(traced, 1)
    if setup == "queued":
        traced.tx(s._op_requeue, mid, T0, None, None)
    elif setup == "unknown":
        mid += 1000
    elif setup == "answered":
        traced.tx(s._op_part_submit, mid, 1, T0, "b", 1)
        traced.tx(s._op_resp, s.default_normalize, mid, 1, T0, 0, "R1", None)
    before = traced.conn.total_changes
    with pytest.raises(error):
        traced.tx(s._op_part_submit, mid, part, T0 + 1, "b", 2)
    assert traced.conn.total_changes == before


def test_a_response_completes_the_latest_attempt_of_a_resent_part(store: MessageStore) -> None:
    [mid] = store.accept([new_message()], T0)
    store.claim(T0, 1)
    store.record_part_submit(mid, 1, T0 + 1, bind="b1", sequence_number=1)
    store.requeue(mid, T0 + 2, error="response timeout")  # no response to the first PDU
    store.claim(T0 + 3, 1)
    store.record_part_submit(mid, 1, T0 + 4, bind="b2", sequence_number=2)
    out = store.record_resp(mid, 1, T0 + 5, command_status=0, smsc_message_id="R9")
    assert out.message_state is MessageState.SUBMITTED
    log = store.status(mid).attempt_log
    assert [(a.attempt_no, a.bind, a.command_status, a.resp_at) for a in log] == [
        (1, "b1", None, None),
        (2, "b2", 0, T0 + 5),
    ]
    [part] = store.status(mid).parts
    assert (part.state, part.attempt_no, part.sequence_number) == (PartState.SUBMITTED, 2, 2)


def test_a_late_ok_completes_a_requeued_one_part_message(store: MessageStore) -> None:
    [mid] = store.accept([new_message()], T0)
    store.claim(T0, 1)
    store.record_part_submit(mid, 1, T0 + 1)
    store.requeue(mid, T0 + 2, retry_at=T0 + 60)  # scheduled
    out = store.record_resp(mid, 1, T0 + 3, command_status=0, smsc_message_id="R1")
    assert out.message_state is MessageState.SUBMITTED
    counts = store.counts()
    assert (counts[MessageState.SUBMITTED], counts[MessageState.SCHEDULED]) == (1, 0)


def test_claim_with_a_dead_message_in_the_queue_expires_what_it_scans(
    store: MessageStore,
) -> None:
    ids = store.accept([new_message(f"090{i}", validity_deadline=T0 + 5) for i in range(2)], T0)
    ids += store.accept([new_message(f"091{i}") for i in range(3)], T0)
    batch = store.claim(T0 + 10, 2)  # the first two are dead: expired, then two live claimed
    assert batch.expired == tuple(ids[:2])
    assert [m.id for m in batch.messages] == ids[2:4]
    assert [m.attempt for m in batch.messages] == [1, 1]
    counts = store.counts()
    assert (counts[MessageState.EXPIRED], counts[MessageState.SUBMITTING]) == (2, 2)
    assert counts[MessageState.QUEUED] == 1


def test_the_hot_statements_use_their_indexes(traced: _Traced) -> None:
    def plan(sql: str, args: tuple[object, ...]) -> str:
        rows = traced.conn.execute(f"EXPLAIN QUERY PLAN {sql}", args).fetchall()
        return " | ".join(str(r[3]) for r in rows)

    claim = plan(
        "SELECT id FROM messages INDEXED BY idx_messages_queued WHERE state = 'queued'"
        " ORDER BY priority DESC, id LIMIT ?",
        (10,),
    )
    assert "idx_messages_queued" in claim
    assert "TEMP B-TREE" not in claim
    probe = plan(
        "SELECT 1 FROM messages INDEXED BY idx_messages_validity WHERE validity_deadline"
        " IS NOT NULL AND validity_deadline <= ? AND state IN ('queued', 'scheduled')"
        " AND state = 'queued' LIMIT 1",
        (T0,),
    )
    assert "idx_messages_validity" in probe
    receipt = plan(
        "SELECT message_id, seq, state, total FROM parts INDEXED BY idx_parts_smsc_id"
        " WHERE smsc_id_norm = ? ORDER BY resp_at DESC LIMIT 1",
        ("x",),
    )
    submit = plan(
        "INSERT INTO parts (message_id, seq, total, state, attempt_no, bind, sequence_number,"
        " submitted_at) SELECT id, ?2, parts_total, 'submitting', attempts, ?3, ?4, ?5"
        " FROM messages WHERE id = ?1 AND state = 'submitting' AND ?2 BETWEEN 1 AND parts_total"
        " ON CONFLICT (message_id, seq) DO NOTHING",
        (1, 1, "b", 1, T0),
    )
    assert submit == "SEARCH messages USING INTEGER PRIMARY KEY (rowid=?)"
    assert receipt == "SEARCH parts USING INDEX idx_parts_smsc_id (smsc_id_norm=?)"
    assert "SCAN" not in receipt
    assert "TEMP B-TREE" not in receipt  # the index gives the order


def test_a_version_3_store_is_migrated_without_triggers(db_path: Path) -> None:
    with MessageStore(db_path, synchronous="NORMAL") as store:
        a, _b, _c = store.accept([new_message(f"0901{i}") for i in range(3)], T0)
        store.claim(T0, 1)
        store.record_part_submit(a, 1, T0 + 1)
        store.record_resp(a, 1, T0 + 2, command_status=0, smsc_message_id="r1")
        store.record_receipt("r1", "DELIVRD", T0 + 3)
        store.record_receipt("zz", "DELIVRD", T0 + 3)  # pending
    conn = sqlite3.connect(db_path)
    for statement in s._split_sql(V3_TRIGGERS):  # the v3 layout, with wrong counters
        conn.execute(statement)
    conn.execute("UPDATE counters SET n = n + 7")
    conn.execute("DELETE FROM counters WHERE key IN ('rejected', 'duplicate')")
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    with MessageStore(db_path, synchronous="NORMAL") as store:
        assert store.counts() == {
            **dict.fromkeys(MessageState, 0),
            MessageState.QUEUED: 2,
            MessageState.DELIVERED: 1,
        }
        assert store.receipt_counts() == {
            **dict.fromkeys(ReceiptStatus, 0),
            ReceiptStatus.MATCHED: 1,
            ReceiptStatus.PENDING: 1,
        }
        store.claim(T0 + 4, 5)  # the ops keep them from here
        counts = store.counts()
    assert counts[MessageState.SUBMITTING] == 2
    assert counts[MessageState.QUEUED] == 0
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == s.SCHEMA_VERSION
        assert (
            conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'").fetchone()[0]
            == 0
        )
    finally:
        conn.close()


def test_first_submitted_at_is_set_by_the_first_claim_that_sent(store: MessageStore) -> None:
    a, b, c, d = store.accept([new_message(f"0901{i}", parts_total=2) for i in range(4)], T0)
    store.claim(T0, 4)
    for mid in (a, b, c):
        store.record_part_submit(mid, 1, T0 + 1)
        store.record_part_submit(mid, 2, T0 + 2)
    assert store.status(a).first_submitted_at == T0  # in flight already: the claim's time
    store.release(d, T0 + 1)  # d sent nothing: the release undoes the claim, and the time
    assert store.status(d).first_submitted_at is None
    store.record_resp(a, 2, T0 + 3, command_status=0, smsc_message_id="A2")  # one part of two
    store.record_resp(b, 1, T0 + 3, command_status=0x14)  # an error
    store.requeue(c, T0 + 3, error="response timeout")  # no response at all
    report = store.recover(T0 + 4)  # a restart: a and b have one part in flight each
    assert report.requeued == (a, b)
    assert report.parts_in_doubt == 2
    store.claim(T0 + 5, 4)
    assert store.status(d).first_submitted_at == T0 + 5
    store.record_part_submit(c, 1, T0 + 6)  # a later attempt does not move it
    store.record_resp(c, 1, T0 + 7, command_status=0, smsc_message_id="C1")
    store.release(b, T0 + 8)  # b sent parts before: a release keeps its time
    for mid in (a, b, c):
        assert store.status(mid).first_submitted_at == T0, mid


def test_a_resend_moves_the_previous_submit_to_the_attempt_log(traced: _Traced) -> None:
    [mid] = _claimed_ids(traced, 1)
    traced.tx(s._op_part_submit, mid, 1, T0 + 1, "b1", 1)
    traced.tx(s._op_resp, s.default_normalize, mid, 1, T0 + 2, 0x58, None, "throttled")
    _r, resend = traced.counted(s._op_part_submit, mid, 1, T0 + 3, "b2", 2)  # same claim
    # the guarded INSERT (a conflict: nothing), the read, the move to attempts, the part
    assert len(resend) == 4
    traced.tx(s._op_requeue, mid, T0 + 4, None, "response timeout")  # no response to #2
    traced.tx(s._op_claim, T0 + 5, 1, "b")
    traced.tx(s._op_part_submit, mid, 1, T0 + 6, "b3", 3)
    rows = traced.conn.execute(
        "SELECT attempt_no, bind, sequence_number, sent_at, command_status, resp_at, error"
        " FROM attempts WHERE message_id = ? ORDER BY id",
        (mid,),
    ).fetchall()
    assert rows == [
        (1, "b1", 1, T0 + 1, 0x58, T0 + 2, "throttled"),
        (1, "b2", 2, T0 + 3, None, None, None),
    ]
    part = traced.conn.execute(
        "SELECT state, attempt_no, bind, sequence_number, submitted_at, resp_at, error"
        " FROM parts WHERE message_id = ?",
        (mid,),
    ).fetchone()
    assert part == ("submitting", 2, "b3", 3, T0 + 6, None, None)
    assert traced.counters_match()


def test_release_is_refused_once_a_part_of_the_claim_was_sent(store: MessageStore) -> None:
    [mid] = store.accept([new_message(parts_total=2)], T0)
    store.claim(T0, 1)
    store.record_part_submit(mid, 2, T0 + 1)
    with pytest.raises(IllegalTransitionError):
        store.release(mid, T0 + 2)
    store.requeue(mid, T0 + 2)
    store.claim(T0 + 3, 1)  # a new claim that sent nothing yet may be released
    assert store.release(mid, T0 + 4) is MessageState.QUEUED
    [again] = store.claim(T0 + 5, 1).messages
    assert (again.attempt, again.pending_parts) == (2, (1, 2))  # part 2 had no response


def test_a_version_4_store_moves_each_parts_latest_attempt_to_the_part(db_path: Path) -> None:
    with MessageStore(db_path, synchronous="NORMAL") as store:
        a, b = store.accept([new_message("09011"), new_message("09012", parts_total=2)], T0)
        store.claim(T0, 2)
        store.record_part_submit(a, 1, T0 + 1, bind="b1", sequence_number=1)
        store.record_part_submit(b, 1, T0 + 1, bind="b1", sequence_number=2)
        store.record_part_submit(b, 2, T0 + 1, bind="b1", sequence_number=3)
        store.record_resp(a, 1, T0 + 2, command_status=0, smsc_message_id="r1")
    # The v4 layout: no parts.error, an attempt row for every submit (the latest included).
    conn = sqlite3.connect(db_path)
    conn.execute("ALTER TABLE parts DROP COLUMN error")
    conn.execute("DELETE FROM attempts")
    v4_attempts = [
        (a, 1, 1, "b1", 1, T0 + 1, 0, T0 + 2, None),
        (b, 1, 1, "b1", 2, T0 + 0.5, None, None, None),  # superseded by the resend below
        (b, 1, 1, "b1", 2, T0 + 1, 0x58, T0 + 2, "throttled"),
        (b, 2, 1, "b1", 3, T0 + 1, None, None, "no response before restart"),
    ]
    conn.executemany(
        "INSERT INTO attempts (message_id, part_seq, attempt_no, bind, sequence_number,"
        " sent_at, command_status, resp_at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        v4_attempts,
    )
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()
    with MessageStore(db_path, synchronous="NORMAL") as store:
        log_a = store.status(a).attempt_log
        log_b = store.status(b).attempt_log
    assert [(x.part_seq, x.command_status, x.error) for x in log_a] == [(1, 0, None)]
    assert [(x.part_seq, x.sent_at, x.error) for x in log_b] == [
        (1, T0 + 0.5, None),  # the superseded submit stays an attempt row
        (1, T0 + 1, "throttled"),  # each part's latest is its row, with its error
        (2, T0 + 1, "no response before restart"),  # moved to the part
    ]
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 5
        assert conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 1
        errors = conn.execute("SELECT seq, error FROM parts WHERE message_id = ?", (b,))
        assert sorted(errors.fetchall()) == [(1, "throttled"), (2, "no response before restart")]
    finally:
        conn.close()


def test_accept_inserts_whole_hundreds_in_one_statement_each(traced: _Traced) -> None:
    messages = [new_message(f"090{i:08d}", client_ref=f"c{i}") for i in range(250)]
    rows = [s._message_row(m, T0) for m in messages]
    traced.tx(s._op_accept, rows[:1])
    ids, statements = traced.counted(s._op_accept, rows[1:])
    # MAX(id), two INSERTs of 100 rows, 49 single rows, the counters
    assert len(statements) == 1 + 2 + 49 + 1
    assert ids == list(range(2, 251))
    stored = traced.conn.execute("SELECT id, destination, client_ref, state FROM messages")
    assert stored.fetchall() == [(i + 1, f"090{i:08d}", f"c{i}", "queued") for i in range(250)]
    assert traced.counters_match()
