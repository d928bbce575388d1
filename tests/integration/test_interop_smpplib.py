"""Interop with an independent client: python-smpplib (synchronous, run in a thread) binds,
submits GSM-7, UCS-2 and concatenated messages, queries one, and gets every receipt."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import smpplib.client
import smpplib.consts
import smpplib.gsm

from simulator.smpp.constants import MessageState
from simulator.testing import running_simulator
from sms.receipt import parse_receipt

pytestmark = pytest.mark.asyncio

LONG = "This reminder is long enough to need three parts over SMPP. " * 6


def session(host: str, port: int) -> dict[str, Any]:
    """Everything one smpplib transceiver does; returns what it saw."""
    logging.getLogger("smpp").setLevel(logging.WARNING)
    sent: list[str] = []
    statuses: list[int] = []
    receipts: list[Any] = []
    queries: list[Any] = []
    client = smpplib.client.Client(host, port, timeout=5, allow_unknown_opt_params=True)

    def on_sent(pdu: Any, **_: Any) -> None:
        statuses.append(pdu.status)
        sent.append(pdu.message_id.decode("ascii"))

    def on_received(pdu: Any, **_: Any) -> int:
        receipts.append(pdu)
        return 0

    client.set_message_sent_handler(on_sent)
    client.set_message_received_handler(on_received)
    client.set_query_resp_handler(lambda pdu, **_: queries.append(pdu))
    client.connect()
    try:
        client.bind_transceiver(system_id="smpplib", password="pw")
        common: dict[str, Any] = {
            "source_addr_ton": smpplib.consts.SMPP_TON_ALNUM,
            "source_addr_npi": smpplib.consts.SMPP_NPI_UNK,
            "source_addr": "ACME",
            "dest_addr_ton": smpplib.consts.SMPP_TON_INTL,
            "dest_addr_npi": smpplib.consts.SMPP_NPI_ISDN,
            "destination_addr": "819012345678",
            "registered_delivery": True,
        }
        client.send_message(short_message=b"Hello from smpplib", data_coding=0, **common)
        client.send_message(
            short_message="お支払いのお願い".encode("utf-16-be"), data_coding=8, **common
        )
        parts, encoding, esm_class = smpplib.gsm.make_parts(LONG)
        for part in parts:
            client.send_message(
                short_message=part, data_coding=encoding, esm_class=esm_class, **common
            )
        expected = 2 + len(parts)
        while len(sent) < expected:
            client.read_once()
        client.query_message(
            message_id=sent[0],
            source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
            source_addr_npi=smpplib.consts.SMPP_NPI_UNK,
            source_addr="ACME",
        )
        while len(receipts) < expected or not queries:
            client.read_once()
        client.query_message(
            message_id=sent[-1],
            source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
            source_addr_npi=smpplib.consts.SMPP_NPI_UNK,
            source_addr="ACME",
        )
        while len(queries) < 2:
            client.read_once()
        client.unbind()
    finally:
        client.disconnect()
    return {
        "sent": sent,
        "statuses": statuses,
        "receipts": receipts,
        "queries": queries,
        "parts": len(parts),
    }


async def test_smpplib_binds_submits_queries_and_gets_receipts() -> None:
    async with asyncio.timeout(30), running_simulator({"receipts": {"delay_s": 0.2}}) as sim:
        seen = await asyncio.to_thread(session, sim.host, sim.port)
        stats = sim.server.stats
    assert seen["parts"] == 3
    assert seen["statuses"] == [0] * 5
    assert len(set(seen["sent"])) == 5
    by_id = {}
    for pdu in seen["receipts"]:
        assert pdu.esm_class == 0x04
        receipted = pdu.receipted_message_id.decode("ascii")
        text = parse_receipt(pdu.short_message.decode("ascii"))
        assert text.message_id == receipted
        assert text.stat == "DELIVRD"
        by_id[receipted] = pdu
    assert set(by_id) == set(seen["sent"])
    first, last = seen["queries"]
    assert first.message_id.decode("ascii") == seen["sent"][0]
    assert first.message_state in (MessageState.ENROUTE, MessageState.DELIVERED)
    assert last.message_state == MessageState.DELIVERED
    assert last.final_date
    assert stats.accepted == 5
    assert stats.receipts_sent == 5
    assert stats.queries == 2
