"""simulator.smpp.codec: table-driven round trips and the status of every decode check."""

from __future__ import annotations

import struct

import pytest

from simulator.smpp.codec import decode, decode_body, decode_header, encode
from simulator.smpp.constants import CommandId, CommandStatus, Tag
from simulator.smpp.errors import (
    FramingError,
    PduDecodeError,
    PduEncodeError,
    SmppProtocolError,
    UnknownCommandError,
)
from simulator.smpp.pdu import (
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransmitter,
    BindTransmitterResp,
    CancelSm,
    CancelSmResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    DistributionListDestAddress,
    EnquireLink,
    GenericNack,
    Outbind,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    SmeDestAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    UnsuccessSme,
    make_error_response,
    tlv_cstr,
    tlv_u8,
    tlv_u16,
    tlv_u32,
)

S = CommandStatus


def frame(command_id: int, body: bytes, *, seq: int = 1, status: int = 0) -> bytes:
    """Build a PDU by hand: header with a correct command_length, then ``body``."""
    return struct.pack(">IIII", 16 + len(body), command_id, status, seq) + body


def sm_body(
    *,
    service_type: bytes = b"\x00",
    source: bytes = b"ACME\x00",
    dest: bytes = b"819012345678\x00",
    esm_class: int = 0,
    schedule: bytes = b"\x00",
    validity: bytes = b"\x00",
    data_coding: int = 0,
    sm_length: int | None = None,
    short_message: bytes = b"hi",
    tail: bytes = b"",
) -> bytes:
    """A submit_sm / deliver_sm body with one field replaced."""
    length = len(short_message) if sm_length is None else sm_length
    return (
        service_type
        + b"\x05\x00"
        + source
        + b"\x01\x01"
        + dest
        + bytes((esm_class, 0, 0))
        + schedule
        + validity
        + bytes((0, 0, data_coding, 0, length))
        + short_message
        + tail
    )


