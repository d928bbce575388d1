"""sms.alphabet: GSM 03.38 tables, septet packing, UCS-2, Latin-1, data_coding lookup.

Expected bytes are written by hand from TS 23.038 §6.2.1 (default alphabet and extension table),
not computed with the code under test.
"""

from __future__ import annotations

import pytest

from sms.alphabet import (
    DATA_CODING,
    ESC,
    GSM7_BASIC,
    GSM7_CHARS,
    GSM7_EXTENSION,
    GSM7_EXTENSION_CHARS,
    DecodingError,
    Encoding,
    PackingError,
    UnencodableCharacter,
    UnsupportedDataCoding,
    choose_encoding,
    code_units,
    decode,
    decode_gsm7,
    decode_ucs2,
    encode,
    encode_gsm7,
    encode_ucs2,
    encoding_for_data_coding,
    gsm7_septets,
    is_gsm7,
    pack_septets,
    udh_fill_bits,
    udh_septets,
    unpack_septets,
)
from sms.errors import SmsError

# --- tables ---------------------------------------------------------------------------------


def test_basic_table_has_128_distinct_entries() -> None:
    assert len(GSM7_BASIC) == 128
    assert len(set(GSM7_BASIC)) == 128


@pytest.mark.parametrize(
    ("septet", "char"),
    [
        (0x00, "@"),
        (0x01, "£"),
        (0x02, "$"),
        (0x03, "¥"),
        (0x09, "Ç"),
        (0x0A, "\n"),
        (0x0D, "\r"),
        (0x10, "Δ"),
        (0x11, "_"),
        (0x1A, "Ξ"),
        (0x1C, "Æ"),
        (0x1F, "É"),
        (0x20, " "),
        (0x24, "¤"),
        (0x40, "¡"),
        (0x41, "A"),
        (0x5B, "Ä"),
        (0x5F, "§"),
        (0x60, "¿"),
        (0x61, "a"),
        (0x7B, "ä"),
        (0x7F, "à"),
    ],
)
def test_basic_table_entries(septet: int, char: str) -> None:
    assert GSM7_BASIC[septet] == char
    assert encode_gsm7(char) == bytes([septet])


def test_extension_table_is_the_ten_spec_characters() -> None:
    assert GSM7_EXTENSION == {
        0x0A: "\f",
        0x14: "^",
        0x28: "{",
        0x29: "}",
        0x2F: "\\",
        0x3C: "[",
        0x3D: "~",
        0x3E: "]",
        0x40: "|",
        0x65: "€",
    }
    assert frozenset("\f^{}\\[~]|€") == GSM7_EXTENSION_CHARS
    assert len(GSM7_CHARS) == 127 + 10  # the default table without ESC, plus the extension


def test_esc_itself_is_not_a_character() -> None:
    assert ESC == 0x1B
    assert "\x1b" not in GSM7_CHARS
    with pytest.raises(UnencodableCharacter):
        encode_gsm7("a\x1bb")


# --- GSM-7 encode / decode -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hex_septets"),
    [
        ("", ""),
        ("Hello", "48656c6c6f"),
        ("@£$", "000102"),
        ("€", "1b65"),
        ("[a]", "1b3c611b3e"),
        ("\f^{}\\~|", "1b0a1b141b281b291b2f1b3d1b40"),
        ("Δ_ü", "10117e"),
    ],
)
def test_encode_decode_gsm7_golden(text: str, hex_septets: str) -> None:
    assert encode_gsm7(text).hex() == hex_septets
    assert decode_gsm7(bytes.fromhex(hex_septets)) == text


@pytest.mark.parametrize("char", sorted(GSM7_EXTENSION_CHARS))
def test_extension_characters_cost_two_septets(char: str) -> None:
    assert gsm7_septets(char) == 2
    assert gsm7_septets("a" + char + "a") == 4
    assert encode_gsm7(char)[0] == ESC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain ascii text 123", True),
        ("café ÉÅ", True),  # é and É are in the default table
        ("á", False),  # á is not
        ("ç", False),  # only capital Ç (0x09) is
        ("`", False),
        ("a\x1b", False),
        ("漢字", False),
        ("ｱ", False),  # half-width katakana
        ("😀", False),
        ("{[€]}", True),
        ("", True),
    ],
)
def test_is_gsm7(text: str, expected: bool) -> None:
    assert is_gsm7(text) is expected
    assert choose_encoding(text) is (Encoding.GSM7 if expected else Encoding.UCS2)


