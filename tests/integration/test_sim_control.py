"""`SimulatorControls`: inject_fault / clear_fault round trips over the in-process bus.

A requester channel (as the TUI uses) asks a running simulator to throttle, stall, and stop
again; an SMPP client over loopback TCP sees the effect.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from pydantic import JsonValue

from simulator.carrier import CarrierNetworkHandler
from simulator.control import SimulatorControls
from simulator.network import CarrierNetwork, NetworkConfig
from simulator.smpp.constants import CommandStatus
from simulator.smpp.pdu import SubmitSm, SubmitSmResp
from simulator.testing import RunningSimulator, SmppTestClient, running_simulator
from sms.bus.bus import Subscription
from sms.bus.control import ControlChannel
from sms.bus.events import ControlAcknowledged, FaultCleared, FaultInjected
from sms.bus.memory import InMemoryBus
from sms.clock import ManualClock

EPOCH = 1_767_225_600.0
OK = "09011112222"


@dataclass
class Rig:
    """A simulator with controls, a requester, a bound client and the fault events."""

    sim: RunningSimulator
    clock: ManualClock
    requester: ControlChannel
    client: SmppTestClient
    events: Subscription

    async def ask(self, action: str, args: dict[str, JsonValue]) -> ControlAcknowledged:
        """Request a control of the simulator and return its ack."""
        return await self.requester.request("simulator", "sim-1", action, args)  # type: ignore[arg-type]

    async def submit(self, within: float = 2.0) -> int:
        """Submit one message; its command_status."""
        pdu = SubmitSm(source_addr="00051234", destination_addr=OK, short_message=b"hi")
        resp = await self.client.request(pdu, within)
        assert isinstance(resp, SubmitSmResp)
        return resp.command_status

    def faults(self) -> list[FaultInjected | FaultCleared]:
        """Fault events published so far."""
        return [e for _, e in self.events.drain() if isinstance(e, FaultInjected | FaultCleared)]


@asynccontextmanager
async def rig(*, fixed_fate: bool = False) -> AsyncIterator[Rig]:
    """Everything started, with a carrier model unless ``fixed_fate``."""
    clock = ManualClock(EPOCH)
    config = NetworkConfig.model_validate(
        {
            "population": {"size": 0},
            "two_way": {"enabled": False},
            "subscribers": [{"number": OK, "outcome": "delivered"}],
        }
    )
    handler = None if fixed_fate else CarrierNetworkHandler(CarrierNetwork(config, 1, "ctl"))
    bus = InMemoryBus()
    async with (
        asyncio.timeout(20),
        bus,
        bus.subscribe("smsh/v1/simulator/#", maxsize=1000) as events,
        running_simulator(None, handler=handler, clock=clock, bus=bus) as sim,
        SimulatorControls(sim.server),
        ControlChannel(bus, "tui", "ops", clock=clock) as requester,
    ):
        client = await SmppTestClient.connect(sim.host, sim.port)
        await client.bind("acme", "pw")
        try:
            yield Rig(sim, clock, requester, client, events)
        finally:
            await client.close()


@pytest.mark.asyncio
async def test_inject_throttle_then_clear_it() -> None:
    async with rig() as r:
        assert await r.submit() == 0
        ack = await r.ask(
            "inject_fault",
            {"fault_kind": "tps_throttle", "params": {"max_tps": 0}, "target": "acme"},
        )
        assert ack.ok, ack.detail
        fault_id = ack.result["fault_id"]
        assert ack.result["until"] is None
        assert await r.submit() == CommandStatus.ESME_RTHROTTLED
        assert await r.submit() == CommandStatus.ESME_RTHROTTLED
        ack = await r.ask("clear_fault", {"fault_id": fault_id})
        assert ack.ok, ack.detail
        assert await r.submit() == 0
        await asyncio.sleep(0.05)
        faults = r.faults()
    assert [type(e).__name__ for e in faults] == ["FaultInjected", "FaultCleared"]
    injected, cleared = faults
    assert isinstance(injected, FaultInjected)
    assert (injected.fault_id, injected.fault_kind, injected.target) == (
        fault_id,
        "tps_throttle",
        "acme",
    )
    assert injected.params["max_tps"] == 0
    assert isinstance(cleared, FaultCleared)
    assert (cleared.fault_id, cleared.reason) == (fault_id, "operator")


@pytest.mark.asyncio
async def test_throttle_for_another_account_leaves_this_one_alone() -> None:
    async with rig() as r:
        ack = await r.ask(
            "inject_fault",
            {"fault": {"kind": "tps_throttle", "max_tps": 0, "accounts": ["other"]}},
        )
        assert ack.ok, ack.detail
        assert await r.submit() == 0


@pytest.mark.asyncio
async def test_a_duration_clears_the_fault_by_itself() -> None:
    async with rig() as r:
        ack = await r.ask(
            "inject_fault",
            {"fault_kind": "queue_full", "params": {"rate": 1.0}, "duration_s": 0.3},
        )
        assert ack.ok, ack.detail
        assert ack.result["until"] == EPOCH + 0.3
        assert await r.submit() == CommandStatus.ESME_RMSGQFUL
        await asyncio.sleep(0.5)  # ManualClock has no to_real: 0.3 real seconds
        r.clock.advance(1)
        assert await r.submit() == 0
        faults = r.faults()
    assert [(type(e).__name__, getattr(e, "reason", None)) for e in faults] == [
        ("FaultInjected", None),
        ("FaultCleared", "expired"),
    ]


@pytest.mark.asyncio
async def test_an_injected_stall_holds_a_bound_session_at_once() -> None:
    async with rig() as r:
        ack = await r.ask("inject_fault", {"fault_kind": "stall", "target": "acme"})
        assert ack.ok, ack.detail
        with pytest.raises(TimeoutError):
            await r.submit(within=0.3)
        ack = await r.ask("clear_fault", {"fault_id": ack.result["fault_id"]})
        assert ack.ok, ack.detail
        reply = await r.client.expect(SubmitSmResp, 2.0)  # the held submit is answered
        assert reply.command_status == 0


@pytest.mark.asyncio
async def test_a_carrier_outage_started_and_ended_by_the_operator_holds_receipts() -> None:
    async with rig() as r:
        ack = await r.ask(
            "inject_fault", {"fault_kind": "carrier_outage", "params": {"carrier": "docomo"}}
        )
        assert ack.ok, ack.detail
        assert ack.result["until"] is None
        pdu = SubmitSm(
            source_addr="00051234",
            destination_addr=OK,
            short_message=b"held",
            registered_delivery=1,
        )
        resp = await r.client.request(pdu, 2.0)
        assert isinstance(resp, SubmitSmResp)
        assert resp.command_status == 0
        r.clock.advance(86_400)
        r.sim.server.wake()
        with pytest.raises(TimeoutError):
            await r.client.deliveries(1, 0.3)  # the carrier holds it (within its 72 h validity)
        ack = await r.ask("clear_fault", {"fault_id": ack.result["fault_id"]})
        assert ack.ok, ack.detail
        r.clock.advance(86_400)
        r.sim.server.wake()
        (receipt,) = await r.client.deliveries(1, 2.0)
        assert receipt.esm_class == 0x04
        assert b"stat:DELIVRD" in receipt.short_message
        assert f"id:{resp.message_id}".encode() in receipt.short_message


@pytest.mark.asyncio
async def test_bad_requests_are_refused_with_the_reason() -> None:
    async with rig() as r:
        bad = await r.ask("inject_fault", {"fault_kind": "tps_throttle", "params": {"max_tps": -1}})
        assert not bad.ok
        assert bad.detail is not None
        assert "max_tps" in bad.detail
        unknown = await r.ask("inject_fault", {"fault_kind": "meteor_strike"})
        assert not unknown.ok
        outage = await r.ask("inject_fault", {"fault_kind": "carrier_outage", "params": {"x": 1}})
        assert not outage.ok
        assert "x" in (outage.detail or "")
        window = await r.ask(
            "inject_fault", {"fault_kind": "stall", "params": {"start_s": 5, "end_s": 1}}
        )
        assert not window.ok
        assert "end_s" in (window.detail or "")
        duration = await r.ask("inject_fault", {"fault_kind": "stall", "duration_s": -1})
        assert not duration.ok
        missing = await r.ask("clear_fault", {"fault_id": "nope"})
        assert not missing.ok
        assert "nope" in (missing.detail or "")
        assert await r.submit() == 0  # nothing was half applied
        assert r.faults() == []


@pytest.mark.asyncio
async def test_without_a_carrier_model_faults_are_refused() -> None:
    async with rig(fixed_fate=True) as r:
        ack = await r.ask("inject_fault", {"fault_kind": "stall"})
        assert not ack.ok
        assert "network" in (ack.detail or "")
