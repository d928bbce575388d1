"""Micro benchmarks of the gateway's SMPP codec (aiosmpplib's PDU classes), per PDU type.

The gateway's ESME (gateway.esme) encodes submit_sm with ``SubmitSm.pdu()`` and decodes what
the SMSC sends with ``parse_header`` + ``from_pdu``; these are the same calls on the same
messages as bench/test_bench_smpp_codec.py uses for the simulator's codec, so the two files
read side by side (``smsh bench`` shows both).

The last two time the gateway's own hot-path codec (gateway.pdu), which its receive and send
loops use instead of aiosmpplib's for the same octets: the receipt decoder and the submit_sm body
encoder.

Run: .venv/bin/pytest bench/test_bench_esme_codec.py --benchmark-only -p no:cacheprovider
"""

from __future__ import annotations

from typing import Any

from aiosmpplib import NPI, TON, DeliverSm, PhoneNumber, SubmitSm, SubmitSmResp

from gateway.esme import GSM_CODEC
from gateway.pdu import DeliverSmDecoder, data_coding_of, planned_submit_sm_body
from simulator.smpp.codec import encode
from simulator.smpp.constants import Tag
from simulator.smpp.pdu import DeliverSm as SimDeliverSm
from simulator.smpp.pdu import SubmitSmResp as SimSubmitSmResp
from simulator.smpp.pdu import tlv_cstr, tlv_u8
from sms.numbers import Npi, SmppAddress, Ton

TEXT = "お支払い期限が過ぎております。至急ご確認ください。"

# The simulator's codec writes the inbound PDUs, so both sides decode the very same octets.
RECEIPT = encode(
    SimDeliverSm(
        sequence_number=99,
        source_addr_ton=1,
        source_addr_npi=1,
        source_addr="819012345678",
        dest_addr_ton=5,
        destination_addr="ACME",
        esm_class=0x04,
        short_message=(
            b"id:5f3a9c01e2d4 sub:001 dlvrd:001 submit date:2611241200 done date:2611241201"
            b" stat:DELIVRD err:000 text:"
        ),
        tlvs=(tlv_cstr(Tag.RECEIPTED_MESSAGE_ID, "5f3a9c01e2d4"), tlv_u8(Tag.MESSAGE_STATE, 2)),
    )
)
RESP = encode(SimSubmitSmResp(sequence_number=1234, message_id="5f3a9c01e2d4"))


def _submit_sm() -> SubmitSm:
    return SubmitSm(
        sequence_num=1234,
        short_message=TEXT,
        source=PhoneNumber("ACME", TON.ALPHANUMERIC, NPI.UNKNOWN),
        destination=PhoneNumber("819012345678", TON.INTERNATIONAL, NPI.ISDN),
        registered_delivery=1,
        encoding="ucs2",
    )


def test_bench_esme_encode_submit_sm(benchmark: Any) -> None:
    message = _submit_sm()
    data = benchmark(message.pdu)
    assert data[4:8] == b"\x00\x00\x00\x04"
    assert TEXT.encode("utf-16-be") in data


def _decode(data: bytes, cls: Any) -> Any:
    return cls.from_pdu(data, cls.parse_header(data))


def test_bench_esme_decode_deliver_sm(benchmark: Any) -> None:
    message = benchmark(_decode, RECEIPT, DeliverSm)
    assert "stat:DELIVRD" in message.short_message
    assert message.esm_class == 0x04


def test_bench_esme_decode_submit_sm_resp(benchmark: Any) -> None:
    message = benchmark(_decode, RESP, SubmitSmResp)
    assert message.message_id == "5f3a9c01e2d4"


def test_bench_gateway_decode_receipt(benchmark: Any) -> None:
    decoder = DeliverSmDecoder("gsm0338", {"gsm0338": GSM_CODEC})
    receipt = benchmark(decoder.decode_receipt, RECEIPT, len(RECEIPT), 99)
    expected = _decode(RECEIPT, DeliverSm)
    assert receipt.short_message == expected.short_message
    assert [(p.tag, p.value) for p in receipt.optional_params] == [
        (p.tag, p.value) for p in expected.optional_params
    ]


def test_bench_gateway_encode_submit_sm_body(benchmark: Any) -> None:
    message = _submit_sm()
    body = benchmark(
        planned_submit_sm_body,
        source=SmppAddress(Ton.ALPHANUMERIC, Npi.UNKNOWN, "ACME"),
        destination=SmppAddress(Ton.INTERNATIONAL, Npi.ISDN, "819012345678"),
        esm_class=0,
        priority_flag=0,
        registered_delivery=1,
        data_coding=data_coding_of("ucs2"),
        validity_period=None,
        octets=TEXT.encode("utf-16-be"),
        as_payload=False,
        tlvs=b"",
    )
    assert body == message.pdu()[16:]
