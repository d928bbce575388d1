"""The gateway service: the submit API over the store, the dispatcher that feeds the binds, and
the periodic maintenance. `Gateway(config, store, bus, clock)` is the Python API; the HTTP API
(`gateway.http`) and the CLI (`smsh gateway serve`, `smsh load`) are thin layers over it.

Theory of operation:
    `submit` validates (number, route, sender, segmentation limits, TLVs), applies the sending
    policies (`gateway.admission`: owner check, quiet hours), checks suppression, stores the
    message with the TLVs for its parts and returns its id only after the commit
    (ARCHITECTURE.md rule 7), then wakes the dispatcher. The dispatcher is the only claimer:
    it claims a batch when the binds have room, plans each message with the profile, method
    and encoding stored at acceptance and a concatenation reference derived from the message
    id (so a resent part carries the same reference as its siblings, across restarts; a one-part
    message, which has no reference, reuses the plan made at acceptance while it is cached),
    and queues the parts on the up bind of the message's route with the most room. Binds
    (`gateway.esme`) do the rest. Maintenance runs every `dispatch.maintenance_interval`:
    expiry, the receipt timeout (``receipts.receipt_timeout``: ``unknown``), the
    pending-receipt sweep, incomplete MO, metrics snapshots.

Invariants:
    * An id returned by `submit` is durable; the message leaves the active states only for a
      terminal one, published once as `MessageFinal`.
    * At start-up `recover` runs before the first claim: messages that were in flight in a
      previous process are requeued (their parts already answered ESME_ROK are not resent).
    * The store given to the gateway must normalise SMSC ids with the configured `IdRule`
      (`open_store(config)` builds such a store).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from gateway.admission import Admission, obtained_date
from gateway.config import GatewayConfig
from gateway.errors import GatewayError
from gateway.esme import (
    Bind,
    BindSettings,
    GatewayContext,
    GatewayStats,
    ReceiptInbound,
    TaskTracker,
    build_attempt,
)
from gateway.mo import (
    TAG_MESSAGE_PAYLOAD,
    TAG_SAR_MSG_REF_NUM,
    TAG_SAR_SEGMENT_SEQNUM,
    TAG_SAR_TOTAL_SEGMENTS,
    MoInbound,
)
from gateway.ownercheck import OwnerCheckClient
from gateway.policy import RetryTable
from gateway.routing import RejectReason, Route, Router, SubmitRejected
from gateway.store import (
    ClaimedMessage,
    MessageState,
    MessageStatus,
    MessageStore,
    MessageSummary,
    MoRecord,
    NewMessage,
    RecoveryReport,
)
from sms.alphabet import Encoding, EncodingError
from sms.bus import Alert, Bus, MessageAccepted, MetricsAggregator, Publisher, ReceiptReceived
from sms.clock import Clock, SystemClock
from sms.errors import SmsError
from sms.harness import harness_tlvs
from sms.numbers import InvalidNumber, Npi, SmppAddress, Ton, parse_msisdn, to_smpp_address
from sms.receipt import IdSide, normalize_id
from sms.segments import MessageTooLong, Method, Plan, SegmentationError, plan

__all__ = [
    "RESERVED_TAGS",
    "BindInfo",
    "Gateway",
    "SubmitRequest",
    "derived_tlvs",
    "message_tlvs",
    "open_store",
    "reference_for",
]

log = logging.getLogger("smsh.gateway")

#: One-part plans kept from acceptance for the dispatcher, at most (a message that fits one
#: part plans the same whatever its concatenation reference, so the dispatcher need not plan it
#: again; when full, later messages are planned again at dispatch).
PLAN_CACHE = 32_768

#: Enum values without the ``value`` property (per message on the accept path).
_ENCODING_VALUE: Final[dict[Encoding, str]] = {e: e.value for e in Encoding}
_METHOD_VALUE: Final[dict[Method, str]] = {m: m.value for m in Method}

#: The fields of `gateway.store.NewMessage` in the order `Gateway.prepare` passes them
#: (positional: about 0.5 us less per message than keywords). A change of that class's
#: fields fails here, at import, instead of shifting the arguments.
_NEW_MESSAGE_ARGS: Final = (
    "source",
    "destination",
    "text",
    "parts_total",
    "client_ref",
    "encoding",
    "profile",
    "method",
    "concat_ref",
    "priority",
    "validity_deadline",
    "not_before",
    "route",
    "bind",
    "campaign_id",
    "metadata",
    "tlvs",
)
if tuple(f.name for f in fields(NewMessage)) != _NEW_MESSAGE_ARGS:
    raise ImportError("gateway.store.NewMessage changed its fields: update Gateway.prepare")


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    """One message to submit (the arguments of `Gateway.submit`)."""

    destination: str
    """Recipient, in any spelling `sms.numbers.parse_msisdn` accepts."""
    text: str
    """Message text."""
    source: str | None = None
    """Sender ID (None: the route's default)."""
    client_ref: str | None = None
    """The submitter's own reference."""
    priority: int = 0
    """Higher goes first (0-3 is sent as priority_flag)."""
    validity: float | None = None
    """Seconds from now after which the message must not be sent (None: config default)."""
    not_before: float | None = None
    """Clock time before which it must not be sent."""
    route: str | None = None
    """Route name to use (must serve the destination)."""
    campaign_id: str | None = None
    """Owning campaign."""
    metadata: Mapping[str, Any] | None = None
    """Free JSON data stored with the message."""
    tlvs: Sequence[tuple[int, bytes]] = ()
    """Extra optional parameters ``(tag, value)`` sent on every part's submit_sm (empty: none,
    or the harness TLVs when the route enables `harness_tlvs`)."""


@dataclass(frozen=True, slots=True)
class BindInfo:
    """What `Gateway.binds` reports about one session."""

    name: str
    """Session name."""
    state: str
    """connecting / bound / closed."""
    mode: str
    """transceiver / transmitter / receiver."""
    window: int
    """Window size."""
    in_flight: int
    """Requests awaiting a response."""
    queued: int
    """Parts queued on the bind (ready + throttle backlog)."""
    paused_for: float
    """Seconds the throttle pause still lasts."""
    ups: int
    """Times it came up."""
    last_error: str | None
    """Why it last went down or failed to connect."""


def _room(bind: Bind) -> int:
    return bind.room


def reference_for(message_id: int, method: Method) -> int:
    """The concatenation reference of a message: deterministic, from its id.

    8-bit UDH references cycle through 0-255, the others through 0-65535; consecutive ids
    differ, so consecutive messages to one handset never share a reference.
    """
    if method is Method.UDH8:
        return message_id % 256
    return message_id % 65536


#: Optional parameters the gateway writes itself (SMPP 3.4 §5.3.2.22-24 sar_*, §5.3.2.32
#: message_payload): a caller's TLVs may not carry them.
RESERVED_TAGS: Final[frozenset[int]] = frozenset(
    {TAG_SAR_MSG_REF_NUM, TAG_SAR_TOTAL_SEGMENTS, TAG_SAR_SEGMENT_SEQNUM, TAG_MESSAGE_PAYLOAD}
)


def message_tlvs(
    tlvs: Sequence[tuple[int, bytes]],
    *,
    derive: bool,
    client_ref: str | None,
    metadata: Mapping[str, Any] | None,
) -> tuple[tuple[int, bytes], ...]:
    """The TLVs to store with a message: the caller's, checked, or the derived harness TLVs.

    Args:
        tlvs: The caller's ``(tag, value)`` pairs.
        derive: The route enables `harness_tlvs` (used only when `tlvs` is empty).
        client_ref: The message key for TLV 0x1500.
        metadata: ``owner`` (TLV 0x1501) and ``obtained`` (ISO date, TLV 0x1502).

    Returns:
        The pairs, in the caller's order (harness TLVs in tag order).

    Raises:
        SubmitRejected: INVALID_REQUEST for a tag outside 2 octets, a tag the gateway writes
            itself, a value longer than 65535 octets, or an unreadable ``obtained`` date.
    """
    if tlvs:
        out: list[tuple[int, bytes]] = []
        for tag, value in tlvs:
            if not 0 <= tag <= 0xFFFF:
                raise SubmitRejected(RejectReason.INVALID_REQUEST, f"TLV tag {tag} out of range")
            if tag in RESERVED_TAGS:
                raise SubmitRejected(
                    RejectReason.INVALID_REQUEST,
                    f"TLV 0x{tag:04X} is written by the gateway itself",
                )
            raw = bytes(value)
            if len(raw) > 0xFFFF:
                raise SubmitRejected(
                    RejectReason.INVALID_REQUEST, f"TLV 0x{tag:04X}: value longer than 65535"
                )
            out.append((tag, raw))
        return tuple(out)
    if not derive:
        return ()
    return derived_tlvs(client_ref, metadata)


def derived_tlvs(
    client_ref: str | None, metadata: Mapping[str, Any] | None
) -> tuple[tuple[int, bytes], ...]:
    """The harness vendor TLVs of a message (`sms.harness.harness_tlvs`): its key, and the
    ``owner`` and ``obtained`` of its metadata; an empty key or owner is left out.

    Raises:
        SubmitRejected: INVALID_REQUEST for an unreadable ``obtained`` date or a value too long
            for a TLV.
    """
    owner = (metadata or {}).get("owner")
    obtained = obtained_date(metadata)
    try:
        return harness_tlvs(client_ref or None, str(owner) if owner else None, obtained)
    except ValueError as exc:
        raise SubmitRejected(RejectReason.INVALID_REQUEST, str(exc)) from None


def open_store(config: GatewayConfig, *, path: str | Path | None = None) -> MessageStore:
    """Open the message store with the configured receipt id rule and writer (a child
    process by default: `StoreConfig.writer`).

    Args:
        config: The configuration (store settings and `receipts` id rule).
        path: Override `config.store.path`.

    Returns:
        The store (the caller closes it).
    """
    rule = config.id_rule()
    return MessageStore(
        path if path is not None else config.store.path,
        synchronous=config.store.synchronous,
        normalize=functools.partial(normalize_id, rule=rule, side=IdSide.RESP),
        normalize_receipt=functools.partial(normalize_id, rule=rule, side=IdSide.RECEIPT),
        max_batch=config.store.max_batch,
        writer=config.store.writer,
    )


class Gateway:
    """The SMPP client gateway (see the module docstring).

    Use as ``async with Gateway(config, store, bus, clock) as gw: await gw.submit(...)``.

    Args:
        config: The validated configuration.
        store: The message store (see `open_store`); the caller owns and closes it.
        bus: Where events go.
        clock: Time source (default: the system clock).
        owner_check: Owner-check client for `config.owner_check` (default: an HTTP client on
            `owner_check.url` when set).
    """

    def __init__(
        self,
        config: GatewayConfig,
        store: MessageStore,
        bus: Bus,
        clock: Clock | None = None,
        *,
        owner_check: OwnerCheckClient | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.bus = bus
        self.clock: Clock = clock or SystemClock()
        self.router = Router(config)
        self.admission = Admission(config, owner_check)
        """The sending policies applied at submit (owner check, quiet hours)."""
        self.events = Publisher(bus, "gateway", config.instance)
        self.metrics = MetricsAggregator(interval=config.dispatch.maintenance_interval)
        self.stats = GatewayStats(self.metrics)
        self.tasks = TaskTracker()
        self.receipts = ReceiptInbound(store.aio, self.clock, self.events, self.stats)
        self.mo = MoInbound(
            store.aio, self.clock, self.events, self.stats, config.mo, config.numbers
        )
        self.ctx = GatewayContext(
            instance=config.instance,
            store=store.aio,
            clock=self.clock,
            events=self.events,
            stats=self.stats,
            retry=RetryTable.from_config(config.retry),
            limits=config.rate_limits(),
            throttle_backoff=config.throttle.backoff.schedule(),
            seed=config.seed,
            tasks=self.tasks,
            mo=self.mo,
            receipts=self.receipts,
            wake_dispatcher=self._wake_up,
        )
        self.receipts.publish_final = self.ctx.publish_final
        self._binds: dict[str, Bind] = {}
        for group in config.binds:
            for name in group.session_names:
                queue = config.dispatch.queue_per_bind or 2 * group.window + 64
                self._binds[name] = Bind(
                    name,
                    BindSettings(
                        host=group.host,
                        port=group.port,
                        system_id=group.system_id,
                        password=group.password,
                        system_type=group.system_type,
                        address_range=group.address_range,
                        mode=group.mode,
                        window=group.window,
                        enquire_link_interval=group.enquire_link_interval,
                        socket_timeout=group.socket_timeout,
                        response_timeout=group.response_timeout,
                        reconnect=group.reconnect.schedule(),
                        queue=queue,
                        tls=group.tls,
                    ),
                    self.ctx,
                )
        self._plans: dict[int, Plan] = {}
        """Plans of accepted one-part messages, taken by the dispatcher (see `PLAN_CACHE`)."""
        self._wake = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._maintenance: asyncio.Task[None] | None = None
        self._started = False
        self._stopping = False
        self.recovery: RecoveryReport | None = None
        """What start-up recovery requeued."""
        self.unmatched_receipts = 0
        """Receipts swept to ``unmatched`` (no response ever carried their id)."""
        self.submit_guard: Callable[[], None] = lambda: None
        """Called first by `submit_many`; raises `SubmitRejected` to refuse every new
        submit (set by `gateway.control` while draining)."""

    # -- life cycle -----------------------------------------------------------------------

    async def start(self) -> RecoveryReport:
        """Recover the store, connect every bind, start dispatching.

        Returns:
            What recovery requeued.
        """
        if self._started:
            raise GatewayError("the gateway is already started")
        self._started = True
        self.recovery = await self.store.aio.recover(self.clock.now())
        if self.recovery.requeued:
            log.warning(
                "smsh.gateway.recovered",
                extra={
                    "requeued": len(self.recovery.requeued),
                    "parts_in_doubt": self.recovery.parts_in_doubt,
                },
            )
        for bind in self._binds.values():
            bind.start()
        self._dispatcher = asyncio.create_task(self._dispatch_loop(), name="gateway-dispatcher")
        self._maintenance = asyncio.create_task(
            self._maintenance_loop(), name="gateway-maintenance"
        )
        return self.recovery

    async def stop(self) -> None:
        """Stop dispatching, let in-flight submits be answered (up to `shutdown_timeout`),
        unbind, and put whatever is left back in the store. Idempotent."""
        if not self._started or self._stopping:
            return
        self._stopping = True
        grace = self.config.shutdown_timeout
        # The dispatcher finishes its current claim (claimed messages are handed to the binds,
        # which give them back below) instead of being cancelled between claim and hand-off.
        self._wake.set()
        if self._dispatcher is not None:
            try:
                async with asyncio.timeout(grace):
                    await self._dispatcher
            except TimeoutError:
                self._dispatcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._dispatcher
        if self._maintenance is not None:
            self._maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._maintenance
        await asyncio.gather(*(b.drain(grace) for b in self._binds.values()))
        await asyncio.gather(*(b.stop(grace) for b in self._binds.values()))
        await self.mo.drain()
        await self.tasks.join()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _wake_up(self) -> None:
        self._wake.set()

    # -- submit -------------------------------------------------------------------------------

    def prepare(self, request: SubmitRequest, now: float) -> tuple[NewMessage, Plan]:
        """Validate a request and build the message to store (no I/O, no suppression check).

        Raises:
            SubmitRejected: Invalid number, sender, route, text or validity.
        """
        if not request.text:
            raise SubmitRejected(RejectReason.INVALID_REQUEST, "text must not be empty")
        numbers = self.config.numbers
        try:
            msisdn = parse_msisdn(
                request.destination,
                allow_060=numbers.allow_060,
                allow_m2m=numbers.allow_m2m,
                default_country=numbers.default_country,
            )
        except InvalidNumber as exc:
            raise SubmitRejected(RejectReason.INVALID_NUMBER, str(exc)) from None
        route = self.router.resolve(msisdn.e164, request.route)
        sender = self.router.sender(route, request.source)
        try:
            planned = plan(request.text, route.profile, method=route.method)
        except MessageTooLong as exc:
            raise SubmitRejected(RejectReason.TOO_LONG, str(exc)) from None
        except (EncodingError, SegmentationError) as exc:
            raise SubmitRejected(RejectReason.UNENCODABLE, str(exc)) from None
        validity = request.validity if request.validity is not None else self.config.validity
        if validity is not None and validity <= 0:
            raise SubmitRejected(RejectReason.INVALID_REQUEST, "validity must be positive")
        tlvs = (
            message_tlvs(
                request.tlvs,
                derive=route.harness_tlvs,
                client_ref=request.client_ref,
                metadata=request.metadata,
            )
            if request.tlvs or route.harness_tlvs
            else ()  # what message_tlvs returns for no TLVs on a route without harness TLVs
        )
        message = NewMessage(  # positional, in _NEW_MESSAGE_ARGS order
            sender,
            msisdn.e164,
            request.text,
            len(planned.parts),
            request.client_ref,
            _ENCODING_VALUE[planned.encoding],
            route.profile.name,
            _METHOD_VALUE[route.method],
            None,  # concat_ref
            request.priority,
            now + validity if validity is not None else None,
            request.not_before,
            route.name,
            None,  # bind
            request.campaign_id,
            dict(request.metadata) if request.metadata else {},
            tlvs,
        )
        return message, planned

    async def submit(
        self,
        destination: str,
        text: str,
        *,
        source: str | None = None,
        client_ref: str | None = None,
        priority: int = 0,
        validity: float | None = None,
        not_before: float | None = None,
        route: str | None = None,
        campaign_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tlvs: Sequence[tuple[int, bytes]] = (),
    ) -> int:
        """Accept one message durably.

        Args:
            destination: Recipient number (JP national or E.164, any common spelling).
            text: The text (split into parts by the route's profile and method).
            source: Sender ID (None: the route's default).
            client_ref: Your reference (returned in status and events).
            priority: Higher goes first.
            validity: Seconds it stays sendable (None: the configured default).
            not_before: Clock time before which it is not sent.
            route: Route name to use.
            campaign_id: Owning campaign.
            metadata: JSON data kept with it.
            tlvs: Optional parameters ``(tag, value)`` to send on every part's submit_sm,
                stored with the message (empty: none, or the harness TLVs derived from
                `client_ref` and metadata ``owner`` / ``obtained`` on a route with
                `harness_tlvs`).

        Returns:
            The message id (committed to the store).

        Raises:
            SubmitRejected: Refused before storing; `reason` says why (``suppressed`` for a
                number that opted out, ``owner_check_*`` / ``quiet_hours`` from the sending
                policies).
        """
        ids = await self.submit_many(
            [
                SubmitRequest(
                    destination,
                    text,
                    source=source,
                    client_ref=client_ref,
                    priority=priority,
                    validity=validity,
                    not_before=not_before,
                    route=route,
                    campaign_id=campaign_id,
                    metadata=metadata,
                    tlvs=tlvs,
                )
            ]
        )
        return ids[0]

    async def submit_many(self, requests: Sequence[SubmitRequest]) -> list[int]:
        """Accept several messages in one commit (all or none).

        Returns:
            Their ids, in order.

        Raises:
            SubmitRejected: One of them is refused (none is stored); the message names it.
        """
        self.submit_guard()
        now = self.clock.now()
        prepared: list[NewMessage] = []
        plans: list[Plan] = []
        for i, request in enumerate(requests):
            try:
                message, planned = self.prepare(request, now)
            except SubmitRejected as exc:
                if len(requests) == 1:
                    raise
                raise SubmitRejected(exc.reason, f"message {i}: {exc.detail}") from None
            prepared.append(message)
            plans.append(planned)
        if not prepared:
            return []
        prepared = await self.admission.admit(prepared, now)
        destinations = {m.destination for m in prepared}
        if len(destinations) == 1:
            (only,) = destinations
            entry = await self.store.aio.suppression(only)
            suppressed = {only} if entry is not None else set()
        else:
            suppressed = await self.store.aio.suppressed_among(destinations)
        for i, message in enumerate(prepared):
            if message.destination in suppressed:
                where = "" if len(prepared) == 1 else f"message {i}: "
                raise SubmitRejected(
                    RejectReason.SUPPRESSED,
                    f"{where}{message.destination} is on the suppression list (opted out)",
                )
        ids = await self.store.aio.accept(prepared, now)
        cache = self._plans
        # Built only when someone subscribes to them (Publisher.wants).
        accepted_wanted = self.events.wants("message_accepted")
        for message_id, message, planned in zip(ids, prepared, plans, strict=True):
            if len(planned.parts) == 1 and len(cache) < PLAN_CACHE:
                cache[message_id] = planned
            if not accepted_wanted:
                continue
            self.events.publish_nowait(
                MessageAccepted(
                    at=now,
                    message_id=str(message_id),
                    message_key=message.client_ref,
                    source=message.source,
                    destination=message.destination,
                    parts=message.parts_total,
                    encoding=planned.encoding,
                    campaign_id=message.campaign_id,
                    scheduled_for=message.not_before
                    if message.not_before is not None and message.not_before > now
                    else None,
                )
            )
        self.metrics.record_count("accepted", len(ids), now=now)
        self._wake.set()
        return ids

    # -- queries ------------------------------------------------------------------------------

    async def status(self, message_id: int) -> MessageStatus:
        """Everything stored about a message.

        Raises:
            UnknownMessageError: No such message.
        """
        return await self.store.aio.status(message_id)

    async def list_messages(
        self,
        *,
        state: MessageState | None = None,
        destination: str | None = None,
        client_ref: str | None = None,
        campaign_id: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[MessageSummary]:
        """Messages matching the filters, by id (keyset paging with `after_id`)."""
        return await self.store.aio.list_messages(
            state=state,
            destination=destination,
            client_ref=client_ref,
            campaign_id=campaign_id,
            after_id=after_id,
            limit=limit,
        )

    async def list_mo(
        self, *, source: str | None = None, after_id: int = 0, limit: int = 100
    ) -> list[MoRecord]:
        """Stored MO messages by id."""
        return await self.store.aio.list_mo(source=source, after_id=after_id, limit=limit)

    async def counts(self) -> dict[MessageState, int]:
        """Messages per state."""
        return await self.store.aio.counts()

    def binds(self) -> list[BindInfo]:
        """The sessions and their state."""
        now = self.clock.now()
        return [
            BindInfo(
                name=b.name,
                state=b.state,
                mode=b.settings.mode,
                window=b.window.size,
                in_flight=b.window.outstanding,
                queued=b.broker.queued,
                paused_for=b.throttle.resume_in(now),
                ups=b.ups,
                last_error=b.last_error,
            )
            for b in self._binds.values()
        ]

    def bind(self, name: str) -> Bind:
        """The bind called `name` (for tests and tools)."""
        return self._binds[name]

    # -- dispatcher -----------------------------------------------------------------------------

    async def _wait(self, delay: float | None) -> None:
        try:
            async with asyncio.timeout(delay):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def _dispatch_loop(self) -> None:
        poll = self.config.dispatch.poll_interval
        batch_max = self.config.dispatch.claim_batch
        while not self._stopping:
            self._wake.clear()
            binds = [b for b in self._binds.values() if b.is_up and b.can_transmit]
            room = sum(b.room for b in binds)
            capacity = sum(b.broker.capacity for b in binds)
            busy = any(b.broker.queued for b in binds)
            if room <= 0 or (busy and room < capacity // 2):
                await self._wait(poll)
                continue
            now = self.clock.now()
            try:
                batch = await self.store.aio.claim(now, min(room, batch_max))
            except GatewayError:
                log.exception("smsh.gateway.claim_failed")
                await self._wait(poll)
                continue
            for message_id in batch.expired:
                self.ctx.publish_final(
                    message_id,
                    MessageState.EXPIRED,
                    now,
                    reason="validity deadline passed while queued",
                    parts=1,
                    attempts=0,
                    by_receipt=False,
                )
            if not batch.messages:
                await self._wait(poll)
                continue
            await self._route(batch.messages, now)

    async def _route(self, messages: Sequence[ClaimedMessage], now: float) -> None:
        suppressed = await self.store.aio.suppressed_among({m.destination for m in messages})
        ctx = self.ctx
        # The up binds of each route (nothing below awaits, so they stay up for the batch).
        up: dict[str, list[Bind]] = {}
        for message in messages:
            if message.destination in suppressed:
                self._fail(message, now, "destination is on the suppression list (opted out)")
                continue
            try:
                route = self._route_of(message)
                planned = self._plan_of(message)
                attempt, tickets = build_attempt(
                    message,
                    planned,
                    route=route.name,
                    destination=self._destination(message.destination, route),
                    source=self.router.address_of(message.source),
                    registered_delivery=route.registered_delivery,
                )
            except (GatewayError, SmsError, ValueError) as exc:
                self._fail(message, now, f"cannot prepare: {exc}")
                continue
            candidates = up.get(route.name)
            if candidates is None:
                candidates = up[route.name] = [
                    self._binds[name]
                    for name in route.sessions
                    if name in self._binds and self._binds[name].is_up
                ]
            if not candidates:
                ctx.tasks.spawn(
                    ctx.store.release(
                        message.id,
                        now,
                        until=now + self.config.dispatch.poll_interval,
                        reason=f"no bind up for route {route.name}",
                    ),
                    what="release",
                )
                continue
            best = candidates[0] if len(candidates) == 1 else max(candidates, key=_room)
            best.assign(attempt, tickets)

    def _route_of(self, message: ClaimedMessage) -> Route:
        if message.route is not None:
            try:
                return self.router.get(message.route)
            except SubmitRejected:
                pass  # the route was renamed since acceptance: resolve again
        return self.router.resolve(message.destination)

    def _plan_of(self, message: ClaimedMessage) -> Plan:
        cached = self._plans.pop(message.id, None)
        if cached is not None and _ENCODING_VALUE[cached.encoding] == message.encoding:
            return cached  # one part: the same plan whatever the reference (no UDH, no SAR)
        method = Method(message.method) if message.method else Method.UDH8
        return plan(
            message.text,
            message.profile or "generic",
            method=method,
            reference=reference_for(message.id, method),
            encoding=Encoding(message.encoding) if message.encoding else None,
        )

    @staticmethod
    def _destination(e164: str, route: Route) -> SmppAddress:
        if route.national_destination:
            return to_smpp_address(parse_msisdn(e164), national=True)
        if e164.startswith("+"):
            return SmppAddress(Ton.INTERNATIONAL, Npi.ISDN, e164[1:])
        return SmppAddress(Ton.UNKNOWN, Npi.ISDN, e164)

    def _fail(self, message: ClaimedMessage, now: float, reason: str) -> None:
        ctx = self.ctx

        def done(_r: Any, error: BaseException | None) -> None:
            if error is None:
                ctx.publish_final(
                    message.id,
                    MessageState.FAILED,
                    ctx.clock.now(),
                    reason=reason,
                    parts=message.parts_total,
                    attempts=message.attempt,
                    by_receipt=False,
                    client_ref=message.client_ref,
                )

        ctx.tasks.spawn(
            ctx.store.finalise(message.id, MessageState.FAILED, now, error=reason),
            done,
            what="finalise",
        )

    # -- maintenance --------------------------------------------------------------------------

    async def _maintenance_loop(self) -> None:
        interval = self.config.dispatch.maintenance_interval
        while True:
            await asyncio.sleep(interval)
            try:
                await self.maintain()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("smsh.gateway.maintenance_failed")

    async def maintain(self) -> None:
        """One maintenance pass (also called by the periodic task)."""
        now = self.clock.now()
        store = self.store.aio
        for message_id in await store.expire_overdue(now):
            self.ctx.publish_final(
                message_id,
                MessageState.EXPIRED,
                now,
                reason="validity deadline passed before sending",
                parts=1,
                attempts=0,
                by_receipt=False,
            )
        timeout = self.config.receipts.receipt_timeout
        if timeout is not None:
            for message_id in await store.time_out_receipts(now, timeout):
                self.ctx.publish_final(
                    message_id,
                    MessageState.UNKNOWN,
                    now,
                    reason=f"no final receipt within {timeout:g} s",
                    parts=1,
                    attempts=1,
                    by_receipt=False,
                )
        unmatched = await store.sweep_pending(now, self.config.receipts.pending_expiry)
        for smsc_id, stat, err in unmatched:
            self.events.publish_nowait(
                ReceiptReceived(at=now, smsc_message_id=smsc_id, stat=stat[:16], err=err or "000")
            )
        swept = len(unmatched)
        if swept:
            self.unmatched_receipts += swept
            self.events.publish_nowait(
                Alert(
                    at=now,
                    alert_kind="unmatched_receipt",
                    severity="warning",
                    detail=f"{swept} receipt(s) matched no submitted part within "
                    f"{self.config.receipts.pending_expiry:g} s",
                )
            )
        await self.mo.expire()
        counts = await store.counts()
        self.metrics.record_queues(
            queued=counts.get(MessageState.QUEUED, 0),
            in_flight=sum(b.window.outstanding for b in self._binds.values()),
            awaiting_receipt=counts.get(MessageState.SUBMITTED, 0),
            retrying=0,
            scheduled=counts.get(MessageState.SCHEDULED, 0),
            now=now,
        )
        for b in self._binds.values():
            self.metrics.record_window(b.name, b.window.outstanding, b.window.size, now=now)
        snapshot = self.metrics.snapshot(now)
        if snapshot is not None:
            self.events.publish_nowait(snapshot)
        self._wake.set()
