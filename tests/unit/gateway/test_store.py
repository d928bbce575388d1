"""Message store: every state transition, illegal ones, receipts, MO, suppression, recovery.

The tests that use the `store` fixture, and the lifecycle tests, run against both writers
(``writer="thread"`` and ``writer="process"``): same semantics, same answers.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import (
    GatewayConfigError,
    IllegalTransitionError,
    StoreClosedError,
    StoreError,
    UnknownMessageError,
)
from gateway.store import (
    LEGAL_TRANSITIONS,
    TERMINAL_STATES,
    ClaimedMessage,
    MessageState,
    MessageStore,
    NewMessage,
    PartState,
    ReceiptStatus,
    check_transition,
    default_normalize,
)
from tests.unit.gateway.conftest import T0, new_message

WRITERS = ["thread", "process"]

Q, S, SG, SD = (
    MessageState.QUEUED,
    MessageState.SCHEDULED,
    MessageState.SUBMITTING,
    MessageState.SUBMITTED,
)


@pytest.fixture(params=WRITERS)
def writer(request: pytest.FixtureRequest) -> str:
    """Where the store's writer runs (every test that uses it runs with both)."""
    return str(request.param)


@pytest.fixture
def store(db_path: Path, writer: Any) -> Iterator[MessageStore]:
    """A store on a fresh file, with each writer (synchronous=NORMAL: logic, not fsync)."""
    s = MessageStore(db_path, synchronous="NORMAL", writer=writer)
    try:
        yield s
    finally:
        s.close()


def _hex_to_dec(raw: str) -> str:
    return str(int(raw, 16))


def _dec(raw: str, base: int) -> str:
    return str(int(raw, base))


def _state(store: MessageStore, message_id: int) -> MessageState:
    return store.status(message_id).state


def _send_all(store: MessageStore, message_id: int, now: float, ids: list[str]) -> None:
    """Submit every pending part of a claimed message and answer each with ESME_ROK."""
    for seq, smsc_id in enumerate(ids, start=1):
        store.record_part_submit(message_id, seq, now, bind="b1", sequence_number=seq)
        store.record_resp(message_id, seq, now + 0.1, command_status=0, smsc_message_id=smsc_id)


def _submitted(store: MessageStore, smsc_ids: list[str], **kw: Any) -> int:
    [mid] = store.accept([new_message(parts_total=len(smsc_ids), **kw)], T0)
    [claimed] = store.claim(T0 + 1, 10, bind="b1").messages
    assert claimed.id == mid
    _send_all(store, mid, T0 + 2, smsc_ids)
    return mid


# --- transition table ------------------------------------------------------------------------


def test_transition_table_is_closed_over_states() -> None:
    for current in MessageState:
        for target in MessageState:
            legal = (current, target) in LEGAL_TRANSITIONS
            if legal:
                check_transition(1, current, target, "test")
            else:
                with pytest.raises(IllegalTransitionError) as info:
                    check_transition(1, current, target, "test")
                assert (info.value.current, info.value.target) == (current.value, target.value)


def test_terminal_states_are_absorbing() -> None:
    assert not [(a, b) for a, b in LEGAL_TRANSITIONS if a in TERMINAL_STATES]


# --- accept and claim ----------------------------------------------------------------------------


def test_accept_assigns_increasing_ids_and_queues(store: MessageStore) -> None:
    ids = store.accept([new_message(), new_message("09000000001")], T0)
    assert ids == [1, 2]
    assert store.accept([new_message()], T0) == [3]
    assert store.counts()[Q] == 3
    status = store.status(1)
    assert status.state is Q
    assert status.next_attempt_at == T0
    assert status.attempts == 0


def test_accept_with_future_not_before_is_scheduled(store: MessageStore) -> None:
    [mid] = store.accept([new_message(not_before=T0 + 60)], T0)
    assert _state(store, mid) is S
    assert store.claim(T0 + 59, 10).messages == ()
    batch = store.claim(T0 + 60, 10)
    assert batch.promoted == 1
    assert [m.id for m in batch.messages] == [mid]


