"""SMPP 3.4 PDUs as plain data: one slotted dataclass per PDU type, plus TLV helpers.

Invariants of this module:

* Field names and order follow the PDU tables of SMPP 3.4 §4 exactly; length fields that the
  codec can derive (sm_length, number_of_dests, no_unsuccess, TLV lengths) are not stored.
* Every PDU has ``sequence_number`` and ``tlvs`` (an ordered tuple of ``(tag, value)`` pairs,
  unknown tags kept verbatim). Every response has ``command_status``. ``command_id`` is a class
  constant.
* C-Octet strings are ``str`` decoded as Latin-1 (so any octet round-trips); octet strings
  (short_message, TLV values) are ``bytes``.
* PDUs are values: compare them with ``==`` and treat them as immutable. They are not frozen only
  so that the codec can build them at full speed and ``Session.send`` can fill in a request's
  sequence_number in place.
* This module neither encodes nor decodes; ``simulator.smpp.codec`` does, against these classes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import ClassVar, Final, TypeAlias

from simulator.smpp.constants import CommandId, CommandStatus, Tag

Tlv: TypeAlias = tuple[int, bytes]
"""One optional parameter: (tag, value octets). The length is derived when encoding."""


# --------------------------------------------------------------------------------------------
# TLV value builders and readers (SMPP 3.4 §3.3.2, §5.3)
# --------------------------------------------------------------------------------------------


def tlv_u8(tag: int, value: int) -> Tlv:
    """Build a 1-octet integer TLV.

    Args:
        tag: TLV tag.
        value: 0..255.

    Returns:
        The (tag, value) pair.

    Raises:
        struct.error: If value does not fit.
    """
    return (tag, struct.pack(">B", value))


def tlv_u16(tag: int, value: int) -> Tlv:
    """Build a 2-octet big-endian integer TLV (e.g. sar_msg_ref_num, destination_port).

    Args:
        tag: TLV tag.
        value: 0..65535.

    Returns:
        The (tag, value) pair.

    Raises:
        struct.error: If value does not fit.
    """
    return (tag, struct.pack(">H", value))


def tlv_u32(tag: int, value: int) -> Tlv:
    """Build a 4-octet big-endian integer TLV (e.g. qos_time_to_live).

    Args:
        tag: TLV tag.
        value: 0..2**32-1.

    Returns:
        The (tag, value) pair.

    Raises:
        struct.error: If value does not fit.
    """
    return (tag, struct.pack(">I", value))


def tlv_cstr(tag: int, value: str) -> Tlv:
    """Build a C-Octet String TLV (NUL-terminated, e.g. receipted_message_id).

    Args:
        tag: TLV tag.
        value: Latin-1 text without NUL.

    Returns:
        The (tag, value) pair with the terminating NUL included.
    """
    return (tag, value.encode("latin-1") + b"\x00")


def tlv_int(value: bytes) -> int:
    """Read a big-endian unsigned integer TLV value of any width.

    Args:
        value: TLV value octets.

    Returns:
        The integer (0 for an empty value).
    """
    return int.from_bytes(value, "big")


def tlv_str(value: bytes) -> str:
    """Read a C-Octet String TLV value, tolerating a missing terminator.

    Args:
        value: TLV value octets.

    Returns:
        The text up to the first NUL, decoded as Latin-1.
    """
    nul = value.find(b"\x00")
    return (value if nul < 0 else value[:nul]).decode("latin-1")


class _TlvAccess:
    """Generic TLV accessors shared by every PDU (the ``tlvs`` field lives on each leaf class)."""

    __slots__ = ()
    tlvs: tuple[Tlv, ...]

    def get_tlv(self, tag: int) -> bytes | None:
        """Return the value of the first TLV with this tag.

        Args:
            tag: TLV tag.

        Returns:
            The value octets, or None if absent.
        """
        for t, v in self.tlvs:
            if t == tag:
                return v
        return None

    def get_tlv_int(self, tag: int) -> int | None:
        """Return the first TLV with this tag as a big-endian unsigned integer.

        Args:
            tag: TLV tag.

        Returns:
            The integer, or None if absent.
        """
        v = self.get_tlv(tag)
        return None if v is None else int.from_bytes(v, "big")

    def get_tlv_str(self, tag: int) -> str | None:
        """Return the first TLV with this tag as a C-Octet String.

        Args:
            tag: TLV tag.

        Returns:
            The text without its NUL, or None if absent.
        """
        v = self.get_tlv(tag)
        return None if v is None else tlv_str(v)

    def has_tlv(self, tag: int) -> bool:
        """Tell whether a TLV with this tag is present.

        Args:
            tag: TLV tag.

        Returns:
            True if present.
        """
        return any(t == tag for t, _ in self.tlvs)


class _MessageTlvs(_TlvAccess):
    """Typed accessors for the message TLVs of submit_sm, deliver_sm, submit_multi and data_sm."""

    __slots__ = ()

    @property
    def message_payload(self) -> bytes | None:
        """message_payload (0x0424): user data longer than short_message allows."""
        return self.get_tlv(Tag.MESSAGE_PAYLOAD)

    @property
    def receipted_message_id(self) -> str | None:
        """receipted_message_id (0x001E): the SMSC message id a delivery receipt refers to."""
        return self.get_tlv_str(Tag.RECEIPTED_MESSAGE_ID)

    @property
    def message_state(self) -> int | None:
        """message_state (0x0427): final state reported in a delivery receipt."""
        return self.get_tlv_int(Tag.MESSAGE_STATE)

    @property
    def network_error_code(self) -> tuple[int, int] | None:
        """network_error_code (0x0423) as (network_type, error_code)."""
        v = self.get_tlv(Tag.NETWORK_ERROR_CODE)
        if v is None or len(v) != 3:
            return None
        return v[0], int.from_bytes(v[1:], "big")

    @property
    def sar_msg_ref_num(self) -> int | None:
        """sar_msg_ref_num (0x020C): concatenation reference."""
        return self.get_tlv_int(Tag.SAR_MSG_REF_NUM)

    @property
    def sar_total_segments(self) -> int | None:
        """sar_total_segments (0x020E)."""
        return self.get_tlv_int(Tag.SAR_TOTAL_SEGMENTS)

    @property
    def sar_segment_seqnum(self) -> int | None:
        """sar_segment_seqnum (0x020F), 1-based."""
        return self.get_tlv_int(Tag.SAR_SEGMENT_SEQNUM)

    @property
    def source_port(self) -> int | None:
        """source_port (0x020A)."""
        return self.get_tlv_int(Tag.SOURCE_PORT)

    @property
    def destination_port(self) -> int | None:
        """destination_port (0x020B)."""
        return self.get_tlv_int(Tag.DESTINATION_PORT)

    @property
    def user_message_reference(self) -> int | None:
        """user_message_reference (0x0204): the ESME's own reference for the message."""
        return self.get_tlv_int(Tag.USER_MESSAGE_REFERENCE)

    @property
    def payload_type(self) -> int | None:
        """payload_type (0x0019)."""
        return self.get_tlv_int(Tag.PAYLOAD_TYPE)

    @property
    def more_messages_to_send(self) -> int | None:
        """more_messages_to_send (0x0426)."""
        return self.get_tlv_int(Tag.MORE_MESSAGES_TO_SEND)

    @property
    def ussd_service_op(self) -> int | None:
        """ussd_service_op (0x0501)."""
        return self.get_tlv_int(Tag.USSD_SERVICE_OP)

    @property
    def its_session_info(self) -> int | None:
        """its_session_info (0x1383), the two octets as one big-endian integer."""
        return self.get_tlv_int(Tag.ITS_SESSION_INFO)

    @property
    def callback_num(self) -> bytes | None:
        """callback_num (0x0381): digit mode, TON, NPI octets followed by the number."""
        return self.get_tlv(Tag.CALLBACK_NUM)

    @property
    def language_indicator(self) -> int | None:
        """language_indicator (0x020D)."""
        return self.get_tlv_int(Tag.LANGUAGE_INDICATOR)

    @property
    def privacy_indicator(self) -> int | None:
        """privacy_indicator (0x0201)."""
        return self.get_tlv_int(Tag.PRIVACY_INDICATOR)

    @property
    def qos_time_to_live(self) -> int | None:
        """qos_time_to_live (0x0017), seconds."""
        return self.get_tlv_int(Tag.QOS_TIME_TO_LIVE)


