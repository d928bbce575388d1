"""`DeliverSmDecoder.decode_receipt` reads a receipt like `decode` does, and nothing else.

On the samples and corrupted PDUs of test_pdu.py: whenever `decode_receipt` gives a
`ReceiptPdu`, `decode` gives a receipt `DeliverSm` with the same text, TLVs and esm_class;
whenever `decode` gives a receipt, so does `decode_receipt`.
"""

from __future__ import annotations

import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.pdu import DeliverSmDecoder, ReceiptPdu
from tests.unit.gateway.test_pdu import CODECS, SAMPLES, body, corrupted_pdus, pdu_of

ADDRESS = st.text("0123456789AZ", max_size=22).map(str.encode) | st.binary(max_size=22)


def compare(decoder: DeliverSmDecoder, pdu: bytes) -> ReceiptPdu | None:
    length, _command, _status, seq = struct.unpack_from(">IIII", pdu)
    light = decoder.decode_receipt(pdu, length, seq)
    full: Any = decoder.decode(pdu, length, seq)
    if full is None or not full.is_receipt():
        assert light is None, pdu
        return None
    assert light is not None, pdu
    assert light.is_receipt()
    assert light.sequence_num == full.sequence_num == seq
    assert light.esm_class == full.esm_class
    assert light.short_message == full.short_message
    assert light.message_payload == full.message_payload
    assert [(p.tag, p.value) for p in light.optional_params] == [
        (p.tag, p.value) for p in full.optional_params
    ]
    return light


def test_samples() -> None:
    decoder = DeliverSmDecoder("gsm0338", CODECS)
    taken = [compare(decoder, pdu_of(data)) for data in SAMPLES]
    # The receipts among the samples (text or message_payload, with or without TLVs).
    assert [i for i, r in enumerate(taken) if r is not None] == [0, 1, 2, 3, 4, 5]
    # Receipts with addresses decode() refuses are refused here too.
    assert compare(decoder, pdu_of(body(text=b"id:1", source=b"1" * 21))) is None
    assert compare(decoder, pdu_of(body(text=b"id:1", destination=b"1" * 21))) is None


def test_corrupted_pdus_agree() -> None:
    decoder = DeliverSmDecoder("gsm0338", CODECS)
    taken = 0
    for pdu, wrong in corrupted_pdus(20261125):
        taken += compare(decoder, pdu) is not None
        for variant in wrong:
            compare(decoder, variant)
    assert taken > 100


@given(
    service_type=st.sampled_from([b"", b"CMT"]) | st.binary(max_size=7),
    source=ADDRESS,
    destination=ADDRESS,
    kinds=st.sampled_from([b"\x01\x01\x05\x00", b"\x00\x00\x00\x00"])
    | st.binary(min_size=4, max_size=4),
    esm_class=st.sampled_from([0x04, 0x00, 0x44, 0x08, 0x24, 0x07]),
    times=st.sampled_from([b"\x00\x00", b"\x01\x00", b"\x00\x01"]),
    data_coding=st.sampled_from([0, 1, 3, 8, 0x0B]),
)
@settings(max_examples=300)
def test_generated_fixed_fields_agree(
    service_type: bytes,
    source: bytes,
    destination: bytes,
    kinds: bytes,
    esm_class: int,
    times: bytes,
    data_coding: int,
) -> None:
    text = b"id:9 stat:DELIVRD" if data_coding != 8 else "id:9".encode("utf-16-be")
    data = b"".join(
        (
            service_type.replace(b"\x00", b"") + b"\x00",
            kinds[:2],
            source.replace(b"\x00", b"") + b"\x00",
            kinds[2:],
            destination.replace(b"\x00", b"") + b"\x00",
            bytes((esm_class, 0, 0)),
            times,
            bytes((1, 0, data_coding, 0, len(text))),
            text,
        )
    )
    compare(DeliverSmDecoder("gsm0338", CODECS), pdu_of(data))