def test_accept_rejects_bad_input(store: MessageStore) -> None:
    with pytest.raises(ValueError, match="parts_total"):
        NewMessage("S", "0901", "x", parts_total=0)
    with pytest.raises(ValueError, match="empty"):
        NewMessage("", "0901", "x")
    with pytest.raises(ValueError, match="JSON"):
        store.accept([new_message(metadata={"bad": object()})], T0)
    assert store.counts()[Q] == 0


def test_accept_stores_every_field(store: MessageStore) -> None:
    m = NewMessage(
        source="SHOP",
        destination="09011112222",
        text="こんにちは",
        parts_total=2,
        client_ref="ref-1",
        encoding="ucs2",
        profile="jp",
        method="udh",
        concat_ref=42,
        priority=2,
        validity_deadline=T0 + 3600,
        route="docomo",
        bind="b2",
        campaign_id="c-7",
        metadata={"debtor": 7, "tags": ["x"]},
    )
    [mid] = store.accept([m], T0)
    s = store.status(mid)
    assert (s.source, s.destination, s.text, s.parts_total) == ("SHOP", "09011112222", m.text, 2)
    assert (s.client_ref, s.encoding, s.profile, s.method, s.concat_ref) == (
        "ref-1",
        "ucs2",
        "jp",
        "udh",
        42,
    )
    assert (s.priority, s.validity_deadline, s.route, s.bind, s.campaign_id) == (
        2,
        T0 + 3600,
        "docomo",
        "b2",
        "c-7",
    )
    assert s.metadata == {"debtor": 7, "tags": ["x"]}


@pytest.mark.parametrize("dead_in_queue", [False, True])
def test_claim_hands_back_every_field(store: MessageStore, dead_in_queue: bool) -> None:
    """Each field of `ClaimedMessage` comes from its own column (the claim reads a subset of
    the columns and builds the message positionally), on the common path and on the scan
    that expires a dead message first."""
    dead = [new_message(validity_deadline=T0 + 1)] if dead_in_queue else []
    m = NewMessage(
        source="SHOP",
        destination="09011112222",
        text="こんにちは",
        parts_total=3,
        client_ref="ref-1",
        encoding="ucs2",
        profile="jp",
        method="sar",
        concat_ref=42,
        priority=-1,
        validity_deadline=T0 + 3600,
        route="docomo",
        bind="b2",
        campaign_id="c-7",
        metadata={"debtor": 7},
        tlvs=((0x1401, b"\x01\x02"), (0x1402, b"")),
    )
    ids = store.accept([*dead, m, new_message()], T0)
    batch = store.claim(T0 + 2, 10, bind="b1")
    assert batch.expired == (tuple(ids[:1]) if dead_in_queue else ())
    assert [c.id for c in batch.messages] == [ids[-1], ids[-2]]  # priority 0 before -1
    assert batch.messages[1] == ClaimedMessage(
        id=ids[-2],
        source="SHOP",
        destination="09011112222",
        text="こんにちは",
        parts_total=3,
        pending_parts=(1, 2, 3),
        attempt=1,
        priority=-1,
        client_ref="ref-1",
        encoding="ucs2",
        profile="jp",
        method="sar",
        concat_ref=42,
        validity_deadline=T0 + 3600,
        route="docomo",
        bind="b2",
        campaign_id="c-7",
        metadata={"debtor": 7},
        tlvs=((0x1401, b"\x01\x02"), (0x1402, b"")),
    )
    # A second claim after a partial send: the attempt counts on, the sent part is left out.
    mid = ids[-2]
    store.record_part_submit(mid, 2, T0 + 3, bind="b1", sequence_number=7)
    store.record_resp(mid, 2, T0 + 4, command_status=0, smsc_message_id="X-2")
    store.requeue(mid, T0 + 5, retry_at=None, error="timeout")
    [again] = store.claim(T0 + 6, 10).messages
    assert (again.id, again.attempt, again.pending_parts) == (mid, 2, (1, 3))
    assert (again.tlvs, again.metadata) == (m.tlvs, {"debtor": 7})


