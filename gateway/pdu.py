"""Fast builders for the two aiosmpplib messages on the gateway's hot path.

aiosmpplib validates every field of every message it builds (`check_param`, about 20 calls
per submit_sm or deliver_sm, plus two per TLV and three per address) and decodes PDUs through
closures and enum constructors. At thousands of messages a second that was a quarter of the
event loop's time. This module builds the *same* objects without that overhead:

* `DeliverSmDecoder.decode` reads a deliver_sm PDU into an `aiosmpplib.DeliverSm` whose fields
  (and private attributes) equal what ``DeliverSm.from_pdu`` would return, for the PDUs it
  accepts: no UDHI, no schedule/validity time, and every enum value and codec known. For any
  other PDU, or any error, it returns None and the caller uses ``DeliverSm.from_pdu`` (which
  then also reports the error exactly as before).
* `DeliverSmDecoder.decode_receipt` reads a receipt deliver_sm `decode` takes into a
  `ReceiptPdu`: only the attributes a receipt is read from (text, TLVs, esm_class), with
  the same values, and None for anything else (an MO message, or what `decode` refuses).
* `submit_sm_fields` and `encode_submit_sm_body` build a submit_sm's fields without
  validation and its body octets the way ``SubmitSm.pdu`` does, for messages whose encoding
  is explicit (`gateway.esme.PlannedSubmitSm`: the octets come from our planner).

Invariants (tests/unit/gateway/test_pdu.py compares with aiosmpplib on many PDUs):
    * ``decode(pdu) is None or decode(pdu) == DeliverSm.from_pdu(pdu, ...)`` with equal
      ``__dict__`` (private attributes included).
    * ``decode_receipt(pdu) is None`` or ``decode(pdu)`` is a receipt with the same
      ``short_message``, ``message_payload``, ``optional_params`` and ``esm_class``.
    * For the fields `submit_sm_fields` is given, the body equals ``SubmitSm(...).pdu()[16:]``.
    * Objects are built with ``__new__`` and a ``__dict__`` update: nothing here may depend on
      aiosmpplib's ``__post_init__`` side effects other than the private attributes set below
      (checked by the equality test, which compares ``__dict__``).
"""

from __future__ import annotations

import re
import struct
from codecs import CodecInfo
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Final, NamedTuple

from aiosmpplib import NPI, TON, DeliverSm, OptionalParam, PhoneNumber, SmppCommandStatus, SubmitSm
from aiosmpplib.codec import find_codec_info
from aiosmpplib.state import (
    MESSAGE_PAYLOAD,
    SAR_MSG_REF_NUM,
    SAR_SEGMENT_SEQNUM,
    SAR_TOTAL_SEGMENTS,
    SmppDataCoding,
    tag_data_type,
)

__all__ = [
    "DeliverSmDecoder",
    "ReceiptParam",
    "ReceiptPdu",
    "data_coding_of",
    "encode_submit_sm_body",
    "new_optional_param",
    "new_phone_number",
    "planned_submit_sm_body",
    "submit_sm_fields",
    "valid_address",
]

#: aiosmpplib's encoding name for the SMSC default alphabet (protocol.DEFAULT_ENCODING).
DEFAULT_ENCODING: Final[str] = "gsm0338"
_TON: Final[dict[int, TON]] = {int(t): t for t in TON}
_NPI: Final[dict[int, NPI]] = {int(n): n for n in NPI}
_INT_FORMAT: Final[dict[int, struct.Struct]] = {
    1: struct.Struct("!B"),
    2: struct.Struct("!H"),
    4: struct.Struct("!I"),
}
_TLV_HEAD: Final = struct.Struct("!HH")
_SAR_TAGS: Final = (SAR_MSG_REF_NUM, SAR_TOTAL_SEGMENTS, SAR_SEGMENT_SEQNUM)
#: data_coding by aiosmpplib encoding name (``SmppDataCoding[name].value``).
_DATA_CODING: Final[dict[str, int]] = {n: c.value for n, c in SmppDataCoding.__members__.items()}
#: Tags whose value aiosmpplib reads as an integer or a flag (everything else is a string).
_TAG_TYPE: Final[dict[int, type]] = {}


#: ``tuple.__new__``: a NamedTuple built from its fields' tuple in C (the class's own
#: ``__new__`` is a Python function).
_new_tuple: Final = tuple.__new__


