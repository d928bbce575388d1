"""Properties of sms.alphabet: encode/decode identities and septet packing with fill bits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sms.alphabet import (
    GSM7_BASIC,
    DecodingError,
    Encoding,
    decode,
    decode_gsm7,
    encode,
    encode_gsm7,
    gsm7_septets,
    pack_septets,
    unpack_septets,
)

EXTENSION = "\f^{}\\[~]|€"
GSM_CHARS = sorted((set(GSM7_BASIC) - {"\x1b"}) | set(EXTENSION))

gsm_text = st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=400)
septets = st.binary(max_size=300).map(lambda b: bytes(x & 0x7F for x in b))
fill_bits = st.integers(0, 6)


@given(gsm_text)
def test_gsm7_round_trip(text: str) -> None:
    encoded = encode_gsm7(text)
    assert decode_gsm7(encoded) == text
    assert len(encoded) == gsm7_septets(text) == len(text) + sum(ch in EXTENSION for ch in text)
    assert max(encoded, default=0) <= 0x7F


@given(st.binary(max_size=300))
def test_lenient_gsm7_decoding_never_fails(data: bytes) -> None:
    shown = decode_gsm7(data, strict=False)
    assert len(shown) <= len(data)
    try:
        strict = decode_gsm7(data)
    except DecodingError:
        return
    assert strict == shown
    assert encode_gsm7(strict) == data  # whatever decodes strictly is canonical


@given(st.text(max_size=300), st.sampled_from([Encoding.UCS2, Encoding.BINARY]))
def test_unicode_round_trip(text: str, encoding: Encoding) -> None:
    assert decode(encode(text, encoding), encoding) == text


@given(st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=300))
def test_latin1_round_trip(text: str) -> None:
    assert decode(encode(text, Encoding.LATIN1), Encoding.LATIN1) == text


@given(septets, fill_bits)
def test_pack_unpack_round_trip_with_fill_bits(data: bytes, fill: int) -> None:
    packed = pack_septets(data, fill)
    assert len(packed) == -(-(fill + 7 * len(data)) // 8)
    assert unpack_septets(packed, len(data), fill) == data


@given(septets, fill_bits)
def test_fill_bits_shift_the_bit_stream(data: bytes, fill: int) -> None:
    # Independent model: the packed stream is the little-endian integer sum(s_i << 7i), and fill
    # bits shift it left. Fill bits are zero.
    expected = sum(value << (7 * i) for i, value in enumerate(data)) << fill
    packed = pack_septets(data, fill)
    assert int.from_bytes(packed, "little") == expected
    if packed:
        assert packed[0] & ((1 << fill) - 1) == 0


@given(st.binary(min_size=6, max_size=7), gsm_text)
def test_udh_then_packed_text_round_trip(udh: bytes, text: str) -> None:
    # TS 23.040: UDH octets, fill bits to the next septet boundary, then the packed text.
    fill = (7 - len(udh) * 8 % 7) % 7
    tp_ud = udh + pack_septets(encode_gsm7(text), fill)
    body = tp_ud[len(udh) :]
    assert decode_gsm7(unpack_septets(body, gsm7_septets(text), fill)) == text
