"""The SMPP session state machine, sans I/O, for either end of the link.

Rule 1: everything that affects the state machine and state transitions lives here, in this
file: the states, the transition tables, the sequence numbers, the outstanding-request book,
the timers, and the answers the protocol obliges.

Rule 2: this file does not know which role we play. Every table is indexed by the role of the
*sender* of a PDU. A session checks what it sends against ``REQUEST_TRANSITIONS[own role]`` and
what it receives against ``REQUEST_TRANSITIONS[peer role]``; the same data serves an ESME talking
to an SMSC and the SMSC talking to the ESME.

Theory of operation
-------------------

The session is a pure object. The caller (an asyncio shell, or a test) owns the socket and the
clock and runs this loop::

    session.receive_data(data, now)       # bytes from the socket
    while (event := session.next_event()) is not None:
        ...                               # application decisions; they call send()
        transport.write(session.send(pdu, now))
    transport.write(session.data_to_send())   # answers the session produced itself
    re-arm one timer at session.get_timer(); when it fires: session.handle_timer(now)
    after SessionClosed (or whenever session.state is CLOSED): flush data_to_send(), close.

``send`` returns the bytes of the PDU the application sent; ``data_to_send`` returns what the
session queued on its own (automatic answers, keep-alives, generic_nack). Write both.

States (SMPP 3.4 §2.2; 5.0 §2.3 Table 2-1) and the extra BINDING state::

    OPEN --bind (sent/received)--> BINDING --bind_resp OK--> BOUND_TX | BOUND_RX | BOUND_TRX
                                           --bind_resp error / generic_nack--> CLOSED
    BOUND_* --unbind (sent/received)--> UNBOUND --unbind_resp--> CLOSED
    any --close / connection lost / fatal error / timers--> CLOSED

BINDING is OPEN with a bind in flight. It is kept as a state so that "a second bind while the
first is unanswered" is answered ESME_RALYBND from the table instead of from a flag.

A request is checked on the way in and the way out against ``REQUEST_TRANSITIONS[sender][state]``
(a dict: command_id -> next state). Missing means not allowed: outgoing raises
``InvalidStateError``; incoming is answered with the request's ``*_resp`` carrying
``REQUEST_REJECTIONS[sender][state].get(command_id, ESME_RINVBNDSTS)``, body omitted.
A response is checked against the outstanding request with its sequence number, then
``RESPONSE_TRANSITIONS[(state, request command_id, succeeded)]`` gives the next state, where
``succeeded`` means status ESME_ROK in the matching ``*_resp`` (a generic_nack never succeeds).

What the session answers by itself (both roles; SMPP-ERRORS.md rows):

* row 1, 2: command_length < 16, > max or bit 31 -> generic_nack ESME_RINVCMDLEN, seq 0, CLOSED.
* row 3: a partial PDU stalls for ``pdu_read_timeout`` -> generic_nack ESME_RINVCMDLEN (echoing
  the partial header's sequence number when 16 octets arrived, else 0), CLOSED.
* row 4: unknown command_id -> generic_nack ESME_RINVCMDID echoing seq; session kept.
* row 5, 9, 14, 15, 16, 18 (the field checks of ``codec``): the request's ``*_resp`` (generic_nack
  for outbind / alert_notification) with the decoder's status, body omitted; session kept.
* row 6: request not allowed in the state or from this role -> ``*_resp`` ESME_RINVBNDSTS.
* row 7: bind while BINDING or bound -> bind_*_resp ESME_RALYBND; the state is unchanged.
* row 22: a response that matches no outstanding request -> dropped, reported, never nacked.
* row 23: enquire_link in any state but CLOSED -> enquire_link_resp ESME_ROK echoing seq.
* row 24: an enquire_link, bind or unbind unanswered within ``response_timeout`` -> CLOSED;
  other requests -> ``RequestTimedOut``.
* row 25: not bound within ``session_init_timeout`` of opening -> CLOSED.
* row 26: unbind -> unbind_resp ESME_ROK once every request received before it has been answered
  (or after ``response_timeout`` at the latest), then CLOSED; our own unanswered requests are
  listed in ``SessionClosed.unanswered``.
* rows 8-10: after a bind_*_resp with an error status (sent or received, including the session's
  own answer to a bind with an invalid field such as a 16-character system_id) -> CLOSED.
* keep-alive: in a bound state, nothing received for ``enquire_link_interval`` -> the session
  sends enquire_link itself (its response is consumed silently).
* inactivity: in a bound state, no PDU other than enquire_link(_resp) either way for
  ``inactivity_timeout`` -> the session sends unbind itself (CloseReason.INACTIVITY_TIMEOUT).

Everything else is the application's: answering binds (auth, policy: rows 8, 10), submit_sm and
the other message requests (rows 11-13, 18-19 semantics), deliver_sm and receipts.

Hot path: one header unpack, one dict lookup for the state check, the body decode, one dict
insert or pop for the request book and one event object per PDU. ``now`` must not go backwards.
"""

