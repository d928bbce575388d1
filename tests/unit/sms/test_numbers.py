"""Table-driven tests for sms.numbers: every accepted spelling and every rejection reason."""

from __future__ import annotations

import pickle

import pytest

from sms.errors import SmsError
from sms.numbers import (
    InvalidNumber,
    InvalidSender,
    Msisdn,
    Npi,
    NumberError,
    NumberKind,
    NumberRejection,
    SenderKind,
    SenderRejection,
    SmppAddress,
    Ton,
    classify_sender,
    parse_msisdn,
    sender_address,
    to_smpp_address,
    try_parse,
)

MOBILE = Msisdn("+819012345678", "09012345678", "JP", NumberKind.MOBILE)

# (description, raw) -> all normalise to MOBILE
ACCEPTED_SPELLINGS = [
    ("plain national", "09012345678"),
    ("hyphens", "090-1234-5678"),
    ("spaces", "090 1234 5678"),
    ("dots", "090.1234.5678"),
    ("parentheses", "(090) 1234-5678"),
    ("surrounding whitespace", "  09012345678\t"),
    ("full-width digits and hyphens", "０９０－１２３４－５６７８"),
    ("full-width digits, no separators", "０９０１２３４５６７８"),
    ("katakana long vowel mark as hyphen", "090ー1234ー5678"),
    ("unicode minus and en dash", "090\u22121234\u20135678"),
    ("ideographic space", "090\u30001234\u30005678"),
    ("E.164", "+819012345678"),
    ("E.164 spaced", "+81 90 1234 5678"),
    ("E.164 hyphenated", "+81-90-1234-5678"),
    ("E.164 with (0) trunk", "+81 (0)90-1234-5678"),
    ("E.164 with trunk 0 kept", "+81090-1234-5678"),
    ("E.164 in parentheses", "(+81) 90-1234-5678"),
    ("full-width plus", "＋８１９０１２３４５６７８"),
    ("E.164 without plus", "819012345678"),
    ("ITU international prefix", "0081-90-1234-5678"),
    ("ITU prefix, no separators", "00819012345678"),
    ("JP international prefix 010", "010-81-90-1234-5678"),
]


@pytest.mark.parametrize(
    ("desc", "raw"), ACCEPTED_SPELLINGS, ids=[d for d, _ in ACCEPTED_SPELLINGS]
)
def test_accepted_spellings_normalise_to_one_number(desc: str, raw: str) -> None:
    assert parse_msisdn(raw) == MOBILE


@pytest.mark.parametrize(
    ("raw", "e164", "national"),
    [
        ("070-1234-5678", "+817012345678", "07012345678"),
        ("080-9999-0000", "+818099990000", "08099990000"),
        ("090-1000-0000", "+819010000000", "09010000000"),
    ],
)
def test_each_mobile_prefix(raw: str, e164: str, national: str) -> None:
    m = parse_msisdn(raw)
    assert (m.e164, m.national, m.country, m.kind) == (e164, national, "JP", NumberKind.MOBILE)
    assert str(m) == e164
    assert m.digits == e164[1:]


# (raw, kwargs, reason)
REJECTIONS: list[tuple[str, dict[str, bool], NumberRejection]] = [
    ("", {}, NumberRejection.EMPTY),
    ("   ", {}, NumberRejection.EMPTY),
    ("---", {}, NumberRejection.EMPTY),
    ("+", {}, NumberRejection.EMPTY),
    ("090-1234-567a", {}, NumberRejection.NON_DIGIT),
    ("tel:09012345678", {}, NumberRejection.NON_DIGIT),
    ("090+12345678", {}, NumberRejection.NON_DIGIT),
    ("٠٩٠١٢٣٤٥٦٧٨", {}, NumberRejection.NON_DIGIT),  # Arabic-Indic digits are not folded
    ("0", {}, NumberRejection.TOO_SHORT),
    ("090", {}, NumberRejection.TOO_SHORT),
    ("090-1234-567", {}, NumberRejection.TOO_SHORT),
    ("+81 90 1234 567", {}, NumberRejection.TOO_SHORT),
    ("03-1234-567", {}, NumberRejection.TOO_SHORT),
    ("00", {}, NumberRejection.TOO_SHORT),
    ("+4479111", {}, NumberRejection.TOO_SHORT),
    ("090-1234-56789", {}, NumberRejection.TOO_LONG),
    ("03-1234-56789", {}, NumberRejection.TOO_LONG),
    ("+1234567890123456", {}, NumberRejection.TOO_LONG),
    ("0" * 65, {}, NumberRejection.TOO_LONG),
    ("090-0123-4567", {}, NumberRejection.BAD_PREFIX),  # C = 0 is not allocated
    ("070-0123-4567", {}, NumberRejection.BAD_PREFIX),
    ("030-1234-5678", {}, NumberRejection.BAD_PREFIX),  # 030 not allocated
    ("+0123456789", {}, NumberRejection.BAD_PREFIX),  # country code 0
    ("1234567890", {}, NumberRejection.BAD_PREFIX),  # no 0, no +81, not a lost-zero mobile
    ("9012345678", {}, NumberRejection.LEADING_ZERO_LOST),
    ("80-1234-5678", {}, NumberRejection.LEADING_ZERO_LOST),
    ("03-1234-5678", {}, NumberRejection.LANDLINE),
    ("011-123-4567", {}, NumberRejection.LANDLINE),
    ("06-1234-5678", {}, NumberRejection.LANDLINE),  # Osaka, not the 060 range
    ("+81 3 1234 5678", {}, NumberRejection.LANDLINE),
    ("050-1234-5678", {}, NumberRejection.NOT_MOBILE),  # IP phone
    ("0204-123-4567", {}, NumberRejection.NOT_MOBILE),  # pager
    ("0600-123-4567", {}, NumberRejection.NOT_MOBILE),  # FMC
    ("0120-123-456", {}, NumberRejection.NOT_MOBILE),  # freephone
    ("0800-123-4567", {}, NumberRejection.NOT_MOBILE),
    ("0570-123-456", {}, NumberRejection.NOT_MOBILE),
    ("0990-123-456", {}, NumberRejection.NOT_MOBILE),
    ("020-1234-5678", {}, NumberRejection.M2M),
    ("0200-1234-5678-90", {}, NumberRejection.M2M),
    ("+81 20 1234 5678", {}, NumberRejection.M2M),
    ("060-1234-5678", {}, NumberRejection.PREFIX_NOT_ENABLED),
    ("+81 60 1234 5678", {}, NumberRejection.PREFIX_NOT_ENABLED),
    ("050-1234-5678", {"allow_m2m": True, "allow_060": True}, NumberRejection.NOT_MOBILE),
    ("0200-1234-567", {"allow_m2m": True}, NumberRejection.TOO_SHORT),
]


