"""Properties of sms.numbers and sms.receipt.

numbers: parsing is total (a number or an InvalidNumber, never another exception), the
canonical form is a fixed point, and any spelling of a valid JP mobile gives one e164.
receipt: format -> parse is the identity within the documented limits; parsing is immune to
key case, spacing and field order; ids_match is symmetric once the sides are swapped.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import TypedDict

from hypothesis import assume, given
from hypothesis import strategies as st

from sms.numbers import InvalidNumber, Msisdn, NumberKind, parse_msisdn, try_parse
from sms.receipt import (
    STAT_BY_STATE,
    IdBase,
    IdRule,
    Receipt,
    format_receipt,
    ids_match,
    normalize_id,
    parse_receipt,
)

# --- numbers -----------------------------------------------------------------------------

FULL_WIDTH = {chr(c): chr(c + 0xFEE0) for c in range(ord("0"), ord("9") + 1)} | {
    "+": "＋",
    "-": "－",
    "(": "（",
    ")": "）",
}
SEPARATORS = ["", "", "", " ", "-", ".", "－", "ー", "\u2212", "  "]


class Flags(TypedDict):
    allow_060: bool
    allow_m2m: bool


flags = st.builds(Flags, allow_060=st.booleans(), allow_m2m=st.booleans())


@st.composite
def jp_mobile_nsn(draw: st.DrawFn, allow_060: bool = False) -> str:
    """A national significant number (no trunk 0) of a valid JP mobile."""
    first = draw(st.sampled_from(["6", "7", "8", "9"] if allow_060 else ["7", "8", "9"]))
    c = draw(st.sampled_from("123456789"))
    rest = draw(st.text(alphabet="0123456789", min_size=7, max_size=7))
    return f"{first}0{c}{rest}"


@st.composite
def spelled(draw: st.DrawFn, nsn: str) -> str:
    """`nsn` written the way people and spreadsheets write numbers."""
    prefix = draw(
        st.sampled_from(["0", "+81", "+81 ", "+81-", "0081", "0081 ", "81", "+81(0)", "010-81-"])
    )
    out = [prefix]
    for digit in nsn:
        out.append(draw(st.sampled_from(SEPARATORS)))
        out.append(digit)
    text = "".join(out)
    if draw(st.booleans()):
        text = "".join(FULL_WIDTH.get(ch, ch) if draw(st.booleans()) else ch for ch in text)
    pad = draw(st.sampled_from(["", " ", "\t", "\u3000"]))
    return pad + text + pad


@given(data=st.data(), allow_060=st.booleans())
def test_any_spelling_of_a_jp_mobile_gives_one_e164(data: st.DataObject, allow_060: bool) -> None:
    nsn = data.draw(jp_mobile_nsn(allow_060=allow_060))
    raw = data.draw(spelled(nsn))
    m = parse_msisdn(raw, allow_060=allow_060)
    assert m == Msisdn("+81" + nsn, "0" + nsn, "JP", NumberKind.MOBILE)


@given(raw=st.text(max_size=40), kw=flags)
def test_parsing_is_total(raw: str, kw: Flags) -> None:
    result = try_parse(raw, **kw)
    assert isinstance(result, Msisdn | InvalidNumber)
    if isinstance(result, InvalidNumber):
        assert result.raw == raw


JP_PREFIXES = ["20", "200", "204", "50", "60", "600", "70", "80", "90", "3", "6", "11", "120"]


@st.composite
def jp_national_any(draw: st.DrawFn) -> str:
    """A national number near any JP range: right or wrong length, any class."""
    prefix = "0" + draw(st.sampled_from(JP_PREFIXES))
    size = draw(st.integers(9, 15)) - len(prefix)
    return prefix + draw(st.text(alphabet="0123456789", min_size=size, max_size=size))


# (prefix, national length) of every JP range, right length: most are refused by policy.
JP_RANGES = [
    ("020", 11), ("0200", 14), ("0204", 11), ("050", 11), ("060", 11), ("0600", 11),
    ("070", 11), ("080", 11), ("090", 11), ("03", 10), ("06", 10), ("011", 10), ("0120", 10),
]  # fmt: skip


@st.composite
def jp_in_range(draw: st.DrawFn) -> str:
    prefix, length = draw(st.sampled_from(JP_RANGES))
    c = draw(st.sampled_from("123456789"))
    size = length - len(prefix) - 1
    return prefix + c + draw(st.text(alphabet="0123456789", min_size=size, max_size=size))


number_like = st.one_of(
    jp_in_range(),
    jp_in_range().map(lambda n: "+81 " + n[1:]),
    st.text(alphabet="0123456789+-() ", max_size=20),
    st.builds(lambda d: "+" + d, st.text(alphabet="0123456789", min_size=6, max_size=16)),
    jp_national_any(),
    jp_national_any().map(lambda n: "+81" + n[1:]),
    jp_mobile_nsn(allow_060=True).map(lambda nsn: "0" + nsn),
)


@given(raw=number_like, kw=flags)
def test_canonical_form_is_a_fixed_point(raw: str, kw: Flags) -> None:
    result = try_parse(raw, **kw)
    assume(isinstance(result, Msisdn))
    assert isinstance(result, Msisdn)
    assert parse_msisdn(result.e164, **kw) == result
    assert parse_msisdn(result.digits, default_country=None, **kw) == result
    if result.national is not None:
        assert parse_msisdn(result.national, **kw) == result


#: Numbers a policy may refuse (060 mobile, 020 M2M) in national and international spelling, so
#: the property below is not starved by `assume` (generic strings rarely hit a policy refusal).
policy_numbers = st.builds(
    lambda prefix, rest: prefix + rest,
    st.sampled_from(["060", "020", "+8160", "+8120", "8160", "8120"]),
    st.text(alphabet="0123456789", min_size=8, max_size=8),
)


@given(raw=st.one_of(number_like, policy_numbers), kw=flags)
def test_policy_rejections_normalise_consistently(raw: str, kw: Flags) -> None:
    result = try_parse(raw, **kw)
    assume(isinstance(result, InvalidNumber) and result.e164 is not None)
    assert isinstance(result, InvalidNumber)
    assert result.e164 is not None
    again = try_parse(result.e164, **kw)
    assert isinstance(again, InvalidNumber)
    assert (again.reason, again.e164) == (result.reason, result.e164)


# --- receipts ----------------------------------------------------------------------------

ZONES: list[tzinfo] = [
    UTC,
    timezone(timedelta(hours=9)),
    timezone(timedelta(hours=-5, minutes=-30)),
]
token = st.text(
    alphabet=st.characters(blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs")),
    min_size=1,
    max_size=24,
).filter(lambda s: not any(ch.isspace() for ch in s))
simple_token = st.text(alphabet="abcdefXYZ0123456789-", min_size=1, max_size=12)


def wall_clock(tz: tzinfo, seconds: bool) -> st.SearchStrategy[datetime]:
    naive = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23, 59))
    return naive.map(
        lambda d: d.replace(second=d.second if seconds else 0, microsecond=0, tzinfo=tz)
    )


def err_values(tok: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.just(""),
        st.integers(0, 999).map(lambda n: f"{n:03d}"),
        tok.filter(lambda s: not (s.isascii() and s.isdigit())),
    )


@st.composite
def receipts(
    draw: st.DrawFn, tz: tzinfo, seconds: bool = False, tok: st.SearchStrategy[str] = token
) -> Receipt:
    optional_date = st.none() | wall_clock(tz, seconds)
    return Receipt(
        message_id=draw(tok),
        sub=draw(st.none() | st.integers(0, 999)),
        dlvrd=draw(st.none() | st.integers(0, 999)),
        submit_date=draw(optional_date),
        done_date=draw(optional_date),
        stat=draw(st.sampled_from([*STAT_BY_STATE.values(), ""]) | tok),
        err=draw(err_values(tok)),
        text=draw(st.text(max_size=20)),
    )


@given(data=st.data(), tz=st.sampled_from(ZONES), seconds=st.booleans())
def test_receipt_round_trip(data: st.DataObject, tz: tzinfo, seconds: bool) -> None:
    receipt = data.draw(receipts(tz, seconds))
    assert parse_receipt(format_receipt(receipt, tz=tz, seconds=seconds), tz=tz) == receipt


@given(data=st.data(), write_tz=st.sampled_from(ZONES))
def test_dates_are_instants_whatever_the_zone(data: st.DataObject, write_tz: tzinfo) -> None:
    receipt = data.draw(receipts(UTC))
    assume(
        all(d is None or 2001 <= d.year <= 2098 for d in (receipt.submit_date, receipt.done_date))
    )
    assert parse_receipt(format_receipt(receipt, tz=write_tz), tz=write_tz) == receipt


def _recase(data: st.DataObject, key: str) -> str:
    return "".join(ch.upper() if data.draw(st.booleans()) else ch for ch in key)


@given(data=st.data())
def test_parse_ignores_key_case_spacing_and_order(data: st.DataObject) -> None:
    receipt = data.draw(receipts(UTC, tok=simple_token))
    fields = format_receipt(receipt).split(" text:", 1)[0]
    pairs: list[tuple[str, str]] = []
    for item in (
        fields.replace("submit date:", "submit_date:").replace("done date:", "done_date:").split()
    ):
        key, value = item.split(":", 1)
        pairs.append((key, value))
    pairs = data.draw(st.permutations(pairs))
    blank = st.sampled_from(["", " ", "  ", "\t"])
    gap = st.sampled_from([" ", "  ", "\t", " \t "])
    date_key = st.sampled_from(["{} date", "{}_date", "{}date", "{}  date"])
    parts = []
    for key, value in pairs:
        if key in ("submit_date", "done_date"):
            key = data.draw(date_key).format(key.split("_")[0])
        parts.append(f"{_recase(data, key)}{data.draw(blank)}:{data.draw(blank)}{value}")
    text_key = _recase(data, "text") + data.draw(blank) + ":"
    perturbed = (
        data.draw(blank) + data.draw(gap).join(parts) + data.draw(gap) + text_key + receipt.text
    )
    assert parse_receipt(perturbed) == receipt


# --- message ids -------------------------------------------------------------------------

numeric_base = st.sampled_from([IdBase.DECIMAL, IdBase.HEX, IdBase.AUTO])
rules = st.one_of(
    st.builds(IdRule, st.just(IdBase.TEXT), st.just(IdBase.TEXT), st.booleans(), st.booleans()),
    st.builds(IdRule, numeric_base, numeric_base, st.booleans(), st.booleans()),
)
ids = st.one_of(
    st.text(alphabet="0123456789", max_size=12),
    st.text(alphabet="0123456789abcdefABCDEF", max_size=12),
    st.text(alphabet="0123456789abcdefxyzXYZ- ", max_size=12),
    st.text(max_size=8),
)


@given(a=ids, b=ids, rule=rules)
def test_ids_match_is_symmetric_once_sides_are_swapped(a: str, b: str, rule: IdRule) -> None:
    assert ids_match(a, b, rule) == ids_match(b, a, rule.swapped())
    if rule.resp_base is rule.receipt_base:
        assert ids_match(a, b, rule) == ids_match(b, a, rule)


@given(a=ids, rule=rules)
def test_an_id_matches_itself_when_both_sides_agree(a: str, rule: IdRule) -> None:
    assume(a.strip())
    same = IdRule(rule.resp_base, rule.resp_base, rule.casefold, rule.strip_zeros)
    assert ids_match(a, a, same)


@given(
    n=st.integers(0, 2**64),
    zeros=st.integers(0, 4),
    upper=st.booleans(),
    prefix=st.booleans(),
)
def test_hex_resp_matches_decimal_receipt_by_value(
    n: int, zeros: int, upper: bool, prefix: bool
) -> None:
    hex_id = "0" * zeros + (f"{n:X}" if upper else f"{n:x}")
    rule = IdRule.from_kannel(0x01)
    assert ids_match(("0x" if prefix else "") + hex_id, "0" * zeros + str(n), rule)
    assert not ids_match(hex_id, str(n + 1), rule)


@given(a=ids, casefold=st.booleans(), strip_zeros=st.booleans())
def test_text_and_decimal_canonical_forms_are_fixed_points(
    a: str, casefold: bool, strip_zeros: bool
) -> None:
    for base in (IdBase.TEXT, IdBase.DECIMAL):
        rule = IdRule(base, base, casefold, strip_zeros)
        once = normalize_id(a, rule)
        assert normalize_id(once, rule) == once