ROUND_TRIPS: list[tuple[str, Pdu]] = [
    ("bind_transmitter", BindTransmitter(sequence_number=1, system_id="a" * 15, password="b" * 8)),
    ("bind_receiver", BindReceiver(sequence_number=2, system_type="c" * 12, address_range="^81")),
    ("bind_transceiver", BindTransceiver(sequence_number=3, addr_ton=1, addr_npi=1)),
    ("bind_transmitter_resp", BindTransmitterResp(sequence_number=1, system_id="SMSC")),
    (
        "bind_receiver_resp+tlv",
        BindReceiverResp(sequence_number=2, tlvs=(tlv_u8(Tag.SC_INTERFACE_VERSION, 0x34),)),
    ),
    ("bind_resp error", BindTransmitterResp(sequence_number=1, command_status=S.ESME_RBINDFAIL)),
    ("outbind", Outbind(sequence_number=9, system_id="SMSC", password="")),
    ("unbind", Unbind(sequence_number=0x7FFFFFFF)),
    ("unbind_resp", UnbindResp(sequence_number=4)),
    ("generic_nack", GenericNack(sequence_number=0, command_status=S.ESME_RINVCMDLEN)),
    ("enquire_link", EnquireLink(sequence_number=1)),
    (
        "submit_sm all fields",
        SubmitSm(
            sequence_number=10,
            service_type="CMT",
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="8" * 20,
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="9" * 20,
            esm_class=0x03,
            protocol_id=0x7F,
            priority_flag=3,
            schedule_delivery_time="261124120000000+",
            validity_period="000002000000000R",
            registered_delivery=0x11,
            replace_if_present_flag=1,
            data_coding=0xF0,
            sm_default_msg_id=7,
            short_message=bytes(range(254)),
        ),
    ),
    (
        "submit_sm payload+tlvs",
        SubmitSm(
            sequence_number=11,
            tlvs=(
                (Tag.MESSAGE_PAYLOAD, b"x" * 1000),
                tlv_u16(Tag.USER_MESSAGE_REFERENCE, 0xBEEF),
                tlv_u32(Tag.QOS_TIME_TO_LIVE, 3600),
                (0x1400, b"vendor"),
                tlv_u16(Tag.SOURCE_PORT, 2948),
                tlv_u16(Tag.DESTINATION_PORT, 9200),
            ),
        ),
    ),
    ("submit_sm_resp", SubmitSmResp(sequence_number=10, message_id="m" * 64)),
    ("submit_sm_resp error", SubmitSmResp(sequence_number=10, command_status=0x22)),
    (
        "deliver_sm MO ucs2",
        DeliverSm(sequence_number=5, data_coding=8, short_message="日本".encode("utf-16-be")),
    ),
    ("deliver_sm_resp", DeliverSmResp(sequence_number=5)),
    (
        "submit_multi",
        SubmitMulti(
            sequence_number=6,
            dest_addresses=tuple(SmeDestAddress(1, 1, f"8190000{i:05d}") for i in range(254)),
            short_message=b"bulk",
        ),
    ),
    ("submit_multi no dests", SubmitMulti(sequence_number=6)),
    (
        "submit_multi_resp",
        SubmitMultiResp(
            sequence_number=6,
            message_id="id",
            unsuccess_smes=(UnsuccessSme(1, 1, "819", 0x0B), UnsuccessSme(0, 0, "", 0xFFFFFFFF)),
        ),
    ),
    (
        "submit_multi dl only",
        SubmitMulti(sequence_number=6, dest_addresses=(DistributionListDestAddress("d" * 20),)),
    ),
    (
        "data_sm 64-char addresses",
        DataSm(
            sequence_number=7,
            source_addr="s" * 64,
            destination_addr="d" * 64,
            tlvs=((Tag.MESSAGE_PAYLOAD, b""), tlv_u8(Tag.MORE_MESSAGES_TO_SEND, 1)),
        ),
    ),
    (
        "data_sm_resp with tlvs",
        DataSmResp(
            sequence_number=7,
            message_id="x",
            tlvs=(
                tlv_u8(Tag.DELIVERY_FAILURE_REASON, 2),
                (Tag.NETWORK_ERROR_CODE, b"\x03\x00\x1b"),
                tlv_cstr(Tag.ADDITIONAL_STATUS_INFO_TEXT, "absent subscriber"),
            ),
        ),
    ),
    ("query_sm", QuerySm(sequence_number=8, message_id="q" * 64, source_addr="ACME")),
    ("query_sm_resp", QuerySmResp(sequence_number=8, message_id="q", message_state=5)),
    (
        "cancel_sm",
        CancelSm(sequence_number=9, service_type="WAP", message_id="", source_addr="A"),
    ),
    ("cancel_sm_resp", CancelSmResp(sequence_number=9)),
    (
        "replace_sm",
        ReplaceSm(
            sequence_number=10,
            message_id="m",
            schedule_delivery_time="261124120000000+",
            short_message=b"\x00\xff" * 127,
        ),
    ),
    ("replace_sm_resp", ReplaceSmResp(sequence_number=10)),
    (
        "alert_notification",
        AlertNotification(
            sequence_number=11,
            source_addr="8" * 64,
            esme_addr="e" * 64,
            tlvs=(tlv_u8(Tag.MS_AVAILABILITY_STATUS, 2),),
        ),
    ),
    ("latin-1 text survives", SubmitSm(sequence_number=1, source_addr="Café\xff")),
]


@pytest.mark.parametrize(("desc", "pdu"), ROUND_TRIPS, ids=[d for d, _ in ROUND_TRIPS])
def test_round_trip(desc: str, pdu: Pdu) -> None:
    data = encode(pdu)
    length, command_id, _, seq = decode_header(data)
    assert (length, command_id, seq) == (len(data), pdu.command_id, pdu.sequence_number)
    assert decode(data) == pdu


@pytest.mark.parametrize(("desc", "pdu"), ROUND_TRIPS, ids=[d for d, _ in ROUND_TRIPS])
def test_decode_body_matches_decode(desc: str, pdu: Pdu) -> None:
    data = encode(pdu)
    _, command_id, status, seq = decode_header(data)
    assert decode_body(command_id, status, seq, data) == decode(data)


