"""MSISDN parsing, normalisation and validation (JP national plan + E.164), and sender IDs.

Invariants (the rules this module keeps; tests/property checks 1 and 2):

1. One canonical form. Every accepted number is an `Msisdn` whose `e164` is `+` followed by
   8-15 ASCII digits (ITU-T E.164). Parsing is idempotent: `parse_msisdn(m.e164, ...) == m`
   for every `m` that `parse_msisdn` returned with the same flags.
2. One reason per rejection. A refused input raises (or `try_parse` returns) exactly one
   `InvalidNumber` whose `reason` is a `NumberRejection`. The checks run in a fixed order
   (see `parse_msisdn`), so an input always gets the same reason, which is what a bulk CSV
   report needs.
3. Japanese numbers are classified by prefix and length only, from the MIC numbering table
   (DOMAIN §2, §6.2). The carrier is never derived from the prefix: with MNP a prefix says
   nothing about the carrier.
4. Sender IDs are never rewritten. The exact string is what the handset shows and what it
   threads on (DOMAIN §6.4), so `classify_sender` only classifies and validates it.
5. Pure: no I/O, no clock, no randomness, no global state beyond constant tables.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Final, NamedTuple

from sms.errors import SmsError

__all__ = [
    "InvalidNumber",
    "InvalidSender",
    "Msisdn",
    "Npi",
    "NumberError",
    "NumberKind",
    "NumberRejection",
    "SenderKind",
    "SenderRejection",
    "SmppAddress",
    "Ton",
    "classify_sender",
    "parse_msisdn",
    "sender_address",
    "to_smpp_address",
    "try_parse",
]


# --------------------------------------------------------------------------------------------
# Public types
# --------------------------------------------------------------------------------------------


class NumberKind(StrEnum):
    """What an accepted number is."""

    MOBILE = "mobile"
    """JP voice mobile: 070/080/090, and 060 when enabled."""
    M2M = "m2m"
    """JP data/M2M: 020 (11 digits) or 0200 (14 digits); accepted only with `allow_m2m`."""
    INTERNATIONAL = "international"
    """Any other country: generic E.164, not validated against that country's plan."""


class NumberRejection(StrEnum):
    """Why an input is not a number we may send to. Values are stable report codes."""

    EMPTY = "empty"
    """Nothing but whitespace and separators."""
    NON_DIGIT = "non_digit"
    """A character that is neither a digit, a separator nor a leading `+`."""
    TOO_SHORT = "too_short"
    """Fewer digits than the range (or E.164's 8-digit minimum) needs."""
    TOO_LONG = "too_long"
    """More digits than the range (or E.164's 15-digit maximum) allows."""
    BAD_PREFIX = "bad_prefix"
    """A prefix that is not allocated (e.g. 0900..., 030..., country code 0) or not dialable."""
    LEADING_ZERO_LOST = "leading_zero_lost"
    """A JP mobile number without its trunk 0 (`9012345678`): typical spreadsheet damage."""
    LANDLINE = "landline"
    """A JP fixed-line number (0ABCDEFGHJ, 10 digits): cannot receive SMS."""
    NOT_MOBILE = "not_mobile"
    """A JP non-mobile service: IP phone 050, pager 0204, FMC 0600, 0120/0800, 0570, 0990, 0180."""
    M2M = "m2m"
    """A JP M2M number (020 / 0200) while `allow_m2m` is off."""
    PREFIX_NOT_ENABLED = "prefix_not_enabled"
    """A JP mobile prefix not yet in service here: 060 while `allow_060` is off."""


class Ton(IntEnum):
    """Type of number (SMPP 3.4 §5.2.5)."""

    UNKNOWN = 0
    INTERNATIONAL = 1
    NATIONAL = 2
    NETWORK_SPECIFIC = 3
    SUBSCRIBER_NUMBER = 4
    ALPHANUMERIC = 5
    ABBREVIATED = 6


class Npi(IntEnum):
    """Numbering plan indicator (SMPP 3.4 §5.2.6)."""

    UNKNOWN = 0
    ISDN = 1
    DATA = 3
    TELEX = 4
    LAND_MOBILE = 6
    NATIONAL = 8
    PRIVATE = 9
    ERMES = 10
    INTERNET = 14
    WAP_CLIENT_ID = 18


class SmppAddress(NamedTuple):
    """An SMPP address triple, as carried by source_addr_* / dest_addr_* fields."""

    ton: Ton
    """Type of number."""
    npi: Npi
    """Numbering plan indicator."""
    addr: str
    """The address itself (digits without `+`, or the alphanumeric text)."""


