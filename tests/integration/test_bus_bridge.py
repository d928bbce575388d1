"""BusBridge: local events mirrored to a remote bus, remote controls forwarded inward, no loops;
and `run_scenario(..., bus_url=...)` watched and controlled through a real Mosquitto."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from scenarios.loader import load_scenario
from scenarios.runner import RunOutcome, run_scenario
from sms.bus.bridge import BusBridge
from sms.bus.bus import Subscription
from sms.bus.control import ControlChannel
from sms.bus.errors import BusUrlError
from sms.bus.events import (
    Alert,
    BindStateChanged,
    Control,
    ControlAcknowledged,
    ControlAction,
    Event,
    MessageAccepted,
    SubmitReceived,
)
from sms.bus.memory import InMemoryBus
from sms.bus.mqtt import MqttBus
from sms.bus.topics import control_topic, event_topic
from sms.clock import ManualClock
from tests.integration.mqtt_broker import MosquittoBroker, require_mosquitto, running_mosquitto

pytestmark = pytest.mark.mqtt

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "scenarios" / "library" / "smoke.yaml"


@pytest_asyncio.fixture
async def broker() -> AsyncIterator[MosquittoBroker]:
    async with running_mosquitto(require_mosquitto()) as running:
        yield running


def make_bus(broker: MosquittoBroker, name: str) -> MqttBus:
    return MqttBus(broker.host, broker.port, identifier=name, reconnect_min=0.05, reconnect_max=0.2)


def alert(n: int) -> Alert:
    return Alert(at=float(n), alert_kind="misdelivery", detail=f"#{n}")


def control(action: ControlAction = "pause_bind") -> Control:
    return Control(at=0.0, action=action, correlation_id="c-1", args={"bind_id": "b1"})


async def next_event(sub: Subscription) -> tuple[str, Event]:
    async with asyncio.timeout(5):
        return await anext(sub)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


# -- bridge behaviour, two in-memory buses -------------------------------------------------------


@pytest.mark.asyncio
async def test_events_are_mirrored_and_controls_forwarded_only_inward() -> None:
    async with (
        asyncio.timeout(5),
        InMemoryBus() as local,
        InMemoryBus() as remote,
        remote.subscribe("#") as remote_all,
        local.subscribe("#") as local_all,
        BusBridge(local, remote) as bridge,
    ):
        event_on_local = event_topic("gateway", "gw-1", "alert")
        await local.publish(event_on_local, alert(1))
        assert await next_event(remote_all) == (event_on_local, alert(1))

        # an event published on the remote is never forwarded inward
        await remote.publish(event_topic("tui", "ops", "alert"), alert(2))
        assert (await next_event(remote_all))[1] == alert(2)
        # a control from the remote reaches the local bus, and is not sent back
        ctl_topic = control_topic("gateway", "gw-1", "pause_bind")
        await remote.publish(ctl_topic, control())
        assert await next_event(remote_all) == (ctl_topic, control())
        assert (await next_event(local_all))[0] == event_on_local
        assert await next_event(local_all) == (ctl_topic, control())
        # a control published locally stays local
        await local.publish(control_topic("gateway", "gw-1", "resume_bind"), control())
        await settle()
        assert remote_all.drain() == []
        assert [t for t, _ in local_all.drain()] == [
            control_topic("gateway", "gw-1", "resume_bind")
        ]
        assert bridge.stats.mirrored == 1
        assert bridge.stats.forwarded == 1
        assert bridge.stats.dropped == 0


@pytest.mark.asyncio
async def test_acks_go_out_and_buffered_events_are_flushed_on_exit() -> None:
    clock = ManualClock(100.0)
    async with asyncio.timeout(5), InMemoryBus() as local, InMemoryBus() as remote:
        responder = ControlChannel(local, "gateway", "gw-1", clock=clock)

        async def pause(_control: Control) -> dict[str, bool]:
            return {"paused": True}

        responder.on("pause_bind", pause)
        requester = ControlChannel(remote, "tui", "ops", clock=clock)
        async with responder, BusBridge(local, remote) as bridge:
            ack = await requester.request(
                "gateway", "gw-1", "pause_bind", {"bind_id": "b1"}, ack_timeout=2
            )
            assert ack.ok
            assert ack.result == {"paused": True}
            async with remote.subscribe("smsh/v1/+/+/alert") as alerts:
                for n in range(3):
                    local.publish_nowait(event_topic("gateway", "gw-1", "alert"), alert(n))
                await bridge.__aexit__(None, None, None)  # exits before the mirror task ran
                assert [e for _, e in alerts.drain()] == [alert(0), alert(1), alert(2)]
        assert bridge.stats.forwarded == 1
        assert bridge.stats.mirrored == 4  # the ack and three alerts


@pytest.mark.asyncio
async def test_a_closed_remote_counts_drops() -> None:
    async with (
        asyncio.timeout(5),
        InMemoryBus() as local,
        InMemoryBus() as remote,
        BusBridge(local, remote) as bridge,
    ):
        await remote.close()
        await local.publish(event_topic("gateway", "gw-1", "alert"), alert(1))
        await settle()
        assert bridge.stats.dropped == 1
        assert bridge.stats.mirrored == 0


# -- a scenario run watched through Mosquitto ---------------------------------------------------


@pytest.mark.asyncio
async def test_run_publishes_events_to_the_broker(broker: MosquittoBroker, tmp_path: Path) -> None:
    async with asyncio.timeout(25), make_bus(broker, "watcher") as watcher:
        await watcher.wait_connected()
        async with watcher.subscribe("smsh/v1/#", maxsize=100_000) as everything:
            outcome = await run_scenario(
                load_scenario(SMOKE), root=tmp_path, speed=2.0, bus_url=broker.url
            )
            assert outcome.passed, outcome.failed
            await asyncio.sleep(0.5)  # the last events are still on their way
            seen = everything.drain()
    assert everything.dropped == 0
    kinds = {(t.split("/")[2], e.kind) for t, e in seen}
    assert ("gateway", "message_accepted") in kinds
    assert ("simulator", "submit_received") in kinds
    assert ("gateway", "metrics_snapshot") in kinds or ("simulator", "metrics_snapshot") in kinds
    accepted = [e for _, e in seen if isinstance(e, MessageAccepted)]
    received = [e for _, e in seen if isinstance(e, SubmitReceived)]
    assert len(accepted) == 20
    assert len(received) >= 20
    assert not any(t.startswith("smsh/v1/control/") for t, _ in seen)


@pytest.mark.asyncio
async def test_controls_from_the_broker_reach_the_running_gateway(
    broker: MosquittoBroker, tmp_path: Path
) -> None:
    async with asyncio.timeout(25), make_bus(broker, "operator") as operator:
        await operator.wait_connected()
        ops = ControlChannel(operator, "tui", "ops", clock=ManualClock(0.0))
        async with operator.subscribe("smsh/v1/gateway/+/bind_state_changed") as binds:
            run: asyncio.Task[RunOutcome] = asyncio.create_task(
                run_scenario(load_scenario(SMOKE), root=tmp_path, speed=2.0, bus_url=broker.url)
            )
            try:
                _topic, event = await next_event(binds)
                assert isinstance(event, BindStateChanged)
                instance, bind_id = event.instance, event.bind_id
                paused = await ops.request(
                    "gateway", instance, "pause_bind", {"bind_id": bind_id}, ack_timeout=5
                )
                resumed = await ops.request(
                    "gateway", instance, "resume_bind", {"bind_id": bind_id}, ack_timeout=5
                )
                refused = await ops.request(
                    "gateway", instance, "set_rate", {"rate": -1}, ack_timeout=5
                )
            finally:
                outcome = await run
    assert isinstance(paused, ControlAcknowledged)
    assert paused.ok, paused.detail
    assert paused.result == {"bind_id": bind_id, "paused": True}
    assert resumed.ok, resumed.detail
    assert resumed.result == {"bind_id": bind_id, "paused": False}
    assert not refused.ok
    assert outcome.passed, outcome.failed


def test_a_bad_bus_url_is_refused_before_the_run_starts(tmp_path: Path) -> None:
    async def run() -> RunOutcome:
        async with asyncio.timeout(5):
            return await run_scenario(
                load_scenario(SMOKE), root=tmp_path, bus_url="http://127.0.0.1"
            )

    with pytest.raises(BusUrlError, match="scheme"):
        asyncio.run(run())
    assert list(tmp_path.iterdir()) == []
