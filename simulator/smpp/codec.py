"""Encode and decode SMPP 3.4 PDUs (the classes of ``simulator.smpp.pdu``) to and from frames.

Invariants of this module:

* ``decode`` / ``decode_body`` raise nothing but ``SmppProtocolError`` subclasses, whatever the
  input (fuzz-safe): ``FramingError`` for an unusable header, ``UnknownCommandError`` for an
  unknown command_id, ``PduDecodeError`` for a bad body. Each carries the command_status the peer
  must be answered with and, once the header was read, its sequence_number and command_id.
* What ``encode`` produces, ``decode`` accepts, and ``decode(encode(p)) == p`` for every valid
  PDU. Both sides apply the same limits; ``encode`` raises ``PduEncodeError`` where ``decode``
  would raise ``PduDecodeError``.
* An error response (command_status != 0) is the bare 16-octet header on the wire (SMPP-ERRORS
  row 28); a body a peer sends with one is ignored (row 20). generic_nack never has a body.
* Pure and allocation-light: ``struct`` for integers, ``bytes.find`` for C-Octet strings, no
  per-PDU objects beyond the PDU itself.

Decode checks, and the command_status reported (SMPP-ERRORS table, column "Required response"):

==================================================== =============================================
condition                                            status
==================================================== =============================================
field runs past command_length / trailing octets     ESME_RINVCMDLEN 0x02 (header-only PDUs)
no NUL within system_id (16)                         ESME_RINVSYSID 0x0F
no NUL within password (9)                           ESME_RINVPASWD 0x0E
no NUL within system_type (13)                       ESME_RINVSYSTYP 0x53
no NUL within address_range (41)                     ESME_RBINDFAIL 0x0D (no dedicated code)
no NUL within service_type (6)                       ESME_RINVSERTYP 0x15
no NUL within source_addr (21; data_sm/alert 65)     ESME_RINVSRCADR 0x0A
no NUL within destination_addr (21; data_sm 65)      ESME_RINVDSTADR 0x0B
no NUL within esme_addr (65)                         ESME_RINVDSTADR 0x0B
no NUL within dl_name (21)                           ESME_RINVDLNAME 0x34
no NUL within message_id (65)                        ESME_RINVMSGID 0x0C
schedule_delivery_time not "" or 16 chars            ESME_RINVSCHED 0x61
validity_period not "" or 16 chars                   ESME_RINVEXPIRY 0x62
final_date (query_sm_resp) not "" or 16 chars        ESME_RINVCMDLEN 0x02
sm_length > 254 or > remaining octets                ESME_RINVMSGLEN 0x01
short_message and message_payload both present       ESME_RINVMSGLEN 0x01
data_coding 8 (UCS-2) with an odd octet count        ESME_RINVMSGLEN 0x01 (UDH excluded)
number_of_dests > 254                                ESME_RINVNUMDESTS 0x33
dest_flag not 1 or 2                                 ESME_RINVDESTFLAG 0x40
fewer than 4 octets left for a TLV header            ESME_RINVOPTPARSTREAM 0xC0
TLV value runs past command_length                   ESME_RINVPARLEN 0xC2
known TLV with a wrong length (e.g. message_state 2) ESME_RINVPARLEN 0xC2
unknown command_id                                   ESME_RINVCMDID 0x03 (UnknownCommandError)
==================================================== =============================================

Leniency: a deliver_sm_resp of 16 octets (no message_id at all, as several ESMEs send it) decodes
as ``DeliverSmResp(message_id="")``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Final, TypeAlias

from simulator.smpp.constants import (
    COCTET_MAX,
    COCTET_STATUS,
    MAX_NUMBER_OF_DESTS,
    MAX_SHORT_MESSAGE_LENGTH,
    PDU_HEADER_LENGTH,
    RESPONSE_BIT,
    SMPP_TIME_LENGTHS,
    TLV_FIXED_SIZE,
    TLV_MAX_SIZE,
    CommandId,
    CommandStatus,
    Tag,
)
from simulator.smpp.errors import (
    FramingError,
    PduDecodeError,
    PduEncodeError,
    UnknownCommandError,
)
from simulator.smpp.pdu import (
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindRequest,
    BindResponse,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CancelSm,
    CancelSmResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    DestAddress,
    DistributionListDestAddress,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    Request,
    Response,
    ShortMessageRequest,
    SmeDestAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Tlv,
    Unbind,
    UnbindResp,
    UnsuccessSme,
)

_HEADER: Final = struct.Struct(">IIII")
_TLV_HEADER: Final = struct.Struct(">HH")
_B2: Final = struct.Struct(">BB")
_B3: Final = struct.Struct(">BBB")
_B5: Final = struct.Struct(">BBBBB")
_U32: Final = struct.Struct(">I")

_S = CommandStatus
_RINVCMDLEN: Final[int] = _S.ESME_RINVCMDLEN
_RINVMSGLEN: Final[int] = _S.ESME_RINVMSGLEN
_UCS2: Final[int] = 0x08
_UDHI: Final[int] = 0x40
_MESSAGE_PAYLOAD: Final[int] = Tag.MESSAGE_PAYLOAD


_Field: TypeAlias = tuple[int, int, str]
"""(maximum octets including NUL, command_status when exceeded, field name)."""


def _field(key: str, name: str | None = None) -> _Field:
    return COCTET_MAX[key], COCTET_STATUS[key], name or key


# Limits and statuses come from the tables in constants.py (one source of truth).
_F_SYSTEM_ID: Final = _field("system_id")
_F_PASSWORD: Final = _field("password")
_F_SYSTEM_TYPE: Final = _field("system_type")
_F_ADDRESS_RANGE: Final = _field("address_range")
_F_SERVICE_TYPE: Final = _field("service_type")
_F_SOURCE_ADDR: Final = _field("source_addr")
_F_DESTINATION_ADDR: Final = _field("destination_addr")
_F_DATA_SM_SOURCE_ADDR: Final = _field("data_sm_source_addr", "source_addr")
_F_DATA_SM_DESTINATION_ADDR: Final = _field("data_sm_destination_addr", "destination_addr")
_F_ALERT_SOURCE_ADDR: Final = _field("alert_source_addr", "source_addr")
_F_ESME_ADDR: Final = _field("esme_addr")
_F_DL_NAME: Final = _field("dl_name")
_F_MESSAGE_ID: Final = _field("message_id")
_F_SCHEDULE_DELIVERY_TIME: Final = _field("schedule_delivery_time")
_F_VALIDITY_PERIOD: Final = _field("validity_period")
_F_FINAL_DATE: Final = _field("final_date")


class _FieldError(Exception):
    """Internal: a field violates the spec. Becomes PduDecodeError or PduEncodeError."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --------------------------------------------------------------------------------------------
