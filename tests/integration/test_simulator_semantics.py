"""Message semantics over loopback TCP: query/cancel/replace, submit_multi, data_sm, receipts
queued until a receiver binds, redelivery, MO injection, bus events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest

from simulator.smpp.constants import CommandStatus as S
from simulator.smpp.constants import MessageState
from simulator.smpp.pdu import (
    CancelSm,
    DataSm,
    DeliverSm,
    DeliverSmResp,
    DistributionListDestAddress,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    SmeDestAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
)
from simulator.testing import RunningSimulator, SmppTestClient, running_simulator
from sms.bus.events import BindStateChanged, MetricsSnapshot, MoSent, ReceiptSent, SubmitReceived
from sms.bus.memory import InMemoryBus
from sms.receipt import parse_receipt
from sms.udh import split_udh

pytestmark = pytest.mark.asyncio


@asynccontextmanager
async def simulator(config: Mapping[str, Any], **kwargs: Any) -> AsyncIterator[RunningSimulator]:
    async with (
        asyncio.timeout(15),
        running_simulator(dict(config), stop_grace=0.1, **kwargs) as sim,
    ):
        yield sim


async def bound(sim: RunningSimulator, mode: str = "transceiver") -> SmppTestClient:
    client = await SmppTestClient.connect(sim.host, sim.port)
    assert (await client.bind(mode=mode)).command_status == 0
    return client


def sms(text: bytes = b"Your bill is due", rd: int = 1, **fields: Any) -> SubmitSm:
    values: dict[str, Any] = {
        "source_addr_ton": 5,
        "source_addr": "ACME",
        "dest_addr_ton": 1,
        "dest_addr_npi": 1,
        "destination_addr": "819012345678",
        "short_message": text,
        "registered_delivery": rd,
    }
    values.update(fields)
    return SubmitSm(**values)


async def submit(client: SmppTestClient, pdu: SubmitSm) -> str:
    response = await client.request(pdu)
    assert isinstance(response, SubmitSmResp)
    assert response.command_status == 0
    return response.message_id


async def query(client: SmppTestClient, message_id: str, source: str = "ACME") -> QuerySmResp:
    response = await client.request(QuerySm(message_id=message_id, source_addr=source))
    assert isinstance(response, QuerySmResp)
    return response


async def test_query_cancel_replace() -> None:
    async with simulator({"receipts": {"delay_s": 0.4}}) as sim:
        client = await bound(sim)
        first = await submit(client, sms())
        pending = await query(client, first)
        assert (pending.command_status, pending.message_state, pending.final_date) == (
            0,
            MessageState.ENROUTE,
            "",
        )
        assert (await query(client, "nope")).command_status == S.ESME_RINVMSGID
        assert (await query(client, first, "OTHER")).command_status == S.ESME_RQUERYFAIL
        replaced = await client.request(
            ReplaceSm(message_id=first, source_addr="ACME", short_message=b"new text")
        )
        assert replaced.command_status == 0
        record = sim.server.store.get(first)
        assert record is not None
        assert record.body == b"new text"
        cancelled = await client.request(CancelSm(message_id=first, source_addr="ACME"))
        assert cancelled.command_status == 0
        gone = await query(client, first)
        assert gone.message_state == MessageState.DELETED
        assert gone.final_date.endswith("+")
        again = await client.request(CancelSm(message_id=first))
        assert again.command_status == S.ESME_RCANCELFAIL
        late = await client.request(ReplaceSm(message_id=first, short_message=b"x"))
        assert late.command_status == S.ESME_RREPLACEFAIL
        # A message left alone is delivered, gets its receipt, and can then not be cancelled.
        second = await submit(client, sms(b"second"))
        (receipt,) = await client.deliveries(1)
        assert receipt.receipted_message_id == second  # none for the cancelled one
        assert (await query(client, second)).message_state == MessageState.DELIVERED
        assert (await client.request(CancelSm(message_id=second))).command_status == (
            S.ESME_RCANCELFAIL
        )
        await asyncio.sleep(0.5)
        assert sim.server.stats.receipts_sent == 1


async def test_cancel_by_addresses_and_replace_if_present() -> None:
    async with simulator({"receipts": {"delay_s": 30}}) as sim:
        client = await bound(sim)
        ids = [await submit(client, sms(bytes([65 + i]))) for i in range(3)]
        other = await submit(client, sms(destination_addr="819000000000"))
        response = await client.request(
            CancelSm(source_addr="ACME", dest_addr_ton=1, destination_addr="819012345678")
        )
        assert response.command_status == 0
        states = [(await query(client, i)).message_state for i in (*ids, other)]
        assert states == [MessageState.DELETED] * 3 + [MessageState.ENROUTE]
        newer = await submit(
            client, sms(destination_addr="819000000000", replace_if_present_flag=1)
        )
        assert (await query(client, other)).message_state == MessageState.DELETED
        assert (await query(client, newer)).message_state == MessageState.ENROUTE


async def test_replace_can_turn_receipts_off() -> None:
    async with simulator({"receipts": {"delay_s": 0.3}}) as sim:
        client = await bound(sim)
        message_id = await submit(client, sms())
        response = await client.request(
            ReplaceSm(message_id=message_id, short_message=b"quiet", registered_delivery=0)
        )
        assert response.command_status == 0
        await asyncio.sleep(0.5)
        assert (await query(client, message_id)).message_state == MessageState.DELIVERED
        assert sim.server.stats.receipts_queued == 0


async def test_submit_multi_reports_failed_destinations() -> None:
    async with simulator({"receipts": {"delay_s": 0.1}}) as sim:
        client = await bound(sim)
        response = await client.request(
            SubmitMulti(
                source_addr_ton=5,
                source_addr="ACME",
                dest_addresses=(
                    SmeDestAddress(1, 1, "819011111111"),
                    SmeDestAddress(9, 1, "819022222222"),  # bad TON
                    DistributionListDestAddress("customers"),  # no such list
                    SmeDestAddress(1, 1, "819033333333"),
                ),
                short_message=b"multi",
                registered_delivery=1,
            )
        )
        assert isinstance(response, SubmitMultiResp)
        assert response.command_status == 0
        failed = {(u.destination_addr, u.error_status_code) for u in response.unsuccess_smes}
        assert failed == {("819022222222", S.ESME_RINVDSTTON), ("customers", S.ESME_RINVDLNAME)}
        receipts = await client.deliveries(2)
        assert {r.receipted_message_id for r in receipts} == {response.message_id}
        assert {r.source_addr for r in receipts} == {"819011111111", "819033333333"}
        assert (await query(client, response.message_id)).message_state == MessageState.DELIVERED
        empty = await client.request(SubmitMulti(source_addr="ACME", short_message=b"x"))
        assert empty.command_status == S.ESME_RINVNUMDESTS


async def test_data_sm_is_accepted_with_receipt() -> None:
    async with simulator({"receipts": {"delay_s": 0.1}}) as sim:
        client = await bound(sim)
        response = await client.request(
            DataSm(
                source_addr="ACME",
                dest_addr_ton=1,
                dest_addr_npi=1,
                destination_addr="819012345678",
                registered_delivery=1,
                tlvs=((0x0424, b"payload text"),),
            )
        )
        assert response.command_status == 0
        assert response.command_id == 0x80000103
        (receipt,) = await client.deliveries(1)
        text = parse_receipt(receipt.short_message.decode())
        assert text.text == "payload text"
        assert text.message_id == receipt.receipted_message_id
        bad = await client.request(DataSm(source_addr="A", destination_addr="", data_coding=0x0C))
        assert bad.command_status == S.ESME_RINVDSTADR


async def test_receipts_wait_for_a_receiver_then_flow() -> None:
    config = {"receipts": {"delay_s": 0}, "default_account": {"max_queued_deliveries": 3}}
    async with simulator(config) as sim:
        transmitter = await bound(sim, "transmitter")
        ids = [await submit(transmitter, sms(bytes([65 + i]))) for i in range(4)]
        await asyncio.sleep(0.2)
        assert sim.server.queued_deliveries == 3  # bounded: the oldest was dropped
        assert sim.server.stats.deliveries_dropped == 1
        receiver = await bound(sim, "receiver")
        receipts = await receiver.deliveries(3)
        assert [r.receipted_message_id for r in receipts] == ids[1:]
        await asyncio.sleep(0.05)
        assert sim.server.queued_deliveries == 0
        assert sim.server.stats.receipts_sent == 3


async def test_redelivery_after_rx_t_appn_and_after_no_answer() -> None:
    config = {
        "receipts": {"delay_s": 0},
        "delivery": {"retry_delay_s": 0.1},
        "timers": {"response_s": 0.3},
    }
    async with simulator(config) as sim:
        client = await bound(sim)
        message_id = await submit(client, sms())
        first = await client.expect(DeliverSm)
        client.send(DeliverSmResp(first.sequence_number, S.ESME_RX_T_APPN))
        second = await client.expect(DeliverSm)
        assert second.receipted_message_id == message_id
        # Not answered at all: redelivered after the response timer.
        third = await client.expect(DeliverSm, 2.0)
        assert third.receipted_message_id == message_id
        client.send(DeliverSmResp(third.sequence_number))
        await asyncio.sleep(0.1)
        stats = sim.server.stats
        assert (stats.redeliveries, stats.receipts_sent, stats.deliveries_written) == (2, 1, 3)


async def test_receipts_round_robin_over_receivers() -> None:
    async with simulator({"receipts": {"delay_s": 0.2}}) as sim:
        transmitter = await bound(sim, "transmitter")
        receivers = [await bound(sim, "receiver") for _ in range(2)]
        for i in range(6):
            await submit(transmitter, sms(bytes([65 + i])))
        counts = [len(await r.deliveries(3)) for r in receivers]
        assert counts == [3, 3]


async def test_inject_mo_long_and_unicode() -> None:
    async with simulator({}) as sim:
        client = await bound(sim, "receiver")
        text = "Please call me back about the invoice. " * 5  # 195 chars: 2 parts
        assert sim.server.inject_mo("esme", "819012345678", "12345", text) == 2
        parts = await client.deliveries(2)
        assert all(p.esm_class == 0x40 and p.source_addr == "819012345678" for p in parts)
        udhs = [split_udh(p.short_message)[0].concat for p in parts]
        assert [(c.total, c.seq) for c in udhs if c] == [(2, 1), (2, 2)]
        assert sim.server.inject_mo("esme", "819012345678", "12345", text, method="sar") == 2
        sar = await client.deliveries(2)
        assert [p.sar_segment_seqnum for p in sar] == [1, 2]
        assert sar[0].esm_class == 0
        assert sim.server.inject_mo("esme", "819012345678", "12345", "はい、払います") == 1
        (unicode,) = await client.deliveries(1)
        assert unicode.data_coding == 8
        assert unicode.short_message.decode("utf-16-be") == "はい、払います"


async def test_message_id_formats() -> None:
    async with simulator({"message_ids": {"format": "uuid", "seed": 1}}) as sim:
        client = await bound(sim)
        message_id = await submit(client, sms(rd=0))
        assert len(message_id) == 36
        assert message_id.count("-") == 4
    async with simulator({"message_ids": {"format": "decimal", "start": 1000}}) as sim:
        client = await bound(sim)
        assert await submit(client, sms(rd=0)) == "1000"


async def test_bus_events() -> None:
    bus = InMemoryBus()
    async with bus, bus.subscribe("smsh/v1/simulator/#", maxsize=1000) as events:
        async with simulator({"receipts": {"delay_s": 0}, "instance": "simA"}, bus=bus) as sim:
            client = await bound(sim)
            await submit(client, sms())
            await client.deliveries(1)
            sim.server.inject_mo("esme", "819012345678", "12345", "hi")
            await client.deliveries(1)
            await asyncio.sleep(1.1)
        seen = events.drain()
    topics = {topic for topic, _ in seen}
    assert "smsh/v1/simulator/simA/submit_received" in topics
    kinds = [type(e) for _, e in seen]
    for kind in (BindStateChanged, SubmitReceived, ReceiptSent, MoSent, MetricsSnapshot):
        assert kind in kinds, kind
    snapshot = next(e for _, e in seen if isinstance(e, MetricsSnapshot))
    assert snapshot.counts["submits"] >= 1
    assert snapshot.gauges["binds"] >= 1
