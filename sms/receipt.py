"""Delivery-receipt text (SMPP 3.4 Appendix B, DOMAIN §3 and §6.5) and message-id matching.

The receipt layout, fields in this order, single spaces, the text last:

    id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm
    stat:DDDDDDD err:EEE text:<first 20 characters>

Invariants (tests/property checks 1, 2 and 5):

1. Round trip. `parse_receipt(format_receipt(r, tz=z), tz=z) == r` for every `Receipt` whose
   dates are whole minutes in 2000-2099 (whole seconds with `seconds=True`), whose `err` is
   empty, non-numeric or at least 3 digits (shorter numeric codes are zero-padded on output),
   and whose `text` has at most 20 characters. `format_receipt` never invents a value: a
   field that is None (or an empty `stat` / `err`) is left out.
2. Tolerant parsing. Keys are matched case-insensitively, with any spacing around `:`, with
   `submit date` also spelled `submit_date` / `submitdate`, in any order. Unknown keys are
   skipped; a value that does not parse (month 13, `sub:abc`) becomes None; an unknown
   `stat` is kept raw with state UNKNOWN. Only a receipt without an id raises
   (`ReceiptParseError`). Two rules keep this unambiguous: a key must start the text or
   follow whitespace, and `text:` is last, as in Appendix B: everything after the first
   `text:` key is the text, verbatim.
   The exact layout above (lower-case keys, single spaces, every field) is read with one
   regular-expression match and UTC dates parsed once per distinct value; any other text goes
   through the general parser, and both give the same `Receipt` (test_receipt_fast_path).
   `receipt_fields` gives a gateway what it matches a receipt by (id, stat, err, done date)
   without building the `Receipt` on that match; its values are `parse_receipt`'s
   (test_receipt_fields).
3. `Receipt.state` is derived from `Receipt.stat` (`state_for_stat`), never set separately.
4. Dates carry no zone on the wire. Formatting converts to the `tz` given; parsing attaches
   it. Two-digit years are 20YY. In a zone with DST, a local time in a gap or a fold does not
   round-trip: pass UTC (default) or a fixed offset unless the carrier really uses local time.
5. Message ids: `normalize_id(raw, rule, side=...)` maps an id to a canonical string and
   `ids_match` compares canonical strings. Each side (submit_sm_resp, receipt) declares its
   own base, as Kannel's `msg-id-type` does, so "123" is never guessed to be hex or decimal.
   `ids_match(a, b, rule) == ids_match(b, a, rule.swapped())`; for a rule with the same base
   on both sides that is plain symmetry.
6. Pure: no clock reads (dates are arguments), no randomness, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import IntEnum, StrEnum
from functools import lru_cache
from typing import Final, NamedTuple

from sms.errors import SmsError

__all__ = [
    "ID_CASEFOLD",
    "ID_EXACT",
    "ID_HEX_TO_DECIMAL",
    "ID_NUMERIC_DECIMAL",
    "ID_NUMERIC_HEX",
    "STATE_BY_STAT",
    "STAT_BY_STATE",
    "IdBase",
    "IdRule",
    "IdSide",
    "MessageState",
    "Receipt",
    "ReceiptError",
    "ReceiptFields",
    "ReceiptParseError",
    "format_receipt",
    "ids_match",
    "normalize_id",
    "parse_receipt",
    "receipt_fields",
    "stat_for_state",
    "state_for_stat",
]


class ReceiptError(SmsError, ValueError):
    """Root of this module's errors: also raised for inconsistent `Receipt` fields or rules.

    A `ValueError` as well, so it can surface from pydantic validators unchanged.
    """


class ReceiptParseError(ReceiptError):
    """A receipt text without a message id: nothing to correlate it with.

    Attributes:
        text: The receipt text as received.
    """

    def __init__(self, text: str, detail: str) -> None:
        super().__init__(f"{detail}: {text[:80]!r}")
        self.text = text

    def __reduce__(self) -> tuple[type[ReceiptParseError], tuple[str, str]]:
        return (type(self), (self.text, "no message id in receipt"))


class MessageState(IntEnum):
    """message_state (SMPP 3.4 §5.2.28); SCHEDULED 0 and SKIPPED 9 are SMPP 5.0 only."""

    ENROUTE = 1
    DELIVERED = 2
    EXPIRED = 3
    DELETED = 4
    UNDELIVERABLE = 5
    ACCEPTED = 6
    UNKNOWN = 7
    REJECTED = 8


#: The 7-letter stat word written for each state (SMPP 3.4 Appendix B).
STAT_BY_STATE: Final[dict[MessageState, str]] = {
    MessageState.ENROUTE: "ENROUTE",
    MessageState.DELIVERED: "DELIVRD",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.DELETED: "DELETED",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.ACCEPTED: "ACCEPTD",
    MessageState.UNKNOWN: "UNKNOWN",
    MessageState.REJECTED: "REJECTD",
}

#: Upper-cased stat word -> state. Also accepts the spelled-out state names some carriers send.
STATE_BY_STAT: Final[dict[str, MessageState]] = {
    **{stat: state for state, stat in STAT_BY_STATE.items()},
    **{state.name: state for state in MessageState},
}


def state_for_stat(stat: str) -> MessageState:
    """The state a stat word stands for (case-insensitive); UNKNOWN for anything else.

    Args:
        stat: The stat value as received, e.g. "DELIVRD" or "delivrd".

    Returns:
        The matching state, or `MessageState.UNKNOWN` for an unknown or empty word.
    """
    return STATE_BY_STAT.get(stat.upper(), MessageState.UNKNOWN)


def stat_for_state(state: MessageState) -> str:
    """The Appendix B stat word for a state, e.g. DELIVERED -> "DELIVRD".

    Args:
        state: A message state.

    Returns:
        The 7-letter stat word.
    """
    return STAT_BY_STATE[state]


_SPACE_RE: Final = re.compile(r"\s")


def _has_space(value: str) -> bool:
    return _SPACE_RE.search(value) is not None


@dataclass(frozen=True, slots=True)
class Receipt:
    """One delivery receipt, as carried in the short_message of a deliver_sm (esm_class 0x04)."""

    message_id: str
    """The SMSC's id for the message (the `id:` field), exactly as written: see `normalize_id`."""
    sub: int | None = None
    """Number of short messages originally submitted (`sub:`); None when absent."""
    dlvrd: int | None = None
    """Number of short messages delivered (`dlvrd:`); None when absent."""
    submit_date: datetime | None = None
    """When the message was submitted (timezone-aware); None when absent or unreadable."""
    done_date: datetime | None = None
    """When the message reached its state (timezone-aware); None when absent or unreadable."""
    stat: str = ""
    """The stat word as written (`DELIVRD`, or anything a carrier invents); "" when absent."""
    err: str = ""
    """The network error code as written (`000`, `027`, or non-numeric); "" when absent."""
    text: str = ""
    """The `text:` field verbatim: the first 20 characters of the message by convention."""
    state: MessageState = field(init=False)
    """Derived from `stat` with `state_for_stat`."""

    def __post_init__(self) -> None:
        if not self.message_id or _has_space(self.message_id):
            raise ReceiptError(f"message_id must be non-empty without spaces: {self.message_id!r}")
        for name in ("sub", "dlvrd"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ReceiptError(f"{name} must not be negative: {value}")
        for name in ("submit_date", "done_date"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise ReceiptError(f"{name} must be timezone-aware: {value!r}")
        for name in ("stat", "err"):
            if _has_space(getattr(self, name)):
                raise ReceiptError(f"{name} must not contain spaces: {getattr(self, name)!r}")
        object.__setattr__(self, "state", state_for_stat(self.stat))

    @property
    def err_code(self) -> int | None:
        """`err` as a number when it is decimal digits, else None."""
        return int(self.err) if self.err.isascii() and self.err.isdigit() else None


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------

#: Characters of the message kept in the `text:` field (SMPP 3.4 Appendix B).
TEXT_CHARS: Final[int] = 20
_DATE_FORMAT: Final = "%y%m%d%H%M"
_DATE_FORMAT_SECONDS: Final = "%y%m%d%H%M%S"


def _format_date(name: str, value: datetime, tz: tzinfo, seconds: bool) -> str:
    local = value.astimezone(tz)
    if not 2000 <= local.year <= 2099:
        raise ReceiptError(f"{name} {local.isoformat()} does not fit a two-digit year (20YY)")
    return local.strftime(_DATE_FORMAT_SECONDS if seconds else _DATE_FORMAT)


def format_receipt(receipt: Receipt, *, tz: tzinfo = UTC, seconds: bool = False) -> str:
    """Write a receipt in the Appendix B layout.

    Args:
        receipt: The receipt to write.
        tz: The zone the dates are written in (the text carries none).
        seconds: Write 12-digit dates (YYMMDDhhmmss) instead of the standard 10 digits.

    Returns:
        The receipt text, e.g. `id:1 sub:001 dlvrd:001 submit date:2601010900 done
        date:2601010900 stat:DELIVRD err:000 text:Hello`. Counts and numeric `err` are
        zero-padded to 3 digits, `text` is cut to 20 characters, absent fields are left out.

    Raises:
        ReceiptError: A date falls outside 2000-2099 in `tz`.
    """
    parts = [f"id:{receipt.message_id}"]
    if receipt.sub is not None:
        parts.append(f"sub:{receipt.sub:03d}")
    if receipt.dlvrd is not None:
        parts.append(f"dlvrd:{receipt.dlvrd:03d}")
    if receipt.submit_date is not None:
        parts.append("submit date:" + _format_date("submit_date", receipt.submit_date, tz, seconds))
    if receipt.done_date is not None:
        parts.append("done date:" + _format_date("done_date", receipt.done_date, tz, seconds))
    if receipt.stat:
        parts.append(f"stat:{receipt.stat}")
    if receipt.err:
        err = receipt.err
        parts.append(f"err:{err.zfill(3) if err.isascii() and err.isdigit() else err}")
    parts.append(f"text:{receipt.text[:TEXT_CHARS]}")
    return " ".join(parts)


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------

# A key starts the text or follows whitespace; `submit date` may be spelled with '_' or no gap.
_KEY_RE: Final = re.compile(
    r"(?<!\S)(id|sub|dlvrd|submit[\s_]*date|done[\s_]*date|stat|err|text)\s*:", re.IGNORECASE
)
_KEY_SPACING_RE: Final = re.compile(r"[\s_]+")


@lru_cache(maxsize=256)
def _canonical_key(key: str) -> str:
    return _KEY_SPACING_RE.sub("", key).lower()


def _first_token(region: str) -> str:
    tokens = region.split(maxsplit=1)
    return tokens[0] if tokens else ""


def _parse_count(token: str) -> int | None:
    return int(token) if token.isascii() and token.isdigit() else None


def _parse_date(token: str, tz: tzinfo) -> datetime | None:
    if not (token.isascii() and token.isdigit() and len(token) in (10, 12)):
        return None
    second = int(token[10:12]) if len(token) == 12 else 0
    try:
        return datetime(
            2000 + int(token[0:2]),
            int(token[2:4]),
            int(token[4:6]),
            int(token[6:8]),
            int(token[8:10]),
            second,
            tzinfo=tz,
        )
    except ValueError:  # month 13, 25 o'clock, 000000000000 ...: unreadable means absent
        return None


# The exact Appendix B layout (what nearly every SMSC writes): one match reads every field.
# On a match the result is the general parser's: each value is the first token after its key
# (a run of non-whitespace, as str.split sees it), keys appear once, in order, `text:` last.
# Anything else (other spellings, order, spacing, missing keys) takes the general path.
_APPENDIX_B_RE: Final = re.compile(
    r"id:(\S+) sub:([0-9]+) dlvrd:([0-9]+) submit date:([0-9]{10}(?:[0-9]{2})?)"
    r" done date:([0-9]{10}(?:[0-9]{2})?) stat:(\S+) err:(\S+) text:",
)
_new_receipt = object.__new__
_set = object.__setattr__


@lru_cache(maxsize=4096)
def _utc_date(token: str) -> datetime | None:
    # Receipts read in one minute share their dates: parse each date once (datetimes are
    # immutable, so sharing them is safe).
    return _parse_date(token, UTC)


def _appendix_b(text: str, tz: tzinfo) -> Receipt | None:
    match = _APPENDIX_B_RE.match(text)
    if match is None:
        return None
    message_id, sub, dlvrd, submitted, done, stat, err = match.groups()
    if tz is not UTC:  # the constructor checks that the zone gives aware dates
        return Receipt(
            message_id=message_id,
            sub=int(sub),
            dlvrd=int(dlvrd),
            submit_date=_parse_date(submitted, tz),
            done_date=_parse_date(done, tz),
            stat=stat,
            err=err,
            text=text[match.end() :],
        )
    # What Receipt.__post_init__ checks holds by the pattern (an id and words without
    # whitespace, counts of digits) and the zone (UTC dates are aware): built without it.
    receipt: Receipt = _new_receipt(Receipt)
    _set(receipt, "message_id", message_id)
    _set(receipt, "sub", int(sub))
    _set(receipt, "dlvrd", int(dlvrd))
    _set(receipt, "submit_date", _utc_date(submitted))
    _set(receipt, "done_date", _utc_date(done))
    _set(receipt, "stat", stat)
    _set(receipt, "err", err)
    _set(receipt, "text", text[match.end() :])
    _set(receipt, "state", state_for_stat(stat))
    return receipt


class ReceiptFields(NamedTuple):
    """What a gateway matches and stores a receipt by (`receipt_fields`)."""

    message_id: str
    """`Receipt.message_id`."""
    stat: str
    """`Receipt.stat`."""
    err: str
    """`Receipt.err`."""
    done_at: float | None
    """`Receipt.done_date` as epoch seconds (None when absent or unreadable)."""


@lru_cache(maxsize=4096)
def _utc_epoch(token: str) -> float | None:
    done = _utc_date(token)
    return None if done is None else done.timestamp()


def receipt_fields(text: str) -> ReceiptFields:
    """``parse_receipt(text)``'s id, stat, err and done date (UTC, as epoch seconds), without
    building the `Receipt` when the text has the exact Appendix B layout.

    Raises:
        ReceiptParseError: As `parse_receipt`.
    """
    match = _APPENDIX_B_RE.match(text)
    if match is not None:
        message_id, _sub, _dlvrd, _submitted, done, stat, err = match.groups()
        return ReceiptFields(message_id, stat, err, _utc_epoch(done))
    receipt = _parse_any(text, UTC)
    done_date = receipt.done_date
    return ReceiptFields(
        receipt.message_id,
        receipt.stat,
        receipt.err,
        None if done_date is None else done_date.timestamp(),
    )


def parse_receipt(text: str, *, tz: tzinfo = UTC) -> Receipt:
    """Read a delivery-receipt text, tolerating the usual carrier variations.

    See the module docstring (invariant 2) for exactly what is tolerated. When a key appears
    twice, the first occurrence wins.

    Args:
        text: The short_message of the receipt, decoded to str.
        tz: The zone the carrier writes its dates in (the text carries none).

    Returns:
        The receipt; absent or unreadable fields are None (counts, dates) or "" (stat, err,
        text).

    Raises:
        ReceiptParseError: There is no `id:` field, or it is empty.
    """
    fast = _appendix_b(text, tz)
    if fast is not None:
        return fast
    return _parse_any(text, tz)


def _parse_any(text: str, tz: tzinfo) -> Receipt:
    """`parse_receipt` for any layout (the general path)."""
    values: dict[str, str] = {}
    body = ""
    key: str | None = None
    start = 0
    for match in _KEY_RE.finditer(text):
        if key is not None:
            values.setdefault(key, _first_token(text[start : match.start()]))
        key = _canonical_key(match.group(1))
        if key == "text":
            body = text[match.end() :]
            key = None
            break
        start = match.end()
    if key is not None:
        values.setdefault(key, _first_token(text[start:]))
    message_id = values.get("id", "")
    if not message_id:
        raise ReceiptParseError(text, "no message id in receipt")
    return Receipt(
        message_id=message_id,
        sub=_parse_count(values.get("sub", "")),
        dlvrd=_parse_count(values.get("dlvrd", "")),
        submit_date=_parse_date(values.get("submitdate", ""), tz),
        done_date=_parse_date(values.get("donedate", ""), tz),
        stat=values.get("stat", ""),
        err=values.get("err", ""),
        text=body,
    )


# --------------------------------------------------------------------------------------------
# Message-id correlation
# --------------------------------------------------------------------------------------------


class IdBase(StrEnum):
    """How one side writes its message ids."""

    TEXT = "text"
    """An opaque string (SMPP's own view of message_id): compared as written, see `IdRule`."""
    DECIMAL = "dec"
    """A decimal number: compared by value ("0042" == "42")."""
    HEX = "hex"
    """A hexadecimal number, any case, optional 0x: compared by value ("0A1B" == "a1b")."""
    AUTO = "auto"
    """All digits -> decimal, otherwise hex (Kannel's fallback for ids with letters)."""


class IdSide(StrEnum):
    """Where an id was read."""

    RESP = "resp"
    """The message_id of a submit_sm_resp."""
    RECEIPT = "receipt"
    """The `id:` of a receipt text, or its receipted_message_id TLV."""


#: The longest id converted as a number (SMPP 3.4 message_id: C-Octet String of up to 65
#: octets, NUL included). Longer ids are compared as text, which also bounds int() work.
MAX_NUMERIC_ID_CHARS: Final[int] = 64
_DEC_RE: Final = re.compile(r"[0-9]+")
_HEX_RE: Final = re.compile(r"(?:0[xX])?([0-9A-Fa-f]+)")


@dataclass(frozen=True, slots=True)
class IdRule:
    """How submit_sm_resp ids and receipt ids are compared.

    Canonical form, per side:

    * numeric base (DECIMAL, HEX, AUTO): the decimal string of the value, `str(int(raw, base))`,
      so leading zeros and hex case never matter. An id that is not a number in the side's base
      falls back to the TEXT form below; such a fallback contains a non-digit, so it can never
      equal a numeric canonical form. Ids longer than `MAX_NUMERIC_ID_CHARS` (which no SMPP
      message_id is) are always compared in the TEXT form.
    * TEXT: the id as written, then casefolded if `casefold`, then with leading zeros removed
      (keeping one "0") if `strip_zeros`.

    Surrounding whitespace is always ignored. Either both sides are TEXT or both are numeric:
    a mixed rule would compare a string with a value and is refused.
    """

    resp_base: IdBase = IdBase.TEXT
    """Base of the ids in submit_sm_resp."""
    receipt_base: IdBase = IdBase.TEXT
    """Base of the ids in receipts."""
    casefold: bool = False
    """TEXT and fallback forms: compare case-insensitively."""
    strip_zeros: bool = False
    """TEXT and fallback forms: ignore leading zeros."""

    def __post_init__(self) -> None:
        if (self.resp_base is IdBase.TEXT) != (self.receipt_base is IdBase.TEXT):
            raise ReceiptError(
                f"IdRule mixes TEXT with a numeric base ({self.resp_base}/{self.receipt_base})"
            )

    def base(self, side: IdSide) -> IdBase:
        """The base declared for `side`."""
        return self.resp_base if side is IdSide.RESP else self.receipt_base

    def swapped(self) -> IdRule:
        """The same rule with the two sides' bases exchanged."""
        return IdRule(self.receipt_base, self.resp_base, self.casefold, self.strip_zeros)

    @classmethod
    def from_kannel(cls, msg_id_type: int | None) -> IdRule:
        """The rule Kannel's `msg-id-type` setting describes.

        Bit 0x01 set: submit_sm_resp ids are hex; bit 0x02 set: receipt ids are hex; a clear
        bit means decimal. Unset (None) means ids are strings compared as is.

        Args:
            msg_id_type: 0x00-0x03, or None when the setting is absent.

        Returns:
            The equivalent rule (e.g. 0x01 -> resp HEX, receipt DECIMAL).

        Raises:
            ReceiptError: The value is outside 0-3.
        """
        if msg_id_type is None:
            return cls()
        if not 0 <= msg_id_type <= 3:
            raise ReceiptError(f"msg-id-type must be 0-3, not {msg_id_type}")
        resp = IdBase.HEX if msg_id_type & 0x01 else IdBase.DECIMAL
        receipt = IdBase.HEX if msg_id_type & 0x02 else IdBase.DECIMAL
        return cls(resp, receipt)


#: Ids are opaque strings compared exactly (the SMPP default, Kannel without msg-id-type).
ID_EXACT: Final = IdRule()
#: Opaque strings compared case-insensitively.
ID_CASEFOLD: Final = IdRule(casefold=True)
#: Both sides decimal (Kannel 0x00).
ID_NUMERIC_DECIMAL: Final = IdRule(IdBase.DECIMAL, IdBase.DECIMAL)
#: Both sides hex (Kannel 0x03).
ID_NUMERIC_HEX: Final = IdRule(IdBase.HEX, IdBase.HEX)
#: submit_sm_resp hex, receipt decimal (Kannel 0x01; e.g. Vonage/Nexmo).
ID_HEX_TO_DECIMAL: Final = IdRule(IdBase.HEX, IdBase.DECIMAL)


def _text_form(raw: str, rule: IdRule) -> str:
    value = raw.casefold() if rule.casefold else raw
    if rule.strip_zeros:
        # Strip again: "0 7" must not leave " 7", which would not be a fixed point.
        value = value.lstrip("0").strip() or ("0" if value else "")
    return value


def normalize_id(raw: str, rule: IdRule = ID_EXACT, *, side: IdSide = IdSide.RESP) -> str:
    """The canonical form of a message id under `rule` (see `IdRule`).

    Args:
        raw: The id as read from the PDU or the receipt text.
        rule: How ids are written on each side.
        side: Which side `raw` was read from; only matters when the two bases differ.

    Returns:
        The canonical string; "" for an empty (or all-whitespace) id.
    """
    value = raw.strip()
    base = rule.base(side)
    if base is IdBase.TEXT or not value or len(value) > MAX_NUMERIC_ID_CHARS:
        return _text_form(value, rule)
    if base is IdBase.DECIMAL or (base is IdBase.AUTO and _DEC_RE.fullmatch(value)):
        if _DEC_RE.fullmatch(value):
            return str(int(value))
        return _text_form(value, rule)
    hex_match = _HEX_RE.fullmatch(value)
    if hex_match is not None:
        return str(int(hex_match.group(1), 16))
    return _text_form(value, rule)


def ids_match(resp_id: str, receipt_id: str, rule: IdRule = ID_EXACT) -> bool:
    """Whether a submit_sm_resp id and a receipt id name the same message.

    Args:
        resp_id: The message_id from the submit_sm_resp.
        receipt_id: The id from the receipt text or its receipted_message_id TLV.
        rule: How ids are written on each side.

    Returns:
        True when both canonical forms are equal and non-empty.
    """
    a = normalize_id(resp_id, rule, side=IdSide.RESP)
    return bool(a) and a == normalize_id(receipt_id, rule, side=IdSide.RECEIPT)
