"""The simulated SMSC's pure application core (``Smsc``) and the handler interface.

``simulator.server`` runs it under a thin asyncio shell (and re-exports every public name here).

Layering (aiosmtpd's split: the server parses, the handler decides)::

    SimulatorServer / _Connection   simulator.server, the asyncio shell: listeners, one Protocol
                                    per connection, one loop timer per connection, one global
                                    timer; reads loop time, writes bytes. No protocol branching.
    Smsc                            pure core over all connections: binds (simulator.accounts),
                                    submissions and message semantics (simulator.store), the
                                    deliver_sm pump; bytes and ``now`` in, bytes out through each
                                    connection's sink.
    Session (simulator.smpp)        the per-connection SMPP state machine; answers what the
                                    protocol obliges by itself (framing, state, enquire_link, ...).
    Handler                         decides each message's fate: ``handle_submit`` answers a
                                    submission, ``advance(now)`` returns due receipt / MO orders
                                    and bus events. ``FixedFateHandler`` (the default) delivers
                                    everything after a fixed delay; the carrier model
                                    (simulator.network.CarrierNetwork) plugs in through an adapter.

Handler interface (duck-typed, ``Handler`` protocol)::

    handle_submit(submission: Submission, now: float) -> Verdict
        Verdict(status, message_id, respond, generic_nack, delay_s, before=(ReceiptOrder, ...))
    advance(now: float) -> Iterable[ReceiptOrder | MoOrder | AlertOrder | sms.bus event]
    next_due() -> float | None
    handle_cancel(message_id: str, now: float) -> None        # optional
    session_decision(now, account, *, pdus_received, bound_at) -> SessionDecision   # optional
    next_session_deadline(now: float, account: str) -> float | None                 # optional
    set_publishing(on: bool) -> None    # optional: told once whether a bus listens
    fault_plan: FaultPlan               # optional: the live plan simulator.control changes

Session faults (``simulator.network.faults``, session phase): after every read that brought
PDUs, and at every instant ``next_session_deadline`` names (the global timer), the core asks
``session_decision`` for each bound session not already faulted and carries it out:
``disconnect`` closes the connection without unbind; ``unbind`` sends unbind and closes on
unbind_resp or when the response timer (``timers.response_s``) runs out; ``stall`` stops
reading the socket (``LinkSink.set_reading``; input that still arrives is held) and sends it no
deliver_sm until the window ends. Each is published as ``FaultInjected`` (target = the session)
and ``FaultCleared`` (the stall ends, or the session closes); the closing ``BindStateChanged``
says ``reason="fault <kind>"``.

Wire faults (``simulator.wire``, the ``wire_faults`` configuration section) damage what the core
writes: each frame of a targeted command (deliver_sm, submit_sm_resp, enquire_link) passes
``WirePlan.damage_frame`` on its way out; a bind may get a deliver_sm before its bind_resp; a
bound session may get garbage octets once. The session's books are untouched (it believes it
wrote a sound PDU), so a damaged submit_sm_resp leaves the message's record and fate as they
were, and a damaged deliver_sm is redelivered whatever the ESME answers. Each damaged write is
published as ``Alert(alert_kind="malformed_pdu")``.

The carrier model maps onto it one to one: ``CarrierNetwork.submit`` -> ``Verdict`` (status,
message_id, respond, generic_nack, response_delay_s -> delay_s, before_response -> before),
``ReceiptDue`` -> ``ReceiptOrder`` (resp_message_id -> message_id, message_id -> receipt_id,
text, esm_class 0x20 -> intermediate, source_addr -> destination), ``MoDue`` -> ``MoOrder``
(a DeliverSm built from its fields), ``AlertDue`` -> ``AlertOrder`` (an AlertNotification),
``NetworkEvent`` -> a bus event; ``next_due`` as is.

Outbind (SMPP 3.4 §2.2.1, §4.1.7; ``AccountConfig.outbind``): when an account with an outbind
target has deliveries (receipts, MO) or alert_notifications waiting and no receiver or
transceiver bound, the core marks it (``_pump``); the shell asks ``due_outbinds(now)``, connects
to the ESME, and hands the new connection to ``start_outbind``, which writes ``outbind`` on it.
From then on it is an ordinary connection: the ESME's bind_receiver (or any bind its account
allows) is served as if it had connected itself. A refused, timed-out or closed-before-binding
attempt (``outbind_failed``) is retried after a back-off that doubles from ``retry_initial_s``
to ``retry_max_s`` (``next_wakeup`` includes it); a receiver bind of the account ends it. At most
one attempt per account is in progress.

``now`` for the handler is *simulated* epoch seconds (the injected ``sms.clock.Clock``); the core
and the sessions use the shell's monotonic loop time. A handler that raises is answered
ESME_RSYSERR (SMPP-ERRORS row 13); it never reaches the event loop.

Invariants of this module:

* The core never blocks, sleeps, reads the loop or a socket. Every top-level ``Smsc`` method ends
  by flushing: each connection with output gets one ``sink.flush(data, close)`` call, bytes in
  the order the session produced them. ``data`` runs the handler's orders already due (``tick``
  work) before it flushes, so a receipt due at once leaves in the same write as its
  submit_sm_resp (after it).
* Every request gets exactly the answer SMPP-ERRORS.md obliges; what the session does not answer
  by itself, the core answers here (rows 8, 10, 11, 12, 13, 18, 19). A fault in the core or the
  handler is answered ESME_RSYSERR and logged, never propagated.
* Memory is bounded per connection (framer <= max_command_length; unanswered requests <= the
  window; deliver_sm in flight <= the account's delivery_window, else delivery.window; unsent
  output paused at write_buffer_high by the shell) and per server (store, queues, lockout,
  accounts: see their modules).
* Bus events are published only when a bus is given, with ``at`` from the simulated clock.
* Metrics: one ``MetricsSnapshot`` a second (real) from one ``MetricsAggregator``. Each session
  counts the submissions it received and the ESME_RTHROTTLED answers it gave in two ints
  (``Link.submits`` / ``Link.throttled``); each snapshot records their growth as the bind's
  ``BIND_SUBMITTED`` / ``BIND_THROTTLED`` counts (bind_id = the session name), and a closed
  session is forgotten (``forget_bind``), so the hot path never touches the aggregator.
* A session fault is decided at most once per session (``Link.faulted``), except stalls, which
  end by themselves; with no fault hooks and no wire faults the hot path does no extra work
  beyond a PDU counter.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeAlias, cast

from simulator.accounts import Account, AccountBook
from simulator.config import (
    AccountConfig,
    BindModeName,
    OutbindConfig,
    ReceiptConfig,
    SimulatorConfig,
)
from simulator.errors import UnknownAccountError
from simulator.smpp.codec import encode
from simulator.smpp.constants import SMPP_VERSION_34, CommandId, CommandStatus, Tag
from simulator.smpp.errors import SmppProtocolError
from simulator.smpp.events import (
    AutoReplied,
    PduReceived,
    ProtocolViolation,
    RequestTimedOut,
    SessionClosed,
)
from simulator.smpp.pdu import (
    AlertNotification,
    BindReceiverResp,
    BindRequest,
    BindResponse,
    BindTransceiverResp,
    BindTransmitterResp,
    CancelSm,
    CancelSmResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    DistributionListDestAddress,
    GenericNack,
    Outbind,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    Request,
    Response,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Tlv,
    Unbind,
    UnsuccessSme,
    make_error_response,
    tlv_u8,
)
from simulator.smpp.session import Role, Session, SessionConfig
from simulator.store import (
    CheckedTimes,
    Delivery,
    DeliveryQueues,
    IdGenerator,
    MessageRecord,
    MessageStore,
    check_address,
    check_message,
    format_smpp_time,
    mo_pdus,
    receipt_pdu,
    split_user_data,
    wants_receipt,
)
from simulator.wire import DAMAGED_COMMANDS, WirePlan, damage
from sms.alphabet import Encoding
from sms.bus.events import (
    Alert,
    BaseEvent,
    BindStateChanged,
    Event,
    FaultCleared,
    FaultInjected,
    MetricsSnapshot,
    MoSent,
    ReceiptSent,
    SubmitReceived,
)
from sms.bus.metrics import BIND_SUBMITTED, BIND_THROTTLED, MetricsAggregator
from sms.clock import Clock, SystemClock
from sms.receipt import state_for_stat
from sms.segments import Method, Sar
from sms.udh import Concat

__all__ = [
    "ACCEPT",
    "AlertOrder",
    "FixedFateHandler",
    "Handler",
    "HandlerEffect",
    "Link",
    "LinkSink",
    "MoOrder",
    "ReceiptOrder",
    "ServerStats",
    "Smsc",
    "Submission",
    "Verdict",
]

logger = logging.getLogger("smsh.simulator")


_C = CommandId
_S = CommandStatus
_GENERIC_NACK: Final[int] = _C.GENERIC_NACK
# Enum members the per-PDU path reads, read once (a member looked up on its class costs ~60 ns
# on 3.11, several times per message).
_SUBMIT_SM: Final = _C.SUBMIT_SM
_DELIVER_SM: Final = _C.DELIVER_SM
_RTHROTTLED: Final = _S.ESME_RTHROTTLED
#: Stat words whose message_state the core remembers (the standard ones are a dozen).
_MAX_STAT_WORDS: Final[int] = 64
_SEQ_MAX: Final[int] = 0x7FFFFFFF
_SC_VERSION: Final[tuple[Tlv, ...]] = (tlv_u8(Tag.SC_INTERFACE_VERSION, SMPP_VERSION_34),)
_BIND_MODES: Final[dict[int, BindModeName]] = {
    _C.BIND_TRANSMITTER: "transmitter",
    _C.BIND_RECEIVER: "receiver",
    _C.BIND_TRANSCEIVER: "transceiver",
}
_BIND_RESPONSES: Final[dict[int, type[BindResponse]]] = {
    _C.BIND_TRANSMITTER: BindTransmitterResp,
    _C.BIND_RECEIVER: BindReceiverResp,
    _C.BIND_TRANSCEIVER: BindTransceiverResp,
}


# --------------------------------------------------------------------------------------------
# The handler interface
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Submission:
    """One destination of a submit_sm, data_sm or submit_multi, as a handler sees it.

    The server has already checked the PDU (framing, fields, state, window, throttle, semantics,
    queue capacity); the handler only decides the fate.
    """

    account: str
    """system_id of the submitting session."""
    session_id: int
    """Id of the submitting connection."""
    command_id: int
    """SUBMIT_SM, DATA_SM or SUBMIT_MULTI."""
    message_id: str
    """The id the server proposes (``Verdict.message_id`` may replace it)."""
    service_type: str
    """service_type."""
    source_addr_ton: int
    """TON of source_addr."""
    source_addr_npi: int
    """NPI of source_addr."""
    source_addr: str
    """source_addr."""
    dest_addr_ton: int
    """TON of this destination."""
    dest_addr_npi: int
    """NPI of this destination."""
    destination_addr: str
    """This destination."""
    esm_class: int
    """esm_class."""
    registered_delivery: int
    """registered_delivery."""
    data_coding: int
    """data_coding."""
    udh: bytes
    """The user data header (UDHL included), or b""."""
    body: bytes
    """The user data without UDH (short_message or message_payload)."""
    place: Concat | Sar | None
    """The part's place in a long message (UDH or sar_* TLVs), or None."""
    submitted_at: float
    """Simulated epoch seconds of arrival."""
    schedule_at: float | None = None
    """schedule_delivery_time, resolved to simulated epoch seconds."""
    validity_at: float | None = None
    """validity_period, resolved to simulated epoch seconds."""
    priority_flag: int = 0
    """priority_flag."""
    protocol_id: int = 0
    """protocol_id."""
    tlvs: tuple[Tlv, ...] = ()
    """The PDU's TLVs (vendor TLVs such as 0x1500 message keys included)."""
    message_id_fixed: bool = False
    """submit_multi: True when ``message_id`` is already the stored id (an earlier destination's
    ``Verdict.message_id`` fixed it), so the handler must key this destination by it; False
    when it is only the server's proposal."""


