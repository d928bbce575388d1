"""sms.udh: user data header build/parse. Golden bytes written by hand from TS 23.040 §9.2.3.24."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sms.errors import SmsError
from sms.udh import Concat, Ports, RawIE, Udh, UdhError, UdhFault, parse_udh, split_udh

# (description, header, hand-written hex)
GOLDEN: list[tuple[str, Udh, str]] = [
    ("concat 8-bit ref", Udh((Concat(0x2A, 3, 1),)), "05 00 03 2a 03 01"),
    ("concat 8-bit ref, last part", Udh((Concat(0xFF, 255, 255),)), "05 00 03 ff ff ff"),
    ("concat 16-bit ref", Udh((Concat(0x1234, 2, 1, 16),)), "06 08 04 12 34 02 01"),
    ("concat 16-bit ref 0", Udh((Concat(0, 10, 10, 16),)), "06 08 04 00 00 0a 0a"),
    ("ports 8-bit", Udh((Ports(0x10, 0x20, 8),)), "04 04 02 10 20"),
    ("ports 16-bit (WAP push 2948)", Udh((Ports(2948, 9200),)), "06 05 04 0b 84 23 f0"),
    ("unknown IE kept raw", Udh((RawIE(0x24, b"\x01"),)), "03 24 01 01"),
    ("empty IE data", Udh((RawIE(0x70, b""),)), "02 70 00"),
    ("no IEs", Udh(()), "00"),
    (
        "ports + concat + unknown",
        Udh((Ports(5000, 0), Concat(7, 2, 2), RawIE(0x0A, b"\x00\x01\x02\x03"))),
        "11 05 04 13 88 00 00 00 03 07 02 02 0a 04 00 01 02 03",
    ),
]


@pytest.mark.parametrize(("desc", "udh", "hex_bytes"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_build_and_parse(desc: str, udh: Udh, hex_bytes: str) -> None:
    raw = bytes.fromhex(hex_bytes)
    assert udh.to_bytes() == raw, desc
    assert udh.length == len(raw)
    assert parse_udh(raw) == udh


def test_accessors_take_the_last_occurrence() -> None:
    # TS 23.040 §9.2.3.24: a repeated non-repeatable IE -> the last occurrence is used.
    udh = parse_udh(bytes.fromhex("0b 00 03 01 02 01 08 04 00 09 03 02"))
    assert udh.concat == Concat(9, 3, 2, 16)
    assert len(udh.ies) == 2
    udh2 = parse_udh(bytes.fromhex("0a 04 02 01 02 05 04 00 03 00 04"))
    assert udh2.ports == Ports(3, 4, 16)
    assert Udh().concat is None
    assert Udh().ports is None


def test_split_udh_returns_the_body() -> None:
    udh, body = split_udh(bytes.fromhex("050003010201") + b"hello")
    assert udh.concat == Concat(1, 2, 1)
    assert body == b"hello"
    udh, body = split_udh(b"\x00rest")
    assert udh.ies == ()
    assert body == b"rest"


def test_concat_iei_property() -> None:
    assert Concat(1, 1, 1).iei == 0x00
    assert Concat(1, 1, 1, 16).iei == 0x08
    assert Ports(1, 1, 8).iei == 0x04
    assert Ports(1, 1).iei == 0x05


# (description, hex, fault)
MALFORMED: list[tuple[str, str, UdhFault]] = [
    ("no octets at all", "", UdhFault.EMPTY),
    ("UDHL beyond data", "05 00 03 01 02", UdhFault.UDHL_OVERRUN),
    ("UDHL beyond data by one", "06 00 03 01 02 01", UdhFault.UDHL_OVERRUN),
    ("IE header cut", "01 00", UdhFault.IE_TRUNCATED),
    ("IE header cut after a full IE", "06 00 03 01 02 01 24", UdhFault.IE_TRUNCATED),
    ("IEDL overruns the header", "03 00 05 01", UdhFault.IE_OVERRUN),
    ("IEDL overruns into the body", "05 24 04 01 02 03 04 05", UdhFault.IE_OVERRUN),
    ("concat 8-bit with IEDL 2", "04 00 02 01 02", UdhFault.BAD_IE_LENGTH),
    ("concat 8-bit with IEDL 4", "06 00 04 01 02 01 01", UdhFault.BAD_IE_LENGTH),
    ("concat 16-bit with IEDL 3", "05 08 03 01 02 01", UdhFault.BAD_IE_LENGTH),
    ("ports 8-bit with IEDL 4", "06 04 04 00 01 00 02", UdhFault.BAD_IE_LENGTH),
    ("ports 16-bit with IEDL 2", "04 05 02 01 02", UdhFault.BAD_IE_LENGTH),
    ("concat total 0", "05 00 03 0a 00 01", UdhFault.CONCAT_TOTAL_ZERO),
    ("concat seq 0", "05 00 03 0a 02 00", UdhFault.CONCAT_SEQ_ZERO),
    ("concat seq > total", "05 00 03 0a 02 03", UdhFault.CONCAT_SEQ_BEYOND_TOTAL),
    ("16-bit concat seq > total", "06 08 04 00 0a 02 03", UdhFault.CONCAT_SEQ_BEYOND_TOTAL),
]


@pytest.mark.parametrize(("desc", "hex_bytes", "fault"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_headers_name_the_fault(desc: str, hex_bytes: str, fault: UdhFault) -> None:
    with pytest.raises(UdhError) as info:
        split_udh(bytes.fromhex(hex_bytes))
    assert info.value.fault is fault, desc
    assert str(fault) in str(info.value)
    assert info.value.offset is not None
    assert isinstance(info.value, SmsError)


@pytest.mark.parametrize(
    "hex_bytes",
    [
        "04 00 02 01 02",
        "05 00 03 0a 00 01",
        "05 00 03 0a 02 00",
        "05 00 03 0a 02 03",
        "04 05 02 01 02",
    ],
)
def test_lenient_parse_keeps_invalid_known_ies_raw(hex_bytes: str) -> None:
    # TS 23.040 §9.2.3.24.1: a receiver ignores an invalid concat IE, it does not drop the SMS.
    raw = bytes.fromhex(hex_bytes)
    udh = parse_udh(raw, strict=False)
    assert udh.concat is None
    assert udh.ports is None
    assert len(udh.ies) == 1
    assert isinstance(udh.ies[0], RawIE)
    assert udh.to_bytes() == raw


@pytest.mark.parametrize(
    "hex_bytes",
    ["", "05 00 03 01 02", "01 00", "03 00 05 01"],
    ids=["empty", "udhl", "cut", "iedl"],
)
def test_lenient_parse_still_rejects_structural_faults(hex_bytes: str) -> None:
    with pytest.raises(UdhError):
        split_udh(bytes.fromhex(hex_bytes), strict=False)


def test_parse_udh_rejects_trailing_data() -> None:
    with pytest.raises(UdhError) as info:
        parse_udh(bytes.fromhex("050003010201ff"))
    assert info.value.fault is UdhFault.TRAILING_DATA
    assert info.value.offset == 6


@pytest.mark.parametrize(
    ("build", "fault"),
    [
        (lambda: Concat(256, 2, 1), UdhFault.VALUE_OUT_OF_RANGE),
        (lambda: Concat(65536, 2, 1, 16), UdhFault.VALUE_OUT_OF_RANGE),
        (lambda: Concat(-1, 2, 1), UdhFault.VALUE_OUT_OF_RANGE),
        (lambda: Concat(1, 256, 1), UdhFault.VALUE_OUT_OF_RANGE),
        (lambda: Concat(1, 0, 1), UdhFault.CONCAT_TOTAL_ZERO),
        (lambda: Concat(1, 2, 0), UdhFault.CONCAT_SEQ_ZERO),
        (lambda: Concat(1, 2, 3), UdhFault.CONCAT_SEQ_BEYOND_TOTAL),
        (lambda: Concat(1, 2, 1, 12), UdhFault.VALUE_OUT_OF_RANGE),  # type: ignore[arg-type]
        (lambda: Ports(256, 0, 8), UdhFault.VALUE_OUT_OF_RANGE),
        (lambda: Ports(0, 65536), UdhFault.VALUE_OUT_OF_RANGE),
        (lambda: Ports(0, 0, 32), UdhFault.VALUE_OUT_OF_RANGE),  # type: ignore[arg-type]
        (lambda: RawIE(256, b""), UdhFault.VALUE_OUT_OF_RANGE),
        (lambda: RawIE(0x24, bytes(256)), UdhFault.VALUE_OUT_OF_RANGE),
        (lambda: Udh((RawIE(0x24, bytes(138)),)), UdhFault.TOO_LONG),  # 141 octets
    ],
)
def test_building_invalid_elements_fails(build: Callable[[], object], fault: UdhFault) -> None:
    with pytest.raises(UdhError) as info:
        build()
    assert info.value.fault is fault
    assert info.value.offset is None


def test_largest_header_that_fits() -> None:
    udh = Udh((RawIE(0x24, bytes(137)),))  # 1 + 2 + 137 = 140 octets
    assert udh.length == 140
    assert parse_udh(udh.to_bytes()) == udh