def test_claim_is_fifo_per_priority_and_respects_limit(store: MessageStore) -> None:
    low = store.accept([new_message(priority=0) for _ in range(3)], T0)
    high = store.accept([new_message(priority=3) for _ in range(2)], T0)
    first = store.claim(T0, 3, bind="b1")
    assert [m.id for m in first.messages] == [*high, low[0]]
    assert all(m.attempt == 1 and m.pending_parts == (1,) for m in first.messages)
    second = store.claim(T0, 10, bind="b1")
    assert [m.id for m in second.messages] == low[1:]
    assert store.counts()[SG] == 5
    assert store.status(low[0]).claimed_bind == "b1"


def test_claim_expires_messages_past_validity(store: MessageStore) -> None:
    dead, live = store.accept(
        [new_message(validity_deadline=T0 + 10), new_message(validity_deadline=T0 + 100)], T0
    )
    batch = store.claim(T0 + 10, 10)
    assert batch.expired == (dead,)
    assert [m.id for m in batch.messages] == [live]
    assert _state(store, dead) is MessageState.EXPIRED
    assert store.status(dead).done_at == T0 + 10


def test_expire_overdue_only_touches_waiting_messages(store: MessageStore) -> None:
    a, b, c = store.accept([new_message(validity_deadline=T0 + 5) for _ in range(3)], T0)
    store.defer(b, T0 + 50, T0)
    store.claim(T0, 1)  # a is in flight
    assert store.expire_overdue(T0 + 5) == [b, c]
    assert _state(store, a) is SG


# --- the happy paths ------------------------------------------------------------------------------


def test_single_part_happy_path(store: MessageStore) -> None:
    mid = _submitted(store, ["ABC123"])
    assert _state(store, mid) is SD
    outcome = store.record_receipt("abc123", "DELIVRD", T0 + 5, err="000", raw="id:abc123 ...")
    assert outcome.status is ReceiptStatus.MATCHED
    assert (outcome.message_id, outcome.part_seq) == (mid, 1)
    assert outcome.message_state is MessageState.DELIVERED
    s = store.status(mid)
    assert s.state is MessageState.DELIVERED
    assert s.done_at == T0 + 5
    assert s.first_submitted_at == T0 + 1  # set by the claim that sent it
    [part] = s.parts
    assert (part.state, part.smsc_message_id, part.smsc_id_norm) == (
        PartState.DELIVERED,
        "ABC123",
        "abc123",
    )
    assert (part.receipt_stat, part.receipt_err, part.receipt_at) == ("DELIVRD", "000", T0 + 5)
    [attempt] = s.attempt_log
    assert (attempt.bind, attempt.sequence_number, attempt.command_status) == ("b1", 1, 0)


@pytest.mark.parametrize(
    ("stats", "final"),
    [
        (["DELIVRD", "DELIVRD", "DELIVRD"], MessageState.DELIVERED),
        (["DELIVRD", "UNDELIV", "DELIVRD"], MessageState.PARTIALLY_DELIVERED),
        (["EXPIRED", "DELIVRD", "EXPIRED"], MessageState.PARTIALLY_DELIVERED),
        (["EXPIRED", "EXPIRED", "EXPIRED"], MessageState.EXPIRED),
        (["UNDELIV", "EXPIRED", "REJECTD"], MessageState.FAILED),
        (["REJECTD", "REJECTD", "REJECTD"], MessageState.REJECTED),
        (["REJECTD", "rejectd ", "UNDELIV"], MessageState.FAILED),
        (["REJECTD", "DELIVRD", "REJECTD"], MessageState.PARTIALLY_DELIVERED),
        (["DELETED", "UNKNOWN", "UNDELIV"], MessageState.FAILED),
    ],
)
def test_multipart_aggregate(store: MessageStore, stats: list[str], final: MessageState) -> None:
    _submitted(store, ["p1", "p2", "p3"])
    for i, stat in enumerate(stats, start=1):
        outcome = store.record_receipt(f"p{i}", stat, T0 + 10 + i)
        expected = final if i == len(stats) else SD
        assert outcome.message_state is expected
    assert store.counts()[final] == 1