# Header
# --------------------------------------------------------------------------------------------


def decode_header(frame: bytes) -> tuple[int, int, int, int]:
    """Read the 16-octet PDU header.

    Args:
        frame: At least the first 16 octets of a PDU.

    Returns:
        (command_length, command_id, command_status, sequence_number).

    Raises:
        FramingError: Fewer than 16 octets were given.
    """
    if len(frame) < PDU_HEADER_LENGTH:
        raise FramingError(
            f"PDU header needs 16 octets, got {len(frame)}", CommandStatus.ESME_RINVCMDLEN
        )
    length, command_id, status, seq = _HEADER.unpack_from(frame)
    return length, command_id, status, seq


# --------------------------------------------------------------------------------------------
# Field readers (decode side)
# --------------------------------------------------------------------------------------------


def _cstr(frame: bytes, pos: int, field: _Field) -> tuple[str, int]:
    """Read a C-Octet String of at most ``field[0]`` octets including its NUL."""
    nul = frame.find(b"\x00", pos, pos + field[0])  # find() clips the end at len(frame)
    if nul < 0:
        if len(frame) - pos >= field[0]:
            raise _FieldError(field[1], f"{field[2]}: no NUL within {field[0]} octets")
        raise _FieldError(_RINVCMDLEN, f"{field[2]} runs past command_length")
    if nul == pos:
        return "", pos + 1
    return frame[pos:nul].decode("latin-1"), nul + 1


def _time(frame: bytes, pos: int, field: _Field) -> tuple[str, int]:
    """Read an SMPP time: NULL or exactly 16 characters plus NUL (3.4 §7.1)."""
    value, pos = _cstr(frame, pos, field)
    if value and len(value) not in SMPP_TIME_LENGTHS:
        raise _FieldError(field[1], f"{field[2]} must be empty or 16 characters, got {len(value)}")
    return value, pos


def _tlvs(frame: bytes, pos: int) -> tuple[Tlv, ...]:
    """Read the optional parameters from ``pos`` to the end of the frame (3.4 §3.3.2)."""
    end = len(frame)
    out: list[Tlv] = []
    unpack = _TLV_HEADER.unpack_from
    while pos < end:
        if end - pos < 4:
            raise _FieldError(
                _S.ESME_RINVOPTPARSTREAM, f"{end - pos} octets left: truncated TLV header"
            )
        tag, length = unpack(frame, pos)
        pos += 4
        stop = pos + length
        if stop > end:
            raise _FieldError(
                _S.ESME_RINVPARLEN, f"TLV 0x{tag:04X} length {length} runs past command_length"
            )
        _check_tlv_length(tag, length)
        out.append((tag, frame[pos:stop]))
        pos = stop
    return tuple(out)


def _check_tlv_length(tag: int, length: int) -> None:
    fixed = TLV_FIXED_SIZE.get(tag)
    if fixed is not None:
        if length != fixed:
            raise _FieldError(
                _S.ESME_RINVPARLEN, f"TLV 0x{tag:04X} must be {fixed} octets, got {length}"
            )
        return
    maximum = TLV_MAX_SIZE.get(tag)
    if maximum is not None and length > maximum:
        raise _FieldError(
            _S.ESME_RINVPARLEN, f"TLV 0x{tag:04X} longer than {maximum} octets: {length}"
        )


def _has_payload(tlvs: tuple[Tlv, ...]) -> bool:
    return _payload(tlvs) is not None


def _payload(tlvs: tuple[Tlv, ...]) -> bytes | None:
    for tag, value in tlvs:
        if tag == _MESSAGE_PAYLOAD:
            return value
    return None


def _check_user_data(
    esm_class: int, data_coding: int, short_message: bytes, tlvs: tuple[Tlv, ...]
) -> None:
    """SMPP-ERRORS rows 14 and 15: one carrier of user data; UCS-2 has an even octet count."""
    if tlvs:
        payload = _payload(tlvs)
        if payload is not None:
            if short_message:
                raise _FieldError(
                    _RINVMSGLEN, "short_message and message_payload must not both be set"
                )
            short_message = payload
    if data_coding == _UCS2 and short_message:
        skip = 1 + short_message[0] if esm_class & _UDHI else 0
        body = len(short_message) - skip
        if body < 0 or body & 1:
            raise _FieldError(_RINVMSGLEN, "UCS-2 user data must have an even number of octets")