_E164_RE: Final = re.compile(r"\+[1-9][0-9]{7,14}")


@dataclass(frozen=True, slots=True)
class Msisdn:
    """A validated, normalised subscriber number.

    Build one with `parse_msisdn`; the constructor only checks that the fields agree.
    """

    e164: str
    """Canonical form: `+` and 8-15 digits, e.g. `+819012345678`."""
    national: str | None
    """JP national form with trunk 0 (`09012345678`); None outside JP."""
    country: str | None
    """ISO 3166 alpha-2 code (`JP`), or None when the number is not classified by country."""
    kind: NumberKind
    """Mobile, M2M or (non-JP) international."""

    def __post_init__(self) -> None:
        if _E164_RE.fullmatch(self.e164) is None:
            raise NumberError(f"not an E.164 number: {self.e164!r}")
        if self.country == "JP":
            if self.national != "0" + self.e164[3:] or not self.e164.startswith("+81"):
                raise NumberError(f"JP national form {self.national!r} disagrees with {self.e164}")
        elif self.national is not None:
            raise NumberError("a national form is only kept for JP numbers")

    def __str__(self) -> str:
        return self.e164

    @property
    def digits(self) -> str:
        """The E.164 digits without `+` (what SMPP carries with TON 1, NPI 1)."""
        return self.e164[1:]


class NumberError(SmsError, ValueError):
    """Root of this module's errors.

    Also a `ValueError`, so the parsers can be used directly inside pydantic validators.
    Raised as such for inconsistent `Msisdn` fields and unsupported arguments.
    """


class InvalidNumber(NumberError):
    """An input that is not a number we may send to.

    Attributes:
        reason: The one reason for the rejection.
        raw: The input exactly as given.
        detail: A human-readable explanation for reports.
        e164: The normalised form when the input was a well-formed number refused by policy
            (landline, not_mobile, m2m, prefix_not_enabled); None otherwise.
    """

    def __init__(
        self, reason: NumberRejection, raw: str, detail: str, e164: str | None = None
    ) -> None:
        super().__init__(f"{reason.value}: {detail} (input {raw!r})")
        self.reason = reason
        self.raw = raw
        self.detail = detail
        self.e164 = e164

    def __reduce__(
        self,
    ) -> tuple[type[InvalidNumber], tuple[NumberRejection, str, str, str | None]]:
        return (type(self), (self.reason, self.raw, self.detail, self.e164))


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------

#: Inputs longer than this are refused before any normalisation work (a cost guard).
MAX_RAW_CHARS: Final[int] = 64

# Separators humans and spreadsheets put in numbers, after NFKC (which already folds full-width
# digits, ＋, －, （）, and the ideographic space). The dash family and ー (katakana long vowel
# mark, often typed for a hyphen in Japanese input) survive NFKC, so they are listed here.
_SEPARATORS: Final = " \t-.()/\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\u00a0"
_DELETE_SEPARATORS: Final = str.maketrans("", "", _SEPARATORS)

_JP_MOBILE_NSN_RE: Final = re.compile(r"[6789]0[1-9][0-9]{7}")


class _Class(StrEnum):
    MOBILE = "mobile"
    MOBILE_060 = "060"
    M2M = "m2m"
    NOT_MOBILE = "not_mobile"
    LANDLINE = "landline"


class _Range(NamedTuple):
    prefix: str
    length: int  # national digits including the trunk 0
    cls: _Class
    label: str


# MIC numbering table (DOMAIN §2). Four-digit prefixes first: they carve ranges out of the
# three-digit ones (0200 out of 020, 0600 out of 060, 0800 is freephone, not mobile).
_JP_RANGES: Final[tuple[_Range, ...]] = (
    _Range("0200", 14, _Class.M2M, "M2M (0200)"),
    _Range("0204", 11, _Class.NOT_MOBILE, "pager (0204)"),
    _Range("0600", 11, _Class.NOT_MOBILE, "FMC (0600)"),
    _Range("0800", 11, _Class.NOT_MOBILE, "freephone (0800)"),
    _Range("0120", 10, _Class.NOT_MOBILE, "freephone (0120)"),
    _Range("0570", 10, _Class.NOT_MOBILE, "shared-cost (0570)"),
    _Range("0990", 10, _Class.NOT_MOBILE, "premium rate (0990)"),
    _Range("0180", 10, _Class.NOT_MOBILE, "telephone service (0180)"),
    _Range("020", 11, _Class.M2M, "M2M (020)"),
    _Range("050", 11, _Class.NOT_MOBILE, "IP phone (050)"),
    _Range("060", 11, _Class.MOBILE_060, "mobile (060)"),
    _Range("070", 11, _Class.MOBILE, "mobile (070)"),
    _Range("080", 11, _Class.MOBILE, "mobile (080)"),
    _Range("090", 11, _Class.MOBILE, "mobile (090)"),
)
# Geographic numbers: 0 + area code + subscriber number, 10 digits in all. The prefix is
# only the trunk 0 here; the table is searched first.
_LANDLINE: Final = _Range("0", 10, _Class.LANDLINE, "landline")