from __future__ import annotations

import math
import struct
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Final

from simulator.smpp.codec import decode_body, encode
from simulator.smpp.constants import (
    DEFAULT_MAX_COMMAND_LENGTH,
    RESPONSE_BIT,
    SEQUENCE_NUMBER_MAX,
    CommandId,
    CommandStatus,
)
from simulator.smpp.errors import (
    FramingError,
    InvalidStateError,
    LocalProtocolError,
    PduDecodeError,
    UnexpectedPduError,
    UnknownCommandError,
)
from simulator.smpp.events import (
    AutoReplied,
    CloseReason,
    Event,
    PduReceived,
    ProtocolViolation,
    RequestTimedOut,
    SessionClosed,
)
from simulator.smpp.framing import Framer
from simulator.smpp.pdu import (
    PDU_CLASSES,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    Request,
    Response,
    Unbind,
    UnbindResp,
    make_error_response,
)


class Role(Enum):
    """Which end of the link a session plays."""

    ESME = "esme"
    """External Short Message Entity: binds, submits, receives deliveries."""
    SMSC = "smsc"
    """Short Message Service Centre (the MC of SMPP 5.0): accepts binds, delivers."""

    @property
    def peer(self) -> Role:
        """The role at the other end."""
        return Role.SMSC if self is Role.ESME else Role.ESME


class SessionState(IntEnum):
    """Session states (SMPP 3.4 §2.2; 5.0 §2.3), plus BINDING (OPEN with a bind in flight)."""

    OPEN = 0
    BINDING = 1
    BOUND_TX = 2
    BOUND_RX = 3
    BOUND_TRX = 4
    UNBOUND = 5
    CLOSED = 6


_C = CommandId
_S = SessionState

BOUND_STATES: Final[frozenset[SessionState]] = frozenset({_S.BOUND_TX, _S.BOUND_RX, _S.BOUND_TRX})
"""States in which application traffic flows."""

_BINDS: Final = (_C.BIND_TRANSMITTER, _C.BIND_RECEIVER, _C.BIND_TRANSCEIVER)
_ESME_SUBMISSIONS: Final = (
    _C.SUBMIT_SM,
    _C.SUBMIT_MULTI,
    _C.DATA_SM,
    _C.QUERY_SM,
    _C.CANCEL_SM,
    _C.REPLACE_SM,
)
_SMSC_DELIVERIES: Final = (_C.DELIVER_SM, _C.DATA_SM, _C.ALERT_NOTIFICATION)


def _stay(state: SessionState, *commands: CommandId) -> dict[int, SessionState]:
    return dict.fromkeys(commands, state)


# SMPP 3.4 §2.3 Table 2-1 (with 5.0's "enquire_link in any open state"): which requests the
# *sender* role may issue in each state, and the state that issuing it leads to. data_sm is
# issued by an ESME bound TX/TRX and by an SMSC to an ESME bound RX/TRX.
REQUEST_TRANSITIONS: Final[Mapping[Role, Mapping[SessionState, Mapping[int, SessionState]]]] = {
    Role.ESME: {
        _S.OPEN: {**dict.fromkeys(_BINDS, _S.BINDING), **_stay(_S.OPEN, _C.ENQUIRE_LINK)},
        _S.BINDING: _stay(_S.BINDING, _C.ENQUIRE_LINK),
        _S.BOUND_TX: {
            **_stay(_S.BOUND_TX, *_ESME_SUBMISSIONS, _C.ENQUIRE_LINK),
            _C.UNBIND: _S.UNBOUND,
        },
        _S.BOUND_RX: {**_stay(_S.BOUND_RX, _C.ENQUIRE_LINK), _C.UNBIND: _S.UNBOUND},
        _S.BOUND_TRX: {
            **_stay(_S.BOUND_TRX, *_ESME_SUBMISSIONS, _C.ENQUIRE_LINK),
            _C.UNBIND: _S.UNBOUND,
        },
        _S.UNBOUND: _stay(_S.UNBOUND, _C.ENQUIRE_LINK, _C.UNBIND),
        _S.CLOSED: {},
    },
    Role.SMSC: {
        _S.OPEN: _stay(_S.OPEN, _C.OUTBIND, _C.ENQUIRE_LINK),
        _S.BINDING: _stay(_S.BINDING, _C.ENQUIRE_LINK),
        _S.BOUND_TX: {**_stay(_S.BOUND_TX, _C.ENQUIRE_LINK), _C.UNBIND: _S.UNBOUND},
        _S.BOUND_RX: {
            **_stay(_S.BOUND_RX, *_SMSC_DELIVERIES, _C.ENQUIRE_LINK),
            _C.UNBIND: _S.UNBOUND,
        },
        _S.BOUND_TRX: {
            **_stay(_S.BOUND_TRX, *_SMSC_DELIVERIES, _C.ENQUIRE_LINK),
            _C.UNBIND: _S.UNBOUND,
        },
        _S.UNBOUND: _stay(_S.UNBOUND, _C.ENQUIRE_LINK, _C.UNBIND),
        _S.CLOSED: {},
    },
}

