"""The receipt timeout: a submitted message whose final receipts never come ends as ``unknown``
(`MessageStore.time_out_receipts`, `Gateway.maintain`, `receipts.receipt_timeout`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.config import config_from_dict
from gateway.gateway import Gateway, open_store
from gateway.store import TERMINAL_STATES, MessageState, MessageStore, PartState, ReceiptStatus
from sms.bus import InMemoryBus, MessageFinal, ReceiptReceived
from sms.clock import ManualClock
from tests.unit.gateway.conftest import T0, new_message
from tests.unit.gateway.test_store import _submitted


def test_submitted_messages_without_final_receipts_become_unknown(store: MessageStore) -> None:
    quiet = _submitted(store, ["a1"])  # responded at T0 + 2.1, no validity
    answered = _submitted(store, ["b1"])
    with_validity = _submitted(store, ["c1"], validity_deadline=T0 + 100)
    two_parts = _submitted(store, ["d1", "d2"])
    store.record_receipt("b1", "DELIVRD", T0 + 5)
    store.record_receipt("d1", "DELIVRD", T0 + 5)  # the other part never reports

    assert store.time_out_receipts(T0 + 50, 50.0) == []
    assert store.time_out_receipts(T0 + 52.1, 50.0) == [quiet, two_parts]
    assert store.time_out_receipts(T0 + 149, 50.0) == []
    assert store.time_out_receipts(T0 + 150, 50.0) == [with_validity]

    assert MessageState.UNKNOWN in TERMINAL_STATES
    status = store.status(two_parts)
    assert status.state is MessageState.UNKNOWN
    assert status.last_error == "no final receipt within 50 s"
    assert [p.state for p in status.parts] == [PartState.DELIVERED, PartState.SUBMITTED]
    assert store.status(answered).state is MessageState.DELIVERED
    counts = store.counts()
    assert counts[MessageState.UNKNOWN] == 3
    assert counts[MessageState.SUBMITTED] == 0
    # A late receipt updates its part; the message state is absorbing.
    store.record_receipt("a1", "DELIVRD", T0 + 200)
    assert store.status(quiet).state is MessageState.UNKNOWN
    assert store.status(quiet).parts[0].state is PartState.DELIVERED


@pytest.mark.asyncio
async def test_maintenance_publishes_unknown_finals(tmp_path: Path) -> None:
    config = config_from_dict(
        {
            "binds": [{"name": "b", "system_id": "esme"}],
            "store": {"synchronous": "NORMAL"},
            "receipts": {"receipt_timeout": 30},
        }
    )
    store = open_store(config, path=tmp_path / "g.db")
    bus = InMemoryBus()
    clock = ManualClock(T0 + 10)
    try:
        mid = _submitted(store, ["a1"])
        async with bus.subscribe("smsh/v1/gateway/#") as sub:
            gateway = Gateway(config, store, bus, clock)
            await gateway.maintain()
            assert (await gateway.status(mid)).state is MessageState.SUBMITTED
            clock.advance(30)
            await gateway.maintain()
            finals: list[MessageFinal] = []
            async with asyncio.timeout(5):
                while not finals:
                    _topic, event = await anext(aiter(sub))
                    if isinstance(event, MessageFinal):
                        finals.append(event)
        assert (await gateway.status(mid)).state is MessageState.UNKNOWN
        assert [(f.message_id, f.state, f.reason) for f in finals] == [
            (str(mid), "unknown", "no final receipt within 30 s")
        ]
    finally:
        await bus.close()
        store.close()


def test_pending_receipts_are_reported_once_when_matched_or_swept(store: MessageStore) -> None:
    [early, swept] = store.accept([new_message(), new_message()], T0)
    store.claim(T0, 10, bind="b1")
    for mid in (early, swept):
        store.record_part_submit(mid, 1, T0 + 1, bind="b1", sequence_number=mid)
    assert store.record_receipt("e1", "DELIVRD", T0 + 2).status is ReceiptStatus.PENDING
    assert store.record_receipt("s1", "UNDELIV", T0 + 2, err="001").status is (
        ReceiptStatus.PENDING
    )
    outcome = store.record_resp(early, 1, T0 + 3, command_status=0, smsc_message_id="e1")
    assert outcome.receipts_applied == 1
    assert outcome.pending_matched == (("DELIVRD", None),)
    assert outcome.message_state is MessageState.DELIVERED

    assert store.sweep_receipts(T0 + 100, 10.0) == 1  # s1 is now unmatched (reported then)
    late = store.record_resp(swept, 1, T0 + 101, command_status=0, smsc_message_id="s1")
    assert late.receipts_applied == 1
    assert late.pending_matched == ()  # already reported as unmatched by the sweep
    assert late.message_state is MessageState.FAILED


@pytest.mark.asyncio
async def test_the_pending_sweep_publishes_unmatched_receipts(tmp_path: Path) -> None:
    config = config_from_dict(
        {
            "binds": [{"name": "b", "system_id": "esme"}],
            "store": {"synchronous": "NORMAL"},
            "receipts": {"pending_expiry": 60},
        }
    )
    store = open_store(config, path=tmp_path / "g.db")
    bus = InMemoryBus()
    clock = ManualClock(T0)
    try:
        store.record_receipt("x9", "DELIVRD", T0)
        async with bus.subscribe("smsh/v1/gateway/#") as sub:
            gateway = Gateway(config, store, bus, clock)
            clock.advance(61)
            await gateway.maintain()
            seen: list[ReceiptReceived] = []
            async with asyncio.timeout(5):
                while not seen:
                    _topic, event = await anext(aiter(sub))
                    if isinstance(event, ReceiptReceived):
                        seen.append(event)
        assert [(e.message_id, e.smsc_message_id, e.stat) for e in seen] == [
            (None, "x9", "DELIVRD")
        ]
        assert gateway.unmatched_receipts == 1
    finally:
        await bus.close()
        store.close()