@pytest.mark.parametrize(("raw", "kwargs", "reason"), REJECTIONS)
def test_rejection_reasons(raw: str, kwargs: dict[str, bool], reason: NumberRejection) -> None:
    flags = {"allow_060": False, "allow_m2m": False} | kwargs
    with pytest.raises(InvalidNumber) as info:
        parse_msisdn(raw, allow_060=flags["allow_060"], allow_m2m=flags["allow_m2m"])
    assert info.value.reason is reason
    assert info.value.raw == raw
    assert reason.value in str(info.value)


def test_every_rejection_reason_is_covered_by_the_table() -> None:
    assert {reason for _, _, reason in REJECTIONS} == set(NumberRejection)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("03-1234-5678", "+81312345678"),
        ("050-1234-5678", "+815012345678"),
        ("020-1234-5678", "+812012345678"),
        ("060-1234-5678", "+816012345678"),
    ],
)
def test_policy_rejections_carry_the_normalised_number(raw: str, e164: str) -> None:
    result = try_parse(raw)
    assert isinstance(result, InvalidNumber)
    assert result.e164 == e164


def test_syntax_rejections_carry_no_normalised_number() -> None:
    result = try_parse("090-1234")
    assert isinstance(result, InvalidNumber)
    assert result.e164 is None


def test_060_behind_flag() -> None:
    m = parse_msisdn("060-1234-5678", allow_060=True)
    assert m == Msisdn("+816012345678", "06012345678", "JP", NumberKind.MOBILE)


@pytest.mark.parametrize(
    ("raw", "e164", "national"),
    [
        ("020-1234-5678", "+812012345678", "02012345678"),
        ("0200-1234-5678-90", "+812001234567890", "02001234567890"),
    ],
)
def test_m2m_behind_flag(raw: str, e164: str, national: str) -> None:
    assert parse_msisdn(raw, allow_m2m=True) == Msisdn(e164, national, "JP", NumberKind.M2M)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+44 7911 123456", "+447911123456"),
        ("0044 7911 123456", "+447911123456"),
        ("+1 (415) 555-2671", "+14155552671"),
        ("010-1-415-555-2671", "+14155552671"),
        ("+12345678", "+12345678"),  # 8 digits: the E.164 minimum here
        ("+123456789012345", "+123456789012345"),  # 15 digits
    ],
)
def test_international(raw: str, e164: str) -> None:
    assert parse_msisdn(raw) == Msisdn(e164, None, None, NumberKind.INTERNATIONAL)


def test_without_default_country_digits_are_e164() -> None:
    assert parse_msisdn("447911123456", default_country=None).e164 == "+447911123456"
    assert parse_msisdn("819012345678", default_country=None) == MOBILE
    with pytest.raises(InvalidNumber) as info:
        parse_msisdn("09012345678", default_country=None)
    assert info.value.reason is NumberRejection.BAD_PREFIX


def test_unsupported_default_country_is_an_argument_error() -> None:
    with pytest.raises(NumberError):
        parse_msisdn("09012345678", default_country="US")


def test_try_parse_returns_instead_of_raising() -> None:
    assert try_parse("090-1234-5678") == MOBILE
    rows = ["090-1234-5678", "03-1234-5678", "", "abc", "020-1234-5678"]
    reasons = [r.reason if isinstance(r, InvalidNumber) else None for r in map(try_parse, rows)]
    assert reasons == [
        None,
        NumberRejection.LANDLINE,
        NumberRejection.EMPTY,
        NumberRejection.NON_DIGIT,
        NumberRejection.M2M,
    ]