# Prefix -> range, for the lookup in `_jp_national`: a four-digit prefix is tried before
# the three-digit one it carves from, as the table's order says (every four-digit prefix
# comes before every three-digit one, checked here).
_JP_BY_PREFIX: Final[dict[str, _Range]] = {rng.prefix: rng for rng in _JP_RANGES}
assert len(_JP_BY_PREFIX) == len(_JP_RANGES)
assert [len(r.prefix) for r in _JP_RANGES] == sorted(
    (len(r.prefix) for r in _JP_RANGES), reverse=True
)


def _checked_msisdn(
    e164: str, national: str | None, country: str | None, kind: NumberKind
) -> Msisdn:
    """An `Msisdn` whose fields the caller built to agree (no ``__post_init__`` checks)."""
    number = object.__new__(Msisdn)
    object.__setattr__(number, "e164", e164)
    object.__setattr__(number, "national", national)
    object.__setattr__(number, "country", country)
    object.__setattr__(number, "kind", kind)
    return number


@dataclass(frozen=True, slots=True)
class _Policy:
    allow_060: bool
    allow_m2m: bool


_POLICIES: Final[dict[tuple[bool, bool], _Policy]] = {
    (a, m): _Policy(a, m) for a in (False, True) for m in (False, True)
}


def _clean(raw: str) -> tuple[bool, str]:
    """Fold, strip separators; return (had a leading '+', ASCII digits) or raise."""
    if len(raw) > MAX_RAW_CHARS:
        raise InvalidNumber(
            NumberRejection.TOO_LONG, raw, f"{len(raw)} characters, at most {MAX_RAW_CHARS}"
        )
    # Leading separators go first so that "(+81) 90-..." keeps its '+' at the start.
    text = unicodedata.normalize("NFKC", raw).strip().lstrip(_SEPARATORS)
    plus = text.startswith("+")
    body = (text[1:] if plus else text).translate(_DELETE_SEPARATORS)
    if not body:
        raise InvalidNumber(NumberRejection.EMPTY, raw, "no digits")
    if not (body.isascii() and body.isdigit()):
        bad = next(ch for ch in body if not ("0" <= ch <= "9"))
        where = "a '+' after the start" if bad == "+" else f"character {bad!r}"
        raise InvalidNumber(NumberRejection.NON_DIGIT, raw, f"{where} is not a digit or separator")
    return plus, body


def _jp_national(national: str, raw: str, policy: _Policy) -> Msisdn:
    """Classify a JP national number `0...` (trunk 0 included)."""
    if len(national) < 4:
        raise InvalidNumber(NumberRejection.TOO_SHORT, raw, f"only {len(national)} digits")
    if national[1] == "0":
        raise InvalidNumber(NumberRejection.BAD_PREFIX, raw, f"{national[:2]} is not a JP prefix")
    found = _JP_BY_PREFIX.get(national[:4]) or _JP_BY_PREFIX.get(national[:3])
    if found is not None:
        rng = found
    else:
        if national[2] == "0":
            # 0A0 prefixes are non-geographic; those not in the table are unallocated.
            raise InvalidNumber(NumberRejection.BAD_PREFIX, raw, f"{national[:3]} is not allocated")
        rng = _LANDLINE
    if len(rng.prefix) == 3 and national[3] == "0":
        # 11-digit 0A0 ranges need C != 0: 0A00 is its own range above or unallocated.
        raise InvalidNumber(NumberRejection.BAD_PREFIX, raw, f"{national[:4]} is not allocated")
    if len(national) != rng.length:
        reason = (
            NumberRejection.TOO_SHORT if len(national) < rng.length else NumberRejection.TOO_LONG
        )
        detail = f"{len(national)} digits, a JP {rng.label} number has {rng.length}"
        raise InvalidNumber(reason, raw, detail)
    e164 = "+81" + national[1:]
    cls = rng.cls
    # The fields agree by construction (+81 and the digits after the trunk 0, 10-14 digits).
    if cls is _Class.MOBILE or (cls is _Class.MOBILE_060 and policy.allow_060):
        return _checked_msisdn(e164, national, "JP", NumberKind.MOBILE)
    if cls is _Class.M2M and policy.allow_m2m:
        return _checked_msisdn(e164, national, "JP", NumberKind.M2M)
    if cls is _Class.MOBILE_060:
        detail = "060 mobile numbers are not enabled (allow_060)"
        raise InvalidNumber(NumberRejection.PREFIX_NOT_ENABLED, raw, detail, e164)
    if cls is _Class.M2M:
        detail = f"{rng.label} numbers are not enabled (allow_m2m)"
        raise InvalidNumber(NumberRejection.M2M, raw, detail, e164)
    if cls is _Class.LANDLINE:
        raise InvalidNumber(NumberRejection.LANDLINE, raw, "a JP fixed-line number", e164)
    raise InvalidNumber(NumberRejection.NOT_MOBILE, raw, f"a JP {rng.label} number", e164)


