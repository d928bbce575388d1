"""The ESME shell: one `aiosmpplib.ESME` per bind, driven by our extension points.

Rule 1: the durable truth is the store (`gateway.store`); this module keeps in memory only
what is on its way: parts queued for a bind, the bind's window, its throttle backlog, and the
sequence number -> part map of requests awaiting a response.
Rule 2: decisions are the policies' (`gateway.policy`): window, token buckets, throttle pause,
retry table. This module feeds them facts with `now` and acts on their answers.

Theory of operation
-------------------
A `Bind` owns one `GatewayEsme` (an `aiosmpplib.ESME` subclass) and the objects aiosmpplib
calls at its extension points:

* `StoreBroker` (AbstractBroker): the dispatcher (`gateway.gateway`) claims messages from the
  store, plans them and hands the bind a `Ticket` per part. `dequeue` blocks until the bind is
  up, its `Window` has room, its `ThrottleState` is not paused and the next part's rate-limit
  tokens are available; only then does it pick the part (the throttle backlog first, in send
  order, then fresh parts) and return it. aiosmpplib has no window: the broker reserves a slot,
  `GatewayHook.sending` fills it with the sequence number, and the slot is freed when the
  response is *durably recorded* (or timed out, or the link dropped).
* `PartRateLimiter` (AbstractRateLimiter): `RateLimits` counted per part (global, bind, route,
  sender). The broker checks availability and the limiter takes the tokens; nothing awaits
  between the two, so the choice of the part and its send are atomic and a throttle arriving
  meanwhile cannot reorder parts.
* `ThrottleGate` (AbstractThrottleHandler): answers aiosmpplib's "may I send" from the
  `ThrottleState`; the response handler drives the state with the throttled part itself.
* `StoreCorrelator` (AbstractCorrelator): sequence -> `Ticket` for requests in flight (memory),
  and a bounded map of timed-out requests so a late response is still recorded. SMSC id <->
  message lives in the store (`record_resp` / `record_receipt`), so receipts match after a
  restart.
* `GatewayHook` (AbstractHook): registers a part in the window and correlator as it is written,
  records responses, and publishes the bus events. On the hot path `GatewayEsme`'s own send
  and receive loops make the same bind calls directly (`Bind.on_sending`, `Bind.on_response`,
  `Bind.on_deliver`); deliver_sm (receipts, MO) reach the bind through the receive loop or
  `GatewayEsme._handle_request` (see below).
* `BackoffRetryTimer` (AbstractRetryTimer): reconnect delays from a `BackoffSchedule`.
* aiosmpplib's ``custom_codecs``: GSM 03.38 is decoded with `sms.alphabet` (`GSM_CODEC`).

Per-message bus events (`PartSubmitted`, `SubmitResponded`, `ReceiptReceived`, `MessageFinal`)
are built only when someone subscribes to their kind (`Publisher.wants`); counters and metrics
are kept either way. Bus facts besides the per-message events: a request unanswered for
``response_timeout`` is published as `SubmitTimedOut` (`Bind.check_timeouts`; parts requeued
because the link went down are not timeouts and publish none), and each bind's submit_sm writes
and throttling responses are counted per bind in the metrics (`BIND_SUBMITTED`,
`BIND_THROTTLED`) until the bind stops for good (`Bind.stop` forgets it; a reconnect does not).

Timers run on the gateway's clock (`gateway.timing`): the throttle pause, rate-limit delays and
reconnect back-off are modelled waits (clock seconds, converted to real sleeps); the response
timeout, enquire_link interval and socket timeout guard against a dead peer (clock seconds,
never less than `gateway.timing.REAL_FLOOR` real seconds).

Where aiosmpplib is subclassed (each place also says why in a comment):

* `PlannedSubmitSm(SubmitSm)`: our planner's parts go out byte for byte (UDH or SAR TLVs, or
  message_payload); aiosmpplib would re-encode and re-split a long text itself. Each part also
  carries the message's stored TLVs (vendor TLVs such as the harness's 0x1500-0x1502) as
  `RawOptionalParam(OptionalParam)`: aiosmpplib writes unknown tags as ASCII text only. It is
  built without aiosmpplib's per-field checks and its body encoded once by `gateway.pdu`
  (the same attributes and bytes as aiosmpplib's; tests/unit/gateway/test_pdu.py).
* `GatewayEsme(ESME)`: `_get_pdu` (length guard; unknown command_status values must not drop the
  session; a bind refusal without a body must be reported, not raise), `_handle_request`
  (deliver_sm: aiosmpplib's receipt parser raises on common receipt variants and would drop the
  session, it correlates in memory only, and it writes the deliver_sm_resp before anything could
  be stored; we decode with `gateway.pdu.DeliverSmDecoder` (the DeliverSm aiosmpplib's codec
  would build; anything unusual falls back to its codec), store, then acknowledge), `connect` /
  `_receive_data` (aiosmpplib has no link up/down hook; we need one to requeue what was in
  flight; `connect` also puts a `CorkedWriter` under aiosmpplib, which writes every PDU with its
  own send() system call), `_send_data` for our submit_sm and `_handle_response` for a
  submit_sm_resp to one in flight (the same steps and objects without aiosmpplib's per-PDU
  debug-log arguments, field checks and no-op correlator awaits; every other PDU is
  aiosmpplib's), `stop` (end its tasks at once instead of after 0.5 s each), `drop_connection`,
  `acknowledge` and `acknowledge_nowait` (no public way to force a reconnect or to answer a
  deliver_sm later), `_socket_operation` (TLS: aiosmpplib opens a plain TCP connection and
  takes no SSL context; the connection is upgraded with ``StreamWriter.start_tls`` before the
  bind PDU is written), `_disconnect` (a TLS stream cannot write_eof) and
  `_connection_keeper` (aiosmpplib's wakes and makes two tasks on every read pass; ours runs
  the same enquire_link guard from a timer and the time of the latest read).
* `GatewayEsme._receive_data` / `_read_loop` and `_dequeue_messages` (the per-message cost of
  the event-loop thread): aiosmpplib's receive loop reads a PDU with two awaits and passes it
  through three awaited indirections with debug-log calls; ours reads what the socket has at
  once, frames the PDUs itself and gives a submit_sm_resp to a part in flight or a deliver_sm
  the fast decoder reads straight to the bind (anything else takes aiosmpplib's steps,
  `_dispatch`). aiosmpplib's send loop awaits the throttle handler, the rate limiter and
  `_send_data` per part; ours takes a `Ticket` from the broker (`StoreBroker.take_nowait`;
  the awaiting `StoreBroker.take` only when nothing may be written now) and writes the body
  it encodes itself (`Ticket.encoded_body`: the `PlannedSubmitSm` bytes, without building
  that message unless aiosmpplib's own paths ask for it; `GatewayEsme._write_part`), checks
  the throttle and takes the tokens at the time the broker chose the part
  (`StoreBroker.handed_at`, one clock read per part), awaiting only when they say no, and
  drains the writer only when the transport holds unsent data. With
  ``testing=True`` or other extension objects both are aiosmpplib's own loops.

The hot path creates no task per PDU, and no coroutine per part that is ready to go and
needs no drain: part submits, responses, receipts and attempt endings
go to the store as callback ops (`AsyncMessageStore.*_nowait`, tracked by `TaskTracker.call`
/ `TaskTracker.track` so that a stop still waits for them), and a receipt's deliver_sm_resp
is written from its op's callback, after the COMMIT.

Durability and duplicates
-------------------------
A claim is committed before any of its parts is written. A part's window slot stays taken
until its ESME_ROK is committed, so at any instant at most `window` parts per bind have been
written without a committed response: after a crash, recovery requeues those messages and at
most ``window`` parts per bind can reach the SMSC twice. Receipts and MO are committed before
their deliver_sm_resp is written (`Bind.on_deliver` stores, then acknowledges on the same
session, while the receive loop reads on), so an acknowledged receipt is never lost; an SMSC
resends an unacknowledged one, and a duplicate receipt changes nothing.

Invariants
----------
* ``window.outstanding + reserved <= window.size``; a ticket is in exactly one of: the ready
  queue, the throttle backlog, handed to aiosmpplib, in flight, or done.
* Each `Attempt` (one claim of one message) ends with exactly one store transition: nothing
  (every part ESME_ROK: the store moved it to ``submitted``), ``requeue``, ``release`` or
  ``finalise``, once all of its tickets are resolved.
* Store operations are issued in the order the facts happened (callback ops enter the one
  writer queue when the fact is handled; MO still goes through a task; the part submits,
  responses and receipts of one loop pass each share one op, placed at the first of its kind,
  `MessageStore._queue_fact`), so a part's submit is recorded before its response, and every
  response of an attempt before the attempt's requeue. (A receipt recorded before its
  response, because the SMSC sent it first or because both came in one loop pass, is kept
  pending by the store and applied with it; its `ReceiptReceived` is published then, or as
  unmatched when the pending sweep gives up.)
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import logging
import random
import ssl
import struct
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol, TypeVar

from aiosmpplib import (
    ESME,
    AbstractBroker,
    AbstractCorrelator,
    AbstractHook,
    AbstractRateLimiter,
    AbstractRetryTimer,
    AbstractThrottleHandler,
    BindMode,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    GenericNack,
    OptionalParam,
    PduHeader,
    SmppCommand,
    SmppCommandStatus,
    SmppSessionState,
    SubmitSm,
    SubmitSmResp,
)
from aiosmpplib.protocol import MESSAGE_TYPE_MAP
from aiosmpplib.sequence import assert_valid_sequence
from aiosmpplib.state import (
    COMMAND_RESPONSE_MAP,
    RECEIPTED_MESSAGE_ID,
    SAR_MSG_REF_NUM,
    SAR_SEGMENT_SEQNUM,
    SAR_TOTAL_SEGMENTS,
)

from gateway.errors import GatewayError, IllegalTransitionError, WindowError
from gateway.pdu import (
    DeliverSmDecoder,
    data_coding_of,
    encode_submit_sm_body,
    new_optional_param,
    new_phone_number,
    planned_submit_sm_body,
    submit_sm_fields,
    valid_address,
)
from gateway.policy import (
    BackoffSchedule,
    Decision,
    Failure,
    RateLimits,
    RetryAction,
    RetryTable,
    ThrottleState,
    Window,
    keyed_rng,
)
from gateway.policy.retry import CommandStatus
from gateway.store import (
    TERMINAL_STATES,
    AsyncMessageStore,
    ClaimedMessage,
    MessageState,
    ReceiptOutcome,
    ReceiptStatus,
)
from gateway.timing import guard_clock, guard_real, to_real
from sms.alphabet import ESC, Encoding, decode_gsm7, encode_gsm7
from sms.bus import (
    Alert,
    BindStateChanged,
    MessageFinal,
    MetricsAggregator,
    PartSubmitted,
    Publisher,
    ReceiptReceived,
    SubmitResponded,
    Throttled,
)
from sms.bus.events import BindState, FinalState, SubmitTimedOut
from sms.bus.metrics import BIND_SUBMITTED, BIND_THROTTLED, LogHistogram
from sms.clock import Clock
from sms.errors import SmsError
from sms.numbers import SmppAddress
from sms.receipt import MessageState as ReceiptState
from sms.receipt import ReceiptParseError, receipt_fields, stat_for_state
from sms.segments import Plan

__all__ = [
    "Attempt",
    "BackoffRetryTimer",
    "Bind",
    "GatewayContext",
    "GatewayEsme",
    "GatewayHook",
    "GatewayStats",
    "LinkDown",
    "PartRateLimiter",
    "PlannedSubmitSm",
    "ReceiptInbound",
    "StoreBroker",
    "StoreCorrelator",
    "TaskTracker",
    "ThrottleGate",
    "Ticket",
    "TicketState",
    "build_attempt",
    "final_state_for",
]

if TYPE_CHECKING:
    from typing_extensions import Buffer

    from gateway.config import BindTlsConfig

log = logging.getLogger("smsh.gateway.esme")

_HEADER: Final = struct.Struct(">IIII")
#: Largest PDU read (message_payload may carry 64 KiB).
MAX_PDU: Final[int] = 70_000
SUBMIT_SM_RESP: Final[int] = 0x80000004
DELIVER_SM: Final[int] = 0x00000005
DELIVER_SM_RESP: Final[int] = 0x80000005
#: A deliver_sm_resp: header and an empty message_id (its NUL).
_DELIVER_SM_RESP: Final = struct.Struct(">IIIIx")
_THROTTLING: Final = (SmppCommandStatus.ESME_RTHROTTLED, SmppCommandStatus.ESME_RMSGQFUL)
#: The same statuses as plain integers (the receive loop compares the raw header field).
_THROTTLING_STATUS: Final[frozenset[int]] = frozenset(int(s) for s in _THROTTLING)
#: Octets asked of the socket per read in the receive loop (a burst of PDUs at once).
READ_SIZE: Final[int] = 64 * 1024
GENERIC_NACK: Final[int] = 0x80000000
TAG_MESSAGE_STATE: Final[int] = 0x0427
#: bind_receiver_resp, bind_transmitter_resp, bind_transceiver_resp.
_BIND_RESPONSES: Final[frozenset[int]] = frozenset({0x80000001, 0x80000002, 0x80000009})
#: aiosmpplib codec names for our encodings (their data_coding values match SMPP 3.4 §5.2.19).
_CODEC_NAME: Final[dict[Encoding, str]] = {
    Encoding.GSM7: "gsm0338",
    Encoding.UCS2: "ucs2",
    Encoding.LATIN1: "latin_1",
    Encoding.BINARY: "octet_unspecified_II",
}
#: Latency series in the metrics (`GatewayStats.resp_latency` / `receipt_latency` read them).
LATENCY_SUBMIT_TO_RESP: Final[str] = "submit_to_resp"
LATENCY_SUBMIT_TO_RECEIPT: Final[str] = "submit_to_receipt"
#: Timed-out requests remembered so that a late response is still recorded.
LATE_CAPACITY: Final[int] = 10_000
#: Part send times remembered for the submit -> receipt latency.
SENT_AT_CAPACITY: Final[int] = 200_000

T = TypeVar("T")


@functools.lru_cache(maxsize=256)
def _validity(deadline: float) -> datetime:
    # The messages of one accept share their deadline: one datetime (immutable) for them all.
    return datetime.fromtimestamp(deadline, UTC)


def _kind(event: type[Any]) -> str:
    kind: str = event.model_fields["kind"].default
    return kind


# Hot-path events are built only when someone subscribes to their kind (`Publisher.wants`).
KIND_PART_SUBMITTED: Final = _kind(PartSubmitted)
KIND_SUBMIT_RESPONDED: Final = _kind(SubmitResponded)
KIND_RECEIPT_RECEIVED: Final = _kind(ReceiptReceived)
KIND_MESSAGE_FINAL: Final = _kind(MessageFinal)


# --------------------------------------------------------------------------------------------
# Tickets and attempts


class TicketState(Enum):
    """Where a part is."""

    QUEUED = "queued"
    """In the bind's ready queue or throttle backlog."""
    HANDED = "handed"
    """Returned by `StoreBroker.dequeue`, not yet written."""
    IN_FLIGHT = "in_flight"
    """Written; waiting for its response."""
    DONE = "done"
    """Resolved (answered, failed, timed out, or abandoned with its link)."""


