"""Typed conversion of CSV cells: amounts, dates, time zones."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.campaigns.values import (
    FieldType,
    convert,
    from_json,
    parse_amount,
    parse_date,
    parse_timezone,
    to_json,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("85000", 85000),
        ("85,000", 85000),
        ("1,234,567", 1234567),
        ("¥85,000", 85000),
        ("￥85,000", 85000),
        ("85,000円", 85000),
        ("８５，０００円", 85000),
        (" 0 ", 0),
    ],
)
def test_amounts(text: str, expected: int) -> None:
    assert parse_amount(text) == expected


@pytest.mark.parametrize(
    "text", ["", "abc", "85.5", "-100", "8,50,00", "1e6", "85 000", "10000000000000"]
)
def test_bad_amounts(text: str) -> None:
    with pytest.raises(ValueError):
        parse_amount(text)


@pytest.mark.parametrize(
    "text",
    [
        "2026-05-27",
        "2026/05/27",
        "2026/5/27",
        "2026.5.27",
        "20260527",
        "2026年5月27日",
        "２０２６／５／２７",
        "2026/05/27 0:00",
        "2026/05/27 00:00:00",
    ],
)
def test_dates(text: str) -> None:
    assert parse_date(text) == date(2026, 5, 27)


@pytest.mark.parametrize(
    "text", ["2026-02-30", "27/05/2026", "May 27", "2026/05/27 10:00", "令和8年5月27日"]
)
def test_bad_dates(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date(text)


def test_timezones() -> None:
    assert parse_timezone("Asia/Tokyo").key == "Asia/Tokyo"
    assert parse_timezone(" America/New_York ").key == "America/New_York"
    for bad in ("JST", "Mars/Olympus", "../etc/passwd", ""):
        with pytest.raises(ValueError):
            parse_timezone(bad)


@pytest.mark.parametrize(
    ("text", "field_type"),
    [("85,000", FieldType.INT), ("2026/5/27", FieldType.DATE), (" 山田 ", FieldType.STR)],
)
def test_json_round_trip(text: str, field_type: FieldType) -> None:
    value = convert(text, field_type)
    assert from_json(to_json(value), field_type) == value


def test_from_json_refuses_a_mismatch() -> None:
    with pytest.raises(ValueError):
        from_json("85000", FieldType.INT)