def _submission(
    account: str,
    session_id: int,
    command_id: int,
    message_id: str,
    pdu: SubmitSm | DataSm,
    udh: bytes,
    body: bytes,
    place: Concat | Sar | None,
    submitted_at: float,
    schedule_at: float | None,
    validity_at: float | None,
    priority_flag: int,
    protocol_id: int,
    tlvs: tuple[Tlv, ...],
) -> Submission:
    """The `Submission` of a submit_sm or data_sm: the addressing and class fields their PDUs
    share, plus what the caller parsed or checked (data_sm has no schedule, validity, priority
    or protocol_id)."""
    return Submission(
        account,
        session_id,
        command_id,
        message_id,
        pdu.service_type,
        pdu.source_addr_ton,
        pdu.source_addr_npi,
        pdu.source_addr,
        pdu.dest_addr_ton,
        pdu.dest_addr_npi,
        pdu.destination_addr,
        pdu.esm_class,
        pdu.registered_delivery,
        pdu.data_coding,
        udh,
        body,
        place,
        submitted_at,
        schedule_at,
        validity_at,
        priority_flag,
        protocol_id,
        tlvs,
    )


@dataclass(slots=True)
class Verdict:
    """A handler's answer to one submission. Treat instances as immutable (``ACCEPT`` is shared)."""

    status: int = 0
    """command_status (0 = accepted)."""
    message_id: str | None = None
    """The id to return instead of the proposed one (a carrier model's own ids)."""
    respond: bool = True
    """False: send no answer at all (a black-hole fault)."""
    generic_nack: bool = False
    """Answer with generic_nack(status) instead of the matching response."""
    delay_s: float = 0.0
    """Hold the answer back this many simulated seconds."""
    before: tuple[ReceiptOrder, ...] = ()
    """Receipts to queue before the answer is written (a receipt that overtakes its
    submit_sm_resp, a carrier fault knob). Other receipts come from ``Handler.advance``."""


ACCEPT: Final[Verdict] = Verdict()
"""The plain "accepted" verdict."""


@dataclass(slots=True)
class ReceiptOrder:
    """A handler's order: a message (or one destination of it) reached ``stat``."""

    at: float
    """Simulated epoch seconds the state was reached (the receipt's done date)."""
    message_id: str
    """The message (the id the server answered with)."""
    stat: str = "DELIVRD"
    """Stat word (DELIVRD, EXPIRED, UNDELIV, REJECTD, UNKNOWN, DELETED, ACCEPTD, ENROUTE)."""
    err: int = 0
    """Network error code (receipt ``err:``, query_sm_resp error_code)."""
    receipt_id: str | None = None
    """Id written in the receipt when it differs from ``message_id``."""
    text: str | None = None
    """A complete receipt text to send instead of the standard one (damaged receipts)."""
    intermediate: bool = False
    """An intermediate notification (esm_class 0x20; needs registered_delivery bit 4)."""
    destination: str | None = None
    """The handset reported (submit_multi: which destination); default the message's."""


@dataclass(slots=True)
class MoOrder:
    """A handler's order: deliver one mobile-originated deliver_sm to an account."""

    at: float
    """Simulated epoch seconds (informational)."""
    account: str
    """system_id whose receivers get it."""
    pdu: DeliverSm
    """The deliver_sm (one part; sequence_number is assigned on sending)."""
    text: str = ""
    """The whole text, for the MoSent event (published for part 1 only)."""
    part: int = 1
    """Part seq."""
    total: int = 1
    """Parts in the message."""


@dataclass(slots=True)
class AlertOrder:
    """A handler's order: send alert_notification to an account (SMPP 3.4 §4.12).

    Sent on one bound receiver or transceiver session of the account that can take it; with
    none bound, it waits (at most ``MAX_WAITING_ALERTS`` per account, oldest dropped) and goes
    out when one binds. alert_notification has no response: it is written once, never retried.
    """

    at: float
    """Simulated epoch seconds (informational)."""
    account: str
    """system_id whose receivers get it."""
    pdu: AlertNotification
    """The alert_notification (sequence_number is assigned on sending)."""


#: alert_notification orders kept per account while no receiver is bound.
MAX_WAITING_ALERTS: Final[int] = 1000

HandlerEffect: TypeAlias = ReceiptOrder | MoOrder | AlertOrder | BaseEvent
"""What ``Handler.advance`` may return; bus events are published as they are."""


class Handler(Protocol):
    """Decides the fate of submitted messages (the carrier model's seat)."""

    def handle_submit(self, submission: Submission, now: float) -> Verdict:
        """Answer one submission.

        Args:
            submission: The checked submission.
            now: Simulated epoch seconds.

        Returns:
            The verdict.
        """
        ...

    def advance(self, now: float) -> Iterable[HandlerEffect]:
        """Return the orders that fell due by ``now`` (simulated), in time order."""
        ...

    def next_due(self) -> float | None:
        """Simulated epoch seconds of the next due order, or None when idle."""
        ...


class FixedFateHandler:
    """The default handler: every accepted message reaches one fixed state after a delay.

    ``stat`` (DELIVRD by default) ``delay_s`` simulated seconds after submission or after
    schedule_delivery_time, whichever is later; EXPIRED at validity_period if that comes first.
    One order per message (per destination for submit_multi) whatever registered_delivery says,
    so query_sm sees the final state; the server sends a receipt only when asked for.
    """

    def __init__(self, config: ReceiptConfig | None = None) -> None:
        """Create the handler.

        Args:
            config: Delay, stat and err; defaults to ``ReceiptConfig()``.
        """
        self._config = config if config is not None else ReceiptConfig()
        self._heap: list[tuple[float, int, ReceiptOrder]] = []
        self._order = itertools.count()

    def handle_submit(self, submission: Submission, now: float) -> Verdict:
        """Accept the submission and schedule its final state.

        Args:
            submission: The submission.
            now: Simulated epoch seconds.

        Returns:
            ``ACCEPT``.
        """
        config = self._config
        start = submission.submitted_at
        if submission.schedule_at is not None and submission.schedule_at > start:
            start = submission.schedule_at
        due = start + config.delay_s
        stat = config.stat
        err = config.err
        validity = submission.validity_at
        if validity is not None and due > validity:
            due, stat, err = validity, "EXPIRED", 0
        heapq.heappush(
            self._heap,
            (
                due,
                next(self._order),
                ReceiptOrder(
                    due, submission.message_id, stat, err, destination=submission.destination_addr
                ),
            ),
        )
        return ACCEPT

    def advance(self, now: float) -> list[ReceiptOrder]:
        """Pop the orders due by ``now``.

        Args:
            now: Simulated epoch seconds.

        Returns:
            The due orders, oldest first.
        """
        heap = self._heap
        out: list[ReceiptOrder] = []
        while heap and heap[0][0] <= now:
            out.append(heapq.heappop(heap)[2])
        return out

    def next_due(self) -> float | None:
        """Simulated epoch seconds of the next order, or None."""
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        """Orders scheduled."""
        return len(self._heap)


# --------------------------------------------------------------------------------------------
# The pure core
# --------------------------------------------------------------------------------------------


class LinkSink(Protocol):
    """Where the core sends a connection's output (the shell's protocol object, or a test's)."""

    def flush(self, data: bytes, close: bool) -> None:
        """Write ``data`` (may be empty), then close the connection if ``close``."""
        ...

    # Optional: ``set_reading(reading: bool) -> None`` stops (False) or resumes (True) reading
    # the connection (a stall fault). A sink without it gets its input held by the core.


@dataclass(slots=True)
class ServerStats:
    """Counters of one server since it started (gauges are "now")."""

    connections: int = 0
    """Connections open now (gauge)."""
    connections_total: int = 0
    """Connections accepted."""
    connections_refused: int = 0
    """Connections closed at once (max_connections)."""
    binds: int = 0
    """Sessions bound now (gauge)."""
    binds_total: int = 0
    """Successful binds."""
    bind_failures: int = 0
    """Binds refused."""
    submits: int = 0
    """submit_sm, data_sm and submit_multi received (answered by the server)."""
    accepted: int = 0
    """Of those, accepted."""
    throttled: int = 0
    """Of those, answered ESME_RTHROTTLED (rate or window)."""
    refused: int = 0
    """Of those, answered with another error status (or not at all)."""
    queries: int = 0
    """query_sm answered."""
    cancels: int = 0
    """cancel_sm answered."""
    replaces: int = 0
    """replace_sm answered."""
    receipts_queued: int = 0
    """Receipts put in the delivery queues."""
    receipts_sent: int = 0
    """Receipts acknowledged with ESME_ROK."""
    mo_queued: int = 0
    """MO parts put in the delivery queues."""
    mo_sent: int = 0
    """MO parts acknowledged with ESME_ROK."""
    deliveries_written: int = 0
    """deliver_sm written (attempts, redeliveries included)."""
    redeliveries: int = 0
    """deliver_sm attempts scheduled again (temporary error, timeout, connection lost)."""
    deliveries_dropped: int = 0
    """Deliveries given up (queue full, attempts exhausted, permanent error)."""
    receipts_unknown: int = 0
    """Receipt orders for ids the store does not know (dropped)."""
    protocol_errors: int = 0
    """Protocol violations the sessions answered by themselves."""
    handler_errors: int = 0
    """Exceptions raised by the handler (answered ESME_RSYSERR)."""
    internal_errors: int = 0
    """Bugs caught at the edge of the core (the connection concerned is closed)."""
    paused: int = 0
    """Connections whose reading is paused because they do not read (gauge)."""
    wire_faults: int = 0
    """Damaged writes (malformed PDUs, deliver_sm before bind_resp, garbage)."""
    alerts_sent: int = 0
    """alert_notification written."""
    alerts_dropped: int = 0
    """alert_notification orders dropped (too many waiting for a receiver)."""
    outbinds: int = 0
    """outbind connection attempts (``OutbindConfig``), failed ones included."""
    outbind_failures: int = 0
    """Of those, refused, timed out, or closed before a receiver bound."""


