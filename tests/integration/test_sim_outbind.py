"""Outbind (SMPP 3.4 §2.2.1, §4.1.7): the simulator connects out when receipts wait unreceived.

A small asyncio listener plays the ESME: it is not listening at first (the simulator retries with
back-off), then accepts, reads the outbind, answers with bind_receiver on the same connection and
receives the queued receipt.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from simulator.smpp.pdu import BindReceiverResp, Outbind, SubmitSm, SubmitSmResp
from simulator.testing import SmppTestClient, running_simulator

pytestmark = pytest.mark.asyncio


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _config(port: int, **outbind: Any) -> dict[str, Any]:
    return {
        "system_id": "smsh-sim",
        "receipts": {"delay_s": 0},
        "accounts": [
            {
                "system_id": "acme",
                "password": "pw",
                "outbind": {
                    "port": port,
                    "system_id": "carrier",
                    "password": "obpw",
                    "retry_initial_s": 0.05,
                    "retry_max_s": 0.2,
                    **outbind,
                },
            },
            {"system_id": "plain", "password": "pw"},
        ],
    }


async def _submit(client: SmppTestClient) -> str:
    pdu = SubmitSm(
        source_addr="ACME",
        destination_addr="819012345678",
        short_message=b"x",
        registered_delivery=1,
    )
    resp = await client.request(pdu)
    assert isinstance(resp, SubmitSmResp)
    assert resp.command_status == 0
    return resp.message_id


async def test_outbind_retries_until_the_esme_listens_then_serves_its_bind_receiver() -> None:
    port = _free_port()
    outbinds: list[Outbind] = []
    receipts: asyncio.Queue[bytes] = asyncio.Queue()
    done = asyncio.Event()

    async def esme(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = SmppTestClient(reader, writer)
        outbinds.append(await peer.expect(Outbind, 5.0))
        bound = await peer.bind("acme", "pw", mode="receiver")
        assert isinstance(bound, BindReceiverResp)
        assert bound.command_status == 0
        for _ in range(2):
            (receipt,) = await peer.deliveries(1, 5.0)
            await receipts.put(receipt.short_message)
        await done.wait()
        await peer.close()

    async with asyncio.timeout(20), running_simulator(_config(port)) as sim:
        tx = await SmppTestClient.connect(sim.host, sim.port)
        await tx.bind("acme", "pw", mode="transmitter")
        message_id = await _submit(tx)
        # Nobody listens yet: the simulator tries, fails, and backs off (0.05, 0.1, 0.2 s ...).
        await asyncio.sleep(0.5)
        stats = sim.server.stats
        assert stats.outbinds >= 3
        assert stats.outbind_failures == stats.outbinds
        listener = await asyncio.start_server(esme, "127.0.0.1", port)
        async with listener:
            text = await asyncio.wait_for(receipts.get(), 5.0)
            assert f"id:{message_id}".encode() in text
            assert b"stat:DELIVRD" in text
            (outbind,) = outbinds
            assert (outbind.system_id, outbind.password) == ("carrier", "obpw")
            attempts = stats.outbinds
            # Bound: later receipts go to the receiver session, with no new outbind.
            second = await _submit(tx)
            text = await asyncio.wait_for(receipts.get(), 5.0)
            assert f"id:{second}".encode() in text
            assert stats.outbinds == attempts
            done.set()
        await tx.close()


async def test_no_outbind_without_waiting_deliveries_or_for_other_accounts() -> None:
    port = _free_port()
    accepted: list[int] = []

    async def esme(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        writer.close()

    listener = await asyncio.start_server(esme, "127.0.0.1", port)
    async with (
        asyncio.timeout(20),
        listener,
        running_simulator(_config(port, system_id=None)) as sim,
    ):
        plain = await SmppTestClient.connect(sim.host, sim.port)
        await plain.bind("plain", "pw", mode="transmitter")
        await _submit(plain)  # a receipt waits for "plain", which has no outbind
        tx = await SmppTestClient.connect(sim.host, sim.port)
        await tx.bind("acme", "pw", mode="transmitter")
        await asyncio.sleep(0.3)
        assert accepted == []
        assert sim.server.stats.outbinds == 0
        await plain.close()
        await tx.close()


async def test_outbind_presents_the_server_system_id_by_default() -> None:
    port = _free_port()
    seen: asyncio.Queue[Outbind] = asyncio.Queue()

    async def esme(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = SmppTestClient(reader, writer)
        await seen.put(await peer.expect(Outbind, 5.0))
        await peer.close()  # closes without binding: the simulator tries again later

    listener = await asyncio.start_server(esme, "127.0.0.1", port)
    async with (
        asyncio.timeout(20),
        listener,
        running_simulator(_config(port, system_id=None, password="")) as sim,
    ):
        tx = await SmppTestClient.connect(sim.host, sim.port)
        await tx.bind("acme", "pw", mode="transmitter")
        await _submit(tx)
        first = await asyncio.wait_for(seen.get(), 5.0)
        assert (first.system_id, first.password) == ("smsh-sim", "")
        again = await asyncio.wait_for(seen.get(), 5.0)
        assert again.system_id == "smsh-sim"
        assert sim.server.stats.outbind_failures >= 1
        await tx.close()
