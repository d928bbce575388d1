"""`InMemoryBus`: the bus inside one process (the default; tests and the TUI's pilot tests).

Invariants:
    * Events are delivered as the same (frozen) objects that were published: no encoding, no copy.
    * `publish_nowait` does all the work synchronously: by the time it returns, the event is in
      every matching subscription's buffer (or counted as dropped). Nothing ever waits on a
      subscriber.
    * Subscriptions and their overflow policy behave as described in `sms.bus.bus`.
    * A topic is validated the first time it is published (then remembered); `wants` answers
      from the fan-out's per-topic match cache, so asking costs a dictionary look-up; a
      `Publisher` remembers the answers per kind in a `wants_memo` the bus empties whenever
      a subscription enters or leaves, or the bus closes.
"""

from __future__ import annotations

from types import TracebackType
from typing import Final, Self

from sms.bus.bus import (
    DEFAULT_MAXSIZE,
    BusStats,
    OverflowPolicy,
    Subscription,
    WantedKinds,
    _Counters,
    _FanOut,
)
from sms.bus.errors import BusClosed
from sms.bus.events import Event
from sms.bus.topics import validate_pattern, validate_topic

__all__ = ["InMemoryBus"]

#: Topics remembered as valid (a publisher uses a handful; the check runs once per topic).
_VALID_TOPICS_LIMIT: Final[int] = 4096


class InMemoryBus:
    """A `Bus` that fans events out to subscribers in the same process."""

    def __init__(
        self,
        *,
        default_maxsize: int = DEFAULT_MAXSIZE,
        default_overflow: OverflowPolicy = "drop_oldest",
    ) -> None:
        """Create an empty bus.

        Args:
            default_maxsize: Buffer capacity of subscriptions that do not choose one.
            default_overflow: Overflow policy of subscriptions that do not choose one.
        """
        self._default_maxsize = default_maxsize
        self._default_overflow: OverflowPolicy = default_overflow
        self._fanout = _FanOut()
        self._counters = _Counters()
        self._closed = False
        self._valid_topics: set[str] = set()

    def __repr__(self) -> str:
        return f"<InMemoryBus subscriptions={len(self._fanout)} closed={self._closed}>"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        """True once `close` was called."""
        return self._closed

    @property
    def stats(self) -> BusStats:
        """Counters since the bus was created."""
        c = self._counters
        return BusStats(
            published=c.published,
            delivered=c.delivered,
            dropped=c.dropped,
            subscriptions=len(self._fanout),
        )

    async def publish(self, topic: str, event: Event) -> None:
        """Publish an event to every matching subscription.

        Args:
            topic: A concrete topic (no wildcards).
            event: The event.

        Raises:
            TopicError: The topic is empty or has wildcards.
            BusClosed: The bus was closed.
        """
        self.publish_nowait(topic, event)

    def publish_nowait(self, topic: str, event: Event) -> None:
        """Same as `publish`, from synchronous code."""
        if self._closed:
            raise BusClosed("publish on a closed bus")
        valid = self._valid_topics
        if topic not in valid:
            validate_topic(topic)
            if len(valid) >= _VALID_TOPICS_LIMIT:
                valid.clear()
            valid.add(topic)
        self._counters.published += 1
        self._fanout.deliver(topic, event)

    def wants(self, topic: str) -> bool:
        """Whether a publish on `topic` now would reach a live subscription (True on a
        closed bus, so that the publish itself reports `BusClosed`). See `Publisher.wants`.

        Args:
            topic: A concrete topic.
        """
        return self._closed or bool(self._fanout.matching(topic))

    def wants_memo(self) -> WantedKinds:
        """An empty dict for a publisher to remember `wants` answers in (by event kind); the
        bus empties it whenever a subscription enters or leaves, or the bus closes, so an
        answer read from it is the one `wants` would give now. Held weakly by the bus."""
        return self._fanout.memo()

    def subscribe(
        self,
        pattern: str,
        *,
        maxsize: int | None = None,
        overflow: OverflowPolicy | None = None,
    ) -> Subscription:
        """Make a subscription; it is live once ``async with`` entered it.

        Args:
            pattern: Topic filter (``+`` and ``#`` wildcards).
            maxsize: Buffer capacity (the bus's default when None).
            overflow: What a full buffer drops (the bus's default when None).

        Returns:
            The (not yet entered) subscription.

        Raises:
            TopicError: The filter is malformed.
        """
        validate_pattern(pattern)
        return Subscription(
            self,
            self._counters,
            pattern,
            self._default_maxsize if maxsize is None else maxsize,
            self._default_overflow if overflow is None else overflow,
        )

    async def close(self) -> None:
        """End every subscription; later publishes raise `BusClosed`. Idempotent."""
        self._closed = True
        self._fanout.end_all()

    async def _attach(self, subscription: Subscription) -> None:
        if self._closed:
            raise BusClosed("subscribe on a closed bus")
        self._fanout.add(subscription)

    async def _detach(self, subscription: Subscription) -> None:
        self._fanout.remove(subscription)
