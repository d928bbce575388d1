"""Hostile peers must not stall well-behaved ones: slowloris partial PDUs, a flood that never
reads its answers, many idle connections, and a short fuzz run (5,000 mutated PDUs)."""

from __future__ import annotations

import asyncio
import socket
import statistics
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bench.fuzz_simulator import fuzz, mutations, seed_pdus
from simulator.smpp.codec import encode
from simulator.smpp.pdu import BindTransceiver, SubmitSm
from simulator.testing import RunningSimulator, SmppTestClient, running_simulator


@asynccontextmanager
async def simulator(config: Mapping[str, Any]) -> AsyncIterator[RunningSimulator]:
    async with asyncio.timeout(30), running_simulator(dict(config), stop_grace=0.1) as sim:
        yield sim


async def served(sim: RunningSimulator, count: int = 50) -> list[float]:
    """A well-behaved ESME submits ``count`` messages one at a time; returns latencies (ms)."""
    client = await SmppTestClient.connect(sim.host, sim.port)
    assert (await client.bind("good", "pw")).command_status == 0
    loop = asyncio.get_running_loop()
    latencies = []
    for _ in range(count):
        started = loop.time()
        response = await client.request(
            SubmitSm(source_addr="A", destination_addr="8190", short_message=b"ok"), 2.0
        )
        assert response.command_status == 0
        latencies.append((loop.time() - started) * 1000)
    await client.close()
    return latencies


@pytest.mark.asyncio
async def test_slowloris_partial_pdus_do_not_stall_others() -> None:
    async with simulator({"timers": {"pdu_read_s": 1.0, "session_init_s": 5}}) as sim:
        slow = []
        for i in range(50):
            client = await SmppTestClient.connect(sim.host, sim.port)
            # A header announcing 2,000 octets, then a trickle.
            client.send_bytes(b"\x00\x00\x07\xd0\x00\x00\x00\x04\x00\x00\x00" + bytes([i]))
            slow.append(client)
        latencies = await served(sim)
        assert max(latencies) < 500
        assert statistics.median(latencies) < 50
        await asyncio.sleep(0.05)
        assert sim.server.stats.connections == 50  # still open: not stalled yet
        for client in slow[:5]:
            client.send_bytes(b"\x00")  # a byte now and then does not reset the read timer
        assert all(await asyncio.gather(*(c.closed(3.0) for c in slow)))
        assert sim.server.stats.connections == 0


@pytest.mark.asyncio
async def test_flood_without_reading_is_paused_and_others_are_served() -> None:
    config = {"limits": {"write_buffer_high": 64 * 1024, "write_buffer_low": 16 * 1024}}
    async with simulator(config) as sim:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fill up sooner
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (sim.host, sim.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(encode(BindTransceiver(1, system_id="flood", password="pw")))
        burst = b"".join(
            encode(SubmitSm(i, source_addr="F", destination_addr="8190", short_message=b"f" * 100))
            for i in range(2, 2002)
        )
        sent = 0

        async def flood() -> None:
            nonlocal sent
            while True:  # never reads: the server's answers pile up until it stops reading
                writer.write(burst)
                sent += len(burst)
                await writer.drain()

        flooder = asyncio.create_task(flood())
        try:
            for _ in range(200):
                await asyncio.sleep(0.02)
                if sim.server.stats.paused:
                    break
            assert sim.server.stats.paused == 1, "the server never stopped reading the flooder"
            accepted = sim.server.stats.accepted
            latencies = await served(sim)
            assert max(latencies) < 500
            await asyncio.sleep(0.2)
            # Paused: the flooder's submissions are no longer read (only the good ones count).
            assert sim.server.stats.accepted - accepted <= 50 + 2000
        finally:
            flooder.cancel()
            await asyncio.gather(flooder, return_exceptions=True)
            writer.close()
        # Once it reads again, it is served again.
        del reader


@pytest.mark.asyncio
async def test_fuzz_5000_mutated_pdus_while_a_session_is_served() -> None:
    config = {"timers": {"pdu_read_s": 0.5}, "receipts": {"delay_s": 0.05}}
    async with simulator(config) as sim:
        report = await fuzz(sim.host, sim.port, 5000, seed=20261124, workers=4)
        latencies = await served(sim, 20)
        stats = sim.server.stats
    assert report.sent == 5000
    assert report.connections > 4
    assert report.monitor_submits > 0
    assert report.monitor_unanswered == 0
    assert max(latencies) < 500
    assert stats.internal_errors == 0
    assert stats.handler_errors == 0
    assert stats.protocol_errors > 100


def test_mutation_stream_is_reproducible() -> None:
    a, b = mutations(7), mutations(7)
    assert [next(a) for _ in range(200)] == [next(b) for _ in range(200)]
    assert len(seed_pdus()) >= 10
