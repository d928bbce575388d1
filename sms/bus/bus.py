"""The `Bus` port, and the subscription stream both transports share.

Invariants:
    * Publishing never blocks and never waits for subscribers. Each subscription owns a bounded
      buffer; when it is full the subscription's overflow policy drops an event
      (``drop_oldest``: the oldest buffered one, the default; ``drop_newest``: the one arriving).
      A drop is never silent: it is counted on the subscription (`Subscription.dropped`) and on
      the bus (`BusStats.dropped`), and logged (``smsh.bus.overflow``) at the 1st, 2nd, 4th, 8th,
      ... drop of each subscription.
    * A subscription is live from the moment ``async with bus.subscribe(pattern)`` has entered
      (for MQTT: once the broker acknowledged it, when connected) until it exits. Events published
      after entering are delivered; events published before are not.
    * One event is delivered at most once to each subscription, whatever other subscriptions
      overlap its pattern.
    * Closing the bus ends every subscription: buffered events can still be read, then the
      iteration stops.

Choosing a policy: a subscriber that only wants the latest state (metrics, scenario progress)
takes a small buffer with ``drop_oldest``; a subscriber of per-message facts (a report writer)
takes a large buffer and watches `Subscription.dropped`. Keep fast and slow streams in separate
subscriptions so a burst of facts cannot push out the metrics.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Literal, Protocol, Self, TypeAlias

from sms.bus.errors import BusClosed, SubscriptionNotActive
from sms.bus.events import Event
from sms.bus.topics import _match_levels, event_topic

__all__ = [
    "DEFAULT_MAXSIZE",
    "Bus",
    "BusStats",
    "OverflowPolicy",
    "Publisher",
    "Subscription",
]

logger = logging.getLogger("smsh.bus")

OverflowPolicy: TypeAlias = Literal["drop_oldest", "drop_newest"]
"""What a full subscription buffer drops: the oldest buffered event or the arriving one."""

#: Default capacity of a subscription's buffer, in events.
DEFAULT_MAXSIZE: Final[int] = 1024

#: How many topics' match results the fan-out remembers before it starts over.
_MATCH_CACHE_LIMIT: Final[int] = 4096


@dataclass(frozen=True, slots=True)
class BusStats:
    """Counters of one bus, since it was created."""

    published: int = 0
    """Events accepted by `publish` / `publish_nowait`."""
    delivered: int = 0
    """Events put into subscription buffers (one per subscription reached)."""
    dropped: int = 0
    """Events dropped by full subscription buffers (all subscriptions, past and present)."""
    subscriptions: int = 0
    """Subscriptions currently live."""
    connected: bool = True
    """Whether the transport is connected (always True in memory)."""
    reconnects: int = 0
    """Successful connections after the first one (MQTT)."""
    sent: int = 0
    """Events handed to the broker (MQTT)."""
    pending_outgoing: int = 0
    """Events waiting to be sent, for example while disconnected (MQTT)."""
    dropped_outgoing: int = 0
    """Events dropped because the outgoing buffer was full (MQTT)."""
    decode_errors: int = 0
    """Received payloads that were not valid events and were skipped (MQTT)."""


@dataclass(slots=True)
class _Counters:
    """Mutable counters behind `BusStats`."""

    published: int = 0
    delivered: int = 0
    dropped: int = 0
    reconnects: int = 0
    sent: int = 0
    dropped_outgoing: int = 0
    decode_errors: int = 0


class _Owner(Protocol):
    """What a subscription needs from its bus."""

    async def _attach(self, subscription: Subscription) -> None: ...

    async def _detach(self, subscription: Subscription) -> None: ...


class Subscription:
    """A bounded stream of ``(topic, event)`` pairs matching one MQTT topic filter.

    Made by `Bus.subscribe`; use it as::

        async with bus.subscribe("smsh/v1/+/+/metrics_snapshot", maxsize=8) as sub:
            async for topic, event in sub:
                ...

    Iteration waits for the next event and stops when the subscription or its bus is closed
    (after the buffered events). `drain` takes what is buffered without waiting, for consumers
    that poll on a timer and coalesce.
    """

    __slots__ = (
        "_buffer",
        "_closed",
        "_counters",
        "_dropped",
        "_entered",
        "_levels",
        "_owner",
        "_received",
        "_waiter",
        "maxsize",
        "overflow",
        "pattern",
    )

    def __init__(
        self,
        owner: _Owner,
        counters: _Counters,
        pattern: str,
        maxsize: int,
        overflow: OverflowPolicy,
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        if overflow not in ("drop_oldest", "drop_newest"):
            raise ValueError(f"unknown overflow policy {overflow!r}")
        self.pattern: Final[str] = pattern
        """The topic filter."""
        self.maxsize: Final[int] = maxsize
        """Capacity of the buffer, in events."""
        self.overflow: Final[OverflowPolicy] = overflow
        """What a full buffer drops."""
        self._owner = owner
        self._counters = counters
        self._levels = tuple(pattern.split("/"))
        self._buffer: deque[tuple[str, Event]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._dropped = 0
        self._received = 0
        self._entered = False
        self._closed = False

    @property
    def dropped(self) -> int:
        """Events this subscription dropped because its buffer was full."""
        return self._dropped

    @property
    def received(self) -> int:
        """Events put into this subscription's buffer (including ones dropped later)."""
        return self._received

    @property
    def closed(self) -> bool:
        """True once the subscription or its bus was closed."""
        return self._closed

    def __len__(self) -> int:
        """Events buffered and not yet read."""
        return len(self._buffer)

    def __repr__(self) -> str:
        return (
            f"<Subscription {self.pattern!r} buffered={len(self._buffer)}/{self.maxsize} "
            f"dropped={self._dropped} closed={self._closed}>"
        )

    async def __aenter__(self) -> Self:
        if self._closed:
            raise BusClosed(f"subscription to {self.pattern!r} is closed")
        if self._entered:
            raise SubscriptionNotActive(f"subscription to {self.pattern!r} was already entered")
        await self._owner._attach(self)
        self._entered = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop receiving, and end any iteration (buffered events are discarded)."""
        if self._entered and not self._closed:
            self._end()
            self._buffer.clear()
            await self._owner._detach(self)
        self._end()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> tuple[str, Event]:
        """Wait for the next event.

        Raises:
            SubscriptionNotActive: The subscription was not entered with ``async with``.
            StopAsyncIteration: The subscription or its bus was closed and the buffer is empty.
        """
        if not self._entered and not self._closed:
            raise SubscriptionNotActive(
                f"enter the subscription to {self.pattern!r} with 'async with' before reading"
            )
        while not self._buffer:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._buffer.popleft()

    def drain(self, limit: int | None = None) -> list[tuple[str, Event]]:
        """Take buffered events without waiting.

        Args:
            limit: Take at most this many (all when None).

        Returns:
            The events, oldest first (possibly none).
        """
        count = len(self._buffer) if limit is None else min(limit, len(self._buffer))
        return [self._buffer.popleft() for _ in range(count)]

    # -- called by the bus ------------------------------------------------------------------------

    def _offer(self, topic: str, event: Event) -> None:
        """Buffer one event, applying the overflow policy; never blocks."""
        if self._closed:
            return
        if len(self._buffer) >= self.maxsize:
            self._dropped += 1
            self._counters.dropped += 1
            if self._dropped & (self._dropped - 1) == 0:
                logger.warning(
                    "subscription %r is full (%d): dropped %d event(s) so far (%s)",
                    self.pattern,
                    self.maxsize,
                    self._dropped,
                    self.overflow,
                    extra={
                        "event": "smsh.bus.overflow",
                        "pattern": self.pattern,
                        "dropped": self._dropped,
                        "policy": self.overflow,
                    },
                )
            if self.overflow == "drop_newest":
                return
            self._buffer.popleft()
        self._buffer.append((topic, event))
        self._received += 1
        self._counters.delivered += 1
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _end(self) -> None:
        """Mark closed and wake a waiting reader, which then stops after the buffer."""
        self._closed = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _matches(self, topic_levels: list[str]) -> bool:
        return _match_levels(self._levels, topic_levels)


class WantedKinds(dict[str, bool]):
    """A publisher's remembered `Publisher.wants` answers, by event kind.

    Made by the bus (`InMemoryBus.wants_memo`), which empties it in place whenever its
    subscriptions change (a subscription entered or left, the bus closed), so an answer is
    never older than the last change. A dict subclass only so the bus can hold it weakly.
    """

    __slots__ = ("__weakref__",)


class _FanOut:
    """The registry of live subscriptions, with a per-topic cache of who matches, and the
    `WantedKinds` memos it empties when the subscriptions change."""

    def __init__(self) -> None:
        self._by_pattern: dict[str, list[Subscription]] = {}
        self._cache: dict[str, tuple[Subscription, ...]] = {}
        # Held weakly (by a serial number: a dict is unhashable): a memo lives as long as the
        # publisher that asked for it.
        self._memos: weakref.WeakValueDictionary[int, WantedKinds] = weakref.WeakValueDictionary()
        self._memo_serial = 0

    def memo(self) -> WantedKinds:
        """A new, empty `WantedKinds` that `_changed` empties (held weakly)."""
        memo = WantedKinds()
        self._memo_serial += 1
        self._memos[self._memo_serial] = memo
        return memo

    def _changed(self) -> None:
        self._cache.clear()
        for memo in self._memos.values():
            memo.clear()

    def __len__(self) -> int:
        return sum(len(subs) for subs in self._by_pattern.values())

    @property
    def patterns(self) -> list[str]:
        """Patterns with at least one live subscription."""
        return list(self._by_pattern)

    def add(self, subscription: Subscription) -> bool:
        """Register; returns True when it is the first subscription of its pattern."""
        subs = self._by_pattern.setdefault(subscription.pattern, [])
        subs.append(subscription)
        self._changed()
        return len(subs) == 1

    def remove(self, subscription: Subscription) -> bool:
        """Unregister; returns True when it was the last subscription of its pattern."""
        subs = self._by_pattern.get(subscription.pattern)
        if subs is None or subscription not in subs:
            return False
        subs.remove(subscription)
        self._changed()
        if subs:
            return False
        del self._by_pattern[subscription.pattern]
        return True

    def matching(self, topic: str) -> tuple[Subscription, ...]:
        """Every live subscription whose pattern matches `topic`."""
        found = self._cache.get(topic)
        if found is None:
            levels = topic.split("/")
            found = tuple(
                sub for subs in self._by_pattern.values() for sub in subs if sub._matches(levels)
            )
            if len(self._cache) >= _MATCH_CACHE_LIMIT:
                self._cache.clear()
            self._cache[topic] = found
        return found

    def deliver(self, topic: str, event: Event) -> None:
        """Offer an event to every matching subscription."""
        for sub in self.matching(topic):
            sub._offer(topic, event)

    def deliver_to_patterns(self, topic: str, event: Event, patterns: Iterable[str]) -> None:
        """Offer an event to the subscriptions of the given patterns (once per subscription)."""
        seen: set[str] = set()
        for pattern in patterns:
            if pattern in seen:
                continue
            seen.add(pattern)
            for sub in self._by_pattern.get(pattern, ()):
                sub._offer(topic, event)

    def end_all(self) -> None:
        """End every subscription (the bus is closing)."""
        for subs in self._by_pattern.values():
            for sub in subs:
                sub._end()
        self._by_pattern.clear()
        self._changed()


class Bus(Protocol):
    """The port every component publishes and subscribes through.

    `sms.bus.InMemoryBus` serves one process; `sms.bus.MqttBus` spans processes through a broker.
    Use either as an async context manager (``async with bus_from_url(url) as bus:``).
    """

    async def publish(self, topic: str, event: Event) -> None:
        """Publish an event on a concrete topic (never blocks on subscribers).

        Raises:
            TopicError: The topic contains a wildcard or is empty.
            BusClosed: The bus was closed.
        """
        ...

    def publish_nowait(self, topic: str, event: Event) -> None:
        """Same as `publish`, from synchronous code."""
        ...

    def subscribe(
        self,
        pattern: str,
        *,
        maxsize: int | None = None,
        overflow: OverflowPolicy | None = None,
    ) -> Subscription:
        """Make a subscription to an MQTT topic filter; it is live once ``async with`` entered it.

        Args:
            pattern: Topic filter (``+`` and ``#`` wildcards).
            maxsize: Buffer capacity (the bus's default when None).
            overflow: What a full buffer drops (the bus's default when None).

        Raises:
            TopicError: The filter is malformed.
        """
        ...

    @property
    def stats(self) -> BusStats:
        """Counters since the bus was created."""
        ...

    async def close(self) -> None:
        """Stop the bus and end every subscription. Idempotent."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Publisher:
    """Publishes the events of one component instance on their topics.

    Example::

        events = Publisher(bus, "gateway", "gw-1")
        events.publish_nowait(MessageAccepted(at=clock.now(), ...))
        # -> smsh/v1/gateway/gw-1/message_accepted
    """

    __slots__ = ("_bus", "_topics", "_wanted", "_wants", "component", "instance")

    def __init__(self, bus: Bus, component: str, instance: str) -> None:
        """Bind a bus to a component instance.

        Args:
            bus: The bus to publish on.
            component: The publishing component.
            instance: Its instance id.

        Raises:
            TopicError: The component or instance is not a valid topic segment.
        """
        event_topic(component, instance, "x")
        self.component: Final[str] = component
        """The publishing component."""
        self.instance: Final[str] = instance
        """Its instance id."""
        self._bus = bus
        self._topics: dict[str, str] = {}
        self._wants: Callable[[str], bool] | None = getattr(bus, "wants", None)
        # The bus's answers by kind, remembered until its subscriptions change (it empties
        # this dict then); None when the bus cannot say or does not offer a memo.
        memo: Callable[[], dict[str, bool]] | None = getattr(bus, "wants_memo", None)
        self._wanted: dict[str, bool] | None = (
            memo() if memo is not None and self._wants is not None else None
        )

    def topic(self, kind: str) -> str:
        """The topic for events of `kind` from this instance."""
        topic = self._topics.get(kind)
        if topic is None:
            topic = self._topics[kind] = event_topic(self.component, self.instance, kind)
        return topic

    def wants(self, kind: str) -> bool:
        """Whether an event of `kind` published now could reach anyone.

        A hot path asks first and builds the event only when the answer is True: an event
        nobody receives costs its validation for nothing. A bus that can say (`InMemoryBus`:
        a live subscription matches the topic) is asked; any other bus (MQTT: the broker's
        subscribers are unknown) always wants events. An event skipped this way is not
        counted in `BusStats.published`.

        The answer per kind is remembered until the bus's subscriptions change (a bus with
        ``wants_memo``, as `InMemoryBus`, empties the memo then), so asking on a hot path
        costs one dictionary look-up, and a subscriber that comes later is seen at once.

        Args:
            kind: The event's `kind`.
        """
        wanted = self._wanted
        if wanted is not None:
            answer = wanted.get(kind)
            if answer is None:
                assert self._wants is not None  # a memo is only made for a bus with wants
                answer = wanted[kind] = self._wants(self.topic(kind))
            return answer
        wants = self._wants
        return True if wants is None else wants(self.topic(kind))

    async def publish(self, event: Event) -> None:
        """Publish an event on ``smsh/v1/{component}/{instance}/{event.kind}``."""
        await self._bus.publish(self.topic(event.kind), event)

    def publish_nowait(self, event: Event) -> None:
        """Same as `publish`, from synchronous code."""
        self._bus.publish_nowait(self.topic(event.kind), event)