class _ResultTlvs(_TlvAccess):
    """Typed accessors for the result TLVs of data_sm_resp (and 5.0-style *_sm_resp)."""

    __slots__ = ()

    @property
    def delivery_failure_reason(self) -> int | None:
        """delivery_failure_reason (0x0425)."""
        return self.get_tlv_int(Tag.DELIVERY_FAILURE_REASON)

    @property
    def additional_status_info_text(self) -> str | None:
        """additional_status_info_text (0x001D)."""
        return self.get_tlv_str(Tag.ADDITIONAL_STATUS_INFO_TEXT)

    @property
    def dpf_result(self) -> int | None:
        """dpf_result (0x0420)."""
        return self.get_tlv_int(Tag.DPF_RESULT)

    @property
    def network_error_code(self) -> tuple[int, int] | None:
        """network_error_code (0x0423) as (network_type, error_code)."""
        v = self.get_tlv(Tag.NETWORK_ERROR_CODE)
        if v is None or len(v) != 3:
            return None
        return v[0], int.from_bytes(v[1:], "big")


# --------------------------------------------------------------------------------------------
# Base classes
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Pdu(_TlvAccess):
    """Any SMPP PDU. Concrete classes add their body fields; ``tlvs`` is keyword-only."""

    command_id: ClassVar[CommandId]
    """The PDU's command_id (3.4 §5.1.2.1)."""

    sequence_number: int = 0
    """Sequence number (3.4 §5.1.4). 0 on a request means "let Session.send assign one"."""

    tlvs: tuple[Tlv, ...] = field(default=(), kw_only=True)
    """Optional parameters (TLVs) in wire order, unknown tags kept verbatim. Keyword-only, so
    it always comes last in the constructor. Must stay empty on header-only PDUs."""

    def set_tlv(self, tag: int, value: bytes) -> None:
        """Replace the first TLV with this tag, or append it, keeping the order of the others.

        Args:
            tag: TLV tag.
            value: Value octets.
        """
        items = list(self.tlvs)
        for i, (t, _) in enumerate(items):
            if t == tag:
                items[i] = (tag, value)
                break
        else:
            items.append((tag, value))
        self.tlvs = tuple(items)

    def remove_tlv(self, tag: int) -> None:
        """Remove every TLV with this tag.

        Args:
            tag: TLV tag.
        """
        self.tlvs = tuple(item for item in self.tlvs if item[0] != tag)