def test_intermediate_receipt_keeps_part_submitted(store: MessageStore) -> None:
    mid = _submitted(store, ["x1"])
    outcome = store.record_receipt("x1", "ENROUTE", T0 + 3)
    assert outcome.status is ReceiptStatus.MATCHED
    assert outcome.message_state is SD
    [part] = store.status(mid).parts
    assert (part.state, part.receipt_stat) == (PartState.SUBMITTED, "ENROUTE")
    assert store.record_receipt("x1", "ACCEPTD", T0 + 4).message_state is SD
    assert store.record_receipt("x1", "DELIVRD", T0 + 5).message_state is MessageState.DELIVERED


# --- retry paths -------------------------------------------------------------------------------


def test_error_resp_then_requeue_resends_only_unanswered_parts(store: MessageStore) -> None:
    [mid] = store.accept([new_message(parts_total=3)], T0)
    store.claim(T0, 1)
    for seq in (1, 2, 3):
        store.record_part_submit(mid, seq, T0 + 1, bind="b1", sequence_number=10 + seq)
    store.record_resp(mid, 1, T0 + 2, command_status=0, smsc_message_id="m1")
    out = store.record_resp(mid, 2, T0 + 2, command_status=0x14)
    assert (out.part_state, out.message_state) == (PartState.REJECTED, SG)
    assert store.status(mid).last_error == "command_status 0x00000014"
    # Part 3 never answered (e.g. timed out): the ESME requeues with back-off.
    assert store.requeue(mid, T0 + 3, retry_at=T0 + 63, error="RMSGQFUL") is S
    assert store.claim(T0 + 62, 10).messages == ()
    [again] = store.claim(T0 + 63, 10).messages
    assert (again.id, again.attempt, again.pending_parts) == (mid, 2, (2, 3))
    store.record_part_submit(mid, 2, T0 + 64, bind="b2", sequence_number=99)
    store.record_part_submit(mid, 3, T0 + 64, bind="b2", sequence_number=100)
    store.record_resp(mid, 2, T0 + 65, command_status=0, smsc_message_id="m2")
    out = store.record_resp(mid, 3, T0 + 65, command_status=0, smsc_message_id="m3")
    assert out.message_state is SD
    s = store.status(mid)
    assert s.attempts == 2
    assert [(a.part_seq, a.attempt_no, a.command_status) for a in s.attempt_log] == [
        (1, 1, 0),
        (2, 1, 0x14),
        (3, 1, None),
        (2, 2, 0),
        (3, 2, 0),
    ]
    assert [p.attempt_no for p in s.parts] == [1, 2, 2]


def test_requeue_now_goes_straight_to_queued(store: MessageStore) -> None:
    [mid] = store.accept([new_message()], T0)
    store.claim(T0, 1)
    assert store.requeue(mid, T0 + 1) is Q
    assert store.status(mid).next_attempt_at == T0 + 1
    [again] = store.claim(T0 + 1, 1).messages
    assert again.attempt == 2


def test_release_undoes_a_claim(store: MessageStore) -> None:
    [mid] = store.accept([new_message()], T0)
    store.claim(T0, 1)
    assert store.release(mid, T0 + 1, until=T0 + 3600, reason="quiet hours") is S
    s = store.status(mid)
    assert (s.attempts, s.next_attempt_at, s.last_error) == (0, T0 + 3600, "quiet hours")
    [again] = store.claim(T0 + 3600, 1).messages
    assert again.attempt == 1
    assert store.release(mid, T0 + 3601) is Q


def test_late_rok_after_timeout_requeue_completes_the_message(store: MessageStore) -> None:
    [mid] = store.accept([new_message()], T0)
    store.claim(T0, 1)
    store.record_part_submit(mid, 1, T0, bind="b1", sequence_number=5)
    store.requeue(mid, T0 + 60, retry_at=T0 + 120, error="response timeout")
    out = store.record_resp(mid, 1, T0 + 61, command_status=0, smsc_message_id="late")
    assert out.message_state is SD
    assert store.claim(T0 + 120, 10).messages == ()