@dataclass(slots=True)
class _OutbindState:
    """An account waiting for an ESME to bind after outbind (one per account at most)."""

    target: OutbindConfig
    next_at: float
    """Monotonic time of the next attempt."""
    delay: float
    """Back-off after the next failure."""
    dialing: bool = False
    """A connection attempt or an outbind connection is in progress."""


class Link:
    """One connection as the core sees it."""

    __slots__ = (
        "account",
        "bound_at",
        "bound_sim",
        "closing",
        "damaged",
        "drop_reason",
        "fault_ids",
        "faulted",
        "held",
        "host",
        "id",
        "in_flight",
        "mode",
        "name",
        "out",
        "outbind",
        "paused",
        "pdus",
        "peer",
        "session",
        "sink",
        "smpp5",
        "stalled_until",
        "submits",
        "submits_reported",
        "throttled",
        "throttled_reported",
        "window",
    )

    def __init__(self, link_id: int, host: str, port: int, session: Session, sink: LinkSink):
        self.id = link_id
        """Connection id (unique per server)."""
        self.host = host
        """Peer IP address."""
        self.peer = f"{host}:{port}"
        """Peer as host:port."""
        self.name = f"s{link_id}"
        """Session name in bus events (bind_id)."""
        self.session = session
        """The SMPP session."""
        self.sink = sink
        """Output."""
        self.out: list[bytes] = []
        """Output not flushed yet."""
        self.account: Account | None = None
        """The bound account."""
        self.mode: BindModeName = "transceiver"
        """Bind mode once bound."""
        self.smpp5 = False
        """Bound with interface_version >= 0x50."""
        self.in_flight: dict[int, Delivery] = {}
        """deliver_sm sent and unanswered, by sequence number."""
        self.outbind: str | None = None
        """The account this connection was opened for (outbind), or None when accepted."""
        self.submits = 0
        """submit_sm / data_sm / submit_multi received on this session (answered or not yet)."""
        self.throttled = 0
        """Of those, answered ESME_RTHROTTLED."""
        self.submits_reported = 0
        """``submits`` already recorded in the metrics aggregator (per-bind counters)."""
        self.throttled_reported = 0
        """``throttled`` already recorded in the metrics aggregator."""
        self.closing = False
        """The session closed: flush and close the connection."""
        self.paused = False
        """The peer does not read: no deliveries until it does."""
        self.bound_at = 0.0
        """Loop time of the bind."""
        self.bound_sim = 0.0
        """Simulated epoch seconds of the bind (session faults compare against it)."""
        self.pdus = 0
        """PDUs received on this connection (bind included; session faults count them)."""
        self.window = 10
        """deliver_sm outstanding at most (the account's, else ``delivery.window``)."""
        self.faulted = False
        """A session fault closes (or unbinds) this session: no further fault decisions."""
        self.drop_reason: str | None = None
        """Why the server drops the session (a fault), for the closing ``BindStateChanged``."""
        self.stalled_until: float | None = None
        """A stall fault holds this session until then (simulated epoch seconds; may be inf)."""
        self.held = b""
        """Octets that arrived while stalled (read once the stall ends)."""
        self.fault_ids: list[tuple[str, str]] = []
        """(fault_id, kind) of faults carried out on the session, cleared when it closes."""
        self.damaged: set[int] = set()
        """Sequence numbers of deliver_sm written damaged (a wire fault): redelivered on error."""

    @property
    def system_id(self) -> str:
        """The bound system_id, or ""."""
        return self.account.system_id if self.account is not None else ""


