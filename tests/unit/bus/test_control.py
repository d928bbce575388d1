"""ControlChannel over the in-memory bus: dispatch by action, acks, refusals, broadcast, dedup."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping

import pytest
import pytest_asyncio
from pydantic import JsonValue

from sms.bus.control import ControlChannel, ControlRefused
from sms.bus.errors import ControlTimeout
from sms.bus.events import Alert, Control, ControlAcknowledged
from sms.bus.memory import InMemoryBus
from sms.bus.topics import control_topic, event_pattern
from sms.clock import ManualClock


@pytest_asyncio.fixture
async def bus() -> AsyncIterator[InMemoryBus]:
    async with InMemoryBus() as memory_bus:
        yield memory_bus


class Gateway:
    """A stand-in component with a few handlers."""

    def __init__(self) -> None:
        self.paused: list[str] = []
        self.calls = 0

    async def pause_bind(self, control: Control) -> Mapping[str, JsonValue]:
        self.calls += 1
        bind_id = control.args.get("bind_id")
        if bind_id not in ("b1", "b2"):
            raise ControlRefused(f"no bind {bind_id!r}")
        assert isinstance(bind_id, str)
        self.paused.append(bind_id)
        return {"paused": bind_id}

    async def drain(self, control: Control) -> None:
        raise RuntimeError("disk on fire")


def responder(bus: InMemoryBus, instance: str, gateway: Gateway) -> ControlChannel:
    return ControlChannel(
        bus,
        "gateway",
        instance,
        clock=ManualClock(start=10.0),
        handlers={"pause_bind": gateway.pause_bind, "drain": gateway.drain},
    )


def requester(bus: InMemoryBus) -> ControlChannel:
    ids = iter(f"req-{n}" for n in range(1000))
    return ControlChannel(bus, "tui", "ops", clock=ManualClock(start=5.0), new_id=lambda: next(ids))


@pytest.mark.asyncio
async def test_request_is_handled_and_acknowledged(bus: InMemoryBus) -> None:
    gateway = Gateway()
    async with asyncio.timeout(5), responder(bus, "gw-1", gateway):
        ack = await requester(bus).request("gateway", "gw-1", "pause_bind", {"bind_id": "b1"})
    assert ack == ControlAcknowledged(
        at=10.0,
        correlation_id="req-0",
        action="pause_bind",
        component="gateway",
        instance="gw-1",
        ok=True,
        result={"paused": "b1"},
    )
    assert gateway.paused == ["b1"]


@pytest.mark.asyncio
async def test_refusal_unknown_action_and_failure(
    bus: InMemoryBus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="smsh.bus.control")
    async with asyncio.timeout(5), responder(bus, "gw-1", Gateway()):
        ops = requester(bus)
        refused = await ops.request("gateway", "gw-1", "pause_bind", {"bind_id": "zz"})
        unknown = await ops.request("gateway", "gw-1", "set_rate", {"rate": 5})
        failed = await ops.request("gateway", "gw-1", "drain")
    assert (refused.ok, refused.detail) == (False, "no bind 'zz'")
    assert not unknown.ok
    assert unknown.detail is not None
    assert "no handler for 'set_rate'" in unknown.detail
    assert (failed.ok, failed.detail) == (False, "RuntimeError: disk on fire")
    # The failure is not swallowed: it is logged with its traceback.
    failures = [r for r in caplog.records if r.exc_info]
    assert len(failures) == 1
    assert "drain" in failures[0].getMessage()


@pytest.mark.asyncio
async def test_only_the_addressed_instance_answers(bus: InMemoryBus) -> None:
    one, two = Gateway(), Gateway()
    async with asyncio.timeout(5), responder(bus, "gw-1", one), responder(bus, "gw-2", two):
        ack = await requester(bus).request("gateway", "gw-2", "pause_bind", {"bind_id": "b2"})
    assert ack.instance == "gw-2"
    assert (one.paused, two.paused) == ([], ["b2"])


@pytest.mark.asyncio
async def test_broadcast_reaches_every_instance(bus: InMemoryBus) -> None:
    gateways = [Gateway() for _ in range(3)]
    async with asyncio.timeout(5):
        async with (
            responder(bus, "gw-0", gateways[0]),
            responder(bus, "gw-1", gateways[1]),
            responder(bus, "gw-2", gateways[2]),
        ):
            acks = await requester(bus).broadcast(
                "gateway", "pause_bind", {"bind_id": "b1"}, wait=2.0, expected=3
            )
    assert sorted(a.instance for a in acks) == ["gw-0", "gw-1", "gw-2"]
    assert all(a.ok for a in acks)
    assert all(g.paused == ["b1"] for g in gateways)


@pytest.mark.asyncio
async def test_timeout_when_nobody_answers(bus: InMemoryBus) -> None:
    async with asyncio.timeout(5):
        with pytest.raises(ControlTimeout) as info:
            await requester(bus).request("gateway", "nobody", "drain", ack_timeout=0.05)
    assert info.value.correlation_id == "req-0"


@pytest.mark.asyncio
async def test_broadcast_collects_until_wait_expires(bus: InMemoryBus) -> None:
    async with asyncio.timeout(5), responder(bus, "gw-1", Gateway()):
        acks = await requester(bus).broadcast("gateway", "pause_bind", {"bind_id": "b1"}, wait=0.05)
    assert [a.instance for a in acks] == ["gw-1"]


@pytest.mark.asyncio
async def test_redelivered_control_runs_once_and_is_answered_again(bus: InMemoryBus) -> None:
    gateway = Gateway()
    control = Control(at=1.0, action="pause_bind", correlation_id="dup", args={"bind_id": "b1"})
    topic = control_topic("gateway", "gw-1", "pause_bind")
    acks_pattern = event_pattern("gateway", "gw-1", "control_acknowledged")
    async with (
        asyncio.timeout(5),
        responder(bus, "gw-1", gateway),
        bus.subscribe(acks_pattern) as acks,
    ):
        await bus.publish(topic, control)
        await bus.publish(topic, control)
        first = await anext(acks)
        second = await anext(acks)
    assert first == second
    assert gateway.calls == 1


@pytest.mark.asyncio
async def test_mismatched_action_and_stray_events(bus: InMemoryBus) -> None:
    gateway = Gateway()
    acks_pattern = event_pattern("gateway", "gw-1", "control_acknowledged")
    async with (
        asyncio.timeout(5),
        responder(bus, "gw-1", gateway),
        bus.subscribe(acks_pattern) as acks,
    ):
        # Not a Control: ignored (logged), no ack.
        await bus.publish(
            control_topic("gateway", "gw-1", "drain"),
            Alert(at=1.0, alert_kind="backlog"),
        )
        # The body says pause_bind, the topic says drain: refused without running anything.
        await bus.publish(
            control_topic("gateway", "gw-1", "drain"),
            Control(at=1.0, action="pause_bind", correlation_id="x", args={"bind_id": "b1"}),
        )
        _, ack = await anext(acks)
    assert isinstance(ack, ControlAcknowledged)
    assert not ack.ok
    assert ack.detail is not None
    assert "does not match" in ack.detail
    assert gateway.calls == 0


@pytest.mark.asyncio
async def test_send_is_fire_and_forget(bus: InMemoryBus) -> None:
    async with asyncio.timeout(5):
        async with bus.subscribe("smsh/v1/control/#") as controls:
            correlation_id = await requester(bus).send("simulator", "all", "inject_fault", {"k": 1})
            topic, control = await anext(controls)
    assert topic == "smsh/v1/control/simulator/all/inject_fault"
    assert isinstance(control, Control)
    assert control.correlation_id == correlation_id
    assert control.requested_by == "tui/ops"
    assert control.at == 5.0
