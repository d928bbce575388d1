"""Session faults carried out by the server over real loopback TCP.

The carrier model decides (``simulator.network.faults.session_decision``); the server shell
disconnects, unbinds or stalls the sessions of the accounts the fault scopes, also when no PDU
arrives (its global timer is armed at ``next_session_deadline``), and says so on the bus.
Most tests move a ``ManualClock`` and call ``server.wake()``; one uses a fast ``ScaledClock`` so
the server's own timer has to fire the fault.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from simulator.carrier import CarrierNetworkHandler
from simulator.network import CarrierNetwork, NetworkConfig
from simulator.smpp.pdu import EnquireLink, SubmitSm, SubmitSmResp, Unbind, UnbindResp
from simulator.testing import RunningSimulator, SmppTestClient, running_simulator
from sms.bus.bus import Subscription
from sms.bus.events import BindStateChanged, Event, FaultCleared, FaultInjected
from sms.bus.memory import InMemoryBus
from sms.clock import ManualClock, ScaledClock

EPOCH = 1_767_225_600.0  # NetworkConfig's default epoch (2026-01-01T00:00:00Z)
OK = "09011112222"


def handler(*faults: dict[str, Any]) -> CarrierNetworkHandler:
    """A carrier model with one always-delivered subscriber and these faults."""
    config = NetworkConfig.model_validate(
        {
            "population": {"size": 0},
            "two_way": {"enabled": False},
            "quiet_hours": {"enabled": False},
            "subscribers": [{"number": OK, "outcome": "delivered"}],
            "faults": list(faults),
        }
    )
    return CarrierNetworkHandler(CarrierNetwork(config, 1, "faults"))


def submit_sm(text: str = "hello") -> SubmitSm:
    """A plain submit_sm to the delivered subscriber."""
    return SubmitSm(source_addr="00051234", destination_addr=OK, short_message=text.encode())


async def bound(sim: RunningSimulator, system_id: str) -> SmppTestClient:
    """A bound transceiver."""
    client = await SmppTestClient.connect(sim.host, sim.port)
    response = await client.bind(system_id, "pw")
    assert response.command_status == 0
    return client


@contextlib.asynccontextmanager
async def observed(
    fault: dict[str, Any], clock: ManualClock
) -> AsyncIterator[tuple[RunningSimulator, Subscription]]:
    """The simulator with this fault on `clock`, and a subscription to its bus events; the
    whole block has 20 s."""
    bus = InMemoryBus()
    async with (
        asyncio.timeout(20),
        bus,
        bus.subscribe("smsh/v1/simulator/#", maxsize=1000) as sub,
        running_simulator(None, handler=handler(fault), clock=clock, bus=bus) as sim,
    ):
        yield sim, sub


def simulator_events(seen: list[tuple[str, Event]]) -> list[Event]:
    """The events, without metrics snapshots."""
    return [e for _, e in seen if e.kind != "metrics_snapshot"]


def closed_reasons(events: list[Event]) -> dict[str, str | None]:
    """system_id -> reason of its session's closing BindStateChanged."""
    return {
        e.system_id: e.reason
        for e in events
        if isinstance(e, BindStateChanged) and e.state == "closed"
    }


@pytest.mark.asyncio
async def test_disconnect_after_pdus_closes_only_the_scoped_account() -> None:
    fault = {"kind": "disconnect_after_pdus", "pdus": 3, "accounts": ["acme"]}
    async with observed(fault, ManualClock(EPOCH)) as (sim, sub):
        victim = await bound(sim, "acme")
        other = await bound(sim, "other")
        resp = await victim.request(submit_sm())  # PDU 2: answered
        assert isinstance(resp, SubmitSmResp)
        assert resp.command_status == 0
        kept = resp.message_id
        victim.send(submit_sm())  # PDU 3: answered, then the connection is closed
        assert isinstance(await victim.read(), SubmitSmResp)
        assert await victim.closed(2.0)
        for _ in range(3):
            resp = await other.request(submit_sm())
            assert resp.command_status == 0
        await other.close()
        await asyncio.sleep(0.05)
        events = simulator_events(sub.drain())
    assert closed_reasons(events)["acme"] == "fault disconnect_after_pdus"
    injected = [e for e in events if isinstance(e, FaultInjected)]
    assert [(e.fault_kind, e.params["account"], e.params["action"]) for e in injected] == [
        ("disconnect_after_pdus", "acme", "disconnect")
    ]
    cleared = [e for e in events if isinstance(e, FaultCleared)]
    assert [c.fault_id for c in cleared] == [injected[0].fault_id]
    assert sim.server.store.get(kept) is not None