def test_finalise_and_cancel(store: MessageStore) -> None:
    a, b, c = store.accept([new_message(), new_message(), new_message()], T0)
    store.cancel(a, T0 + 1)
    assert _state(store, a) is MessageState.CANCELLED
    store.claim(T0, 1)  # claims b
    assert store.finalise(b, MessageState.FAILED, T0 + 2, error="ESME_RINVDSTADR") is SG
    s = store.status(b)
    assert (s.state, s.last_error, s.done_at) == (MessageState.FAILED, "ESME_RINVDSTADR", T0 + 2)
    store.defer(c, T0 + 10, T0)
    assert _state(store, c) is S
    store.defer(c, T0, T0 + 1)  # a time already past: due now
    assert (_state(store, c), store.status(c).next_attempt_at) == (Q, T0 + 1)
    store.defer(c, T0, T0 + 2)
    assert _state(store, c) is Q
    store.finalise(c, MessageState.EXPIRED, T0 + 3)
    assert store.counts()[MessageState.EXPIRED] == 1


# --- illegal transitions raise and change nothing ----------------------------------------------


def test_illegal_transitions_raise_and_change_nothing(store: MessageStore) -> None:
    flying, queued, done = store.accept([new_message(), new_message(), new_message()], T0)
    assert [m.id for m in store.claim(T0, 1).messages] == [flying]
    store.cancel(done, T0)
    before = {i: store.status(i) for i in (queued, flying, done)}

    attempts: list[Callable[[], object]] = [
        lambda: store.cancel(flying, T0 + 1),  # in flight
        lambda: store.requeue(queued, T0 + 1),  # not claimed
        lambda: store.release(queued, T0 + 1),
        lambda: store.record_part_submit(queued, 1, T0 + 1),
        lambda: store.record_resp(flying, 1, T0 + 1, command_status=0, smsc_message_id="x"),
        lambda: store.defer(flying, T0 + 60, T0 + 1),
        lambda: store.finalise(done, MessageState.FAILED, T0 + 1),
        lambda: store.finalise(queued, MessageState.DELIVERED, T0 + 1),
        lambda: store.cancel(done, T0 + 1),
    ]
    for attempt in attempts:
        with pytest.raises(IllegalTransitionError):
            attempt()
    assert {i: store.status(i) for i in (queued, flying, done)} == before


def test_part_level_errors(store: MessageStore) -> None:
    mid = _submitted(store, ["a1"])
    with pytest.raises(IllegalTransitionError):  # duplicate response
        store.record_resp(mid, 1, T0 + 9, command_status=0, smsc_message_id="a1")
    [other] = store.accept([new_message(parts_total=2)], T0)
    store.claim(T0, 1)
    with pytest.raises(StoreError, match="no part 3"):
        store.record_part_submit(other, 3, T0)
    store.record_part_submit(other, 1, T0)
    with pytest.raises(StoreError, match="without a message_id"):
        store.record_resp(other, 1, T0, command_status=0, smsc_message_id="  ")
    store.record_resp(other, 1, T0, command_status=0, smsc_message_id="b1")
    with pytest.raises(IllegalTransitionError):  # an accepted part is never resent
        store.record_part_submit(other, 1, T0)
    with pytest.raises(ValueError, match="terminal"):
        store.finalise(other, MessageState.QUEUED, T0)


def test_release_after_a_part_was_sent_is_illegal(store: MessageStore) -> None:
    [mid] = store.accept([new_message()], T0)
    store.claim(T0, 1)
    store.record_part_submit(mid, 1, T0)
    with pytest.raises(IllegalTransitionError, match="requeue"):
        store.release(mid, T0 + 1)
    assert store.status(mid).attempts == 1


def test_unknown_message(store: MessageStore) -> None:
    with pytest.raises(UnknownMessageError) as info:
        store.status(404)
    assert info.value.message_id == 404
    for call in (
        lambda: store.cancel(404, T0),
        lambda: store.requeue(404, T0),
        lambda: store.record_part_submit(404, 1, T0),
        lambda: store.record_resp(404, 1, T0, command_status=0, smsc_message_id="z"),
    ):
        with pytest.raises(UnknownMessageError):
            call()


