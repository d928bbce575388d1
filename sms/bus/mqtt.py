"""`MqttBus`: the bus across processes, through an MQTT broker (Mosquitto), on aiomqtt 2.x.

Invariants:
    * One broker connection per bus, owned by one supervisor task that reconnects forever with
      exponential backoff (`reconnect_min` doubling up to `reconnect_max`). An aiomqtt `Client`
      is reusable but not reentrant; the supervisor makes a fresh one for each attempt, so no
      state of a broken connection leaks into the next.
    * Publishing never blocks: `publish_nowait` encodes the event (so a bad event fails at the
      call site) and appends it to a bounded outbox that a writer task drains while connected.
      While disconnected the outbox keeps up to `max_pending` events; beyond that it drops the
      oldest, counted in `BusStats.dropped_outgoing` and logged (``smsh.bus.outbox_overflow``).
    * On every (re)connection the supervisor first subscribes every live pattern again and only
      then starts the writer, so events this bus queued while disconnected reach its own
      subscriptions, and every subscription is back before `wait_connected` returns.
    * QoS: control traffic and rare, important facts (`QOS1_KINDS`) are published at QoS 1; the
      high-rate facts, metrics and progress at QoS 0. Subscriptions are made at QoS 1, so each
      message arrives at the QoS it was published with.
    * Exactly once per local subscription: the bus speaks MQTT 5 and gives each broker
      subscription an id; a message is handed to the local subscriptions of the ids it carries.
      (A broker that sends no ids gets topic matching instead.)
    * A payload that is not a valid event is counted (`BusStats.decode_errors`), logged
      (``smsh.bus.decode_error``) and skipped; it never ends a subscription.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections import deque
from collections.abc import Iterable
from types import TracebackType
from typing import Final, Self

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sms.bus.bus import DEFAULT_MAXSIZE, BusStats, OverflowPolicy, Subscription, _Counters, _FanOut
from sms.bus.errors import BusClosed, EventDecodeError
from sms.bus.events import Event, decode_event, encode_event
from sms.bus.topics import CONTROL, PREFIX, validate_pattern, validate_topic

__all__ = ["QOS1_KINDS", "MqttBus", "qos_for"]

logger = logging.getLogger("smsh.bus.mqtt")

#: Event kinds published at QoS 1 (everything else, and the high-rate facts, at QoS 0).
QOS1_KINDS: Final[frozenset[str]] = frozenset(
    {
        "control",
        "control_acknowledged",
        "alert",
        "bind_state_changed",
        "fault_injected",
        "fault_cleared",
    }
)

_CONTROL_PREFIX: Final[str] = f"{PREFIX}/{CONTROL}/"
# MQTT 5 §3.8.2.1.2: a subscription identifier is 1 .. 268,435,455.
_MAX_SUBSCRIPTION_ID: Final[int] = 268_435_455

#: Publishes the writer keeps in flight at once.
_WRITE_BATCH: Final[int] = 64

_Outgoing = tuple[str, bytes, int]


def qos_for(topic: str, event: Event) -> int:
    """The QoS an event is published with.

    Args:
        topic: The topic it is published on.
        event: The event.

    Returns:
        1 for control topics and `QOS1_KINDS`, else 0.
    """
    return 1 if event.kind in QOS1_KINDS or topic.startswith(_CONTROL_PREFIX) else 0


class MqttBus:
    """A `Bus` on an MQTT 5 broker.

    Example::

        async with MqttBus("127.0.0.1", 1883, identifier="gw-1") as bus:
            await bus.wait_connected()
            ...
    """

    def __init__(
        self,
        hostname: str = "127.0.0.1",
        port: int = 1883,
        *,
        identifier: str | None = None,
        max_pending: int = 10_000,
        reconnect_min: float = 0.1,
        reconnect_max: float = 5.0,
        keepalive: int = 30,
        timeout: float = 5.0,
        default_maxsize: int = DEFAULT_MAXSIZE,
        default_overflow: OverflowPolicy = "drop_oldest",
    ) -> None:
        """Configure the bus; nothing connects until `start` (or ``async with``).

        Args:
            hostname: Broker host.
            port: Broker port.
            identifier: MQTT client id (unique per connection); generated when None.
            max_pending: Capacity of the outbox (events waiting to be sent).
            reconnect_min: First delay before reconnecting, in seconds.
            reconnect_max: Longest delay between reconnection attempts, in seconds.
            keepalive: MQTT keepalive, in seconds.
            timeout: Time allowed for each broker operation (connect, subscribe, publish).
            default_maxsize: Buffer capacity of subscriptions that do not choose one.
            default_overflow: Overflow policy of subscriptions that do not choose one.
        """
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {max_pending}")
        if not 0 < reconnect_min <= reconnect_max:
            raise ValueError("need 0 < reconnect_min <= reconnect_max")
        self.hostname: Final[str] = hostname
        """Broker host."""
        self.port: Final[int] = port
        """Broker port."""
        self.identifier: Final[str] = identifier or f"smsh-{uuid.uuid4().hex[:12]}"
        """MQTT client id."""
        self._max_pending = max_pending
        self._reconnect_min = reconnect_min
        self._reconnect_max = reconnect_max
        self._keepalive = keepalive
        self._timeout = timeout
        self._default_maxsize = default_maxsize
        self._default_overflow: OverflowPolicy = default_overflow
        self._fanout = _FanOut()
        self._counters = _Counters()
        self._outbox: deque[_Outgoing] = deque()
        self._outbox_ready = asyncio.Event()
        self._outbox_empty = asyncio.Event()
        self._outbox_empty.set()
        self._connected = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._disconnected.set()
        self._client: aiomqtt.Client | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._sub_ids: dict[str, int] = {}
        self._patterns_by_id: dict[int, str] = {}
        self._next_sub_id = itertools.count(1)
        self._ever_connected = False
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "connected" if self.connected else "disconnected"
        return f"<MqttBus {self.hostname}:{self.port} id={self.identifier} {state}>"

    # -- life cycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def start(self) -> None:
        """Start the connection supervisor (needs a running event loop). Idempotent.

        Raises:
            BusClosed: The bus was closed.
        """
        if self._closed:
            raise BusClosed("start of a closed bus")
        if self._supervisor is None:
            self._supervisor = asyncio.get_running_loop().create_task(
                self._supervise(), name=f"smsh.bus.mqtt:{self.identifier}"
            )

    @property
    def connected(self) -> bool:
        """True while connected to the broker with every subscription in place."""
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        """Wait until connected with every subscription in place (wrap in `asyncio.timeout`)."""
        await self._connected.wait()

    async def wait_disconnected(self) -> None:
        """Wait until the connection is lost (or the bus closed)."""
        await self._disconnected.wait()

    def _set_connected(self, connected: bool) -> None:
        if connected:
            self._disconnected.clear()
            self._connected.set()
        else:
            self._connected.clear()
            self._disconnected.set()

    async def close(self, *, flush_timeout: float = 2.0) -> None:
        """Send what is queued (while connected, for up to `flush_timeout` s), then disconnect.

        Every subscription ends. Idempotent.

        Args:
            flush_timeout: How long to wait for the outbox to empty.
        """
        if self._closed:
            return
        self._closed = True
        if self._supervisor is not None and self._outbox and self.connected:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(flush_timeout):
                    await self._outbox_empty.wait()
        if self._supervisor is not None:
            self._supervisor.cancel()
            try:
                await self._supervisor
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # close() itself was cancelled
        self._set_connected(False)
        self._fanout.end_all()
        if self._outbox:
            logger.warning(
                "closed with %d event(s) not sent",
                len(self._outbox),
                extra={"event": "smsh.bus.close_unflushed", "pending": len(self._outbox)},
            )

    @property
    def stats(self) -> BusStats:
        """Counters since the bus was created."""
        c = self._counters
        return BusStats(
            published=c.published,
            delivered=c.delivered,
            dropped=c.dropped,
            subscriptions=len(self._fanout),
            connected=self.connected,
            reconnects=c.reconnects,
            sent=c.sent,
            pending_outgoing=len(self._outbox),
            dropped_outgoing=c.dropped_outgoing,
            decode_errors=c.decode_errors,
        )

    # -- publish / subscribe ----------------------------------------------------------------------

    async def publish(self, topic: str, event: Event) -> None:
        """Queue an event for the broker (never waits for the network).

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
        validate_topic(topic)
        item = (topic, encode_event(event), qos_for(topic, event))
        if len(self._outbox) >= self._max_pending:
            self._outbox.popleft()
            self._counters.dropped_outgoing += 1
            dropped = self._counters.dropped_outgoing
            if dropped & (dropped - 1) == 0:
                logger.warning(
                    "outbox full (%d): dropped %d event(s) so far",
                    self._max_pending,
                    dropped,
                    extra={"event": "smsh.bus.outbox_overflow", "dropped": dropped},
                )
        self._outbox.append(item)
        self._counters.published += 1
        self._outbox_empty.clear()
        self._outbox_ready.set()

    def subscribe(
        self,
        pattern: str,
        *,
        maxsize: int | None = None,
        overflow: OverflowPolicy | None = None,
    ) -> Subscription:
        """Make a subscription; it is live once ``async with`` entered it.

        When connected, entering waits for the broker's SUBACK; when not, the pattern is
        subscribed as soon as the connection is (re)made.

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

    async def _attach(self, subscription: Subscription) -> None:
        if self._closed:
            raise BusClosed("subscribe on a closed bus")
        if not self._fanout.add(subscription):
            return
        pattern = subscription.pattern
        sub_id = self._allocate_id(pattern)
        client = self._client
        if client is not None:
            try:
                await self._broker_subscribe(client, pattern, sub_id)
            except aiomqtt.MqttError as exc:
                # The supervisor subscribes every live pattern again after reconnecting.
                logger.warning(
                    "subscribe %r failed (%s); will retry after reconnecting",
                    pattern,
                    exc,
                    extra={"event": "smsh.bus.subscribe_failed", "pattern": pattern},
                )

    async def _detach(self, subscription: Subscription) -> None:
        if not self._fanout.remove(subscription):
            return
        pattern = subscription.pattern
        sub_id = self._sub_ids.pop(pattern, None)
        if sub_id is not None:
            self._patterns_by_id.pop(sub_id, None)
        client = self._client
        if client is not None and not self._closed:
            try:
                await client.unsubscribe(pattern)
            except aiomqtt.MqttError as exc:
                logger.info(
                    "unsubscribe %r failed (%s); the broker forgets it on reconnect",
                    pattern,
                    exc,
                    extra={"event": "smsh.bus.unsubscribe_failed", "pattern": pattern},
                )

    def _allocate_id(self, pattern: str) -> int:
        sub_id = next(self._next_sub_id)
        if sub_id > _MAX_SUBSCRIPTION_ID:
            self._next_sub_id = itertools.count(1)
            sub_id = next(self._next_sub_id)
        self._sub_ids[pattern] = sub_id
        self._patterns_by_id[sub_id] = pattern
        return sub_id

    @staticmethod
    async def _broker_subscribe(client: aiomqtt.Client, pattern: str, sub_id: int) -> None:
        properties = Properties(PacketTypes.SUBSCRIBE)  # type: ignore[no-untyped-call]
        properties.SubscriptionIdentifier = sub_id
        await client.subscribe(pattern, qos=1, properties=properties)

    # -- the connection ---------------------------------------------------------------------------

    async def _supervise(self) -> None:
        delay = self._reconnect_min
        failures = 0  # attempts since the last successful connection
        while True:
            client = aiomqtt.Client(
                self.hostname,
                self.port,
                identifier=self.identifier,
                protocol=aiomqtt.ProtocolVersion.V5,
                keepalive=self._keepalive,
                timeout=self._timeout,
                logger=logger,
            )
            try:
                async with client:
                    delay, failures = self._reconnect_min, 0
                    if self._ever_connected:
                        self._counters.reconnects += 1
                    self._ever_connected = True
                    self._client = client
                    for pattern, sub_id in list(self._sub_ids.items()):
                        await self._broker_subscribe(client, pattern, sub_id)
                    self._set_connected(True)
                    logger.info(
                        "connected to %s:%d",
                        self.hostname,
                        self.port,
                        extra={"event": "smsh.bus.connected", "client_id": self.identifier},
                    )
                    await self._pump(client)
            except aiomqtt.MqttError as exc:
                failures += 1
                # Loud when the connection is lost or first refused; quiet while it stays down.
                logger.log(
                    logging.WARNING if failures == 1 else logging.DEBUG,
                    "connection to %s:%d lost or refused (%s); attempt %d, retrying in %.2f s",
                    self.hostname,
                    self.port,
                    exc,
                    failures,
                    delay,
                    extra={"event": "smsh.bus.disconnected", "client_id": self.identifier},
                )
            except Exception:
                logger.exception(
                    "bus connection failed unexpectedly; retrying in %.2f s",
                    delay,
                    extra={"event": "smsh.bus.supervisor_error", "client_id": self.identifier},
                )
            finally:
                self._client = None
                self._set_connected(False)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._reconnect_max)

    async def _pump(self, client: aiomqtt.Client) -> None:
        """Run the reader and the writer until either fails; re-raise its error."""
        reader = asyncio.create_task(self._read(client))
        writer = asyncio.create_task(self._write(client))
        try:
            done, _ = await asyncio.wait((reader, writer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            reader.cancel()
            writer.cancel()
            await asyncio.gather(reader, writer, return_exceptions=True)
        for task in done:
            task.result()
        raise aiomqtt.MqttError("message stream ended")

    async def _write(self, client: aiomqtt.Client) -> None:
        """Send the outbox in order, up to `_WRITE_BATCH` publishes in flight at once.

        Items leave the outbox only once the broker has them (QoS 0: written to the socket;
        QoS 1: PUBACK), so a connection lost mid-batch resends the batch after reconnecting
        (at least once).
        """
        client.pending_calls_threshold = _WRITE_BATCH + 8  # aiomqtt warns above it
        while True:
            while self._outbox:
                batch = list(itertools.islice(self._outbox, _WRITE_BATCH))
                # Tasks start in creation order, and each hands its packet to paho before its
                # first await, so the wire order is the outbox order.
                tasks = [
                    asyncio.ensure_future(client.publish(topic, payload, qos=qos))
                    for topic, payload, qos in batch
                ]
                try:
                    await asyncio.gather(*tasks)
                except BaseException:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    raise
                for item in batch:
                    # An item may have been dropped by an overflow while we awaited.
                    if self._outbox and self._outbox[0] is item:
                        self._outbox.popleft()
                self._counters.sent += len(batch)
            self._outbox_empty.set()
            self._outbox_ready.clear()
            await self._outbox_ready.wait()

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            self._dispatch(message.topic.value, message.payload, message.properties)

    def _dispatch(self, topic: str, payload: object, properties: Properties | None) -> None:
        if not isinstance(payload, bytes | bytearray | str):
            self._decode_failed(topic, EventDecodeError(f"payload of type {type(payload)}"))
            return
        try:
            event = decode_event(payload)
        except EventDecodeError as exc:
            self._decode_failed(topic, exc)
            return
        ids = getattr(properties, "SubscriptionIdentifier", None) if properties else None
        if ids:
            self._fanout.deliver_to_patterns(topic, event, self._patterns_for(ids))
        else:
            self._fanout.deliver(topic, event)

    def _patterns_for(self, ids: Iterable[int]) -> Iterable[str]:
        for sub_id in ids:
            pattern = self._patterns_by_id.get(sub_id)
            if pattern is not None:
                yield pattern

    def _decode_failed(self, topic: str, exc: EventDecodeError) -> None:
        self._counters.decode_errors += 1
        logger.warning(
            "skipped a payload on %r that is not a valid event: %s",
            topic,
            exc,
            extra={"event": "smsh.bus.decode_error", "topic": topic, "error": type(exc).__name__},
        )
