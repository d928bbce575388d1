"""Vendor TLVs in the gateway: which TLVs a message gets (`gateway.gateway.message_tlvs`), how
they are stored (`gateway.store`, schema v2) and how they are written (`RawOptionalParam`)."""

from __future__ import annotations

import sqlite3
import struct
from datetime import date
from pathlib import Path

import pytest

from gateway.esme import RawOptionalParam, Ticket, build_attempt
from gateway.gateway import message_tlvs
from gateway.routing import RejectReason, SubmitRejected
from gateway.store import SCHEMA_VERSION, MessageState, MessageStore
from sms.harness import harness_tlvs
from sms.segments import Method, plan
from tests.unit.gateway.conftest import T0, new_message
from tests.unit.gateway.test_esme_adapters import DST, SRC, claimed

OWNER_TLV = (0x1501, "山田".encode() + b"\x00")


def test_caller_tlvs_are_kept_in_order_and_win_over_derivation() -> None:
    mine = [(0x1600, b"\x01\x02"), OWNER_TLV]
    got = message_tlvs(mine, derive=True, client_ref="k", metadata={"owner": "x"})
    assert got == ((0x1600, b"\x01\x02"), OWNER_TLV)


def test_harness_tlvs_are_derived_from_client_ref_and_metadata() -> None:
    got = message_tlvs(
        (), derive=True, client_ref="k-1", metadata={"owner": "alice", "obtained": "2020-05-01"}
    )
    assert got == harness_tlvs("k-1", "alice", date(2020, 5, 1))
    assert [tag for tag, _ in got] == [0x1500, 0x1501, 0x1502]
    assert message_tlvs((), derive=True, client_ref=None, metadata=None) == ()
    assert message_tlvs((), derive=False, client_ref="k-1", metadata={"owner": "a"}) == ()


@pytest.mark.parametrize(
    ("tlvs", "metadata", "needle"),
    [
        ([(0x020C, b"\x00\x01")], None, "written by the gateway"),
        ([(0x0424, b"x")], None, "written by the gateway"),
        ([(0x10000, b"x")], None, "out of range"),
        ([(0x1600, b"x" * 0x10000)], None, "longer than 65535"),
        ((), {"obtained": "last spring"}, "not an ISO date"),
    ],
)
def test_bad_tlvs_are_refused_as_invalid_request(
    tlvs: list[tuple[int, bytes]], metadata: dict[str, str] | None, needle: str
) -> None:
    with pytest.raises(SubmitRejected, match=needle) as caught:
        message_tlvs(tlvs, derive=True, client_ref="k", metadata=metadata)
    assert caught.value.reason is RejectReason.INVALID_REQUEST


def test_raw_optional_param_writes_octets_as_given() -> None:
    param = RawOptionalParam(0x1501, "山田".encode() + b"\x00")
    assert param.tlv == struct.pack("!HH", 0x1501, 7) + "山田".encode() + b"\x00"
    assert param.length == 7
    assert RawOptionalParam(0x1600, b"").tlv == b"\x16\x00\x00\x00"


def test_every_part_pdu_carries_the_tlvs_after_the_sar_ones() -> None:
    text = "x" * 400
    planned = plan(text, "generic", method=Method.SAR, reference=7)
    message = claimed(parts=len(planned.parts))._replace(tlvs=(OWNER_TLV, (0x1600, b"\xff")))
    _attempt, tickets = build_attempt(
        message, planned, route="r", destination=DST, source=SRC, registered_delivery=True
    )
    assert len(tickets) == 3
    wanted = struct.pack("!HH", 0x1501, 7) + OWNER_TLV[1] + b"\x16\x00\x00\x01\xff"
    for t in tickets:
        assert isinstance(t, Ticket)
        pdu = t.submit_sm().pdu()
        assert pdu.endswith(wanted)
        assert struct.pack("!HHB", 0x020F, 1, t.part) in pdu  # sar_segment_seqnum still there


def test_store_keeps_tlvs_across_reopen(db_path: Path) -> None:
    tlvs = (OWNER_TLV, (0x1600, b"\x00\x00"))
    with MessageStore(db_path, synchronous="NORMAL") as store:
        with_tlvs, without = store.accept([new_message(tlvs=tlvs), new_message()], T0)
    with MessageStore(db_path, synchronous="NORMAL") as store:
        batch = store.claim(T0, 10)
    by_id = {m.id: m for m in batch.messages}
    assert by_id[with_tlvs].tlvs == tlvs
    assert by_id[without].tlvs == ()


def test_new_message_refuses_oversized_tlvs() -> None:
    with pytest.raises(ValueError, match="2 octets"):
        new_message(tlvs=((0x1600, b"x" * 0x10000),))


def test_a_version_1_store_is_migrated(db_path: Path) -> None:
    with MessageStore(db_path, synchronous="NORMAL") as store:
        old = store.accept([new_message()], T0)[0]
    conn = sqlite3.connect(db_path)
    conn.execute("ALTER TABLE messages DROP COLUMN tlvs")  # the v1 layout
    conn.execute("DROP INDEX idx_messages_submitted")
    conn.execute("DELETE FROM counters WHERE kind = 'message' AND key IN ('unknown', 'rejected')")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with MessageStore(db_path, synchronous="NORMAL") as store:
        new = store.accept([new_message(tlvs=(OWNER_TLV,))], T0)[0]
        batch = store.claim(T0, 10)
        counts = store.counts()
    assert {m.id: m.tlvs for m in batch.messages} == {old: (), new: (OWNER_TLV,)}
    assert counts[MessageState.UNKNOWN] == counts[MessageState.REJECTED] == 0
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    conn.close()


def test_a_version_2_store_is_migrated_and_counts_rejected(db_path: Path) -> None:
    with MessageStore(db_path, synchronous="NORMAL") as store:
        store.accept([new_message()], T0)
    conn = sqlite3.connect(db_path)
    conn.execute("DELETE FROM counters WHERE kind = 'message' AND key = 'rejected'")  # v2
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    with MessageStore(db_path, synchronous="NORMAL") as store:
        [msg] = store.claim(T0, 10).messages
        store.record_part_submit(msg.id, 1, T0 + 1, bind="b1", sequence_number=1)
        store.record_resp(msg.id, 1, T0 + 2, command_status=0, smsc_message_id="r1")
        outcome = store.record_receipt("r1", "REJECTD", T0 + 3)
        counts = store.counts()
    assert outcome.message_state is MessageState.REJECTED
    assert counts[MessageState.REJECTED] == 1
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
