"""`BusBridge`: mirror one process's in-memory bus onto a shared (MQTT) bus, and take controls back.

    async with InMemoryBus() as local, bus_from_url("mqtt://127.0.0.1:1883") as remote:
        async with BusBridge(local, remote):
            ...  # components publish on `local`; watchers on the broker see every event

Directions:
    * local -> remote: every event published on the local bus under ``smsh/v1/#`` except the
      control topics (``smsh/v1/control/#``) is published on the remote bus, on the same topic.
      Acknowledgements of controls are events, so they go out this way.
    * remote -> local: every control message (``smsh/v1/control/#``) arriving on the remote bus
      is published on the local bus, where the components' `ControlChannel` s answer it.

Invariants:
    * No loops: controls are never sent local -> remote (so a control that came from the remote
      is not sent back), and events are never forwarded remote -> local.
    * Nothing blocks the local publishers: the mirror reads a bounded subscription
      (`MIRROR_BUFFER`, ``drop_oldest``); what it drops, and what a closed remote refuses, is
      counted in `BridgeStats.dropped`.
    * Leaving the block sends what the mirror still had buffered before it stops.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Self

from sms.bus.bus import Bus, Subscription
from sms.bus.errors import BusClosed, TopicError
from sms.bus.events import Event
from sms.bus.mqtt import MqttBus
from sms.bus.topics import CONTROL, PREFIX

__all__ = [
    "CONTROL_FILTER",
    "EVENT_FILTER",
    "MIRROR_BUFFER",
    "BridgeStats",
    "BusBridge",
    "is_control_topic",
]

logger = logging.getLogger("smsh.bus.bridge")

#: What the mirror subscribes to on the local bus (control topics are skipped).
EVENT_FILTER: Final[str] = f"{PREFIX}/#"
#: What the bridge subscribes to on the remote bus.
CONTROL_FILTER: Final[str] = f"{PREFIX}/{CONTROL}/#"
#: Capacity of the mirror's local subscription, in events.
MIRROR_BUFFER: Final[int] = 10_000
#: Capacity of the remote control subscription, in messages.
CONTROL_BUFFER: Final[int] = 1024

_CONTROL_PREFIX: Final[str] = f"{PREFIX}/{CONTROL}/"


def is_control_topic(topic: str) -> bool:
    """True for topics of the control family (``smsh/v1/control/...``)."""
    return topic.startswith(_CONTROL_PREFIX)


@dataclass(frozen=True, slots=True)
class BridgeStats:
    """Counters of one bridge."""

    mirrored: int = 0
    """Events sent local -> remote."""
    forwarded: int = 0
    """Controls sent remote -> local."""
    dropped: int = 0
    """Events or controls lost: full bridge buffers, or a bus that refused them."""


class BusBridge:
    """Mirrors local events to a remote bus and forwards remote controls to the local bus.

    Args:
        local: The process's own bus (usually an `InMemoryBus`); entered by the caller.
        remote: The shared bus (usually an `MqttBus`); entered (started) by the caller.
        connect_timeout: For an `MqttBus` remote, how long entering waits for the connection
            (so the control subscription is in place at the broker); on timeout it logs a
            warning and goes on (the MQTT bus keeps reconnecting and buffers what is sent).
    """

    def __init__(self, local: Bus, remote: Bus, *, connect_timeout: float = 5.0) -> None:
        self.local: Final[Bus] = local
        """The process's bus."""
        self.remote: Final[Bus] = remote
        """The shared bus."""
        self._connect_timeout = connect_timeout
        self._mirrored = 0
        self._forwarded = 0
        self._refused = 0
        self._events: Subscription | None = None
        self._controls: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def stats(self) -> BridgeStats:
        """Counters since the bridge was created."""
        dropped = self._refused
        for sub in (self._events, self._controls):
            if sub is not None:
                dropped += sub.dropped
        return BridgeStats(mirrored=self._mirrored, forwarded=self._forwarded, dropped=dropped)

    async def __aenter__(self) -> Self:
        """Subscribe on both buses and start both directions."""
        try:
            if isinstance(self.remote, MqttBus):
                try:
                    async with asyncio.timeout(self._connect_timeout):
                        await self.remote.wait_connected()
                except TimeoutError:
                    logger.warning(
                        "not connected to %s:%d after %.1f s; events are buffered meanwhile",
                        self.remote.hostname,
                        self.remote.port,
                        self._connect_timeout,
                        extra={"event": "smsh.bus.bridge.not_connected"},
                    )
            events = self.local.subscribe(EVENT_FILTER, maxsize=MIRROR_BUFFER)
            await events.__aenter__()
            self._events = events
            controls = self.remote.subscribe(CONTROL_FILTER, maxsize=CONTROL_BUFFER)
            await controls.__aenter__()
            self._controls = controls
            self._tasks = [
                asyncio.create_task(self._mirror(events), name="smsh.bus.bridge:mirror"),
                asyncio.create_task(self._forward(controls), name="smsh.bus.bridge:forward"),
            ]
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop both directions, after sending what the mirror still had buffered."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._events is not None:
            for topic, event in self._events.drain():
                self._send(topic, event)
            await self._events.aclose()
        if self._controls is not None:
            await self._controls.aclose()

    def _send(self, topic: str, event: Event) -> None:
        """Publish one local event on the remote bus (controls are skipped)."""
        if is_control_topic(topic):
            return
        try:
            self.remote.publish_nowait(topic, event)
        except (BusClosed, TopicError):
            self._refused += 1
        else:
            self._mirrored += 1

    async def _mirror(self, events: Subscription) -> None:
        async for topic, event in events:
            self._send(topic, event)

    async def _forward(self, controls: Subscription) -> None:
        async for topic, event in controls:
            if not is_control_topic(topic):
                continue
            try:
                self.local.publish_nowait(topic, event)
            except (BusClosed, TopicError):
                self._refused += 1
            else:
                self._forwarded += 1

    def __repr__(self) -> str:
        s = self.stats
        return f"<BusBridge mirrored={s.mirrored} forwarded={s.forwarded} dropped={s.dropped}>"
