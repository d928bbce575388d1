"""Differential tests: our planner against python-smpplib 2.2.4 and aiosmpplib 0.7.4.

Where the other libraries are right (plain GSM text without extension characters; BMP-only UCS-2
for smpplib; any UCS-2 for aiosmpplib) they must produce the same parts, byte for byte, as ours.
Where they are wrong, the tests below assert the wrong behaviour explicitly, so a test fails the
day they fix it and we learn about it:

python-smpplib `smpplib/gsm.py::make_parts` (its own "FIXME: ... a character may be broken by
splitting"):
    * slices the encoded octets every 153 / 134, so it splits an ESC from its extension code and
      a UTF-16 surrogate pair across parts;
    * its GSM table has '`' at 0x5F where TS 23.038 has '§', so '`' is silently sent as '§' and
      '§' forces UCS-2; form feed (ESC 0x0A) is missing;
    * the reference is `random.randint` from the global random module (not testable; we compare
      with the reference masked).
aiosmpplib `utils.py::split_sms_udh` / `split_sms` and `protocol.py` (deliver_sm parsing):
    * counts GSM-7 in characters, not septets: a text with extension characters is sent as one
      part of more than 160 septets, or as parts of more than 153;
    * the SAR path (`split_sms`) fills parts to 254 octets, beyond one air message (we use
      160 / 70 / 140, see sms.segments);
    * the deliver_sm parser reads a 16-bit concatenation reference as a 4-octet integer.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
import smpplib.gsm
from aiosmpplib.protocol import DeliverSm, SmppMessage
from aiosmpplib.utils import split_sms, split_sms_udh
from hypothesis import given
from hypothesis import strategies as st

from sms.alphabet import GSM7_BASIC, GSM7_EXTENSION_CHARS, DecodingError, Encoding, decode_gsm7
from sms.segments import Method, Plan, Reassembler, plan
from sms.udh import split_udh

PLAIN_GSM = sorted(ch for ch in GSM7_BASIC if ch.isascii() and ch != "\x1b")
BMP_NON_GSM = ["漢", "字", "あ", "ア", "ｱ", "Ж", "ç", "á"]


def long_text(alphabet: list[str], min_reps: int = 1) -> st.SearchStrategy[str]:
    return st.builds(
        lambda unit, reps, tail: unit * reps + tail,
        st.text(alphabet=st.sampled_from(alphabet), min_size=1, max_size=10),
        st.integers(min_reps, 150),
        st.text(alphabet=st.sampled_from(alphabet), max_size=10),
    )


plain_gsm_text = st.one_of(
    st.text(alphabet=st.sampled_from(PLAIN_GSM), max_size=200), long_text(PLAIN_GSM)
)
bmp_ucs2_text = st.builds(
    lambda head, body: head + body,
    st.sampled_from(BMP_NON_GSM),
    st.one_of(
        st.text(alphabet=st.sampled_from([*BMP_NON_GSM, "a", " "]), max_size=100),
        long_text([*BMP_NON_GSM, "a", " "]),
    ),
)
any_ucs2_text = st.builds(
    lambda head, body: head + body,
    st.sampled_from(["漢", "😀", "👍🏽"]),
    long_text(["漢", "あ", "😀", "👍", "🏽", "a", "€"], min_reps=8),
)


def smpplib_parts(text: str) -> tuple[list[bytes], int, int]:
    parts, encoding, esm_class = smpplib.gsm.make_parts(text)
    return list(parts), int(encoding), int(esm_class)


def short_messages(result: Plan) -> list[bytes]:
    return [part.short_message for part in result.parts]


# --- where they agree with us ---------------------------------------------------------------


def assert_same_as_smpplib(text: str) -> None:
    theirs, data_coding, esm_class = smpplib_parts(text)
    reference = theirs[0][3] if len(theirs) > 1 else 0  # their random reference, masked
    ours = plan(text, reference=reference)
    assert (data_coding, esm_class) == (ours.data_coding, ours.esm_class)
    assert theirs == short_messages(ours)


@given(plain_gsm_text)
def test_smpplib_agrees_on_plain_gsm_text(text: str) -> None:
    assert_same_as_smpplib(text)


@given(bmp_ucs2_text)
def test_smpplib_agrees_on_bmp_ucs2_text(text: str) -> None:
    assert_same_as_smpplib(text)


@given(plain_gsm_text.filter(lambda t: len(t) > 160), st.integers(0, 65535))
def test_aiosmpplib_agrees_on_plain_gsm_text(text: str, reference: int) -> None:
    # aiosmpplib switches to a 16-bit reference when the reference is above 255.
    method = Method.UDH8 if reference <= 255 else Method.UDH16
    ours = plan(text, method=method, reference=reference)
    assert split_sms_udh(text, "gsm0338", reference) == short_messages(ours)


@given(any_ucs2_text.filter(lambda t: len(t.encode("utf-16-be")) > 140), st.integers(0, 65535))
def test_aiosmpplib_agrees_on_ucs2_text_with_surrogates(text: str, reference: int) -> None:
    method = Method.UDH8 if reference <= 255 else Method.UDH16
    ours = plan(text, method=method, reference=reference)
    assert ours.encoding is Encoding.UCS2
    assert split_sms_udh(text, "ucs2", reference) == short_messages(ours)


# --- where python-smpplib is wrong ------------------------------------------------------------


def test_smpplib_splits_an_escape_pair() -> None:
    text = "a" * 152 + "[" + "a" * 10
    theirs, _, _ = smpplib_parts(text)
    assert theirs[0][-1] == 0x1B  # part 1 ends with a lone ESC ...
    assert theirs[1][6] == 0x3C  # ... and part 2 starts with the bare '[' code ('<' alone)
    with pytest.raises(DecodingError, match="dangling ESC"):
        decode_gsm7(theirs[0][6:])
    assert decode_gsm7(theirs[1][6:]).startswith("<")  # the handset shows '<', not '['
    ours = plan(text)
    assert ours.parts[0].payload[-1] != 0x1B
    assert [p.text for p in ours.parts] == ["a" * 152, "[" + "a" * 10]


def test_smpplib_splits_a_surrogate_pair() -> None:
    text = "漢" * 66 + "😀" + "漢" * 3
    theirs, data_coding, _ = smpplib_parts(text)
    assert data_coding == 0x08
    assert theirs[0][-2:] == b"\xd8\x3d"  # high surrogate at the end of part 1
    handset = Reassembler()
    for part in theirs:
        udh, body = split_udh(part)
        out = handset.add("s", "d", udh.concat, body, 0.0, data_coding=data_coding)
    assert out[0].text == "漢" * 66 + "\ufffd\ufffd" + "漢" * 3  # what the phone shows
    ours = plan(text)
    assert [p.text for p in ours.parts] == ["漢" * 66, "😀" + "漢" * 3]


def test_smpplib_gsm_table_has_a_grave_accent_where_the_spec_has_section_sign() -> None:
    theirs, data_coding, _ = smpplib_parts("`")
    assert (theirs, data_coding) == ([b"\x5f"], 0x00)
    assert decode_gsm7(theirs[0]) == "§"  # sent '`', the handset shows '§'
    assert plan("`").encoding is Encoding.UCS2  # '`' is not in GSM 03.38
    _, data_coding, _ = smpplib_parts("§")
    assert data_coding == 0x08  # '§' is GSM 0x5F, but smpplib falls back to UCS-2
    assert plan("§").encoding is Encoding.GSM7
    _, data_coding, _ = smpplib_parts("\f")
    assert data_coding == 0x08  # form feed (ESC 0x0A) is missing from its extension table
    assert plan("\f").encoding is Encoding.GSM7


# --- where aiosmpplib is wrong --------------------------------------------------------------------


def test_aiosmpplib_counts_characters_not_septets_for_one_part() -> None:
    text = "a" * 159 + "\\"  # 160 characters, 161 septets
    theirs = split_sms_udh(text, "gsm0338", 1)
    assert len(theirs) == 1  # one part of 161 septets: more than 140 octets on the air
    assert theirs[0][0] == 160  # its length prefix counts characters
    assert len(theirs[0]) - 1 == 161
    assert len(plan(text).parts) == 2


def test_aiosmpplib_overfills_parts_with_extension_characters() -> None:
    text = "[" * 100 + "a" * 100  # 200 characters, 300 septets
    theirs = split_sms_udh(text, "gsm0338", 1)
    assert [len(p) - 6 for p in theirs] == [253, 47]  # part 1: 253 septets > 153
    ours = plan(text)
    assert [p.code_units for p in ours.parts] == [152, 148]
    assert all(p.octets <= 140 for p in ours.parts)
    assert all(not set(p.text) - GSM7_EXTENSION_CHARS - {"a"} for p in ours.parts)


def test_aiosmpplib_sar_parts_exceed_one_air_message() -> None:
    theirs = split_sms("a" * 400, "gsm0338")
    assert [len(p) for p in theirs] == [254, 146]
    ours = plan("a" * 400, method=Method.SAR)
    assert [len(p.short_message) for p in ours.parts] == [160, 160, 80]


def deliver_sm_pdu(short_message: bytes, data_coding: int) -> bytes:
    """A deliver_sm with UDHI set, written field by field (SMPP 3.4 §4.6.1)."""
    body = (
        b"\x00"  # service_type
        + b"\x01\x01"
        + b"09012345678\x00"  # source_addr_ton, _npi, source_addr
        + b"\x01\x01"
        + b"0312345678\x00"  # dest_addr_ton, _npi, destination_addr
        + bytes([0x40, 0, 0])  # esm_class UDHI, protocol_id, priority_flag
        + b"\x00\x00"  # schedule_delivery_time, validity_period
        + bytes([0, 0, data_coding, 0, len(short_message)])
        + short_message
    )
    return struct.pack("!IIII", 16 + len(body), 0x00000005, 0, 1) + body


def test_aiosmpplib_reads_a_16bit_reference_as_four_octets() -> None:
    part = plan("漢" * 100, method=Method.UDH16, reference=0x0102).parts[0]
    assert part.udh == bytes.fromhex("06 08 04 01 02 02 01")
    pdu = deliver_sm_pdu(part.short_message, 0x08)
    message: Any = DeliverSm.from_pdu(pdu, SmppMessage.parse_header(pdu))
    reference, seq, total = message.get_segmentation_data()
    assert (seq, total) == (1, 2)
    assert reference == 0x01020201  # the reference, the total and the seq read as one integer
    concat = split_udh(part.short_message)[0].concat
    assert concat is not None
    assert concat.reference == 0x0102