_ALYBND: Final[Mapping[int, CommandStatus]] = dict.fromkeys(_BINDS, CommandStatus.ESME_RALYBND)

# How a request missing from REQUEST_TRANSITIONS is refused, when not ESME_RINVBNDSTS (row 7).
REQUEST_REJECTIONS: Final[Mapping[Role, Mapping[SessionState, Mapping[int, CommandStatus]]]] = {
    Role.ESME: {
        _S.OPEN: {},
        _S.BINDING: _ALYBND,
        _S.BOUND_TX: _ALYBND,
        _S.BOUND_RX: _ALYBND,
        _S.BOUND_TRX: _ALYBND,
        _S.UNBOUND: {},
        _S.CLOSED: {},
    },
    Role.SMSC: {state: {} for state in SessionState},
}

DEFAULT_REJECTION: Final[CommandStatus] = CommandStatus.ESME_RINVBNDSTS
"""Status for a request the state does not allow (SMPP-ERRORS row 6)."""

# (state, command_id of the request answered, response status == ESME_ROK) -> (next state, why it
# closed). Applies whichever side sends the response. Missing means "no change". The OPEN rows
# cover a bind the session itself refused because a field was invalid (it never reached BINDING).
RESPONSE_TRANSITIONS: Final[
    Mapping[tuple[SessionState, int, bool], tuple[SessionState, CloseReason | None]]
] = {
    (_S.BINDING, _C.BIND_TRANSMITTER, True): (_S.BOUND_TX, None),
    (_S.BINDING, _C.BIND_RECEIVER, True): (_S.BOUND_RX, None),
    (_S.BINDING, _C.BIND_TRANSCEIVER, True): (_S.BOUND_TRX, None),
    (_S.OPEN, _C.BIND_TRANSMITTER, False): (_S.CLOSED, CloseReason.BIND_FAILED),
    (_S.OPEN, _C.BIND_RECEIVER, False): (_S.CLOSED, CloseReason.BIND_FAILED),
    (_S.OPEN, _C.BIND_TRANSCEIVER, False): (_S.CLOSED, CloseReason.BIND_FAILED),
    (_S.BINDING, _C.BIND_TRANSMITTER, False): (_S.CLOSED, CloseReason.BIND_FAILED),
    (_S.BINDING, _C.BIND_RECEIVER, False): (_S.CLOSED, CloseReason.BIND_FAILED),
    (_S.BINDING, _C.BIND_TRANSCEIVER, False): (_S.CLOSED, CloseReason.BIND_FAILED),
    (_S.UNBOUND, _C.UNBIND, True): (_S.CLOSED, CloseReason.UNBOUND),
    (_S.UNBOUND, _C.UNBIND, False): (_S.CLOSED, CloseReason.UNBOUND),
}

# Requests whose unanswered timeout ends the session (row 24), and why.
CLOSE_ON_TIMEOUT: Final[Mapping[int, CloseReason]] = {
    _C.ENQUIRE_LINK: CloseReason.ENQUIRE_LINK_TIMEOUT,
    _C.UNBIND: CloseReason.UNBIND_TIMEOUT,
    _C.BIND_TRANSMITTER: CloseReason.BIND_TIMEOUT,
    _C.BIND_RECEIVER: CloseReason.BIND_TIMEOUT,
    _C.BIND_TRANSCEIVER: CloseReason.BIND_TIMEOUT,
}

NO_RESPONSE: Final[frozenset[int]] = frozenset({_C.OUTBIND, _C.ALERT_NOTIFICATION})
"""Requests that have no response PDU (3.4 §4.1.7, §4.12)."""

