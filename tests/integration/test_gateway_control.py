"""Operator controls (`gateway.control`) over the bus, against the simulated SMSC on loopback:
pause/resume a bind, set a rate, drain, and refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import JsonValue

from gateway.control import GatewayControls
from gateway.gateway import Gateway
from gateway.routing import SubmitRejected
from gateway.store import MessageState
from simulator.testing import running_simulator
from sms.bus import BindStateChanged
from sms.bus.control import ControlChannel
from sms.bus.mqtt import MqttBus
from sms.bus.topics import event_pattern
from sms.clock import SystemClock
from tests.integration.mqtt_broker import require_mosquitto, running_mosquitto
from tests.integration.test_gateway_loopback import final, make_config, running, wait_for

pytestmark = pytest.mark.asyncio

TIMEOUT = 30.0


@asynccontextmanager
async def controlled(
    tmp_path: Path, bind: dict[str, Any] | None = None
) -> AsyncIterator[tuple[Any, Gateway, ControlChannel]]:
    """A simulator, a gateway bound to it answering controls, and a requester channel."""
    async with (
        running_simulator({"receipts": {"delay_s": 0.05}}) as sim,
        running(tmp_path / "g.db", make_config(sim.port, bind=bind)) as gw,
        GatewayControls(gw),
    ):
        await wait_for(lambda: gw.binds()[0].state == "bound")
        yield sim, gw, ControlChannel(gw.bus, "tui", "ops-1", clock=SystemClock())


async def test_pause_holds_submits_and_resume_lets_them_flow(tmp_path: Path) -> None:
    async with asyncio.timeout(TIMEOUT), controlled(tmp_path) as (sim, gw, req):
        instance = gw.config.instance
        pattern = event_pattern("gateway", instance, "bind_state_changed")
        async with gw.bus.subscribe(pattern) as sub:
            ack = await req.request("gateway", instance, "pause_bind", {"bind_id": "b"})
            assert ack.ok, ack.detail
            assert ack.result == {"bind_id": "b", "paused": True}
            _topic, event = await anext(aiter(sub))
            assert isinstance(event, BindStateChanged)
            assert (event.bind_id, event.state, event.paused) == ("b", "bound", True)

            before = sim.server.stats.accepted
            ids = [await gw.submit("09012345678", f"held {i}") for i in range(3)]
            await asyncio.sleep(0.5)
            assert sim.server.stats.accepted == before
            assert (await gw.counts()).get(MessageState.QUEUED, 0) == 3
            assert gw.binds()[0].state == "bound"  # the session was not dropped

            ack = await req.request("gateway", instance, "resume_bind", {"bind_id": "b"})
            assert ack.ok, ack.detail
            _topic, event = await anext(aiter(sub))
            assert isinstance(event, BindStateChanged)
            assert event.paused is False
            statuses = await final(gw, ids)
    assert [s.state for s in statuses] == [MessageState.DELIVERED] * 3
    assert sim.server.stats.accepted == before + 3


async def test_pause_lets_in_flight_parts_complete(tmp_path: Path) -> None:
    async with asyncio.timeout(TIMEOUT), controlled(tmp_path) as (sim, gw, req):
        instance = gw.config.instance
        ids = [await gw.submit("09012345678", f"m {i}") for i in range(20)]
        ack = await req.request("gateway", instance, "pause_bind", {"bind_id": "b"})
        assert ack.ok, ack.detail
        # Whatever was handed out before the pause is answered; then nothing more goes out.
        await wait_for(lambda: gw.binds()[0].in_flight == 0)
        settled = sim.server.stats.accepted
        await asyncio.sleep(0.3)
        assert sim.server.stats.accepted == settled
        ack = await req.request("gateway", instance, "resume_bind", {"bind_id": "b"})
        assert ack.ok, ack.detail
        statuses = await final(gw, ids)
    assert all(s.state is MessageState.DELIVERED for s in statuses)


async def test_set_rate_slows_submission_and_bad_rates_are_refused(tmp_path: Path) -> None:
    async with asyncio.timeout(TIMEOUT), controlled(tmp_path) as (sim, gw, req):
        instance = gw.config.instance
        refused: list[dict[str, JsonValue]] = [
            {"bind_id": "b", "rate": -1},
            {"bind_id": "b", "rate": "fast"},
            {"bind_id": "b", "rate": True},
            {"bind_id": "b"},
            {"bind_id": "b", "rate": 5, "burst": 0},
            {"bind_id": "nope", "rate": 5},
        ]
        for args in refused:
            ack = await req.request("gateway", instance, "set_rate", args)
            assert not ack.ok, args
            assert ack.detail, args

        ack = await req.request("gateway", instance, "set_rate", {"bind_id": "b", "rate": 4})
        assert ack.ok, ack.detail
        assert ack.result == {"scope": "bind", "bind_id": "b", "rate": 4.0, "burst": 4.0}
        before = sim.server.stats.accepted
        ids = [await gw.submit("09012345678", f"slow {i}") for i in range(30)]
        await asyncio.sleep(1.0)
        sent = sim.server.stats.accepted - before
        # 4/s with a burst of 4: about 8 in one second; unthrottled all 30 go in far less.
        assert 2 <= sent <= 14, sent

        # A low global rate limits too; then raise both and the rest flows.
        ack = await req.request("gateway", instance, "set_rate", {"rate": 1, "burst": 1})
        assert ack.ok, ack.detail
        assert ack.result["scope"] == "global"
        mark = sim.server.stats.accepted
        await asyncio.sleep(1.0)
        assert sim.server.stats.accepted - mark <= 4
        raised: list[dict[str, JsonValue]] = [
            {"rate": 10_000},
            {"bind_id": "b", "rate": 10_000, "burst": 100},
        ]
        for args in raised:
            ack = await req.request("gateway", instance, "set_rate", args)
            assert ack.ok, ack.detail
        statuses = await final(gw, ids)
    assert all(s.state is MessageState.DELIVERED for s in statuses)


async def test_drain_rejects_new_submits_and_answers_when_empty(tmp_path: Path) -> None:
    async with asyncio.timeout(TIMEOUT), controlled(tmp_path) as (_sim, gw, req):
        instance = gw.config.instance
        ack = await req.request("gateway", instance, "set_rate", {"bind_id": "b", "rate": 10})
        assert ack.ok, ack.detail
        ids = [await gw.submit("09012345678", f"d {i}") for i in range(15)]
        drain = asyncio.create_task(
            req.request("gateway", instance, "drain", {"wait_s": 10}, ack_timeout=15)
        )
        await wait_for(lambda: _draining(gw))
        with pytest.raises(SubmitRejected) as caught:
            await gw.submit("09012345678", "too late")
        assert caught.value.reason == "draining"
        assert caught.value.reason.value == "draining"
        assert not drain.done()  # still draining: the queue is not empty yet
        ack = await drain
        assert ack.ok, ack.detail
        assert ack.result["drained"] is True
        assert ack.result["queued"] == 0
        counts = await gw.counts()
        statuses = await final(gw, ids)
    assert counts.get(MessageState.QUEUED, 0) == 0
    assert len(statuses) == 15
    assert all(s.state is MessageState.DELIVERED for s in statuses)


def _draining(gw: Gateway) -> bool:
    """True once `submit` refuses (probed without storing anything)."""
    try:
        gw.submit_guard()
    except SubmitRejected:
        return True
    return False


async def test_unknown_bind_and_unhandled_actions_are_refused(tmp_path: Path) -> None:
    async with asyncio.timeout(TIMEOUT), controlled(tmp_path) as (_sim, gw, req):
        instance = gw.config.instance
        for action in ("pause_bind", "resume_bind"):
            ack = await req.request("gateway", instance, action, {"bind_id": "nope"})
            assert not ack.ok
            assert ack.detail is not None
            assert "nope" in ack.detail
            ack = await req.request("gateway", instance, action, {})
            assert not ack.ok
        ack = await req.request("gateway", instance, "inject_fault", {"fault_kind": "x"})
        assert not ack.ok
        # Broadcast reaches this instance too.
        acks = await req.broadcast("gateway", "pause_bind", {"bind_id": "b"}, expected=1)
        assert [a.ok for a in acks] == [True]
        assert gw.bind("b").paused


@pytest.mark.mqtt
async def test_pause_and_resume_over_a_real_mosquitto(tmp_path: Path) -> None:
    async with (
        asyncio.timeout(TIMEOUT),
        running_mosquitto(require_mosquitto()) as broker,
        running_simulator({"receipts": {"delay_s": 0.05}}) as sim,
        running(tmp_path / "g.db", make_config(sim.port)) as gw,
        MqttBus(broker.host, broker.port, identifier="gw-ctl") as responder_bus,
        MqttBus(broker.host, broker.port, identifier="tui-ctl") as requester_bus,
    ):
        await asyncio.wait_for(responder_bus.wait_connected(), 10)
        await asyncio.wait_for(requester_bus.wait_connected(), 10)
        instance = gw.config.instance
        channel = ControlChannel(responder_bus, "gateway", instance, clock=gw.clock)
        req = ControlChannel(requester_bus, "tui", "ops-1", clock=SystemClock())
        async with GatewayControls(gw, channel):
            await wait_for(lambda: gw.binds()[0].state == "bound")
            ack = await req.request("gateway", instance, "pause_bind", {"bind_id": "b"})
            assert ack.ok, ack.detail
            before = sim.server.stats.accepted
            ids = [await gw.submit("09012345678", f"mqtt {i}") for i in range(3)]
            await asyncio.sleep(0.3)
            assert sim.server.stats.accepted == before
            ack = await req.request("gateway", instance, "resume_bind", {"bind_id": "b"})
            assert ack.ok, ack.detail
            statuses = await final(gw, ids)
    assert all(s.state is MessageState.DELIVERED for s in statuses)
