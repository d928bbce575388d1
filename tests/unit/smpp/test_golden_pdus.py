"""Golden PDUs written by hand from the SMPP 3.4 spec (tests/data/pdus/*.hex) against the codec.

Each file decodes to exactly the PDU built here field by field, and re-encodes to the same octets.
"""

from __future__ import annotations

import pytest

from simulator.smpp.codec import decode, decode_header, encode
from simulator.smpp.constants import CommandId, CommandStatus, MessageState, Tag
from simulator.smpp.pdu import (
    AlertNotification,
    BindTransceiver,
    BindTransceiverResp,
    CancelSm,
    DataSm,
    DeliverSm,
    DeliverSmResp,
    DistributionListDestAddress,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    SmeDestAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    UnsuccessSme,
)
from tests.unit.smpp.helpers import GOLDEN_DIR, load_hex

RECEIPT_TEXT = (
    b"id:5f3a9c01 sub:001 dlvrd:001 submit date:2611241200 done date:2611241201"
    b" stat:DELIVRD err:000 text:"
)

GOLDEN: list[tuple[str, Pdu]] = [
    (
        "bind_transceiver.hex",
        BindTransceiver(
            sequence_number=1,
            system_id="SMSH01",
            password="secret",
            system_type="TEST",
            interface_version=0x34,
            addr_ton=1,
            addr_npi=1,
            address_range="",
        ),
    ),
    (
        "bind_transceiver_resp.hex",
        BindTransceiverResp(
            sequence_number=1,
            command_status=0,
            system_id="SIMSMSC",
            tlvs=((Tag.SC_INTERFACE_VERSION, b"\x34"),),
        ),
    ),
    (
        "bind_transceiver_resp_error.hex",
        BindTransceiverResp(sequence_number=1, command_status=CommandStatus.ESME_RINVPASWD),
    ),
    (
        "submit_sm_gsm7.hex",
        SubmitSm(
            sequence_number=2,
            source_addr_ton=5,
            source_addr_npi=0,
            source_addr="ACME",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="819012345678",
            registered_delivery=1,
            data_coding=0,
            short_message=b"Hello world",
        ),
    ),
    (
        "submit_sm_ucs2_udh.hex",
        SubmitSm(
            sequence_number=3,
            source_addr_ton=5,
            source_addr="SMSH",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="818011112222",
            esm_class=0x40,
            registered_delivery=1,
            data_coding=8,
            short_message=bytes([5, 0, 3, 0x2A, 2, 1]) + "こんにちは".encode("utf-16-be"),
        ),
    ),
    (
        "submit_sm_sar.hex",
        SubmitSm(
            sequence_number=4,
            source_addr_ton=5,
            source_addr="ACME",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="819012345678",
            short_message=b"part one",
            tlvs=(
                (Tag.SAR_MSG_REF_NUM, b"\x00\x07"),
                (Tag.SAR_TOTAL_SEGMENTS, b"\x02"),
                (Tag.SAR_SEGMENT_SEQNUM, b"\x01"),
            ),
        ),
    ),
    ("submit_sm_resp.hex", SubmitSmResp(sequence_number=2, message_id="5f3a9c01")),
    (
        "submit_sm_resp_error.hex",
        SubmitSmResp(sequence_number=2, command_status=CommandStatus.ESME_RTHROTTLED),
    ),
    (
        "deliver_sm_receipt.hex",
        DeliverSm(
            sequence_number=1,
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="819012345678",
            dest_addr_ton=5,
            dest_addr_npi=0,
            destination_addr="ACME",
            esm_class=0x04,
            short_message=RECEIPT_TEXT,
            tlvs=((Tag.RECEIPTED_MESSAGE_ID, b"5f3a9c01\x00"), (Tag.MESSAGE_STATE, b"\x02")),
        ),
    ),
    ("deliver_sm_resp.hex", DeliverSmResp(sequence_number=1, message_id="")),
    ("enquire_link.hex", EnquireLink(sequence_number=5)),
    ("enquire_link_resp.hex", EnquireLinkResp(sequence_number=5)),
    (
        "generic_nack.hex",
        GenericNack(sequence_number=9, command_status=CommandStatus.ESME_RINVCMDID),
    ),
    ("unbind.hex", Unbind(sequence_number=7)),
    ("unbind_resp.hex", UnbindResp(sequence_number=7)),
    (
        "query_sm.hex",
        QuerySm(sequence_number=11, message_id="5f3a9c01", source_addr_ton=5, source_addr="ACME"),
    ),
    (
        "query_sm_resp.hex",
        QuerySmResp(
            sequence_number=11,
            message_id="5f3a9c01",
            final_date="261124120100036+",
            message_state=MessageState.DELIVERED,
            error_code=0,
        ),
    ),
    (
        "submit_multi.hex",
        SubmitMulti(
            sequence_number=12,
            source_addr_ton=5,
            source_addr="ACME",
            dest_addresses=(
                SmeDestAddress(dest_addr_ton=1, dest_addr_npi=1, destination_addr="819012345678"),
                DistributionListDestAddress(dl_name="STAFF"),
            ),
            registered_delivery=1,
            short_message=b"Hello",
        ),
    ),
    (
        "submit_multi_resp.hex",
        SubmitMultiResp(
            sequence_number=12,
            message_id="5f3a9c02",
            unsuccess_smes=(
                UnsuccessSme(
                    dest_addr_ton=1,
                    dest_addr_npi=1,
                    destination_addr="819099998888",
                    error_status_code=CommandStatus.ESME_RINVDSTADR,
                ),
            ),
        ),
    ),
    (
        "data_sm_payload.hex",
        DataSm(
            sequence_number=13,
            source_addr_ton=5,
            source_addr="ACME",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="819012345678",
            registered_delivery=1,
            tlvs=((Tag.MESSAGE_PAYLOAD, b"Hello world"),),
        ),
    ),
    (
        "cancel_sm.hex",
        CancelSm(
            sequence_number=14,
            message_id="5f3a9c01",
            source_addr_ton=5,
            source_addr="ACME",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="819012345678",
        ),
    ),
    (
        "replace_sm.hex",
        ReplaceSm(
            sequence_number=15,
            message_id="5f3a9c01",
            source_addr_ton=5,
            source_addr="ACME",
            validity_period="000001000000000R",
            registered_delivery=1,
            short_message=b"Updated",
        ),
    ),
    (
        "alert_notification.hex",
        AlertNotification(
            sequence_number=16,
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="819012345678",
            esme_addr_ton=5,
            esme_addr="ACME",
            tlvs=((Tag.MS_AVAILABILITY_STATUS, b"\x00"),),
        ),
    ),
    ("outbind.hex", Outbind(sequence_number=1, system_id="SIMSMSC", password="pw")),
]


