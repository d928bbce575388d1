"""`GatewayEsme._connection_keeper`: the dead-peer guard runs from a timer, not per read pass.

Over a real loopback connection to a scripted SMSC: an idle session gets an enquire_link
every ``enquire_link_interval``; a session that keeps receiving data gets none; an
enquire_link that nothing answers within ``socket_timeout`` ends the keeper (aiosmpplib's
start loop then ends the session); and the end of the session wakes the keeper at once.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import cast

import pytest

from gateway.esme import Bind, GatewayEsme, GatewayHook, StoreCorrelator, ThrottleGate
from gateway.policy import ThrottleState
from tests.unit.gateway.test_esme_read_loop import HEADER, RecordingBind, _Clock, pdu

pytestmark = pytest.mark.asyncio

ENQUIRE_LINK = 0x00000015
ENQUIRE_LINK_RESP = 0x80000015


@dataclass
class Smsc:
    """A scripted SMSC: records the PDUs it reads (loop time, command_id)."""

    answer: bool
    """Answer the gateway's enquire_link."""
    seen: list[tuple[float, int]] = field(default_factory=list)
    writer: asyncio.StreamWriter | None = None

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        loop = asyncio.get_running_loop()
        buf = b""
        while data := await reader.read(65536):
            buf += data
            while len(buf) >= 16:
                length, command_id, _status, seq = HEADER.unpack_from(buf)
                if len(buf) < length:
                    break
                buf = buf[length:]
                self.seen.append((loop.time(), command_id))
                if command_id == ENQUIRE_LINK and self.answer:
                    writer.write(pdu(ENQUIRE_LINK_RESP, 0, seq))

    def probes(self) -> list[float]:
        """When the gateway's enquire_link PDUs arrived."""
        return [at for at, command_id in self.seen if command_id == ENQUIRE_LINK]


@asynccontextmanager
async def session(
    smsc: Smsc, interval: float, socket_timeout: float
) -> AsyncIterator[tuple[GatewayEsme, asyncio.Task[None], float]]:
    """A bound `GatewayEsme` reading from `smsc`, its receive loop and keeper running."""
    server = await asyncio.start_server(smsc.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    bind = RecordingBind()
    esme = GatewayEsme(
        cast(Bind, bind),
        smsc_host="127.0.0.1",
        smsc_port=port,
        system_id="a",
        password="b",
        correlator=StoreCorrelator(),
        throttle_handler=ThrottleGate(ThrottleState(), _Clock()),
        hook=GatewayHook(cast(Bind, bind)),
        enquire_link_interval=interval,
        socket_timeout=socket_timeout,
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    esme._reader = reader
    esme._writer = writer
    esme._session_state = esme.bind_mode.session_state
    esme._bound.set()
    receiver = asyncio.create_task(esme._receive_data())
    started = asyncio.get_running_loop().time()
    keeper = asyncio.create_task(esme._connection_keeper())
    try:
        yield esme, keeper, started
    finally:
        for task in (keeper, receiver):
            task.cancel()
        await asyncio.gather(keeper, receiver, return_exceptions=True)
        writer.close()
        await asyncio.gather(writer.wait_closed(), return_exceptions=True)
        server.close()
        await server.wait_closed()


async def test_an_idle_session_gets_an_enquire_link_every_interval() -> None:
    smsc = Smsc(answer=True)
    async with (
        asyncio.timeout(10),
        session(smsc, interval=0.2, socket_timeout=0.5) as (_e, keeper, t0),
    ):
        await asyncio.sleep(0.75)
        assert not keeper.done()  # every probe was answered
    probes = smsc.probes()
    assert len(probes) in (2, 3)
    assert probes[0] - t0 >= 0.19  # not before the interval
    # Each answer is data: the next probe is one interval after it, not sooner.
    assert all(b - a >= 0.19 for a, b in itertools.pairwise(probes))


async def test_data_from_the_smsc_keeps_the_session_from_probing() -> None:
    smsc = Smsc(answer=False)
    async with (
        asyncio.timeout(10),
        session(smsc, interval=0.2, socket_timeout=0.3) as (_e, keeper, t0),
    ):
        await asyncio.sleep(0.05)
        assert smsc.writer is not None
        for _ in range(10):  # the SMSC's own enquire_link every 0.06 s for 0.6 s: data
            smsc.writer.write(pdu(ENQUIRE_LINK, 0, 1))
            await asyncio.sleep(0.06)
        quiet_from = asyncio.get_running_loop().time()
        assert smsc.probes() == []
        assert not keeper.done()
        await asyncio.sleep(0.3)  # then silence: one interval later, a probe
    probes = smsc.probes()
    assert len(probes) == 1
    assert 0.1 <= probes[0] - quiet_from <= 0.3
    assert probes[0] - t0 >= 0.7


async def test_an_unanswered_enquire_link_ends_the_keeper_after_the_socket_timeout() -> None:
    smsc = Smsc(answer=False)
    async with (
        asyncio.timeout(10),
        session(smsc, interval=0.2, socket_timeout=0.3) as (_e, keeper, t0),
    ):
        await asyncio.wait_for(asyncio.shield(keeper), 3.0)
        ended = asyncio.get_running_loop().time()
        assert keeper.result() is None  # returned (aiosmpplib's start loop ends the session)
    assert len(smsc.probes()) == 1
    assert 0.45 <= ended - t0 <= 1.0


async def test_the_end_of_the_session_wakes_the_keeper_at_once() -> None:
    smsc = Smsc(answer=True)
    async with (
        asyncio.timeout(10),
        session(smsc, interval=30.0, socket_timeout=30.0) as (_e, keeper, _t0),
    ):
        await asyncio.sleep(0.05)
        assert smsc.writer is not None
        smsc.writer.close()  # EOF: the receive loop ends, the keeper must not sleep on
        await asyncio.wait_for(asyncio.shield(keeper), 1.0)
    assert smsc.probes() == []


async def test_stop_wakes_the_keeper_at_once() -> None:
    smsc = Smsc(answer=True)
    async with (
        asyncio.timeout(10),
        session(smsc, interval=30.0, socket_timeout=30.0) as (esme, keeper, _),
    ):
        await asyncio.sleep(0.05)
        esme._is_shutting_down = True  # what GatewayEsme.stop does first
        esme._keeper_wake.set()
        await asyncio.wait_for(asyncio.shield(keeper), 1.0)