def _international(digits: str, raw: str, policy: _Policy) -> Msisdn:
    """Classify `digits` = country code + national significant number."""
    if not digits:
        raise InvalidNumber(
            NumberRejection.TOO_SHORT, raw, "no digits after the international prefix"
        )
    if digits[0] == "0":
        raise InvalidNumber(NumberRejection.BAD_PREFIX, raw, "a country code cannot start with 0")
    if digits.startswith("81"):
        nsn = digits[2:]
        # "+81 (0)90-..." keeps the trunk 0 out of habit; a JP NSN never starts with 0,
        # so dropping exactly one is unambiguous.
        if nsn.startswith("0"):
            nsn = nsn[1:]
        return _jp_national("0" + nsn, raw, policy)
    if len(digits) < 8:
        raise InvalidNumber(
            NumberRejection.TOO_SHORT, raw, f"{len(digits)} digits, E.164 needs 8-15"
        )
    if len(digits) > 15:
        raise InvalidNumber(NumberRejection.TOO_LONG, raw, f"{len(digits)} digits, E.164 allows 15")
    return Msisdn("+" + digits, None, None, NumberKind.INTERNATIONAL)


def parse_msisdn(
    raw: str,
    *,
    allow_060: bool = False,
    allow_m2m: bool = False,
    default_country: str | None = "JP",
) -> Msisdn:
    """Parse, normalise and validate one destination number.

    Accepted spellings: any mix of ASCII and full-width characters (NFKC), with spaces,
    hyphens (incl. `‐ – — − ー`), dots, slashes and parentheses anywhere. The digits are then
    read in this order:

    1. `+CC...`, `00CC...` (ITU prefix) or `010CC...` (JP international prefix, only when
       `default_country` is "JP") are international. `+81`/`0081` go to the JP plan, and a
       trunk 0 written after them (`+81 (0)90...`) is dropped. Other countries are generic
       E.164: 8-15 digits including the country code.
    2. `0...` is a JP national number (only when `default_country` is "JP"): 070/080/090
       followed by 1-9 and 7 digits is mobile; 060 likewise when `allow_060`; 020 (11 digits,
       not 0204) and 0200 (14 digits) are M2M; others are rejected by class.
    3. Digits without `+` or 0: `81...` is taken as E.164 without its `+` (JP); a 10-digit
       `[6-9]0[1-9]...` is `leading_zero_lost`; anything else is `bad_prefix`. With
       `default_country=None` such digits are E.164 without `+` and `0...` is `bad_prefix`.

    Args:
        raw: The number as typed or imported.
        allow_060: Accept 060 voice mobile numbers (opened 2024-12, in service from 2026-07).
        allow_m2m: Accept M2M numbers (020 / 0200) as `NumberKind.M2M`.
        default_country: "JP" to read national numbers with the JP plan, or None to require
            international form. No other plan is modelled.

    Returns:
        The normalised number.

    Raises:
        InvalidNumber: The input is not a number we may send to; `.reason` says why.
        NumberError: `default_country` is neither "JP" nor None.
    """
    if default_country not in ("JP", None):
        raise NumberError(f"default_country must be 'JP' or None, not {default_country!r}")
    policy = _POLICIES[bool(allow_060), bool(allow_m2m)]
    if raw.isdigit() and raw.isascii() and len(raw) <= MAX_RAW_CHARS:
        # Already clean (ASCII digits only): what `_clean` would return.
        plus, digits = False, raw
    else:
        plus, digits = _clean(raw)
    if plus:
        return _international(digits, raw, policy)
    if digits.startswith("00"):
        return _international(digits[2:], raw, policy)
    jp = default_country == "JP"
    if jp and digits.startswith("010"):
        return _international(digits[3:], raw, policy)
    if digits.startswith("0"):
        if jp:
            return _jp_national(digits, raw, policy)
        raise InvalidNumber(
            NumberRejection.BAD_PREFIX, raw, "a national number needs a default country"
        )
    if not jp:
        return _international(digits, raw, policy)
    if digits.startswith("81") and len(digits) >= 10:
        return _international(digits, raw, policy)
    if _JP_MOBILE_NSN_RE.fullmatch(digits):
        raise InvalidNumber(
            NumberRejection.LEADING_ZERO_LOST,
            raw,
            f"looks like 0{digits} without its leading 0",
        )
    raise InvalidNumber(NumberRejection.BAD_PREFIX, raw, "a JP number starts with 0, +81 or 0081")