def test_every_golden_file_is_checked() -> None:
    on_disk = {path.name for path in GOLDEN_DIR.glob("*.hex")}
    assert on_disk == {name for name, _ in GOLDEN}


@pytest.mark.parametrize(("name", "expected"), GOLDEN, ids=[name for name, _ in GOLDEN])
def test_golden_decodes_to_hand_built_pdu(name: str, expected: Pdu) -> None:
    frame = load_hex(name)
    length, command_id, _, seq = decode_header(frame)
    assert length == len(frame)
    assert command_id == expected.command_id
    assert seq == expected.sequence_number
    assert decode(frame) == expected


@pytest.mark.parametrize(("name", "expected"), GOLDEN, ids=[name for name, _ in GOLDEN])
def test_golden_reencodes_identically(name: str, expected: Pdu) -> None:
    frame = load_hex(name)
    assert encode(decode(frame)) == frame
    assert encode(expected) == frame


def test_receipt_typed_accessors() -> None:
    pdu = decode(load_hex("deliver_sm_receipt.hex"))
    assert isinstance(pdu, DeliverSm)
    assert pdu.receipted_message_id == "5f3a9c01"
    assert pdu.message_state == MessageState.DELIVERED
    assert pdu.esm_class & 0x04


def test_sar_typed_accessors() -> None:
    pdu = decode(load_hex("submit_sm_sar.hex"))
    assert isinstance(pdu, SubmitSm)
    assert (pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum) == (7, 2, 1)
    assert pdu.message_payload is None


def test_bind_resp_sc_interface_version() -> None:
    pdu = decode(load_hex("bind_transceiver_resp.hex"))
    assert isinstance(pdu, BindTransceiverResp)
    assert pdu.sc_interface_version == 0x34


def test_data_sm_payload_accessor() -> None:
    pdu = decode(load_hex("data_sm_payload.hex"))
    assert isinstance(pdu, DataSm)
    assert pdu.message_payload == b"Hello world"


def test_alert_notification_accessor() -> None:
    pdu = decode(load_hex("alert_notification.hex"))
    assert isinstance(pdu, AlertNotification)
    assert pdu.ms_availability_status == 0
    assert pdu.command_id is CommandId.ALERT_NOTIFICATION
