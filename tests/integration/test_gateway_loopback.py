"""The gateway against bench.fast_smsc over 127.0.0.1: encodings, segmentation methods, flow
control, receipts, MO and restarts. Each test owns a fresh SMSC, store file and gateway."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from bench.fast_smsc import FastSmsc, SubmitRecord
from gateway.config import GatewayConfig, config_from_dict
from gateway.gateway import Gateway, SubmitRequest, open_store, reference_for
from gateway.routing import RejectReason, SubmitRejected
from gateway.store import (
    TERMINAL_STATES,
    MessageState,
    MessageStatus,
    MessageStore,
    NewMessage,
    ReceiptStatus,
)
from sms.alphabet import encode_gsm7
from sms.bus import BindStateChanged, Event, InMemoryBus, MessageFinal, MetricsSnapshot, Throttled
from sms.bus.events import SubmitTimedOut
from sms.segments import Method, Reassembler, Sar
from sms.udh import Concat, split_udh

pytestmark = pytest.mark.asyncio

TIMEOUT = 20.0
JP_670 = ("あいうえおかきくけこ" * 67)[:670]


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def make_config(port: int, bind: dict[str, Any] | None = None, **extra: Any) -> GatewayConfig:
    """A test configuration: one transceiver bind, fast timers, NORMAL sync."""
    bind_cfg = {
        "name": "b",
        "port": port,
        "system_id": "esme",
        "password": "pw",
        "window": 10,
        "response_timeout": 5.0,
        "reconnect": {"base": 0.05, "factor": 2.0, "cap": 0.5},
    }
    data: dict[str, Any] = {
        "binds": [_merge(bind_cfg, bind or {})],
        "routes": [{"name": "default", "default_sender": "SENDER"}],
        "store": {"synchronous": "NORMAL"},
        "throttle": {"backoff": {"base": 0.05, "factor": 2.0, "cap": 0.2}},
        "dispatch": {"poll_interval": 0.05, "maintenance_interval": 0.1},
        "retry": {
            "timeout": {"action": "retry_later", "max_attempts": 3, "backoff": {"base": 0.1}}
        },
    }
    return config_from_dict(_merge(data, extra))


class Events:
    """Collects every event published by the gateway."""

    def __init__(self) -> None:
        self.items: list[Event] = []

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.items if isinstance(e, kind)]

    async def run(self, bus: InMemoryBus, ready: asyncio.Event) -> None:
        async with bus.subscribe("smsh/v1/gateway/#", maxsize=1_000_000) as sub:
            ready.set()
            async for _topic, event in sub:
                self.items.append(event)


@contextlib.asynccontextmanager
async def running(
    db: Path, config: GatewayConfig, events: Events | None = None
) -> AsyncIterator[Gateway]:
    """A started gateway on `db` (stopped and its store closed afterwards)."""
    store = open_store(config, path=db)
    bus = InMemoryBus()
    collector: asyncio.Task[None] | None = None
    if events is not None:
        ready = asyncio.Event()
        collector = asyncio.create_task(events.run(bus, ready))
        await ready.wait()
    try:
        async with Gateway(config, store, bus) as gateway:
            yield gateway
    finally:
        await bus.close()
        if collector is not None:
            await collector
        store.close()


async def wait_for(predicate: Callable[[], Any], what: str = "condition") -> None:
    """Poll an (async or sync) predicate until true."""
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        await asyncio.sleep(0.02)


async def final(gateway: Gateway, ids: Iterable[int]) -> list[MessageStatus]:
    """Wait until every message is terminal; returns their statuses."""
    wanted = list(ids)

    async def done() -> bool:
        for i in wanted:
            if (await gateway.status(i)).state not in TERMINAL_STATES:
                return False
        return True

    await wait_for(done)
    return [await gateway.status(i) for i in wanted]


def reassemble(records: list[SubmitRecord]) -> list[str]:
    """Rebuild texts from submit records as a handset would (UDH, SAR or payload)."""
    handset = Reassembler()
    out: list[str] = []
    for r in records:
        part: Concat | Sar | None = None
        body = r.short_message
        if r.message_payload is not None:
            body = r.message_payload
        elif r.esm_class & 0x40:
            udh, body = split_udh(r.short_message)
            part = udh.concat
        elif r.sar is not None:
            part = Sar(*r.sar)
        for message in handset.add(
            r.source, r.destination, part, body, 0.0, data_coding=r.data_coding
        ):
            out.append(message.text)
    return out


# -- encodings and segmentation ---------------------------------------------------------------


async def test_gsm7_single_part_is_delivered_with_the_exact_octets(tmp_path: Path) -> None:
    events = Events()
    async with asyncio.timeout(TIMEOUT), FastSmsc(receipt_delay=0.01) as smsc:
        async with running(tmp_path / "g.db", make_config(smsc.port), events) as gw:
            mid = await gw.submit("090-1234-5678", "Hello {world} €5", client_ref="r1")
            (status,) = await final(gw, [mid])
        (record,) = smsc.submits
        assert status.state is MessageState.DELIVERED
        assert record.data_coding == 0x00
        assert record.esm_class == 0x00
        assert record.short_message == encode_gsm7("Hello {world} €5")
        assert (record.destination, record.dest_ton) == ("819012345678", 1)
        assert (record.source, record.source_ton) == ("SENDER", 5)
        assert record.registered_delivery == 1
        assert status.parts[0].smsc_message_id == record.message_id
        finals = events.of(MessageFinal)
        assert [(f.message_id, f.state, f.message_key) for f in finals] == [
            (str(mid), "delivered", "r1")
        ]


async def test_ucs2_text_goes_out_as_utf16be(tmp_path: Path) -> None:
    async with (
        asyncio.timeout(TIMEOUT),
        FastSmsc(receipt_delay=0.01) as smsc,
        running(tmp_path / "g.db", make_config(smsc.port)) as gw,
    ):
        mid = await gw.submit("09012345678", "こんにちは、世界")
        (status,) = await final(gw, [mid])
    (record,) = smsc.submits
    assert status.state is MessageState.DELIVERED
    assert record.data_coding == 0x08
    assert record.short_message == "こんにちは、世界".encode("utf-16-be")


@pytest.mark.parametrize(
    ("method", "profile", "parts"),
    [
        ("udh16", "generic", 11),
        ("sar", "jp-au", 10),
        ("payload", "jp-au", 1),
        ("udh8", "jp-au", 10),
    ],
)
async def test_long_japanese_670_chars_each_method(
    tmp_path: Path, method: str, profile: str, parts: int
) -> None:
    routes = [{"name": "jp", "default_sender": "SENDER", "profile": profile, "method": method}]
    async with (
        asyncio.timeout(TIMEOUT),
        FastSmsc(receipt_delay=0.01) as smsc,
        running(tmp_path / "g.db", make_config(smsc.port, routes=routes)) as gw,
    ):
        mid = await gw.submit("09012345678", JP_670)
        (status,) = await final(gw, [mid])
    records = smsc.accepted()
    assert status.state is MessageState.DELIVERED
    assert len(records) == parts == status.parts_total
    assert all(r.data_coding == 0x08 for r in records)
    assert reassemble(records) == [JP_670]
    assert sorted(p.seq for p in status.parts) == list(range(1, parts + 1))
    assert all(p.smsc_message_id for p in status.parts)
    ref = reference_for(mid, Method(method))
    if method in ("udh8", "udh16"):
        concats = [split_udh(r.short_message)[0].concat for r in records]
        assert {c.reference for c in concats if c is not None} == {ref}
        assert all(r.esm_class == 0x40 for r in records)
    elif method == "sar":
        assert {r.sar[0] for r in records if r.sar is not None} == {ref}
        assert all(r.esm_class == 0x00 for r in records)
    else:
        assert records[0].short_message == b""
        assert records[0].message_payload == JP_670.encode("utf-16-be")


async def test_670_chars_with_udh16_exceed_a_ten_part_profile(tmp_path: Path) -> None:
    routes = [{"name": "jp", "default_sender": "SENDER", "profile": "jp-au", "method": "udh16"}]
    async with (
        asyncio.timeout(TIMEOUT),
        FastSmsc() as smsc,
        running(tmp_path / "g.db", make_config(smsc.port, routes=routes)) as gw,
    ):
        with pytest.raises(SubmitRejected) as info:
            await gw.submit("09012345678", JP_670)
    assert info.value.reason is RejectReason.TOO_LONG


async def test_partial_delivery_aggregates_part_receipts(tmp_path: Path) -> None:
    def stat(record: SubmitRecord) -> str:
        _udh, _body = split_udh(record.short_message)
        concat = _udh.concat
        return "UNDELIV" if concat is not None and concat.seq == 2 else "DELIVRD"

    async with (
        asyncio.timeout(TIMEOUT),
        FastSmsc(receipt_stat_for=stat) as smsc,
        running(tmp_path / "g.db", make_config(smsc.port)) as gw,
    ):
        mid = await gw.submit("09012345678", "x" * 400)  # 3 GSM-7 parts
        (status,) = await final(gw, [mid])
    assert status.state is MessageState.PARTIALLY_DELIVERED
    assert [p.receipt_stat for p in status.parts] == ["DELIVRD", "UNDELIV", "DELIVRD"]


async def test_a_rejectd_receipt_ends_the_message_rejected(tmp_path: Path) -> None:
    def stat(record: SubmitRecord) -> str:
        return "REJECTD" if record.destination == "819011110003" else "DELIVRD"

    events = Events()
    async with (
        asyncio.timeout(TIMEOUT),
        FastSmsc(receipt_stat_for=stat) as smsc,
        running(tmp_path / "g.db", make_config(smsc.port), events) as gw,
    ):
        blocked = await gw.submit("09011110003", "x" * 200)  # 2 parts, both REJECTD
        fine = await gw.submit("09011110004", "fine")
        blocked_status, fine_status = await final(gw, [blocked, fine])
    assert blocked_status.state is MessageState.REJECTED
    assert [p.receipt_stat for p in blocked_status.parts] == ["REJECTD", "REJECTD"]
    assert fine_status.state is MessageState.DELIVERED
    assert {(f.message_id, f.state) for f in events.of(MessageFinal)} == {
        (str(blocked), "rejected"),
        (str(fine), "delivered"),
    }


# -- flow control -------------------------------------------------------------------------------


async def test_throttled_parts_are_resent_before_later_ones(tmp_path: Path) -> None:
    events = Events()
    async with asyncio.timeout(TIMEOUT), FastSmsc(throttle_every=3, receipts=False) as smsc:
        config = make_config(smsc.port, bind={"window": 1})
        async with running(tmp_path / "g.db", config, events) as gw:
            ids = [await gw.submit("09012345678", f"msg {i}") for i in range(20)]
            await wait_for(lambda: len(smsc.accepted()) == 20)
            throttled = gw.stats.throttled
    order = [int(r.short_message.decode().split()[1]) for r in smsc.accepted()]
    assert order == list(range(20))  # arrival order at the SMSC == submission order
    assert throttled >= 6
    assert len(smsc.submits) == 20 + throttled
    assert len(events.of(Throttled)) == throttled
    assert ids == sorted(ids)


async def test_permanent_error_fails_without_retry(tmp_path: Path) -> None:
    events = Events()
    async with (
        asyncio.timeout(TIMEOUT),
        FastSmsc(error_for={"819011110001": 0x0B}) as smsc,
        running(tmp_path / "g.db", make_config(smsc.port), events) as gw,
    ):
        bad = await gw.submit("09011110001", "to a bad number")
        good = await gw.submit("09011110002", "fine")
        bad_status, good_status = await final(gw, [bad, good])
    assert bad_status.state is MessageState.FAILED
    assert bad_status.attempts == 1
    assert len(bad_status.attempt_log) == 1
    assert "ESME_RINVDSTADR" in (bad_status.last_error or "")
    assert good_status.state is MessageState.DELIVERED
    assert [r.destination for r in smsc.submits].count("819011110001") == 1
    assert {(f.message_id, f.state) for f in events.of(MessageFinal)} == {
        (str(bad), "rejected"),
        (str(good), "delivered"),
    }


async def test_temporary_error_is_retried_later(tmp_path: Path) -> None:
    retry = {
        "rules": {
            "ESME_RSYSERR": {"action": "retry_later", "max_attempts": 10, "backoff": {"base": 0.05}}
        }
    }
    async with (
        asyncio.timeout(TIMEOUT),
        FastSmsc(error_every=2, receipt_delay=0.01) as smsc,
        running(tmp_path / "g.db", make_config(smsc.port, retry=retry)) as gw,
    ):
        ids = [await gw.submit("09012345678", f"m{i}") for i in range(6)]
        statuses = await final(gw, ids)
    assert all(s.state is MessageState.DELIVERED for s in statuses)
    assert sum(s.attempts for s in statuses) > 6
    assert smsc.stats.responses[0x08] >= 1


async def test_response_timeout_requeues_and_resends(tmp_path: Path) -> None:
    events = Events()
    async with asyncio.timeout(TIMEOUT), FastSmsc(no_response_for={"819011110002": 1}) as smsc:
        config = make_config(smsc.port, bind={"response_timeout": 0.3})
        async with running(tmp_path / "g.db", config, events) as gw:
            mid = await gw.submit("09011110002", "answer me")
            (status,) = await final(gw, [mid])
            timeouts = gw.stats.timeouts
    assert status.state is MessageState.DELIVERED
    assert timeouts == 1
    [timed_out] = events.of(SubmitTimedOut)
    assert (timed_out.message_id, timed_out.part) == (str(mid), 1)
    assert timed_out.waited_ms >= 300.0
    assert status.attempts == 2
    assert [r.status for r in smsc.submits] == [-1, 0]


async def test_generic_nack_seq0_reconnects_and_requeues_in_flight(tmp_path: Path) -> None:
    async with asyncio.timeout(TIMEOUT), FastSmsc(nack_seq0_after=5, receipt_delay=0.01) as smsc:
        config = make_config(smsc.port, bind={"window": 5})
        async with running(tmp_path / "g.db", config) as gw:
            ids = [await gw.submit("09012345678", f"n{i}") for i in range(20)]
            statuses = await final(gw, ids)
            reconnects = gw.stats.reconnects
    assert all(s.state is MessageState.DELIVERED for s in statuses)
    assert reconnects >= 1
    assert len(smsc.bind_log) >= 2
    assert smsc.stats.nacks == 1


async def test_rate_limit_paces_parts(tmp_path: Path) -> None:
    rates = {"global": {"rate": 50, "burst": 1}}
    async with (
        asyncio.timeout(TIMEOUT),
        FastSmsc(receipts=False) as smsc,
        running(tmp_path / "g.db", make_config(smsc.port, rates=rates)) as gw,
    ):
        await gw.submit_many([SubmitRequest("09012345678", f"r{i}") for i in range(11)])
        loop = asyncio.get_running_loop()
        start = loop.time()
        await wait_for(lambda: len(smsc.accepted()) == 11)
        elapsed = loop.time() - start
    assert elapsed >= 0.15  # 10 intervals of 20 ms after the first token


# -- receipts -------------------------------------------------------------------------------------


async def test_receipt_before_response_is_matched(tmp_path: Path) -> None:
    async with (
        asyncio.timeout(TIMEOUT),
        FastSmsc(receipts_before_resp=True) as smsc,
        running(tmp_path / "g.db", make_config(smsc.port)) as gw,
    ):
        ids = [await gw.submit("09012345678", f"early {i}") for i in range(5)]
        statuses = await final(gw, ids)
        outcomes = dict(gw.stats.receipt_status)
    assert all(s.state is MessageState.DELIVERED for s in statuses)
    assert outcomes.get("pending", 0) == 5  # every receipt waited for its response


async def test_hex_response_ids_match_decimal_receipt_ids(tmp_path: Path) -> None:
    smsc_args: dict[str, Any] = {
        "resp_id_format": "hex",
        "receipt_id_format": "dec",
        "id_start": 0xA0,
        "receipt_tlv": False,
    }
    async with asyncio.timeout(TIMEOUT), FastSmsc(**smsc_args) as smsc:
        config = make_config(smsc.port, receipts={"resp_id": "hex", "receipt_id": "dec"})
        async with running(tmp_path / "g.db", config) as gw:
            ids = [await gw.submit("09012345678", f"hex {i}") for i in range(3)]
            statuses = await final(gw, ids)
    assert [s.parts[0].smsc_message_id for s in statuses] == ["A0", "A1", "A2"]
    assert all(s.state is MessageState.DELIVERED for s in statuses)


async def test_hex_ids_do_not_match_as_text(tmp_path: Path) -> None:
    """Control: without the id rule, "A0" and "160" are different ids."""
    async with (
        asyncio.timeout(TIMEOUT),
        FastSmsc(
            resp_id_format="hex", receipt_id_format="dec", id_start=0xA0, receipt_tlv=False
        ) as smsc,
        running(tmp_path / "g.db", make_config(smsc.port)) as gw,
    ):
        mid = await gw.submit("09012345678", "hex")
        # receipt_status counts a receipt once its store op committed (stats.receipts when
        # it was parsed): the response, sent before it, has committed too by then.
        await wait_for(lambda: sum(gw.stats.receipt_status.values()) == 1)
        status = await gw.status(mid)
        outcomes = dict(gw.stats.receipt_status)
    assert status.state is MessageState.SUBMITTED
    assert outcomes == {"pending": 1}


async def test_duplicate_receipts_are_idempotent(tmp_path: Path) -> None:
    events = Events()
    async with (
        asyncio.timeout(TIMEOUT),
        FastSmsc(duplicate_receipts=True) as smsc,
        running(tmp_path / "g.db", make_config(smsc.port), events) as gw,
    ):
        ids = [await gw.submit("09012345678", f"dup {i}") for i in range(4)]
        await final(gw, ids)
        await wait_for(lambda: sum(gw.stats.receipt_status.values()) == 8)
        outcomes = dict(gw.stats.receipt_status)
    assert outcomes == {"matched": 4, "duplicate": 4}
    assert sorted(int(f.message_id) for f in events.of(MessageFinal)) == ids


async def test_unmatched_receipt_is_kept_and_counted(tmp_path: Path) -> None:
    async with asyncio.timeout(TIMEOUT), FastSmsc() as smsc:
        config = make_config(smsc.port, receipts={"pending_expiry": 0.05})
        async with running(tmp_path / "g.db", config) as gw:
            await wait_for(lambda: gw.binds()[0].state == "bound")
            assert smsc.send_receipt("NOPE-1")
            await wait_for(lambda: sum(gw.stats.receipt_status.values()) == 1)
            await asyncio.sleep(0.1)
            await gw.maintain()
            unmatched = gw.unmatched_receipts
            store_counts = gw.store.receipt_counts()
    assert unmatched == 1
    assert store_counts.get(ReceiptStatus.UNMATCHED) == 1
    assert smsc.stats.receipts_acked == 1


async def test_receipts_match_after_a_gateway_restart(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    async with asyncio.timeout(TIMEOUT), FastSmsc(hold_receipts=True) as smsc:
        config = make_config(smsc.port)
        async with running(db, config) as first:
            ids = [await first.submit("09012345678", f"restart {i}") for i in range(5)]

            async def all_submitted() -> bool:
                return (await first.counts()).get(MessageState.SUBMITTED, 0) == 5

            await wait_for(all_submitted)
        # A new gateway, a new store object, new sessions: only the database is shared.
        async with running(db, config) as second:
            await wait_for(lambda: second.binds()[0].state == "bound")
            assert smsc.release_receipts() == 5
            statuses = await final(second, ids)
            matched = second.stats.receipt_status["matched"]
    assert all(s.state is MessageState.DELIVERED for s in statuses)
    assert matched == 5
    assert len(smsc.bind_log) == 2


# -- MO -------------------------------------------------------------------------------------------


async def test_mo_reassembly_and_stop_suppression(tmp_path: Path) -> None:
    async with (
        asyncio.timeout(TIMEOUT),
        FastSmsc(receipt_delay=0.01) as smsc,
        running(tmp_path / "g.db", make_config(smsc.port)) as gw,
    ):
        sent = await gw.submit("09012345678", "Reply STOP to opt out")
        await final(gw, [sent])
        # A two-part UDH MO arriving out of order, a SAR MO, then STOP (full-width).
        part1 = "こんにちは".encode("utf-16-be")
        part2 = "、元気？".encode("utf-16-be")
        udh = [bytes([5, 0, 3, 0x42, 2, seq]) for seq in (1, 2)]
        assert smsc.send_mo("819012345678", "12345", udh[1] + part2, data_coding=8, esm_class=0x40)
        assert smsc.send_mo("819012345678", "12345", udh[0] + part1, data_coding=8, esm_class=0x40)
        sar = {0x020C: b"\x01\x00", 0x020E: b"\x02", 0x020F: b"\x01"}
        assert smsc.send_mo("819087654321", "12345", encode_gsm7("Hello "), tlvs=sar)
        sar2 = {**sar, 0x020F: b"\x02"}
        assert smsc.send_mo("819087654321", "12345", encode_gsm7("there"), tlvs=sar2)
        assert smsc.send_mo("819012345678", "12345", "ＳＴＯＰ".encode("utf-16-be"), data_coding=8)
        await wait_for(lambda: gw.stats.mo == 3)
        mos = await gw.list_mo()
        with pytest.raises(SubmitRejected) as info:
            await gw.submit("090-1234-5678", "after opt-out")
        other = await gw.submit("09087654321", "still allowed")
        await final(gw, [other])
    assert [(m.source, m.text, m.parts) for m in mos] == [
        ("+819012345678", "こんにちは、元気？", 2),
        ("+819087654321", "Hello there", 2),
        ("+819012345678", "ＳＴＯＰ", 1),
    ]
    assert mos[0].linked_message_id == sent
    assert info.value.reason is RejectReason.SUPPRESSED
    assert smsc.stats.mo_sent == 5


async def test_queued_message_to_an_opted_out_number_fails(tmp_path: Path) -> None:
    async with asyncio.timeout(TIMEOUT), FastSmsc() as smsc:
        config = make_config(smsc.port)
        db = tmp_path / "g.db"
        store = MessageStore(db, synchronous="NORMAL")
        try:
            (mid,) = store.accept([NewMessage("SENDER", "+819012345678", "queued")], 0.0)
            store.suppress("+819012345678", "opt_out", 0.0)
        finally:
            store.close()
        async with running(db, config) as gw:
            (status,) = await final(gw, [mid])
    assert status.state is MessageState.FAILED
    assert "suppression" in (status.last_error or "")
    assert smsc.submits == []


async def test_attempts_are_capped(tmp_path: Path) -> None:
    retry = {
        "rules": {
            "ESME_RSYSERR": {"action": "retry_later", "max_attempts": 3, "backoff": {"base": 0.05}}
        }
    }
    async with (
        asyncio.timeout(TIMEOUT),
        FastSmsc(error_for={"819011110003": 0x08}) as smsc,
        running(tmp_path / "g.db", make_config(smsc.port, retry=retry)) as gw,
    ):
        mid = await gw.submit("09011110003", "never accepted")
        (status,) = await final(gw, [mid])
    assert status.state is MessageState.FAILED
    assert status.attempts == 3
    assert "gave up after 3 attempts" in (status.last_error or "")
    assert len(smsc.submits) == 3


async def test_validity_deadline_expires_a_message_that_keeps_timing_out(tmp_path: Path) -> None:
    retry = {
        "timeout": {
            "action": "retry_later",
            "max_attempts": 100,
            "backoff": {"base": 0.1, "factor": 1.0},
        }
    }
    async with (
        asyncio.timeout(TIMEOUT),
        FastSmsc(no_response_for={"819011110004": 1000}) as smsc,
        running(
            tmp_path / "g.db",
            make_config(smsc.port, bind={"response_timeout": 0.1}, retry=retry),
        ) as gw,
    ):
        mid = await gw.submit("09011110004", "too late", validity=0.5)
        (status,) = await final(gw, [mid])
    assert status.state is MessageState.EXPIRED
    assert 1 <= len(smsc.submits) <= 5
    assert all(r.validity_period for r in smsc.submits)  # the deadline also goes to the SMSC


async def test_bind_state_and_metrics_events(tmp_path: Path) -> None:
    events = Events()
    async with (
        asyncio.timeout(TIMEOUT),
        FastSmsc(receipt_delay=0.01) as smsc,
        running(tmp_path / "g.db", make_config(smsc.port), events) as gw,
    ):
        mid = await gw.submit("09012345678", "metrics")
        await final(gw, [mid])
        await asyncio.sleep(0.25)  # two maintenance intervals
    states = [e.state for e in events.of(BindStateChanged)]
    assert states[:2] == ["connecting", "bound"]
    assert states[-1] == "closed"
    snapshots = events.of(MetricsSnapshot)
    assert snapshots
    assert snapshots[-1].counts.get("parts_sent") == 1
    assert snapshots[-1].windows["b"].size == 10


async def test_transmitter_and_receiver_binds_share_receipts(tmp_path: Path) -> None:
    binds = [
        {"name": "tx", "port": 0, "system_id": "esme", "password": "pw", "mode": "transmitter"},
        {"name": "rx", "port": 0, "system_id": "esme", "password": "pw", "mode": "receiver"},
    ]
    async with asyncio.timeout(TIMEOUT), FastSmsc(receipt_delay=0.01) as smsc:
        for bind in binds:
            bind["port"] = smsc.port
        config = make_config(smsc.port, binds=binds)
        async with running(tmp_path / "g.db", config) as gw:
            await wait_for(lambda: all(b.state == "bound" for b in gw.binds()))
            ids = [await gw.submit("09012345678", f"split {i}") for i in range(5)]
            statuses = await final(gw, ids)
            sessions = {r.session for r in smsc.submits}
    assert all(s.state is MessageState.DELIVERED for s in statuses)
    assert sorted(kind for _n, _s, kind in smsc.bind_log) == ["receiver", "transmitter"]
    assert len(sessions) == 1  # only the transmitter submits


async def test_refused_bind_is_reported_and_nothing_is_sent(tmp_path: Path) -> None:
    events = Events()
    async with (
        asyncio.timeout(TIMEOUT),
        FastSmsc(password="right") as smsc,
        running(tmp_path / "g.db", make_config(smsc.port), events) as gw,
    ):
        mid = await gw.submit("09012345678", "waits")
        await wait_for(lambda: gw.binds()[0].last_error is not None)
        info = gw.binds()[0]
        status = await gw.status(mid)
    assert info.state == "closed"
    assert info.last_error == "bind refused: ESME_RINVPASWD"
    assert status.state is MessageState.QUEUED
    reasons = [e.reason for e in events.of(BindStateChanged) if e.state == "closed"]
    assert "bind refused: ESME_RINVPASWD" in reasons


async def test_mo_with_undecodable_gsm_text_is_refused_and_the_session_lives_on(
    tmp_path: Path,
) -> None:
    """SMPP-ERRORS.md: bad input from the SMSC gets an answer, never a dropped session."""
    async with (
        asyncio.timeout(TIMEOUT),
        FastSmsc(receipt_delay=0.01) as smsc,
        running(tmp_path / "g.db", make_config(smsc.port)) as gw,
    ):
        sent = await gw.submit("09012345678", "hello")
        await final(gw, [sent])
        # 0x80 and above are not GSM 03.38 septets (data_coding 0, unpacked).
        assert smsc.send_mo("819012345678", "12345", b"bad \x80\xff text")
        assert smsc.send_mo("819012345678", "12345", encode_gsm7("good text"))
        await wait_for(lambda: gw.stats.mo == 1)
        mos = await gw.list_mo()
        sessions = smsc.stats.sessions
    assert [m.text for m in mos] == ["good text"]
    assert sessions == 1  # the gateway never reconnected
