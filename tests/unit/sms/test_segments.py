"""sms.segments.plan: golden vectors from DOMAIN.md §6.1, limits, methods, profiles, errors.

UDH bytes are written by hand (`05 00 03 RR TT SS`, `06 08 04 RR RR TT SS`), not built with sms.udh.
"""

from __future__ import annotations

import math

import pytest

from sms.alphabet import Encoding, UnencodableCharacter, decode_gsm7, decode_ucs2
from sms.errors import SmsError
from sms.segments import (
    DEFAULT_PROFILE,
    MESSAGE_PAYLOAD_MAX_OCTETS,
    PROFILES,
    InvalidReference,
    InvalidSar,
    MessageTooLong,
    Method,
    Plan,
    Profile,
    Sar,
    SegmentationError,
    UnknownProfile,
    billing_units,
    capacity,
    get_profile,
    plan,
)

KANJI = "漢"
ZENKAKU = "あ"  # a full-width (全角) character
EMOJI = "😀"  # outside the BMP: a surrogate pair in UTF-16


def joined_text(result: Plan) -> str:
    return "".join(part.text for part in result.parts)


def part_texts(result: Plan) -> list[str]:
    return [part.text for part in result.parts]


# --- capacity: the spec table ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "single", "udh8", "udh16"),
    [
        (Encoding.GSM7, 160, 153, 152),
        (Encoding.UCS2, 70, 67, 66),
        (Encoding.LATIN1, 140, 134, 133),
        (Encoding.BINARY, 140, 134, 133),
    ],
)
def test_capacity_matches_the_spec_table(
    encoding: Encoding, single: int, udh8: int, udh16: int
) -> None:
    assert (capacity(encoding), capacity(encoding, 6), capacity(encoding, 7)) == (
        single,
        udh8,
        udh16,
    )


# --- DOMAIN.md §6.1 golden vectors ------------------------------------------------------------


def test_160_a_is_one_part_161_is_two() -> None:
    one = plan("a" * 160)
    assert (one.encoding, len(one.parts), one.units, one.esm_class) == (Encoding.GSM7, 1, 1, 0)
    assert one.parts[0].udh == b""
    assert one.parts[0].octets == 140
    two = plan("a" * 161)
    assert len(two.parts) == 2
    assert two.units == 2
    assert two.esm_class == 0x40
    assert [p.chars for p in two.parts] == [153, 8]
    assert joined_text(two) == "a" * 161


def test_159_a_plus_backslash_is_two_parts() -> None:
    result = plan("a" * 159 + "\\")  # 161 septets: the backslash is ESC + 0x2F
    assert len(result.parts) == 2
    assert result.code_units == 161
    assert result.chars == 160
    assert part_texts(result) == ["a" * 153, "a" * 6 + "\\"]


def test_escape_pair_is_never_split() -> None:
    # 152 a + '[' + 10 a: ESC + '[' would need septets 153-154, so '[' opens part 2.
    result = plan("a" * 152 + "[" + "a" * 10)
    assert part_texts(result) == ["a" * 152, "[" + "a" * 10]
    assert result.parts[0].payload == b"a" * 152
    assert result.parts[1].payload[:2] == bytes.fromhex("1b3c")
    assert [p.code_units for p in result.parts] == [152, 12]
    assert [p.chars for p in result.parts] == [152, 11]


def test_70_kanji_one_part_71_two() -> None:
    one = plan(KANJI * 70)
    assert (one.encoding, len(one.parts), one.units) == (Encoding.UCS2, 1, 1)
    assert one.data_coding == 0x08
    assert one.parts[0].octets == 140
    two = plan(KANJI * 71)
    assert len(two.parts) == 2
    assert [p.chars for p in two.parts] == [67, 4]


def test_66_kanji_plus_emoji_fits_one_part() -> None:
    result = plan(KANJI * 66 + EMOJI)  # 68 code units <= 70
    assert len(result.parts) == 1
    assert result.chars == 68
    assert result.parts[0].payload[-4:] == bytes.fromhex("d83dde00")


def test_surrogate_pair_is_never_split() -> None:
    # 66 漢 + 😀 + 3 漢 = 71 units; the pair would straddle units 67-68, so part 1 is the 66 漢.
    result = plan(KANJI * 66 + EMOJI + KANJI * 3)
    assert part_texts(result) == [KANJI * 66, EMOJI + KANJI * 3]
    assert [p.chars for p in result.parts] == [66, 5]
    assert result.units == 2


