"""sms.receipt: the one-match path for the exact Appendix B layout gives the general parser's
result, for that layout and for near misses (other spacing, case, values with odd characters,
dates out of range), in UTC and in another zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from sms.receipt import (
    Receipt,
    ReceiptError,
    _appendix_b,
    _parse_any,
    format_receipt,
    parse_receipt,
)

CANONICAL = (
    "id:1A2b sub:001 dlvrd:001 submit date:2611241200 done date:2611241201 stat:DELIVRD"
    " err:000 text:Hello world"
)
ZONES = [UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5, minutes=-30))]


def same(text: str, tz: timezone = UTC) -> Receipt | None:
    try:
        expected: Receipt | ReceiptError = _parse_any(text, tz)
    except ReceiptError as exc:
        expected = exc
    try:
        got: Receipt | ReceiptError = parse_receipt(text, tz=tz)
    except ReceiptError as exc:
        got = exc
    if isinstance(expected, ReceiptError):
        assert type(got) is type(expected)
        return None
    assert got == expected
    assert isinstance(got, Receipt)
    assert got.state == expected.state
    return got


def test_the_exact_layout_takes_the_fast_path() -> None:
    for tz in ZONES:
        assert _appendix_b(CANONICAL, tz) is not None
        receipt = same(CANONICAL, tz)
        assert receipt is not None
        assert receipt.done_date == datetime(2026, 11, 24, 12, 1, tzinfo=tz)
        assert receipt.text == "Hello world"


def test_near_misses_agree() -> None:
    variants = [
        CANONICAL.replace("id:", "ID:"),
        CANONICAL.replace(" sub:", "  sub:"),
        CANONICAL.replace("submit date", "submit_date"),
        CANONICAL.replace("2611241200", "2613241200"),  # month 13: no date
        CANONICAL.replace("2611241200", "261124120030"),  # with seconds
        CANONICAL.replace("2611241200", "26112412"),
        CANONICAL.replace("sub:001", "sub:٠٠١"),  # Arabic-Indic digits are not counts
        CANONICAL.replace("stat:DELIVRD", "stat:delivrd"),
        CANONICAL.replace("stat:DELIVRD", "stat:text:x"),
        CANONICAL.replace("err:000", "err:000 id:9"),
        CANONICAL.replace("text:Hello world", "text:id:7 stat:UNDELIV"),
        CANONICAL.replace("id:1A2b", "id:1A\u00a02b"),  # a no-break space ends the id
        CANONICAL.replace("id:1A2b", "id:"),
        CANONICAL + "\nsecond line",
        "x " + CANONICAL,
    ]
    for text in variants:
        for tz in ZONES:
            same(text, tz)


TOKEN = st.text(
    alphabet=st.sampled_from("0123456789aZ:_ \u00a0\t٠-DELIVRD"), min_size=0, max_size=12
)


@settings(max_examples=400, deadline=None)
@given(
    values=st.lists(TOKEN, min_size=8, max_size=8),
    zone=st.sampled_from(ZONES),
)
def test_fuzzed_layouts_agree(values: list[str], zone: timezone) -> None:
    keys = ["id", "sub", "dlvrd", "submit date", "done date", "stat", "err", "text"]
    text = " ".join(f"{key}:{value}" for key, value in zip(keys, values, strict=True))
    same(text, zone)


@settings(max_examples=200, deadline=None)
@given(
    message_id=st.text(alphabet="0123456789abcdefXYZ", min_size=1, max_size=20),
    sub=st.integers(0, 999),
    minute=st.integers(0, 50_000_000),
    stat=st.sampled_from(["DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "WEIRD"]),
    err=st.sampled_from(["000", "001", "0x1", "abc"]),
    body=st.text(max_size=20),
)
def test_formatted_receipts_round_trip_through_the_fast_path(
    message_id: str, sub: int, minute: int, stat: str, err: str, body: str
) -> None:
    when = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(minutes=minute)
    receipt = Receipt(message_id, sub, sub, when, when, stat, err, body)
    text = format_receipt(receipt)
    assert _appendix_b(text, UTC) is not None
    assert parse_receipt(text) == receipt == _parse_any(text, UTC)