class Smsc:
    """The SMSC application over all connections (pure: bytes and ``now`` in, bytes out).

    ``now`` arguments are the shell's monotonic time; simulated time comes from ``clock``.
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        handler: Handler | None = None,
        clock: Clock | None = None,
        publish: Callable[[Event], None] | None = None,
        now: float = 0.0,
    ) -> None:
        """Create the core.

        Args:
            config: Configuration (default: open mode, receipts on).
            handler: Fate of messages (default ``FixedFateHandler(config.receipts)``).
            clock: Simulated clock for dates and the handler (default ``SystemClock``).
            publish: Publishes bus events (``Publisher.publish_nowait``), or None.
            now: Current monotonic time.
        """
        self.config = config if config is not None else SimulatorConfig()
        cfg = self.config
        self.handler: Handler = handler if handler is not None else FixedFateHandler(cfg.receipts)
        self._on_cancel: Callable[[str, float], object] | None = getattr(
            self.handler, "handle_cancel", None
        )
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._to_real: Callable[[float], float] | None = getattr(self.clock, "to_real", None)
        self._publish = publish
        # A handler that builds bus events only for a listener is told whether there is one.
        set_publishing: Callable[[bool], None] | None = getattr(
            self.handler, "set_publishing", None
        )
        if set_publishing is not None:
            set_publishing(publish is not None)
        self.stats = ServerStats()
        self.store = MessageStore(cfg.store)
        self.queues = DeliveryQueues(cfg.delivery)
        self.accounts = AccountBook(cfg, now=now, in_use=lambda sid: self.queues.queued(sid) > 0)
        self._ids = IdGenerator(cfg.message_ids)
        timers = cfg.timers
        self._session_config = SessionConfig(
            max_command_length=cfg.limits.max_command_length,
            session_init_timeout=timers.session_init_s,
            enquire_link_interval=timers.enquire_link_s,
            inactivity_timeout=timers.inactivity_s,
            response_timeout=timers.response_s,
            pdu_read_timeout=timers.pdu_read_s,
        )
        self._tz = zoneinfo.ZoneInfo(cfg.receipts.timezone)
        self._seconds = cfg.receipts.seconds_in_dates
        self._window_cap = cfg.limits.max_inbound_window
        self._delivery_window = cfg.delivery.window
        self._retry_statuses = frozenset(cfg.delivery.retry_statuses)
        # stat word -> message_state, for the words seen (bounded: a handler may invent words).
        self._states: dict[str, int] = {}
        self.links: dict[int, Link] = {}
        self._receivers: dict[str, list[Link]] = {}
        self._rr: dict[str, int] = {}
        self._ids_links = itertools.count(1)
        self._dirty: list[Link] = []
        self._delayed: list[tuple[float, int, Link, Response]] = []
        self._delayed_order = itertools.count()
        self._mo_reference = 0
        # Metrics intervals are real seconds (rates per real second whatever the simulated
        # clock's speed), stamped on an epoch that starts at the simulated clock's start.
        self._metrics_offset = self.clock.now() - now
        self._metrics = MetricsAggregator(interval=1.0, start=now + self._metrics_offset)
        self._metrics_due = now + 1.0
        self._last_counts: dict[str, int] = {}
        # Outbind (SMPP 3.4 §4.1.7): accounts to connect out to when deliveries wait unreceived.
        self._outbind_targets: dict[str, OutbindConfig] = {
            a.system_id: a.outbind for a in cfg.accounts if a.outbind is not None
        }
        self._outbinds: dict[str, _OutbindState] = {}
        self._alerts_waiting: dict[str, list[AlertOrder]] = {}
        # Session faults (optional handler hooks, the carrier model's) and wire faults.
        self._session_decision: Callable[..., Any] | None = getattr(
            self.handler, "session_decision", None
        )
        self._session_deadline: Callable[[float, str], float | None] | None = getattr(
            self.handler, "next_session_deadline", None
        )
        self._session_due: float | None = None
        self._recheck_sessions = False
        self._stalled: dict[int, Link] = {}
        self._fault_seq = itertools.count(1)
        self._wire: WirePlan | None = (
            WirePlan(cfg.wire_faults, self.clock.now()) if cfg.wire_faults.faults else None
        )
        self._wire_commands: frozenset[int] = (
            self._wire.commands if self._wire is not None else frozenset()
        )
        self._refresh_due(self.clock.now())
        self._dispatch: dict[int, Callable[[Link, Any, float, int], None]] = {
            _C.BIND_TRANSMITTER: self._on_bind,
            _C.BIND_RECEIVER: self._on_bind,
            _C.BIND_TRANSCEIVER: self._on_bind,
            _C.SUBMIT_SM: self._on_submit_sm,
            _C.DATA_SM: self._on_data_sm,
            _C.SUBMIT_MULTI: self._on_submit_multi,
            _C.QUERY_SM: self._on_query_sm,
            _C.CANCEL_SM: self._on_cancel_sm,
            _C.REPLACE_SM: self._on_replace_sm,
        }

    # ----------------------------------------------------------------------------------------
    # Connections (called by the shell)
    # ----------------------------------------------------------------------------------------

    def connect(self, host: str, port: int, sink: LinkSink, now: float) -> Link | None:
        """A connection was accepted.

        Args:
            host: Peer IP address.
            port: Peer port.
            sink: Where its output goes.
            now: Current monotonic time.

        Returns:
            The link, or None when ``max_connections`` is reached (close it at once).
        """
        if len(self.links) >= self.config.limits.max_connections:
            self.stats.connections_refused += 1
            return None
        link = Link(
            next(self._ids_links),
            host,
            port,
            Session(Role.SMSC, now, self._session_config),
            sink,
        )
        self.links[link.id] = link
        self.stats.connections += 1
        self.stats.connections_total += 1
        return link

    def data(self, link: Link, data: bytes, now: float) -> None:
        """Bytes arrived on a connection.

        Args:
            link: The connection.
            data: The bytes, as read.
            now: Current monotonic time.
        """
        if link.stalled_until is not None:
            self._hold(link, data, now)
            self._flush()
            return
        session = link.session
        base = session.inbound_pending_count
        try:
            session.receive_data(data, now)
            self._drain(link, now, base)
        except Exception:  # a bug must cost one connection at most, never the server
            self.stats.internal_errors += 1
            logger.exception("internal error on %s", link.peer, extra=_log(link, "error"))
            link.session.close(now)
            self._drain(link, now, 0)
        self._run_due(now)
        self._flush()

    def _run_due(self, now: float) -> None:
        """Run the handler's orders that are due already (a receipt after 0 s) in this call.

        Their deliver_sm then leave in the same flush as the answers of the read that made
        them due: one write per read, not one for the answers and one at the next loop pass
        (the global timer's ``tick``, which would have run them a moment later).
        """
        try:
            due = self.handler.next_due()
        except Exception:
            return  # the global timer's tick reports it
        if due is None or due > self.clock.now():
            return
        try:
            self._tick(now)
        except Exception:
            self.stats.internal_errors += 1
            logger.exception("internal error in tick", extra={"event": "smsh.simulator.error"})

    def timer(self, link: Link, now: float) -> None:
        """A connection's timer fired.

        Args:
            link: The connection.
            now: Current monotonic time.
        """
        try:
            link.session.handle_timer(now)
            self._drain(link, now, 0)
        except Exception:
            self.stats.internal_errors += 1
            logger.exception("internal error on %s", link.peer, extra=_log(link, "error"))
            link.session.close(now)
            self._drain(link, now, 0)
        self._flush()

    def lost(self, link: Link, now: float) -> None:
        """A connection's transport is gone.

        Args:
            link: The connection.
            now: Current monotonic time.
        """
        if link.id not in self.links:
            return
        link.session.connection_lost(now)
        self._drain(link, now, 0)
        self._forget(link, now)
        self._flush()

    def set_paused(self, link: Link, paused: bool, now: float) -> None:
        """The shell paused or resumed reading a connection (its peer does not read).

        Args:
            link: The connection.
            paused: True when paused.
            now: Current monotonic time.
        """
        if link.paused == paused:
            return
        link.paused = paused
        self.stats.paused += 1 if paused else -1
        if not paused and link.account is not None:
            self._pump(link.account.system_id, now)
            self._flush()

    # ----------------------------------------------------------------------------------------
    # Outbind (called by the shell; SMPP 3.4 §2.2.1, §4.1.7)
    # ----------------------------------------------------------------------------------------

    @property
    def outbinds_waiting(self) -> bool:
        """True when some account waits for an outbind attempt or its outcome."""
        return bool(self._outbinds)

    def due_outbinds(self, now: float) -> list[tuple[str, OutbindConfig]]:
        """The accounts to connect out to now; each is marked as dialing.

        An account is due when its back-off has run out and it still has deliveries waiting
        and no receiver bound; one that no longer needs it is forgotten.

        Args:
            now: Current monotonic time.

        Returns:
            (system_id, where to connect) pairs; the shell connects and calls ``start_outbind``
            on success or ``outbind_failed`` on failure.
        """
        due: list[tuple[str, OutbindConfig]] = []
        for account_id, state in list(self._outbinds.items()):
            if state.dialing or state.next_at > now:
                continue
            waiting = self.queues.has_ready(account_id) or self._alerts_waiting.get(account_id)
            if self._receivers.get(account_id) or not waiting:
                del self._outbinds[account_id]
                continue
            state.dialing = True
            self.stats.outbinds += 1
            due.append((account_id, state.target))
        return due

    def start_outbind(self, link: Link, account_id: str, now: float) -> None:
        """An outbind connection is up: send outbind on it, then serve it like any other.

        Args:
            link: The new connection (from ``connect``).
            account_id: The account it was opened for.
            now: Current monotonic time.
        """
        link.outbind = account_id
        state = self._outbinds.get(account_id)
        target = state.target if state is not None else self._outbind_targets.get(account_id)
        if target is None:
            link.session.close(now)
            self._drain(link, now, 0)
            self._flush()
            return
        pdu = Outbind(
            system_id=target.system_id or self.config.system_id,
            password=target.password.get_secret_value(),
        )
        logger.info("outbind to %s for %s", link.peer, account_id, extra=_log(link, "outbind"))
        self._send(link, pdu, now)
        self._drain(link, now, 0)
        self._flush()

    def outbind_failed(self, account_id: str, now: float) -> None:
        """An outbind attempt failed (refused, timed out, closed before a receiver bound).

        Args:
            account_id: The account.
            now: Current monotonic time.
        """
        state = self._outbinds.get(account_id)
        if state is None or not state.dialing:
            return
        self.stats.outbind_failures += 1
        state.dialing = False
        state.next_at = now + state.delay
        state.delay = min(state.delay * 2.0, state.target.retry_max_s)

    def _want_outbind(self, account_id: str, now: float) -> None:
        target = self._outbind_targets.get(account_id)
        if target is not None and account_id not in self._outbinds:
            self._outbinds[account_id] = _OutbindState(
                target, now, min(target.retry_initial_s, target.retry_max_s)
            )

    def unbind_all(self, now: float) -> None:
        """Send unbind on every bound session (shutting down).

        Args:
            now: Current monotonic time.
        """
        for link in list(self.links.values()):
            if link.session.can_send(_C.UNBIND):
                self._send(link, Unbind(), now)
            elif not link.closing:
                link.session.close(now)
            self._drain(link, now, 0)
        self._flush()

    # ----------------------------------------------------------------------------------------
    # Global timer (called by the shell)
    # ----------------------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Run what fell due: handler orders, retries, held-back answers, metrics.

        Args:
            now: Current monotonic time.
        """
        try:
            self._tick(now)
        except Exception:
            self.stats.internal_errors += 1
            logger.exception("internal error in tick", extra={"event": "smsh.simulator.error"})
        self._flush()

    def _tick(self, now: float) -> None:
        sim_now = self.clock.now()
        touched: set[str] = set()
        try:
            effects = self.handler.advance(sim_now)
            for effect in effects:
                self._apply(effect, now, sim_now, touched)
        except Exception:
            self.stats.handler_errors += 1
            logger.exception("handler.advance failed", extra={"event": "smsh.simulator.handler"})
        touched |= self.queues.due(now)
        delayed = self._delayed
        while delayed and delayed[0][0] <= now:
            _, _, link, response = heapq.heappop(delayed)
            if not link.closing and link.id in self.links:
                self._send(link, response, now)
                self._drain(link, now, 0)
        due = self._session_due
        recheck = self._recheck_sessions
        if recheck or (due is not None and sim_now >= due):
            self._recheck_sessions = False
            self._session_tick(now, sim_now, touched, recheck=recheck)
            self._refresh_due(sim_now)
        for account in touched:
            self._pump(account, now)
        if now >= self._metrics_due:
            self._metrics_due = max(self._metrics_due + 1.0, now + 0.5)
            self._snapshot(now + self._metrics_offset)

    def next_wakeup(self, now: float) -> float:
        """When ``tick`` must run next (at most one second away: the metrics interval).

        Args:
            now: Current monotonic time.

        Returns:
            Monotonic time.
        """
        when = self._metrics_due
        retry = self.queues.next_retry()
        if retry is not None and retry < when:
            when = retry
        if self._delayed and self._delayed[0][0] < when:
            when = self._delayed[0][0]
        try:
            due = self.handler.next_due()
        except Exception:
            due = None
        if due is not None:
            at = now + self._real(due - self.clock.now())
            if at < when:
                when = at
        session_due = self._session_due
        if session_due is not None:
            at = now + self._real(session_due - self.clock.now())
            if at < when:
                when = at
        if self._recheck_sessions:
            when = now
        for state in self._outbinds.values():
            if not state.dialing and state.next_at < when:
                when = state.next_at
        return when

    def faults_changed(self) -> None:
        """The handler's fault plan changed (a runtime injection): decide every session again
        at the next ``tick`` and re-read the fault deadlines."""
        self._recheck_sessions = True

    def _real(self, simulated: float) -> float:
        if simulated <= 0:
            return 0.0
        to_real = self._to_real
        return to_real(simulated) if to_real is not None else simulated

    # ----------------------------------------------------------------------------------------
    # API
    # ----------------------------------------------------------------------------------------

    def inject_mo(
        self,
        account: str,
        source_addr: str,
        destination_addr: str,
        text: str,
        *,
        now: float,
        method: Method | str = Method.UDH8,
        profile: str = "generic",
        encoding: Encoding | None = None,
        source_ton: int = 1,
        source_npi: int = 1,
        dest_ton: int = 0,
        dest_npi: int = 0,
    ) -> int:
        """Queue a mobile-originated message for an account's receivers.

        Args:
            account: system_id to deliver to.
            source_addr: The handset.
            destination_addr: The number or short code it was sent to.
            text: The text (split with ``sms.segments.plan`` when long).
            now: Current monotonic time.
            method: udh8, udh16, sar or payload.
            profile: Segmentation profile.
            encoding: Force an encoding (default GSM-7 if possible, else UCS-2).
            source_ton: TON of the handset number.
            source_npi: NPI of the handset number.
            dest_ton: TON of the destination.
            dest_npi: NPI of the destination.

        Returns:
            The number of deliver_sm parts queued.

        Raises:
            UnknownAccountError: The account is unknown and open mode is off.
            sms.segments.SegmentationError: The text cannot be planned.
        """
        acct = self.accounts.obtain(account, now)
        if acct is None:
            raise UnknownAccountError(f"unknown account {account!r}")
        method = Method(method)
        bits = 8 if method is Method.UDH8 else 16
        reference = self._mo_reference % (1 << bits)
        self._mo_reference += 1
        pdus = mo_pdus(
            source_addr,
            destination_addr,
            text,
            method=method,
            reference=reference,
            profile=profile,
            encoding=encoding,
            source_ton=source_ton,
            source_npi=source_npi,
            dest_ton=dest_ton,
            dest_npi=dest_npi,
        )
        total = len(pdus)
        for index, pdu in enumerate(pdus, start=1):
            self._queue(
                acct,
                Delivery(account, pdu, "mo", destination=destination_addr, part=index),
            )
        self.stats.mo_queued += total
        if self._publish is not None:
            self._emit(
                MoSent(
                    at=self.clock.now(),
                    source=source_addr or "-",
                    destination=destination_addr or "-",
                    text=text,
                    parts=min(max(total, 1), 255),
                )
            )
        self._pump(account, now)
        self._flush()
        return total

    # ----------------------------------------------------------------------------------------
    # Events from a session
    # ----------------------------------------------------------------------------------------

    def _drain(self, link: Link, now: float, base: int) -> None:
        session = link.session
        position = base
        dispatch = self._dispatch
        pdus = link.pdus
        # In batches: handling one event can make the session raise more (they come next).
        while batch := session.take_events():
            for event in batch:
                kind = type(event)
                if kind is PduReceived:
                    link.pdus += 1
                    pdu = cast(PduReceived, event).pdu
                    if isinstance(pdu, Response):
                        self._on_response(link, pdu, now)
                    else:
                        position += 1
                        handle = dispatch.get(pdu.command_id)
                        if handle is not None:
                            handle(link, pdu, now, position)
                elif kind is AutoReplied:
                    link.pdus += 1  # enquire_link, answered by the session itself
                elif kind is ProtocolViolation:
                    self.stats.protocol_errors += 1
                elif kind is RequestTimedOut:
                    self._on_timeout(link, cast(RequestTimedOut, event), now)
                elif kind is SessionClosed:
                    self._on_closed(link, cast(SessionClosed, event), now)
        pending = session.data_to_send()
        if pending:
            self._emit_bytes(link, pending)
        if session.closed and not link.closing:
            link.closing = True
            self._mark(link)
        if (
            link.pdus != pdus
            and self._session_decision is not None
            and link.account is not None
            and not link.faulted
            and not link.closing
            and link.stalled_until is None
        ):
            self._session_check(link, now, self.clock.now())

    def _emit_bytes(self, link: Link, data: bytes, *, raw: bool = False) -> None:
        if self._wire_commands and not raw:
            data = self._wire_out(link, data)
        if not link.out:
            self._dirty.append(link)
        link.out.append(data)

    def _mark(self, link: Link) -> None:
        if not link.out and link not in self._dirty:
            self._dirty.append(link)

    def _flush(self) -> None:
        dirty = self._dirty
        if not dirty:
            return
        self._dirty = []
        for link in dirty:
            out = link.out
            data = out[0] if len(out) == 1 else b"".join(out)
            out.clear()
            link.sink.flush(data, link.closing)

    def _send(self, link: Link, pdu: Pdu, now: float) -> bool:
        """Send one PDU on a link, after whatever the session queued by itself."""
        session = link.session
        pending = session.data_to_send()
        if pending:
            self._emit_bytes(link, pending)
        try:
            data = session.send(pdu, now)
        except SmppProtocolError as exc:
            logger.debug("cannot send %s: %s", type(pdu).__name__, exc, extra=_log(link, "send"))
            return False
        if self._wire_commands:
            self._emit_bytes(link, data)
        else:  # _emit_bytes, written out: two sends per message
            out = link.out
            if not out:
                self._dirty.append(link)
            out.append(data)
        # Sending can complete an exchange the session then answers itself (the unbind_resp
        # owed once the last request before an unbind is answered): keep the order.
        after = session.data_to_send()
        if after:
            self._emit_bytes(link, after)
        if session.closed and not link.closing:
            link.closing = True
        return True

    def _answer(self, link: Link, request: Request, status: int, now: float) -> None:
        response = make_error_response(request.command_id, request.sequence_number, status)
        self._send(link, response, now)

    # ----------------------------------------------------------------------------------------
    # Binds
    # ----------------------------------------------------------------------------------------

    def _on_bind(self, link: Link, pdu: BindRequest, now: float, position: int) -> None:
        mode = _BIND_MODES[pdu.command_id]
        verdict = self.accounts.authorize(pdu.system_id, pdu.password, mode, link.host, now)
        response_class = _BIND_RESPONSES[pdu.command_id]
        if verdict.status != 0 or verdict.account is None:
            self.stats.bind_failures += 1
            logger.info(
                "bind refused from %s: %s (0x%02X)",
                link.peer,
                verdict.reason,
                verdict.status,
                extra=_log(link, "bind_refused"),
            )
            self._send(link, response_class(pdu.sequence_number, verdict.status), now)
            self._bind_event(link, pdu.system_id, mode, "closed", verdict.reason, verdict.status)
            return
        account = verdict.account
        sim_now = self.clock.now()
        wire = self._wire
        if wire is not None and wire.before_bound(account.system_id, sim_now):
            self._deliver_before_bound(link, account.system_id, sim_now)
        response = response_class(pdu.sequence_number, 0, self.config.system_id, tlvs=_SC_VERSION)
        if not self._send(link, response, now):
            return
        link.account = account
        link.mode = mode
        link.smpp5 = pdu.interface_version >= 0x50
        link.bound_at = now
        link.bound_sim = sim_now
        window = account.limits.delivery_window
        link.window = window if window is not None else self._delivery_window
        AccountBook.bound(account, link.id)
        self.stats.binds += 1
        self.stats.binds_total += 1
        self._bind_event(link, account.system_id, mode, "bound", None, 0)
        if wire is not None and wire.has_garbage:
            self._garbage(link, sim_now)
        if self._session_deadline is not None:
            self._refresh_due(sim_now)
        if mode != "transmitter":
            self._outbinds.pop(account.system_id, None)
            self._receivers.setdefault(account.system_id, []).append(link)
            for order in self._alerts_waiting.pop(account.system_id, ()):
                self._alert(order, now)
            self._pump(account.system_id, now)

    def _bind_event(
        self,
        link: Link,
        system_id: str,
        mode: BindModeName,
        state: str,
        reason: str | None,
        status: int | None,
    ) -> None:
        if self._publish is None:
            return
        self._emit(
            BindStateChanged(
                at=self.clock.now(),
                component="simulator",
                instance=self.config.instance,
                bind_id=link.name,
                system_id=system_id,
                mode=mode,
                state=cast(Any, state),
                peer=link.peer,
                reason=reason,
                command_status=status,
            )
        )

    def _on_closed(self, link: Link, event: SessionClosed, now: float) -> None:
        link.closing = True
        self._mark(link)
        self._forget(link, now, reason=link.drop_reason or event.reason.value)

    def _forget(self, link: Link, now: float, reason: str = "connection_lost") -> None:
        """Unregister a link (idempotent) and give its deliveries back to the queues."""
        if self.links.pop(link.id, None) is None:
            return
        self._metrics.forget_bind(link.name)
        self.stats.connections -= 1
        if link.paused:
            link.paused = False
            self.stats.paused -= 1
        self._stalled.pop(link.id, None)
        link.stalled_until = None
        link.held = b""
        link.damaged.clear()
        if self._wire is not None:
            self._wire.forget(link.name)
        for fault_id, fault_kind in link.fault_ids:
            self._emit(
                FaultCleared(
                    at=self.clock.now(),
                    fault_id=fault_id,
                    fault_kind=fault_kind,
                    reason="session_closed",
                )
            )
        link.fault_ids.clear()
        if link.outbind is not None:
            self.outbind_failed(link.outbind, now)  # no-op once a receiver bound
        account = link.account
        if account is None:
            return
        AccountBook.unbound(account, link.id)
        self.stats.binds -= 1
        receivers = self._receivers.get(account.system_id)
        if receivers is not None and link in receivers:
            receivers.remove(link)
            if not receivers:
                del self._receivers[account.system_id]
        in_flight = list(link.in_flight.values())
        link.in_flight.clear()
        for delivery in reversed(in_flight):
            self.stats.redeliveries += 1
            self._queue(account, delivery, front=True)
        self._bind_event(link, account.system_id, link.mode, "closed", reason, None)
        if in_flight:
            self._pump(account.system_id, now)

    # ----------------------------------------------------------------------------------------
    # Submissions
    # ----------------------------------------------------------------------------------------

    def _admit(self, link: Link, now: float, position: int, sim_now: float | None = None) -> int:
        """Window (row 12), rate (row 11) and queue capacity (row 13) checks.

        ``sim_now`` is the simulated clock's time when the caller has read it already.
        """
        account = link.account
        assert account is not None
        limits = account.limits
        window = limits.window if limits.window is not None else self._window_cap
        # max_tps is a rate of the scenario's world, so it counts simulated seconds: at speed 4
        # an account of 30/s admits 120 submits per real second (the same as at speed 1 in
        # simulated time). `now` (the shell's monotonic time) would make it 4x stricter.
        if position > window or not account.admit(self.clock.now() if sim_now is None else sim_now):
            return _S.ESME_RTHROTTLED
        if self.store.full or (
            limits.max_queue is not None
            and self.store.pending_for(account.system_id) >= limits.max_queue
        ):
            return _S.ESME_RMSGQFUL
        return 0

    def _refuse(self, link: Link, pdu: Request, status: int, now: float) -> None:
        stats = self.stats
        stats.submits += 1
        if status == _S.ESME_RTHROTTLED:
            stats.throttled += 1
        else:
            stats.refused += 1
        self._answer(link, pdu, status, now)

    def _decide(self, submission: Submission, sim_now: float) -> Verdict:
        try:
            return self.handler.handle_submit(submission, sim_now)
        except Exception:
            self.stats.handler_errors += 1
            logger.exception(
                "handler.handle_submit failed", extra={"event": "smsh.simulator.handler"}
            )
            return Verdict(status=_S.ESME_RSYSERR)

    def _respond(
        self, link: Link, request: Request, verdict: Verdict, ok: Response | None, now: float
    ) -> None:
        """Answer a submission as the verdict says (now, later, never; response or nack)."""
        for order in verdict.before:
            account = self._receipt(order)
            if account is not None:
                self._pump(account, now)
        if not verdict.respond:
            return
        if verdict.status != 0 or ok is None:
            status = verdict.status or _S.ESME_RSYSERR
            response: Response = (
                GenericNack(request.sequence_number, status)
                if verdict.generic_nack
                else make_error_response(request.command_id, request.sequence_number, status)
            )
        else:
            response = ok
        if verdict.delay_s > 0:
            heapq.heappush(
                self._delayed,
                (now + self._real(verdict.delay_s), next(self._delayed_order), link, response),
            )
        else:
            self._send(link, response, now)

    @staticmethod
    def _check_message_fields(
        link: Link, pdu: SubmitSm | SubmitMulti, sim_now: float, times: CheckedTimes
    ) -> int:
        """SMPP-ERRORS rows 18-19 on the message fields submit_sm and submit_multi share."""
        return check_message(
            esm_class=pdu.esm_class,
            registered_delivery=pdu.registered_delivery,
            data_coding=pdu.data_coding,
            priority_flag=pdu.priority_flag,
            replace_if_present_flag=pdu.replace_if_present_flag,
            schedule_delivery_time=pdu.schedule_delivery_time,
            validity_period=pdu.validity_period,
            smpp5=link.smpp5,
            now=sim_now,
            times=times,
        )

    def _on_submit_sm(self, link: Link, pdu: SubmitSm, now: float, position: int) -> None:
        sim_now = self.clock.now()
        status = self._admit(link, now, position, sim_now)
        times = CheckedTimes()
        if not status:
            status = (
                check_address(
                    pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr, source=True
                )
                or check_address(
                    pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr, source=False
                )
                or self._check_message_fields(link, pdu, sim_now, times)
            )
        if status:
            self._refuse(link, pdu, status, now)
            self._submit_event(link, pdu, status, None, None)
            return
        account = link.account
        assert account is not None
        tlvs = pdu.tlvs
        payload = pdu.message_payload if tlvs else None
        udh, body, place = split_user_data(
            payload if payload is not None else pdu.short_message, pdu.esm_class, tlvs
        )
        submission = _submission(
            account.system_id,
            link.id,
            _SUBMIT_SM,
            self._ids(),
            pdu,
            udh,
            body,
            place,
            sim_now,
            times.schedule_at,
            times.validity_at,
            pdu.priority_flag,
            pdu.protocol_id,
            tlvs,
        )
        if pdu.replace_if_present_flag:
            old = self.store.replaceable(
                account.system_id, pdu.source_addr, pdu.destination_addr, pdu.service_type
            )
            if old is not None:
                self.store.supersede(old, sim_now)
                self._notify_cancel(old.message_id, sim_now)
        verdict = self._decide(submission, sim_now)
        message_id = self._accept(submission, verdict)
        ok = SubmitSmResp(pdu.sequence_number, 0, message_id) if message_id is not None else None
        self._respond(link, pdu, verdict, ok, now)
        self._submit_event(link, pdu, verdict.status, message_id, place)

    def _accept(self, submission: Submission, verdict: Verdict) -> str | None:
        """Store an accepted submission; returns its id, or None when refused."""
        stats = self.stats
        stats.submits += 1
        if verdict.status != 0:
            if verdict.status == _S.ESME_RTHROTTLED:
                stats.throttled += 1
            else:
                stats.refused += 1
            return None
        stats.accepted += 1
        message_id = verdict.message_id or submission.message_id
        place = submission.place
        self.store.add(
            MessageRecord(
                message_id,
                submission.account,
                submission.service_type,
                submission.source_addr_ton,
                submission.source_addr_npi,
                submission.source_addr,
                submission.dest_addr_ton,
                submission.dest_addr_npi,
                submission.destination_addr,
                submission.esm_class,
                submission.registered_delivery,
                submission.data_coding,
                submission.body,
                submission.submitted_at,
                submission.schedule_at,
                submission.validity_at,
                place.seq if place is not None else None,
                place.total if place is not None else None,
            )
        )
        return message_id

    def _submit_event(
        self,
        link: Link,
        pdu: SubmitSm | DataSm | SubmitMulti,
        status: int,
        message_id: str | None,
        place: Concat | Sar | None,
    ) -> None:
        # Per-session counters: plain ints here, fed to the metrics per snapshot (hot path).
        link.submits += 1
        if status == _RTHROTTLED:
            link.throttled += 1
        if self._publish is None or not 1 <= pdu.sequence_number <= _SEQ_MAX:
            return
        destination = (
            pdu.destination_addr
            if not isinstance(pdu, SubmitMulti)
            else ",".join(
                d.destination_addr if not isinstance(d, DistributionListDestAddress) else d.dl_name
                for d in pdu.dest_addresses
            )
        )
        self._emit(
            SubmitReceived(
                at=self.clock.now(),
                bind_id=link.name,
                system_id=link.system_id,
                sequence_number=pdu.sequence_number,
                source=pdu.source_addr,
                destination=destination,
                command_status=status & 0xFFFFFFFF,
                smsc_message_id=message_id,
                part=place.seq if place is not None else None,
                parts=place.total if place is not None else None,
            )
        )

    def _on_data_sm(self, link: Link, pdu: DataSm, now: float, position: int) -> None:
        status = self._admit(link, now, position)
        sim_now = self.clock.now()
        if not status:
            status = (
                check_address(
                    pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr, source=True
                )
                or check_address(
                    pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr, source=False
                )
                or check_message(
                    esm_class=pdu.esm_class,
                    registered_delivery=pdu.registered_delivery,
                    data_coding=pdu.data_coding,
                    smpp5=link.smpp5,
                    now=sim_now,
                )
            )
        if status:
            self._refuse(link, pdu, status, now)
            self._submit_event(link, pdu, status, None, None)
            return
        account = link.account
        assert account is not None
        payload = pdu.message_payload
        udh, body, place = split_user_data(payload or b"", pdu.esm_class, pdu.tlvs)
        submission = _submission(
            account.system_id,
            link.id,
            _C.DATA_SM,
            self._ids(),
            pdu,
            udh,
            body,
            place,
            sim_now,
            None,
            None,
            0,
            0,
            pdu.tlvs,
        )
        verdict = self._decide(submission, sim_now)
        message_id = self._accept(submission, verdict)
        ok = DataSmResp(pdu.sequence_number, 0, message_id) if message_id is not None else None
        self._respond(link, pdu, verdict, ok, now)
        self._submit_event(link, pdu, verdict.status, message_id, place)

    def _on_submit_multi(self, link: Link, pdu: SubmitMulti, now: float, position: int) -> None:
        status = self._admit(link, now, position)
        sim_now = self.clock.now()
        times = CheckedTimes()
        if not status and not pdu.dest_addresses:
            status = _S.ESME_RINVNUMDESTS
        if not status:
            status = check_address(
                pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr, source=True
            ) or self._check_message_fields(link, pdu, sim_now, times)
        if status:
            self._refuse(link, pdu, status, now)
            self._submit_event(link, pdu, status, None, None)
            return
        account = link.account
        assert account is not None
        payload = pdu.message_payload if pdu.tlvs else None
        udh, body, place = split_user_data(
            payload if payload is not None else pdu.short_message, pdu.esm_class, pdu.tlvs
        )
        # The stored id: the server's proposal until the handler names one for the first
        # accepted destination; then that id (the handler's ids and the server's own never
        # share the store, so they cannot collide whatever their format).
        message_id = self._ids()
        fixed = False
        failed: list[UnsuccessSme] = []
        accepted: list[Submission] = []
        held: Verdict | None = None
        lists = _distribution_lists(account)
        for dest in pdu.dest_addresses:
            if isinstance(dest, DistributionListDestAddress):
                members = lists.get(dest.dl_name)
                if members is None:
                    # 3.4 §5.1.3: ESME_RINVDLNAME, reported for this destination only.
                    failed.append(UnsuccessSme(0, 0, dest.dl_name, _S.ESME_RINVDLNAME))
                    continue
                targets = [_member_address(member) for member in members]
            else:
                targets = [(dest.dest_addr_ton, dest.dest_addr_npi, dest.destination_addr)]
            for ton, npi, address in targets:
                dest_status = check_address(ton, npi, address, source=False)
                if not dest_status:
                    submission = Submission(
                        account.system_id,
                        link.id,
                        _C.SUBMIT_MULTI,
                        message_id,
                        pdu.service_type,
                        pdu.source_addr_ton,
                        pdu.source_addr_npi,
                        pdu.source_addr,
                        ton,
                        npi,
                        address,
                        pdu.esm_class,
                        pdu.registered_delivery,
                        pdu.data_coding,
                        udh,
                        body,
                        place,
                        sim_now,
                        times.schedule_at,
                        times.validity_at,
                        pdu.priority_flag,
                        pdu.protocol_id,
                        pdu.tlvs,
                        fixed,
                    )
                    verdict = self._decide(submission, sim_now)
                    dest_status = verdict.status
                    if not dest_status:
                        if not fixed:
                            fixed = True
                            if verdict.message_id:
                                message_id = verdict.message_id
                                submission.message_id = message_id
                        accepted.append(submission)
                        if not verdict.respond or verdict.delay_s > 0:
                            held = verdict
                if dest_status:
                    failed.append(UnsuccessSme(ton, npi, address, dest_status))
        self.stats.submits += 1
        if accepted:
            self.stats.accepted += 1
            first = accepted[0]
            self.store.add(
                MessageRecord(
                    message_id,
                    first.account,
                    first.service_type,
                    first.source_addr_ton,
                    first.source_addr_npi,
                    first.source_addr,
                    first.dest_addr_ton,
                    first.dest_addr_npi,
                    first.destination_addr,
                    first.esm_class,
                    first.registered_delivery,
                    first.data_coding,
                    first.body,
                    sim_now,
                    first.schedule_at,
                    first.validity_at,
                    destinations=len(accepted),
                )
            )
        else:
            self.stats.refused += 1
        ok = SubmitMultiResp(pdu.sequence_number, 0, message_id, tuple(failed[:255]))
        self._respond(link, pdu, held or ACCEPT, ok, now)
        self._submit_event(link, pdu, 0, message_id if accepted else None, place)

    # ----------------------------------------------------------------------------------------
    # Message management
    # ----------------------------------------------------------------------------------------

    def _on_query_sm(self, link: Link, pdu: QuerySm, now: float, position: int) -> None:
        account = link.account
        assert account is not None
        self.stats.queries += 1
        status, record = self.store.query(pdu.message_id, account.system_id, pdu.source_addr)
        if status or record is None:
            self._answer(link, pdu, status or _S.ESME_RQUERYFAIL, now)
            return
        final_date = (
            format_smpp_time(record.final_at, self._tz) if record.final_at is not None else ""
        )
        self._send(
            link,
            QuerySmResp(
                pdu.sequence_number,
                0,
                pdu.message_id,
                final_date,
                record.state,
                min(record.error_code, 255),
            ),
            now,
        )

    def _on_cancel_sm(self, link: Link, pdu: CancelSm, now: float, position: int) -> None:
        account = link.account
        assert account is not None
        self.stats.cancels += 1
        sim_now = self.clock.now()
        status, cancelled = self.store.cancel(
            account.system_id,
            pdu.message_id,
            service_type=pdu.service_type,
            source_addr=pdu.source_addr,
            destination_addr=pdu.destination_addr,
            now=sim_now,
        )
        for record in cancelled:
            self._notify_cancel(record.message_id, sim_now)
        if status:
            self._answer(link, pdu, status, now)
        else:
            self._send(link, CancelSmResp(pdu.sequence_number), now)

    def _notify_cancel(self, message_id: str, sim_now: float) -> None:
        hook = self._on_cancel
        if hook is None:
            return
        try:
            hook(message_id, sim_now)
        except Exception:
            self.stats.handler_errors += 1
            logger.exception("handler.handle_cancel failed")

    def _on_replace_sm(self, link: Link, pdu: ReplaceSm, now: float, position: int) -> None:
        account = link.account
        assert account is not None
        self.stats.replaces += 1
        sim_now = self.clock.now()
        record = self.store.get(pdu.message_id)
        times = CheckedTimes()
        status = check_message(
            esm_class=0,
            registered_delivery=pdu.registered_delivery,
            data_coding=0,
            schedule_delivery_time=pdu.schedule_delivery_time,
            validity_period=pdu.validity_period,
            smpp5=link.smpp5,
            now=sim_now,
            times=times,
        )
        if not status:
            data = pdu.short_message
            if not data and pdu.tlvs:
                data = pdu.get_tlv(Tag.MESSAGE_PAYLOAD) or b""
            esm_class = record.esm_class if record is not None else 0
            _, body, _ = split_user_data(data, esm_class, ())
            status = self.store.replace(
                account.system_id,
                pdu.message_id,
                source_addr=pdu.source_addr,
                body=body,
                registered_delivery=pdu.registered_delivery,
                schedule_at=times.schedule_at,
                validity_at=times.validity_at,
            )
        if status:
            self._answer(link, pdu, status, now)
        else:
            self._send(link, ReplaceSmResp(pdu.sequence_number), now)

    # ----------------------------------------------------------------------------------------
    # Deliveries (receipts, MO)
    # ----------------------------------------------------------------------------------------

    def _apply(self, effect: object, now: float, sim_now: float, touched: set[str]) -> None:
        if isinstance(effect, ReceiptOrder):
            account = self._receipt(effect)
            if account is not None:
                touched.add(account)
        elif isinstance(effect, MoOrder):
            acct = self.accounts.obtain(effect.account, now)
            if acct is None:
                self.stats.deliveries_dropped += 1
                return
            self._queue(acct, Delivery(effect.account, effect.pdu, "mo", part=effect.part))
            self.stats.mo_queued += 1
            touched.add(effect.account)
            if self._publish is not None and effect.part == 1:
                pdu = effect.pdu
                self._emit(
                    MoSent(
                        at=sim_now,
                        source=pdu.source_addr or "-",
                        destination=pdu.destination_addr or "-",
                        text=effect.text,
                        parts=min(max(effect.total, 1), 255),
                    )
                )
        elif isinstance(effect, AlertOrder):
            self._alert(effect, now)
        elif isinstance(effect, BaseEvent):
            if self._publish is not None:
                self._emit(effect)
        else:
            logger.warning("handler returned an unknown effect %r", type(effect).__name__)

    def _alert(self, order: AlertOrder, now: float) -> None:
        """Write an alert_notification on one receiver of the account, or keep it waiting."""
        for link in self._receivers.get(order.account, ()):
            if link.closing or not link.session.can_send(_C.ALERT_NOTIFICATION):
                continue
            pdu = order.pdu
            pdu.sequence_number = 0
            if self._send(link, pdu, now):
                self.stats.alerts_sent += 1
                return
        waiting = self._alerts_waiting.setdefault(order.account, [])
        waiting.append(order)
        if len(waiting) > MAX_WAITING_ALERTS:
            del waiting[0]
            self.stats.alerts_dropped += 1
        if self._outbind_targets:
            self._want_outbind(order.account, now)

    def _receipt(self, order: ReceiptOrder) -> str | None:
        """Apply a receipt order; queue the receipt when one is wanted. Returns the account."""
        state = self._states.get(order.stat)
        if state is None:
            state = int(state_for_stat(order.stat))
            if len(self._states) < _MAX_STAT_WORDS:
                self._states[order.stat] = state
        if order.intermediate:
            record = self.store.get(order.message_id)
        else:
            record, _ = self.store.finish(order.message_id, state, order.err, order.at)
        if record is None:
            self.stats.receipts_unknown += 1
            return None
        if record.cancelled:
            return None
        account = self.accounts.get(record.account)
        limits = account.limits if account is not None else self.config.default_account
        if not limits.receipts or not wants_receipt(
            record.registered_delivery, state, intermediate=order.intermediate
        ):
            return None
        if account is None:
            account = self.accounts.obtain(record.account, 0.0)
            if account is None:
                self.stats.deliveries_dropped += 1
                return None
        pdu = receipt_pdu(
            record,
            stat=order.stat,
            state=state,
            err=order.err,
            done_at=order.at,
            receipt_id=order.receipt_id,
            text=order.text,
            intermediate=order.intermediate,
            handset=order.destination,
            tz=self._tz,
            seconds=self._seconds,
        )
        self._queue(
            account,
            Delivery(
                record.account,
                pdu,
                "receipt",
                message_id=order.receipt_id or record.message_id,
                stat=order.stat,
                err=order.err,
                destination=order.destination or record.destination_addr,
                part=record.part,
            ),
        )
        self.stats.receipts_queued += 1
        return record.account

    def _queue(self, account: Account, delivery: Delivery, *, front: bool = False) -> None:
        dropped = self.queues.push(delivery, account.limits.max_queued_deliveries, front=front)
        if dropped is not None:
            self.stats.deliveries_dropped += 1

    def _pump(self, account_id: str, now: float) -> None:
        """Send ready deliveries of an account, round robin over its receivers with room."""
        queues = self.queues
        if not queues.has_ready(account_id):
            return
        links = self._receivers.get(account_id)
        if not links:
            if self._outbind_targets:
                self._want_outbind(account_id, now)
            return
        count = len(links)
        index = self._rr.get(account_id, 0)
        idle = 0
        while idle < count:
            link = links[index % count]
            index += 1
            if (
                link.paused
                or link.closing
                or link.stalled_until is not None
                or len(link.in_flight) >= link.window
                or not link.session.can_send(_DELIVER_SM)
            ):
                idle += 1
                continue
            delivery = queues.pop(account_id)
            if delivery is None:
                break
            idle = 0
            pdu = delivery.pdu
            pdu.sequence_number = 0
            delivery.attempts += 1
            if self._send(link, pdu, now):
                link.in_flight[pdu.sequence_number] = delivery
                self.stats.deliveries_written += 1
            else:
                self._queue(link.account or self._account_of(delivery), delivery, front=True)
                idle += 1
        self._rr[account_id] = index % count

    def _account_of(self, delivery: Delivery) -> Account:
        account = self.accounts.obtain(delivery.account, 0.0)
        if account is None:
            raise UnknownAccountError(delivery.account)
        return account

    def _on_response(self, link: Link, pdu: Response, now: float) -> None:
        delivery = link.in_flight.pop(pdu.sequence_number, None)
        if delivery is None:
            return
        status = pdu.command_status
        damaged = False
        if link.damaged:
            damaged = pdu.sequence_number in link.damaged
            link.damaged.discard(pdu.sequence_number)
        if status == 0 and pdu.command_id != _GENERIC_NACK:
            self._delivered(link, delivery)
        elif damaged or status in self._retry_statuses:
            # A deliver_sm we damaged on purpose is sent again whatever the ESME said of it.
            self._retry(delivery, now)
        else:
            self.queues.dropped += 1
            self.stats.deliveries_dropped += 1
            logger.info(
                "deliver_sm refused with 0x%08X by %s; dropped",
                status,
                link.peer,
                extra=_log(link, "delivery_refused"),
            )
        if link.account is not None:
            self._pump(link.account.system_id, now)

    def _delivered(self, link: Link, delivery: Delivery) -> None:
        if delivery.kind == "receipt":
            self.stats.receipts_sent += 1
            if self._publish is not None and delivery.message_id and delivery.stat:
                part = delivery.part
                self._emit(
                    ReceiptSent(
                        at=self.clock.now(),
                        smsc_message_id=delivery.message_id,
                        stat=delivery.stat[:16],
                        err=f"{delivery.err:03d}",
                        destination=delivery.destination or None,
                        part=part if part is not None and 1 <= part <= 255 else None,
                        bind_id=link.name,
                    )
                )
        else:
            self.stats.mo_sent += 1

    def _retry(self, delivery: Delivery, now: float) -> None:
        if self.queues.retry(delivery, now):
            self.stats.redeliveries += 1
        else:
            self.stats.deliveries_dropped += 1

    def _on_timeout(self, link: Link, event: RequestTimedOut, now: float) -> None:
        delivery = link.in_flight.pop(event.sequence_number, None)
        link.damaged.discard(event.sequence_number)
        if delivery is not None:
            self._retry(delivery, now)

    # ----------------------------------------------------------------------------------------
    # Session faults (decided by the handler: the carrier model's fault plan)
    # ----------------------------------------------------------------------------------------

    def _session_check(self, link: Link, now: float, sim_now: float) -> None:
        """Ask the handler what to do to a bound session now, and do it."""
        decide = self._session_decision
        account = link.account
        if decide is None or account is None:
            return
        try:
            decision = decide(
                sim_now, account.system_id, pdus_received=link.pdus, bound_at=link.bound_sim
            )
        except Exception:
            self.stats.handler_errors += 1
            logger.exception(
                "handler.session_decision failed", extra={"event": "smsh.simulator.handler"}
            )
            return
        action = str(decision.action)
        if action == "none":
            return
        kind = str(decision.fault or action)
        if action == "stall":
            until = decision.until if decision.until is not None else math.inf
            if until > sim_now:
                self._stall(link, kind, until, sim_now)
        elif action == "unbind":
            self._fault_unbind(link, kind, now, sim_now)
        elif action == "disconnect":
            self._fault_disconnect(link, kind, now, sim_now)
        else:
            logger.warning("unknown session action %r", action)

    def _session_tick(
        self, now: float, sim_now: float, touched: set[str], *, recheck: bool = False
    ) -> None:
        """Time-triggered session work: stalls that end, faults that fire, garbage due.

        ``recheck`` (the fault plan changed): a stalled session whose stall is no longer
        decided is released at once, and a changed window end is taken over.
        """
        for link in list(self._stalled.values()):
            until = link.stalled_until
            if recheck and until is not None and until > sim_now:
                until = self._stall_until(link, sim_now)
                link.stalled_until = until
            if until is None or until <= sim_now:
                self._unstall(link, now, sim_now)
                if link.account is not None:
                    touched.add(link.account.system_id)
        decide = self._session_decision is not None
        wire = self._wire
        garbage = wire is not None and wire.has_garbage
        if not decide and not garbage:
            return
        for link in list(self.links.values()):
            if link.account is None or link.closing or link.faulted:
                continue
            if garbage:
                self._garbage(link, sim_now)
            if decide and link.stalled_until is None:
                self._session_check(link, now, sim_now)

    def _stall_until(self, link: Link, sim_now: float) -> float | None:
        """When a stalled session's stall ends now that the plan changed (None: it is over)."""
        decide = self._session_decision
        account = link.account
        if decide is None or account is None:
            return None
        try:
            decision = decide(
                sim_now, account.system_id, pdus_received=link.pdus, bound_at=link.bound_sim
            )
        except Exception:
            self.stats.handler_errors += 1
            logger.exception("handler.session_decision failed")
            return None
        if str(decision.action) != "stall":
            return None
        return decision.until if decision.until is not None else math.inf

    def _refresh_due(self, sim_now: float) -> None:
        """Recompute the next simulated instant a session or wire fault needs a tick."""
        due: float | None = None
        deadline = self._session_deadline
        if deadline is not None and self.links:
            accounts = {link.system_id for link in self.links.values() if link.account}
            for account in accounts:
                try:
                    when = deadline(sim_now, account)
                except Exception:
                    self.stats.handler_errors += 1
                    logger.exception("handler.next_session_deadline failed")
                    continue
                if when is not None and (due is None or when < due):
                    due = when
        for link in self._stalled.values():
            until = link.stalled_until
            if until is not None and math.isfinite(until) and (due is None or until < due):
                due = until
        if self._wire is not None:
            start = self._wire.next_start(sim_now)
            if start is not None and (due is None or start < due):
                due = start
        self._session_due = due

    def _fault_event(
        self, link: Link, kind: str, action: str, sim_now: float, until: float | None = None
    ) -> None:
        fault_id = f"{kind}/{link.name}/{next(self._fault_seq)}"
        link.fault_ids.append((fault_id, kind))
        logger.info(
            "fault %s on %s (%s): %s",
            kind,
            link.name,
            link.system_id,
            action,
            extra=_log(link, "fault"),
        )
        self._emit(
            FaultInjected(
                at=sim_now,
                fault_id=fault_id,
                fault_kind=kind,
                target=link.name,
                params={"account": link.system_id, "action": action, "pdus_received": link.pdus},
                until=until if until is not None and math.isfinite(until) else None,
            )
        )

    def _fault_disconnect(self, link: Link, kind: str, now: float, sim_now: float) -> None:
        link.faulted = True
        link.drop_reason = f"fault {kind}"
        self._fault_event(link, kind, "disconnect", sim_now)
        link.session.close(now)
        self._drain(link, now, 0)

    def _fault_unbind(self, link: Link, kind: str, now: float, sim_now: float) -> None:
        link.faulted = True
        link.drop_reason = f"fault {kind}"
        self._fault_event(link, kind, "unbind", sim_now)
        if link.session.can_send(_C.UNBIND) and self._send(link, Unbind(), now):
            # The session closes on unbind_resp, or when it is not answered within
            # timers.response_s (UNBIND_TIMEOUT); either way ``_forget`` says why.
            account = link.account
            if account is not None:
                self._bind_event(
                    link, account.system_id, link.mode, "unbinding", link.drop_reason, None
                )
        else:
            link.session.close(now)
        self._drain(link, now, 0)

    def _stall(self, link: Link, kind: str, until: float, sim_now: float) -> None:
        link.stalled_until = until
        self._stalled[link.id] = link
        set_reading = getattr(link.sink, "set_reading", None)
        if set_reading is not None:
            set_reading(False)
        self._fault_event(link, kind, "stall", sim_now, until)
        if math.isfinite(until) and (self._session_due is None or until < self._session_due):
            self._session_due = until

    def _unstall(self, link: Link, now: float, sim_now: float) -> None:
        link.stalled_until = None
        self._stalled.pop(link.id, None)
        for fault_id, fault_kind in [f for f in link.fault_ids if f[1] == "stall"]:
            link.fault_ids.remove((fault_id, fault_kind))
            self._emit(
                FaultCleared(at=sim_now, fault_id=fault_id, fault_kind=fault_kind, reason="expired")
            )
        set_reading = getattr(link.sink, "set_reading", None)
        if set_reading is not None:
            set_reading(True)
        held, link.held = link.held, b""
        if held and link.id in self.links:
            session = link.session
            base = session.inbound_pending_count
            session.receive_data(held, now)
            self._drain(link, now, base)

    def _hold(self, link: Link, data: bytes, now: float) -> None:
        """Keep what arrives on a stalled session (the shell stops reading, so this is at most
        what was in flight); beyond the write buffer limit the connection is dropped."""
        link.held += data
        if len(link.held) > self.config.limits.write_buffer_high:
            link.held = b""
            link.drop_reason = "stalled input overflow"
            link.session.close(now)
            self._drain(link, now, 0)

    # ----------------------------------------------------------------------------------------
    # Wire faults (simulator.wire)
    # ----------------------------------------------------------------------------------------

    def _wire_out(self, link: Link, data: bytes) -> bytes:
        """Damage the frames of ``data`` that a malformed_pdu fault picks."""
        wire = self._wire
        commands = self._wire_commands
        assert wire is not None
        size = len(data)
        pos = 0
        last = 0
        pieces: list[bytes] = []
        sim_now: float | None = None
        while pos + 16 <= size:
            length = int.from_bytes(data[pos : pos + 4], "big")
            if length < 16 or pos + length > size:
                break
            command_id = int.from_bytes(data[pos + 4 : pos + 8], "big")
            if command_id in commands:
                if sim_now is None:
                    sim_now = self.clock.now()
                fault = wire.damage_frame(command_id, link.system_id, sim_now)
                if fault is not None:
                    pieces.append(data[last:pos])
                    pieces.append(damage(data[pos : pos + length], fault.variant))
                    last = pos + length
                    seq = int.from_bytes(data[pos + 12 : pos + 16], "big")
                    if command_id == _C.DELIVER_SM:
                        link.damaged.add(seq)
                    self._wire_alert(
                        link,
                        sim_now,
                        f"{fault.variant} {DAMAGED_COMMANDS[command_id]} seq {seq}",
                    )
            pos += length
        if not pieces:
            return data
        pieces.append(data[last:])
        return b"".join(pieces)

    def _wire_alert(self, link: Link, sim_now: float, what: str, account: str = "") -> None:
        self.stats.wire_faults += 1
        if self._publish is None:
            return
        self._emit(
            Alert(
                at=sim_now,
                alert_kind="malformed_pdu",
                severity="warning",
                detail=f"simulator wrote {what} to {account or link.system_id or '?'} on "
                f"{link.name}",
            )
        )

    def _deliver_before_bound(self, link: Link, account: str, sim_now: float) -> None:
        """Write a deliver_sm before the bind_resp (outside the session's books: the session
        never sees it, and drops the ESME's answer as matching no request)."""
        early = DeliverSm(
            source_addr="0",
            destination_addr="0",
            short_message=b"deliver_sm before bind_resp",
        )
        early.sequence_number = 0x7FFFFF00 | (link.id & 0xFF)
        self._emit_bytes(link, encode(early), raw=True)
        self._wire_alert(link, sim_now, "deliver_sm before bind_resp", account)

    def _garbage(self, link: Link, sim_now: float) -> None:
        wire = self._wire
        if wire is None or link.closing:
            return
        data = wire.garbage(link.name, link.system_id, sim_now)
        if data:
            self._emit_bytes(link, data, raw=True)
            self._wire_alert(link, sim_now, f"{len(data)} garbage octets")

    # ----------------------------------------------------------------------------------------
    # Bus
    # ----------------------------------------------------------------------------------------

    def _emit(self, event: BaseEvent) -> None:
        publish = self._publish
        if publish is None:
            return
        try:
            publish(cast(Event, event))
        except Exception:
            logger.exception("publishing %s failed", type(event).__name__)

    def _snapshot(self, stamp: float) -> None:
        if self._publish is None:
            return
        metrics = self._metrics
        stats = self.stats
        counts = {
            "submits": stats.submits,
            "accepted": stats.accepted,
            "throttled": stats.throttled,
            "refused": stats.refused,
            "receipts": stats.receipts_sent,
            "mo": stats.mo_sent,
            "binds": stats.binds_total,
            "bind_failures": stats.bind_failures,
            "redeliveries": stats.redeliveries,
            "deliveries_dropped": stats.deliveries_dropped,
            "protocol_errors": stats.protocol_errors,
        }
        for name, value in counts.items():
            delta = value - self._last_counts.get(name, 0)
            metrics.record_count(name, max(delta, 0), now=stamp)
        self._last_counts = counts
        metrics.record_gauge("binds", stats.binds, now=stamp)
        metrics.record_gauge("connections", stats.connections, now=stamp)
        metrics.record_gauge("paused", stats.paused, now=stamp)
        queued = self.queues.total
        metrics.record_queues(now=stamp, queued=queued, awaiting_receipt=self.store.pending)
        for link in self.links.values():
            if link.account is None:
                continue
            if link.mode != "transmitter":
                metrics.record_window(link.name, len(link.in_flight), link.window, now=stamp)
            if link.mode != "receiver":
                submitted = link.submits - link.submits_reported
                throttled = link.throttled - link.throttled_reported
                link.submits_reported = link.submits
                link.throttled_reported = link.throttled
                metrics.record_bind_count(link.name, BIND_SUBMITTED, submitted, now=stamp)
                metrics.record_bind_count(link.name, BIND_THROTTLED, throttled, now=stamp)
        snapshot: MetricsSnapshot | None = metrics.snapshot(stamp)
        if snapshot is not None:
            self._emit(snapshot)


def _distribution_lists(account: Account) -> dict[str, tuple[str, ...]]:
    """The account's named distribution lists (configured accounts only)."""
    limits = account.limits
    return limits.distribution_lists if isinstance(limits, AccountConfig) else {}


def _member_address(member: str) -> tuple[int, int, str]:
    """(TON, NPI, address) of a distribution list member, as if the ESME had sent it.

    ``+81...`` and ``81...`` are international (TON 1), ``0...`` national (TON 2), NPI 1 (E.164).
    """
    if member.startswith("+"):
        return 1, 1, member[1:]
    return (2 if member.startswith("0") else 1), 1, member


def _log(link: Link, event: str) -> dict[str, object]:
    return {"event": f"smsh.simulator.{event}", "peer": link.peer, "session": link.name}