def test_unencodable_character_names_char_and_position() -> None:
    with pytest.raises(UnencodableCharacter) as info:
        gsm7_septets("ab漢c")
    err = info.value
    assert (err.char, err.position, err.encoding) == ("漢", 2, Encoding.GSM7)
    assert "U+6F22" in str(err)
    assert "position 2" in str(err)
    assert isinstance(err, SmsError)
    with pytest.raises(UnencodableCharacter) as info2:
        encode_gsm7("xyz`")
    assert info2.value.position == 3


@pytest.mark.parametrize(
    ("hex_septets", "reason"),
    [
        ("80", "not a septet"),
        ("611b", "dangling ESC"),
        ("1b41", "undefined extension"),
        ("1b1b", "undefined extension"),
    ],
)
def test_decode_gsm7_strict_rejects(hex_septets: str, reason: str) -> None:
    with pytest.raises(DecodingError, match=reason):
        decode_gsm7(bytes.fromhex(hex_septets))


@pytest.mark.parametrize(
    ("hex_septets", "shown"),
    [
        ("1b41", "A"),  # unknown extension code: the default-table character (23.038 §6.2.1.1)
        ("1b1b", " "),  # ESC ESC: a space
        ("611b", "a "),  # a dangling ESC: a space
        ("c1", "A"),  # high bit ignored
        ("1b3c", "["),
    ],
)
def test_decode_gsm7_lenient_shows_what_a_handset_shows(hex_septets: str, shown: str) -> None:
    assert decode_gsm7(bytes.fromhex(hex_septets), strict=False) == shown


# --- septet packing ------------------------------------------------------------------------------


def test_pack_classic_vector() -> None:
    # "hellohello" is the worked example of GSM 03.38 packing found in every SMS PDU guide.
    assert pack_septets(encode_gsm7("hellohello")).hex().upper() == "E8329BFD4697D9EC37"
    assert unpack_septets(bytes.fromhex("E8329BFD4697D9EC37"), 10) == encode_gsm7("hellohello")


@pytest.mark.parametrize(
    ("septets", "fill", "packed"),
    [
        (b"", 0, ""),
        (b"\x7f", 0, "7f"),
        (b"\x7f", 1, "fe"),  # one zero fill bit, then 1111111
        (b"\x01", 6, "4000"),  # 6 fill bits then bit 6 set; 13 bits -> 2 octets
        (b"\x7f" * 8, 0, "ff" * 7),  # 8 septets fill 7 octets exactly
        (b"", 1, "00"),  # fill bits alone still occupy an octet
    ],
)
def test_pack_with_fill_bits_golden(septets: bytes, fill: int, packed: str) -> None:
    assert pack_septets(septets, fill).hex() == packed
    assert unpack_septets(bytes.fromhex(packed), len(septets), fill) == septets


def test_unpack_needs_the_count() -> None:
    # 7 septets leave 7 spare bits in 7 octets; without the count they would read as '@'.
    packed = pack_septets(b"abcdefg")
    assert len(packed) == 7
    assert unpack_septets(packed, 7) == b"abcdefg"
    assert unpack_septets(packed, 8) == b"abcdefg\x00"


@pytest.mark.parametrize("fill", [-1, 7])
def test_fill_bits_out_of_range(fill: int) -> None:
    with pytest.raises(PackingError):
        pack_septets(b"a", fill)
    with pytest.raises(PackingError):
        unpack_septets(b"a", 1, fill)


def test_pack_rejects_non_septets_and_unpack_rejects_short_input() -> None:
    with pytest.raises(PackingError, match="0x80"):
        pack_septets(b"a\x80")
    with pytest.raises(PackingError, match="cannot hold"):
        unpack_septets(b"\x00" * 7, 9)
    with pytest.raises(PackingError):
        unpack_septets(b"", -1)


@pytest.mark.parametrize(
    ("udh_length", "septets", "fill"),
    [(0, 0, 0), (6, 7, 1), (7, 8, 0), (12, 14, 2), (1, 2, 6)],
)
def test_udh_septets_and_fill_bits(udh_length: int, septets: int, fill: int) -> None:
    assert udh_septets(udh_length) == septets
    assert udh_fill_bits(udh_length) == fill


