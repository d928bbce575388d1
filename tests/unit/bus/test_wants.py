"""`Publisher.wants` / `InMemoryBus.wants`: an event is wanted exactly when a live
subscription matches its topic, so a hot path that asks first publishes what every subscriber
would have received; and the topic check of `publish_nowait` still refuses bad topics."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sms.bus.bus import Publisher
from sms.bus.errors import BusClosed, TopicError
from sms.bus.events import Alert, Event
from sms.bus.memory import InMemoryBus


def alert(n: int) -> Alert:
    return Alert(at=float(n), alert_kind="misdelivery", detail=str(n))


@pytest.mark.asyncio
async def test_wanted_only_while_a_matching_subscription_is_live() -> None:
    async with asyncio.timeout(5), InMemoryBus() as bus:
        events = Publisher(bus, "gateway", "gw-1")
        assert not events.wants("alert")
        async with bus.subscribe("smsh/v1/gateway/+/alert") as alerts:
            assert events.wants("alert")
            assert not events.wants("mo_sent")
            assert not Publisher(bus, "simulator", "gw-1").wants("alert")
            async with bus.subscribe("smsh/v1/#"):
                assert events.wants("mo_sent")
            assert not events.wants("mo_sent")
            events.publish_nowait(alert(1))
            assert alerts.drain() == [("smsh/v1/gateway/gw-1/alert", alert(1))]
        assert not events.wants("alert")


@pytest.mark.asyncio
async def test_a_closed_bus_wants_events_so_publishing_reports_it() -> None:
    bus = InMemoryBus()
    await bus.close()
    events = Publisher(bus, "gateway", "gw-1")
    assert events.wants("alert")
    with pytest.raises(BusClosed):
        events.publish_nowait(alert(1))


class _RemoteBus:
    """A bus that cannot tell who listens (as the MQTT bus): no `wants`."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Event]] = []

    def publish_nowait(self, topic: str, event: Event) -> None:
        self.sent.append((topic, event))


def test_a_bus_without_wants_always_wants() -> None:
    remote: Any = _RemoteBus()
    events = Publisher(remote, "gateway", "gw-1")
    assert events.wants("alert")
    events.publish_nowait(alert(2))
    assert remote.sent == [("smsh/v1/gateway/gw-1/alert", alert(2))]


def test_bad_topics_are_refused_every_time() -> None:
    bus = InMemoryBus()
    for _ in range(2):
        with pytest.raises(TopicError):
            bus.publish_nowait("smsh/v1/gateway/+/alert", alert(3))
    bus.publish_nowait("smsh/v1/gateway/gw-1/alert", alert(4))
    bus.publish_nowait("smsh/v1/gateway/gw-1/alert", alert(5))
    assert bus.stats.published == 2


@pytest.mark.asyncio
async def test_remembered_answers_follow_every_subscription_change() -> None:
    # The answer per kind is remembered (one look-up on a hot path); entering or leaving a
    # subscription, on any pattern, must empty the memo so a later subscriber is seen at once.
    async with asyncio.timeout(5), InMemoryBus() as bus:
        events = Publisher(bus, "gateway", "gw-1")
        other = Publisher(bus, "gateway", "gw-2")
        for _ in range(3):  # asked repeatedly: remembered, still False
            assert not events.wants("alert")
            assert not other.wants("alert")
        async with bus.subscribe("smsh/v1/gateway/gw-1/alert") as late:
            assert events.wants("alert")
            assert not other.wants("alert")
            events.publish_nowait(alert(1))
            assert late.drain() == [("smsh/v1/gateway/gw-1/alert", alert(1))]
            async with bus.subscribe("smsh/v1/gateway/+/alert"):
                assert other.wants("alert")
            assert not other.wants("alert")
            assert events.wants("alert")
            await late.aclose()  # closed without leaving the block
            assert not events.wants("alert")
        assert not events.wants("alert")
        async with bus.subscribe("smsh/v1/#"):
            assert events.wants("alert")
            await bus.close()
            assert events.wants("alert")  # closed: publishing reports BusClosed
            with pytest.raises(BusClosed):
                events.publish_nowait(alert(2))


@pytest.mark.asyncio
async def test_memos_of_dropped_publishers_are_not_kept() -> None:
    import gc

    async with asyncio.timeout(5), InMemoryBus() as bus:
        for n in range(50):
            assert not Publisher(bus, "gateway", f"gw-{n}").wants("alert")
        gc.collect()
        kept = Publisher(bus, "gateway", "kept")
        assert not kept.wants("alert")
        assert len(bus._fanout._memos) == 1
        async with bus.subscribe("smsh/v1/gateway/kept/alert"):
            assert kept.wants("alert")
