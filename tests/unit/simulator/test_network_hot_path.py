"""The carrier model's hot-path helpers equal the general functions they stand in for."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.network.config import MessageIdConfig
from simulator.network.fate import FateSource, words_at
from simulator.network.receipts import ReceiptWriter, format_id, id_formatter
from sms.receipt import ReceiptError


@given(
    fmt=st.sampled_from(["hex", "decimal"]),
    width=st.integers(1, 64),
    uppercase=st.booleans(),
    prefix=st.sampled_from(["", "SIM-", "{x}", "}{", "a{0}b"]),
    number=st.integers(0, 2**70),
)
def test_id_formatter_is_format_id(
    fmt: str, width: int, uppercase: bool, prefix: str, number: int
) -> None:
    cfg = MessageIdConfig.model_validate(
        {"format": fmt, "width": width, "uppercase": uppercase, "prefix": prefix}
    )
    assert id_formatter(cfg)(number) == format_id(number, cfg)


@given(seed=st.integers(0, 2**64), scenario=st.text(max_size=8), label=st.text(max_size=8),
       key=st.text(max_size=40))  # fmt: skip
def test_words_at_is_words(seed: int, scenario: str, label: str, key: str) -> None:
    source = FateSource(seed, scenario)
    assert words_at(source.stream(label), key) == source.words(label, key)


@settings(max_examples=300)
@given(
    minute=st.integers(-10_000_000, 80_000_000),
    zone=st.sampled_from(
        ["UTC", "Asia/Tokyo", "Europe/London", "America/St_Johns", "Asia/Kathmandu"]
    ),
    seconds=st.booleans(),
)
def test_receipt_dates_are_format_receipts(minute: int, zone: str, seconds: bool) -> None:
    """`ReceiptWriter` writes each date exactly as `format_receipt` does (or refuses it)."""
    tz = zoneinfo.ZoneInfo(zone)
    writer = ReceiptWriter(tz, seconds)
    unit = 1 if seconds else 60
    when = datetime.fromtimestamp(minute * unit, tz)
    try:
        expected: str | None = writer._date_text(when)
    except ReceiptError:
        expected = None
    try:
        got: str | None = writer._date(minute)
    except ReceiptError:
        got = None
    assert got == expected