def test_670_zenkaku_is_10_parts_under_jp_au_and_671_is_refused() -> None:
    result = plan(ZENKAKU * 670, "jp-au")
    assert len(result.parts) == 10
    assert result.units == 10
    assert {p.chars for p in result.parts} == {67}
    with pytest.raises(MessageTooLong) as info:
        plan(ZENKAKU * 671, "jp-au")
    err = info.value
    assert (err.chars, err.max_chars, err.max_parts, err.profile) == (671, 670, 10, "jp-au")
    assert err.parts == 11
    assert isinstance(err, SmsError)


@pytest.mark.parametrize("name", ["jp-au", "jp-softbank", "jp-rakuten"])
def test_670_profiles(name: str) -> None:
    assert len(plan(ZENKAKU * 670, name).parts) == 10
    with pytest.raises(MessageTooLong):
        plan(ZENKAKU * 671, name)


def test_660_with_16bit_refs_is_10_parts_under_jp_docomo_661_refused() -> None:
    result = plan(ZENKAKU * 660, "jp-docomo", method=Method.UDH16, reference=0xBEEF)
    assert len(result.parts) == 10
    assert {p.chars for p in result.parts} == {66}
    assert result.parts[0].udh == bytes.fromhex("06 08 04 be ef 0a 01")
    assert result.parts[9].udh == bytes.fromhex("06 08 04 be ef 0a 0a")
    for method in Method:
        with pytest.raises(MessageTooLong) as info:
            plan(ZENKAKU * 661, "jp-docomo", method=method)
        assert (info.value.chars, info.value.max_chars) == (661, 660)


def test_670_with_16bit_refs_needs_11_parts_and_is_refused() -> None:
    with pytest.raises(MessageTooLong) as info:
        plan(ZENKAKU * 670, "jp-au", method=Method.UDH16)
    assert (info.value.parts, info.value.max_parts) == (11, 10)


def test_golden_udh_bytes() -> None:
    result = plan("a" * 400, reference=0x2A)
    assert [p.udh for p in result.parts] == [
        bytes.fromhex("05 00 03 2a 03 01"),
        bytes.fromhex("05 00 03 2a 03 02"),
        bytes.fromhex("05 00 03 2a 03 03"),
    ]
    assert result.parts[0].short_message == bytes.fromhex("05 00 03 2a 03 01") + b"a" * 153
    result16 = plan("a" * 200, method=Method.UDH16, reference=0x0102)
    assert [p.udh for p in result16.parts] == [
        bytes.fromhex("06 08 04 01 02 02 01"),
        bytes.fromhex("06 08 04 01 02 02 02"),
    ]
    assert [p.chars for p in result16.parts] == [152, 48]


# --- GSM-7 limits in JP profiles ----------------------------------------------------------------


def test_gsm7_1530_under_jp_profiles() -> None:
    assert len(plan("a" * 1530, "jp-au").parts) == 10
    with pytest.raises(MessageTooLong) as info:
        plan("a" * 1531, "jp-au")
    assert (info.value.chars, info.value.max_chars, info.value.encoding) == (
        1531,
        1530,
        Encoding.GSM7,
    )
    with pytest.raises(MessageTooLong):  # 765 extension characters = 1530 septets, + 1
        plan("€" * 765 + "a", "jp-au")


def test_generic_profile_allows_255_parts_and_no_more() -> None:
    assert len(plan("a" * 153 * 255).parts) == 255
    with pytest.raises(MessageTooLong) as info:
        plan("a" * (153 * 255 + 1))
    assert (info.value.parts, info.value.max_parts, info.value.max_chars) == (256, 255, None)


# --- billing units -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "encoding", "units"),
    [
        (0, Encoding.UCS2, 1),
        (70, Encoding.UCS2, 1),
        (71, Encoding.UCS2, 2),
        (134, Encoding.UCS2, 2),
        (135, Encoding.UCS2, 3),
        (201, Encoding.UCS2, 3),
        (604, Encoding.UCS2, 10),
        (670, Encoding.UCS2, 10),
        (160, Encoding.GSM7, 1),
        (161, Encoding.GSM7, 2),
        (306, Encoding.GSM7, 2),
        (307, Encoding.GSM7, 3),
        (459, Encoding.GSM7, 3),
        (1530, Encoding.GSM7, 10),
        (140, Encoding.LATIN1, 1),
        (141, Encoding.LATIN1, 2),
    ],
)
def test_billing_units_follow_the_jp_tariff_table(n: int, encoding: Encoding, units: int) -> None:
    # DOMAIN.md §1.5: 1-70 (1-160) ¥3; 71-134 (161-306) ¥6; 135-201 (307-459) ¥9; ... 604-670.
    assert billing_units(n, encoding) == units