def try_parse(
    raw: str,
    *,
    allow_060: bool = False,
    allow_m2m: bool = False,
    default_country: str | None = "JP",
) -> Msisdn | InvalidNumber:
    """Like `parse_msisdn`, but return the rejection instead of raising it.

    Meant for bulk validation (CSV import) where every row's reason is reported.

    Args:
        raw: The number as typed or imported.
        allow_060: See `parse_msisdn`.
        allow_m2m: See `parse_msisdn`.
        default_country: See `parse_msisdn`.

    Returns:
        The normalised number, or the `InvalidNumber` that `parse_msisdn` would raise.
    """
    try:
        return parse_msisdn(
            raw, allow_060=allow_060, allow_m2m=allow_m2m, default_country=default_country
        )
    except InvalidNumber as exc:
        return exc


def to_smpp_address(msisdn: Msisdn, *, national: bool = False) -> SmppAddress:
    """The SMPP address for a destination (or numeric source) number.

    Args:
        msisdn: A parsed number.
        national: Use the JP national form with TON 2 (national), NPI 1, for routes that
            want it. Ignored for numbers without a national form.

    Returns:
        `(Ton.INTERNATIONAL, Npi.ISDN, "819012345678")` by default: E.164 digits without `+`.
    """
    if national and msisdn.national is not None:
        return SmppAddress(Ton.NATIONAL, Npi.ISDN, msisdn.national)
    return SmppAddress(Ton.INTERNATIONAL, Npi.ISDN, msisdn.digits)


# --------------------------------------------------------------------------------------------
# Sender IDs
# --------------------------------------------------------------------------------------------


class SenderKind(StrEnum):
    """What a sender ID (source_addr) is."""

    ALPHANUMERIC = "alphanumeric"
    """1-11 of [A-Za-z0-9 ] with at least one letter: TON 5, NPI 0."""
    SHORT_CODE = "short_code"
    """3-10 digits without `+`, incl. JP common short codes 0005... (8-10 digits): TON 3, NPI 0."""
    NATIONAL = "national"
    """11-15 digits starting with 0 (e.g. a JP mobile 090...): TON 2, NPI 1."""
    INTERNATIONAL = "international"
    """`+` and 1-15 digits, or 11-15 digits not starting with 0: TON 1, NPI 1."""


class SenderRejection(StrEnum):
    """Why a sender ID is invalid."""

    EMPTY = "empty"
    """The empty string."""
    TOO_SHORT = "too_short"
    """A numeric sender of 1-2 digits."""
    TOO_LONG = "too_long"
    """Alphanumeric over 11 characters, or numeric over 15 digits."""
    BAD_CHAR = "bad_char"
    """A character outside the allowed alphabet (non-ASCII, punctuation, `+` misplaced)."""
    NO_LETTER = "no_letter"
    """An alphanumeric sender without any letter (digits and spaces only)."""


class InvalidSender(NumberError):
    """A sender ID that cannot be sent as source_addr.

    Attributes:
        reason: The one reason for the rejection.
        text: The sender ID exactly as given.
    """

    def __init__(self, reason: SenderRejection, text: str, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail} (sender {text!r})")
        self.reason = reason
        self.text = text
        self.detail = detail

    def __reduce__(self) -> tuple[type[InvalidSender], tuple[SenderRejection, str, str]]:
        return (type(self), (self.reason, self.text, self.detail))