#: A response whose body is message_id "" alone (the usual deliver_sm_resp): header + one NUL.
_EMPTY_ID_RESP_LENGTH: Final[int] = PDU_HEADER_LENGTH + 1


def _short_message(frame: bytes, pos: int, length: int) -> tuple[bytes, int]:
    if length > MAX_SHORT_MESSAGE_LENGTH:
        raise _FieldError(_RINVMSGLEN, f"sm_length {length} > {MAX_SHORT_MESSAGE_LENGTH}")
    stop = pos + length
    if stop > len(frame):
        raise _FieldError(_RINVMSGLEN, f"sm_length {length} runs past command_length")
    return frame[pos:stop], stop


# --------------------------------------------------------------------------------------------
# Decoders, one per body layout. Signature: (frame, sequence_number, command_status) -> Pdu.
# --------------------------------------------------------------------------------------------

_Decoder = Callable[[bytes, int, int], Pdu]


def _header_only_request(cls: type[Request]) -> _Decoder:
    def decode(frame: bytes, seq: int, status: int) -> Pdu:
        if len(frame) != PDU_HEADER_LENGTH:
            raise _FieldError(_RINVCMDLEN, f"{cls.command_id.name} has no body")
        return cls(seq)

    return decode


def _header_only_response(cls: type[Response]) -> _Decoder:
    def decode(frame: bytes, seq: int, status: int) -> Pdu:
        if len(frame) != PDU_HEADER_LENGTH:
            raise _FieldError(_RINVCMDLEN, f"{cls.command_id.name} has no body")
        return cls(seq, status)

    return decode


def _dec_generic_nack(frame: bytes, seq: int, status: int) -> Pdu:
    # Never has a body; anything after the header is ignored (never nack a nack).
    return GenericNack(seq, status)


def _bind_request(cls: type[BindRequest]) -> _Decoder:
    def decode(frame: bytes, seq: int, status: int) -> Pdu:
        system_id, p = _cstr(frame, 16, _F_SYSTEM_ID)
        password, p = _cstr(frame, p, _F_PASSWORD)
        system_type, p = _cstr(frame, p, _F_SYSTEM_TYPE)
        version, ton, npi = _B3.unpack_from(frame, p)
        address_range, p = _cstr(frame, p + 3, _F_ADDRESS_RANGE)
        tlvs = _tlvs(frame, p) if p < len(frame) else ()
        return cls(
            seq, system_id, password, system_type, version, ton, npi, address_range, tlvs=tlvs
        )

    return decode


def _bind_response(cls: type[BindResponse]) -> _Decoder:
    def decode(frame: bytes, seq: int, status: int) -> Pdu:
        system_id, p = _cstr(frame, 16, _F_SYSTEM_ID)
        tlvs = _tlvs(frame, p) if p < len(frame) else ()
        return cls(seq, status, system_id, tlvs=tlvs)

    return decode


def _dec_outbind(frame: bytes, seq: int, status: int) -> Pdu:
    system_id, p = _cstr(frame, 16, _F_SYSTEM_ID)
    password, p = _cstr(frame, p, _F_PASSWORD)
    tlvs = _tlvs(frame, p) if p < len(frame) else ()
    return Outbind(seq, system_id, password, tlvs=tlvs)


def _short_message_request(cls: type[ShortMessageRequest]) -> _Decoder:
    def decode(frame: bytes, seq: int, status: int) -> Pdu:
        # service_type and the two times are usually empty: one NUL, read without a call.
        if frame[16]:
            service_type, p = _cstr(frame, 16, _F_SERVICE_TYPE)
        else:
            service_type, p = "", 17
        source_ton = frame[p]
        source_npi = frame[p + 1]
        source_addr, p = _cstr(frame, p + 2, _F_SOURCE_ADDR)
        dest_ton = frame[p]
        dest_npi = frame[p + 1]
        destination_addr, p = _cstr(frame, p + 2, _F_DESTINATION_ADDR)
        esm_class, protocol_id, priority = _B3.unpack_from(frame, p)
        p += 3
        if frame[p]:
            schedule, p = _time(frame, p, _F_SCHEDULE_DELIVERY_TIME)
        else:
            schedule, p = "", p + 1
        if frame[p]:
            validity, p = _time(frame, p, _F_VALIDITY_PERIOD)
        else:
            validity, p = "", p + 1
        registered, replace, data_coding, default_id, sm_length = _B5.unpack_from(frame, p)
        short_message, p = _short_message(frame, p + 5, sm_length)
        tlvs = _tlvs(frame, p) if p < len(frame) else ()
        if tlvs or data_coding == _UCS2:
            _check_user_data(esm_class, data_coding, short_message, tlvs)
        return cls(
            seq,
            service_type,
            source_ton,
            source_npi,
            source_addr,
            dest_ton,
            dest_npi,
            destination_addr,
            esm_class,
            protocol_id,
            priority,
            schedule,
            validity,
            registered,
            replace,
            data_coding,
            default_id,
            short_message,
            tlvs=tlvs,
        )

    return decode


def _message_id_response(cls: type[SubmitSmResp] | type[DataSmResp]) -> _Decoder:
    def decode(frame: bytes, seq: int, status: int) -> Pdu:
        message_id, p = _cstr(frame, 16, _F_MESSAGE_ID)
        tlvs = _tlvs(frame, p) if p < len(frame) else ()
        return cls(seq, status, message_id, tlvs=tlvs)

    return decode


