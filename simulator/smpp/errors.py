"""The error hierarchy of the SMPP core (h11 style: a hint for the peer on every error).

Invariants of this module:

* ``SmppProtocolError`` is the only root. Decoding arbitrary bytes raises nothing but its
  subclasses; the session turns them into events and the answer SMPP-ERRORS.md obliges.
* Every error carries ``command_status_hint``: the command_status to put in the answer, and where
  known the ``sequence_number`` and ``command_id`` of the offending PDU so the answer can echo them.
* ``LocalProtocolError`` means *we* tried something illegal (encode an invalid field, send a PDU
  the state forbids). ``RemoteProtocolError`` means the *peer* did. The subclasses of the remote
  branch tell the session what to do with the connection:

  ===================== ======================================================== =========
  class                 meaning                                                  session
  ===================== ======================================================== =========
  FramingError          command_length unusable: the byte stream is lost         close
  PduDecodeError        framing intact, body invalid (answer with the hint)      keep
  UnknownCommandError   command_id unknown (generic_nack ESME_RINVCMDID)         keep
  UnexpectedPduError    valid PDU, wrong moment: request not allowed in this     keep
                        state (answered RINVBNDSTS / RALYBND), or a response
                        matching no outstanding request (dropped, never nacked)
  ===================== ======================================================== =========
"""

from __future__ import annotations

from simulator.smpp.constants import CommandStatus


class SmppProtocolError(Exception):
    """Root of every error raised by the SMPP core.

    Attributes:
        command_status_hint: The command_status the peer should be answered with.
        sequence_number: Sequence number of the offending PDU, or None when the header itself
            could not be trusted (then any generic_nack carries sequence number 0).
        command_id: command_id of the offending PDU, or None when unknown.
    """

    def __init__(
        self,
        message: str,
        command_status_hint: int = CommandStatus.ESME_RSYSERR,
        *,
        sequence_number: int | None = None,
        command_id: int | None = None,
    ) -> None:
        """Build the error.

        Args:
            message: Human-readable description.
            command_status_hint: command_status to answer with.
            sequence_number: Sequence number of the offending PDU, when known.
            command_id: command_id of the offending PDU, when known.
        """
        super().__init__(message)
        self.message = message
        self.command_status_hint = command_status_hint
        self.sequence_number = sequence_number
        self.command_id = command_id

    def __repr__(self) -> str:
        """Show the message, the hint and the PDU identity."""
        return (
            f"{type(self).__name__}({self.message!r}, "
            f"command_status_hint=0x{self.command_status_hint:08X}, "
            f"sequence_number={self.sequence_number!r}, command_id={self.command_id!r})"
        )


class LocalProtocolError(SmppProtocolError):
    """We tried to do something the protocol forbids (a bug in the caller, never the peer)."""


class PduEncodeError(LocalProtocolError):
    """A PDU could not be encoded: a field is out of range or too long for the spec."""


class InvalidStateError(LocalProtocolError):
    """The session state (or the absence of a matching request) forbids sending this PDU."""


class RemoteProtocolError(SmppProtocolError):
    """The peer sent something the protocol forbids."""


class FramingError(RemoteProtocolError):
    """command_length is below 16, above the configured maximum, or has bit 31 set.

    The byte stream cannot be resynchronised: answer generic_nack ESME_RINVCMDLEN with
    sequence number 0 and close the connection (SMPP-ERRORS rows 1 and 2).
    """


class PduDecodeError(RemoteProtocolError):
    """The frame is intact but its body is invalid.

    Answer the request's ``*_resp`` (or generic_nack) with ``command_status_hint``, echoing
    ``sequence_number``, and keep the session (SMPP-ERRORS rows 5, 9, 14-16).
    """


class UnknownCommandError(PduDecodeError):
    """The command_id is not an SMPP 3.4 command: answer generic_nack ESME_RINVCMDID (row 4)."""


class UnexpectedPduError(RemoteProtocolError):
    """A well-formed PDU the session state does not allow (SMPP-ERRORS rows 6, 7 and 22).

    For a request the session answers ``command_status_hint`` (ESME_RINVBNDSTS or ESME_RALYBND);
    a response that matches no outstanding request is dropped and never answered.
    """