def test_fill_bits_always_reach_the_next_septet_boundary() -> None:
    for udh_length in range(141):
        fill = udh_fill_bits(udh_length)
        assert 0 <= fill <= 6
        assert (udh_length * 8 + fill) % 7 == 0


# --- UCS-2, Latin-1, 8-bit ---------------------------------------------------------------------


def test_ucs2_is_utf16be_with_surrogate_pairs() -> None:
    assert encode_ucs2("A漢").hex() == "00416f22"
    assert encode_ucs2("😀").hex() == "d83dde00"
    assert decode_ucs2(bytes.fromhex("d83dde00")) == "😀"
    assert code_units("漢😀", Encoding.UCS2) == 3


def test_ucs2_rejects_lone_surrogates() -> None:
    with pytest.raises(UnencodableCharacter) as info:
        encode_ucs2("ab\ud83d")
    assert info.value.position == 2
    with pytest.raises(DecodingError):
        decode_ucs2(bytes.fromhex("0041d83d"))
    with pytest.raises(DecodingError):
        decode_ucs2(bytes.fromhex("004100"))  # odd length
    assert decode_ucs2(bytes.fromhex("0041d83d"), strict=False) == "A\ufffd"


def test_latin1_and_binary() -> None:
    assert encode("é", Encoding.LATIN1) == b"\xe9"
    assert decode(b"\xe9", Encoding.LATIN1) == "é"
    with pytest.raises(UnencodableCharacter) as info:
        encode("a€", Encoding.LATIN1)
    assert (info.value.char, info.value.position) == ("€", 1)
    assert encode("é", Encoding.BINARY) == b"\xc3\xa9"
    assert decode(b"\xc3\xa9", Encoding.BINARY) == "é"
    with pytest.raises(DecodingError):
        decode(b"\xc3", Encoding.BINARY)
    assert decode(b"\xc3", Encoding.BINARY, strict=False) == "\ufffd"
    assert code_units("é漢", Encoding.BINARY) == 5


@pytest.mark.parametrize(
    ("text", "encoding", "units"),
    [
        ("a€", Encoding.GSM7, 3),
        ("a😀", Encoding.UCS2, 3),
        ("aé", Encoding.LATIN1, 2),
    ],
)
def test_code_units(text: str, encoding: Encoding, units: int) -> None:
    assert code_units(text, encoding) == units


# --- data_coding -------------------------------------------------------------------------------


def test_data_coding_values() -> None:
    assert DATA_CODING == {
        Encoding.GSM7: 0x00,
        Encoding.LATIN1: 0x03,
        Encoding.BINARY: 0x04,
        Encoding.UCS2: 0x08,
    }
    for encoding, value in DATA_CODING.items():
        assert encoding_for_data_coding(value) is encoding


@pytest.mark.parametrize(
    ("data_coding", "encoding"),
    [
        (0x00, Encoding.GSM7),
        (0x01, Encoding.LATIN1),  # IA5 = ASCII, decoded as its Latin-1 superset
        (0x02, Encoding.BINARY),
        (0x03, Encoding.LATIN1),
        (0x04, Encoding.BINARY),
        (0x08, Encoding.UCS2),
        (0xC0, Encoding.GSM7),
        (0xD8, Encoding.GSM7),
        (0xE0, Encoding.UCS2),
        (0xF0, Encoding.GSM7),
        (0xF4, Encoding.BINARY),
        (0xF6, Encoding.BINARY),
    ],
)
def test_encoding_for_data_coding(data_coding: int, encoding: Encoding) -> None:
    assert encoding_for_data_coding(data_coding) is encoding


def test_smsc_default_alphabet_is_a_parameter() -> None:
    assert encoding_for_data_coding(0x00, smsc_default=Encoding.LATIN1) is Encoding.LATIN1
    assert encoding_for_data_coding(0x01, smsc_default=Encoding.UCS2) is Encoding.LATIN1


def test_ia5_decodes_ascii_exactly() -> None:
    ascii_bytes = bytes(range(0x20, 0x7F))
    assert decode(ascii_bytes, encoding_for_data_coding(0x01)) == ascii_bytes.decode("ascii")


@pytest.mark.parametrize("data_coding", [0x05, 0x06, 0x07, 0x09, 0x0A, 0x0E, 0x10, 0x80, -1, 256])
def test_unsupported_data_coding(data_coding: int) -> None:
    with pytest.raises(UnsupportedDataCoding) as info:
        encoding_for_data_coding(data_coding)
    assert info.value.data_coding == data_coding