@dataclass(slots=True)
class Request(Pdu):
    """A PDU that initiates an operation. ``response_class`` is None when none is defined."""

    response_class: ClassVar[type[Response] | None]
    """The class of the matching response, or None (outbind, alert_notification)."""


@dataclass(slots=True)
class Response(Pdu):
    """A PDU answering a request; generic_nack is one too.

    An error response (``command_status != 0``) has no body on the wire (SMPP-ERRORS row 28):
    it is encoded as the 16-octet header and any body a peer sends with it is ignored (row 20).
    """

    command_status: int = CommandStatus.ESME_ROK
    """command_status (3.4 §5.1.3). Kept as int: peers may send codes no enum knows."""


# --------------------------------------------------------------------------------------------
# Session management (3.4 §4.1, §4.2, §4.11)
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class BindRequest(Request):
    """Common body of bind_transmitter / bind_receiver / bind_transceiver (3.4 §4.1.1)."""

    system_id: str = ""
    """ESME identity, max 15 characters."""
    password: str = ""
    """Password, max 8 characters."""
    system_type: str = ""
    """Type of ESME system, max 12 characters."""
    interface_version: int = 0x34
    """SMPP version supported by the ESME."""
    addr_ton: int = 0
    """TON of the ESME address(es) served."""
    addr_npi: int = 0
    """NPI of the ESME address(es) served."""
    address_range: str = ""
    """Regular expression of the ESME addresses served, max 40 characters."""


@dataclass(slots=True)
class BindResponse(Response):
    """Common body of the bind_*_resp PDUs (3.4 §4.1.2)."""

    system_id: str = ""
    """SMSC identity, max 15 characters."""

    @property
    def sc_interface_version(self) -> int | None:
        """sc_interface_version (0x0210): the SMPP version the SMSC supports."""
        return self.get_tlv_int(Tag.SC_INTERFACE_VERSION)


