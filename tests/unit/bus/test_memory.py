"""InMemoryBus: fan-out, filtering, overflow policies and their counters, close, Publisher."""

from __future__ import annotations

import asyncio
import logging

import pytest

from sms.bus.bus import Bus, Publisher, Subscription
from sms.bus.errors import BusClosed, SubscriptionNotActive, TopicError
from sms.bus.events import Alert, Event, MoSent
from sms.bus.memory import InMemoryBus
from sms.bus.topics import event_topic

T_ALERT = event_topic("gateway", "gw-1", "alert")
T_MO = event_topic("simulator", "sim-1", "mo_sent")


def alert(n: int) -> Alert:
    return Alert(at=float(n), alert_kind="misdelivery", detail=str(n))


def mo(n: int) -> MoSent:
    return MoSent(at=float(n), source="8190", destination="123", text=str(n))


async def take(sub: Subscription, n: int) -> list[tuple[str, Event]]:
    out: list[tuple[str, Event]] = []
    async with asyncio.timeout(2):
        async for item in sub:
            out.append(item)
            if len(out) == n:
                break
    return out


def test_in_memory_bus_satisfies_the_protocol() -> None:
    bus: Bus = InMemoryBus()
    assert bus.stats.connected


@pytest.mark.asyncio
async def test_fan_out_to_every_matching_subscriber() -> None:
    async with asyncio.timeout(5), InMemoryBus() as bus:
        async with (
            bus.subscribe("smsh/v1/#") as everything,
            bus.subscribe("smsh/v1/gateway/+/alert") as alerts,
            bus.subscribe("smsh/v1/+/+/mo_sent") as mos,
            bus.subscribe("smsh/v1/gateway/gw-2/alert") as other_instance,
        ):
            await bus.publish(T_ALERT, alert(1))
            await bus.publish(T_MO, mo(2))
            await bus.publish(T_ALERT, alert(3))

            assert [e for _, e in await take(everything, 3)] == [alert(1), mo(2), alert(3)]
            assert [e for _, e in await take(alerts, 2)] == [alert(1), alert(3)]
            assert await take(mos, 1) == [(T_MO, mo(2))]
            assert len(other_instance) == 0
        stats = bus.stats
        assert stats.published == 3
        assert stats.delivered == 3 + 2 + 1
        assert stats.subscriptions == 0


@pytest.mark.asyncio
async def test_subscriber_waits_for_later_events() -> None:
    async with asyncio.timeout(5), InMemoryBus() as bus, bus.subscribe("smsh/v1/#") as sub:
        reader = asyncio.create_task(take(sub, 2))
        await asyncio.sleep(0)
        assert not reader.done()
        bus.publish_nowait(T_ALERT, alert(1))
        bus.publish_nowait(T_ALERT, alert(2))
        assert [e for _, e in await reader] == [alert(1), alert(2)]


@pytest.mark.asyncio
async def test_events_before_entering_are_not_delivered() -> None:
    async with asyncio.timeout(5), InMemoryBus() as bus:
        sub = bus.subscribe("smsh/v1/#")
        await bus.publish(T_ALERT, alert(1))
        async with sub:
            await bus.publish(T_ALERT, alert(2))
            assert sub.drain() == [(T_ALERT, alert(2))]


@pytest.mark.asyncio
async def test_drop_oldest_keeps_the_newest_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="smsh.bus")
    async with asyncio.timeout(5), InMemoryBus() as bus:
        async with bus.subscribe("smsh/v1/#", maxsize=3, overflow="drop_oldest") as sub:
            for n in range(10):
                bus.publish_nowait(T_ALERT, alert(n))  # never blocks
            assert sub.dropped == 7
            assert [e for _, e in sub.drain()] == [alert(7), alert(8), alert(9)]
        assert bus.stats.dropped == 7
    # Logged at the 1st, 2nd and 4th drop: visible, but not once per event.
    overflow = [r for r in caplog.records if getattr(r, "event", "") == "smsh.bus.overflow"]
    assert [getattr(r, "dropped", None) for r in overflow] == [1, 2, 4]


@pytest.mark.asyncio
async def test_drop_newest_keeps_the_oldest_and_counts() -> None:
    async with (
        asyncio.timeout(5),
        InMemoryBus() as bus,
        bus.subscribe("smsh/v1/#", maxsize=3, overflow="drop_newest") as sub,
    ):
        for n in range(10):
            bus.publish_nowait(T_ALERT, alert(n))
        assert sub.dropped == 7
        assert [e for _, e in sub.drain()] == [alert(0), alert(1), alert(2)]