# (description, frame, expected command_status hint) for PduDecodeError: framing stays intact.
DECODE_ERRORS: list[tuple[str, bytes, int]] = [
    (
        "system_id 16 chars",
        frame(CommandId.BIND_TRANSCEIVER, b"s" * 16 + b"\x00pw\x00\x00\x34\x00\x00\x00"),
        S.ESME_RINVSYSID,
    ),
    (
        "password 9 chars",
        frame(CommandId.BIND_TRANSMITTER, b"id\x00" + b"p" * 9 + b"\x00\x00\x34\x00\x00\x00"),
        S.ESME_RINVPASWD,
    ),
    (
        "system_type 13 chars",
        frame(CommandId.BIND_RECEIVER, b"id\x00pw\x00" + b"t" * 13 + b"\x00\x34\x00\x00\x00"),
        S.ESME_RINVSYSTYP,
    ),
    (
        "address_range 41 chars",
        frame(CommandId.BIND_TRANSCEIVER, b"id\x00pw\x00\x00\x34\x00\x00" + b"a" * 41 + b"\x00"),
        S.ESME_RBINDFAIL,
    ),
    (
        "service_type 6 chars",
        frame(CommandId.SUBMIT_SM, sm_body(service_type=b"ABCDEF\x00")),
        S.ESME_RINVSERTYP,
    ),
    (
        "source_addr 21 chars",
        frame(CommandId.SUBMIT_SM, sm_body(source=b"1" * 21 + b"\x00")),
        S.ESME_RINVSRCADR,
    ),
    (
        "destination_addr 21 chars",
        frame(CommandId.SUBMIT_SM, sm_body(dest=b"1" * 21 + b"\x00")),
        S.ESME_RINVDSTADR,
    ),
    (
        "deliver_sm destination_addr 21 chars",
        frame(CommandId.DELIVER_SM, sm_body(dest=b"1" * 21 + b"\x00")),
        S.ESME_RINVDSTADR,
    ),
    (
        "schedule 5 chars",
        frame(CommandId.SUBMIT_SM, sm_body(schedule=b"26112\x00")),
        S.ESME_RINVSCHED,
    ),
    (
        "validity 17 chars",
        frame(CommandId.SUBMIT_SM, sm_body(validity=b"0" * 17 + b"\x00")),
        S.ESME_RINVEXPIRY,
    ),
    (
        "sm_length 255",
        frame(CommandId.SUBMIT_SM, sm_body(sm_length=255, short_message=b"x" * 255)),
        S.ESME_RINVMSGLEN,
    ),
    (
        "sm_length beyond the PDU",
        frame(CommandId.SUBMIT_SM, sm_body(sm_length=10, short_message=b"12345")),
        S.ESME_RINVMSGLEN,
    ),
    (
        "short_message and message_payload",
        frame(CommandId.SUBMIT_SM, sm_body(tail=b"\x04\x24\x00\x02hi")),
        S.ESME_RINVMSGLEN,
    ),
    (
        "UCS-2 odd length",
        frame(CommandId.SUBMIT_SM, sm_body(data_coding=8, short_message=b"\x00a\x00")),
        S.ESME_RINVMSGLEN,
    ),
    (
        "UCS-2 UDH longer than the message",
        frame(
            CommandId.SUBMIT_SM,
            sm_body(esm_class=0x40, data_coding=8, short_message=b"\x09\x00\x03"),
        ),
        S.ESME_RINVMSGLEN,
    ),
    (
        "UCS-2 in message_payload odd",
        frame(
            CommandId.DATA_SM,
            b"\x00\x00\x00A\x00\x00\x00B\x00\x00\x00\x08" + b"\x04\x24\x00\x03abc",
        ),
        S.ESME_RINVMSGLEN,
    ),
    (
        "truncated TLV header",
        frame(CommandId.SUBMIT_SM, sm_body(tail=b"\x02\x04\x00")),
        S.ESME_RINVOPTPARSTREAM,
    ),
    (
        "TLV length overrun",
        frame(CommandId.SUBMIT_SM, sm_body(tail=b"\x14\x00\x00\x09abc")),
        S.ESME_RINVPARLEN,
    ),
    (
        "message_state TLV of 2 octets",
        frame(CommandId.DELIVER_SM, sm_body(tail=b"\x04\x27\x00\x02\x00\x02")),
        S.ESME_RINVPARLEN,
    ),
    (
        "receipted_message_id TLV of 66 octets",
        frame(CommandId.DELIVER_SM, sm_body(tail=b"\x00\x1e\x00\x42" + b"1" * 66)),
        S.ESME_RINVPARLEN,
    ),
    (
        "fields overrun command_length",
        frame(CommandId.SUBMIT_SM, b"\x00\x05\x00ACME\x00\x01"),
        S.ESME_RINVCMDLEN,
    ),
    ("empty submit_sm body", frame(CommandId.SUBMIT_SM, b""), S.ESME_RINVCMDLEN),
    (
        "unterminated source_addr at the end",
        frame(CommandId.SUBMIT_SM, b"\x00\x05\x00ACM"),
        S.ESME_RINVCMDLEN,
    ),
    ("enquire_link with a body", frame(CommandId.ENQUIRE_LINK, b"\x00\x00"), S.ESME_RINVCMDLEN),
    ("unbind with a body", frame(CommandId.UNBIND, b"\x00"), S.ESME_RINVCMDLEN),
    (
        "unbind_resp with a body",
        frame(CommandId.UNBIND_RESP, b"\x00" * 4),
        S.ESME_RINVCMDLEN,
    ),
    (
        "number_of_dests 255",
        frame(CommandId.SUBMIT_MULTI, b"\x00\x05\x00A\x00\xff" + b"\x02L\x00" * 255),
        S.ESME_RINVNUMDESTS,
    ),
    (
        "dest_flag 3",
        frame(CommandId.SUBMIT_MULTI, b"\x00\x05\x00A\x00\x01\x03"),
        S.ESME_RINVDESTFLAG,
    ),
    (
        "dl_name 21 chars",
        frame(CommandId.SUBMIT_MULTI, b"\x00\x05\x00A\x00\x01\x02" + b"L" * 21 + b"\x00"),
        S.ESME_RINVDLNAME,
    ),
    (
        "submit_multi dest address 21 chars",
        frame(CommandId.SUBMIT_MULTI, b"\x00\x05\x00A\x00\x01\x01\x01\x01" + b"8" * 21 + b"\x00"),
        S.ESME_RINVDSTADR,
    ),
    (
        "message_id 65 chars",
        frame(CommandId.SUBMIT_SM_RESP, b"m" * 65 + b"\x00"),
        S.ESME_RINVMSGID,
    ),
    (
        "data_sm source_addr 65 chars",
        frame(CommandId.DATA_SM, b"\x00\x00\x00" + b"s" * 65 + b"\x00"),
        S.ESME_RINVSRCADR,
    ),
    (
        "alert esme_addr 65 chars",
        frame(CommandId.ALERT_NOTIFICATION, b"\x00\x00A\x00\x00\x00" + b"e" * 65 + b"\x00"),
        S.ESME_RINVDSTADR,
    ),
    (
        "query_sm_resp final_date 3 chars",
        frame(CommandId.QUERY_SM_RESP, b"m\x00abc\x00\x02\x00"),
        S.ESME_RINVCMDLEN,
    ),
    (
        "replace_sm sm and payload",
        frame(
            CommandId.REPLACE_SM,
            b"m\x00\x00\x00A\x00\x00\x00\x00\x00\x01x" + b"\x04\x24\x00\x01y",
        ),
        S.ESME_RINVMSGLEN,
    ),
    (
        "submit_multi_resp truncated unsuccess_sme",
        frame(CommandId.SUBMIT_MULTI_RESP, b"m\x00\x01\x01\x01819\x00\x00\x00"),
        S.ESME_RINVCMDLEN,
    ),
]