@dataclass(slots=True)
class BindTransmitterResp(BindResponse):
    """bind_transmitter_resp (0x80000002)."""

    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSMITTER_RESP


@dataclass(slots=True)
class BindReceiverResp(BindResponse):
    """bind_receiver_resp (0x80000001)."""

    command_id: ClassVar[CommandId] = CommandId.BIND_RECEIVER_RESP


@dataclass(slots=True)
class BindTransceiverResp(BindResponse):
    """bind_transceiver_resp (0x80000009)."""

    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSCEIVER_RESP


@dataclass(slots=True)
class BindTransmitter(BindRequest):
    """bind_transmitter (0x00000002): bind to submit messages."""

    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSMITTER
    response_class: ClassVar[type[Response] | None] = BindTransmitterResp


@dataclass(slots=True)
class BindReceiver(BindRequest):
    """bind_receiver (0x00000001): bind to receive messages."""

    command_id: ClassVar[CommandId] = CommandId.BIND_RECEIVER
    response_class: ClassVar[type[Response] | None] = BindReceiverResp


@dataclass(slots=True)
class BindTransceiver(BindRequest):
    """bind_transceiver (0x00000009): bind to submit and receive."""

    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSCEIVER
    response_class: ClassVar[type[Response] | None] = BindTransceiverResp


@dataclass(slots=True)
class Outbind(Request):
    """outbind (0x0000000B): the SMSC asks the ESME to bind_receiver (3.4 §4.1.7). No response."""

    command_id: ClassVar[CommandId] = CommandId.OUTBIND
    response_class: ClassVar[type[Response] | None] = None

    system_id: str = ""
    """SMSC identity, max 15 characters."""
    password: str = ""
    """Password, max 8 characters."""


@dataclass(slots=True)
class UnbindResp(Response):
    """unbind_resp (0x80000006). Header only."""

    command_id: ClassVar[CommandId] = CommandId.UNBIND_RESP


@dataclass(slots=True)
class Unbind(Request):
    """unbind (0x00000006). Header only (3.4 §4.2.1)."""

    command_id: ClassVar[CommandId] = CommandId.UNBIND
    response_class: ClassVar[type[Response] | None] = UnbindResp


@dataclass(slots=True)
class GenericNack(Response):
    """generic_nack (0x80000000): answers a PDU that could not be handled (3.4 §4.3). No body."""

    command_id: ClassVar[CommandId] = CommandId.GENERIC_NACK


@dataclass(slots=True)
class EnquireLinkResp(Response):
    """enquire_link_resp (0x80000015). Header only."""

    command_id: ClassVar[CommandId] = CommandId.ENQUIRE_LINK_RESP


@dataclass(slots=True)
class EnquireLink(Request):
    """enquire_link (0x00000015): link keep-alive (3.4 §4.11). Header only."""

    command_id: ClassVar[CommandId] = CommandId.ENQUIRE_LINK
    response_class: ClassVar[type[Response] | None] = EnquireLinkResp


# --------------------------------------------------------------------------------------------
# Message submission and delivery (3.4 §4.4 - §4.8)
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class ShortMessageRequest(Request, _MessageTlvs):
    """Common body of submit_sm and deliver_sm (3.4 §4.4.1 and §4.6.1: identical layouts)."""

    service_type: str = ""
    """SMS application service, max 5 characters ("" = SMSC default)."""
    source_addr_ton: int = 0
    """TON of source_addr (3.4 §5.2.5)."""
    source_addr_npi: int = 0
    """NPI of source_addr (3.4 §5.2.6)."""
    source_addr: str = ""
    """Originator address, max 20 characters."""
    dest_addr_ton: int = 0
    """TON of destination_addr."""
    dest_addr_npi: int = 0
    """NPI of destination_addr."""
    destination_addr: str = ""
    """Recipient address, max 20 characters."""
    esm_class: int = 0
    """Message mode and type; 0x40 = UDH present, 0x04 = delivery receipt (3.4 §5.2.12)."""
    protocol_id: int = 0
    """GSM TP-PID (3.4 §5.2.13)."""
    priority_flag: int = 0
    """Priority 0..3 (3.4 §5.2.14)."""
    schedule_delivery_time: str = ""
    """"" (immediate) or a 16-character SMPP time (3.4 §7.1)."""
    validity_period: str = ""
    """"" (SMSC default) or a 16-character SMPP time."""
    registered_delivery: int = 0
    """Receipt request bits (3.4 §5.2.17)."""
    replace_if_present_flag: int = 0
    """1 = replace an existing message (3.4 §5.2.18)."""
    data_coding: int = 0
    """Data coding scheme: 0 SMSC default (GSM 7-bit), 8 UCS-2, ... (3.4 §5.2.19)."""
    sm_default_msg_id: int = 0
    """Canned message id, 0 = none (3.4 §5.2.20)."""
    short_message: bytes = b""
    """User data, 0..254 octets (sm_length is derived). Empty when message_payload is used."""