@dataclass(slots=True, eq=False)
class Attempt:
    """One claim of one message: its parts go out on one bind."""

    message_id: int
    """Store id."""
    attempt: int
    """The store's attempt number (1 for the first claim)."""
    parts_total: int
    """Parts of the message."""
    deadline: float | None
    """Validity deadline."""
    client_ref: str | None
    """Submitter reference."""
    outstanding: int = 0
    """Tickets of this attempt not yet resolved."""
    sent_any: bool = False
    """A part was written in this attempt (release is no longer allowed)."""
    failure: Decision | None = None
    """The decision that ends the attempt unsuccessfully (no further parts are sent)."""
    abandoned: bool = False
    """The link went away (or the gateway stops): remaining parts are not sent."""

    def fail(self, decision: Decision) -> None:
        """Record a failed part. A permanent failure wins over a retry; of two retries the
        later retry time wins."""
        current = self.failure
        if current is None or decision.action is RetryAction.PERMANENT_FAIL:
            if current is None or current.action is not RetryAction.PERMANENT_FAIL:
                self.failure = decision
            return
        if current.action is RetryAction.PERMANENT_FAIL:
            return
        if (decision.retry_at or 0.0) > (current.retry_at or 0.0):
            self.failure = decision

    @property
    def stopped(self) -> bool:
        """No more parts of this attempt may be written."""
        return self.failure is not None or self.abandoned


@dataclass(slots=True, eq=False)
class Ticket:
    """One submit_sm to write: a part of a message, ready to go."""

    attempt: Attempt
    """The attempt it belongs to."""
    part: int
    """Part number (1-based)."""
    total: int
    """Parts of the message."""
    source: SmppAddress
    """source_addr."""
    destination: SmppAddress
    """destination_addr."""
    user_data: bytes
    """short_message octets (UDH included), or the message_payload value."""
    as_payload: bool
    """Send `user_data` in message_payload instead of short_message."""
    encoding: Encoding
    """Encoding of the user data (decides data_coding)."""
    esm_class: int
    """esm_class (0x40 when the user data starts with a UDH)."""
    sar: tuple[int, int, int] | None
    """(reference, total, seq) for the sar_* TLVs."""
    registered_delivery: int
    """registered_delivery."""
    priority: int
    """priority_flag (0-3)."""
    route: str
    """Route name (for the rate limits)."""
    sender: str
    """Sender ID (for the rate limits)."""
    tlvs: tuple[tuple[int, bytes], ...] = ()
    """Extra optional parameters of the message (sent on every part)."""
    order: int = 0
    """Send order on its bind (assigned when first taken from the ready queue)."""
    throttles: int = 0
    """ESME_RTHROTTLED answers this part got."""
    sequence: int = 0
    """SMPP sequence number of its latest write."""
    sent_at: float = 0.0
    """`now` of its latest write."""
    state: TicketState = TicketState.QUEUED
    """Where it is."""
    pdu: PlannedSubmitSm | None = None
    """The aiosmpplib message (built when aiosmpplib's own loops send it, or asks for it)."""
    body: bytes | None = None
    """The submit_sm body octets (encoded on first send by `GatewayEsme`'s send loop, reused
    for resends)."""

    @property
    def message_id(self) -> int:
        """Store id of its message."""
        return self.attempt.message_id

    def submit_sm(self) -> PlannedSubmitSm:
        """The aiosmpplib message for this part (built once, reused for resends)."""
        if self.pdu is None:
            self.pdu = PlannedSubmitSm.for_ticket(self)
            self.pdu.sequence_num = self.sequence
        return self.pdu

    def encoded_body(self) -> bytes:
        """The submit_sm body, encoded once: the octets ``submit_sm().pdu()`` writes after
        its header, without building the aiosmpplib message (tests/unit/gateway/
        test_pdu_ticket.py compares both).

        Raises:
            ValueError: A field aiosmpplib refuses (an address over 20 characters, an unknown
                TON/NPI, a non-ASCII address), with aiosmpplib's message.
        """
        body = self.body
        if body is None:
            body = self.body = _ticket_body(self)
        return body


#: The leading fields of `Ticket`, in the order `build_attempt` passes them.
_TICKET_ARGS: Final = (
    "attempt",
    "part",
    "total",
    "source",
    "destination",
    "user_data",
    "as_payload",
    "encoding",
    "esm_class",
    "sar",
    "registered_delivery",
    "priority",
    "route",
    "sender",
    "tlvs",
)
assert tuple(f.name for f in fields(Ticket))[: len(_TICKET_ARGS)] == _TICKET_ARGS
#: The leading fields of `Attempt`, in the order `build_attempt` passes them.
_ATTEMPT_ARGS: Final = ("message_id", "attempt", "parts_total", "deadline", "client_ref")
assert tuple(f.name for f in fields(Attempt))[: len(_ATTEMPT_ARGS)] == _ATTEMPT_ARGS


def build_attempt(
    claimed: ClaimedMessage,
    plan: Plan,
    *,
    route: str,
    destination: SmppAddress,
    source: SmppAddress,
    registered_delivery: bool,
) -> tuple[Attempt, list[Ticket]]:
    """The attempt and its tickets for a claimed message (pure).

    Args:
        claimed: The claimed message (its `pending_parts` are the parts to send).
        plan: Its plan; must have `claimed.parts_total` parts.
        route: Route name.
        destination: Destination SMPP address.
        source: Source SMPP address (the message's sender).
        registered_delivery: Ask for receipts.

    Returns:
        The attempt and one ticket per pending part, in part order.

    Raises:
        GatewayError: The plan does not have the stored number of parts.
    """
    if len(plan.parts) != claimed.parts_total:
        raise GatewayError(
            f"message {claimed.id}: planned {len(plan.parts)} parts, stored {claimed.parts_total}"
        )
    attempt = Attempt(  # positional, in _ATTEMPT_ARGS order (half the cost of keywords)
        claimed.id,
        claimed.attempt,
        claimed.parts_total,
        claimed.validity_deadline,
        claimed.client_ref,
    )
    tickets: list[Ticket] = []
    priority = max(0, min(3, claimed.priority))
    for seq in claimed.pending_parts:
        part = plan.parts[seq - 1]
        payload = part.message_payload
        sar = part.sar
        tickets.append(
            Ticket(  # positional, in _TICKET_ARGS order (half the cost of keywords)
                attempt,
                seq,
                claimed.parts_total,
                source,
                destination,
                payload if payload is not None else part.short_message,
                payload is not None,
                part.encoding,
                plan.esm_class,
                (sar.reference, sar.total, sar.seq) if sar is not None else None,
                1 if registered_delivery else 0,
                priority,
                route,
                claimed.source,
                claimed.tlvs,
            )
        )
    attempt.outstanding = len(tickets)
    return attempt, tickets


#: Source addresses built as aiosmpplib PhoneNumbers, kept (a load or campaign uses a few
#: senders for many parts); cleared when it reaches this size.
_SOURCE_CACHE: Final[int] = 1024
_source_numbers: dict[SmppAddress, Any] = {}


def _source_number(source: SmppAddress) -> Any:
    # Shared between PDUs: aiosmpplib only reads a message's addresses.
    number = _source_numbers.get(source)
    if number is None:
        number = new_phone_number(source.addr, source.ton, source.npi)
        if len(_source_numbers) >= _SOURCE_CACHE:
            _source_numbers.clear()
        _source_numbers[source] = number
    return number


_SAR_TAGS: Final = (SAR_MSG_REF_NUM, SAR_TOTAL_SEGMENTS, SAR_SEGMENT_SEQNUM)
#: data_coding of each encoding (what aiosmpplib writes for `_CODEC_NAME`).
_TICKET_DATA_CODING: Final[dict[Encoding, int]] = {
    encoding: data_coding_of(name) for encoding, name in _CODEC_NAME.items()
}


def _ticket_body(ticket: Ticket) -> bytes:
    """`PlannedSubmitSm.for_ticket(ticket).pdu()` without its header, from the ticket."""
    source = ticket.source
    destination = ticket.destination
    for address in (source, destination):
        if not valid_address(address.addr, address.ton, address.npi):
            new_phone_number(address.addr, address.ton, address.npi)  # raises its ValueError
    tlvs = b""
    if ticket.sar is not None or ticket.tlvs:
        # The same optional parameter objects `for_ticket` builds, encoded the same way.
        params = _ticket_params(ticket)
        if ticket.esm_class & 0x40:  # a UDH carries the concatenation: no sar_* TLVs
            params = [p for p in params if p.tag not in _SAR_TAGS]
        tlvs = b"".join(p.tlv for p in params)
    deadline = ticket.attempt.deadline
    return planned_submit_sm_body(
        source=source,
        destination=destination,
        esm_class=ticket.esm_class,
        priority_flag=ticket.priority,
        registered_delivery=ticket.registered_delivery,
        data_coding=_TICKET_DATA_CODING[ticket.encoding],
        validity_period=_validity(deadline) if deadline else None,
        octets=ticket.user_data,
        as_payload=ticket.as_payload,
        tlvs=tlvs,
    )


def _ticket_params(ticket: Ticket) -> list[Any]:
    """The optional parameters of a part: its SAR TLVs, then the message's TLVs."""
    params: list[Any] = []
    if ticket.sar is not None:
        ref, total, seq = ticket.sar
        params = [
            new_optional_param(SAR_MSG_REF_NUM, ref),
            new_optional_param(SAR_TOTAL_SEGMENTS, total),
            new_optional_param(SAR_SEGMENT_SEQNUM, seq),
        ]
    params.extend(RawOptionalParam(tag, value) for tag, value in ticket.tlvs)
    return params


# aiosmpplib ships no type information: its classes are `Any` to mypy, hence the ignores.
class RawOptionalParam(OptionalParam):  # type: ignore[misc]
    """An optional parameter whose value octets are given as they go on the wire.

    Why a subclass: aiosmpplib types every tag it does not know as an ASCII string and encodes
    it with ``str.encode('ascii')``, so a vendor TLV with UTF-8 text (an owner's name) or binary
    octets could not be sent. This one writes ``tag, len(value), value`` (SMPP 3.4 §3.2.6.3).

    Args:
        tag: The 2-octet tag.
        value: The value octets.
    """

    def __init__(self, tag: int, value: bytes) -> None:
        # Not super().__init__: its type check would refuse bytes (and bytes for int tags).
        self.tag = tag
        self.value = value.hex()
        self.raw = value

    @property
    def length(self) -> int:
        """Length of the value in octets."""
        return len(self.raw)

    @property
    def tlv(self) -> bytes:
        """The encoded TLV."""
        return struct.pack("!HH", self.tag, len(self.raw)) + self.raw


class PlannedSubmitSm(SubmitSm):  # type: ignore[misc]
    """A submit_sm whose user data was encoded and split by `sms.segments.plan`.

    Why a subclass: aiosmpplib encodes `short_message` itself and, for a long text, splits it
    again with its own UDH/SAR numbering (ESME._dequeue_messages). We keep
    ``auto_message_payload`` on (so it never splits) and override `smpp_encode`, its codec
    step, to return our planned octets; `pdu()` then writes them in short_message, or in the
    message_payload TLV when the plan says PAYLOAD. data_coding follows `encoding`.
    """

    ticket: Ticket
    """The part this PDU carries."""
    _body: bytes | None
    """The encoded body (after the first `pdu` call)."""

    @classmethod
    def for_ticket(cls, ticket: Ticket) -> PlannedSubmitSm:
        """Build the aiosmpplib message for a ticket.

        Why not ``cls(...)``: aiosmpplib's ``__post_init__`` type-checks every field (about 30
        `check_param` calls per part with its addresses); our planner's fields are already
        valid, so the message is built with ``__new__`` and the same attributes
        (`gateway.pdu.submit_sm_fields`; tests/unit/gateway/test_pdu.py compares both ways).
        """
        params = _ticket_params(ticket)
        deadline = ticket.attempt.deadline
        source = ticket.source
        destination = ticket.destination
        msg: PlannedSubmitSm = cls.__new__(cls)
        msg.__dict__.update(
            submit_sm_fields(
                # Placeholders: the octets come from `smpp_encode` below.
                short_message="" if ticket.as_payload else "-",
                message_payload="-" if ticket.as_payload else "",
                source=_source_number(source),
                destination=new_phone_number(destination.addr, destination.ton, destination.npi),
                esm_class=ticket.esm_class,
                priority_flag=ticket.priority,
                registered_delivery=ticket.registered_delivery,
                encoding=_CODEC_NAME[ticket.encoding],
                optional_params=params,
                validity_period=_validity(deadline) if deadline else None,
                log_id=f"{ticket.message_id}:{ticket.part}",
            )
        )
        msg.ticket = ticket
        msg._body = None
        return msg

    def smpp_encode(self, text: str) -> bytes:
        """Return the planned octets (aiosmpplib's codec step)."""
        return self.ticket.user_data

    def pdu(self) -> bytes:
        """The PDU with the current sequence number; the body is encoded once per part
        (`gateway.pdu.encode_submit_sm_body`: the bytes ``SubmitSm.pdu`` writes)."""
        body: bytes | None = self._body
        if body is None:
            body = self._body = encode_submit_sm_body(self, self.ticket.user_data)
        return _HEADER.pack(16 + len(body), 0x00000004, 0, self.sequence_num) + body


# --------------------------------------------------------------------------------------------
# Shared services


