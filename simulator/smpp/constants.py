"""SMPP 3.4 constants: command ids, command status codes, TLV tags and field size limits.

Invariants of this module:

* Every enum member keeps the spelling of the SMPP 3.4 specification (Issue 1.2, §5.1 and §5.3),
  plus the few SMPP 5.0 values the project needs (marked "5.0").
* A response command id is always ``request | 0x80000000`` (SMPP 3.4 §5.1.2); ``response_id``
  and ``request_id`` are the only places that do this arithmetic.
* The tables here are plain data (``Final`` dicts and frozensets). The codec and the session read
  them; nothing in this module encodes, decodes or keeps state.
* Values on the wire are plain ``int``. A peer may send a command_status this enum does not know
  (SMPP-ERRORS row 21), so decoded PDUs keep the integer and never require an enum member.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

from sms.command_status import CommandStatus as CommandStatus

PDU_HEADER_LENGTH: Final[int] = 16
"""command_length + command_id + command_status + sequence_number, 4 octets each (3.4 §3.2)."""

DEFAULT_MAX_COMMAND_LENGTH: Final[int] = 7424
"""Largest command_length accepted by default (Kannel's limit). Raise it to accept large
message_payload TLVs: a 64 KiB payload needs about 65_535 + 300 octets."""

MAX_COMMAND_LENGTH_LIMIT: Final[int] = 0x7FFFFFFF
"""Absolute ceiling for any configured maximum: bit 31 of command_length is never valid."""

RESPONSE_BIT: Final[int] = 0x80000000
"""Set in every response command_id (3.4 §5.1.2)."""

SEQUENCE_NUMBER_MAX: Final[int] = 0x7FFFFFFF
"""Sequence numbers run 1..0x7FFFFFFF and then wrap to 1 (3.4 §5.1.4; 5.0 §2.6)."""

SMPP_VERSION_34: Final[int] = 0x34
"""interface_version / sc_interface_version value for SMPP 3.4."""

MAX_SHORT_MESSAGE_LENGTH: Final[int] = 254
"""short_message is 0..254 octets, given by sm_length (3.4 §5.2.21, §5.2.22)."""

MAX_NUMBER_OF_DESTS: Final[int] = 254
"""submit_multi number_of_dests upper bound in 3.4 (§4.5.1)."""

TLV_HEADER_LENGTH: Final[int] = 4
"""tag (2 octets) + length (2 octets) (3.4 §3.3.2)."""


class CommandId(IntEnum):
    """SMPP 3.4 command ids (§5.1.2.1). Responses are ``request | 0x80000000``."""

    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    QUERY_SM = 0x00000003
    QUERY_SM_RESP = 0x80000003
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    REPLACE_SM = 0x00000007
    REPLACE_SM_RESP = 0x80000007
    CANCEL_SM = 0x00000008
    CANCEL_SM_RESP = 0x80000008
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    OUTBIND = 0x0000000B
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    SUBMIT_MULTI = 0x00000021
    SUBMIT_MULTI_RESP = 0x80000021
    ALERT_NOTIFICATION = 0x00000102
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103


class Tag(IntEnum):
    """Standard SMPP 3.4 TLV tags (§5.3.2). Unknown tags are legal and kept verbatim."""

    DEST_ADDR_SUBUNIT = 0x0005
    DEST_NETWORK_TYPE = 0x0006
    DEST_BEARER_TYPE = 0x0007
    DEST_TELEMATICS_ID = 0x0008
    SOURCE_ADDR_SUBUNIT = 0x000D
    SOURCE_NETWORK_TYPE = 0x000E
    SOURCE_BEARER_TYPE = 0x000F
    SOURCE_TELEMATICS_ID = 0x0010
    QOS_TIME_TO_LIVE = 0x0017
    PAYLOAD_TYPE = 0x0019
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D
    RECEIPTED_MESSAGE_ID = 0x001E
    MS_MSG_WAIT_FACILITIES = 0x0030
    PRIVACY_INDICATOR = 0x0201
    SOURCE_SUBADDRESS = 0x0202
    DEST_SUBADDRESS = 0x0203
    USER_MESSAGE_REFERENCE = 0x0204
    USER_RESPONSE_CODE = 0x0205
    SOURCE_PORT = 0x020A
    DESTINATION_PORT = 0x020B
    SAR_MSG_REF_NUM = 0x020C
    LANGUAGE_INDICATOR = 0x020D
    SAR_TOTAL_SEGMENTS = 0x020E
    SAR_SEGMENT_SEQNUM = 0x020F
    SC_INTERFACE_VERSION = 0x0210
    CALLBACK_NUM_PRES_IND = 0x0302
    CALLBACK_NUM_ATAG = 0x0303
    NUMBER_OF_MESSAGES = 0x0304
    CALLBACK_NUM = 0x0381
    DPF_RESULT = 0x0420
    SET_DPF = 0x0421
    MS_AVAILABILITY_STATUS = 0x0422
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    DELIVERY_FAILURE_REASON = 0x0425
    MORE_MESSAGES_TO_SEND = 0x0426
    MESSAGE_STATE = 0x0427
    USSD_SERVICE_OP = 0x0501
    DISPLAY_TIME = 0x1201
    SMS_SIGNAL = 0x1203
    MS_VALIDITY = 0x1204
    ALERT_ON_MESSAGE_DELIVERY = 0x130C
    ITS_REPLY_TYPE = 0x1380
    ITS_SESSION_INFO = 0x1383


class MessageState(IntEnum):
    """message_state values (3.4 §5.2.28), used by query_sm_resp and the message_state TLV."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8


class DestFlag(IntEnum):
    """submit_multi dest_flag (3.4 §4.5.1.1)."""

    SME_ADDRESS = 1
    DISTRIBUTION_LIST = 2


# C-Octet String maximum sizes INCLUDING the terminating NUL (3.4 §4 field tables; Kannel
# smpp_pdu.def and smpp.pdu agree). A string of max-1 characters plus NUL is the longest legal.
COCTET_MAX: Final[dict[str, int]] = {
    "system_id": 16,
    "password": 9,
    "system_type": 13,
    "address_range": 41,
    "service_type": 6,
    "source_addr": 21,
    "destination_addr": 21,
    "data_sm_source_addr": 65,
    "data_sm_destination_addr": 65,
    "dl_name": 21,
    "schedule_delivery_time": 17,
    "validity_period": 17,
    "final_date": 17,
    "message_id": 65,
    "esme_addr": 65,
    "alert_source_addr": 65,
}

SMPP_TIME_LENGTHS: Final[frozenset[int]] = frozenset({0, 16})
"""An SMPP absolute/relative time is either NULL or exactly 16 characters (3.4 §7.1)."""

# Which command_status a decoder reports when a C-Octet field has no NUL within its maximum
# (SMPP-ERRORS row 9 and rows 14/18). The server answers the request's *_resp with it.
COCTET_STATUS: Final[dict[str, CommandStatus]] = {
    "system_id": CommandStatus.ESME_RINVSYSID,
    "password": CommandStatus.ESME_RINVPASWD,
    "system_type": CommandStatus.ESME_RINVSYSTYP,
    # No dedicated code exists for address_range; the bind as a whole fails.
    "address_range": CommandStatus.ESME_RBINDFAIL,
    "service_type": CommandStatus.ESME_RINVSERTYP,
    "source_addr": CommandStatus.ESME_RINVSRCADR,
    "destination_addr": CommandStatus.ESME_RINVDSTADR,
    "data_sm_source_addr": CommandStatus.ESME_RINVSRCADR,
    "data_sm_destination_addr": CommandStatus.ESME_RINVDSTADR,
    "dl_name": CommandStatus.ESME_RINVDLNAME,
    "schedule_delivery_time": CommandStatus.ESME_RINVSCHED,
    "validity_period": CommandStatus.ESME_RINVEXPIRY,
    # final_date only occurs in query_sm_resp, which is never answered; report it as a length fault.
    "final_date": CommandStatus.ESME_RINVCMDLEN,
    "message_id": CommandStatus.ESME_RINVMSGID,
    "esme_addr": CommandStatus.ESME_RINVDSTADR,
    "alert_source_addr": CommandStatus.ESME_RINVSRCADR,
}

# Integer TLVs with a fixed value size in octets (3.4 §5.3.2). A wrong length is ESME_RINVPARLEN.
TLV_FIXED_SIZE: Final[dict[int, int]] = {
    Tag.DEST_ADDR_SUBUNIT: 1,
    Tag.DEST_NETWORK_TYPE: 1,
    Tag.DEST_BEARER_TYPE: 1,
    Tag.DEST_TELEMATICS_ID: 2,
    Tag.SOURCE_ADDR_SUBUNIT: 1,
    Tag.SOURCE_NETWORK_TYPE: 1,
    Tag.SOURCE_BEARER_TYPE: 1,
    Tag.SOURCE_TELEMATICS_ID: 1,
    Tag.QOS_TIME_TO_LIVE: 4,
    Tag.PAYLOAD_TYPE: 1,
    Tag.MS_MSG_WAIT_FACILITIES: 1,
    Tag.PRIVACY_INDICATOR: 1,
    Tag.USER_MESSAGE_REFERENCE: 2,
    Tag.USER_RESPONSE_CODE: 1,
    Tag.SOURCE_PORT: 2,
    Tag.DESTINATION_PORT: 2,
    Tag.SAR_MSG_REF_NUM: 2,
    Tag.LANGUAGE_INDICATOR: 1,
    Tag.SAR_TOTAL_SEGMENTS: 1,
    Tag.SAR_SEGMENT_SEQNUM: 1,
    Tag.SC_INTERFACE_VERSION: 1,
    Tag.CALLBACK_NUM_PRES_IND: 1,
    Tag.NUMBER_OF_MESSAGES: 1,
    Tag.DPF_RESULT: 1,
    Tag.SET_DPF: 1,
    Tag.MS_AVAILABILITY_STATUS: 1,
    Tag.NETWORK_ERROR_CODE: 3,
    Tag.DELIVERY_FAILURE_REASON: 1,
    Tag.MORE_MESSAGES_TO_SEND: 1,
    Tag.MESSAGE_STATE: 1,
    Tag.USSD_SERVICE_OP: 1,
    Tag.DISPLAY_TIME: 1,
    Tag.SMS_SIGNAL: 2,
    Tag.MS_VALIDITY: 1,
    Tag.ALERT_ON_MESSAGE_DELIVERY: 0,
    Tag.ITS_REPLY_TYPE: 1,
    Tag.ITS_SESSION_INFO: 2,
}

# Variable-size TLVs with a maximum value size in octets (3.4 §5.3.2). message_payload has none:
# it is bounded only by the configured maximum command_length.
TLV_MAX_SIZE: Final[dict[int, int]] = {
    Tag.ADDITIONAL_STATUS_INFO_TEXT: 256,
    Tag.RECEIPTED_MESSAGE_ID: 65,
    Tag.SOURCE_SUBADDRESS: 23,
    Tag.DEST_SUBADDRESS: 23,
    Tag.CALLBACK_NUM_ATAG: 65,
    Tag.CALLBACK_NUM: 19,
}


def response_id(command_id: int) -> int:
    """Return the response command id for a request command id.

    Args:
        command_id: A request command id.

    Returns:
        ``command_id | 0x80000000``.
    """
    return command_id | RESPONSE_BIT


def request_id(command_id: int) -> int:
    """Return the request command id for a response command id.

    Args:
        command_id: A response command id.

    Returns:
        ``command_id`` with bit 31 cleared.
    """
    return command_id & ~RESPONSE_BIT


def is_response(command_id: int) -> bool:
    """Tell whether a command id is a response (bit 31 set).

    Args:
        command_id: Any command id.

    Returns:
        True for responses and generic_nack.
    """
    return bool(command_id & RESPONSE_BIT)