@dataclass(slots=True)
class SubmitSmResp(Response):
    """submit_sm_resp (0x80000004)."""

    command_id: ClassVar[CommandId] = CommandId.SUBMIT_SM_RESP

    message_id: str = ""
    """SMSC message id, max 64 characters."""


@dataclass(slots=True)
class SubmitSm(ShortMessageRequest):
    """submit_sm (0x00000004): ESME submits one short message (3.4 §4.4.1)."""

    command_id: ClassVar[CommandId] = CommandId.SUBMIT_SM
    response_class: ClassVar[type[Response] | None] = SubmitSmResp


@dataclass(slots=True)
class DeliverSmResp(Response):
    """deliver_sm_resp (0x80000005). message_id is unused and normally empty."""

    command_id: ClassVar[CommandId] = CommandId.DELIVER_SM_RESP

    message_id: str = ""
    """Unused, set to NULL (3.4 §4.6.2)."""


@dataclass(slots=True)
class DeliverSm(ShortMessageRequest):
    """deliver_sm (0x00000005): SMSC delivers an MO message or a delivery receipt (3.4 §4.6.1)."""

    command_id: ClassVar[CommandId] = CommandId.DELIVER_SM
    response_class: ClassVar[type[Response] | None] = DeliverSmResp


@dataclass(frozen=True, slots=True)
class SmeDestAddress:
    """submit_multi dest_address with dest_flag 1: one SME address (3.4 §4.5.1.1)."""

    dest_addr_ton: int = 0
    """TON of destination_addr."""
    dest_addr_npi: int = 0
    """NPI of destination_addr."""
    destination_addr: str = ""
    """Recipient address, max 20 characters."""


@dataclass(frozen=True, slots=True)
class DistributionListDestAddress:
    """submit_multi dest_address with dest_flag 2: a distribution list name (3.4 §4.5.1.2)."""

    dl_name: str = ""
    """Distribution list name, max 20 characters."""


DestAddress: TypeAlias = SmeDestAddress | DistributionListDestAddress


@dataclass(frozen=True, slots=True)
class UnsuccessSme:
    """One failed destination of a submit_multi_resp (3.4 §4.5.2.1)."""

    dest_addr_ton: int = 0
    """TON of destination_addr."""
    dest_addr_npi: int = 0
    """NPI of destination_addr."""
    destination_addr: str = ""
    """The address that failed, max 20 characters."""
    error_status_code: int = 0
    """command_status style reason for this destination."""


@dataclass(slots=True)
class SubmitMultiResp(Response):
    """submit_multi_resp (0x80000021)."""

    command_id: ClassVar[CommandId] = CommandId.SUBMIT_MULTI_RESP

    message_id: str = ""
    """SMSC message id, max 64 characters."""
    unsuccess_smes: tuple[UnsuccessSme, ...] = ()
    """Destinations that failed (no_unsuccess is derived), at most 255."""


@dataclass(slots=True)
class SubmitMulti(Request, _MessageTlvs):
    """submit_multi (0x00000021): one message to up to 254 destinations (3.4 §4.5.1)."""

    command_id: ClassVar[CommandId] = CommandId.SUBMIT_MULTI
    response_class: ClassVar[type[Response] | None] = SubmitMultiResp

    service_type: str = ""
    """SMS application service, max 5 characters."""
    source_addr_ton: int = 0
    """TON of source_addr."""
    source_addr_npi: int = 0
    """NPI of source_addr."""
    source_addr: str = ""
    """Originator address, max 20 characters."""
    dest_addresses: tuple[DestAddress, ...] = ()
    """SME addresses and distribution lists (number_of_dests is derived), at most 254."""
    esm_class: int = 0
    """As submit_sm."""
    protocol_id: int = 0
    """As submit_sm."""
    priority_flag: int = 0
    """As submit_sm."""
    schedule_delivery_time: str = ""
    """As submit_sm."""
    validity_period: str = ""
    """As submit_sm."""
    registered_delivery: int = 0
    """As submit_sm."""
    replace_if_present_flag: int = 0
    """As submit_sm."""
    data_coding: int = 0
    """As submit_sm."""
    sm_default_msg_id: int = 0
    """As submit_sm."""
    short_message: bytes = b""
    """User data, 0..254 octets."""