#: Longest alphanumeric sender (GSM 03.40 TP-OA: 11 GSM-7 characters).
MAX_ALPHANUMERIC_SENDER: Final[int] = 11
#: Longest numeric sender (E.164).
MAX_NUMERIC_SENDER: Final[int] = 15
_MAX_SHORT_CODE: Final = 10
_MIN_SHORT_CODE: Final = 3
_ALNUM: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ")
#: Extra characters UK operators allow in alphanumeric senders since 2023-09 (DOMAIN §4).
UK_SENDER_PUNCTUATION: Final[frozenset[str]] = frozenset(".&_-")

_SENDER_ADDRESS: Final[dict[SenderKind, tuple[Ton, Npi]]] = {
    SenderKind.ALPHANUMERIC: (Ton.ALPHANUMERIC, Npi.UNKNOWN),
    SenderKind.SHORT_CODE: (Ton.NETWORK_SPECIFIC, Npi.UNKNOWN),
    SenderKind.NATIONAL: (Ton.NATIONAL, Npi.ISDN),
    SenderKind.INTERNATIONAL: (Ton.INTERNATIONAL, Npi.ISDN),
}


def _is_ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def classify_sender(text: str, *, uk_punctuation: bool = False) -> SenderKind:
    """Classify a sender ID without changing it.

    Rules, in order: `+` then digits is international (1-15 digits); all digits is a short
    code (3-10), national (11-15 starting with 0) or international (11-15); anything else is
    alphanumeric and must be 1-11 characters of [A-Za-z0-9 ] (plus `.&_-` in UK mode) with
    at least one letter. A 10-digit landline is indistinguishable from a 10-digit 0005 code
    and is classed as a short code.

    Args:
        text: The sender ID exactly as it will be displayed.
        uk_punctuation: Also allow `. & _ -` in alphanumeric senders (UK operator rules).

    Returns:
        The sender's kind.

    Raises:
        InvalidSender: The text is not a valid sender ID; `.reason` says why.
    """
    if not text:
        raise InvalidSender(SenderRejection.EMPTY, text, "empty sender")
    if text[0] == "+":
        digits = text[1:]
        if not digits:
            raise InvalidSender(SenderRejection.TOO_SHORT, text, "a '+' without digits")
        if not _is_ascii_digits(digits) or digits[0] == "0":
            raise InvalidSender(
                SenderRejection.BAD_CHAR,
                text,
                "'+' must be followed by a country code and digits only",
            )
        if len(digits) > MAX_NUMERIC_SENDER:
            raise InvalidSender(SenderRejection.TOO_LONG, text, f"{len(digits)} digits, at most 15")
        return SenderKind.INTERNATIONAL
    if _is_ascii_digits(text):
        if len(text) < _MIN_SHORT_CODE:
            raise InvalidSender(SenderRejection.TOO_SHORT, text, f"only {len(text)} digits")
        if len(text) <= _MAX_SHORT_CODE:
            return SenderKind.SHORT_CODE
        if len(text) > MAX_NUMERIC_SENDER:
            raise InvalidSender(SenderRejection.TOO_LONG, text, f"{len(text)} digits, at most 15")
        return SenderKind.NATIONAL if text[0] == "0" else SenderKind.INTERNATIONAL
    allowed = _ALNUM | UK_SENDER_PUNCTUATION if uk_punctuation else _ALNUM
    bad = [ch for ch in text if ch not in allowed]
    if bad:
        raise InvalidSender(SenderRejection.BAD_CHAR, text, f"character {bad[0]!r} not allowed")
    if len(text) > MAX_ALPHANUMERIC_SENDER:
        raise InvalidSender(SenderRejection.TOO_LONG, text, f"{len(text)} characters, at most 11")
    if not any(ch.isalpha() for ch in text):
        raise InvalidSender(SenderRejection.NO_LETTER, text, "needs at least one letter")
    return SenderKind.ALPHANUMERIC


def sender_address(text: str, *, uk_punctuation: bool = False) -> SmppAddress:
    """The SMPP source address for a sender ID.

    Args:
        text: The sender ID exactly as it will be displayed.
        uk_punctuation: See `classify_sender`.

    Returns:
        TON/NPI per `SenderKind`; the address is `text` itself, without a leading `+`.

    Raises:
        InvalidSender: The text is not a valid sender ID.
    """
    kind = classify_sender(text, uk_punctuation=uk_punctuation)
    ton, npi = _SENDER_ADDRESS[kind]
    return SmppAddress(ton, npi, text[1:] if text.startswith("+") else text)