def test_billing_units_do_not_depend_on_the_method() -> None:
    text = ZENKAKU * 300
    assert {plan(text, method=m).units for m in Method} == {5}
    assert [len(plan(text, method=m).parts) for m in Method] == [5, 5, 5, 1]
    assert len(plan(ZENKAKU * 335, method=Method.UDH16).parts) == 6  # 335 / 66
    assert plan(ZENKAKU * 335, method=Method.UDH16).units == 5  # ceil(335 / 67)


# --- methods ------------------------------------------------------------------------------------


def test_sar_parts_use_the_full_single_capacity_and_no_udh() -> None:
    result = plan("a" * 400, method=Method.SAR, reference=0x1234)
    assert [p.chars for p in result.parts] == [160, 160, 80]
    assert result.esm_class == 0
    assert all(p.udh == b"" for p in result.parts)
    assert [p.sar for p in result.parts] == [
        Sar(0x1234, 3, 1),
        Sar(0x1234, 3, 2),
        Sar(0x1234, 3, 3),
    ]
    assert all(p.octets <= 140 for p in result.parts)
    ucs2 = plan(KANJI * 71, method=Method.SAR)
    assert [p.chars for p in ucs2.parts] == [70, 1]


def test_sar_single_part_has_no_sar_values() -> None:
    result = plan("short", method=Method.SAR, reference=7)
    assert result.parts[0].sar is None
    assert result.parts[0].short_message == encode_ascii("short")


def encode_ascii(text: str) -> bytes:
    return text.encode("ascii")


def test_payload_carries_the_whole_text_in_message_payload() -> None:
    result = plan(ZENKAKU * 300, method=Method.PAYLOAD)
    assert len(result.parts) == 1
    part = result.parts[0]
    assert part.short_message == b""
    assert part.message_payload == (ZENKAKU * 300).encode("utf-16-be")
    assert part.udh == b""
    assert part.sar is None
    assert result.esm_class == 0
    assert result.units == 5
    short = plan("hi", method=Method.PAYLOAD)
    assert short.parts[0].message_payload == b"hi"


def test_payload_respects_profile_limits_and_the_tlv_size() -> None:
    with pytest.raises(MessageTooLong) as info:
        plan(ZENKAKU * 671, "jp-au", method=Method.PAYLOAD)
    assert info.value.max_chars == 670
    with pytest.raises(MessageTooLong) as info2:
        plan(ZENKAKU * 32768, Profile("big", 255, None), method=Method.PAYLOAD)
    assert info2.value.max_chars == MESSAGE_PAYLOAD_MAX_OCTETS // 2
    result = plan("a" * 1530, "jp-au", method=Method.PAYLOAD)
    assert result.parts[0].code_units == 1530


def test_payload_checks_max_parts_against_the_smsc_split() -> None:
    # 1000 'a' fits 65535 octets but the SMSC would need 7 parts; a 5-part profile refuses it.
    small = Profile("five", 5, None)
    with pytest.raises(MessageTooLong) as info:
        plan("a" * 1000, small, method=Method.PAYLOAD)
    assert (info.value.parts, info.value.max_parts) == (7, 5)


def test_single_part_has_no_udh_whatever_the_method() -> None:
    for method in (Method.UDH8, Method.UDH16, Method.SAR):
        result = plan("a" * 160, method=method)
        assert len(result.parts) == 1
        assert result.parts[0].udh == b""
        assert result.esm_class == 0


# --- encodings ----------------------------------------------------------------------------------


def test_forced_ucs2_counts_extension_characters_once() -> None:
    result = plan("€" * 70, encoding=Encoding.UCS2)
    assert len(result.parts) == 1
    assert plan("€" * 70).encoding is Encoding.GSM7
    assert len(plan("€" * 70).parts) == 1  # 140 septets


def test_forced_gsm7_with_a_non_gsm_character_fails_with_its_position() -> None:
    with pytest.raises(UnencodableCharacter) as info:
        plan("abc漢", encoding=Encoding.GSM7)
    assert (info.value.char, info.value.position) == ("漢", 3)


def test_latin1_limits() -> None:
    result = plan("é" * 141, encoding=Encoding.LATIN1)
    assert result.data_coding == 0x03
    assert [p.chars for p in result.parts] == [134, 7]
    result16 = plan("é" * 141, encoding=Encoding.LATIN1, method=Method.UDH16)
    assert [p.chars for p in result16.parts] == [133, 8]
    assert plan("é" * 140, encoding=Encoding.LATIN1).parts[0].udh == b""


def test_binary_keeps_utf8_sequences_whole() -> None:
    text = "a" * 133 + "漢" + "b" * 10  # 146 octets; the 3-octet 漢 would straddle 134-136
    result = plan(text, encoding=Encoding.BINARY)
    assert result.data_coding == 0x04
    assert [p.code_units for p in result.parts] == [133, 13]
    assert part_texts(result) == ["a" * 133, "漢" + "b" * 10]