# --- receipts ----------------------------------------------------------------------------------


def test_receipt_before_resp_is_matched_when_resp_lands(store: MessageStore) -> None:
    [mid] = store.accept([new_message()], T0)
    store.claim(T0, 1)
    store.record_part_submit(mid, 1, T0)
    early = store.record_receipt("0000ABC", "DELIVRD", T0 + 0.5)
    assert early.status is ReceiptStatus.PENDING
    assert store.receipt_counts()[ReceiptStatus.PENDING] == 1
    out = store.record_resp(mid, 1, T0 + 1, command_status=0, smsc_message_id="abc")
    assert out.receipts_applied == 1
    assert out.message_state is MessageState.DELIVERED
    counts = store.receipt_counts()
    assert (counts[ReceiptStatus.PENDING], counts[ReceiptStatus.MATCHED]) == (0, 1)
    [part] = store.status(mid).parts
    assert part.receipt_at == T0 + 0.5


def test_early_receipt_for_one_part_of_many(store: MessageStore) -> None:
    [mid] = store.accept([new_message(parts_total=2)], T0)
    store.claim(T0, 1)
    store.record_part_submit(mid, 1, T0)
    store.record_part_submit(mid, 2, T0)
    store.record_receipt("p2", "DELIVRD", T0 + 0.1)
    store.record_resp(mid, 2, T0 + 0.2, command_status=0, smsc_message_id="p2")
    out = store.record_resp(mid, 1, T0 + 0.3, command_status=0, smsc_message_id="p1")
    assert out.message_state is SD
    assert store.record_receipt("p1", "DELIVRD", T0 + 1).message_state is MessageState.DELIVERED


def test_duplicate_receipts_are_idempotent(store: MessageStore) -> None:
    mid = _submitted(store, ["d1"])
    first = store.record_receipt("d1", "DELIVRD", T0 + 5)
    snapshot = store.status(mid)
    again = store.record_receipt("d1", "DELIVRD", T0 + 6)
    contrary = store.record_receipt("D1", "UNDELIV", T0 + 7)
    assert first.status is ReceiptStatus.MATCHED
    assert again.status is contrary.status is ReceiptStatus.DUPLICATE
    assert store.status(mid) == snapshot
    assert store.receipt_counts()[ReceiptStatus.DUPLICATE] == 2


def test_a_reused_smsc_id_matches_the_part_answered_last(store: MessageStore) -> None:
    first = _submitted(store, ["r1"])  # answered at T0 + 2.1
    assert store.record_receipt("r1", "DELIVRD", T0 + 3).message_id == first
    [second] = store.accept([new_message()], T0 + 4)
    store.claim(T0 + 5, 10, bind="b1")
    store.record_part_submit(second, 1, T0 + 6, bind="b1", sequence_number=9)
    store.record_resp(second, 1, T0 + 7, command_status=0, smsc_message_id="R1")
    outcome = store.record_receipt("r1", "UNDELIV", T0 + 8)  # the SMSC reused the id
    assert (outcome.status, outcome.message_id) == (ReceiptStatus.MATCHED, second)
    assert outcome.message_state is MessageState.FAILED
    assert _state(store, first) is MessageState.DELIVERED


def test_unmatched_receipts_are_kept_and_counted(store: MessageStore, db_path: Path) -> None:
    store.record_receipt("nobody", "DELIVRD", T0, raw="id:nobody stat:DELIVRD")
    store.record_receipt("late", "DELIVRD", T0 + 1)
    assert store.sweep_receipts(T0 + 300, older_than=300) == 1
    counts = store.receipt_counts()
    assert (counts[ReceiptStatus.UNMATCHED], counts[ReceiptStatus.PENDING]) == (1, 1)
    raw = sqlite3.connect(db_path).execute(
        "SELECT raw, status FROM receipts WHERE smsc_message_id = 'nobody'"
    )
    assert raw.fetchone() == ("id:nobody stat:DELIVRD", "unmatched")
    # An unmatched receipt still matches if its response turns up after all.
    [mid] = store.accept([new_message()], T0)
    store.claim(T0, 1)
    store.record_part_submit(mid, 1, T0)
    out = store.record_resp(mid, 1, T0 + 400, command_status=0, smsc_message_id="nobody")
    assert out.message_state is MessageState.DELIVERED
    assert store.receipt_counts()[ReceiptStatus.UNMATCHED] == 0


