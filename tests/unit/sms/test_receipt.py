"""Tests for sms.receipt: golden texts written by hand, carrier variations, id rules."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from sms.errors import SmsError
from sms.receipt import (
    ID_CASEFOLD,
    ID_EXACT,
    ID_HEX_TO_DECIMAL,
    ID_NUMERIC_DECIMAL,
    ID_NUMERIC_HEX,
    STAT_BY_STATE,
    IdBase,
    IdRule,
    IdSide,
    MessageState,
    Receipt,
    ReceiptError,
    ReceiptParseError,
    format_receipt,
    ids_match,
    normalize_id,
    parse_receipt,
    stat_for_state,
    state_for_stat,
)

JST = timezone(timedelta(hours=9))

MESSAGE = "ご利用料金のお支払いが確認できておりません。お手続きをお願いします。"

# Written by hand from SMPP 3.4 Appendix B (not produced by format_receipt): the text field
# holds the first 20 characters of MESSAGE.
GOLDEN = (
    "id:0123456789 sub:001 dlvrd:001 submit date:2601150930 done date:2601150931 "
    "stat:DELIVRD err:000 text:ご利用料金のお支払いが確認できておりませ"
)
GOLDEN_RECEIPT = Receipt(
    message_id="0123456789",
    sub=1,
    dlvrd=1,
    submit_date=datetime(2026, 1, 15, 9, 30, tzinfo=UTC),
    done_date=datetime(2026, 1, 15, 9, 31, tzinfo=UTC),
    stat="DELIVRD",
    err="000",
    text="ご利用料金のお支払いが確認できておりませ",
)


def test_golden_format_cuts_text_to_20_characters() -> None:
    assert format_receipt(dataclasses.replace(GOLDEN_RECEIPT, text=MESSAGE)) == GOLDEN
    assert format_receipt(GOLDEN_RECEIPT) == GOLDEN


def test_golden_parse() -> None:
    parsed = parse_receipt(GOLDEN)
    assert parsed == GOLDEN_RECEIPT
    assert parsed.state is MessageState.DELIVERED


def test_parse_keeps_long_text_verbatim() -> None:
    assert parse_receipt("id:1 text:" + MESSAGE).text == MESSAGE


def test_golden_in_jst() -> None:
    # The same wall-clock text read as JST is nine hours earlier in UTC.
    parsed = parse_receipt(GOLDEN, tz=JST)
    assert parsed.submit_date == datetime(2026, 1, 15, 0, 30, tzinfo=UTC)
    assert format_receipt(parsed, tz=JST) == GOLDEN
    assert "submit date:2601150030 done date:2601150031" in format_receipt(parsed, tz=UTC)


def test_format_pads_and_omits() -> None:
    r = Receipt("7", sub=1, dlvrd=0, stat="UNDELIV", err="1", text="")
    assert format_receipt(r) == "id:7 sub:001 dlvrd:000 stat:UNDELIV err:001 text:"
    assert format_receipt(Receipt("x")) == "id:x text:"


def test_format_with_seconds() -> None:
    when = datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC)
    r = Receipt("1", submit_date=when, done_date=when, stat="DELIVRD", err="000")
    text = format_receipt(r, seconds=True)
    assert "submit date:260301235958 done date:260301235958" in text
    assert parse_receipt(text) == r


def test_format_refuses_years_outside_20yy() -> None:
    with pytest.raises(ReceiptError):
        format_receipt(Receipt("1", submit_date=datetime(1999, 12, 31, tzinfo=UTC)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "ID:abc SUB:001 DLVRD:001 SUBMIT DATE:2601010900 DONE DATE:2601010901 "
            "STAT:DELIVRD ERR:000 TEXT:Hi",
            {"message_id": "abc", "sub": 1, "dlvrd": 1, "stat": "DELIVRD", "text": "Hi"},
        ),
        (
            "id: abc  sub : 001 dlvrd:001   stat:  DELIVRD err:000 Text:Hi",
            {"message_id": "abc", "sub": 1, "stat": "DELIVRD", "err": "000", "text": "Hi"},
        ),
        (
            "stat:EXPIRED err:027 id:42 dlvrd:000 sub:001 text:late",
            {"message_id": "42", "stat": "EXPIRED", "err": "027", "sub": 1, "dlvrd": 0},
        ),
        (
            "id:42 submit_date:2601010900 submitdate:9999999999 donedate:260101090130",
            {
                "submit_date": datetime(2026, 1, 1, 9, 0, tzinfo=UTC),
                "done_date": datetime(2026, 1, 1, 9, 1, 30, tzinfo=UTC),
            },
        ),
        ("id:42", {"sub": None, "stat": "", "err": "", "text": "", "done_date": None}),
        (
            "id:42 sub:abc dlvrd:-1 submit date:2613011200 done date:000000000000 stat:DELIVRD",
            {"sub": None, "dlvrd": None, "submit_date": None, "done_date": None},
        ),
        ("id:42 stat:delivrd", {"stat": "delivrd", "state": MessageState.DELIVERED}),
        ("id:42 stat:FAILED err:x1", {"stat": "FAILED", "state": MessageState.UNKNOWN}),
        ("id:42 stat:UNDELIVERABLE", {"state": MessageState.UNDELIVERABLE}),
        ("id:42 err: text:stat:DELIVRD", {"err": "", "stat": "", "text": "stat:DELIVRD"}),
        ("id:42 mccmnc:44010 err:000 foo:bar text:x", {"err": "000", "text": "x"}),
        ("id:1 id:2 text:a", {"message_id": "1"}),
        ("id:x:y text:", {"message_id": "x:y"}),
    ],
)
def test_parse_variations(text: str, expected: dict[str, object]) -> None:
    receipt = parse_receipt(text)
    for name, value in expected.items():
        assert getattr(receipt, name) == value, name


def test_parse_openmarket_style_receipt() -> None:
    # A real-world layout: no space in the date keys, 12-digit dates, an all-zero done date.
    text = (
        "id:0118Z-0122I-2309U-57DGB sub:000 dlvrd:000 submitdate:180122230957 "
        "donedate:000000000000 stat:REJECTD err:375 text:"
    )
    r = parse_receipt(text)
    assert r.message_id == "0118Z-0122I-2309U-57DGB"
    assert r.submit_date == datetime(2018, 1, 22, 23, 9, 57, tzinfo=UTC)
    assert r.done_date is None
    assert (r.state, r.err_code) == (MessageState.REJECTED, 375)


@pytest.mark.parametrize("text", ["", "sub:001 stat:DELIVRD", "id: text:x", "bid:5 text:x"])
def test_parse_error_only_without_id(text: str) -> None:
    with pytest.raises(ReceiptParseError) as info:
        parse_receipt(text)
    assert info.value.text == text
    assert isinstance(info.value, SmsError)


def test_stat_state_tables() -> None:
    assert {state: stat_for_state(state) for state in MessageState} == STAT_BY_STATE
    for state, stat in STAT_BY_STATE.items():
        assert state_for_stat(stat) is state
        assert state_for_stat(stat.lower()) is state
    assert [int(s) for s in MessageState] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert state_for_stat("") is MessageState.UNKNOWN
    assert state_for_stat("SENT") is MessageState.UNKNOWN


def test_state_is_derived_from_stat() -> None:
    r = Receipt("1", stat="DELIVRD")
    assert r.state is MessageState.DELIVERED
    assert dataclasses.replace(r, stat="REJECTD").state is MessageState.REJECTED


@pytest.mark.parametrize(
    "kwargs",
    [
        {"message_id": ""},
        {"message_id": "a b"},
        {"message_id": "1", "sub": -1},
        {"message_id": "1", "dlvrd": -5},
        {"message_id": "1", "submit_date": datetime(2026, 1, 1)},  # naive
        {"message_id": "1", "stat": "DELIV RD"},
        {"message_id": "1", "err": "0 0"},
    ],
)
def test_receipt_constructor_validates(kwargs: dict[str, object]) -> None:
    with pytest.raises(ReceiptError):
        Receipt(**kwargs)  # type: ignore[arg-type]


def test_err_code() -> None:
    assert Receipt("1", err="027").err_code == 27
    assert Receipt("1", err="x1").err_code is None
    assert Receipt("1").err_code is None


# --- message ids ------------------------------------------------------------------------


# (resp id, receipt id, rule, match?)
ID_CASES: list[tuple[str, str, IdRule, bool]] = [
    ("abc", "abc", ID_EXACT, True),
    ("abc", "ABC", ID_EXACT, False),
    ("abc", "ABC", ID_CASEFOLD, True),
    ("0042", "42", ID_EXACT, False),
    ("0042", "42", IdRule(strip_zeros=True), True),
    ("000", "0", IdRule(strip_zeros=True), True),
    ("0042", "42", ID_NUMERIC_DECIMAL, True),
    ("0A1B", "2587", ID_HEX_TO_DECIMAL, True),  # the motivating carrier
    ("0a1b", "2587", ID_HEX_TO_DECIMAL, True),
    ("0x0A1B", "2587", ID_HEX_TO_DECIMAL, True),
    ("2587", "0A1B", ID_HEX_TO_DECIMAL, False),  # sides are not interchangeable
    ("123", "123", ID_HEX_TO_DECIMAL, False),  # "123" hex = 291, never guessed
    ("123", "291", ID_HEX_TO_DECIMAL, True),
    ("123", "123", ID_NUMERIC_HEX, True),
    ("00ff", "FF", ID_NUMERIC_HEX, True),
    ("7B", "123", IdRule(IdBase.AUTO, IdBase.DECIMAL), True),  # letters -> hex
    ("123", "123", IdRule(IdBase.AUTO, IdBase.DECIMAL), True),  # digits -> decimal
    ("msg-1", "msg-1", ID_NUMERIC_DECIMAL, True),  # not a number: text fallback
    ("MSG-1", "msg-1", ID_NUMERIC_DECIMAL, False),
    ("MSG-1", "msg-1", IdRule(IdBase.DECIMAL, IdBase.DECIMAL, casefold=True), True),
    (" 42 ", "42", ID_EXACT, True),  # surrounding whitespace never counts
    ("", "", ID_EXACT, False),  # empty ids never match
    ("1_000", "1000", ID_NUMERIC_DECIMAL, False),  # int() syntax is not accepted
    ("+12", "12", ID_NUMERIC_DECIMAL, False),
    ("١٢", "12", ID_NUMERIC_DECIMAL, False),  # non-ASCII digits are not numbers here
]


@pytest.mark.parametrize(("resp", "receipt", "rule", "match"), ID_CASES)
def test_ids_match(resp: str, receipt: str, rule: IdRule, match: bool) -> None:
    assert ids_match(resp, receipt, rule) is match
    assert ids_match(receipt, resp, rule.swapped()) is match


def test_normalize_id_canonical_forms() -> None:
    assert normalize_id("0A1B", ID_HEX_TO_DECIMAL, side=IdSide.RESP) == "2587"
    assert normalize_id("0A1B", ID_HEX_TO_DECIMAL, side=IdSide.RECEIPT) == "0A1B"
    assert normalize_id("0042", ID_NUMERIC_DECIMAL) == "42"
    assert normalize_id("0000", ID_NUMERIC_DECIMAL) == "0"
    assert normalize_id("00Ab", IdRule(casefold=True, strip_zeros=True)) == "ab"
    long_id = "1" * 65
    assert normalize_id(long_id, ID_NUMERIC_DECIMAL) == long_id  # compared as text


@pytest.mark.parametrize(
    ("msg_id_type", "rule"),
    [
        (None, ID_EXACT),
        (0x00, ID_NUMERIC_DECIMAL),
        (0x01, ID_HEX_TO_DECIMAL),
        (0x02, IdRule(IdBase.DECIMAL, IdBase.HEX)),
        (0x03, ID_NUMERIC_HEX),
    ],
)
def test_kannel_msg_id_type(msg_id_type: int | None, rule: IdRule) -> None:
    assert IdRule.from_kannel(msg_id_type) == rule


def test_bad_rules() -> None:
    with pytest.raises(ReceiptError):
        IdRule.from_kannel(4)
    with pytest.raises(ReceiptError):
        IdRule(IdBase.TEXT, IdBase.HEX)