def _tag_type(tag: int) -> type:
    kind = _TAG_TYPE.get(tag)
    if kind is None:
        kind = _TAG_TYPE[tag] = tag_data_type(tag)
    return kind


def new_phone_number(number: str, ton: int, npi: int) -> Any:
    """An `aiosmpplib.PhoneNumber` without its per-field checks (the enum values are checked).

    Raises:
        ValueError: `ton` or `npi` is not a known value, or `number` is longer than 20
            characters (aiosmpplib's own limits).
    """
    if len(number) > 20:
        raise ValueError(f"address {number!r} is longer than 20 characters")
    phone: Any = PhoneNumber.__new__(PhoneNumber)
    phone.__dict__.update(
        number=number,
        ton=_TON[ton] if ton in _TON else TON(ton),
        npi=_NPI[npi] if npi in _NPI else NPI(npi),
    )
    return phone


def new_optional_param(tag: int, value: int | str | bool) -> Any:
    """An `aiosmpplib.OptionalParam` without its checks (the caller knows the value's type)."""
    param: Any = OptionalParam.__new__(OptionalParam)
    param.__dict__.update(tag=tag, value=value)
    return param


#: The fixed part of a deliver_sm body up to sm_length, as `DeliverSmDecoder._decode` reads
#: it: service_type (at most 5 octets), source TON/NPI and address (at most 20), destination
#: TON/NPI and address, esm_class, protocol_id, priority_flag, empty schedule_delivery_time
#: and validity_period, registered_delivery, replace_if_present_flag, data_coding,
#: sm_default_msg_id, sm_length. Groups: service_type, source TON/NPI, source address,
#: destination TON/NPI, destination address, esm_class, data_coding, sm_length.
_RECEIPT_HEAD: Final = re.compile(
    rb"([^\x00]{0,5})\x00(..)([^\x00]{0,20})\x00(..)([^\x00]{0,20})\x00(.)..\x00\x00..(.).(.)",
    re.DOTALL,
)


def valid_address(number: str, ton: int, npi: int) -> bool:
    """True when `new_phone_number` accepts this address (no ValueError)."""
    return len(number) <= 20 and ton in _TON and npi in _NPI


class ReceiptParam(NamedTuple):
    """An optional parameter of a `ReceiptPdu`: the ``tag`` and ``value`` aiosmpplib's
    `OptionalParam` would hold."""

    tag: int
    """The tag."""
    value: int | str | bool
    """The value, typed as aiosmpplib reads it."""


class ReceiptPdu:
    """What a delivery receipt is read from: a deliver_sm's text, TLVs and esm_class (the
    attributes of the same names of the `aiosmpplib.DeliverSm` `DeliverSmDecoder.decode`
    would build).

    Args:
        sequence_num: The PDU's sequence number.
        esm_class: esm_class (a receipt's message type bits).
        short_message: The decoded short_message ("" when the text is in message_payload).
        message_payload: The decoded message_payload TLV ("" when absent).
        optional_params: The other TLVs (`ReceiptParam`: tag and value as aiosmpplib reads
            them).
    """

    __slots__ = ("esm_class", "message_payload", "optional_params", "sequence_num", "short_message")

    def __init__(
        self,
        sequence_num: int,
        esm_class: int,
        short_message: str,
        message_payload: str,
        optional_params: list[Any],
    ) -> None:
        self.sequence_num = sequence_num
        self.esm_class = esm_class
        self.short_message = short_message
        self.message_payload = message_payload
        self.optional_params = optional_params

    def is_receipt(self) -> bool:
        """Always True (`DeliverSm.is_receipt`: only receipts are read this way)."""
        return True