def _dec_deliver_sm_resp(frame: bytes, seq: int, status: int) -> Pdu:
    size = len(frame)
    if size == PDU_HEADER_LENGTH or (size == _EMPTY_ID_RESP_LENGTH and frame[16] == 0):
        # Lenient: message_id omitted entirely; or the usual body, message_id "" alone.
        return DeliverSmResp(seq, status)
    message_id, p = _cstr(frame, 16, _F_MESSAGE_ID)
    tlvs = _tlvs(frame, p) if p < len(frame) else ()
    return DeliverSmResp(seq, status, message_id, tlvs=tlvs)


def _dec_submit_multi(frame: bytes, seq: int, status: int) -> Pdu:
    service_type, p = _cstr(frame, 16, _F_SERVICE_TYPE)
    source_ton = frame[p]
    source_npi = frame[p + 1]
    source_addr, p = _cstr(frame, p + 2, _F_SOURCE_ADDR)
    number_of_dests = frame[p]
    p += 1
    if number_of_dests > MAX_NUMBER_OF_DESTS:
        raise _FieldError(_S.ESME_RINVNUMDESTS, f"number_of_dests {number_of_dests} > 254")
    dests: list[DestAddress] = []
    for _ in range(number_of_dests):
        flag = frame[p]
        if flag == 1:
            ton = frame[p + 1]
            npi = frame[p + 2]
            address, p = _cstr(frame, p + 3, _F_DESTINATION_ADDR)
            dests.append(SmeDestAddress(ton, npi, address))
        elif flag == 2:
            name, p = _cstr(frame, p + 1, _F_DL_NAME)
            dests.append(DistributionListDestAddress(name))
        else:
            raise _FieldError(_S.ESME_RINVDESTFLAG, f"dest_flag {flag} is neither 1 nor 2")
    esm_class, protocol_id, priority = _B3.unpack_from(frame, p)
    schedule, p = _time(frame, p + 3, _F_SCHEDULE_DELIVERY_TIME)
    validity, p = _time(frame, p, _F_VALIDITY_PERIOD)
    registered, replace, data_coding, default_id, sm_length = _B5.unpack_from(frame, p)
    short_message, p = _short_message(frame, p + 5, sm_length)
    tlvs = _tlvs(frame, p) if p < len(frame) else ()
    if tlvs or data_coding == _UCS2:
        _check_user_data(esm_class, data_coding, short_message, tlvs)
    return SubmitMulti(
        seq,
        service_type,
        source_ton,
        source_npi,
        source_addr,
        tuple(dests),
        esm_class,
        protocol_id,
        priority,
        schedule,
        validity,
        registered,
        replace,
        data_coding,
        default_id,
        short_message,
        tlvs=tlvs,
    )


def _dec_submit_multi_resp(frame: bytes, seq: int, status: int) -> Pdu:
    message_id, p = _cstr(frame, 16, _F_MESSAGE_ID)
    count = frame[p]
    p += 1
    failed: list[UnsuccessSme] = []
    for _ in range(count):
        ton = frame[p]
        npi = frame[p + 1]
        address, p = _cstr(frame, p + 2, _F_DESTINATION_ADDR)
        (error,) = _U32.unpack_from(frame, p)
        p += 4
        failed.append(UnsuccessSme(ton, npi, address, error))
    tlvs = _tlvs(frame, p) if p < len(frame) else ()
    return SubmitMultiResp(seq, status, message_id, tuple(failed), tlvs=tlvs)


def _dec_data_sm(frame: bytes, seq: int, status: int) -> Pdu:
    service_type, p = _cstr(frame, 16, _F_SERVICE_TYPE)
    source_ton = frame[p]
    source_npi = frame[p + 1]
    source_addr, p = _cstr(frame, p + 2, _F_DATA_SM_SOURCE_ADDR)
    dest_ton = frame[p]
    dest_npi = frame[p + 1]
    destination_addr, p = _cstr(frame, p + 2, _F_DATA_SM_DESTINATION_ADDR)
    esm_class, registered, data_coding = _B3.unpack_from(frame, p)
    p += 3
    tlvs = _tlvs(frame, p) if p < len(frame) else ()
    if data_coding == _UCS2 and tlvs:
        _check_user_data(esm_class, data_coding, b"", tlvs)
    return DataSm(
        seq,
        service_type,
        source_ton,
        source_npi,
        source_addr,
        dest_ton,
        dest_npi,
        destination_addr,
        esm_class,
        registered,
        data_coding,
        tlvs=tlvs,
    )


def _dec_query_sm(frame: bytes, seq: int, status: int) -> Pdu:
    message_id, p = _cstr(frame, 16, _F_MESSAGE_ID)
    ton = frame[p]
    npi = frame[p + 1]
    source_addr, p = _cstr(frame, p + 2, _F_SOURCE_ADDR)
    tlvs = _tlvs(frame, p) if p < len(frame) else ()
    return QuerySm(seq, message_id, ton, npi, source_addr, tlvs=tlvs)


def _dec_query_sm_resp(frame: bytes, seq: int, status: int) -> Pdu:
    message_id, p = _cstr(frame, 16, _F_MESSAGE_ID)
    final_date, p = _time(frame, p, _F_FINAL_DATE)
    message_state, error_code = _B2.unpack_from(frame, p)
    p += 2
    tlvs = _tlvs(frame, p) if p < len(frame) else ()
    return QuerySmResp(seq, status, message_id, final_date, message_state, error_code, tlvs=tlvs)


