"""The carrier model's hot-path helpers equal the general functions they stand in for."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from hashlib import blake2b
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.network import CarrierNetwork, NetworkConfig, SubmittedMessage
from simulator.network.config import MessageIdConfig
from simulator.network.fate import FateSource, digest_at, words_at, words_of
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
    words = source.words(label, key)
    assert words_at(source.stream(label), key) == words
    assert words_of(digest_at(source.stream(label), key)) == words


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


def _formula_key(msg: SubmittedMessage, dest: str) -> str:
    """The content key as `simulator.network.fate` documents it (no memoisation)."""
    meta = (
        f"{msg.account}\0{msg.source_addr}\0{msg.source_ton}\0{dest}\0{msg.data_coding}\0"
        f"{msg.esm_class}\0{msg.registered_delivery}\0{msg.validity_s}\0"
        f"{msg.intended_owner}\0{msg.obtained_date}\0"
    )
    return "h:" + blake2b(meta.encode() + msg.short_message, digest_size=12).hexdigest()


_NUMBER = st.sampled_from([0, 1, True, False, 1.0, 0.0])
_MOSTLY_INT = st.sampled_from([0, 1, 0, 1, 0, True, 1.0])


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["acme", "beta"]),
            st.sampled_from(["ACME", "00051234"]),
            _NUMBER,
            st.sampled_from(["09011112222", "09033334444"]),
            _MOSTLY_INT,
            _MOSTLY_INT,
            _MOSTLY_INT,
            st.sampled_from([None, None, 60, 60.0, 3600.5]),
            st.sampled_from([None, "a"]),
            st.sampled_from([None, date(2020, 1, 1), datetime(2020, 1, 1)]),
        ),
        max_size=40,
    )
)
@settings(max_examples=400)
def test_content_keys_follow_the_formula(rows: list[tuple[Any, ...]]) -> None:
    """The memoised key equals the documented formula, whatever came before (1 == 1.0 == True
    are one dict key but three texts)."""
    net = CarrierNetwork(NetworkConfig.model_validate({"population": {"size": 0}}), 1, "k")
    for account, source, ton, dest, coding, esm, rd, validity, owner, obtained in rows:
        msg = SubmittedMessage(
            account, source, dest, b"body", coding, ton, 0, esm, rd, validity,
            intended_owner=owner, obtained_date=obtained,
        )  # fmt: skip
        assert net._base_key(msg, dest) == _formula_key(msg, dest)
