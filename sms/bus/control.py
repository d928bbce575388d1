"""`ControlChannel`: operator controls as messages, answered by acknowledgements.

A component (the responder) registers one handler per `ControlAction` and enters the channel;
it then listens on ``smsh/v1/control/{component}/{instance}/+`` and on the broadcast topic
``smsh/v1/control/{component}/all/+``, runs the handler, and publishes a `ControlAcknowledged`
on ``smsh/v1/{component}/{instance}/control_acknowledged``. A requester (the TUI, the runner)
calls `ControlChannel.request` (one instance, awaits its ack), `ControlChannel.broadcast`
(every instance, collects acks for a while) or `ControlChannel.send` (fire and forget).

Invariants:
    * The component decides (ARCHITECTURE.md rule 6): a handler may refuse by raising
      `ControlRefused`; any other exception is logged with its traceback and answered with
      ``ok=False``. An unknown action, or a topic whose action differs from the body's, is
      answered with ``ok=False`` too. No control goes unanswered unless more than
      `CONTROL_BUFFER` wait at once (those are counted on the subscription, as every drop).
    * Handlers of one channel run one at a time, in arrival order per topic.
    * A repeated `correlation_id` (an MQTT QoS 1 redelivery) is answered again with the first
      answer; the handler does not run twice (the last `DEDUP_WINDOW` ids are remembered).
    * A requester subscribes to acknowledgements before it publishes, so an ack cannot be missed.
    * Timestamps come from the injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Final, Self, TypeAlias

from pydantic import JsonValue

from sms.bus.bus import Bus, Subscription
from sms.bus.errors import BusClosed, BusError, ControlTimeout, TopicError
from sms.bus.events import Control, ControlAcknowledged, ControlAction, Event
from sms.bus.topics import (
    ALL_INSTANCES,
    control_pattern,
    control_topic,
    event_pattern,
    event_topic,
    parse_topic,
)
from sms.clock import Clock

__all__ = ["CONTROL_BUFFER", "DEDUP_WINDOW", "ControlChannel", "ControlHandler", "ControlRefused"]

logger = logging.getLogger("smsh.bus.control")

ControlResult: TypeAlias = Mapping[str, JsonValue] | None
ControlHandler: TypeAlias = Callable[[Control], Awaitable[ControlResult]]
"""Handles a control: returns a result for the ack (or None); raises `ControlRefused` to say no."""

#: Correlation ids remembered to answer redeliveries without running a handler again.
DEDUP_WINDOW: Final[int] = 256
#: Controls a responder buffers while a handler runs; more are dropped (and counted).
CONTROL_BUFFER: Final[int] = 1024


class ControlRefused(BusError):
    """Raised by a handler to refuse a control; the message becomes the ack's `detail`."""