def test_normalisation_is_pluggable_per_side(db_path: Path, writer: Any) -> None:
    # SMSC writes hex in submit_sm_resp and decimal in receipts (Kannel msg-id-type 0x01).
    # Module-level functions (and partials of them): the writer process can receive them.
    with MessageStore(
        db_path,
        synchronous="NORMAL",
        normalize=_hex_to_dec,
        normalize_receipt=functools.partial(_dec, base=10),
        writer=writer,
    ) as store:
        mid = _submitted(store, ["1F"])
        assert store.record_receipt("0031", "DELIVRD", T0 + 9).message_id == mid


def test_process_writer_refuses_a_normaliser_it_cannot_send(db_path: Path) -> None:
    with pytest.raises(GatewayConfigError, match=r"normalize_receipt.*module-level"):
        MessageStore(db_path, normalize_receipt=lambda raw: raw, writer="process")
    with pytest.raises(GatewayConfigError, match="writer"):
        MessageStore(db_path, writer="fiber")  # type: ignore[arg-type]
    # The thread writer takes any callable.
    with MessageStore(db_path, normalize=lambda raw: raw.upper()) as store:
        assert store.writer_pid is None


def test_default_normalize() -> None:
    assert default_normalize(" 00AbC ") == "abc"
    assert default_normalize("000") == "0"
    assert default_normalize("  ") == ""


def test_receipt_with_empty_id_never_matches(store: MessageStore) -> None:
    assert store.record_receipt("   ", "DELIVRD", T0).status is ReceiptStatus.PENDING


# --- MO and suppression ------------------------------------------------------------------------


def test_mo_links_to_last_message_sent_to_that_number(store: MessageStore) -> None:
    first = _submitted(store, ["s1"], source="SHOP")
    second = _submitted(store, ["s2"], source="BANK")
    store.accept([new_message(source="BANK")], T0 + 5)  # queued, never sent: not a candidate
    assert store.record_mo("09012345678", "BANK", "STOP", T0 + 9).linked_message_id == second
    assert store.record_mo("09012345678", "SHOP", "?", T0 + 9).linked_message_id == first
    assert store.record_mo("09012345678", "OTHER", "hi", T0 + 9).linked_message_id == second
    assert store.record_mo("09099999999", "SHOP", "hi", T0 + 9).linked_message_id is None
    mos = store.list_mo(source="09012345678")
    assert [m.text for m in mos] == ["STOP", "?", "hi"]
    assert mos[0].received_at == T0 + 9


def test_suppression_list(store: MessageStore) -> None:
    assert not store.is_suppressed("09012345678")
    store.suppress("09012345678", "opt_out", T0)
    store.suppress("09012345678", "owner_changed", T0 + 5)
    entry = store.suppression("09012345678")
    assert entry is not None
    assert (entry.reason, entry.at) == ("owner_changed", T0)
    store.suppress("09000000000", "opt_out", T0)
    wanted = ["09012345678", "09011111111", "09000000000", "09012345678"]
    assert store.suppressed_among(wanted) == {"09012345678", "09000000000"}
    assert store.unsuppress("09000000000")
    assert not store.unsuppress("09000000000")
    assert not store.is_suppressed("09000000000")


# --- reads -------------------------------------------------------------------------------------


def test_list_messages_filters_and_pages(store: MessageStore) -> None:
    ids = store.accept(
        [new_message(campaign_id="c1", client_ref=f"r{i}") for i in range(5)]
        + [new_message("09055555555", campaign_id="c2")],
        T0,
    )
    store.claim(T0, 2)
    page1 = store.list_messages(campaign_id="c1", limit=2)
    page2 = store.list_messages(campaign_id="c1", after_id=page1[-1].id, limit=10)
    assert [m.id for m in page1 + page2] == ids[:5]
    assert [m.id for m in store.list_messages(state=SG)] == ids[:2]
    assert [m.id for m in store.list_messages(destination="09055555555")] == [ids[5]]
    assert [m.id for m in store.list_messages(client_ref="r3")] == [ids[3]]


