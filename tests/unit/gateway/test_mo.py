"""gateway.mo: raw deliver_sm user data, handset normalisation, opt-out keywords."""

from __future__ import annotations

import struct

import pytest

from gateway.config import MoConfig, NumbersConfig
from gateway.mo import _fold, is_opt_out, normalise_handset, read_user_data


def deliver_sm(
    short_message: bytes,
    *,
    esm_class: int = 0,
    data_coding: int = 0,
    tlvs: dict[int, bytes] | None = None,
) -> bytes:
    body = (
        b"\x00"
        + bytes([1, 1])
        + b"819012345678\x00"
        + bytes([0, 0])
        + b"12345\x00"
        + bytes([esm_class, 0, 0])
        + b"\x00\x00"
        + bytes([0, 0, data_coding, 0, len(short_message)])
        + short_message
    )
    for tag, value in (tlvs or {}).items():
        body += struct.pack(">HH", tag, len(value)) + value
    return struct.pack(">IIII", 16 + len(body), 0x00000005, 0, 7) + body


def test_read_user_data_keeps_the_udh_and_the_octets() -> None:
    udh = bytes([5, 0, 3, 9, 2, 1])
    data = read_user_data(deliver_sm(udh + b"\x00\x41", esm_class=0x40, data_coding=8))
    assert (data.source, data.source_ton, data.destination) == ("819012345678", 1, "12345")
    assert data.short_message == udh + b"\x00\x41"
    assert (data.esm_class, data.data_coding) == (0x40, 8)
    assert data.sar is None
    assert data.message_payload is None


def test_read_user_data_sar_and_payload() -> None:
    pdu = deliver_sm(
        b"",
        tlvs={0x020C: b"\x01\x02", 0x020E: b"\x03", 0x020F: b"\x02", 0x0424: b"hello"},
    )
    data = read_user_data(pdu)
    assert data.sar == (0x0102, 3, 2)
    assert data.message_payload == b"hello"


def test_read_user_data_refuses_truncated_bodies() -> None:
    pdu = deliver_sm(b"hello")
    with pytest.raises(ValueError, match=r"truncated|runs past"):
        read_user_data(pdu[:-3])
    with pytest.raises(ValueError):
        read_user_data(pdu[:20])


KEYWORDS = frozenset(_fold(k) for k in MoConfig().stop_keywords)


@pytest.mark.parametrize(
    ("text", "stop"),
    [
        ("STOP", True),
        ("stop", True),
        (" Stop. ", True),
        ("ＳＴＯＰ", True),
        ("停止", True),
        ("配信停止", True),
        ("STOP please", True),
        ("please stop", False),
        ("STOPPED", False),
        ("", False),
    ],
)
def test_opt_out_keywords(text: str, stop: bool) -> None:
    assert is_opt_out(text, KEYWORDS) is stop


def test_handsets_are_normalised_like_destinations() -> None:
    numbers = NumbersConfig()
    assert normalise_handset("819012345678", 1, numbers) == "+819012345678"
    assert normalise_handset("09012345678", 2, numbers) == "+819012345678"
    assert normalise_handset("12345", 3, numbers) == "12345"
