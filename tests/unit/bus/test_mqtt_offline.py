"""MqttBus without a broker: QoS choice, the bounded outbox, local dispatch, close."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sms.bus.bus import Bus
from sms.bus.errors import BusClosed, TopicError
from sms.bus.events import Alert, Control, MetricsSnapshot, MoSent, encode_event
from sms.bus.mqtt import MqttBus, qos_for
from sms.bus.topics import control_topic, event_topic

T_ALERT = event_topic("gateway", "gw-1", "alert")
T_MO = event_topic("simulator", "sim-1", "mo_sent")


def alert(n: int) -> Alert:
    return Alert(at=float(n), alert_kind="backlog", detail=str(n))


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_mqtt_bus_satisfies_the_protocol() -> None:
    bus: Bus = MqttBus()
    assert not bus.stats.connected


def test_qos_for() -> None:
    control = Control(at=1.0, action="drain", correlation_id="c")
    assert qos_for(control_topic("gateway", "all", "drain"), control) == 1
    assert qos_for(T_ALERT, alert(1)) == 1
    metrics = MetricsSnapshot(at=1.0, seq=0, interval_s=1.0)
    assert qos_for(event_topic("gateway", "gw-1", "metrics_snapshot"), metrics) == 0
    mo = MoSent(at=1.0, source="8190", destination="1", text="x")
    assert qos_for(T_MO, mo) == 0


@pytest.mark.asyncio
async def test_outbox_is_bounded_and_drops_the_oldest(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="smsh.bus.mqtt")
    bus = MqttBus(max_pending=3)  # never started: everything stays in the outbox
    for n in range(5):
        await bus.publish(T_ALERT, alert(n))
    stats = bus.stats
    assert (stats.published, stats.pending_outgoing, stats.dropped_outgoing) == (5, 3, 2)
    assert [payload for _, payload, _ in bus._outbox] == [encode_event(alert(n)) for n in (2, 3, 4)]
    await bus.close()
    messages = [r.getMessage() for r in caplog.records]
    assert any("dropped 1 event" in m for m in messages)
    assert any("closed with 3 event(s) not sent" in m for m in messages)
    with pytest.raises(BusClosed):
        bus.publish_nowait(T_ALERT, alert(9))


@pytest.mark.asyncio
async def test_publish_checks_the_topic() -> None:
    bus = MqttBus()
    with pytest.raises(TopicError):
        await bus.publish("smsh/v1/#", alert(1))
    assert bus.stats.published == 0


@pytest.mark.asyncio
async def test_unreachable_broker_keeps_retrying_and_closes_cleanly() -> None:
    async with asyncio.timeout(5):
        bus = MqttBus("127.0.0.1", unused_port(), reconnect_min=0.01, reconnect_max=0.02)
        async with bus, bus.subscribe("smsh/v1/#") as sub:
            bus.publish_nowait(T_ALERT, alert(1))
            await asyncio.sleep(0.1)  # several refused attempts
            assert not bus.connected
            assert bus.stats.subscriptions == 1
            assert bus.stats.pending_outgoing == 1
        assert sub.closed
        assert bus.stats.subscriptions == 0


def publish_properties(*ids: int) -> Properties:
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    for sub_id in ids:
        properties.SubscriptionIdentifier = sub_id  # accumulates a list
    return properties


@pytest.mark.asyncio
async def test_dispatch_by_subscription_identifier() -> None:
    bus = MqttBus()
    async with (
        bus.subscribe("smsh/v1/#") as everything,
        bus.subscribe("smsh/v1/+/+/alert") as alerts,
    ):
        everything_id = bus._sub_ids["smsh/v1/#"]
        alerts_id = bus._sub_ids["smsh/v1/+/+/alert"]
        payload = encode_event(alert(1))
        # MQTT 5 brokers send one copy per matching subscription (or one copy with all ids).
        bus._dispatch(T_ALERT, payload, publish_properties(alerts_id))
        bus._dispatch(T_ALERT, payload, publish_properties(everything_id))
        bus._dispatch(T_ALERT, payload, publish_properties(alerts_id, everything_id))
        assert len(everything.drain()) == 2
        assert len(alerts.drain()) == 2
        # Without ids (an MQTT 3.1.1-style broker): topic matching, once per subscription.
        bus._dispatch(T_ALERT, payload, None)
        assert len(everything.drain()) == 1
        assert len(alerts.drain()) == 1
    await bus.close()


@pytest.mark.asyncio
async def test_bad_payloads_are_counted_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="smsh.bus.mqtt")
    bus = MqttBus()
    async with bus.subscribe("smsh/v1/#") as sub:
        bus._dispatch(T_ALERT, b"\x00garbage", None)
        bus._dispatch(T_ALERT, b'{"kind": "from_the_future", "at": 1}', None)
        bus._dispatch(T_ALERT, b'{"kind": "alert", "at": 1, "schema_version": 9}', None)
        bus._dispatch(T_ALERT, 42, None)
        bus._dispatch(T_ALERT, encode_event(alert(1)), None)
        assert sub.drain() == [(T_ALERT, alert(1))]
    assert bus.stats.decode_errors == 4
    errors = [getattr(r, "error", None) for r in caplog.records]
    assert errors == [
        "EventDecodeError",
        "UnknownEventKind",
        "UnsupportedSchemaVersion",
        "EventDecodeError",
    ]
    await bus.close()


def test_constructor_checks() -> None:
    with pytest.raises(ValueError, match="max_pending"):
        MqttBus(max_pending=0)
    with pytest.raises(ValueError, match="reconnect"):
        MqttBus(reconnect_min=2, reconnect_max=1)