def test_counters_match_group_by(store: MessageStore, db_path: Path) -> None:
    ids = store.accept([new_message(parts_total=1) for _ in range(8)], T0)
    store.claim(T0, 4)
    store.cancel(ids[5], T0)
    store.defer(ids[6], T0 + 99, T0)
    store.record_part_submit(ids[0], 1, T0)
    store.record_resp(ids[0], 1, T0, command_status=0, smsc_message_id="q")
    store.record_receipt("q", "UNDELIV", T0)
    store.finalise(ids[1], MessageState.FAILED, T0)
    store.requeue(ids[2], T0, retry_at=T0 + 5)
    raw = sqlite3.connect(db_path)
    actual = dict(raw.execute("SELECT state, COUNT(*) FROM messages GROUP BY state").fetchall())
    assert {k.value: v for k, v in store.counts().items() if v} == actual
    assert sum(store.counts().values()) == 8


# --- lifecycle, crash recovery -----------------------------------------------------------------


def test_crash_recovery_requeues_submitting(db_path: Path, writer: Any) -> None:
    store = MessageStore(db_path, synchronous="NORMAL", writer=writer)
    a, b, c = store.accept([new_message(parts_total=2), new_message(), new_message()], T0)
    store.claim(T0, 2)  # a and b in flight
    store.record_part_submit(a, 1, T0, bind="b1", sequence_number=1)
    store.record_part_submit(a, 2, T0, bind="b1", sequence_number=2)
    store.record_resp(a, 1, T0 + 1, command_status=0, smsc_message_id="a1")
    store.close()  # "crash": nothing was finalised

    with MessageStore(db_path, synchronous="NORMAL", writer=writer) as reopened:
        assert reopened.counts()[SG] == 2
        report = reopened.recover(T0 + 100)
        assert report.requeued == (a, b)
        assert report.parts_in_doubt == 1  # a's part 2: sent, no response
        assert reopened.counts()[SG] == 0
        status = reopened.status(a)
        assert (status.state, status.recoveries) == (Q, 1)
        assert "restart" in (status.last_error or "")
        assert status.attempt_log[1].error == "no response before restart"
        claimed = {m.id: m for m in reopened.claim(T0 + 100, 10).messages}
        assert claimed[a].pending_parts == (2,)  # part 1 had ESME_ROK: never resent
        assert claimed[a].attempt == 2
        assert set(claimed) == {a, b, c}
        assert reopened.recover(T0 + 101).requeued == (a, b, c)


def test_closed_store_refuses_work(db_path: Path, writer: Any) -> None:
    store = MessageStore(db_path, writer=writer)
    assert store.counts()[MessageState.QUEUED] == 0  # this thread now has a read connection
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreClosedError):
        store.accept([new_message()], T0)
    with pytest.raises(StoreClosedError):
        store.status(1)


def test_refuses_memory_and_unknown_schema(tmp_path: Path, writer: Any) -> None:
    with pytest.raises(StoreError, match="memory"):
        MessageStore(":memory:", writer=writer)
    path = tmp_path / "future.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    # In process mode the child's error comes back with its type and message.
    with pytest.raises(StoreError, match="schema version 99"):
        MessageStore(path, writer=writer)


def test_reopen_keeps_everything(db_path: Path, writer: Any) -> None:
    with MessageStore(db_path, writer=writer) as first:
        mid = _submitted(first, ["k1"])
        first.suppress("0901", "opt_out", T0)
    with MessageStore(db_path, writer=writer) as second:
        assert second.status(mid).state is SD
        assert second.is_suppressed("0901")
        assert second.record_receipt("k1", "DELIVRD", T0 + 9).message_id == mid
        assert second.accept([new_message()], T0) == [mid + 1]
