"""Typed conversion of CSV cell strings: amounts, dates, time zones (pure).

A CSV cell is always text. The campaign fields that a template formats or a policy computes
with have a type, and the conversion happens once, at import, so that a bad cell is reported
with its line number instead of failing in the middle of a send.

Invariants:
    * Every parser folds full-width characters first (NFKC: `１２，０００円` is `12,000円`) and
      strips surrounding whitespace, then accepts a closed list of spellings; anything else
      raises `ValueError` with a short reason that the import report shows as it is.
    * Values round-trip through `to_json` / `from_json` (the repository stores them as JSON).
    * Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "MAX_AMOUNT",
    "FieldType",
    "MergeValue",
    "convert",
    "from_json",
    "parse_amount",
    "parse_date",
    "parse_timezone",
    "to_json",
]

#: Largest amount accepted (a guard against a misplaced column of phone numbers or ids).
MAX_AMOUNT: Final[int] = 10**12

#: A typed merge-field value.
MergeValue = str | int | date


class FieldType(StrEnum):
    """Type of a merge field."""

    STR = "str"
    """Text, kept as written (surrounding whitespace stripped)."""
    INT = "int"
    """A non-negative whole amount: `85000`, `85,000`, `¥85,000`, `85,000円`."""
    DATE = "date"
    """A calendar date: `2026-05-27`, `2026/5/27`, `20260527`, `2026年5月27日`."""


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


_AMOUNT_RE: Final = re.compile(r"¥?\s*([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)\s*円?")


def parse_amount(text: str) -> int:
    """Parse a yen amount.

    Args:
        text: The cell, e.g. ``"85000"``, ``"85,000"``, ``"¥85,000"``, ``"８５，０００円"``.

    Returns:
        The amount as an int.

    Raises:
        ValueError: Not a non-negative whole amount (decimals, signs and misplaced commas are
            refused: a dunning amount is never guessed).
    """
    folded = _fold(text)
    match = _AMOUNT_RE.fullmatch(folded)
    if match is None:
        raise ValueError(f"{text!r} is not a whole yen amount")
    value = int(match.group(1).replace(",", ""))
    if value > MAX_AMOUNT:
        raise ValueError(f"{text!r} is larger than {MAX_AMOUNT}")
    return value


_DATE_RES: Final = (
    re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:\s+0{1,2}:00(?::00)?)?"),
    re.compile(r"(\d{4})(\d{2})(\d{2})"),
    re.compile(r"(\d{4})年\s*(\d{1,2})月\s*(\d{1,2})日"),
)


def parse_date(text: str) -> date:
    """Parse a calendar date.

    Args:
        text: ``2026-05-27``, ``2026/5/27`` (a trailing ``0:00`` as spreadsheets write it is
            allowed), ``2026.05.27``, ``20260527`` or ``2026年5月27日``.

    Returns:
        The date.

    Raises:
        ValueError: Another spelling, or no such day (``2026-02-30``).
    """
    folded = _fold(text)
    for pattern in _DATE_RES:
        match = pattern.fullmatch(folded)
        if match is not None:
            year, month, day = (int(g) for g in match.groups())
            try:
                return date(year, month, day)
            except ValueError as exc:
                raise ValueError(f"{text!r} is not a calendar date ({exc})") from None
    raise ValueError(f"{text!r} is not a date (expected YYYY-MM-DD, YYYY/M/D or YYYY年M月D日)")


def parse_timezone(text: str) -> ZoneInfo:
    """Parse an IANA time zone name (``Asia/Tokyo``, ``America/New_York``).

    Raises:
        ValueError: Not a known IANA zone (abbreviations such as ``JST`` are refused: they
            are ambiguous and carry no DST rules).
    """
    name = _fold(text)
    if not name or name.startswith(("/", ".")) or ".." in name:
        raise ValueError(f"{text!r} is not an IANA time zone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{text!r} is not an IANA time zone (e.g. Asia/Tokyo)") from None


def convert(text: str, field_type: FieldType) -> MergeValue:
    """Convert one cell to its field type.

    Raises:
        ValueError: The cell does not parse as that type.
    """
    if field_type is FieldType.INT:
        return parse_amount(text)
    if field_type is FieldType.DATE:
        return parse_date(text)
    return text.strip()


def to_json(value: MergeValue) -> str | int:
    """A JSON-ready form of a typed value (dates as ISO strings)."""
    if isinstance(value, date):
        return value.isoformat()
    return value


def from_json(value: object, field_type: FieldType) -> MergeValue:
    """Rebuild a typed value stored by `to_json`.

    Raises:
        ValueError: The stored value does not match the type (a corrupt row).
    """
    if field_type is FieldType.INT and isinstance(value, int):
        return value
    if field_type is FieldType.DATE and isinstance(value, str):
        return date.fromisoformat(value)
    if field_type is FieldType.STR and isinstance(value, str):
        return value
    raise ValueError(f"stored value {value!r} is not a {field_type}")