def test_octets_and_tp_ud_of_gsm7_parts_include_udh_and_fill_bits() -> None:
    result = plan("a" * 200)
    first, second = result.parts
    assert first.octets == len(first.tp_ud) == 140
    assert first.tp_ud[:6] == bytes.fromhex("050003000201")
    assert second.octets == len(second.tp_ud) == 6 + math.ceil((1 + 47 * 7) / 8)
    # the fill bit is the lowest bit of the first octet after the UDH, then 'a' = 0x61 LSB first
    assert first.tp_ud[6] == (0x61 << 1) & 0xFF


def test_parts_decode_strictly() -> None:
    for text in ("a" * 152 + "[" + "a" * 400, KANJI * 66 + EMOJI * 40):
        result = plan(text)
        for part in result.parts:
            decoder = decode_gsm7 if result.encoding is Encoding.GSM7 else decode_ucs2
            decoder(part.payload)  # raises on a split escape or surrogate pair
        assert joined_text(result) == text


def test_empty_text_is_one_empty_part() -> None:
    result = plan("")
    assert len(result.parts) == 1
    assert result.parts[0].payload == b""
    assert result.units == 1


# --- reference, profiles, errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "reference"),
    [
        (Method.UDH8, 256),
        (Method.UDH8, -1),
        (Method.UDH16, 65536),
        (Method.SAR, 65536),
        (Method.PAYLOAD, -1),
    ],
)
def test_reference_must_fit_the_method(method: Method, reference: int) -> None:
    with pytest.raises(InvalidReference):
        plan("a" * 200, method=method, reference=reference)
    with pytest.raises(InvalidReference):
        plan("short", method=method, reference=reference)  # checked even for one part


def test_largest_references() -> None:
    assert plan("a" * 200, reference=255).parts[0].udh[3] == 0xFF
    assert plan("a" * 200, method=Method.UDH16, reference=65535).parts[0].udh[3:5] == b"\xff\xff"


def test_profiles() -> None:
    assert DEFAULT_PROFILE == "generic"
    assert set(PROFILES) == {"generic", "jp-docomo", "jp-au", "jp-softbank", "jp-rakuten"}
    assert PROFILES["generic"].max_parts == 255
    assert PROFILES["generic"].max_chars is None
    assert PROFILES["jp-docomo"].max_chars == 660
    for name in ("jp-au", "jp-softbank", "jp-rakuten"):
        assert (PROFILES[name].max_parts, PROFILES[name].max_chars) == (10, 670)
    jp = PROFILES["jp-au"]
    assert jp.limit(Encoding.UCS2) == 670
    assert jp.limit(Encoding.GSM7) == 1530
    assert jp.limit(Encoding.LATIN1) == jp.limit(Encoding.BINARY) == 1340
    assert get_profile("jp-au") is jp
    assert plan("x", jp).profile is jp


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(UnknownProfile) as info:
        plan("x", "jp-nope")
    assert info.value.name == "jp-nope"
    assert "jp-docomo" in str(info.value)
    assert info.value.known == tuple(PROFILES)


def test_profile_validation() -> None:
    with pytest.raises(SegmentationError):
        Profile("zero", 0, None)
    with pytest.raises(SegmentationError):
        Profile("too-many", 256, None)


@pytest.mark.parametrize(
    ("reference", "total", "seq"), [(-1, 1, 1), (65536, 1, 1), (1, 0, 1), (1, 256, 1), (1, 2, 3)]
)
def test_sar_validation(reference: int, total: int, seq: int) -> None:
    with pytest.raises(InvalidSar):
        Sar(reference, total, seq)


def test_custom_profile_counts_part_limit() -> None:
    three = Profile("three", 3, None)
    assert len(plan("a" * 459, three).parts) == 3
    with pytest.raises(MessageTooLong) as info:
        plan("a" * 460, three)
    assert (info.value.parts, info.value.max_parts) == (4, 3)


def test_to_dict_is_json_ready() -> None:
    result = plan("a" * 161, reference=5)
    doc = result.to_dict()
    assert doc["encoding"] == "gsm7"
    assert doc["units"] == 2
    assert doc["method"] == "udh8"
    assert doc["esm_class"] == 0x40
    parts = doc["parts"]
    assert isinstance(parts, list)
    assert parts[0]["udh_hex"] == "050003050201"
    assert parts[0]["chars"] == 153
    assert parts[0]["octets"] == 140
    assert parts[1]["sar"] is None