@pytest.mark.parametrize(
    ("desc", "data", "status"), DECODE_ERRORS, ids=[d for d, _, _ in DECODE_ERRORS]
)
def test_decode_error_status(desc: str, data: bytes, status: int) -> None:
    with pytest.raises(PduDecodeError) as info:
        decode(data)
    error = info.value
    assert error.command_status_hint == status, error
    assert error.sequence_number == 1
    assert error.command_id == decode_header(data)[1]
    assert not isinstance(error, UnknownCommandError)


def test_unknown_command_id() -> None:
    with pytest.raises(UnknownCommandError) as info:
        decode(frame(0x00000099, b"", seq=42))
    assert info.value.command_status_hint == S.ESME_RINVCMDID
    assert info.value.sequence_number == 42
    assert info.value.command_id == 0x99


def test_alert_notification_resp_is_not_a_command() -> None:
    with pytest.raises(UnknownCommandError):
        decode(frame(0x80000102, b""))


@pytest.mark.parametrize("data", [b"", b"\x00" * 15, frame(CommandId.ENQUIRE_LINK, b"")[:-1]])
def test_decode_rejects_short_or_mismatched_frames(data: bytes) -> None:
    with pytest.raises(FramingError):
        decode(data)


def test_decode_rejects_command_length_mismatch() -> None:
    data = bytearray(frame(CommandId.ENQUIRE_LINK, b""))
    data[3] = 20
    with pytest.raises(FramingError):
        decode(bytes(data))