def _dec_cancel_sm(frame: bytes, seq: int, status: int) -> Pdu:
    service_type, p = _cstr(frame, 16, _F_SERVICE_TYPE)
    message_id, p = _cstr(frame, p, _F_MESSAGE_ID)
    source_ton = frame[p]
    source_npi = frame[p + 1]
    source_addr, p = _cstr(frame, p + 2, _F_SOURCE_ADDR)
    dest_ton = frame[p]
    dest_npi = frame[p + 1]
    destination_addr, p = _cstr(frame, p + 2, _F_DESTINATION_ADDR)
    tlvs = _tlvs(frame, p) if p < len(frame) else ()
    return CancelSm(
        seq,
        service_type,
        message_id,
        source_ton,
        source_npi,
        source_addr,
        dest_ton,
        dest_npi,
        destination_addr,
        tlvs=tlvs,
    )


def _dec_replace_sm(frame: bytes, seq: int, status: int) -> Pdu:
    message_id, p = _cstr(frame, 16, _F_MESSAGE_ID)
    ton = frame[p]
    npi = frame[p + 1]
    source_addr, p = _cstr(frame, p + 2, _F_SOURCE_ADDR)
    schedule, p = _time(frame, p, _F_SCHEDULE_DELIVERY_TIME)
    validity, p = _time(frame, p, _F_VALIDITY_PERIOD)
    registered, default_id, sm_length = _B3.unpack_from(frame, p)
    short_message, p = _short_message(frame, p + 3, sm_length)
    tlvs = _tlvs(frame, p) if p < len(frame) else ()
    if short_message and tlvs and _has_payload(tlvs):
        raise _FieldError(_RINVMSGLEN, "short_message and message_payload must not both be set")
    return ReplaceSm(
        seq,
        message_id,
        ton,
        npi,
        source_addr,
        schedule,
        validity,
        registered,
        default_id,
        short_message,
        tlvs=tlvs,
    )


def _dec_alert_notification(frame: bytes, seq: int, status: int) -> Pdu:
    source_ton = frame[16]
    source_npi = frame[17]
    source_addr, p = _cstr(frame, 18, _F_ALERT_SOURCE_ADDR)
    esme_ton = frame[p]
    esme_npi = frame[p + 1]
    esme_addr, p = _cstr(frame, p + 2, _F_ESME_ADDR)
    tlvs = _tlvs(frame, p) if p < len(frame) else ()
    return AlertNotification(
        seq, source_ton, source_npi, source_addr, esme_ton, esme_npi, esme_addr, tlvs=tlvs
    )


_DECODERS: Final[dict[int, _Decoder]] = {
    CommandId.GENERIC_NACK: _dec_generic_nack,
    CommandId.BIND_RECEIVER: _bind_request(BindReceiver),
    CommandId.BIND_RECEIVER_RESP: _bind_response(BindReceiverResp),
    CommandId.BIND_TRANSMITTER: _bind_request(BindTransmitter),
    CommandId.BIND_TRANSMITTER_RESP: _bind_response(BindTransmitterResp),
    CommandId.BIND_TRANSCEIVER: _bind_request(BindTransceiver),
    CommandId.BIND_TRANSCEIVER_RESP: _bind_response(BindTransceiverResp),
    CommandId.OUTBIND: _dec_outbind,
    CommandId.UNBIND: _header_only_request(Unbind),
    CommandId.UNBIND_RESP: _header_only_response(UnbindResp),
    CommandId.ENQUIRE_LINK: _header_only_request(EnquireLink),
    CommandId.ENQUIRE_LINK_RESP: _header_only_response(EnquireLinkResp),
    CommandId.SUBMIT_SM: _short_message_request(SubmitSm),
    CommandId.SUBMIT_SM_RESP: _message_id_response(SubmitSmResp),
    CommandId.DELIVER_SM: _short_message_request(DeliverSm),
    CommandId.DELIVER_SM_RESP: _dec_deliver_sm_resp,
    CommandId.SUBMIT_MULTI: _dec_submit_multi,
    CommandId.SUBMIT_MULTI_RESP: _dec_submit_multi_resp,
    CommandId.DATA_SM: _dec_data_sm,
    CommandId.DATA_SM_RESP: _message_id_response(DataSmResp),
    CommandId.QUERY_SM: _dec_query_sm,
    CommandId.QUERY_SM_RESP: _dec_query_sm_resp,
    CommandId.CANCEL_SM: _dec_cancel_sm,
    CommandId.CANCEL_SM_RESP: _header_only_response(CancelSmResp),
    CommandId.REPLACE_SM: _dec_replace_sm,
    CommandId.REPLACE_SM_RESP: _header_only_response(ReplaceSmResp),
    CommandId.ALERT_NOTIFICATION: _dec_alert_notification,
}

_RESPONSE_CLASSES: Final[dict[int, type[Response]]] = {
    CommandId.GENERIC_NACK: GenericNack,
    CommandId.BIND_RECEIVER_RESP: BindReceiverResp,
    CommandId.BIND_TRANSMITTER_RESP: BindTransmitterResp,
    CommandId.BIND_TRANSCEIVER_RESP: BindTransceiverResp,
    CommandId.UNBIND_RESP: UnbindResp,
    CommandId.ENQUIRE_LINK_RESP: EnquireLinkResp,
    CommandId.SUBMIT_SM_RESP: SubmitSmResp,
    CommandId.DELIVER_SM_RESP: DeliverSmResp,
    CommandId.SUBMIT_MULTI_RESP: SubmitMultiResp,
    CommandId.DATA_SM_RESP: DataSmResp,
    CommandId.QUERY_SM_RESP: QuerySmResp,
    CommandId.CANCEL_SM_RESP: CancelSmResp,
    CommandId.REPLACE_SM_RESP: ReplaceSmResp,
}