@pytest.mark.asyncio
async def test_a_slow_subscriber_does_not_affect_a_fast_one() -> None:
    async with (
        asyncio.timeout(5),
        InMemoryBus(default_maxsize=2) as bus,
        bus.subscribe("smsh/v1/#") as slow,
        bus.subscribe("smsh/v1/#", maxsize=100) as fast,
    ):
        for n in range(50):
            bus.publish_nowait(T_ALERT, alert(n))
        assert slow.dropped == 48
        assert fast.dropped == 0
        assert len(fast.drain()) == 50
        assert bus.stats.dropped == 48


@pytest.mark.asyncio
async def test_default_policy_from_the_bus() -> None:
    async with InMemoryBus(default_maxsize=5, default_overflow="drop_newest") as bus:
        sub = bus.subscribe("#")
        assert (sub.maxsize, sub.overflow) == (5, "drop_newest")
        with pytest.raises(ValueError, match="maxsize"):
            bus.subscribe("#", maxsize=0)


@pytest.mark.asyncio
async def test_one_delivery_per_subscription_even_with_overlaps() -> None:
    async with (
        asyncio.timeout(5),
        InMemoryBus() as bus,
        bus.subscribe("smsh/v1/#") as a,
        bus.subscribe("smsh/v1/#") as b,
    ):
        bus.publish_nowait(T_ALERT, alert(1))
        assert len(a.drain()) == 1
        assert len(b.drain()) == 1


@pytest.mark.asyncio
async def test_exit_unsubscribes() -> None:
    async with asyncio.timeout(5), InMemoryBus() as bus:
        async with bus.subscribe("smsh/v1/#") as sub:
            assert bus.stats.subscriptions == 1
        assert sub.closed
        assert bus.stats.subscriptions == 0
        bus.publish_nowait(T_ALERT, alert(1))
        assert bus.stats.delivered == 0
        # A subscription made after the match cache was filled still receives.
        async with bus.subscribe("smsh/v1/gateway/#") as late:
            bus.publish_nowait(T_ALERT, alert(2))
            assert late.drain() == [(T_ALERT, alert(2))]


@pytest.mark.asyncio
async def test_close_ends_iteration_after_buffered_events() -> None:
    async with asyncio.timeout(5):
        bus = InMemoryBus()
        async with bus.subscribe("smsh/v1/#") as sub:
            waiting = asyncio.create_task(take(sub, 5))
            await asyncio.sleep(0)
            bus.publish_nowait(T_ALERT, alert(1))
            await bus.close()
            got = await waiting  # ends early: the bus closed
            assert [e for _, e in got] == [alert(1)]
            assert sub.closed
        with pytest.raises(BusClosed):
            await bus.publish(T_ALERT, alert(2))
        with pytest.raises(BusClosed):
            async with bus.subscribe("#"):
                pass
        await bus.close()  # idempotent


@pytest.mark.asyncio
async def test_iterating_without_entering_is_an_error() -> None:
    async with InMemoryBus() as bus:
        sub = bus.subscribe("#")
        with pytest.raises(SubscriptionNotActive):
            await anext(sub)


@pytest.mark.asyncio
async def test_a_subscription_is_entered_once() -> None:
    async with InMemoryBus() as bus, bus.subscribe("#") as sub:
        with pytest.raises(SubscriptionNotActive):
            await sub.__aenter__()


@pytest.mark.asyncio
async def test_invalid_topics_and_filters() -> None:
    async with InMemoryBus() as bus:
        with pytest.raises(TopicError):
            await bus.publish("smsh/v1/+/x/alert", alert(1))
        with pytest.raises(TopicError):
            bus.subscribe("smsh/#/alert")
        assert bus.stats.published == 0


@pytest.mark.asyncio
async def test_drain_with_limit() -> None:
    async with InMemoryBus() as bus, bus.subscribe("#") as sub:
        for n in range(5):
            bus.publish_nowait(T_ALERT, alert(n))
        assert [e for _, e in sub.drain(2)] == [alert(0), alert(1)]
        assert len(sub) == 3
        assert sub.received == 5


@pytest.mark.asyncio
async def test_publisher_builds_topics_from_the_kind() -> None:
    async with asyncio.timeout(5), InMemoryBus() as bus:
        events = Publisher(bus, "gateway", "gw-1")
        async with bus.subscribe("smsh/v1/gateway/gw-1/#") as sub:
            await events.publish(alert(1))
            events.publish_nowait(mo(2))
            assert sub.drain() == [
                ("smsh/v1/gateway/gw-1/alert", alert(1)),
                ("smsh/v1/gateway/gw-1/mo_sent", mo(2)),
            ]
        with pytest.raises(TopicError):
            Publisher(bus, "gateway", "all")
