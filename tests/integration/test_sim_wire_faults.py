"""Wire faults written by the real server over loopback TCP (``wire_faults`` configuration).

A raw ``SmppTestClient`` reads the octets the server writes: damaged submit_sm_resp and
deliver_sm, a deliver_sm before the bind_resp, garbage after the bind. Each damaged write is an
``Alert(alert_kind="malformed_pdu")``; the message behind a damaged PDU keeps its record and
its fate.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from scenarios.runner import simulator_config
from scenarios.schema import SimulatorSpec
from simulator.config import config_from_mapping
from simulator.smpp.codec import decode
from simulator.smpp.constants import CommandId
from simulator.smpp.errors import SmppProtocolError
from simulator.smpp.pdu import (
    BindTransceiver,
    BindTransceiverResp,
    DeliverSm,
    DeliverSmResp,
    SubmitSm,
)
from simulator.testing import SmppTestClient, running_simulator
from simulator.wire import TOO_SHORT
from sms.bus.events import Alert
from sms.bus.memory import InMemoryBus
from sms.clock import ManualClock

EPOCH = 1_767_225_600.0


def config(*faults: dict[str, Any]) -> dict[str, Any]:
    """Open mode, receipts after 1 simulated second, these wire faults from EPOCH."""
    return {
        "receipts": {"delay_s": 1.0},
        "delivery": {"retry_delay_s": 0.0},
        "wire_faults": {"epoch_s": EPOCH, "seed": 3, "faults": list(faults)},
    }


def submit_sm(text: str = "hello") -> SubmitSm:
    """A submit_sm asking for a receipt."""
    return SubmitSm(
        source_addr="12345",
        destination_addr="819011112222",
        registered_delivery=1,
        short_message=text.encode(),
    )


def header(frame: bytes) -> tuple[int, int, int, int]:
    """(command_length, command_id, command_status, sequence_number)."""
    a, b, c, d = (int.from_bytes(frame[i : i + 4], "big") for i in range(0, 16, 4))
    return a, b, c, d


@pytest.mark.asyncio
async def test_damaged_submit_sm_resp_keeps_the_message_and_its_receipt() -> None:
    clock = ManualClock(EPOCH)
    bus = InMemoryBus()
    fault = {"kind": "malformed_pdu", "variant": "bad_field", "pdu": "submit_sm_resp"}
    async with (
        asyncio.timeout(20),
        bus,
        bus.subscribe("smsh/v1/simulator/#", maxsize=1000) as sub,
        running_simulator(config(fault), clock=clock, bus=bus) as sim,
    ):
        client = await SmppTestClient.connect(sim.host, sim.port)
        await client.bind("acme", "pw")
        sequence = client.send(submit_sm())
        frame = await client.read_frame()
        assert frame is not None
        length, command_id, status, seq = header(frame)
        assert (length, command_id, status, seq) == (
            len(frame),
            CommandId.SUBMIT_SM_RESP,
            0,
            sequence,
        )
        with pytest.raises(SmppProtocolError):
            decode(frame)
        assert sim.server.stats.accepted == 1
        assert sim.server.store.pending == 1  # the record is kept
        clock.advance(2)
        sim.server.wake()
        [receipt] = await client.deliveries(1)
        assert receipt.esm_class == 0x04
        await client.close()
        await asyncio.sleep(0.05)
        alerts = [e for _, e in sub.drain() if isinstance(e, Alert)]
    assert [a.alert_kind for a in alerts] == ["malformed_pdu"]
    assert "bad_field submit_sm_resp" in alerts[0].detail


@pytest.mark.asyncio
async def test_damaged_deliver_sm_is_redelivered_after_the_connection_breaks() -> None:
    clock = ManualClock(EPOCH)
    fault = {
        "kind": "malformed_pdu",
        "variant": "command_length_too_short",
        "pdu": "deliver_sm",
        "max_count": 1,
    }
    async with asyncio.timeout(20), running_simulator(config(fault), clock=clock) as sim:
        client = await SmppTestClient.connect(sim.host, sim.port)
        await client.bind("acme", "pw")
        response = await client.request(submit_sm())
        assert response.command_status == 0
        clock.advance(2)
        sim.server.wake()
        frame = await client.reader.readexactly(16)  # the framer would refuse it
        assert header(frame)[0] == TOO_SHORT
        assert header(frame)[1] == CommandId.DELIVER_SM
        await client.close()  # the ESME lost its framing and drops the connection
        again = await SmppTestClient.connect(sim.host, sim.port)
        await again.bind("acme", "pw")
        [receipt] = await again.deliveries(1)
        assert receipt.esm_class == 0x04
        await again.close()
    assert sim.server.stats.receipts_sent == 1
    assert sim.server.stats.wire_faults == 1


@pytest.mark.asyncio
async def test_deliver_before_bound_precedes_the_bind_resp() -> None:
    clock = ManualClock(EPOCH)
    async with (
        asyncio.timeout(20),
        running_simulator(
            config({"kind": "deliver_before_bound", "end_s": 10}), clock=clock
        ) as sim,
    ):
        client = await SmppTestClient.connect(sim.host, sim.port)
        client.send(BindTransceiver(system_id="acme", password="pw"))
        early = await client.expect(DeliverSm)
        resp = await client.expect(BindTransceiverResp)
        assert resp.command_status == 0
        client.send(DeliverSmResp(early.sequence_number))
        answer = await client.request(submit_sm())
        assert answer.command_status == 0  # the stray deliver_sm_resp harmed nothing
        await client.close()
        clock.advance(20)
        late = await SmppTestClient.connect(sim.host, sim.port)
        client_resp = await late.bind("acme", "pw")  # outside the window: a plain bind
        assert client_resp.command_status == 0
        assert late.unsolicited == []
        await late.close()


@pytest.mark.asyncio
async def test_garbage_bytes_once_per_session_when_the_window_opens() -> None:
    clock = ManualClock(EPOCH)
    fault = {"kind": "garbage_bytes", "octets": 48, "start_s": 10, "end_s": 20}
    async with asyncio.timeout(20), running_simulator(config(fault), clock=clock) as sim:
        client = await SmppTestClient.connect(sim.host, sim.port)
        await client.bind("acme", "pw")
        clock.advance(10)
        sim.server.wake()
        data = await client.reader.readexactly(48)
        assert data[0] == 0xFF
        clock.advance(1)
        sim.server.wake()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await client.reader.read(1)
        await client.close()
    assert sim.server.stats.wire_faults == 1


def test_the_runner_maps_a_scenarios_wire_faults_onto_the_simulator_config() -> None:
    spec = SimulatorSpec.model_validate(
        {
            "accounts": [{"system_id": "peer", "password": "peer"}],
            "wire_faults": [
                {"kind": "malformed_pdu", "variant": "invalid_command_id", "pdu": "enquire_link"},
                {"kind": "deliver_before_bound", "accounts": ["peer"], "start_s": 30, "end_s": 60},
                {"kind": "garbage_bytes", "octets": 32, "start_s": 50, "end_s": 51},
            ],
        }
    )
    config = config_from_mapping(simulator_config(spec, epoch_s=EPOCH, seed=12))
    wire = config.wire_faults
    assert (wire.epoch_s, wire.seed) == (EPOCH, 12)
    assert [f.model_dump() for f in wire.faults] == [
        {**f.model_dump(), "accounts": None if f.accounts is None else tuple(f.accounts)}
        for f in spec.wire_faults
    ]
    assert simulator_config(SimulatorSpec()).get("wire_faults") is None