def decode_body(command_id: int, command_status: int, sequence_number: int, frame: bytes) -> Pdu:
    """Decode a frame whose header has already been read (the session's hot path).

    Args:
        command_id: command_id from the header.
        command_status: command_status from the header.
        sequence_number: sequence_number from the header.
        frame: The whole PDU, header included, exactly command_length octets.

    Returns:
        The PDU. An error response comes back with default body fields (its body is ignored).

    Raises:
        UnknownCommandError: command_id is not an SMPP 3.4 command.
        PduDecodeError: The body violates the spec; ``command_status_hint`` says how to answer.
    """
    decoder = _DECODERS.get(command_id)
    if decoder is None:
        raise UnknownCommandError(
            f"unknown command_id 0x{command_id:08X}",
            CommandStatus.ESME_RINVCMDID,
            sequence_number=sequence_number,
            command_id=command_id,
        )
    if command_status and command_id & RESPONSE_BIT:
        # SMPP-ERRORS rows 20 and 28: an error response has no body; ignore any that came.
        return _RESPONSE_CLASSES[command_id](sequence_number, command_status)
    try:
        return decoder(frame, sequence_number, command_status)
    except _FieldError as exc:
        raise PduDecodeError(
            exc.message, exc.status, sequence_number=sequence_number, command_id=command_id
        ) from None
    except (struct.error, IndexError):
        raise PduDecodeError(
            f"{CommandId(command_id).name}: mandatory fields run past command_length",
            CommandStatus.ESME_RINVCMDLEN,
            sequence_number=sequence_number,
            command_id=command_id,
        ) from None


def decode(frame: bytes) -> Pdu:
    """Decode one whole PDU.

    Args:
        frame: Exactly one PDU, header included (as ``Framer`` returns it).

    Returns:
        The decoded PDU.

    Raises:
        FramingError: Fewer than 16 octets, or command_length differs from ``len(frame)``.
        UnknownCommandError: command_id is not an SMPP 3.4 command.
        PduDecodeError: The body violates the spec.
    """
    if len(frame) < PDU_HEADER_LENGTH:
        raise FramingError(
            f"PDU needs at least 16 octets, got {len(frame)}", CommandStatus.ESME_RINVCMDLEN
        )
    length, command_id, status, seq = _HEADER.unpack_from(frame)
    if length != len(frame):
        raise FramingError(
            f"command_length {length} but the frame has {len(frame)} octets",
            CommandStatus.ESME_RINVCMDLEN,
            sequence_number=seq,
            command_id=command_id,
        )
    return decode_body(command_id, status, seq, frame)


# --------------------------------------------------------------------------------------------
# Field writers (encode side)
# --------------------------------------------------------------------------------------------


def _c(value: str, field: _Field) -> bytes:
    """Encode a C-Octet String of at most ``field[0]`` octets including its NUL."""
    if not value:
        return b"\x00"
    raw = value.encode("latin-1")
    if len(raw) >= field[0]:
        raise _FieldError(field[1], f"{field[2]} longer than {field[0] - 1} characters: {value!r}")
    if b"\x00" in raw:
        raise _FieldError(field[1], f"{field[2]} contains NUL: {value!r}")
    return raw + b"\x00"


def _t(value: str, field: _Field) -> bytes:
    """Encode an SMPP time: "" or exactly 16 characters."""
    if value and len(value) not in SMPP_TIME_LENGTHS:
        raise _FieldError(field[1], f"{field[2]} must be empty or 16 characters: {value!r}")
    return _c(value, field)


def _enc_tlvs(tlvs: tuple[Tlv, ...]) -> bytes:
    parts: list[bytes] = []
    pack = _TLV_HEADER.pack
    for tag, value in tlvs:
        length = len(value)
        if length > 0xFFFF:
            raise _FieldError(_S.ESME_RINVPARLEN, f"TLV 0x{tag:04X} longer than 65535 octets")
        _check_tlv_length(tag, length)
        parts.append(pack(tag, length))
        parts.append(value)
    return b"".join(parts)


def _sm(short_message: bytes) -> bytes:
    if len(short_message) > MAX_SHORT_MESSAGE_LENGTH:
        raise _FieldError(
            _RINVMSGLEN, f"short_message is {len(short_message)} octets; use message_payload"
        )
    return bytes((len(short_message),)) + short_message


# --------------------------------------------------------------------------------------------
# Encoders, one per body layout. Signature: (pdu) -> body bytes.
# --------------------------------------------------------------------------------------------


def _enc_header_only(pdu: Pdu) -> bytes:
    if pdu.tlvs:
        raise _FieldError(_RINVCMDLEN, f"{pdu.command_id.name} has no body; tlvs must be empty")
    return b""


def _enc_bind_request(pdu: BindRequest) -> bytes:
    return b"".join(
        (
            _c(pdu.system_id, _F_SYSTEM_ID),
            _c(pdu.password, _F_PASSWORD),
            _c(pdu.system_type, _F_SYSTEM_TYPE),
            _B3.pack(pdu.interface_version, pdu.addr_ton, pdu.addr_npi),
            _c(pdu.address_range, _F_ADDRESS_RANGE),
            _enc_tlvs(pdu.tlvs) if pdu.tlvs else b"",
        )
    )


def _enc_bind_response(pdu: BindResponse) -> bytes:
    system_id = _c(pdu.system_id, _F_SYSTEM_ID)
    return system_id + _enc_tlvs(pdu.tlvs) if pdu.tlvs else system_id


def _enc_outbind(pdu: Outbind) -> bytes:
    return b"".join(
        (
            _c(pdu.system_id, _F_SYSTEM_ID),
            _c(pdu.password, _F_PASSWORD),
            _enc_tlvs(pdu.tlvs) if pdu.tlvs else b"",
        )
    )