class ControlChannel:
    """Receives controls addressed to one component instance, and sends controls to others."""

    def __init__(
        self,
        bus: Bus,
        component: str,
        instance: str,
        *,
        clock: Clock,
        handlers: Mapping[ControlAction, ControlHandler] | None = None,
        new_id: Callable[[], str] | None = None,
    ) -> None:
        """Create a channel (it listens only once entered with ``async with``).

        Args:
            bus: The bus to use.
            component: This component (``gateway``, ``simulator``, ``tui``, ...).
            instance: This instance's id.
            clock: Source of the `at` of the events it publishes.
            handlers: Handlers by action (more can be added with `on` before entering).
            new_id: Makes correlation ids (random UUIDs when None).

        Raises:
            TopicError: The component or instance is not a valid topic segment.
        """
        event_topic(component, instance, "control_acknowledged")
        self.component: Final[str] = component
        """This component."""
        self.instance: Final[str] = instance
        """This instance."""
        self._bus = bus
        self._clock = clock
        self._handlers: dict[ControlAction, ControlHandler] = dict(handlers or {})
        self._new_id = new_id or (lambda: uuid.uuid4().hex)
        self._ack_topic = event_topic(component, instance, "control_acknowledged")
        self._answered: OrderedDict[str, ControlAcknowledged] = OrderedDict()
        self._lock = asyncio.Lock()
        self._subscriptions: list[Subscription] = []
        self._tasks: list[asyncio.Task[None]] = []

    # -- responder --------------------------------------------------------------------------------

    def on(self, action: ControlAction, handler: ControlHandler) -> None:
        """Register (or replace) the handler of an action.

        Args:
            action: The control action.
            handler: Its handler.
        """
        self._handlers[action] = handler

    async def __aenter__(self) -> Self:
        """Start listening on this instance's control topics (and the broadcast ones)."""
        try:
            for instance in (self.instance, ALL_INSTANCES):
                sub = self._bus.subscribe(
                    control_pattern(self.component, instance, None),
                    maxsize=CONTROL_BUFFER,
                    overflow="drop_newest",
                )
                await sub.__aenter__()
                self._subscriptions.append(sub)
                self._tasks.append(
                    asyncio.create_task(
                        self._serve(sub), name=f"smsh.bus.control:{self.component}/{self.instance}"
                    )
                )
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
        """Stop listening."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for sub in self._subscriptions:
            await sub.aclose()
        self._tasks.clear()
        self._subscriptions.clear()

    async def _serve(self, sub: Subscription) -> None:
        async for topic, event in sub:
            async with self._lock:
                try:
                    await self._handle(topic, event)
                except BusClosed:
                    return
                except Exception:
                    logger.exception(
                        "could not answer a control on %r",
                        topic,
                        extra={"event": "smsh.bus.control.answer_failed", "topic": topic},
                    )

    async def _handle(self, topic: str, event: Event) -> None:
        if not isinstance(event, Control):
            logger.warning(
                "ignored a %s event on control topic %r",
                event.kind,
                topic,
                extra={"event": "smsh.bus.control.not_a_control", "topic": topic},
            )
            return
        previous = self._answered.get(event.correlation_id)
        if previous is not None:
            await self._bus.publish(self._ack_topic, previous)
            return
        try:
            topic_action = parse_topic(topic).kind
        except TopicError as exc:
            topic_action = f"<{exc}>"
        handler = self._handlers.get(event.action)
        ok = False
        result: dict[str, JsonValue] = {}
        if topic_action != event.action:
            detail: str | None = (
                f"action {event.action!r} does not match the topic's {topic_action!r}"
            )
        elif handler is None:
            detail = f"{self.component}/{self.instance} has no handler for {event.action!r}"
        else:
            try:
                returned = await handler(event)
            except ControlRefused as exc:
                detail = str(exc) or "refused"
            except Exception as exc:
                logger.exception(
                    "control handler for %r failed",
                    event.action,
                    extra={
                        "event": "smsh.bus.control.handler_failed",
                        "action": event.action,
                        "correlation_id": event.correlation_id,
                    },
                )
                detail = f"{type(exc).__name__}: {exc}"
            else:
                ok, detail, result = True, None, dict(returned or {})
        ack = ControlAcknowledged(
            at=self._clock.now(),
            correlation_id=event.correlation_id,
            action=event.action,
            component=self.component,
            instance=self.instance,
            ok=ok,
            detail=detail,
            result=result,
        )
        self._answered[event.correlation_id] = ack
        if len(self._answered) > DEDUP_WINDOW:
            self._answered.popitem(last=False)
        await self._bus.publish(self._ack_topic, ack)

    # -- requester --------------------------------------------------------------------------------

    def _control(self, action: ControlAction, args: Mapping[str, JsonValue] | None) -> Control:
        return Control(
            at=self._clock.now(),
            action=action,
            correlation_id=self._new_id(),
            args=dict(args or {}),
            requested_by=f"{self.component}/{self.instance}",
        )

    async def send(
        self,
        component: str,
        instance: str,
        action: ControlAction,
        args: Mapping[str, JsonValue] | None = None,
    ) -> str:
        """Publish a control without waiting for an answer.

        Args:
            component: The component addressed.
            instance: The instance addressed, or ``all``.
            action: What to do.
            args: Arguments of the action.

        Returns:
            The correlation id.
        """
        control = self._control(action, args)
        await self._bus.publish(control_topic(component, instance, action), control)
        return control.correlation_id

    async def request(
        self,
        component: str,
        instance: str,
        action: ControlAction,
        args: Mapping[str, JsonValue] | None = None,
        *,
        ack_timeout: float = 5.0,
    ) -> ControlAcknowledged:
        """Publish a control to one instance and wait for its acknowledgement.

        Args:
            component: The component addressed.
            instance: The instance addressed.
            action: What to do.
            args: Arguments of the action.
            ack_timeout: How long to wait for the ack, in seconds (real time).

        Returns:
            The acknowledgement (check its `ok`).

        Raises:
            ControlTimeout: No ack arrived in time.
            BusClosed: The bus closed while waiting.
        """
        control = self._control(action, args)
        acks = await self._exchange(control, component, instance, wait=ack_timeout, expected=1)
        if not acks:
            raise ControlTimeout(control.correlation_id, ack_timeout)
        return acks[0]

    async def broadcast(
        self,
        component: str,
        action: ControlAction,
        args: Mapping[str, JsonValue] | None = None,
        *,
        wait: float = 1.0,
        expected: int | None = None,
    ) -> list[ControlAcknowledged]:
        """Publish a control to every instance of a component and collect acknowledgements.

        Args:
            component: The component addressed.
            action: What to do.
            args: Arguments of the action.
            wait: How long to collect acks, in seconds (real time).
            expected: Stop early once this many acks arrived.

        Returns:
            The acks that arrived, in arrival order (possibly none).

        Raises:
            BusClosed: The bus closed while waiting.
        """
        control = self._control(action, args)
        return await self._exchange(control, component, ALL_INSTANCES, wait=wait, expected=expected)

    async def _exchange(
        self,
        control: Control,
        component: str,
        instance: str,
        *,
        wait: float,
        expected: int | None,
    ) -> list[ControlAcknowledged]:
        """Subscribe to the acks, publish the control, collect matching acks for `wait` s."""
        pattern = event_pattern(
            component, None if instance == ALL_INSTANCES else instance, "control_acknowledged"
        )
        acks: list[ControlAcknowledged] = []
        async with self._bus.subscribe(pattern, maxsize=256) as sub:
            await self._bus.publish(control_topic(component, instance, control.action), control)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    async for _topic, event in sub:
                        if (
                            isinstance(event, ControlAcknowledged)
                            and event.correlation_id == control.correlation_id
                        ):
                            acks.append(event)
                            if expected is not None and len(acks) >= expected:
                                return acks
                    raise BusClosed("the bus closed while waiting for acknowledgements")
        return acks