def test_error_response_body_is_ignored() -> None:
    # SMPP-ERRORS row 20: accept the status, ignore a body that should not be there.
    data = frame(CommandId.SUBMIT_SM_RESP, b"garbage-without-nul", status=S.ESME_RTHROTTLED)
    assert decode(data) == SubmitSmResp(sequence_number=1, command_status=S.ESME_RTHROTTLED)


def test_error_response_encodes_header_only() -> None:
    # SMPP-ERRORS row 28: whatever the fields hold, an error response is 16 octets.
    pdu = SubmitSmResp(sequence_number=3, command_status=S.ESME_RSYSERR, message_id="ignored")
    assert encode(pdu) == frame(CommandId.SUBMIT_SM_RESP, b"", seq=3, status=S.ESME_RSYSERR)


def test_unknown_status_kept_as_int() -> None:
    data = frame(CommandId.BIND_TRANSMITTER_RESP, b"", status=0x22)
    pdu = decode(data)
    assert isinstance(pdu, BindTransmitterResp)
    assert pdu.command_status == 0x22


def test_generic_nack_body_is_ignored() -> None:
    assert decode(frame(CommandId.GENERIC_NACK, b"xx", status=3)) == GenericNack(1, 3)


def test_deliver_sm_resp_without_body_is_accepted() -> None:
    assert decode(frame(CommandId.DELIVER_SM_RESP, b"", seq=8)) == DeliverSmResp(8, 0, "")


def test_unknown_tlv_is_kept_verbatim_and_reencoded() -> None:
    # SMPP-ERRORS row 17: unknown tags are not an error.
    data = frame(CommandId.SUBMIT_SM, sm_body(tail=b"\x15\x01\x00\x03abc\x00\x00\x00\x00"))
    pdu = decode(data)
    assert pdu.tlvs == ((0x1501, b"abc"), (0x0000, b""))
    assert encode(pdu) == data


def test_ucs2_with_odd_udh_and_even_text_is_valid() -> None:
    udh16 = b"\x06\x08\x04\x12\x34\x02\x01"  # 16-bit concat: UDHL 6, 7 octets in all
    pdu = SubmitSm(esm_class=0x40, data_coding=8, short_message=udh16 + "あ".encode("utf-16-be"))
    assert decode(encode(pdu)) == pdu


def test_large_message_payload() -> None:
    payload = bytes(range(256)) * 255
    pdu = DataSm(sequence_number=1, tlvs=((Tag.MESSAGE_PAYLOAD, payload),))
    data = encode(pdu)
    assert len(data) > 65_000
    assert decode(data) == pdu


def test_make_error_response() -> None:
    assert make_error_response(CommandId.SUBMIT_SM, 5, 0x58) == SubmitSmResp(5, 0x58)
    assert make_error_response(CommandId.OUTBIND, 5, 4) == GenericNack(5, 4)
    assert make_error_response(0x1234, 5, 3) == GenericNack(5, 3)
    assert make_error_response(CommandId.SUBMIT_SM_RESP, 5, 3) == GenericNack(5, 3)