class DeliverSmDecoder:
    """Reads deliver_sm PDUs for one ESME (its default encoding and custom codecs).

    Args:
        default_encoding: The ESME's ``default_encoding`` (used for data_coding 0).
        custom_codecs: The ESME's ``custom_codecs``.
    """

    def __init__(self, default_encoding: str, custom_codecs: dict[str, CodecInfo] | None) -> None:
        self.default_encoding = default_encoding
        self.custom_codecs = custom_codecs
        self._codecs: dict[int, tuple[str, CodecInfo]] = {}

    def _codec(self, data_coding: int) -> tuple[str, CodecInfo]:
        found = self._codecs.get(data_coding)
        if found is None:
            # As DeliverSm.from_pdu: an unknown data_coding raises (ValueError), an unknown
            # codec name falls back to ASCII.
            name = SmppDataCoding(data_coding).name if data_coding else self.default_encoding
            try:
                info = find_codec_info(name, self.custom_codecs)
            except LookupError:
                info = find_codec_info("ascii", self.custom_codecs)
            found = self._codecs[data_coding] = (name, info)
        return found

    def decode_receipt(self, pdu: bytes, pdu_length: int, sequence: int) -> ReceiptPdu | None:
        """The fields a delivery receipt is read from, when `pdu` is a receipt `decode` takes.

        The same checks as `decode`, without building the addresses and the `DeliverSm`
        (a receipt is read from its text and TLVs only). Not None only when `decode` would
        return a receipt with the same ``short_message``, ``message_payload``,
        ``optional_params`` and ``esm_class`` (tests/unit/gateway/test_pdu_receipt.py).
        """
        try:
            found = self._decode_receipt(pdu, pdu_length, sequence)
        except Exception:  # `decode` says None too
            return None
        return found

    def decode(self, pdu: bytes, pdu_length: int, sequence: int) -> Any:
        """The `aiosmpplib.DeliverSm` in `pdu`, or None when this decoder does not take it.

        Args:
            pdu: The whole PDU (header included).
            pdu_length: Its command_length.
            sequence: Its sequence number.

        Returns:
            The message, equal to ``DeliverSm.from_pdu``'s; None for a PDU with UDHI, a
            schedule or validity time, or anything unusual (malformed ones included): decode
            those with ``DeliverSm.from_pdu``.
        """
        try:
            return self._decode(pdu, pdu_length, sequence)
        except Exception:  # any error: aiosmpplib decodes the PDU (and reports the error)
            return None

    def _decode_receipt(self, pdu: bytes, pdu_length: int, sequence: int) -> ReceiptPdu | None:
        # `_decode`'s checks, the fixed part read with one match (see _RECEIPT_HEAD).
        match = _RECEIPT_HEAD.match(pdu, 16)
        if match is None:
            return None
        service, source_kind, source, dest_kind, destination, esm, coding, length = match.groups()
        if not (service.isascii() and source.isascii() and destination.isascii()):
            return None  # what .decode("ascii") refuses
        if not (
            source_kind[0] in _TON
            and source_kind[1] in _NPI
            and dest_kind[0] in _TON
            and dest_kind[1] in _NPI
        ):
            return None  # what new_phone_number refuses
        esm_class = esm[0]
        if esm_class & 0x40 or (esm_class & 0b00111100) >> 2 != 1:  # UDHI; DeliverSm.is_receipt
            return None
        body = self._body(pdu, match.end(), pdu_length, coding[0], length[0], light=True)
        if body is None:
            return None
        _name, short_message, message_payload, params = body
        if (short_message and message_payload) or not (short_message or message_payload):
            return None  # `_decode` refuses both and neither
        return ReceiptPdu(sequence, esm_class, short_message, message_payload, params)

    def _body(
        self,
        pdu: bytes,
        index: int,
        pdu_length: int,
        data_coding: int,
        sm_length: int,
        *,
        light: bool = False,
    ) -> tuple[str, str, str, list[Any]] | None:
        """(codec name, short_message, message_payload, TLVs) from `index` (the octet after
        sm_length) to the end, or None when they do not end exactly at `pdu_length`."""
        name, codec = self._codecs.get(data_coding) or self._codec(data_coding)
        raw = pdu[index : index + sm_length]
        if len(raw) != sm_length:
            return None
        short_message: str = codec.decode(raw)[0]
        index += sm_length
        message_payload = ""
        params: list[Any] = []
        while index < pdu_length:
            tag, length = _TLV_HEAD.unpack_from(pdu, index)
            index += 4
            if tag == MESSAGE_PAYLOAD:
                message_payload = codec.decode(pdu[index : index + length])[0]
                index += length
                continue
            kind = _TAG_TYPE.get(tag) or _tag_type(tag)
            value: int | str | bool
            if kind is int:
                value = _INT_FORMAT[length].unpack_from(pdu, index)[0]
            elif kind is bool:
                value = True
            else:
                value = pdu[index : index + length].decode("ascii")
                if value.endswith("\x00"):
                    value = value[:-1]
            if kind is not bool:
                index += length
            params.append(
                # ReceiptParam(tag, value), without the namedtuple's Python-level __new__
                _new_tuple(ReceiptParam, (tag, value)) if light else new_optional_param(tag, value)
            )
        if index != pdu_length:
            return None
        return name, short_message, message_payload, params

    def _decode(self, pdu: bytes, pdu_length: int, sequence: int) -> Any:
        find = pdu.index
        end = find(0, 16)
        service_type = pdu[16:end].decode("ascii")
        if len(service_type) > 5:
            return None  # aiosmpplib refuses it (ValueError)
        source_ton, source_npi = pdu[end + 1], pdu[end + 2]
        start = end + 3
        end = find(0, start)
        source = new_phone_number(pdu[start:end].decode("ascii"), source_ton, source_npi)
        dest_ton, dest_npi = pdu[end + 1], pdu[end + 2]
        start = end + 3
        end = find(0, start)
        destination = new_phone_number(pdu[start:end].decode("ascii"), dest_ton, dest_npi)
        esm_class, protocol_id, priority_flag = pdu[end + 1], pdu[end + 2], pdu[end + 3]
        # Empty schedule_delivery_time and validity_period: two NULs.
        if esm_class & 0x40 or pdu[end + 4] or pdu[end + 5]:
            return None
        index = end + 6
        registered_delivery, replace_if_present_flag, data_coding = pdu[index : index + 3]
        sm_default_msg_id, sm_length = pdu[index + 3], pdu[index + 4]
        body = self._body(pdu, index + 5, pdu_length, data_coding, sm_length)
        if body is None:
            return None
        name, short_message, message_payload, params = body
        message: Any = DeliverSm.__new__(DeliverSm)
        message.__dict__.update(
            log_id="",
            extra_data="",
            sequence_num=sequence,
            command_status=SmppCommandStatus.ESME_ROK,
            short_message=short_message,
            source=source,
            destination=destination,
            service_type=service_type,
            esm_class=esm_class,
            protocol_id=protocol_id,
            priority_flag=priority_flag,
            schedule_delivery_time=None,
            validity_period=None,
            registered_delivery=registered_delivery,
            replace_if_present_flag=replace_if_present_flag,
            encoding=name if name != DEFAULT_ENCODING else None,
            sm_default_msg_id=sm_default_msg_id,
            message_payload=message_payload,
            optional_params=params,
            auto_message_payload=True,
            error_handling="strict",
            _default_encoding=DEFAULT_ENCODING,
            _custom_codecs=None,
            _encoded_message=b"",
            _parsed_receipt=None,
        )
        if message.short_message and message.message_payload:
            return None  # aiosmpplib refuses both (ValueError): let it say so
        if not short_message and not message_payload:
            return None
        return message


