"""Events a ``Session`` reports: past-tense facts, frozen, one class per kind (aioquic style).

Invariants of this module:

* Events are facts that already happened inside the session; any answer the protocol obliges has
  already been queued (see ``Session.data_to_send``) by the time the event is read.
* Every request the application sent ends in exactly one of: ``PduReceived`` with its response
  (or generic_nack), ``RequestTimedOut``, ``ProtocolViolation`` whose error names its
  sequence_number (a malformed response), or ``SessionClosed.unanswered``.
* Don't subclass these (h11): code matches on the concrete classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TypeAlias

from simulator.smpp.errors import SmppProtocolError
from simulator.smpp.pdu import Pdu, Request, Response


class CloseReason(Enum):
    """Why a session reached CLOSED."""

    UNBOUND = "unbound"
    """The unbind / unbind_resp exchange completed (either side started it)."""
    BIND_FAILED = "bind_failed"
    """A bind was answered with an error status or generic_nack (SMPP-ERRORS rows 8-10)."""
    FRAMING_ERROR = "framing_error"
    """command_length unusable; generic_nack ESME_RINVCMDLEN was queued (rows 1, 2)."""
    PDU_READ_TIMEOUT = "pdu_read_timeout"
    """A partial PDU stalled; generic_nack ESME_RINVCMDLEN was queued (row 3)."""
    SESSION_INIT_TIMEOUT = "session_init_timeout"
    """No successful bind within the session-init timer (row 25)."""
    ENQUIRE_LINK_TIMEOUT = "enquire_link_timeout"
    """An enquire_link went unanswered within the response timer (row 24)."""
    BIND_TIMEOUT = "bind_timeout"
    """A bind went unanswered within the response timer."""
    UNBIND_TIMEOUT = "unbind_timeout"
    """An unbind went unanswered within the response timer."""
    INACTIVITY_TIMEOUT = "inactivity_timeout"
    """No application traffic within the inactivity timer; the session unbound itself."""
    LOCAL_CLOSE = "local_close"
    """The application called ``Session.close``."""
    CONNECTION_LOST = "connection_lost"
    """The transport went away (``Session.connection_lost``)."""


@dataclass(frozen=True, slots=True)
class PduReceived:
    """A valid PDU the application must handle arrived.

    Either a request the application answers (bind, submit_sm, deliver_sm, data_sm, query_sm,
    cancel_sm, replace_sm, submit_multi; outbind and alert_notification need no answer), or the
    response to a request the application sent (generic_nack included).
    """

    pdu: Pdu
    """The decoded PDU."""


@dataclass(frozen=True, slots=True)
class AutoReplied:
    """The session answered a request itself (enquire_link, unbind) and queued the reply."""

    request: Request
    """The peer's request."""
    reply: Response
    """The answer queued in ``data_to_send``."""


@dataclass(frozen=True, slots=True)
class RequestTimedOut:
    """A request the application sent got no response within the response timer."""

    sequence_number: int
    """Sequence number of the request."""
    command_id: int
    """command_id of the request."""
    request: Request
    """The request as sent (for requeueing)."""


@dataclass(frozen=True, slots=True)
class ProtocolViolation:
    """The peer broke the protocol; the answer SMPP-ERRORS obliges is already queued.

    A ``SessionClosed`` follows when the violation ends the session (framing errors, stalls).
    """

    error: SmppProtocolError
    """What was wrong, with the command_status hint and the offending sequence_number."""
    reply: Response | None
    """The answer queued (``*_resp`` or generic_nack), or None when the obligation is to drop
    (a response matching no request, a malformed response)."""


@dataclass(frozen=True, slots=True)
class SessionClosed:
    """The session reached CLOSED. Flush ``data_to_send()``, then close the transport."""

    reason: CloseReason
    """Why the session closed."""
    unanswered: tuple[Request, ...] = ()
    """Requests the application sent that never got a response (requeue them, row 26)."""


Event: TypeAlias = PduReceived | AutoReplied | RequestTimedOut | ProtocolViolation | SessionClosed
"""Everything ``Session.next_event`` can return."""