class MoSink(Protocol):
    """Receives mobile-originated deliver_sm (see `gateway.mo.MoInbound`)."""

    async def handle(self, message: Any, pdu: bytes, bind: str) -> None:
        """Store (durably) and publish one received MO part."""
        ...


class TaskTracker:
    """Fire-and-forget store operations, tracked so none is lost and no error is silent."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._calls = 0
        self._trackers: dict[str, Callable[[Any, BaseException | None], None]] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self.failed = 0
        """Operations that raised something other than an expected transition error."""

    def spawn(
        self,
        coro: Coroutine[Any, Any, T],
        on_done: Callable[[T | None, BaseException | None], None] | None = None,
        *,
        what: str = "store operation",
    ) -> asyncio.Task[T]:
        """Run `coro` as a task; `on_done(result, error)` runs when it ends.

        Tasks start in creation order, so store operations enter the writer's queue in the
        order they were spawned.
        """
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[T]) -> None:
            self._tasks.discard(t)
            if t.cancelled():
                error: BaseException | None = asyncio.CancelledError()
                result = None
            else:
                error = t.exception()
                result = None if error is not None else t.result()
            if error is not None and not isinstance(
                error, IllegalTransitionError | asyncio.CancelledError
            ):
                self.failed += 1
                log.error("smsh.gateway.op_failed", extra={"what": what}, exc_info=error)
            if on_done is not None:
                try:
                    on_done(result, error)
                except Exception:
                    log.exception("smsh.gateway.op_callback_failed", extra={"what": what})

        task.add_done_callback(done)
        return task

    def call(
        self,
        start: Callable[[Callable[[Any, BaseException | None], None]], None],
        on_done: Callable[[Any, BaseException | None], None] | None = None,
        *,
        what: str = "store operation",
    ) -> None:
        """Start a callback operation (a store ``*_nowait`` op): no task, no future.

        ``start(done)`` must queue the operation and arrange for ``done(result, error)`` to
        be called once when it ends; `on_done` then runs with the same error handling as
        `spawn`. An exception raised by `start` itself ends the operation at once.
        """
        if not self._calls:  # _idle is set exactly while no callback op is pending
            self._idle.clear()
        self._calls += 1

        def done(result: Any, error: BaseException | None) -> None:
            self._ended(what, error)
            if on_done is not None:
                try:
                    on_done(result, error)
                except Exception:
                    log.exception("smsh.gateway.op_callback_failed", extra={"what": what})

        try:
            start(done)
        except Exception as exc:
            done(None, exc)

    def calling(
        self, on_done: Callable[[Any, BaseException | None], None], *, what: str
    ) -> Callable[[Any, BaseException | None], None]:
        """Count one callback operation and return its ``done(result, error)`` callback, which
        ends it and then calls `on_done` (`call` without the start function: the caller
        queues the operation with this callback, and calls it itself, once, if queueing
        raises). Errors are handled as in `call`."""
        if not self._calls:  # _idle is set exactly while no callback op is pending
            self._idle.clear()
        self._calls += 1

        def done(result: Any, error: BaseException | None) -> None:
            # `_ended`, inlined (once per message for responses and receipts)
            self._calls -= 1
            if not self._calls:
                self._idle.set()
            if error is not None:
                self._failed(what, error)
            try:
                on_done(result, error)
            except Exception:
                log.exception("smsh.gateway.op_callback_failed", extra={"what": what})

        return done

    def track(self, what: str) -> Callable[[Any, BaseException | None], None]:
        """Count one callback operation whose result nobody needs (the cheap form of `call`).

        Returns:
            The callback that ends it (one shared function per `what`); it handles an error
            like `call`. The caller must make sure it is called once, also when starting the
            operation raises.
        """
        if not self._calls:  # _idle is set exactly while no callback op is pending
            self._idle.clear()
        self._calls += 1
        done = self._trackers.get(what)
        if done is None:

            def done(_result: Any, error: BaseException | None) -> None:
                # `_ended`, inlined (once per part written)
                self._calls -= 1
                if not self._calls:
                    self._idle.set()
                if error is not None:
                    self._failed(what, error)

            self._trackers[what] = done
        return done

    def _ended(self, what: str, error: BaseException | None) -> None:
        self._calls -= 1
        if self._calls == 0:
            self._idle.set()
        if error is not None:
            self._failed(what, error)

    def _failed(self, what: str, error: BaseException) -> None:
        if not isinstance(error, IllegalTransitionError):
            self.failed += 1
            log.error("smsh.gateway.op_failed", extra={"what": what}, exc_info=error)

    @property
    def pending(self) -> int:
        """Operations not finished."""
        return len(self._tasks) + self._calls

    async def join(self) -> None:
        """Wait until every operation spawned so far (and those they spawn) has ended."""
        while self._tasks or self._calls:
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            else:
                await self._idle.wait()


class GatewayStats:
    """Counters and latency histograms of one gateway (also fed to the metrics aggregator).

    Args:
        metrics: Aggregator that turns them into one `MetricsSnapshot` per interval.
    """

    def __init__(self, metrics: MetricsAggregator) -> None:
        self.metrics = metrics
        self.parts_sent = 0
        """submit_sm written (resends included)."""
        self.responses = 0
        """Responses matched to a part."""
        self.resp_ok = 0
        """ESME_ROK responses."""
        self.errors: Counter[str] = Counter()
        """Error responses and other failures by code (``0x00000058``, ``timeout``...)."""
        self.unmatched_responses = 0
        """Responses whose sequence number matched nothing (SMPP-ERRORS.md row 22)."""
        self.throttled = 0
        """ESME_RTHROTTLED responses."""
        self.timeouts = 0
        """Requests without a response within the response timer."""
        self.reconnects = 0
        """Binds that came up again after a loss."""
        self.receipts = 0
        """Receipts received (duplicates included)."""
        self.receipt_status: Counter[str] = Counter()
        """Receipts by store outcome (matched, pending, duplicate, unreadable)."""
        self.receipts_late_matched = 0
        """Pending receipts applied when their response arrived."""
        self.mo = 0
        """MO messages stored (after reassembly)."""
        self.finals: Counter[str] = Counter()
        """Messages that reached a terminal state here, by state."""
        self.first_sent_at: float | None = None
        """Clock time of the first submit_sm."""
        self.last_resp_at: float | None = None
        """Clock time of the latest ESME_ROK."""
        self.first_receipt_at: float | None = None
        """Clock time of the first receipt."""
        self.last_receipt_at: float | None = None
        """Clock time of the latest receipt."""
        self._sent_at: dict[tuple[int, int], float] = {}
        self._meta: dict[int, tuple[int, int, str | None]] = {}

    @property
    def resp_latency(self) -> LogHistogram:
        """submit_sm written -> response read, ms (every sample: the metrics' total)."""
        return self.metrics.latency_total(LATENCY_SUBMIT_TO_RESP)

    @property
    def receipt_latency(self) -> LogHistogram:
        """submit_sm written -> receipt read, ms (for the write that was accepted)."""
        return self.metrics.latency_total(LATENCY_SUBMIT_TO_RECEIPT)

    def remember(self, attempt: Attempt) -> None:
        """Keep (parts, attempt, client_ref) of a message for its `MessageFinal` (bounded)."""
        meta = self._meta
        meta[attempt.message_id] = (attempt.parts_total, attempt.attempt, attempt.client_ref)
        if len(meta) > SENT_AT_CAPACITY:
            del meta[next(iter(meta))]

    def meta(self, message_id: int) -> tuple[int, int, str | None]:
        """(parts, attempts, client_ref) remembered for a message, or (1, 0, None)."""
        return self._meta.pop(message_id, (1, 0, None))

    def part_accepted(self, message_id: int, part: int, sent_at: float) -> None:
        """Remember when an accepted part was written (bounded)."""
        sent = self._sent_at
        sent[(message_id, part)] = sent_at
        if len(sent) > SENT_AT_CAPACITY:
            del sent[next(iter(sent))]

    def receipt_matched(self, message_id: int, part: int, now: float) -> None:
        """Record the submit -> receipt latency of a matched receipt."""
        sent_at = self._sent_at.pop((message_id, part), None)
        if sent_at is not None:
            ms = (now - sent_at) * 1000.0
            if not ms > 0.0:  # clock stepped back (or NaN): as max(0.0, ms)
                ms = 0.0
            self.metrics.record_latency(LATENCY_SUBMIT_TO_RECEIPT, ms, now=now)

    def error(self, code: str, now: float) -> None:
        """Count a failure by code."""
        self.errors[code] += 1
        self.metrics.record_error(code, now=now)


def status_code(status: int) -> str:
    """A command_status as the error key used in stats (``0x00000058``)."""
    return f"0x{status:08X}"


def status_name(status: int) -> str:
    """A command_status by name when known (``ESME_RTHROTTLED``), else hex."""
    try:
        return CommandStatus(status).name
    except ValueError:
        return status_code(status)


_FINAL_STATE: Final[dict[MessageState, FinalState]] = {
    MessageState.DELIVERED: "delivered",
    MessageState.EXPIRED: "expired",
    MessageState.CANCELLED: "cancelled",
    MessageState.PARTIALLY_DELIVERED: "undeliverable",
    MessageState.FAILED: "failed",
    MessageState.REJECTED: "rejected",
    MessageState.UNKNOWN: "unknown",
}


#: A state's value and its metrics counter name (``final_delivered``), without the enum
#: ``value`` property on the hot path.
_FINAL_NAMES: Final[dict[MessageState, tuple[str, str]]] = {
    state: (state.value, f"final_{state.value}") for state in MessageState
}
_RECEIPT_STATUS_VALUE: Final[dict[ReceiptStatus, str]] = {s: s.value for s in ReceiptStatus}


def final_state_for(state: MessageState, *, by_receipt: bool, rejected: bool = False) -> FinalState:
    """The bus `FinalState` of a terminal store state.

    ``rejected`` comes from the store state `MessageState.REJECTED` (every part's receipt was
    REJECTD) or from a permanent submit error (`rejected`); other failed receipts are
    ``undeliverable``.

    Args:
        state: The terminal store state.
        by_receipt: The state came from receipts (a failed one is ``undeliverable``).
        rejected: The SMSC refused the submit permanently (a failed one is ``rejected``).
    """
    if state is MessageState.FAILED:
        if by_receipt:
            return "undeliverable"
        if rejected:
            return "rejected"
    return _FINAL_STATE.get(state, "unknown")


@dataclass(slots=True)
class GatewayContext:
    """What every bind shares with the gateway."""

    instance: str
    """Gateway instance id."""
    store: AsyncMessageStore
    """The store (asyncio view)."""
    clock: Clock
    """Time source."""
    events: Publisher
    """Bus publisher of this gateway instance."""
    stats: GatewayStats
    """Counters."""
    retry: RetryTable
    """Retry classification."""
    limits: RateLimits
    """Token buckets (shared by all binds)."""
    throttle_backoff: BackoffSchedule
    """Throttle pause schedule."""
    seed: int
    """Seed for jitter."""
    tasks: TaskTracker
    """Fire-and-forget store operations."""
    mo: MoSink
    """MO handler."""
    receipts: ReceiptInbound
    """Receipt handler."""
    wake_dispatcher: Callable[[], None] = lambda: None
    """Called when a bind gains room or comes up, and when messages are requeued for now."""

    def publish_final(
        self,
        message_id: int,
        state: MessageState,
        now: float,
        *,
        reason: str | None,
        parts: int,
        attempts: int,
        by_receipt: bool,
        rejected: bool = False,
        client_ref: str | None = None,
    ) -> None:
        """Publish `MessageFinal` and count it."""
        value, counter = _FINAL_NAMES[state]
        self.stats.finals[value] += 1
        self.stats.metrics.record_count(counter, now=now)
        if not self.events.wants(KIND_MESSAGE_FINAL):
            return
        self.events.publish_nowait(
            MessageFinal(
                at=now,
                message_id=str(message_id),
                message_key=client_ref,
                state=final_state_for(state, by_receipt=by_receipt, rejected=rejected),
                reason=reason,
                parts=max(1, min(255, parts)),
                attempts=attempts,
            )
        )


# --------------------------------------------------------------------------------------------
# aiosmpplib extension points


class PartRateLimiter(AbstractRateLimiter):  # type: ignore[misc]
    """Per-part token buckets (global, bind, route, sender) at aiosmpplib's rate-limit step.

    The broker calls `delay` for the part it is about to hand out and `announce`s it; aiosmpplib
    then calls `limit`, which takes the tokens. No await separates the two, so the tokens are
    there (the fallback loop below only runs if that contract is broken).

    Args:
        limits: The shared buckets.
        bind: This bind's name.
        clock: Time source.
    """

    def __init__(self, limits: RateLimits, bind: str, clock: Clock) -> None:
        self.limits = limits
        self.bind = bind
        self.clock = clock
        self._next: Ticket | None = None
        self.waited = 0
        """Times `limit` had to wait (should stay 0)."""

    def delay(self, ticket: Ticket, now: float) -> float:
        """Seconds until `ticket` may be sent as far as the rate limits go."""
        return self.limits.delay_until_available(
            1, now, bind=self.bind, route=ticket.route, sender=ticket.sender
        )

    def announce(self, ticket: Ticket) -> None:
        """Name the part the next `limit` call is for."""
        self._next = ticket

    def take(self, now: float) -> bool:
        """Take the announced part's tokens at `now` without waiting (`limit` without the
        await). Returns False, and keeps the announcement, when they are not there: then
        `limit` must be awaited."""
        ticket = self._next
        if ticket is None:
            return True
        if self.limits.try_take(1, now, bind=self.bind, route=ticket.route, sender=ticket.sender):
            self._next = None
            return True
        return False

    async def limit(self) -> None:
        """Take one token on every bucket of the announced part's path."""
        ticket, self._next = self._next, None
        if ticket is None:
            return
        while not self.limits.try_take(
            1, self.clock.now(), bind=self.bind, route=ticket.route, sender=ticket.sender
        ):
            self.waited += 1
            wait = self.delay(ticket, self.clock.now())
            # Modelled wait (gateway.timing): clock seconds.
            await asyncio.sleep(min(max(to_real(self.clock, wait), 0.001), 1.0))


class ThrottleGate(AbstractThrottleHandler):  # type: ignore[misc]
    """aiosmpplib's throttle handler, answered from our `ThrottleState`.

    aiosmpplib reports throttles without saying which request was throttled; the response
    handler (`Bind`) drives the state with the part itself, so these calls only count.
    """

    def __init__(self, state: ThrottleState[Ticket], clock: Clock) -> None:
        self.state = state
        self.clock = clock
        self.throttled_responses = 0
        """ESME_RTHROTTLED / ESME_RMSGQFUL responses aiosmpplib saw."""
        self.other_responses = 0
        """Other submit_sm responses aiosmpplib saw."""

    def count(self, throttled: bool) -> None:
        """Count one submit_sm response (what `throttled` / `not_throttled` do, without the
        await: the receive loop's fast path calls this)."""
        if throttled:
            self.throttled_responses += 1
        else:
            self.other_responses += 1

    async def throttled(self) -> None:
        self.throttled_responses += 1

    async def not_throttled(self) -> None:
        self.other_responses += 1

    async def allow_request(self) -> bool:
        return not self.state.is_paused(self.clock.now())

    async def throttle_delay(self) -> float:
        # Modelled wait (gateway.timing): the pause is clock time; aiosmpplib sleeps real time.
        return max(to_real(self.clock, self.state.resume_in(self.clock.now())), 0.001)


class BackoffRetryTimer(AbstractRetryTimer):  # type: ignore[misc]
    """Reconnect delays from a `BackoffSchedule` with seeded jitter.

    Args:
        schedule: Delay per consecutive failed (re)connect (clock seconds).
        rng: Seeded random source for the jitter.
        clock: The clock the delays run on (default: real time).
    """

    def __init__(
        self, schedule: BackoffSchedule, rng: random.Random, clock: Clock | None = None
    ) -> None:
        self.schedule = schedule
        self.rng = rng
        self.clock = clock
        self.failures = 0
        self._next = schedule.delay(1, rng)

    async def wait(self) -> None:
        delay = self._next
        self.failures += 1
        self._next = self.schedule.delay(self.failures + 1, self.rng)
        # Modelled wait (gateway.timing): the reconnect delay is clock time.
        await asyncio.sleep(delay if self.clock is None else to_real(self.clock, delay))

    def reset(self) -> None:
        self.failures = 0
        self._next = self.schedule.delay(1, self.rng)

    def next_delay(self) -> float:
        return self._next


class StoreBroker(AbstractBroker):  # type: ignore[misc]
    """The bind's source of submit_sm: parts planned from the store, gated by the window,
    the throttle pause and the rate limits (see the module docstring).

    Args:
        name: Bind name.
        window: The bind's window.
        throttle: The bind's throttle state (its backlog goes before fresh parts).
        limiter: The bind's rate limiter.
        clock: Time source.
        capacity: Parts queued ahead of the window before the bind reports no room.
    """

    def __init__(
        self,
        name: str,
        window: Window,
        throttle: ThrottleState[Ticket],
        limiter: PartRateLimiter,
        clock: Clock,
        *,
        capacity: int,
    ) -> None:
        self.name = name
        self.window = window
        self.throttle = throttle
        self.limiter = limiter
        self.clock = clock
        self.capacity = capacity
        self.ready: deque[Ticket] = deque()
        """Fresh parts in claim order."""
        self.reserved = 0
        """Window slots promised to parts handed out but not yet written."""
        self.handed: Ticket | None = None
        """The part handed to aiosmpplib and not yet written."""
        self.handed_at = 0.0
        """`now` when `handed` was chosen (the send loop writes it at that time)."""
        self.open = False
        """True while parts may be handed out (link up, not stopping, can transmit)."""
        self.paused = False
        """True while an operator paused the bind (``pause_bind``): nothing new is handed out,
        parts already handed out or in flight still complete."""
        self.closed = True
        """True while there is no session: `dequeue` raises `LinkDown` so that aiosmpplib's
        sender task ends at once instead of being waited for and cancelled."""
        self.on_drop: Callable[[Ticket], None] = lambda ticket: None
        """Called for a part skipped because its attempt stopped."""
        self.on_build_error: Callable[[Ticket, Exception], None] = lambda ticket, error: None
        """Called when a part's PDU cannot be built (aiosmpplib refused a field)."""
        self.on_low: Callable[[], None] = lambda: None
        """Called when the ready queue drains to half its capacity (time to claim more)."""
        self._order = 0
        self._wait: float | None = None
        """What the last `take_nowait` that returned None would wait: clock seconds, or None
        for a kick."""
        self._kick = asyncio.Event()
        self.idle = asyncio.Event()
        """Set while nothing is in flight."""
        self.idle.set()

    # -- what the bind calls ---------------------------------------------------------------

    def kick(self) -> None:
        """Something changed (room, parts, link): re-evaluate."""
        self._kick.set()

    def push(self, tickets: Iterable[Ticket]) -> None:
        """Queue fresh parts (in order)."""
        self.ready.extend(tickets)
        self._kick.set()

    @property
    def room(self) -> int:
        """Parts the bind can still queue."""
        return max(0, self.capacity - len(self.ready))

    @property
    def queued(self) -> int:
        """Parts queued (ready queue and throttle backlog)."""
        return len(self.ready) + self.throttle.backlog

    def sent(self, ticket: Ticket, sequence: int, now: float) -> None:
        """The handed-out part is being written with `sequence`: it takes its window slot."""
        if self.handed is ticket:
            self.handed = None
            self.reserved = max(0, self.reserved - 1)
        self.idle.clear()
        try:
            if not self.window.try_acquire(sequence, now):
                log.error("smsh.gateway.window_overrun", extra={"bind": self.name, "seq": sequence})
        except WindowError:
            log.error("smsh.gateway.sequence_reused", extra={"bind": self.name, "seq": sequence})

    def unhand(self, ticket: Ticket) -> None:
        """The handed-out part will not be written (error while building it)."""
        if self.handed is ticket:
            self.handed = None
            self.reserved = max(0, self.reserved - 1)
            self._kick.set()

    def release(self, sequence: int) -> None:
        """A request's slot is free (response recorded, timed out)."""
        self.window.release(sequence)
        if self.window.outstanding == 0:
            self.idle.set()
        self._kick.set()

    def take_all(self) -> list[Ticket]:
        """Empty the queues (link down / stop): handed, backlog and ready parts, in order."""
        out: list[Ticket] = []
        if self.handed is not None:
            out.append(self.handed)
            self.handed = None
        self.reserved = 0
        if self.window.outstanding == 0:
            self.idle.set()
        out.extend(self.throttle.drain())
        out.extend(self.ready)
        self.ready.clear()
        return out

    # -- aiosmpplib --------------------------------------------------------------------------

    async def enqueue(self, message: Any) -> None:
        """Not used: messages enter through the store (`Gateway.submit`)."""
        raise GatewayError("the store broker takes messages from the store, not enqueue()")

    def _pop_fresh(self) -> Ticket | None:
        if not self.ready:
            return None
        ticket = self.ready.popleft()
        left = len(self.ready)
        if left == self.capacity // 2 or left == 0:
            self.on_low()
        self._order += 1
        ticket.order = self._order
        return ticket

    async def dequeue(self) -> PlannedSubmitSm:
        """The next part to write; blocks until it may be written (see the class docstring)."""
        ticket = await self.take(planned=True)
        assert ticket.pdu is not None
        return ticket.pdu

    async def take(self, *, planned: bool = False) -> Ticket:
        """`dequeue` for `GatewayEsme`'s own send loop: the next part, handed out, with its
        submit_sm body encoded (`Ticket.encoded_body`), or its aiosmpplib message built
        (`Ticket.submit_sm`) when `planned`. A part whose PDU cannot be built fails."""
        while True:
            self._kick.clear()
            ticket = self.take_nowait(planned=planned)
            if ticket is not None:
                return ticket
            wait = self._wait
            if wait is None:
                await self._kick.wait()
            else:
                try:  # modelled wait (throttle pause, rate limit): clock seconds
                    async with asyncio.timeout(max(to_real(self.clock, wait), 0.0005)):
                        await self._kick.wait()
                except TimeoutError:
                    pass

    def take_nowait(self, *, planned: bool = False) -> Ticket | None:
        """`take` without waiting: the next part, handed out as `take` hands it out, or None
        when `take` would wait (for a kick, or `_wait` clock seconds). The send loop asks this
        first, so a part that is ready costs no coroutine.

        Raises:
            LinkDown: There is no session.
        """
        while True:
            if self.closed:
                raise LinkDown(f"bind {self.name} has no session")
            now = self.clock.now()
            self._wait = None
            if not self.open or self.paused or self.window.available - self.reserved <= 0:
                return None  # nothing may be written: wait for a kick (bound, resumed, room)
            if self.throttle.is_paused(now):
                self._wait = self.throttle.resume_in(now)
                return None
            ticket = self.throttle.next(now, self._pop_fresh)
            if ticket is None:
                return None
            if ticket.state is TicketState.DONE:
                continue
            if ticket.attempt.stopped:
                ticket.state = TicketState.DONE
                self.on_drop(ticket)
                continue
            delay = self.limiter.delay(ticket, now)
            if delay > 0.0:
                self.throttle.hold(ticket, ticket.order)
                self._wait = min(delay, 1.0)
                return None
            try:
                if planned:
                    ticket.submit_sm()
                else:
                    ticket.encoded_body()
            except Exception as exc:  # a field aiosmpplib refuses: fail the part
                log.error(
                    "smsh.gateway.pdu_build_failed",
                    extra={"bind": self.name, "message_id": ticket.message_id},
                    exc_info=exc,
                )
                ticket.pdu = None
                ticket.body = None
                self.on_build_error(ticket, exc)
                continue
            ticket.state = TicketState.HANDED
            self.handed = ticket
            self.handed_at = now
            self.reserved += 1
            self.limiter.announce(ticket)
            return ticket


class StoreCorrelator(AbstractCorrelator):  # type: ignore[misc]
    """Correlation for aiosmpplib: requests in flight in memory, messages in the store.

    * sequence -> `Ticket` for submit_sm in flight (registered by the hook *before* the write,
      so a fast response cannot overtake the registration);
    * a bounded map of timed-out submit_sm, so a late response is still recorded;
    * other requests (enquire_link, unbind) by sequence, so aiosmpplib can pair their responses;
    * SMSC message id <-> message is the store's (`record_resp` / `record_receipt`): receipts
      match across restarts. The delivery-side methods are therefore no-ops here.

    Args:
        late_capacity: Timed-out requests remembered.
    """

    def __init__(self, late_capacity: int = LATE_CAPACITY) -> None:
        self.inflight: dict[int, Ticket] = {}
        self.late: dict[int, Ticket] = {}
        self.other: dict[int, Any] = {}
        self.late_capacity = late_capacity

    # -- what the bind calls ---------------------------------------------------------------

    def register(self, sequence: int, ticket: Ticket) -> None:
        """A submit_sm is being written with `sequence`."""
        self.inflight[sequence] = ticket
        self.late.pop(sequence, None)

    def resolve(self, sequence: int) -> Ticket | None:
        """Take the in-flight part a response answers (None: not in flight)."""
        return self.inflight.pop(sequence, None)

    def expire(self, sequence: int) -> Ticket | None:
        """Move a timed-out request to the late map; returns it."""
        ticket = self.inflight.pop(sequence, None)
        if ticket is not None:
            self.late[sequence] = ticket
            if len(self.late) > self.late_capacity:
                del self.late[next(iter(self.late))]
        return ticket

    def take_late(self, sequence: int) -> Ticket | None:
        """Take a timed-out request answered late."""
        return self.late.pop(sequence, None)

    def drain(self) -> list[Ticket]:
        """The link is gone: every in-flight part, in send order; forget the rest."""
        tickets = list(self.inflight.values())
        self.inflight.clear()
        self.late.clear()
        self.other.clear()
        return tickets

    # -- aiosmpplib --------------------------------------------------------------------------

    def get_cumulated_status(self, ref_num: int) -> int:
        return 0

    async def expired(self, smpp_message: Any) -> None:
        return None

    async def put(self, smpp_message: Any) -> None:
        if not isinstance(smpp_message, SubmitSm):
            self.other[smpp_message.sequence_num] = smpp_message
            if len(self.other) > 1024:  # answered requests leave; unanswered ones are few
                del self.other[next(iter(self.other))]

    async def put_delivery(self, smsc_message_id: str, submit_sm: Any) -> None:
        return None  # the store keeps smsc id <-> part (record_resp)

    async def put_delivery_segmented(self, deliver_sm: Any) -> Any:
        return deliver_sm  # MO parts are reassembled by gateway.mo with sms.segments

    async def get(self, response: Any) -> Any:
        seq = response.sequence_num
        ticket = self.inflight.get(seq) or self.late.get(seq)
        if ticket is not None:
            return ticket.submit_sm()  # built now if our send loop wrote it
        return self.other.pop(seq, None)

    async def get_segmented(self, smpp_seq_num: int, remove: bool = False) -> tuple[None, int]:
        return None, 0

    async def get_delivery(self, receipt: Any) -> None:
        return None


class GatewayHook(AbstractHook):  # type: ignore[misc]
    """aiosmpplib's hook: hands every PDU written or read to the bind."""

    def __init__(self, bind: Bind) -> None:
        self.bind = bind

    async def sending(self, smpp_message: Any, pdu: bytes, client_id: str) -> None:
        if isinstance(smpp_message, PlannedSubmitSm):
            self.bind.on_sending(smpp_message.ticket, smpp_message.sequence_num)

    async def received(self, smpp_message: Any, pdu: bytes, client_id: str) -> None:
        await self.bind.on_received(smpp_message, pdu)

    async def send_error(self, smpp_message: Any, error: Exception, client_id: str) -> None:
        if isinstance(smpp_message, PlannedSubmitSm):
            self.bind.on_send_error(smpp_message.ticket, error)


class LinkDown(ConnectionError):
    """A part was about to be written on a link that is already gone."""


class CorkedWriter(asyncio.StreamWriter):
    """A StreamWriter that coalesces the writes of one event-loop pass into one transport
    write (one send() system call for a burst of submit_sm and deliver_sm_resp).

    Data is handed to the transport at the end of the current loop pass (``call_soon``), in
    the order written; `write_eof` and `close` flush first, and `drain` flushes once more
    than `HIGH_WATER` bytes are held, so flow control still works for large bursts. If the
    transport is aborted, held data is dropped with it (the link-down path requeues what was
    in flight).

    Args:
        inner: The writer of a connection (``asyncio.open_connection``), kept alive here.
    """

    HIGH_WATER: Final[int] = 64 * 1024

    def __init__(self, inner: asyncio.StreamWriter) -> None:
        super().__init__(
            inner.transport,
            getattr(inner, "_protocol"),  # noqa: B009 - no public accessor
            getattr(inner, "_reader"),  # noqa: B009
            getattr(inner, "_loop"),  # noqa: B009
        )
        self._inner = inner
        self._held: list[bytes] = []
        self._held_bytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._held:
            getattr(self, "_loop").call_soon(self.flush)  # noqa: B009
        self._held.append(data if data.__class__ is bytes else bytes(data))
        self._held_bytes += len(data)

    @property
    def held_bytes(self) -> int:
        """Octets written and not yet handed to the transport."""
        return self._held_bytes

    def flush(self) -> None:
        """Hand what is held to the transport now."""
        if not self._held:
            return
        data = self._held[0] if len(self._held) == 1 else b"".join(self._held)
        self._held.clear()
        self._held_bytes = 0
        if not self.transport.is_closing():
            super().write(data)

    async def drain(self) -> None:
        if self._held_bytes > self.HIGH_WATER:
            self.flush()
        await super().drain()

    def write_eof(self) -> None:
        self.flush()
        super().write_eof()

    def close(self) -> None:
        self.flush()
        super().close()


class GatewayEsme(ESME):  # type: ignore[misc]
    """aiosmpplib's ESME with the hooks it lacks (see the module docstring for why each).

    Args:
        bind: The owning bind (gets link up/down calls).
        **kwargs: Passed to `aiosmpplib.ESME`.
    """

    _reader: Any
    _writer: Any

    def __init__(self, bind: Bind, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._gw_bind = bind
        self._tls_pending: tuple[ssl.SSLContext, str] | None = None
        self._decoder: DeliverSmDecoder | None = None
        self._rx_at = 0.0
        """Event-loop time of the latest read that completed a PDU (`_read_loop`)."""
        self._keeper_wake = asyncio.Event()
        """Set when the session ends (or the ESME stops): the keeper looks at once."""
        self._keeper_probe: asyncio.Task[None] | None = None

    # Why: aiosmpplib has no "link up" hook, and it replaces its writer on reconnect without
    # closing the old one.
    async def connect(self) -> None:
        old = self._writer
        if old is not None:
            self._writer = None
            old.transport.abort()
        self._gw_bind.on_connecting()
        try:
            tls = self._gw_bind.settings.tls
            if tls is not None and tls.enabled:
                self._tls_pending = (
                    self.tls_context(tls),
                    tls.server_hostname or self._gw_bind.settings.host,
                )
            await super().connect()
        except BaseException as exc:
            self._gw_bind.on_connect_failed(exc)
            raise
        finally:
            self._tls_pending = None
        # Why: aiosmpplib writes every PDU with its own transport write (one send() system
        # call per submit_sm); the corked writer coalesces what one loop pass writes.
        if self._writer is not None and not isinstance(self._writer, CorkedWriter):
            self._writer = CorkedWriter(self._writer)
        self._gw_bind.on_link_up()

    # Why: aiosmpplib's `connect` opens a plain ``asyncio.open_connection`` and has no
    # parameter or hook for an SSL context. Its first socket operation in a connect is that
    # TCP connect; when the bind uses TLS, the connection is upgraded here with
    # ``StreamWriter.start_tls`` (same reader and writer objects, now over TLS) before
    # aiosmpplib writes the bind PDU. The handshake runs under the same socket timeout.
    async def _socket_operation(self, coro: Any) -> Any:
        pending, self._tls_pending = self._tls_pending, None
        result = await super()._socket_operation(coro)
        if pending is None:
            return result
        context, hostname = pending
        _reader, writer = result
        try:
            await super()._socket_operation(
                writer.start_tls(context, server_hostname=hostname or None)
            )
        except BaseException as exc:
            writer.transport.abort()
            if isinstance(exc, ssl.SSLCertVerificationError):
                why = f"certificate verify failed: {exc.verify_message}"
            elif isinstance(exc, TimeoutError):
                why = "timed out"
            elif isinstance(exc, OSError):
                why = str(exc) or type(exc).__name__
            else:
                raise
            endpoint = f"{self._gw_bind.settings.host}:{self._gw_bind.settings.port}"
            raise ConnectionError(f"TLS handshake with {endpoint} failed: {why}") from exc
        return result

    @staticmethod
    def tls_context(tls: BindTlsConfig) -> ssl.SSLContext:
        """Build the client SSL context of a bind's ``tls`` section (reads its files).

        Args:
            tls: The section (`gateway.config.BindTlsConfig`).

        Returns:
            A TLS 1.2+ client context: the given CAs (or the system's), host name checked
            unless ``verify`` is false, and the client certificate if one is set.

        Raises:
            ConnectionError: A file cannot be read or is not a usable PEM; the message
                starts with "TLS" and names the file (a connect that fails this way is
                retried like any other).
        """
        what, path = "ca_file", tls.ca_file
        try:
            context = ssl.create_default_context(cafile=str(path) if path is not None else None)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            if not tls.verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if tls.cert_file is not None:
                what, path = "cert_file", tls.cert_file
                context.load_cert_chain(tls.cert_file, tls.key_file)
        except (OSError, ssl.SSLError) as exc:
            detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise ConnectionError(f"TLS setup failed: cannot load {what} {path}: {detail}") from exc
        return context

    # Why: aiosmpplib ends a connection with ``write_eof``, which a TLS transport cannot do
    # (TLS has no half-close: NotImplementedError). Over TLS the writer is closed instead,
    # which sends close_notify after what is buffered.
    async def _disconnect(self) -> None:
        writer = self._writer
        try:
            await super()._disconnect()
        except NotImplementedError:
            if writer is None or writer.can_write_eof():
                raise
            self._writer = None
            writer.close()

    # Why: no "link down" hook either; the receive loop ends whenever the session does.
    async def _receive_data(self) -> bytes | None:
        reason = "connection closed"
        try:
            if self.testing:
                result: bytes | None = await super()._receive_data()
            else:
                await self._read_loop()
                result = None
            return result
        except asyncio.CancelledError:
            reason = "session ended"
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            # Let the connection keeper see the session is gone and end now (aiosmpplib would
            # wait 0.5 s for it and then cancel it).
            self._session_state = SmppSessionState.CLOSED
            self._data_received.set()
            self._keeper_wake.set()
            self._gw_bind.on_link_down(reason)

    # Why: aiosmpplib's receive loop reads each PDU with two `readexactly` awaits and, per
    # PDU, evaluates three debug-log calls, the `bind_mode.session_state` property and two
    # command-map lookups, then reaches the bind through three awaited indirections
    # (`_handle_response` / `_handle_request`, then the hook). This loop takes what the socket
    # has in one `read`, frames each PDU itself (the `_get_pdu` checks) and hands a
    # submit_sm_resp to a part in flight, and a deliver_sm the fast decoder takes (a receipt
    # as a `gateway.pdu.ReceiptPdu`: its text and TLVs only), straight to the bind: the calls
    # `_handle_response` / `_handle_request` and the hook make (the hook's `received` does
    # nothing more for either). Every other PDU takes aiosmpplib's steps (`_dispatch`). Its
    # segment placeholder cannot occur: StoreCorrelator.get_segmented never reports one.
    async def _read_loop(self) -> None:
        reader = self._reader
        bound = self.bind_mode.session_state
        received = self._data_received
        bind = self._gw_bind
        correlator = self.correlator
        gate = self.throttle_handler
        fast = isinstance(correlator, StoreCorrelator) and isinstance(gate, ThrottleGate)
        inflight = correlator.inflight if fast else {}
        late = correlator.late if fast else {}
        buf = b""
        pos = 0
        # The connection keeper clears `received` only while this loop awaits: set it for the
        # first PDU after each await (a read or a PDU taking aiosmpplib's steps), not for each,
        # and note the time for the keeper's enquire_link timer (`_connection_keeper`).
        tell_keeper = True
        loop_time = asyncio.get_running_loop().time
        while True:
            if self._is_shutting_down or self._session_state != bound:
                self._logger.info("Exiting receive data loop due to broken connection")
                return None
            have = len(buf) - pos
            length = 16
            if have >= 16:
                length, command_id, status, seq = _HEADER.unpack_from(buf, pos)
                if not 16 <= length <= MAX_PDU:
                    raise ValueError(f"command_length {length} out of range: framing lost")
            if have < length:
                chunk = await reader.read(READ_SIZE)
                if not chunk:  # EOF: what readexactly would have raised
                    if have < 16:
                        raise asyncio.IncompleteReadError(buf[pos:], 16)
                    raise asyncio.IncompleteReadError(buf[pos + 16 :], length - 16)
                buf = buf[pos:] + chunk if have else chunk
                pos = 0
                tell_keeper = True
                continue
            start = pos
            pos += length
            if tell_keeper:
                received.set()
                self._rx_at = loop_time()
                tell_keeper = False
            if command_id == SUBMIT_SM_RESP and fast:
                ticket = inflight.get(seq) or late.get(seq)
                if ticket is not None:
                    try:  # message_id: the body without its NUL
                        message_id: str | None = buf[start + 16 : pos - 1].decode("ascii")
                    except UnicodeDecodeError:
                        message_id = None
                    if message_id is not None and len(message_id) <= 64:
                        gate.count(status in _THROTTLING_STATUS)
                        bind.on_response(seq, status, message_id)
                        continue
            pdu = buf[start:pos]
            if command_id == DELIVER_SM:
                decoder = self._decoder
                if decoder is None:
                    decoder = self._decoder = DeliverSmDecoder(
                        self.default_encoding, self.custom_codecs
                    )
                message = decoder.decode_receipt(pdu, length, seq) or decoder.decode(
                    pdu, length, seq
                )
                if message is not None:
                    bind.on_deliver(message, pdu, seq, self._writer)
                    continue
            tell_keeper = True
            framed = await self._frame(pdu, length, command_id, status, seq)
            if framed is not None and await self._dispatch(*framed):
                return None

    async def _dispatch(self, pdu: bytes, header: Any) -> bool:
        """One PDU the way aiosmpplib's receive loop handles it; True when the session ends
        (UNBIND from the SMSC)."""
        command = header.smpp_command
        is_request = command in COMMAND_RESPONSE_MAP
        handler = self._handle_request if is_request else self._handle_response
        smpp_message = await handler(pdu, header)
        await self.hook.received(smpp_message, pdu, self.client_id)
        if not smpp_message:
            return False
        if is_request:
            response_class = MESSAGE_TYPE_MAP[COMMAND_RESPONSE_MAP[command]]
            await self._send_data(response_class(header.sequence_num))
        if command == SmppCommand.UNBIND:
            self._logger.info("Got UNBIND request from SMSC, reconnecting")
            return True
        return False

    # Why: aiosmpplib's send loop awaits, per part, the throttle handler, the rate limiter and
    # `_send_data` (and evaluates `bind_mode.session_state` and a debug-log call). With our
    # broker every part it hands out is one planned submit_sm, chosen when the throttle was
    # not paused and its rate-limit tokens were there, at the time `StoreBroker.handed_at`
    # says. This loop takes the part from the broker as a `Ticket` (`StoreBroker.take`: its
    # body encoded straight from the ticket, `Ticket.encoded_body`, the bytes the
    # `PlannedSubmitSm` would write; that message is built only if aiosmpplib asks for it),
    # checks both at that time without awaiting (falling back to aiosmpplib's waits when they
    # say no), writes the part (`_write_part`, then `_drain` only when needed), and handles a
    # failure as aiosmpplib does (log, the `send_error` hook's call, end the session unless it
    # is a ValueError). A part that is ready (`StoreBroker.take_nowait`) and a write that needs
    # no drain cost no coroutine.
    async def _dequeue_messages(self) -> dict[str, Any]:
        broker = self.broker
        gate = self.throttle_handler
        limiter = self.rate_limiter
        if (
            self.testing
            or self.bind_mode == BindMode.RECEIVER
            or not isinstance(broker, StoreBroker)
            or not isinstance(gate, ThrottleGate)
            or not isinstance(limiter, PartRateLimiter)
        ):
            result: dict[str, Any] = await super()._dequeue_messages()
            return result
        bound = self.bind_mode.session_state
        throttle = gate.state
        bind = self._gw_bind
        while True:
            if self._is_shutting_down or self._session_state != bound:
                self._logger.info("Exiting dequeue loop due to broken connection")
                return {"reason": "shutdown"}
            ticket = broker.take_nowait() or await broker.take()
            try:
                now = broker.handed_at
                if throttle.is_paused(now):
                    await self._throttle_wait(gate)
                    now = bind.ctx.clock.now()
                if not limiter.take(now):
                    await limiter.limit()
                    now = bind.ctx.clock.now()
                if not self._bound.is_set():
                    await self._bound.wait()
                    now = bind.ctx.clock.now()
                if self._write_part(ticket, now):
                    await self._drain()
            except Exception as err:
                self._logger.exception(
                    "SMPP message could not be sent", log_id=f"{ticket.message_id}:{ticket.part}"
                )
                bind.on_send_error(ticket, err)  # what the hook's send_error does
                if not isinstance(err, ValueError):
                    raise

    @staticmethod
    async def _throttle_wait(gate: ThrottleGate) -> None:
        """aiosmpplib's wait while its throttle handler denies: sleep the delay, ask again."""
        allowed = await gate.allow_request()
        while not allowed:
            await asyncio.sleep(await gate.throttle_delay())
            allowed = await gate.allow_request()

    async def _drain(self) -> None:
        """Wait until the transport has taken what `_write_part` wrote (one drain at a time)."""
        async with self._drain_lock:
            await self._writer.drain()

    def _write_part(self, ticket: Ticket, now: float) -> bool:
        """Write one part on a bound session: `_send_data`'s steps for its submit_sm (the body
        the ticket encoded, a new sequence number), registered at `now`. Returns True when the
        writer must be drained (`_drain`: the transport holds unsent data, or is closing); no
        coroutine otherwise."""
        sequence = self.sequence_generator.next_sequence()
        assert_valid_sequence(sequence)
        body = ticket.body  # encoded when the broker handed it out
        if body is None:
            body = ticket.encoded_body()
        pdu = _HEADER.pack(16 + len(body), 0x00000004, 0, sequence) + body
        if ticket.pdu is not None:  # built for aiosmpplib earlier: keep its sequence current
            ticket.pdu.sequence_num = sequence
        self._gw_bind.on_sending(ticket, sequence, now)
        writer = self._writer
        if not isinstance(writer, asyncio.StreamWriter):
            raise LinkDown(f"bind {self._gw_bind.name} has no connection")
        writer.write(pdu)
        transport = writer.transport
        if transport.get_write_buffer_size() or transport.is_closing():
            return True
        if isinstance(writer, CorkedWriter) and writer.held_bytes > CorkedWriter.HIGH_WATER:
            writer.flush()
        return False

    # Why: for our submit_sm (the hot path) aiosmpplib's _send_data builds the arguments of
    # three debug log calls per PDU (enum names included) even when debug logging is off, and
    # awaits the correlator's `put`, which StoreCorrelator ignores for submit_sm. Same steps
    # here without those; every other PDU goes through aiosmpplib's.
    async def _send_data(self, smpp_message: Any) -> None:
        if type(smpp_message) is not PlannedSubmitSm:
            await super()._send_data(smpp_message)
            return
        if not self._bound.is_set():
            await self._bound.wait()
        sequence = self.sequence_generator.next_sequence()
        assert_valid_sequence(sequence)
        smpp_message.sequence_num = sequence
        pdu = smpp_message.pdu()
        await self.hook.sending(smpp_message, pdu, self.client_id)
        writer = self._writer
        if not isinstance(writer, asyncio.StreamWriter):
            raise LinkDown(f"bind {self._gw_bind.name} has no connection")
        writer.write(pdu)
        async with self._drain_lock:
            await writer.drain()

    # Why: for a submit_sm_resp aiosmpplib builds the response with every field checked, logs
    # four debug records and awaits five correlator/throttle calls, three of them no-ops in
    # StoreCorrelator. Same result here (the response with the request's log_id and
    # extra_data, the throttle gate told) for a response to a submit_sm in flight; anything
    # else (other responses, unknown sequence, a message_id aiosmpplib refuses) is its job.
    async def _handle_response(self, pdu: bytes, header: Any) -> Any:
        correlator = self.correlator
        if header.smpp_command is SmppCommand.SUBMIT_SM_RESP and isinstance(
            correlator, StoreCorrelator
        ):
            seq = header.sequence_num
            ticket = correlator.inflight.get(seq) or correlator.late.get(seq)
            original = ticket.submit_sm() if ticket is not None else None
            message_id: str | None = None
            if original is not None:
                try:
                    message_id = pdu[16 : header.pdu_length - 1].decode("ascii")
                except UnicodeDecodeError:
                    message_id = None
            if original is not None and message_id is not None and len(message_id) <= 64:
                response: Any = SubmitSmResp.__new__(SubmitSmResp)
                response.__dict__.update(
                    log_id=original.log_id,
                    extra_data=original.extra_data,
                    sequence_num=seq,
                    command_status=header.command_status,
                    message_id=message_id,
                )
                if header.command_status in _THROTTLING:
                    await self.throttle_handler.throttled()
                else:
                    await self.throttle_handler.not_throttled()
                return response
        return await super()._handle_response(pdu, header)

    # Why: aiosmpplib reads command_length unchecked (a bad length stalls the reader) and
    # turns an unknown command_status into ValueError, which drops the session
    # (SMPP-ERRORS.md rows 2, 4 and 21). The hook reads the real status from the PDU bytes.
    async def _get_pdu(self) -> tuple[bytes, Any]:
        while True:
            header = await self._reader.readexactly(16)
            length, command_id, status, seq = _HEADER.unpack(header)
            if not 16 <= length <= MAX_PDU:
                raise ValueError(f"command_length {length} out of range: framing lost")
            body = await self._reader.readexactly(length - 16) if length > 16 else b""
            framed = await self._frame(header + body, length, command_id, status, seq)
            if framed is not None:
                return framed

    async def _frame(
        self, pdu: bytes, length: int, command_id: int, status: int, seq: int
    ) -> tuple[bytes, Any] | None:
        """The PDU and its aiosmpplib header, or None for an unknown command (a request gets
        a generic_nack ESME_RINVCMDID)."""
        try:
            command = SmppCommand(command_id)
        except ValueError:
            if not command_id & 0x80000000:
                await self._send_data(GenericNack(seq, SmppCommandStatus.ESME_RINVCMDID))
            log.warning("smsh.gateway.unknown_command", extra={"command_id": command_id})
            return None
        try:
            command_status = SmppCommandStatus(status)
        except ValueError:
            command_status = SmppCommandStatus.ESME_RUNKNOWNERR
        if length == 16 and command_id in _BIND_RESPONSES:
            # An error response has no body (SMPP-ERRORS.md row 28); aiosmpplib's bind_resp
            # parser needs the system_id's NUL and would raise ValueError instead of
            # reporting the refusal. The header still says 16 octets.
            pdu = pdu[:16] + b"\x00"
        return pdu, PduHeader(length, command, command_status, seq)

    # Why: for deliver_sm aiosmpplib (1) parses the receipt text itself (`int(err)`, a 10-digit
    # strptime) and a ValueError there escapes the receive loop and drops the session, (2)
    # correlates receipts in memory only, and (3) writes the deliver_sm_resp as soon as the
    # hook returns, so a durable acknowledgement would stall the receive loop for one commit
    # per deliver_sm. We parse the PDU with aiosmpplib's codec, hand it to the bind, and return
    # None (aiosmpplib then writes no response); the bind acknowledges after the commit while
    # this loop reads on.
    async def _handle_request(self, pdu: bytes, header: Any) -> Any:
        if header.smpp_command == SmppCommand.DELIVER_SM:
            decoder = self._decoder
            if decoder is None:
                decoder = self._decoder = DeliverSmDecoder(
                    self.default_encoding, self.custom_codecs
                )
            # The fast decoder builds the same DeliverSm (gateway.pdu); what it does not take
            # (UDHI, malformed PDUs) aiosmpplib decodes, or refuses, as before.
            message = decoder.decode(pdu, header.pdu_length, header.sequence_num)
            try:
                if message is None:
                    message = DeliverSm.from_pdu(
                        pdu, header, self.default_encoding, self.custom_codecs
                    )
            # SmsError: the text is not valid in its data_coding (our GSM 03.38 codec raises
            # sms.alphabet.DecodingError, not a ValueError); refused like any unreadable body.
            except (ValueError, LookupError, struct.error, IndexError, SmsError) as exc:
                log.warning(
                    "smsh.gateway.deliver_sm_unreadable",
                    extra={"bind": self._gw_bind.name, "error": repr(exc), "pdu": pdu.hex()},
                )
                await self._send_data(
                    GenericNack(header.sequence_num, SmppCommandStatus.ESME_RINVCMDLEN)
                )
                return None
            self._gw_bind.on_deliver(message, pdu, header.sequence_num, self._writer)
            return None
        if header.smpp_command not in (SmppCommand.UNBIND, SmppCommand.ENQUIRE_LINK):
            await self._send_data(
                GenericNack(header.sequence_num, SmppCommandStatus.ESME_RINVCMDID)
            )
            return None
        return await super()._handle_request(pdu, header)

    def acknowledge_nowait(self, link: Any, sequence: int, status: int) -> bool:
        """Queue the deliver_sm_resp for `sequence` if the session it came on is still up.

        The responses queued during one event-loop pass go out in one write (after the
        receipts of a store batch commit, all their acknowledgements are written at once).

        Returns:
            False when the session changed (the SMSC will deliver it again).
        """
        if link is None or self._writer is not link or link.is_closing():
            return False
        # DeliverSmResp(sequence, SmppCommandStatus(status)).pdu(), without its field checks.
        link.write(_DELIVER_SM_RESP.pack(17, DELIVER_SM_RESP, status, sequence))
        return True

    async def acknowledge(self, link: Any, sequence: int, status: int) -> bool:
        """Write the deliver_sm_resp for `sequence` if the session it came on is still up.

        Returns:
            False when the session changed (the SMSC will deliver it again).
        """
        if link is None or self._writer is not link or link.is_closing():
            return False
        await self._send_data(DeliverSmResp(sequence, SmppCommandStatus(status)))
        return True

    # Why: aiosmpplib ends each of its tasks by waiting 0.5 s before cancelling it; waking the
    # connection keeper (and the broker raising LinkDown) lets them end at once.
    async def stop(self) -> None:
        self._is_shutting_down = True
        self._data_received.set()
        self._keeper_wake.set()
        await super().stop()

    # Why: aiosmpplib's connection keeper wakes on the receive loop's data event, once per
    # read pass under load, and each time creates two tasks (a sleep and an event wait), runs
    # an `asyncio.wait` and cancels the sleep: about 13 us of the event-loop thread per read
    # pass. This keeper does what it does (an enquire_link after `enquire_link_interval`
    # without data; the session ends when nothing arrives within `socket_timeout` after it)
    # from a timer: it sleeps until the enquire_link would be due (`_rx_at`, which our
    # receive loop updates once per read pass, plus the interval), looks again, and waits on
    # the data event only for the enquire_link's answer. The end of the session wakes it at
    # once (`_keeper_wake`). With ``testing=True`` (aiosmpplib's receive loop, which does not
    # update `_rx_at`) it is aiosmpplib's keeper.
    async def _connection_keeper(self) -> None:
        if self.testing:
            await super()._connection_keeper()
            return
        loop = asyncio.get_running_loop()
        received = self._data_received
        wake = self._keeper_wake
        wake.clear()
        bound = self.bind_mode.session_state
        self._rx_at = loop.time()
        while True:
            if self._is_shutting_down or self._session_state != bound:
                return
            quiet_for = self.enquire_link_interval - (loop.time() - self._rx_at)
            if quiet_for > 0.0:
                try:
                    async with asyncio.timeout(quiet_for):
                        await wake.wait()
                except TimeoutError:
                    pass
                else:
                    wake.clear()  # the top of the loop decides; a wake that finds it up is stale
                continue
            received.clear()
            # What aiosmpplib's keeper does: the enquire_link goes out from its own task.
            self._keeper_probe = asyncio.create_task(self._send_data(EnquireLink()))
            try:
                async with asyncio.timeout(self.socket_timeout):
                    await received.wait()  # the end of the session sets it too
            except TimeoutError:
                self._logger.error("Timed out while waiting for ENQUIRE_LINK response")
                return

    def drop_connection(self) -> None:
        """Abort the TCP connection now; the start loop reconnects (after its back-off)."""
        writer = self._writer
        if writer is not None:
            writer.transport.abort()


class _ForwardLogs(logging.Handler):
    """Routes aiosmpplib's own logger into ``smsh.gateway.aiosmpplib``."""

    def __init__(self, bind: str) -> None:
        super().__init__()
        self._target = logging.getLogger("smsh.gateway.aiosmpplib")
        self._bind = bind

    def emit(self, record: logging.LogRecord) -> None:
        record.__dict__["bind"] = self._bind
        self._target.handle(record)


# --------------------------------------------------------------------------------------------
# Receipts


#: ``tuple.__new__``: a NamedTuple built from its fields' tuple in C (the class's own
#: ``__new__`` is a Python function).
_new_tuple: Final = tuple.__new__


class ParsedReceipt(NamedTuple):
    """A receipt deliver_sm as read, before it is stored (a named tuple: one per receipt,
    built in a fraction of a frozen dataclass's time)."""

    now: float
    """When it was read."""
    bind: str
    """Bind it came on."""
    smsc_id: str
    """SMSC message id (receipted_message_id TLV preferred, else the text's ``id:``)."""
    stat: str
    """``stat`` (from the text, else the message_state TLV; ``UNKNOWN`` if neither)."""
    err: str
    """``err`` from the text ("" if none)."""
    text: str
    """The receipt text as received."""
    done_at: float | None
    """The text's done date as epoch seconds, if parsed."""


class ReceiptInbound:
    """Delivery receipts: matched in the store by receipted_message_id (preferred) or the text
    id, normalised by the store's id rule; committed before the deliver_sm_resp goes out.

    Args:
        store: The store (its normalisers implement the configured `IdRule`).
        clock: Time source.
        events: Bus publisher.
        stats: Counters.
    """

    def __init__(
        self, store: AsyncMessageStore, clock: Clock, events: Publisher, stats: GatewayStats
    ) -> None:
        self.store = store
        self.clock = clock
        self.events = events
        self.stats = stats
        self.publish_final: Callable[..., None] = lambda *a, **k: None
        """`GatewayContext.publish_final` (set by the gateway)."""

    def submit(
        self,
        message: Any,
        bind: str,
        tasks: TaskTracker,
        acknowledge: Callable[[int], object],
    ) -> None:
        """Record one receipt deliver_sm without a task: `acknowledge(command_status)` is
        called after the receipt is committed (0), or at once when it has no id (0, nothing
        to store), or with ESME_RX_T_APPN when storing failed (the SMSC delivers it again)."""
        parsed = self.parse(message, bind)
        if parsed is None:
            acknowledge(0)
            return

        def done(outcome: Any, error: BaseException | None) -> None:
            if error is not None:
                acknowledge(int(CommandStatus.ESME_RX_T_APPN))
                return
            try:
                self.recorded(parsed, outcome)
            finally:
                acknowledge(0)

        callback = tasks.calling(done, what="record_receipt")
        try:
            self.store.record_receipt_nowait(
                parsed.smsc_id,
                parsed.stat,
                parsed.now,
                err=parsed.err or None,
                raw=parsed.text,
                done_at=parsed.done_at,
                on_done=callback,
            )
        except Exception as exc:
            callback(None, exc)

    def parse(self, message: Any, bind: str) -> ParsedReceipt | None:
        """Count and read one receipt deliver_sm (None: it carries no id to match)."""
        now = self.clock.now()
        stats = self.stats
        stats.receipts += 1
        stats.first_receipt_at = stats.first_receipt_at or now
        stats.last_receipt_at = now
        text = message.short_message or message.message_payload or ""
        tlv_id: str | None = None
        tlv_state: int | None = None
        for param in message.optional_params or ():
            if param.tag == RECEIPTED_MESSAGE_ID:
                tlv_id = str(param.value).rstrip("\x00").strip() or None
            elif param.tag == TAG_MESSAGE_STATE and isinstance(param.value, int):
                tlv_state = param.value
        stat = ""
        err = ""
        done_at: float | None = None
        text_id: str | None = None
        try:
            fields = receipt_fields(text)
        except ReceiptParseError:
            fields = None
        if fields is not None:
            text_id, stat, err, done_at = fields
        if not stat and tlv_state is not None:
            try:
                stat = stat_for_state(ReceiptState(tlv_state))
            except ValueError:
                stat = "UNKNOWN"
        smsc_id = tlv_id or text_id
        if not smsc_id:
            stats.receipt_status["unreadable"] += 1
            log.warning("smsh.gateway.receipt_without_id", extra={"bind": bind, "text": text[:120]})
            return None
        # ParsedReceipt(...), without the namedtuple's Python-level __new__
        parsed: ParsedReceipt = _new_tuple(
            ParsedReceipt, (now, bind, smsc_id, stat or "UNKNOWN", err, text, done_at)
        )
        return parsed

    def recorded(self, parsed: ParsedReceipt, outcome: ReceiptOutcome) -> None:
        """Count and publish a stored receipt (`outcome`: the store's `ReceiptOutcome`)."""
        now, bind, smsc_id, stat, err, _text, _done_at = parsed
        stats = self.stats
        stats.receipt_status[_RECEIPT_STATUS_VALUE[outcome.status]] += 1
        stats.metrics.record_receipt(stat, now=now)
        matched = outcome.status is ReceiptStatus.MATCHED
        if matched and outcome.message_id is not None and outcome.part_seq is not None:
            stats.receipt_matched(outcome.message_id, outcome.part_seq, now)
        if outcome.status is ReceiptStatus.PENDING:
            # Not a fact yet: it is published when its response matches it (Bind), or as
            # unmatched when the pending sweep gives up on it (Gateway.maintain).
            return
        if self.events.wants(KIND_RECEIPT_RECEIVED):
            self.events.publish_nowait(
                ReceiptReceived(
                    at=now,
                    message_id=str(outcome.message_id) if outcome.message_id is not None else None,
                    smsc_message_id=smsc_id,
                    stat=stat[:16],
                    err=err or "000",
                    part=outcome.part_seq,
                    bind_id=bind,
                )
            )
        if matched and outcome.message_id is not None and outcome.message_state in TERMINAL_STATES:
            assert outcome.message_state is not None
            parts, attempts, client_ref = stats.meta(outcome.message_id)
            self.publish_final(
                outcome.message_id,
                outcome.message_state,
                now,
                # The reason is only read by the event: not built when nobody wants it.
                reason=(f"receipt {stat} err {err}" if err else f"receipt {stat}")
                if self.events.wants(KIND_MESSAGE_FINAL)
                else None,
                parts=parts,
                attempts=attempts,
                by_receipt=True,
                client_ref=client_ref,
            )


# --------------------------------------------------------------------------------------------
# The bind


@dataclass(slots=True)
class BindSettings:
    """What a bind needs from its configuration group (see `gateway.config.BindConfig`)."""

    host: str
    """SMSC host."""
    port: int
    """SMSC port."""
    system_id: str
    """SMPP system_id."""
    password: str
    """SMPP password."""
    system_type: str
    """SMPP system_type."""
    address_range: str
    """address_range of the bind."""
    mode: str
    """transceiver, transmitter or receiver."""
    window: int
    """Outstanding submit_sm at most."""
    enquire_link_interval: float
    """Seconds of silence before an enquire_link."""
    socket_timeout: float
    """Connect/bind timeout and enquire_link response timer."""
    response_timeout: float
    """submit_sm response timer."""
    reconnect: BackoffSchedule
    """Delays between reconnects."""
    queue: int
    """Parts queued ahead of the window at most (the dispatcher's refill mark is half)."""
    aiosmpplib_log_level: str = "WARNING"
    """Level of aiosmpplib's own logger (forwarded to ``smsh.gateway.aiosmpplib``)."""
    tls: BindTlsConfig | None = None
    """SMPP over TLS (read by `GatewayEsme` at each connect); None: plain TCP."""


#: The septets whose GSM 03.38 character is the ASCII character of the same code (digits,
#: letters, space and most punctuation; not ``@ $ _`` and the accented letters). Text made of
#: these only (a receipt's, most MO) decodes as ASCII.
_GSM_AS_ASCII: Final[bytes] = bytes(
    code for code in range(0x80) if code != ESC and decode_gsm7(bytes((code,))) == chr(code)
)


def _gsm_decode(data: Buffer, errors: str = "strict", /) -> tuple[str, int]:
    octets = data if data.__class__ is bytes else bytes(data)
    if not octets.translate(None, _GSM_AS_ASCII):  # nothing but those: decode_gsm7's result
        return octets.decode("ascii"), len(octets)
    return decode_gsm7(octets, strict=errors == "strict"), len(octets)


def _gsm_encode(text: str, errors: str = "strict", /) -> tuple[bytes, int]:
    return encode_gsm7(text), len(text)


#: The project's GSM 03.38 codec (sms.alphabet), plugged into aiosmpplib through its
#: `custom_codecs` extension point: same results, and about half the cost of parsing a receipt
#: deliver_sm (aiosmpplib's own decoder works character by character).
GSM_CODEC: Final = codecs.CodecInfo(_gsm_encode, _gsm_decode, name="gsm0338")

_BIND_MODE: Final[dict[str, Any]] = {
    "transceiver": BindMode.TRANSCEIVER,
    "transmitter": BindMode.TRANSMITTER,
    "receiver": BindMode.RECEIVER,
}


class Bind:
    """One SMPP session: an aiosmpplib ESME with our broker, correlator, throttle handler,
    rate limiter and hook, plus the attempt bookkeeping that turns responses into store
    transitions.

    Args:
        name: Session name (bus ``bind_id``).
        settings: Connection and window settings.
        ctx: Shared services.
    """

    def __init__(self, name: str, settings: BindSettings, ctx: GatewayContext) -> None:
        self.name = name
        self.settings = settings
        self.ctx = ctx
        self.can_transmit = settings.mode != "receiver"
        self.window = Window(settings.window)
        self.throttle: ThrottleState[Ticket] = ThrottleState(ctx.throttle_backoff)
        self.limiter = PartRateLimiter(ctx.limits, name, ctx.clock)
        self.broker = StoreBroker(
            name, self.window, self.throttle, self.limiter, ctx.clock, capacity=settings.queue
        )
        self.broker.on_drop = self._dropped
        self.broker.on_build_error = self._build_failed
        self.broker.on_low = ctx.wake_dispatcher
        self.correlator = StoreCorrelator()
        self.gate = ThrottleGate(self.throttle, ctx.clock)
        self.hook = GatewayHook(self)
        self.retry_timer = BackoffRetryTimer(
            settings.reconnect, keyed_rng(ctx.seed, f"reconnect:{name}", 0), ctx.clock
        )
        self.state: BindState = "closed"
        self.link_up = False
        self.stopping = False
        self.ups = 0
        """Times the bind came up."""
        self.last_error: str | None = None
        """Why the last connect failed or the link went down."""
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.Task[None] | None = None
        self.esme = GatewayEsme(
            self,
            smsc_host=settings.host,
            smsc_port=settings.port,
            system_id=settings.system_id,
            password=settings.password,
            system_type=settings.system_type,
            address_range=settings.address_range,
            bind_mode=_BIND_MODE[settings.mode],
            client_id=name,
            # Dead-peer guards (gateway.timing): clock seconds, at least REAL_FLOOR real ones.
            enquire_link_interval=guard_real(ctx.clock, settings.enquire_link_interval),
            socket_timeout=guard_real(ctx.clock, settings.socket_timeout),
            log_level=settings.aiosmpplib_log_level,
            log_handler=_ForwardLogs(name),
            hook=self.hook,
            broker=self.broker,
            rate_limiter=self.limiter,
            throttle_handler=self.gate,
            correlator=self.correlator,
            retry_timer=self.retry_timer,
            custom_codecs={"gsm0338": GSM_CODEC},
        )

    # -- life cycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Start connecting (and keep reconnecting) in the background."""
        self._task = asyncio.create_task(self._run(), name=f"bind-{self.name}")
        self._timer = asyncio.create_task(self._timeouts(), name=f"bind-{self.name}-timer")

    async def _run(self) -> None:
        try:
            await self.esme.start()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("smsh.gateway.bind_crashed", extra={"bind": self.name})
            self.on_link_down("bind task crashed")

    async def _timeouts(self) -> None:
        timeout = guard_real(self.ctx.clock, self.settings.response_timeout)
        period = min(1.0, max(0.01, timeout / 4))
        while True:
            await asyncio.sleep(period)
            self.check_timeouts(self.ctx.clock.now())

    async def drain(self, grace: float) -> None:
        """Stop handing out parts and wait (up to `grace` seconds) for in-flight responses."""
        self.stopping = True
        self.broker.open = False
        try:
            async with asyncio.timeout(grace):
                await self.broker.idle.wait()
        except TimeoutError:
            log.warning(
                "smsh.gateway.drain_timeout",
                extra={"bind": self.name, "in_flight": self.window.outstanding},
            )

    async def stop(self, grace: float) -> None:
        """Unbind and close; whatever is still queued or in flight goes back to the store."""
        self.stopping = True
        self.broker.open = False
        self.broker.closed = True
        self._abandon_all("gateway stopping")
        try:
            async with asyncio.timeout(grace):
                await self.esme.stop()
        except TimeoutError:
            log.warning("smsh.gateway.unbind_timeout", extra={"bind": self.name})
        for task in (self._task, self._timer):
            if task is not None and not task.done():
                task.cancel()
        for task in (self._task, self._timer):
            if task is not None:
                try:
                    await task
                except asyncio.CancelledError:
                    pass
                except Exception:
                    log.exception("smsh.gateway.bind_stop_failed", extra={"bind": self.name})
        self.esme.drop_connection()
        self.on_link_down("stopped")
        self._set_state("closed", "stopped")
        # Gone for good (a reconnect is not): its per-bind metrics stop being reported.
        self.ctx.stats.metrics.forget_bind(self.name)

    # -- state --------------------------------------------------------------------------------

    @property
    def is_up(self) -> bool:
        """Bound and not stopping."""
        return self.link_up and not self.stopping

    @property
    def room(self) -> int:
        """Parts the dispatcher may still queue on this bind."""
        return self.broker.room if self.is_up and self.can_transmit and not self.paused else 0

    @property
    def paused(self) -> bool:
        """True while an operator paused the bind (see `set_paused`)."""
        return self.broker.paused

    def set_paused(self, paused: bool) -> None:
        """Pause or resume handing out parts (operator control); the session stays bound.

        Publishes a `BindStateChanged` with the new `paused` flag when it changes.
        """
        if paused == self.broker.paused:
            return
        self.broker.paused = paused
        self.broker.kick()
        self._set_state(self.state, "paused by operator" if paused else "resumed by operator")
        if not paused:
            self.ctx.wake_dispatcher()

    def _set_state(
        self, state: BindState, reason: str | None = None, command_status: int | None = None
    ) -> None:
        if state == self.state and reason is None:
            return
        self.state = state
        self.ctx.events.publish_nowait(
            BindStateChanged(
                at=self.ctx.clock.now(),
                component="gateway",
                instance=self.ctx.instance,
                bind_id=self.name,
                system_id=self.settings.system_id,
                mode=self.settings.mode,  # type: ignore[arg-type]
                state=state,
                peer=f"{self.settings.host}:{self.settings.port}",
                reason=reason,
                command_status=command_status,
                paused=self.broker.paused,
            )
        )

    def on_connecting(self) -> None:
        """A TCP connect starts."""
        self._set_state("connecting")

    def on_connect_failed(self, exc: BaseException) -> None:
        """Connect or bind failed (the ESME retries after its back-off)."""
        status = getattr(exc, "command_status", None)
        self.last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if status is not None:
            self.last_error = f"bind refused: {status_name(int(status))}"
        self._set_state("closed", self.last_error, int(status) if status is not None else None)

    def on_link_up(self) -> None:
        """The bind response said ESME_ROK."""
        self.link_up = True
        self.ups += 1
        if self.ups > 1:
            self.ctx.stats.reconnects += 1
        self.last_error = None
        self.broker.open = self.can_transmit and not self.stopping
        self.broker.closed = False
        self.broker.kick()
        self._set_state("bound")
        self.ctx.wake_dispatcher()

    def on_link_down(self, reason: str) -> None:
        """The session ended: everything queued or in flight goes back to the store."""
        if not self.link_up:
            return
        self.link_up = False
        self.broker.open = False
        self.broker.closed = True
        self.last_error = reason
        self._abandon_all(reason)
        self._set_state("closed", reason)
        if not self.stopping:
            self.ctx.events.publish_nowait(
                Alert(
                    at=self.ctx.clock.now(),
                    alert_kind="bind_lost",
                    severity="warning",
                    detail=f"bind {self.name}: {reason}",
                )
            )

    def _abandon_all(self, reason: str) -> None:
        in_flight = self.correlator.drain()
        self.window.release_all()
        queued = self.broker.take_all()
        for ticket in in_flight + queued:
            if ticket.state is TicketState.DONE:
                continue
            ticket.attempt.abandoned = True
            self._resolve(ticket)
        self.broker.kick()

    # -- assignment (dispatcher) ------------------------------------------------------------

    def assign(self, attempt: Attempt, tickets: list[Ticket]) -> None:
        """Queue an attempt's parts on this bind."""
        if attempt.outstanding == 0:
            self._finish(attempt)
            return
        self.broker.push(tickets)

    # -- hook: writes ---------------------------------------------------------------------------

    def on_sending(self, ticket: Ticket, sequence: int, now: float | None = None) -> None:
        """A part is being written with `sequence` (called before the bytes go out) at `now`
        (None: read the clock)."""
        if not self.link_up or ticket.state is TicketState.DONE:
            raise LinkDown(f"bind {self.name} is down")
        if now is None:
            now = self.ctx.clock.now()
        self.broker.sent(ticket, sequence, now)
        ticket.sequence = sequence
        ticket.sent_at = now
        ticket.state = TicketState.IN_FLIGHT
        attempt = ticket.attempt
        attempt.sent_any = True
        self.correlator.register(sequence, ticket)
        ctx = self.ctx
        stats = ctx.stats
        stats.parts_sent += 1
        if stats.first_sent_at is None:
            stats.first_sent_at = now
        stats.metrics.record_count("parts_sent", now=now)
        stats.metrics.record_bind_count(self.name, BIND_SUBMITTED, now=now)
        done = ctx.tasks.track("record_part_submit")
        try:
            ctx.store.record_part_submit_nowait(
                attempt.message_id,
                ticket.part,
                now,
                bind=self.name,
                sequence_number=sequence,
                on_done=done,
            )
        except Exception as exc:
            done(None, exc)
        if not ctx.events.wants(KIND_PART_SUBMITTED):
            return
        ctx.events.publish_nowait(
            PartSubmitted(
                at=now,
                message_id=str(attempt.message_id),
                part=ticket.part,
                parts=ticket.total,
                sequence_number=sequence,
                bind_id=self.name,
                attempt=attempt.attempt,
            )
        )

    def on_send_error(self, ticket: Ticket, error: Exception) -> None:
        """aiosmpplib could not write a part."""
        if ticket.state is TicketState.DONE:
            return
        if isinstance(error, ValueError) and not isinstance(error, LinkDown):
            self._build_failed(ticket, error)
            return
        # A transport error: the link-down path requeues it with everything else.
        log.info(
            "smsh.gateway.write_failed",
            extra={"bind": self.name, "message_id": ticket.message_id, "error": repr(error)},
        )

    def _build_failed(self, ticket: Ticket, error: Exception) -> None:
        self.broker.unhand(ticket)
        if ticket.state is TicketState.IN_FLIGHT:
            self.correlator.resolve(ticket.sequence)
            self.broker.release(ticket.sequence)
        now = self.ctx.clock.now()
        ticket.attempt.fail(
            Decision(RetryAction.PERMANENT_FAIL, None, f"cannot build submit_sm: {error}")
        )
        self.ctx.stats.error("pdu_error", now)
        self._resolve(ticket)

    def _dropped(self, ticket: Ticket) -> None:
        self._resolve(ticket, already_done=True)

    # -- hook: reads ----------------------------------------------------------------------------

    async def on_received(self, message: Any, pdu: bytes) -> None:
        """A PDU was read (aiosmpplib parsed it into `message`, or None if it could not)."""
        if len(pdu) < 16:
            return
        _length, command_id, status, seq = _HEADER.unpack_from(pdu)
        if command_id == SUBMIT_SM_RESP:
            smsc_id = getattr(message, "message_id", None) if message is not None else None
            if smsc_id is None and status == 0:
                smsc_id = pdu[16:].split(b"\x00", 1)[0].decode("latin-1")
            self._on_response(seq, status, smsc_id, nack=False)
        elif command_id == GENERIC_NACK:
            self._on_response(seq, status, None, nack=True)
        # deliver_sm goes through `on_deliver` (see GatewayEsme._handle_request).

    def on_deliver(self, message: Any, pdu: bytes, sequence: int, link: Any) -> None:
        """A deliver_sm was read: store it, then acknowledge it on the same session."""
        if message.is_receipt():
            try:
                self.ctx.receipts.submit(
                    message,
                    self.name,
                    self.ctx.tasks,
                    # acknowledge(status): a partial, no Python frame of its own per receipt
                    functools.partial(self.esme.acknowledge_nowait, link, sequence),
                )
            except Exception:
                log.exception("smsh.gateway.deliver_failed", extra={"bind": self.name})
                self.esme.acknowledge_nowait(link, sequence, int(CommandStatus.ESME_RX_T_APPN))
            return
        self.ctx.tasks.spawn(self._deliver_mo(message, pdu, sequence, link), what="deliver_sm")

    async def _deliver_mo(self, message: Any, pdu: bytes, sequence: int, link: Any) -> None:
        status = 0
        try:
            await self.ctx.mo.handle(message, pdu, self.name)
        except Exception:
            # Not stored: a temporary error makes the SMSC deliver it again (SMPP 3.4 §5.1.3).
            log.exception("smsh.gateway.deliver_failed", extra={"bind": self.name})
            status = int(CommandStatus.ESME_RX_T_APPN)
        try:
            await self.esme.acknowledge(link, sequence, status)
        except (ConnectionError, OSError):
            log.info("smsh.gateway.ack_failed", extra={"bind": self.name, "seq": sequence})

    def on_response(self, seq: int, status: int, smsc_id: str) -> None:
        """A submit_sm_resp to a part in flight was read (`GatewayEsme`'s receive loop)."""
        self._on_response(seq, status, smsc_id, nack=False)

    def _on_response(self, seq: int, status: int, smsc_id: str | None, *, nack: bool) -> None:
        ctx = self.ctx
        now = ctx.clock.now()
        if nack and seq == 0:
            # SMSC lost our framing (SMPP-ERRORS.md row 1): reconnect, requeue what was in flight.
            ctx.stats.error("generic_nack_seq0", now)
            decision = ctx.retry.decide(Failure.generic_nack(status, 0), attempt=1, now=now)
            log.warning(
                "smsh.gateway.generic_nack_seq0",
                extra={"bind": self.name, "status": status, "action": decision.action.value},
            )
            if decision.action is RetryAction.RECONNECT_REQUEUE:
                self.esme.drop_connection()
            return
        late = False
        ticket = self.correlator.resolve(seq)
        if ticket is None:
            ticket = self.correlator.take_late(seq)
            late = ticket is not None
        if ticket is None:
            ctx.stats.unmatched_responses += 1
            log.info("smsh.gateway.response_unmatched", extra={"bind": self.name, "seq": seq})
            return
        stats = ctx.stats
        stats.responses += 1
        latency_ms = (now - ticket.sent_at) * 1000.0
        if not latency_ms > 0.0:  # clock stepped back (or NaN): as max(0.0, latency_ms)
            latency_ms = 0.0
        stats.metrics.record_latency(LATENCY_SUBMIT_TO_RESP, latency_ms, now=now)
        attempt = ticket.attempt
        if ctx.events.wants(KIND_SUBMIT_RESPONDED):
            ctx.events.publish_nowait(
                SubmitResponded(
                    at=now,
                    message_id=str(attempt.message_id),
                    part=ticket.part,
                    bind_id=self.name,
                    sequence_number=seq,
                    # A generic_nack must carry an error; one without is treated as unknown below.
                    command_status=int(CommandStatus.ESME_RUNKNOWNERR)
                    if nack and not status
                    else status,
                    smsc_message_id=smsc_id if status == 0 and not nack else None,
                    latency_ms=latency_ms,
                    generic_nack=nack,
                )
            )
        if status == 0 and not nack:
            stats.resp_ok += 1
            stats.last_resp_at = now
            stats.metrics.record_count("resp_ok", now=now)
            self.throttle.accepted(now)
            stats.part_accepted(attempt.message_id, ticket.part, ticket.sent_at)
            stats.remember(attempt)
            smsc = smsc_id or f"~{attempt.message_id}.{ticket.part}"

            def recorded(outcome: Any, error: BaseException | None) -> None:
                if not late:
                    self.broker.release(seq)
                if error is None and outcome is not None:
                    if outcome.receipts_applied:
                        stats.receipts_late_matched += outcome.receipts_applied
                        stats.receipt_matched(attempt.message_id, ticket.part, ctx.clock.now())
                    for stat, err in outcome.pending_matched:  # held back by ReceiptInbound
                        ctx.events.publish_nowait(
                            ReceiptReceived(
                                at=ctx.clock.now(),
                                message_id=str(attempt.message_id),
                                smsc_message_id=smsc,
                                stat=stat[:16],
                                err=err or "000",
                                part=ticket.part,
                                bind_id=self.name,
                            )
                        )
                    if outcome.message_state in TERMINAL_STATES:
                        ctx.publish_final(
                            attempt.message_id,
                            outcome.message_state,
                            ctx.clock.now(),
                            reason="receipt arrived before the response",
                            parts=attempt.parts_total,
                            attempts=attempt.attempt,
                            by_receipt=True,
                            client_ref=attempt.client_ref,
                        )

            done = ctx.tasks.calling(recorded, what="record_resp")
            try:
                ctx.store.record_resp_nowait(
                    attempt.message_id,
                    ticket.part,
                    now,
                    command_status=0,
                    smsc_message_id=smsc,
                    on_done=done,
                )
            except Exception as exc:
                done(None, exc)
            if not late:
                self._resolve(ticket)
                # Answered for good: aiosmpplib has matched the response already, so drop the
                # PDU (it refers back to the ticket; without the cycle, reference counting
                # frees both).
                ticket.pdu = None
            return

        if nack and status == 0:  # a generic_nack must carry an error; treat it as unknown
            status = int(CommandStatus.ESME_RUNKNOWNERR)
        failure = Failure.generic_nack(status, seq) if nack else Failure.status(status)
        stats.error(status_code(status), now)
        rule = ctx.retry.rule_for(failure)
        throttle = rule.action is RetryAction.THROTTLE_PAUSE
        if throttle:  # every throttling response read counts, even a late one
            stats.metrics.record_bind_count(self.name, BIND_THROTTLED, now=now)
        number = ticket.throttles + 1 if throttle else attempt.attempt
        decision = ctx.retry.decide(
            failure,
            attempt=number,
            now=now,
            deadline=attempt.deadline,
            rng=keyed_rng(ctx.seed, attempt.message_id, number),
        )
        ctx.tasks.call(
            lambda done: ctx.store.record_resp_nowait(
                attempt.message_id,
                ticket.part,
                now,
                command_status=status,
                error=decision.reason,
                on_done=done,
            ),
            (lambda _r, _e: self.broker.release(seq)) if not late else None,
            what="record_resp",
        )
        if late:
            return  # the attempt already counted this part as timed out
        if decision.action is RetryAction.THROTTLE_PAUSE and not attempt.stopped:
            ticket.throttles += 1
            stats.throttled += 1
            until = self.throttle.throttled(
                ticket, ticket.order, now, keyed_rng(ctx.seed, attempt.message_id, ticket.throttles)
            )
            ticket.state = TicketState.QUEUED
            ctx.events.publish_nowait(
                Throttled(
                    at=now,
                    bind_id=self.name,
                    command_status=status,
                    message_id=str(attempt.message_id),
                    part=ticket.part,
                    backoff_ms=max(0.0, (until - now) * 1000.0),
                )
            )
            self.broker.kick()
            return
        attempt.fail(decision)
        self._resolve(ticket)
        if decision.action is RetryAction.RECONNECT_REQUEUE:
            self.esme.drop_connection()

    # -- timers ---------------------------------------------------------------------------------

    def check_timeouts(self, now: float) -> int:
        """Requeue requests unanswered for `response_timeout`; returns how many.

        A dead-peer guard (`gateway.timing`): clock seconds, never less than `REAL_FLOOR` real
        seconds of clock time."""
        timeout = guard_clock(self.ctx.clock, self.settings.response_timeout)
        overdue = self.window.timed_out(now, timeout)
        for seq in overdue:
            ticket = self.correlator.expire(seq)
            self.broker.release(seq)
            if ticket is None:
                continue
            ctx = self.ctx
            ctx.stats.timeouts += 1
            ctx.stats.error("timeout", now)
            attempt = ticket.attempt
            decision = ctx.retry.decide(
                Failure.timeout(),
                attempt=attempt.attempt,
                now=now,
                deadline=attempt.deadline,
                rng=keyed_rng(ctx.seed, attempt.message_id, attempt.attempt),
            )
            attempt.fail(decision)
            # Only here, not on a lost link: `SubmitTimedOut` means "no response in time".
            ctx.events.publish_nowait(
                SubmitTimedOut(
                    at=now,
                    message_id=str(attempt.message_id),
                    part=ticket.part,
                    bind_id=self.name,
                    sequence_number=seq,
                    waited_ms=max(0.0, (now - ticket.sent_at) * 1000.0),
                )
            )
            log.info(
                "smsh.gateway.response_timeout",
                extra={"bind": self.name, "seq": seq, "message_id": attempt.message_id},
            )
            self._resolve(ticket)
        return len(overdue)

    # -- attempt bookkeeping -------------------------------------------------------------------

    def _resolve(self, ticket: Ticket, *, already_done: bool = False) -> None:
        if ticket.state is TicketState.DONE and not already_done:
            return
        ticket.state = TicketState.DONE
        attempt = ticket.attempt
        attempt.outstanding -= 1
        if attempt.outstanding == 0:
            self._finish(attempt)

    def _finish(self, attempt: Attempt) -> None:
        """All parts of an attempt are resolved: one store transition (or none)."""
        decision = attempt.failure
        if decision is None and not attempt.abandoned:
            return  # every part ESME_ROK: record_resp moved the message to `submitted`
        ctx = self.ctx
        now = ctx.clock.now()
        store = ctx.store
        mid = attempt.message_id
        if decision is None:  # abandoned with the link (or at stop)
            if attempt.sent_any:
                ctx.tasks.call(
                    lambda done: store.requeue_nowait(
                        mid, now, error="link lost with parts in flight", on_done=done
                    ),
                    lambda _r, _e: ctx.wake_dispatcher(),
                    what="requeue",
                )
            else:
                ctx.tasks.call(
                    lambda done: store.release_nowait(
                        mid, now, reason="link lost before sending", on_done=done
                    ),
                    lambda _r, _e: ctx.wake_dispatcher(),
                    what="release",
                )
            return
        if decision.action is RetryAction.PERMANENT_FAIL:
            state = MessageState.EXPIRED if decision.expired else MessageState.FAILED
            rejected = decision.rule_action is RetryAction.PERMANENT_FAIL

            def finalised(_r: Any, error: BaseException | None) -> None:
                if error is None:
                    ctx.publish_final(
                        mid,
                        state,
                        ctx.clock.now(),
                        reason=decision.reason,
                        parts=attempt.parts_total,
                        attempts=attempt.attempt,
                        by_receipt=False,
                        rejected=rejected,
                        client_ref=attempt.client_ref,
                    )

            ctx.tasks.call(
                lambda done: store.finalise_nowait(
                    mid, state, now, error=decision.reason, on_done=done
                ),
                finalised,
                what="finalise",
            )
            return
        retry_at = decision.retry_at
        ctx.tasks.call(
            lambda done: store.requeue_nowait(
                mid, now, retry_at=retry_at, error=decision.reason, on_done=done
            ),
            (lambda _r, _e: ctx.wake_dispatcher()) if not retry_at or retry_at <= now else None,
            what="requeue",
        )