@lru_cache(maxsize=256)
def _smpp_time(value: datetime | timedelta) -> bytes:
    # Messages accepted together share their validity: format it once.
    return str(SubmitSm.datetime_to_smpp_time(value)).encode("ascii")


def submit_sm_fields(
    *,
    short_message: str,
    message_payload: str,
    source: Any,
    destination: Any,
    esm_class: int,
    priority_flag: int,
    registered_delivery: int,
    encoding: str,
    optional_params: list[Any],
    validity_period: datetime | timedelta | None,
    log_id: str,
) -> dict[str, Any]:
    """The ``__dict__`` of an `aiosmpplib.SubmitSm` with these fields and defaults elsewhere,
    as its ``__init__`` / ``__post_init__`` would leave it (before the ESME sets the encoding
    info)."""
    return {
        "log_id": log_id,
        "extra_data": "",
        "sequence_num": 0,
        "command_status": SmppCommandStatus.ESME_ROK,
        "short_message": short_message,
        "source": source,
        "destination": destination,
        "service_type": "",
        "esm_class": esm_class,
        "protocol_id": 0,
        "priority_flag": priority_flag,
        "schedule_delivery_time": None,
        "validity_period": validity_period,
        "registered_delivery": registered_delivery,
        "replace_if_present_flag": 0,
        "encoding": encoding,
        "sm_default_msg_id": 0,
        "message_payload": message_payload,
        "optional_params": optional_params,
        "auto_message_payload": True,
        "error_handling": "strict",
        "_default_encoding": DEFAULT_ENCODING,
        "_custom_codecs": None,
        "_encoded_message": b"",
    }


def data_coding_of(encoding: str) -> int:
    """The data_coding aiosmpplib writes for an encoding name.

    Raises:
        ValueError: An unknown encoding name.
    """
    data_coding = _DATA_CODING.get(encoding)
    if data_coding is None:
        raise ValueError(f"unknown encoding {encoding!r}")
    return data_coding


