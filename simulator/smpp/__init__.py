"""Pure SMPP 3.4 protocol core (framing, PDU codec, session state machine), sans I/O.

Layering, bottom up: ``constants`` (spec tables) -> ``errors`` -> ``pdu`` (data) ->
``codec`` (bytes <-> PDUs) and ``framing`` (stream -> frames) -> ``events`` -> ``session``
(state machine for either role). Nothing here touches sockets, clocks or global randomness.
"""

from __future__ import annotations

from simulator.smpp.codec import decode, decode_body, decode_header, encode
from simulator.smpp.constants import CommandId, CommandStatus, MessageState, Tag
from simulator.smpp.errors import (
    FramingError,
    InvalidStateError,
    LocalProtocolError,
    PduDecodeError,
    PduEncodeError,
    RemoteProtocolError,
    SmppProtocolError,
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
from simulator.smpp.session import Role, Session, SessionConfig, SessionState

__all__ = [
    "AutoReplied",
    "CloseReason",
    "CommandId",
    "CommandStatus",
    "Event",
    "Framer",
    "FramingError",
    "InvalidStateError",
    "LocalProtocolError",
    "MessageState",
    "PduDecodeError",
    "PduEncodeError",
    "PduReceived",
    "ProtocolViolation",
    "RemoteProtocolError",
    "RequestTimedOut",
    "Role",
    "Session",
    "SessionClosed",
    "SessionConfig",
    "SessionState",
    "SmppProtocolError",
    "Tag",
    "UnexpectedPduError",
    "UnknownCommandError",
    "decode",
    "decode_body",
    "decode_header",
    "encode",
]