def test_errors_are_sms_errors_and_value_errors_and_pickle() -> None:
    err = try_parse("03-1234-5678")
    assert isinstance(err, InvalidNumber)
    assert isinstance(err, SmsError)
    assert isinstance(err, ValueError)
    back = pickle.loads(pickle.dumps(err))
    assert (back.reason, back.raw, back.detail, back.e164) == (
        err.reason,
        err.raw,
        err.detail,
        err.e164,
    )


@pytest.mark.parametrize(
    ("e164", "national", "country"),
    [
        ("819012345678", None, None),  # no '+'
        ("+0123456789", None, None),
        ("+819012345678", "09099999999", "JP"),  # disagreeing national form
        ("+447911123456", "07911123456", None),  # national form outside JP
    ],
)
def test_msisdn_constructor_checks_consistency(
    e164: str, national: str | None, country: str | None
) -> None:
    with pytest.raises(NumberError):
        Msisdn(e164, national, country, NumberKind.MOBILE)


def test_to_smpp_address() -> None:
    assert to_smpp_address(MOBILE) == SmppAddress(Ton.INTERNATIONAL, Npi.ISDN, "819012345678")
    assert to_smpp_address(MOBILE) == (1, 1, "819012345678")
    assert to_smpp_address(MOBILE, national=True) == (Ton.NATIONAL, Npi.ISDN, "09012345678")
    uk = parse_msisdn("+447911123456")
    assert to_smpp_address(uk, national=True) == (1, 1, "447911123456")


# (sender, kind, (ton, npi, addr))
SENDERS: list[tuple[str, SenderKind, tuple[int, int, str]]] = [
    ("NTT DOCOMO", SenderKind.ALPHANUMERIC, (5, 0, "NTT DOCOMO")),
    ("A", SenderKind.ALPHANUMERIC, (5, 0, "A")),
    ("Bank1234567", SenderKind.ALPHANUMERIC, (5, 0, "Bank1234567")),
    (" Pay ", SenderKind.ALPHANUMERIC, (5, 0, " Pay ")),  # never trimmed: thread key
    ("123", SenderKind.SHORT_CODE, (3, 0, "123")),
    ("00051234", SenderKind.SHORT_CODE, (3, 0, "00051234")),
    ("0005123456", SenderKind.SHORT_CODE, (3, 0, "0005123456")),
    ("09012345678", SenderKind.NATIONAL, (2, 1, "09012345678")),
    ("819012345678", SenderKind.INTERNATIONAL, (1, 1, "819012345678")),
    ("+819012345678", SenderKind.INTERNATIONAL, (1, 1, "819012345678")),
    ("+1", SenderKind.INTERNATIONAL, (1, 1, "1")),
    ("123456789012345", SenderKind.INTERNATIONAL, (1, 1, "123456789012345")),
]


@pytest.mark.parametrize(("text", "kind", "address"), SENDERS)
def test_sender_classification(text: str, kind: SenderKind, address: tuple[int, int, str]) -> None:
    assert classify_sender(text) is kind
    assert sender_address(text) == address


SENDER_REJECTIONS: list[tuple[str, SenderRejection]] = [
    ("", SenderRejection.EMPTY),
    ("+", SenderRejection.TOO_SHORT),
    ("12", SenderRejection.TOO_SHORT),
    ("Bank12345678", SenderRejection.TOO_LONG),
    ("1234567890123456", SenderRejection.TOO_LONG),
    ("+1234567890123456", SenderRejection.TOO_LONG),
    ("ドコモ", SenderRejection.BAD_CHAR),
    ("ＤＯＣＯＭＯ", SenderRejection.BAD_CHAR),  # full-width letters are not folded
    ("A.B", SenderRejection.BAD_CHAR),
    ("+81-90", SenderRejection.BAD_CHAR),
    ("+0123", SenderRejection.BAD_CHAR),
    ("12 34", SenderRejection.NO_LETTER),
    ("   ", SenderRejection.NO_LETTER),
]


@pytest.mark.parametrize(("text", "reason"), SENDER_REJECTIONS)
def test_sender_rejections(text: str, reason: SenderRejection) -> None:
    with pytest.raises(InvalidSender) as info:
        classify_sender(text)
    assert info.value.reason is reason
    assert info.value.text == text


def test_every_sender_rejection_is_covered() -> None:
    assert {reason for _, reason in SENDER_REJECTIONS} == set(SenderRejection)


def test_uk_punctuation_mode() -> None:
    assert classify_sender("A.B&C_D-E", uk_punctuation=True) is SenderKind.ALPHANUMERIC
    with pytest.raises(InvalidSender):
        classify_sender("A!B", uk_punctuation=True)


def test_bad_char_wins_over_length() -> None:
    with pytest.raises(InvalidSender) as info:
        classify_sender("ドコモからのお知らせです")
    assert info.value.reason is SenderRejection.BAD_CHAR