def _enc_short_message_request(pdu: ShortMessageRequest) -> bytes:
    tlvs = pdu.tlvs
    short_message = pdu.short_message
    if tlvs or pdu.data_coding == _UCS2:
        _check_user_data(pdu.esm_class, pdu.data_coding, short_message, tlvs)
    if len(short_message) > MAX_SHORT_MESSAGE_LENGTH:
        _sm(short_message)  # raises
    # Empty strings (the usual service_type and times) skip the field writers: one NUL each.
    service_type = pdu.service_type
    schedule = pdu.schedule_delivery_time
    validity = pdu.validity_period
    return b"".join(
        (
            _c(service_type, _F_SERVICE_TYPE) if service_type else b"\x00",
            _B2.pack(pdu.source_addr_ton, pdu.source_addr_npi),
            _c(pdu.source_addr, _F_SOURCE_ADDR),
            _B2.pack(pdu.dest_addr_ton, pdu.dest_addr_npi),
            _c(pdu.destination_addr, _F_DESTINATION_ADDR),
            _B3.pack(pdu.esm_class, pdu.protocol_id, pdu.priority_flag),
            _t(schedule, _F_SCHEDULE_DELIVERY_TIME) if schedule else b"\x00",
            _t(validity, _F_VALIDITY_PERIOD) if validity else b"\x00",
            _B5.pack(
                pdu.registered_delivery,
                pdu.replace_if_present_flag,
                pdu.data_coding,
                pdu.sm_default_msg_id,
                len(short_message),
            ),
            short_message,
            _enc_tlvs(tlvs) if tlvs else b"",
        )
    )


def _enc_message_id_response(pdu: SubmitSmResp | DeliverSmResp | DataSmResp) -> bytes:
    message_id = _c(pdu.message_id, _F_MESSAGE_ID)
    return message_id + _enc_tlvs(pdu.tlvs) if pdu.tlvs else message_id


def _enc_submit_multi(pdu: SubmitMulti) -> bytes:
    if len(pdu.dest_addresses) > MAX_NUMBER_OF_DESTS:
        raise _FieldError(
            _S.ESME_RINVNUMDESTS, f"{len(pdu.dest_addresses)} destinations; at most 254"
        )
    if pdu.tlvs or pdu.data_coding == _UCS2:
        _check_user_data(pdu.esm_class, pdu.data_coding, pdu.short_message, pdu.tlvs)
    parts = [
        _c(pdu.service_type, _F_SERVICE_TYPE),
        _B2.pack(pdu.source_addr_ton, pdu.source_addr_npi),
        _c(pdu.source_addr, _F_SOURCE_ADDR),
        bytes((len(pdu.dest_addresses),)),
    ]
    for dest in pdu.dest_addresses:
        if isinstance(dest, SmeDestAddress):
            parts.append(_B3.pack(1, dest.dest_addr_ton, dest.dest_addr_npi))
            parts.append(_c(dest.destination_addr, _F_DESTINATION_ADDR))
        elif isinstance(dest, DistributionListDestAddress):
            parts.append(b"\x02")
            parts.append(_c(dest.dl_name, _F_DL_NAME))
        else:
            raise _FieldError(_S.ESME_RINVDESTFLAG, f"not a destination address: {dest!r}")
    parts += (
        _B3.pack(pdu.esm_class, pdu.protocol_id, pdu.priority_flag),
        _t(pdu.schedule_delivery_time, _F_SCHEDULE_DELIVERY_TIME),
        _t(pdu.validity_period, _F_VALIDITY_PERIOD),
        _B2.pack(pdu.registered_delivery, pdu.replace_if_present_flag),
        _B2.pack(pdu.data_coding, pdu.sm_default_msg_id),
        _sm(pdu.short_message),
        _enc_tlvs(pdu.tlvs) if pdu.tlvs else b"",
    )
    return b"".join(parts)


def _enc_submit_multi_resp(pdu: SubmitMultiResp) -> bytes:
    if len(pdu.unsuccess_smes) > 255:
        raise _FieldError(_RINVCMDLEN, f"{len(pdu.unsuccess_smes)} unsuccess_sme; at most 255")
    parts = [
        _c(pdu.message_id, _F_MESSAGE_ID),
        bytes((len(pdu.unsuccess_smes),)),
    ]
    for sme in pdu.unsuccess_smes:
        parts.append(_B2.pack(sme.dest_addr_ton, sme.dest_addr_npi))
        parts.append(_c(sme.destination_addr, _F_DESTINATION_ADDR))
        parts.append(_U32.pack(sme.error_status_code))
    if pdu.tlvs:
        parts.append(_enc_tlvs(pdu.tlvs))
    return b"".join(parts)


def _enc_data_sm(pdu: DataSm) -> bytes:
    if pdu.data_coding == _UCS2 and pdu.tlvs:
        _check_user_data(pdu.esm_class, pdu.data_coding, b"", pdu.tlvs)
    return b"".join(
        (
            _c(pdu.service_type, _F_SERVICE_TYPE),
            _B2.pack(pdu.source_addr_ton, pdu.source_addr_npi),
            _c(pdu.source_addr, _F_DATA_SM_SOURCE_ADDR),
            _B2.pack(pdu.dest_addr_ton, pdu.dest_addr_npi),
            _c(pdu.destination_addr, _F_DATA_SM_DESTINATION_ADDR),
            _B3.pack(pdu.esm_class, pdu.registered_delivery, pdu.data_coding),
            _enc_tlvs(pdu.tlvs) if pdu.tlvs else b"",
        )
    )