#: A submit_sm body as one bytes format (SMPP 3.4 §4.4.1): service_type (empty), source
#: TON/NPI/address, destination TON/NPI/address, esm_class, protocol_id 0, priority_flag, empty
#: schedule_delivery_time, validity_period, registered_delivery, replace_if_present_flag 0,
#: data_coding, sm_default_msg_id 0, sm_length, short_message, then the message_payload TLV and
#: the other TLVs.
_SUBMIT_BODY: Final[bytes] = b"\x00%c%c%b\x00%c%c%b\x00%c\x00%c\x00%b\x00%c\x00%c\x00%c%b%b%b"


def planned_submit_sm_body(
    *,
    source: Any,
    destination: Any,
    esm_class: int,
    priority_flag: int,
    registered_delivery: int,
    data_coding: int,
    validity_period: datetime | timedelta | None,
    octets: bytes,
    as_payload: bool,
    tlvs: bytes,
) -> bytes:
    """The body `encode_submit_sm_body` writes for a message built by `submit_sm_fields`
    with these fields (``message_payload`` set when `as_payload`), from the values alone.

    Args:
        source: Anything with ``ton``, ``npi`` and ``addr`` (an `sms.numbers.SmppAddress`).
        destination: The same for the destination.
        esm_class: esm_class.
        priority_flag: priority_flag.
        registered_delivery: registered_delivery.
        data_coding: data_coding (`data_coding_of`).
        validity_period: validity_period, or None.
        octets: The user data.
        as_payload: Put `octets` in message_payload instead of short_message.
        tlvs: The encoded optional parameters (SAR and others), in order.

    Raises:
        ValueError: An address is not ASCII (UnicodeEncodeError).
    """
    payload = b""
    short = octets
    if len(octets) > 254 or as_payload:
        payload = _TLV_HEAD.pack(MESSAGE_PAYLOAD, len(octets)) + octets
        short = b""
    fields = (
        source.ton,
        source.npi,
        source.addr.encode("ascii"),
        destination.ton,
        destination.npi,
        destination.addr.encode("ascii"),
        esm_class,
        priority_flag,
        _smpp_time(validity_period) if validity_period else b"",
        registered_delivery,
        data_coding,
        len(short),
        short,
        payload,
        tlvs,
    )
    try:
        return _SUBMIT_BODY % fields
    except OverflowError:  # an octet field out of range: the ValueError bytes() raises
        raise ValueError("bytes must be in range(0, 256)") from None


def encode_submit_sm_body(message: Any, octets: bytes) -> bytes:
    """The submit_sm body ``SubmitSm.pdu`` writes for `message` when its codec step returns
    `octets` (its encoding must be set; ``auto_message_payload`` on, as in `submit_sm_fields`).

    Raises:
        ValueError: A field does not encode (non-ASCII address, unknown encoding name).
    """
    payload = b""
    short = octets
    if len(octets) > 254 or message.message_payload:
        payload = _TLV_HEAD.pack(MESSAGE_PAYLOAD, len(octets)) + octets
        short = b""
    data_coding = _DATA_CODING.get(message.encoding)
    if data_coding is None:
        raise ValueError(f"unknown encoding {message.encoding!r}")
    params = message.optional_params or ()
    if message.esm_class & 0x40:
        tlvs = b"".join(p.tlv for p in params if p.tag not in _SAR_TAGS)
    else:
        tlvs = b"".join(p.tlv for p in params)
    source = message.source
    destination = message.destination
    validity = message.validity_period
    return b"".join(
        (
            message.service_type.encode("ascii"),
            bytes((0, source.ton, source.npi)),
            source.number.encode("ascii"),
            bytes((0, destination.ton, destination.npi)),
            destination.number.encode("ascii"),
            bytes((0, message.esm_class, message.protocol_id, message.priority_flag)),
            SubmitSm.datetime_to_smpp_time(message.schedule_delivery_time).encode("ascii"),
            b"\x00",
            _smpp_time(validity) if validity else b"",
            b"\x00",
            bytes(
                (
                    message.registered_delivery,
                    message.replace_if_present_flag,
                    data_coding,
                    message.sm_default_msg_id,
                    len(short),
                )
            ),
            short,
            payload,
            tlvs,
        )
    )