@pytest.mark.asyncio
async def test_disconnect_at_fires_on_the_clock_without_traffic_and_spares_later_binds() -> None:
    clock = ManualClock(EPOCH)
    async with observed({"kind": "disconnect_at", "at_s": 10}, clock) as (sim, sub):
        client = await bound(sim, "acme")
        clock.advance(5)
        sim.server.wake()
        with pytest.raises(TimeoutError):
            await client.read(0.2)  # not yet
        clock.advance(6)
        sim.server.wake()
        assert await client.closed(2.0)
        later = await bound(sim, "acme")  # bound after the instant: left alone
        resp = await later.request(submit_sm())
        assert resp.command_status == 0
        await later.close()
        await asyncio.sleep(0.05)
        events = simulator_events(sub.drain())
    reasons = [e.reason for e in events if isinstance(e, BindStateChanged) and e.state == "closed"]
    assert reasons[0] == "fault disconnect_at"
    assert "fault disconnect_at" not in reasons[1:]


@pytest.mark.asyncio
async def test_disconnect_at_fires_from_the_servers_own_timer() -> None:
    # 20 simulated seconds at 100x: the fault fires about 0.2 s after start with no PDU and
    # no wake(); only the global timer armed at next_session_deadline can do it.
    clock = ScaledClock(EPOCH, 100.0)
    async with (
        asyncio.timeout(20),
        running_simulator(
            None, handler=handler({"kind": "disconnect_at", "at_s": 20}), clock=clock
        ) as sim,
    ):
        client = await bound(sim, "acme")
        assert await client.closed(3.0)
        assert clock.now() >= EPOCH + 20


@pytest.mark.asyncio
async def test_server_unbind_sends_unbind_and_closes_on_unbind_resp() -> None:
    clock = ManualClock(EPOCH)
    async with observed({"kind": "server_unbind", "at_s": 5}, clock) as (sim, sub):
        client = await bound(sim, "acme")
        clock.advance(6)
        sim.server.wake()
        unbind = await client.expect(Unbind, 2.0)
        client.send(UnbindResp(unbind.sequence_number))
        assert await client.closed(2.0)
        await asyncio.sleep(0.05)
        events = simulator_events(sub.drain())
    states = [
        (e.state, e.reason)
        for e in events
        if isinstance(e, BindStateChanged) and e.state != "bound"
    ]
    assert states == [("unbinding", "fault server_unbind"), ("closed", "fault server_unbind")]


@pytest.mark.asyncio
async def test_server_unbind_after_pdus_closes_when_unbind_is_not_answered() -> None:
    clock = ManualClock(EPOCH)
    async with (
        asyncio.timeout(20),
        running_simulator(
            {"timers": {"response_s": 0.3}},
            handler=handler({"kind": "server_unbind", "after_pdus": 2}),
            clock=clock,
        ) as sim,
    ):
        client = await bound(sim, "acme")
        client.send(EnquireLink())
        await client.read(2.0)  # enquire_link_resp
        await client.expect(Unbind, 2.0)
        assert await client.closed(3.0)  # never answered: the response timer closes it


@pytest.mark.asyncio
async def test_stall_stops_reading_for_the_window_then_answers() -> None:
    clock = ManualClock(EPOCH)
    async with observed({"kind": "stall", "start_s": 10, "end_s": 20}, clock) as (sim, sub):
        client = await bound(sim, "acme")
        clock.advance(10)
        sim.server.wake()
        sequence = client.send(submit_sm())
        with pytest.raises(TimeoutError):
            await client.read(0.3)  # stalled: no answer
        assert sim.server.stats.submits == 0
        clock.advance(10)
        sim.server.wake()
        resp = await client.expect(SubmitSmResp, 2.0)
        assert resp.sequence_number == sequence
        assert resp.command_status == 0
        again = await client.request(submit_sm("again"))
        assert again.command_status == 0
        await client.close()
        await asyncio.sleep(0.05)
        events = simulator_events(sub.drain())
    injected = [e for e in events if isinstance(e, FaultInjected)]
    cleared = [e for e in events if isinstance(e, FaultCleared)]
    assert [e.fault_kind for e in injected] == ["stall"]
    assert injected[0].until == EPOCH + 20
    assert [(c.fault_id, c.reason) for c in cleared] == [(injected[0].fault_id, "expired")]
    assert closed_reasons(events)["acme"] != "fault stall"