def _enc_query_sm(pdu: QuerySm) -> bytes:
    return b"".join(
        (
            _c(pdu.message_id, _F_MESSAGE_ID),
            _B2.pack(pdu.source_addr_ton, pdu.source_addr_npi),
            _c(pdu.source_addr, _F_SOURCE_ADDR),
            _enc_tlvs(pdu.tlvs) if pdu.tlvs else b"",
        )
    )


def _enc_query_sm_resp(pdu: QuerySmResp) -> bytes:
    return b"".join(
        (
            _c(pdu.message_id, _F_MESSAGE_ID),
            _t(pdu.final_date, _F_FINAL_DATE),
            _B2.pack(pdu.message_state, pdu.error_code),
            _enc_tlvs(pdu.tlvs) if pdu.tlvs else b"",
        )
    )


def _enc_cancel_sm(pdu: CancelSm) -> bytes:
    return b"".join(
        (
            _c(pdu.service_type, _F_SERVICE_TYPE),
            _c(pdu.message_id, _F_MESSAGE_ID),
            _B2.pack(pdu.source_addr_ton, pdu.source_addr_npi),
            _c(pdu.source_addr, _F_SOURCE_ADDR),
            _B2.pack(pdu.dest_addr_ton, pdu.dest_addr_npi),
            _c(pdu.destination_addr, _F_DESTINATION_ADDR),
            _enc_tlvs(pdu.tlvs) if pdu.tlvs else b"",
        )
    )


def _enc_replace_sm(pdu: ReplaceSm) -> bytes:
    if pdu.short_message and pdu.tlvs and _has_payload(pdu.tlvs):
        raise _FieldError(_RINVMSGLEN, "short_message and message_payload must not both be set")
    return b"".join(
        (
            _c(pdu.message_id, _F_MESSAGE_ID),
            _B2.pack(pdu.source_addr_ton, pdu.source_addr_npi),
            _c(pdu.source_addr, _F_SOURCE_ADDR),
            _t(pdu.schedule_delivery_time, _F_SCHEDULE_DELIVERY_TIME),
            _t(pdu.validity_period, _F_VALIDITY_PERIOD),
            _B2.pack(pdu.registered_delivery, pdu.sm_default_msg_id),
            _sm(pdu.short_message),
            _enc_tlvs(pdu.tlvs) if pdu.tlvs else b"",
        )
    )


def _enc_alert_notification(pdu: AlertNotification) -> bytes:
    return b"".join(
        (
            _B2.pack(pdu.source_addr_ton, pdu.source_addr_npi),
            _c(pdu.source_addr, _F_ALERT_SOURCE_ADDR),
            _B2.pack(pdu.esme_addr_ton, pdu.esme_addr_npi),
            _c(pdu.esme_addr, _F_ESME_ADDR),
            _enc_tlvs(pdu.tlvs) if pdu.tlvs else b"",
        )
    )


_ENCODERS: Final[dict[type[Pdu], Callable[..., bytes]]] = {
    GenericNack: _enc_header_only,
    BindReceiver: _enc_bind_request,
    BindTransmitter: _enc_bind_request,
    BindTransceiver: _enc_bind_request,
    BindReceiverResp: _enc_bind_response,
    BindTransmitterResp: _enc_bind_response,
    BindTransceiverResp: _enc_bind_response,
    Outbind: _enc_outbind,
    Unbind: _enc_header_only,
    UnbindResp: _enc_header_only,
    EnquireLink: _enc_header_only,
    EnquireLinkResp: _enc_header_only,
    SubmitSm: _enc_short_message_request,
    DeliverSm: _enc_short_message_request,
    SubmitSmResp: _enc_message_id_response,
    DeliverSmResp: _enc_message_id_response,
    DataSmResp: _enc_message_id_response,
    SubmitMulti: _enc_submit_multi,
    SubmitMultiResp: _enc_submit_multi_resp,
    DataSm: _enc_data_sm,
    QuerySm: _enc_query_sm,
    QuerySmResp: _enc_query_sm_resp,
    CancelSm: _enc_cancel_sm,
    CancelSmResp: _enc_header_only,
    ReplaceSm: _enc_replace_sm,
    ReplaceSmResp: _enc_header_only,
    AlertNotification: _enc_alert_notification,
}


def encode(pdu: Pdu) -> bytes:
    """Encode one PDU, header included.

    An error response (``command_status != 0``) and generic_nack are encoded as the bare
    16-octet header whatever their other fields hold (SMPP-ERRORS row 28).

    Args:
        pdu: Any PDU from ``simulator.smpp.pdu``.

    Returns:
        The PDU's octets; command_length is computed.

    Raises:
        PduEncodeError: A field is out of range or violates the limits ``decode`` enforces;
            ``command_status_hint`` names the status a peer would answer it with.
    """
    encoder = _ENCODERS.get(type(pdu))
    if encoder is None:
        raise PduEncodeError(f"not an SMPP PDU class: {type(pdu).__name__}")
    command_id = pdu.command_id
    try:
        if isinstance(pdu, Response):
            status = pdu.command_status
            body = b"" if status else encoder(pdu)
        else:
            status = 0
            body = encoder(pdu)
        return _HEADER.pack(16 + len(body), command_id, status, pdu.sequence_number) + body
    except _FieldError as exc:
        raise PduEncodeError(
            exc.message,
            exc.status,
            sequence_number=pdu.sequence_number,
            command_id=command_id,
        ) from None
    except (struct.error, ValueError, TypeError, OverflowError, AttributeError) as exc:
        raise PduEncodeError(
            f"{command_id.name}: {exc}",
            CommandStatus.ESME_RSYSERR,
            sequence_number=pdu.sequence_number,
            command_id=command_id,
        ) from exc
