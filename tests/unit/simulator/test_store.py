"""simulator.store: ids, SMPP times, semantic checks (rows 18, 19), the store, receipts, MO,
delivery queues."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from simulator.config import DeliveryConfig, MessageIdConfig, StoreConfig
from simulator.smpp.constants import CommandStatus as S
from simulator.smpp.constants import MessageState, Tag
from simulator.smpp.pdu import DeliverSm
from simulator.store import (
    CheckedTimes,
    Delivery,
    DeliveryQueues,
    IdGenerator,
    MessageRecord,
    MessageStore,
    check_address,
    check_message,
    format_smpp_time,
    mo_pdus,
    parse_smpp_time,
    preview_text,
    receipt_pdu,
    split_user_data,
    wants_receipt,
)
from sms.receipt import parse_receipt
from sms.udh import Concat

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("settings", "first", "second"),
    [
        ({"format": "decimal"}, "1", "2"),
        ({"format": "padded_decimal", "width": 8}, "00000001", "00000002"),
        ({"format": "hex", "width": 6, "start": 255}, "0000ff", "000100"),
        ({"format": "hex", "width": 4, "uppercase": True, "start": 0xAB}, "00AB", "00AC"),
        ({"format": "decimal", "prefix": "S1-", "start": 9}, "S1-9", "S1-10"),
    ],
)
def test_id_formats(settings: dict[str, object], first: str, second: str) -> None:
    ids = IdGenerator(MessageIdConfig.model_validate(settings))
    assert (ids(), ids()) == (first, second)


def test_uuid_ids_are_reproducible() -> None:
    a = IdGenerator(MessageIdConfig(format="uuid", seed=3))
    b = IdGenerator(MessageIdConfig(format="uuid", seed=3))
    first = a()
    assert first == b()
    assert len(first) == 36
    assert first[14] == "4"
    assert a() != first


def test_smpp_times() -> None:
    assert parse_smpp_time("", T0) is None
    assert parse_smpp_time("260101090000000+", 0.0) == T0
    assert parse_smpp_time("260101180000036+", 0.0) == T0  # 18:00 at UTC+9
    assert parse_smpp_time("000000010000000R", T0) == T0 + 3600
    assert parse_smpp_time("000001000000000R", T0) == T0 + 86400
    for bad in ("2601010900000000", "26010109000000+", "261301090000000+", "26010109000000x+"):
        with pytest.raises(ValueError):
            parse_smpp_time(bad, T0)
    assert format_smpp_time(T0) == "260101090000000+"
    assert parse_smpp_time(format_smpp_time(T0 + 0.5), 0.0) == T0 + 0.5


@pytest.mark.parametrize(
    ("ton", "npi", "address", "source", "status"),
    [
        (1, 1, "8190", True, 0),
        (7, 1, "8190", True, S.ESME_RINVSRCTON),
        (1, 2, "8190", True, S.ESME_RINVSRCNPI),
        (9, 1, "8190", False, S.ESME_RINVDSTTON),
        (1, 5, "8190", False, S.ESME_RINVDSTNPI),
        (1, 1, "", False, S.ESME_RINVDSTADR),
        (5, 0, "", True, 0),  # an empty source is the SMSC default
    ],
)
def test_check_address(ton: int, npi: int, address: str, source: bool, status: int) -> None:
    assert check_address(ton, npi, address, source=source) == status


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({}, 0),
        ({"esm_class": 0x40 | 0x03}, 0),  # UDHI + store-and-forward mode
        ({"esm_class": 0x08}, 0),
        ({"esm_class": 0x04}, S.ESME_RINVESMCLASS),  # receipts come from the SMSC only
        ({"esm_class": 0x20}, S.ESME_RINVESMCLASS),
        ({"priority_flag": 4}, S.ESME_RINVPRTFLG),
        ({"registered_delivery": 0x20}, S.ESME_RINVREGDLVFLG),
        ({"registered_delivery": 0x13}, 0),
        ({"replace_if_present_flag": 2}, S.ESME_RINVREPFLAG),
        ({"data_coding": 0x0B}, S.ESME_RSUBMITFAIL),
        ({"data_coding": 0x0C}, S.ESME_RSUBMITFAIL),
        ({"data_coding": 0x0F}, S.ESME_RSUBMITFAIL),
        ({"data_coding": 0x0F, "smpp5": True}, S.ESME_RINVDCS),
        ({"data_coding": 0x08}, 0),
        ({"schedule_delivery_time": "26130109000000+x"}, S.ESME_RINVSCHED),
        ({"validity_period": "261301090000000+"}, S.ESME_RINVEXPIRY),
        ({"validity_period": "250101090000000+"}, S.ESME_RINVEXPIRY),  # in the past
        ({"validity_period": "000000010000000R"}, 0),
    ],
)
def test_check_message(fields: dict[str, object], status: int) -> None:
    arguments: dict[str, object] = {
        "esm_class": 0,
        "registered_delivery": 1,
        "data_coding": 0,
        "smpp5": False,
        "now": T0,
    }
    arguments.update(fields)
    assert check_message(**arguments) == status  # type: ignore[arg-type]


def test_check_message_resolves_times() -> None:
    times = CheckedTimes()
    status = check_message(
        esm_class=0,
        registered_delivery=1,
        data_coding=0,
        schedule_delivery_time="000000000100000R",
        validity_period="000000010000000R",
        smpp5=False,
        now=T0,
        times=times,
    )
    assert status == 0
    assert times.schedule_at == T0 + 60
    assert times.validity_at == T0 + 3600


def test_split_user_data() -> None:
    udh = Concat(7, 3, 2).to_bytes()
    data = bytes((len(udh),)) + udh + b"body"
    assert split_user_data(data, 0x40, ()) == (data[:6], b"body", Concat(7, 3, 2))
    assert split_user_data(data, 0x00, ()) == (b"", data, None)
    assert split_user_data(b"\x09ab", 0x40, ()) == (b"", b"\x09ab", None)  # UDHL overrun
    sar = ((Tag.SAR_MSG_REF_NUM, b"\x00\x05"), (Tag.SAR_TOTAL_SEGMENTS, b"\x02"),
           (Tag.SAR_SEGMENT_SEQNUM, b"\x01"))  # fmt: skip
    _, body, place = split_user_data(b"hi", 0, sar)
    assert body == b"hi"
    assert place is not None
    assert (place.total, place.seq) == (2, 1)


def test_preview_text() -> None:
    assert preview_text(b"Hello world, this is long", 0) == "Hello world, this is"
    assert preview_text("こんにちは".encode("utf-16-be"), 8) == "?????"
    assert preview_text(b"\xff\xfe", 0x05) == "??"


def record(message_id: str = "1", **fields: object) -> MessageRecord:
    values: dict[str, object] = {
        "message_id": message_id,
        "account": "acme",
        "service_type": "",
        "source_addr_ton": 5,
        "source_addr_npi": 0,
        "source_addr": "ACME",
        "dest_addr_ton": 1,
        "dest_addr_npi": 1,
        "destination_addr": "819012345678",
        "esm_class": 0,
        "registered_delivery": 1,
        "data_coding": 0,
        "body": b"Your bill is due",
        "submitted_at": T0,
    }
    values.update(fields)
    return MessageRecord(**values)  # type: ignore[arg-type]


def test_store_query_finish_and_cancel() -> None:
    store = MessageStore(StoreConfig())
    store.add(record("1"))
    store.add(record("2"))
    assert store.pending == 2
    assert store.pending_for("acme") == 2
    assert store.query("1", "acme", "ACME")[0] == 0
    assert store.query("1", "other", "")[0] == S.ESME_RINVMSGID
    assert store.query("9", "acme", "")[0] == S.ESME_RINVMSGID
    assert store.query("1", "acme", "SPOOF")[0] == S.ESME_RQUERYFAIL
    rec, now_final = store.finish("1", MessageState.UNDELIVERABLE, 27, T0 + 5)
    assert rec is not None
    assert now_final
    assert rec.final
    assert (rec.state, rec.error_code, rec.final_at) == (MessageState.UNDELIVERABLE, 27, T0 + 5)
    assert store.finish("1", MessageState.DELIVERED, 0, T0 + 6) == (rec, False)  # final once
    assert store.cancel("acme", "1", service_type="", source_addr="", destination_addr="",
                        now=T0)[0] == S.ESME_RCANCELFAIL  # fmt: skip
    status, cancelled = store.cancel(
        "acme", "2", service_type="", source_addr="", destination_addr="", now=T0 + 1
    )
    assert status == 0
    assert cancelled[0].state == MessageState.DELETED
    assert cancelled[0].cancelled
    assert store.pending == 0


def test_cancel_by_addresses() -> None:
    store = MessageStore(StoreConfig())
    store.add(record("1"))
    store.add(record("2", destination_addr="819000000000"))
    store.add(record("3", service_type="CMT"))
    status, cancelled = store.cancel(
        "acme", "", service_type="", source_addr="ACME", destination_addr="819012345678", now=T0
    )
    assert status == 0
    assert {r.message_id for r in cancelled} == {"1", "3"}
    assert store.cancel("acme", "", service_type="", source_addr="", destination_addr="nobody",
                        now=T0)[0] == S.ESME_RCANCELFAIL  # fmt: skip


def test_replace() -> None:
    store = MessageStore(StoreConfig())
    store.add(record("1"))
    assert store.replace("acme", "1", source_addr="ACME", body=b"new", registered_delivery=0,
                         schedule_at=None, validity_at=T0 + 60) == 0  # fmt: skip
    rec = store.get("1")
    assert rec is not None
    assert rec.body == b"new"
    assert rec.registered_delivery == 0
    assert rec.validity_at == T0 + 60
    assert store.replace("acme", "1", source_addr="X", body=b"", registered_delivery=0,
                         schedule_at=None, validity_at=None) == S.ESME_RREPLACEFAIL  # fmt: skip
    store.finish("1", MessageState.DELIVERED, 0, T0)
    assert store.replace("acme", "1", source_addr="", body=b"", registered_delivery=0,
                         schedule_at=None, validity_at=None) == S.ESME_RREPLACEFAIL  # fmt: skip
    assert store.replace("acme", "9", source_addr="", body=b"", registered_delivery=0,
                         schedule_at=None, validity_at=None) == S.ESME_RINVMSGID  # fmt: skip


def test_multi_destination_message_is_final_after_all() -> None:
    store = MessageStore(StoreConfig())
    store.add(record("m", destinations=3))
    assert store.finish("m", MessageState.DELIVERED, 0, T0)[1] is False
    assert store.finish("m", MessageState.UNDELIVERABLE, 1, T0)[1] is False
    rec, final = store.finish("m", MessageState.DELIVERED, 0, T0 + 1)
    assert final
    assert rec is not None
    assert rec.state == MessageState.UNDELIVERABLE


def test_store_is_bounded_and_forgets_final_messages_first() -> None:
    store = MessageStore(StoreConfig(capacity=100, max_pending=10))
    for i in range(1000):
        store.add(record(str(i)))
        store.finish(str(i), MessageState.DELIVERED, 0, T0)
    assert len(store) == 100
    assert store.evicted == 900
    assert store.get("999") is not None
    assert store.get("0") is None
    for i in range(10):
        store.add(record(f"p{i}"))
    assert store.full


def test_wants_receipt() -> None:
    delivered, failed = MessageState.DELIVERED, MessageState.UNDELIVERABLE
    assert not wants_receipt(0, delivered)
    assert wants_receipt(1, delivered)
    assert wants_receipt(1, failed)
    assert not wants_receipt(2, delivered)
    assert wants_receipt(2, failed)
    assert wants_receipt(3, delivered)
    assert not wants_receipt(3, failed)
    assert wants_receipt(0x10, MessageState.ENROUTE, intermediate=True)
    assert not wants_receipt(0x01, MessageState.ENROUTE, intermediate=True)


def test_receipt_pdu_is_appendix_b_with_tlvs() -> None:
    pdu = receipt_pdu(record("0000000abc"), stat="UNDELIV", state=5, err=1, done_at=T0 + 120)
    assert pdu.esm_class == 0x04
    assert (pdu.source_addr, pdu.destination_addr) == ("819012345678", "ACME")
    assert (pdu.source_addr_ton, pdu.dest_addr_ton) == (1, 5)
    text = pdu.short_message.decode("ascii")
    assert text == (
        "id:0000000abc sub:001 dlvrd:000 submit date:2601010900 done date:2601010902 "
        "stat:UNDELIV err:001 text:Your bill is due"
    )
    parsed = parse_receipt(text)
    assert parsed.message_id == "0000000abc"
    assert parsed.stat == "UNDELIV"
    assert pdu.receipted_message_id == "0000000abc"
    assert pdu.message_state == 5
    assert pdu.network_error_code == (3, 1)


def test_mo_pdus_udh_sar_payload() -> None:
    text = "Hello " * 40  # 240 GSM-7 characters: two parts
    udh = mo_pdus("819012345678", "12345", text, method="udh8", reference=9)
    assert len(udh) == 2
    assert all(p.esm_class == 0x40 for p in udh)
    assert udh[0].short_message[:6] == bytes((5, 0, 3, 9, 2, 1))
    sar = mo_pdus("819012345678", "12345", text, method="sar", reference=300)
    assert len(sar) == 2
    assert sar[1].sar_msg_ref_num == 300
    assert sar[1].sar_segment_seqnum == 2
    payload = mo_pdus("819012345678", "12345", text, method="payload")
    assert len(payload) == 1
    assert payload[0].message_payload is not None
    ucs2 = mo_pdus("819012345678", "12345", "はい")
    assert ucs2[0].data_coding == 8
    assert ucs2[0].short_message == "はい".encode("utf-16-be")


def delivery(account: str = "acme", n: int = 0) -> Delivery:
    return Delivery(account, DeliverSm(short_message=str(n).encode()), "receipt")


def test_delivery_queues_capacity_drops_the_oldest() -> None:
    queues = DeliveryQueues(DeliveryConfig())
    for i in range(5):
        assert queues.push(delivery(n=i), capacity=3) is None or i >= 3
    assert queues.queued("acme") == 3
    assert queues.dropped == 2
    first = queues.pop("acme")
    assert first is not None
    assert first.pdu.short_message == b"2"


def test_delivery_queues_retry_and_attempts() -> None:
    queues = DeliveryQueues(DeliveryConfig(retry_delay_s=5, max_attempts=2))
    item = delivery()
    item.attempts = 1
    assert queues.retry(item, 0.0)
    assert queues.queued("acme") == 1
    assert queues.pop("acme") is None
    assert queues.next_retry() == 5.0
    assert queues.due(4.9) == set()
    assert queues.due(5.0) == {"acme"}
    assert queues.pop("acme") is item
    item.attempts = 2
    assert not queues.retry(item, 5.0)
    assert queues.dropped == 1


def test_delivery_queues_drain() -> None:
    queues = DeliveryQueues(DeliveryConfig())
    queues.push(delivery("a"), 10)
    queues.push(delivery("b"), 10)
    late = delivery("a")
    late.attempts = 1
    queues.retry(late, 0.0)
    assert len(queues.drain(["a"])) == 2
    assert queues.total == 1
