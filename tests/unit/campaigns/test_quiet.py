"""Quiet hours: boundaries, deferral, the validity cap, per-recipient windows, DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gateway.campaigns.errors import QuietHoursError
from gateway.campaigns.quiet import (
    DEFAULT_WINDOW,
    JST,
    DailyWindow,
    is_allowed,
    next_open,
    send_slot,
)

H72 = timedelta(hours=72)
NEW_YORK = ZoneInfo("America/New_York")


def at(hour: int, minute: int = 0, second: int = 0, day: int = 27) -> datetime:
    return datetime(2026, 5, day, hour, minute, second, tzinfo=JST)


@pytest.mark.parametrize(
    ("hour", "minute", "allowed"),
    [(7, 59, False), (8, 0, True), (12, 0, True), (20, 59, True), (21, 0, False), (0, 0, False)],
)
def test_jst_boundaries(hour: int, minute: int, allowed: bool) -> None:
    assert is_allowed(DEFAULT_WINDOW, JST, at(hour, minute)) is allowed


def test_0759_defers_to_0800_same_day() -> None:
    slot = send_slot(DEFAULT_WINDOW, JST, at(7, 59), validity=H72)
    assert slot.deferred
    assert slot.not_before == at(8, 0)
    assert slot.validity_until == at(21, 0)


def test_0800_sends_now_with_validity_capped_at_2100() -> None:
    slot = send_slot(DEFAULT_WINDOW, JST, at(8, 0), validity=H72)
    assert not slot.deferred
    assert (slot.not_before, slot.validity_until) == (at(8, 0), at(21, 0))


def test_2055_gets_five_minutes() -> None:
    slot = send_slot(DEFAULT_WINDOW, JST, at(20, 55), validity=H72)
    assert not slot.deferred
    assert slot.validity_until - slot.not_before == timedelta(minutes=5)


def test_2059_gets_the_last_minute_and_2059_30_is_deferred() -> None:
    slot = send_slot(DEFAULT_WINDOW, JST, at(20, 59), validity=H72)
    assert (slot.deferred, slot.validity_until) == (False, at(21, 0))
    late = send_slot(DEFAULT_WINDOW, JST, at(20, 59, 30), validity=H72)
    assert late.deferred
    assert late.not_before == at(8, 0, day=28)


def test_2100_and_night_defer_to_next_morning() -> None:
    for hour in (21, 23):
        slot = send_slot(DEFAULT_WINDOW, JST, at(hour), validity=H72)
        assert slot.deferred
        assert slot.not_before == at(8, 0, day=28)
        assert slot.validity_until == at(21, 0, day=28)
    assert next_open(DEFAULT_WINDOW, JST, at(3)) == at(8, 0)


def test_short_validity_is_kept() -> None:
    slot = send_slot(DEFAULT_WINDOW, JST, at(10), validity=timedelta(hours=1))
    assert slot.validity_until == at(11)


def test_results_are_utc() -> None:
    slot = send_slot(DEFAULT_WINDOW, JST, at(23), validity=H72)
    assert slot.not_before.tzinfo is UTC
    assert slot.not_before == datetime(2026, 5, 27, 23, 0, tzinfo=UTC)


def test_jst_windows_are_13_hours_every_day() -> None:
    start = at(9)
    for day in range(400):
        t = start + timedelta(days=day)
        slot = send_slot(DEFAULT_WINDOW, JST, t.replace(hour=7), validity=H72)
        assert slot.validity_until - slot.not_before == timedelta(hours=13)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("08:00-21:00", "08:00-21:00"),
        ("22:00-06:00", "00:00-06:00,22:00-24:00"),
        ("09:00-12:00,13:00-18:00", "09:00-12:00,13:00-18:00"),
        ("00:00-24:00", "00:00-24:00"),
        ("8:00-21:00", "08:00-21:00"),
        ("20:00-00:00", "20:00-24:00"),
    ],
)
def test_parse(text: str, shown: str) -> None:
    assert str(DailyWindow.parse(text)) == shown


@pytest.mark.parametrize("text", ["", "08:00", "8-21", "25:00-26:00", "08:00-08:00", "08:60-09:00"])
def test_parse_errors(text: str) -> None:
    with pytest.raises(QuietHoursError):
        DailyWindow.parse(text)


def test_intersection_with_the_policy_window() -> None:
    own = DailyWindow.parse("06:00-09:00,18:00-23:00")
    assert str(own.intersect(DEFAULT_WINDOW)) == "08:00-09:00,18:00-21:00"
    assert DailyWindow.parse("22:00-07:00").intersect(DEFAULT_WINDOW).empty


def test_per_recipient_window_with_a_lunch_break() -> None:
    window = DailyWindow.parse("09:00-12:00,13:00-18:00").intersect(DEFAULT_WINDOW)
    slot = send_slot(window, JST, at(12, 30), validity=H72)
    assert (slot.not_before, slot.validity_until) == (at(13), at(18))


def test_wrapping_window_keeps_its_real_close() -> None:
    window = DailyWindow.parse("22:00-06:00")
    slot = send_slot(window, JST, at(23), validity=H72)
    assert slot.validity_until == at(6, day=28)


def test_empty_window_raises() -> None:
    with pytest.raises(QuietHoursError):
        send_slot(DailyWindow(()), JST, at(10), validity=H72)
    with pytest.raises(QuietHoursError):
        send_slot(DEFAULT_WINDOW, JST, at(10), validity=timedelta(0))


def test_naive_datetime_refused() -> None:
    with pytest.raises(QuietHoursError):
        is_allowed(DEFAULT_WINDOW, JST, datetime(2026, 5, 27, 10))


# --- a zone with DST (per-recipient windows) ----------------------------------------------------


def ny(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NEW_YORK)


def test_new_york_spring_forward_opens_at_0800_edt() -> None:
    # 2026-03-08: 02:00 EST -> 03:00 EDT. 01:00 EST is 06:00 UTC; 08:00 EDT is 12:00 UTC.
    slot = send_slot(DEFAULT_WINDOW, NEW_YORK, ny(3, 8, 1), validity=H72)
    assert slot.not_before == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    assert slot.validity_until == datetime(2026, 3, 9, 1, 0, tzinfo=UTC)  # 21:00 EDT


def test_new_york_fall_back_opens_at_0800_est() -> None:
    # 2026-11-01: 02:00 EDT -> 01:00 EST. 08:00 EST is 13:00 UTC.
    slot = send_slot(DEFAULT_WINDOW, NEW_YORK, ny(11, 1, 0, 30), validity=H72)
    assert slot.not_before == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)


def test_new_york_boundaries_in_local_time() -> None:
    assert not is_allowed(DEFAULT_WINDOW, NEW_YORK, ny(7, 1, 7, 59))
    assert is_allowed(DEFAULT_WINDOW, NEW_YORK, ny(7, 1, 8, 0))
    assert is_allowed(DEFAULT_WINDOW, NEW_YORK, ny(7, 1, 20, 59))
    assert not is_allowed(DEFAULT_WINDOW, NEW_YORK, ny(7, 1, 21, 0))
    # 08:00 JST on 2 July is 19:00 EDT on 1 July: allowed in Tokyo terms, and in New York.
    tokyo_morning = datetime(2026, 7, 2, 8, 0, tzinfo=JST)
    assert is_allowed(DEFAULT_WINDOW, NEW_YORK, tokyo_morning)
    # 23:00 JST is 10:00 EDT: night in Tokyo, daytime for the recipient.
    assert is_allowed(DEFAULT_WINDOW, NEW_YORK, datetime(2026, 7, 1, 23, 0, tzinfo=JST))


def test_window_inside_the_dst_gap() -> None:
    """02:00-03:00 does not exist on 2026-03-08 in New York: that day has no such window."""
    window = DailyWindow.parse("02:00-03:00")
    slot = send_slot(window, NEW_YORK, ny(3, 8, 0), validity=H72)
    assert slot.not_before == datetime(2026, 3, 9, 6, 0, tzinfo=UTC)  # 02:00 EDT the next day