@dataclass(slots=True)
class DataSmResp(Response, _ResultTlvs):
    """data_sm_resp (0x80000103)."""

    command_id: ClassVar[CommandId] = CommandId.DATA_SM_RESP

    message_id: str = ""
    """SMSC message id, max 64 characters."""


@dataclass(slots=True)
class DataSm(Request, _MessageTlvs):
    """data_sm (0x00000103): packet-oriented transfer in either direction (3.4 §4.7.1)."""

    command_id: ClassVar[CommandId] = CommandId.DATA_SM
    response_class: ClassVar[type[Response] | None] = DataSmResp

    service_type: str = ""
    """SMS application service, max 5 characters."""
    source_addr_ton: int = 0
    """TON of source_addr."""
    source_addr_npi: int = 0
    """NPI of source_addr."""
    source_addr: str = ""
    """Originator address, max 64 characters (data_sm allows 65 with NUL)."""
    dest_addr_ton: int = 0
    """TON of destination_addr."""
    dest_addr_npi: int = 0
    """NPI of destination_addr."""
    destination_addr: str = ""
    """Recipient address, max 64 characters."""
    esm_class: int = 0
    """As submit_sm."""
    registered_delivery: int = 0
    """As submit_sm."""
    data_coding: int = 0
    """As submit_sm."""


# --------------------------------------------------------------------------------------------
# Message management and ancillary operations (3.4 §4.8 - §4.12)
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class QuerySmResp(Response):
    """query_sm_resp (0x80000003)."""

    command_id: ClassVar[CommandId] = CommandId.QUERY_SM_RESP

    message_id: str = ""
    """The queried SMSC message id, max 64 characters."""
    final_date: str = ""
    """"" or the 16-character SMPP time the message reached its final state."""
    message_state: int = 0
    """Message state (see ``MessageState``)."""
    error_code: int = 0
    """Network error code of a failed delivery."""


@dataclass(slots=True)
class QuerySm(Request):
    """query_sm (0x00000003): ask the state of a submitted message (3.4 §4.8.1)."""

    command_id: ClassVar[CommandId] = CommandId.QUERY_SM
    response_class: ClassVar[type[Response] | None] = QuerySmResp

    message_id: str = ""
    """SMSC message id to query, max 64 characters."""
    source_addr_ton: int = 0
    """TON of source_addr."""
    source_addr_npi: int = 0
    """NPI of source_addr."""
    source_addr: str = ""
    """Originator address of the queried message, max 20 characters."""


@dataclass(slots=True)
class CancelSmResp(Response):
    """cancel_sm_resp (0x80000008). Header only."""

    command_id: ClassVar[CommandId] = CommandId.CANCEL_SM_RESP


@dataclass(slots=True)
class CancelSm(Request):
    """cancel_sm (0x00000008): cancel pending message(s) (3.4 §4.9.1)."""

    command_id: ClassVar[CommandId] = CommandId.CANCEL_SM
    response_class: ClassVar[type[Response] | None] = CancelSmResp

    service_type: str = ""
    """Service type of the message(s) to cancel, max 5 characters."""
    message_id: str = ""
    """SMSC message id, or "" to cancel by addresses, max 64 characters."""
    source_addr_ton: int = 0
    """TON of source_addr."""
    source_addr_npi: int = 0
    """NPI of source_addr."""
    source_addr: str = ""
    """Originator address, max 20 characters."""
    dest_addr_ton: int = 0
    """TON of destination_addr."""
    dest_addr_npi: int = 0
    """NPI of destination_addr."""
    destination_addr: str = ""
    """Recipient address, max 20 characters."""


@dataclass(slots=True)
class ReplaceSmResp(Response):
    """replace_sm_resp (0x80000007). Header only."""

    command_id: ClassVar[CommandId] = CommandId.REPLACE_SM_RESP