ENCODE_ERRORS: list[tuple[str, Pdu, int]] = [
    ("system_id 16 chars", BindTransmitter(system_id="s" * 16), S.ESME_RINVSYSID),
    ("password 9 chars", BindTransmitter(password="p" * 9), S.ESME_RINVPASWD),
    ("NUL inside", SubmitSm(source_addr="A\x00B"), S.ESME_RINVSRCADR),
    ("destination 21 chars", SubmitSm(destination_addr="1" * 21), S.ESME_RINVDSTADR),
    ("schedule 15 chars", SubmitSm(schedule_delivery_time="1" * 15), S.ESME_RINVSCHED),
    ("validity 16 chars + 1", ReplaceSm(validity_period="1" * 17), S.ESME_RINVEXPIRY),
    ("short_message 255", SubmitSm(short_message=b"x" * 255), S.ESME_RINVMSGLEN),
    (
        "both sm and payload",
        DeliverSm(short_message=b"a", tlvs=((Tag.MESSAGE_PAYLOAD, b"b"),)),
        S.ESME_RINVMSGLEN,
    ),
    ("odd UCS-2", SubmitSm(data_coding=8, short_message=b"abc"), S.ESME_RINVMSGLEN),
    ("tlv on enquire_link", EnquireLink(tlvs=((0x1400, b""),)), S.ESME_RINVCMDLEN),
    ("wrong TLV size", SubmitSm(tlvs=((Tag.SAR_MSG_REF_NUM, b"\x01"),)), S.ESME_RINVPARLEN),
    ("TLV over 65535", DataSm(tlvs=((0x1400, b"x" * 65536),)), S.ESME_RINVPARLEN),
    (
        "255 destinations",
        SubmitMulti(dest_addresses=(SmeDestAddress(),) * 255),
        S.ESME_RINVNUMDESTS,
    ),
    (
        "dl_name 21 chars",
        SubmitMulti(dest_addresses=(DistributionListDestAddress("d" * 21),)),
        S.ESME_RINVDLNAME,
    ),
    ("ton 256", SubmitSm(source_addr_ton=256), S.ESME_RSYSERR),
    ("negative seq", EnquireLink(sequence_number=-1), S.ESME_RSYSERR),
    ("non-latin-1 text", SubmitSm(source_addr="日本"), S.ESME_RSYSERR),
    (
        "error_status_code negative",
        SubmitMultiResp(unsuccess_smes=(UnsuccessSme(0, 0, "", -1),)),
        8,
    ),
]


@pytest.mark.parametrize(
    ("desc", "pdu", "status"), ENCODE_ERRORS, ids=[d for d, _, _ in ENCODE_ERRORS]
)
def test_encode_error(desc: str, pdu: Pdu, status: int) -> None:
    with pytest.raises(PduEncodeError) as info:
        encode(pdu)
    assert info.value.command_status_hint == status
    assert info.value.command_id == pdu.command_id


def test_encode_rejects_foreign_objects() -> None:
    class NotAPdu(SubmitSm):
        pass

    with pytest.raises(PduEncodeError):
        encode(NotAPdu())


def test_errors_share_one_root() -> None:
    for exc in (FramingError, PduDecodeError, PduEncodeError, UnknownCommandError):
        assert issubclass(exc, SmppProtocolError)
    assert "RINVCMDLEN" not in repr(FramingError("x", 2))  # hint is shown numerically
    assert "0x00000002" in repr(FramingError("x", 2))


def test_tlv_accessors() -> None:
    pdu = SubmitSm(tlvs=(tlv_u8(Tag.MESSAGE_STATE, 2), (Tag.NETWORK_ERROR_CODE, b"\x03\x00\x1b")))
    assert pdu.message_state == 2
    assert pdu.network_error_code == (3, 27)
    assert pdu.get_tlv(0x9999) is None
    assert pdu.has_tlv(Tag.MESSAGE_STATE)
    pdu.set_tlv(Tag.MESSAGE_STATE, b"\x05")
    pdu.set_tlv(Tag.USSD_SERVICE_OP, b"\x11")
    assert pdu.message_state == 5
    assert pdu.ussd_service_op == 0x11
    assert pdu.tlvs[0][0] == Tag.MESSAGE_STATE
    pdu.remove_tlv(Tag.MESSAGE_STATE)
    assert pdu.get_tlv_int(Tag.MESSAGE_STATE) is None
    assert [t for t, _ in pdu.tlvs] == [Tag.NETWORK_ERROR_CODE, Tag.USSD_SERVICE_OP]
    resp = DataSmResp(tlvs=(tlv_cstr(Tag.ADDITIONAL_STATUS_INFO_TEXT, "busy"),))
    assert resp.additional_status_info_text == "busy"
    assert resp.delivery_failure_reason is None