_HEADER: Final = struct.Struct(">IIII")
_ENQUIRE_LINK: Final[int] = _C.ENQUIRE_LINK
_ENQUIRE_LINK_RESP: Final[int] = _C.ENQUIRE_LINK_RESP
_UNBIND: Final[int] = _C.UNBIND
_GENERIC_NACK: Final[int] = _C.GENERIC_NACK
_RINVCMDLEN: Final[int] = CommandStatus.ESME_RINVCMDLEN
#: SessionState.CLOSED read once: an enum member looked up on its class costs ~60 ns on 3.11,
#: and the hot path asks "closed?" several times per PDU.
_CLOSED: Final = SessionState.CLOSED


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Limits and timers of one session. ``None`` disables a timer. Times are in seconds."""

    max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH
    """Largest command_length accepted from the peer (SMPP-ERRORS row 2)."""
    session_init_timeout: float | None = 10.0
    """Close if not bound this long after opening (row 25; smppex 10 s)."""
    enquire_link_interval: float | None = 30.0
    """Send enquire_link after this long without receiving anything while bound (Kannel 30 s)."""
    inactivity_timeout: float | None = 300.0
    """Unbind after this long without application traffic while bound (Kannel/Jasmin 300 s)."""
    response_timeout: float | None = 60.0
    """A request unanswered this long has failed (row 24; Kannel/smppex 60 s)."""
    pdu_read_timeout: float | None = 10.0
    """A partial PDU stalled this long is a framing failure (row 3; Jasmin 10 s)."""


class _Outstanding:
    """One request we sent and still await an answer for."""

    __slots__ = ("auto", "command_id", "deadline", "request", "response_id", "sequence_number")

    def __init__(self, request: Request, deadline: float, auto: bool) -> None:
        self.request = request
        self.sequence_number = request.sequence_number
        self.command_id = request.command_id
        self.response_id = request.command_id | RESPONSE_BIT
        self.deadline = deadline
        self.auto = auto


class Session:
    """One SMPP session (one TCP connection), for either role.

    All methods are pure with respect to I/O: bytes and ``now`` in, events and bytes out.
    """

    def __init__(
        self,
        role: Role,
        now: float,
        config: SessionConfig | None = None,
        *,
        first_sequence_number: int = 1,
    ) -> None:
        """Open a session (the TCP connection is established).

        Args:
            role: The role this end plays.
            now: Current time; starts the session-init timer.
            config: Limits and timers; defaults to ``SessionConfig()``.
            first_sequence_number: First sequence number to assign, 1..0x7FFFFFFF (tests use it
                to exercise the wrap to 1).

        Raises:
            ValueError: first_sequence_number out of range.
        """
        if not 1 <= first_sequence_number <= SEQUENCE_NUMBER_MAX:
            raise ValueError("first_sequence_number must be in 1..0x7FFFFFFF")
        self._role = role
        self._peer = role.peer
        self._config = config if config is not None else SessionConfig()
        self._framer = Framer(self._config.max_command_length)
        self._events: deque[Event] = deque()
        self._out: list[bytes] = []
        self._next_seq = first_sequence_number
        self._outstanding: dict[int, _Outstanding] = {}
        self._deadlines: deque[_Outstanding] = deque()
        self._inbound: dict[int, int] = {}
        self._inbound_dupes: dict[int, list[int]] = {}
        self._opened_at = now
        self._last_rx = now
        self._last_activity = now
        self._partial_since: float | None = None
        self._auto_enquire_seq: int | None = None
        self._pending_unbind: tuple[Unbind, float] | None = None
        self._unbind_reason = CloseReason.UNBOUND
        self._state = SessionState.OPEN
        self._own_table: Mapping[int, SessionState] = {}
        self._peer_table: Mapping[int, SessionState] = {}
        self._set_state(SessionState.OPEN)

    # ----------------------------------------------------------------------------------------
    # Introspection
    # ----------------------------------------------------------------------------------------

    @property
    def role(self) -> Role:
        """The role this end plays."""
        return self._role

    @property
    def state(self) -> SessionState:
        """The current session state."""
        return self._state

    @property
    def closed(self) -> bool:
        """True once the session reached CLOSED (flush ``data_to_send`` and close the socket)."""
        return self._state is _CLOSED

    @property
    def config(self) -> SessionConfig:
        """Limits and timers in force."""
        return self._config

    @property
    def outstanding_count(self) -> int:
        """Requests we sent that await a response (including automatic keep-alives)."""
        return len(self._outstanding)

    @property
    def inbound_pending_count(self) -> int:
        """Requests received that the application has not answered yet (its window)."""
        return len(self._inbound) + sum(len(v) for v in self._inbound_dupes.values())

    def can_send(self, command_id: int) -> bool:
        """Tell whether this end may send a request now.

        Args:
            command_id: A request command_id.

        Returns:
            True if ``send`` would accept a request with this command_id in the current state.
        """
        return command_id in self._own_table

    # ----------------------------------------------------------------------------------------
    # Bytes in
    # ----------------------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> None:
        """Process octets from the peer: frame, decode, check, answer what the session must.

        Args:
            data: Octets exactly as read (any split is fine). Ignored once CLOSED.
            now: Current time.
        """
        if self._state is _CLOSED:
            return
        framer = self._framer
        framer.feed(data)
        completed = False
        while True:
            try:
                frame = framer.next_frame()
            except FramingError as exc:
                self._fatal(exc, 0, CloseReason.FRAMING_ERROR, now)
                return
            if frame is None:
                break
            completed = True
            self._handle_frame(frame, now)
            if self.closed:
                return
        if completed:
            self._last_rx = now
        if framer.buffered:
            if completed or self._partial_since is None:
                self._partial_since = now
        else:
            self._partial_since = None

    def _handle_frame(self, frame: bytes, now: float) -> None:
        _, command_id, status, seq = _HEADER.unpack_from(frame)
        if command_id & RESPONSE_BIT:
            self._handle_response(frame, command_id, status, seq, now)
            return
        next_state = self._peer_table.get(command_id)
        if next_state is None:
            self._refuse_request(command_id, seq)
            return
        try:
            pdu = decode_body(command_id, status, seq, frame)
        except PduDecodeError as exc:
            self._answer_error(exc, command_id, seq)
            # A bind refused for a bad field closes the session (rows 8, 9).
            refused = RESPONSE_TRANSITIONS.get((self._state, command_id, False))
            if refused is not None:
                self._apply(refused, now)
            return
        assert isinstance(pdu, Request)
        if command_id == _ENQUIRE_LINK:
            self._out.append(_HEADER.pack(16, _ENQUIRE_LINK_RESP, 0, seq))
            self._events.append(AutoReplied(pdu, EnquireLinkResp(seq)))
            return
        self._last_activity = now
        if command_id not in NO_RESPONSE:
            if seq in self._inbound:
                self._inbound_dupes.setdefault(seq, []).append(command_id)
            else:
                self._inbound[seq] = command_id
        if next_state is not self._state:
            self._set_state(next_state)
        if command_id == _UNBIND:
            assert isinstance(pdu, Unbind)
            self._on_unbind_received(pdu, now)
            return
        self._events.append(PduReceived(pdu))

    def _refuse_request(self, command_id: int, seq: int) -> None:
        if command_id not in PDU_CLASSES:
            self._answer_error(
                UnknownCommandError(
                    f"unknown command_id 0x{command_id:08X}",
                    CommandStatus.ESME_RINVCMDID,
                    sequence_number=seq,
                    command_id=command_id,
                ),
                command_id,
                seq,
            )
            return
        status = REQUEST_REJECTIONS[self._peer][self._state].get(command_id, DEFAULT_REJECTION)
        error = UnexpectedPduError(
            f"{self._peer.value} may not send {CommandId(command_id).name} "
            f"in state {self._state.name}",
            status,
            sequence_number=seq,
            command_id=command_id,
        )
        self._answer_error(error, command_id, seq)

    def _answer_error(self, error: PduDecodeError | UnexpectedPduError, cid: int, seq: int) -> None:
        status = error.command_status_hint
        if isinstance(error, UnknownCommandError):
            reply: Response = GenericNack(seq, status)
        else:
            reply = make_error_response(cid, seq, status)
        self._out.append(_HEADER.pack(16, reply.command_id, status, seq))
        self._events.append(ProtocolViolation(error, reply))

    def _handle_response(
        self, frame: bytes, command_id: int, status: int, seq: int, now: float
    ) -> None:
        entry = self._outstanding.pop(seq, None)
        if entry is None or (command_id != entry.response_id and command_id != _GENERIC_NACK):
            if entry is not None:
                self._outstanding[seq] = entry
            if command_id not in PDU_CLASSES:
                self._answer_error(
                    UnknownCommandError(
                        f"unknown command_id 0x{command_id:08X}",
                        CommandStatus.ESME_RINVCMDID,
                        sequence_number=seq,
                        command_id=command_id,
                    ),
                    command_id,
                    seq,
                )
                return
            # Row 22: log and drop; never answer a response.
            self._events.append(
                ProtocolViolation(
                    UnexpectedPduError(
                        f"{CommandId(command_id).name} seq {seq} matches no outstanding request",
                        CommandStatus.ESME_RINVCMDID,
                        sequence_number=seq,
                        command_id=command_id,
                    ),
                    None,
                )
            )
            return
        try:
            pdu = decode_body(command_id, status, seq, frame)
        except PduDecodeError as exc:
            # The request is finished: it got an answer, if a malformed one. Report, never nack.
            self._events.append(ProtocolViolation(exc, None))
            if entry.auto and entry.sequence_number == self._auto_enquire_seq:
                self._auto_enquire_seq = None
            return
        if command_id != _ENQUIRE_LINK_RESP:
            self._last_activity = now
        if entry.auto:
            if entry.sequence_number == self._auto_enquire_seq:
                self._auto_enquire_seq = None
        else:
            self._events.append(PduReceived(pdu))
        succeeded = status == 0 and command_id != _GENERIC_NACK
        transition = RESPONSE_TRANSITIONS.get((self._state, entry.command_id, succeeded))
        if transition is not None:
            self._apply(transition, now)

    def _on_unbind_received(self, pdu: Unbind, now: float) -> None:
        if self._pending_unbind is not None:
            # A second unbind while the first still waits for in-flight answers.
            self._take_inbound(pdu.sequence_number, _C.UNBIND_RESP)
            self._answer_error(
                UnexpectedPduError(
                    "unbind while an unbind is already in progress",
                    CommandStatus.ESME_RINVBNDSTS,
                    sequence_number=pdu.sequence_number,
                    command_id=_UNBIND,
                ),
                _UNBIND,
                pdu.sequence_number,
            )
            return
        # Row 26: answer once every request received before the unbind has been answered.
        if len(self._inbound) <= 1 and not self._inbound_dupes:
            self._finish_unbind(pdu, now)
        else:
            timeout = self._config.response_timeout
            self._pending_unbind = (pdu, now + timeout if timeout is not None else math.inf)

    def _finish_unbind(self, pdu: Unbind, now: float) -> None:
        self._pending_unbind = None
        self._take_inbound(pdu.sequence_number, _C.UNBIND_RESP)
        self._out.append(_HEADER.pack(16, _C.UNBIND_RESP, 0, pdu.sequence_number))
        self._events.append(AutoReplied(pdu, UnbindResp(pdu.sequence_number)))
        transition = RESPONSE_TRANSITIONS.get((self._state, _UNBIND, True))
        if transition is not None:
            self._apply(transition, now)

    # ----------------------------------------------------------------------------------------
    # Events and bytes out
    # ----------------------------------------------------------------------------------------

    def next_event(self) -> Event | None:
        """Return the next event, oldest first.

        Returns:
            An event, or None if there are no buffered events.
        """
        return self._events.popleft() if self._events else None

    def events(self) -> Iterator[Event]:
        """Yield and consume every buffered event.

        Yields:
            Events, oldest first.
        """
        while self._events:
            yield self._events.popleft()

    def take_events(self) -> list[Event]:
        """Return, and forget, every buffered event (``events`` without a generator per call).

        Returns:
            The events, oldest first (possibly empty). Events raised while the caller handles
            these wait for the next call.
        """
        events = self._events
        if not events:
            return []
        taken = list(events)
        events.clear()
        return taken

    def data_to_send(self) -> bytes:
        """Return, and forget, the octets the session queued by itself.

        Returns:
            Automatic answers, keep-alives and generic_nacks, in order (possibly empty).
        """
        if not self._out:
            return b""
        data = b"".join(self._out)
        self._out.clear()
        return data

    def send(self, pdu: Pdu, now: float) -> bytes:
        """Check a PDU against the state machine, book it, and encode it.

        A request whose ``sequence_number`` is 0 gets the next free number, written into the
        PDU in place (read it back from ``pdu.sequence_number``). A response must answer a
        request received and not yet answered, with the matching ``*_resp`` or generic_nack.

        Args:
            pdu: The PDU to send.
            now: Current time; starts the request's response timer.

        Returns:
            The PDU's octets. Write them even if the session is CLOSED afterwards (a failed
            bind_resp closes the session).

        Raises:
            InvalidStateError: The state forbids the request, or the response answers nothing;
                ``command_status_hint`` is what a peer would have answered.
            LocalProtocolError: A request's explicit sequence_number is out of range or in use.
            PduEncodeError: A field is invalid. The session state is unchanged.
        """
        state = self._state
        if state is _CLOSED:
            raise InvalidStateError(
                "the session is closed",
                CommandStatus.ESME_RINVBNDSTS,
                sequence_number=pdu.sequence_number,
                command_id=pdu.command_id,
            )
        if isinstance(pdu, Response):
            return self._send_response(pdu, now)
        assert isinstance(pdu, Request)
        command_id = pdu.command_id
        next_state = self._own_table.get(command_id)
        if next_state is None:
            raise InvalidStateError(
                f"{self._role.value} may not send {command_id.name} in state {state.name}",
                REQUEST_REJECTIONS[self._role][state].get(command_id, DEFAULT_REJECTION),
                sequence_number=pdu.sequence_number,
                command_id=command_id,
            )
        given = pdu.sequence_number
        if given == 0:
            pdu.sequence_number = self._take_sequence_number()
        elif not 1 <= given <= SEQUENCE_NUMBER_MAX or given in self._outstanding:
            raise LocalProtocolError(
                f"sequence_number {given} is out of range or awaits a response",
                CommandStatus.ESME_RSYSERR,
                sequence_number=given,
                command_id=command_id,
            )
        try:
            data = encode(pdu)
        except Exception:
            pdu.sequence_number = given
            raise
        if command_id not in NO_RESPONSE:
            self._book(pdu, now, auto=False)
        if command_id != _ENQUIRE_LINK:
            self._last_activity = now
        if next_state is not state:
            self._set_state(next_state)
        return data

    def _send_response(self, pdu: Response, now: float) -> bytes:
        seq = pdu.sequence_number
        command_id = pdu.command_id
        request_id = self._match_inbound(seq, command_id)
        if request_id is None:
            raise InvalidStateError(
                f"{command_id.name} seq {seq} answers no request awaiting an answer",
                CommandStatus.ESME_RINVBNDSTS,
                sequence_number=seq,
                command_id=command_id,
            )
        data = encode(pdu)
        self._take_inbound(seq, command_id)
        self._last_activity = now
        succeeded = pdu.command_status == 0 and command_id != _GENERIC_NACK
        transition = RESPONSE_TRANSITIONS.get((self._state, request_id, succeeded))
        if transition is not None:
            self._apply(transition, now)
        elif self._pending_unbind is not None and self._only_unbind_pending():
            self._finish_unbind(self._pending_unbind[0], now)
        return data

    def _only_unbind_pending(self) -> bool:
        assert self._pending_unbind is not None
        return not self._inbound_dupes and list(self._inbound) == [
            self._pending_unbind[0].sequence_number
        ]

    # ----------------------------------------------------------------------------------------
    # Timers
    # ----------------------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        """Return when ``handle_timer`` must next be called.

        Returns:
            The earliest deadline, or None when no timer is armed (or the session is CLOSED).
        """
        state = self._state
        if state is _CLOSED:
            return None
        config = self._config
        when = math.inf
        if self._partial_since is not None and config.pdu_read_timeout is not None:
            when = self._partial_since + config.pdu_read_timeout
        if state <= SessionState.BINDING and config.session_init_timeout is not None:
            when = min(when, self._opened_at + config.session_init_timeout)
        if state in BOUND_STATES:
            if config.enquire_link_interval is not None and self._auto_enquire_seq is None:
                when = min(when, self._last_rx + config.enquire_link_interval)
            if config.inactivity_timeout is not None:
                when = min(when, self._last_activity + config.inactivity_timeout)
        deadline = self._earliest_deadline()
        if deadline is not None:
            when = min(when, deadline)
        if self._pending_unbind is not None:
            when = min(when, self._pending_unbind[1])
        return None if when == math.inf else when

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at ``now``: stalls, session init, responses, keep-alives.

        Args:
            now: Current time.
        """
        if self._state is _CLOSED:
            return
        config = self._config
        # Row 3: a partial PDU stalled.
        if (
            self._partial_since is not None
            and config.pdu_read_timeout is not None
            and now >= self._partial_since + config.pdu_read_timeout
        ):
            seq = self._framer.pending_sequence_number() or 0
            error = FramingError(
                f"partial PDU ({self._framer.buffered} octets) stalled",
                CommandStatus.ESME_RINVCMDLEN,
                sequence_number=seq,
            )
            self._fatal(error, seq, CloseReason.PDU_READ_TIMEOUT, now)
            return
        # Row 25: not bound in time.
        if (
            self._state <= SessionState.BINDING
            and config.session_init_timeout is not None
            and now >= self._opened_at + config.session_init_timeout
        ):
            self._close(CloseReason.SESSION_INIT_TIMEOUT)
            return
        # Row 24: unanswered requests.
        deadlines = self._deadlines
        while deadlines and deadlines[0].deadline <= now:
            entry = deadlines.popleft()
            if self._outstanding.get(entry.sequence_number) is not entry:
                continue
            del self._outstanding[entry.sequence_number]
            if entry.sequence_number == self._auto_enquire_seq:
                self._auto_enquire_seq = None
            if not entry.auto:
                self._events.append(
                    RequestTimedOut(entry.sequence_number, entry.command_id, entry.request)
                )
            reason = CLOSE_ON_TIMEOUT.get(entry.command_id)
            if reason is not None:
                self._close(reason)
                return
        # Row 26: the application took too long to answer before an unbind.
        if self._pending_unbind is not None and now >= self._pending_unbind[1]:
            self._finish_unbind(self._pending_unbind[0], now)
            if self.closed:
                return
        if self._state in BOUND_STATES:
            if (
                config.inactivity_timeout is not None
                and now >= self._last_activity + config.inactivity_timeout
            ):
                self._unbind_reason = CloseReason.INACTIVITY_TIMEOUT
                self._send_auto(Unbind(), now)
                return
            if (
                config.enquire_link_interval is not None
                and self._auto_enquire_seq is None
                and now >= self._last_rx + config.enquire_link_interval
            ):
                self._auto_enquire_seq = self._send_auto(EnquireLink(), now)

    # ----------------------------------------------------------------------------------------
    # Closing
    # ----------------------------------------------------------------------------------------

    def close(self, now: float) -> None:
        """Close the session at the application's request (no unbind is sent).

        Args:
            now: Current time.
        """
        self._close(CloseReason.LOCAL_CLOSE)

    def connection_lost(self, now: float) -> None:
        """Tell the session its transport is gone.

        Args:
            now: Current time.
        """
        self._close(CloseReason.CONNECTION_LOST)

    # ----------------------------------------------------------------------------------------
    # Internals
    # ----------------------------------------------------------------------------------------

    def _set_state(self, state: SessionState) -> None:
        self._state = state
        self._own_table = REQUEST_TRANSITIONS[self._role][state]
        self._peer_table = REQUEST_TRANSITIONS[self._peer][state]

    def _apply(self, transition: tuple[SessionState, CloseReason | None], now: float) -> None:
        state, reason = transition
        if state is _CLOSED:
            if reason is CloseReason.UNBOUND:
                reason = self._unbind_reason
            self._close(reason if reason is not None else CloseReason.LOCAL_CLOSE)
        else:
            self._set_state(state)

    def _close(self, reason: CloseReason) -> None:
        if self._state is _CLOSED:
            return
        unanswered = tuple(e.request for e in self._outstanding.values() if not e.auto)
        self._set_state(SessionState.CLOSED)
        self._outstanding.clear()
        self._deadlines.clear()
        self._inbound.clear()
        self._inbound_dupes.clear()
        self._pending_unbind = None
        self._auto_enquire_seq = None
        self._partial_since = None
        self._events.append(SessionClosed(reason, unanswered))

    def _fatal(self, error: FramingError, seq: int, reason: CloseReason, now: float) -> None:
        reply = GenericNack(seq, _RINVCMDLEN)
        self._out.append(_HEADER.pack(16, _GENERIC_NACK, _RINVCMDLEN, seq))
        self._events.append(ProtocolViolation(error, reply))
        self._close(reason)

    def _take_sequence_number(self) -> int:
        seq = self._next_seq
        outstanding = self._outstanding
        while seq in outstanding:
            seq = 1 if seq >= SEQUENCE_NUMBER_MAX else seq + 1
        self._next_seq = 1 if seq >= SEQUENCE_NUMBER_MAX else seq + 1
        return seq

    def _book(self, request: Request, now: float, auto: bool) -> None:
        timeout = self._config.response_timeout
        entry = _Outstanding(request, now + timeout if timeout is not None else math.inf, auto)
        self._outstanding[entry.sequence_number] = entry
        if timeout is not None:
            self._deadlines.append(entry)

    def _earliest_deadline(self) -> float | None:
        deadlines = self._deadlines
        outstanding = self._outstanding
        while deadlines:
            head = deadlines[0]
            if outstanding.get(head.sequence_number) is head:
                return head.deadline
            deadlines.popleft()
        return None

    def _send_auto(self, request: Request, now: float) -> int:
        """Send a session-originated request (keep-alive, inactivity unbind) into ``_out``."""
        next_state = self._own_table[request.command_id]
        request.sequence_number = self._take_sequence_number()
        self._out.append(encode(request))
        self._book(request, now, auto=True)
        if next_state is not self._state:
            self._set_state(next_state)
        return request.sequence_number

    def _match_inbound(self, seq: int, response_id: int) -> int | None:
        """Return the command_id of the pending request ``response_id`` answers, if any."""
        request_id = self._inbound.get(seq)
        if request_id is None:
            return None
        if response_id == request_id | RESPONSE_BIT or response_id == _GENERIC_NACK:
            return request_id
        for dupe in self._inbound_dupes.get(seq, ()):
            if response_id == dupe | RESPONSE_BIT:
                return dupe
        return None

    def _take_inbound(self, seq: int, response_id: int) -> None:
        """Forget the pending request that ``response_id`` answers (a peer may reuse a seq)."""
        dupes = self._inbound_dupes.get(seq)
        if dupes is None:
            self._inbound.pop(seq, None)
            return
        request_id = self._inbound[seq]
        if response_id == request_id | RESPONSE_BIT or response_id == _GENERIC_NACK:
            self._inbound[seq] = dupes.pop(0)
        else:
            dupes.remove(response_id & ~RESPONSE_BIT)
        if not dupes:
            del self._inbound_dupes[seq]