@dataclass(slots=True)
class ReplaceSm(Request):
    """replace_sm (0x00000007): replace a pending message (3.4 §4.10.1)."""

    command_id: ClassVar[CommandId] = CommandId.REPLACE_SM
    response_class: ClassVar[type[Response] | None] = ReplaceSmResp

    message_id: str = ""
    """SMSC message id to replace, max 64 characters."""
    source_addr_ton: int = 0
    """TON of source_addr."""
    source_addr_npi: int = 0
    """NPI of source_addr."""
    source_addr: str = ""
    """Originator address of the original message, max 20 characters."""
    schedule_delivery_time: str = ""
    """New schedule, "" or 16-character SMPP time."""
    validity_period: str = ""
    """New validity, "" or 16-character SMPP time."""
    registered_delivery: int = 0
    """New receipt request bits."""
    sm_default_msg_id: int = 0
    """New canned message id."""
    short_message: bytes = b""
    """New user data, 0..254 octets."""


@dataclass(slots=True)
class AlertNotification(Request):
    """alert_notification (0x00000102): an MS became available (3.4 §4.12.1). No response."""

    command_id: ClassVar[CommandId] = CommandId.ALERT_NOTIFICATION
    response_class: ClassVar[type[Response] | None] = None

    source_addr_ton: int = 0
    """TON of the MS address."""
    source_addr_npi: int = 0
    """NPI of the MS address."""
    source_addr: str = ""
    """MS address, max 64 characters."""
    esme_addr_ton: int = 0
    """TON of the ESME address."""
    esme_addr_npi: int = 0
    """NPI of the ESME address."""
    esme_addr: str = ""
    """ESME address that asked to be alerted, max 64 characters."""

    @property
    def ms_availability_status(self) -> int | None:
        """ms_availability_status (0x0422): 0 available, 1 denied, 2 unavailable."""
        return self.get_tlv_int(Tag.MS_AVAILABILITY_STATUS)


# --------------------------------------------------------------------------------------------
# Lookup tables
# --------------------------------------------------------------------------------------------

PDU_CLASSES: Final[dict[int, type[Pdu]]] = {
    cls.command_id: cls
    for cls in (
        GenericNack,
        BindReceiver,
        BindReceiverResp,
        BindTransmitter,
        BindTransmitterResp,
        QuerySm,
        QuerySmResp,
        SubmitSm,
        SubmitSmResp,
        DeliverSm,
        DeliverSmResp,
        Unbind,
        UnbindResp,
        ReplaceSm,
        ReplaceSmResp,
        CancelSm,
        CancelSmResp,
        BindTransceiver,
        BindTransceiverResp,
        Outbind,
        EnquireLink,
        EnquireLinkResp,
        SubmitMulti,
        SubmitMultiResp,
        AlertNotification,
        DataSm,
        DataSmResp,
    )
}
"""Every SMPP 3.4 PDU class by command_id."""

HEADER_ONLY: Final[frozenset[int]] = frozenset(
    {
        CommandId.GENERIC_NACK,
        CommandId.UNBIND,
        CommandId.UNBIND_RESP,
        CommandId.ENQUIRE_LINK,
        CommandId.ENQUIRE_LINK_RESP,
        CommandId.CANCEL_SM_RESP,
        CommandId.REPLACE_SM_RESP,
    }
)
"""PDUs that never have a body: trailing octets are ESME_RINVCMDLEN, tlvs must stay empty."""


def make_error_response(command_id: int, sequence_number: int, command_status: int) -> Response:
    """Build the body-less answer to a request: its ``*_resp``, else generic_nack.

    Args:
        command_id: command_id of the request being answered.
        sequence_number: Its sequence number (echoed).
        command_status: Status to answer with.

    Returns:
        The matching response class when the request has one (SMPP-ERRORS rows 5, 6, 14-16),
        else a GenericNack (unknown command, outbind, alert_notification, or any response).
    """
    cls = PDU_CLASSES.get(command_id)
    if cls is not None and issubclass(cls, Request) and cls.response_class is not None:
        return cls.response_class(sequence_number=sequence_number, command_status=command_status)
    return GenericNack(sequence_number=sequence_number, command_status=command_status)
