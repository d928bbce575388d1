"""Schedules: monthly edge cases (day 31, leap years, count/until), sequences, catch-up."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from gateway.campaigns.config import ScheduleSpec
from gateway.campaigns.errors import CampaignConfigError, ScheduleError
from gateway.campaigns.quiet import JST
from gateway.campaigns.schedule import (
    ONCE_KEY,
    Monthly,
    Once,
    ReminderSequence,
    Slot,
    Step,
    monthly_date,
    pick_due,
)


def jst(y: int, m: int, d: int, h: int = 10, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=JST)


@pytest.mark.parametrize(
    ("year", "month", "day", "expected"),
    [
        (2026, 1, 31, date(2026, 1, 31)),
        (2026, 2, 31, date(2026, 2, 28)),
        (2028, 2, 31, date(2028, 2, 29)),
        (2028, 2, 29, date(2028, 2, 29)),
        (2026, 2, 29, date(2026, 2, 28)),
        (2026, 4, 31, date(2026, 4, 30)),
        (2026, 6, 30, date(2026, 6, 30)),
        (2026, 12, 1, date(2026, 12, 1)),
    ],
)
def test_monthly_date_clamps_to_the_last_day(
    year: int, month: int, day: int, expected: date
) -> None:
    assert monthly_date(year, month, day) == expected


@pytest.mark.parametrize("day", [0, 32, -1])
def test_monthly_day_out_of_range(day: int) -> None:
    with pytest.raises(ScheduleError):
        monthly_date(2026, 1, day)
    with pytest.raises(ScheduleError):
        Monthly(day)


def test_monthly_31_through_a_year() -> None:
    m = Monthly(31, time(9, 0), JST, start=date(2026, 1, 1))
    days = [s.at.astimezone(JST).date().day for s in m.occurrences(date(2026, 12, 31)) if s.at]
    assert days == [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    keys = [s.key for s in m.occurrences(date(2026, 3, 1))]
    assert keys == ["2026-01", "2026-02", "2026-03"]


def test_monthly_slots_are_those_due_at_now() -> None:
    m = Monthly(25, time(10, 0), JST, start=date(2026, 1, 1))
    assert [s.key for s in m.slots(None, jst(2026, 3, 25, 9, 59))] == ["2026-01", "2026-02"]
    assert [s.key for s in m.slots(None, jst(2026, 3, 25, 10, 0))] == [
        "2026-01",
        "2026-02",
        "2026-03",
    ]
    assert m.remaining_after(None, jst(2026, 3, 25, 10, 0))


def test_monthly_start_count_and_until() -> None:
    starting_late = Monthly(10, start=date(2026, 1, 15))
    assert starting_late.occurrences(date(2026, 2, 28))[0].key == "2026-02"
    counted = Monthly(10, start=date(2026, 1, 1), count=2)
    assert [s.key for s in counted.occurrences(date(2027, 1, 1))] == ["2026-01", "2026-02"]
    assert not counted.remaining_after(None, jst(2026, 2, 10, 10, 0))
    until = Monthly(31, start=date(2026, 1, 1), until=date(2026, 2, 28))
    assert [s.key for s in until.occurrences(date(2027, 1, 1))] == ["2026-01", "2026-02"]


def test_monthly_spec_builds() -> None:
    spec = ScheduleSpec(kind="monthly", day=31, at="09:30", start=date(2026, 1, 1))
    built = spec.build()
    assert isinstance(built, Monthly)
    assert built.at == time(9, 30)
    with pytest.raises(CampaignConfigError):
        ScheduleSpec(kind="monthly").build()
    with pytest.raises(CampaignConfigError):
        ScheduleSpec(kind="monthly", day=1, at="9h").build()


SEQ = ReminderSequence((Step("before", -3), Step("due", 0), Step("overdue", 3)), time(10, 0), JST)


def test_sequence_slots_follow_the_due_date() -> None:
    due = date(2026, 5, 27)
    planned = SEQ.planned(due)
    assert [s.at.astimezone(JST) for s in planned if s.at] == [
        jst(2026, 5, 24),
        jst(2026, 5, 27),
        jst(2026, 5, 30),
    ]
    assert [s.key for s in SEQ.slots(due, jst(2026, 5, 27, 9, 59))] == ["before"]
    assert [s.key for s in SEQ.slots(due, jst(2026, 5, 27, 10, 0))] == ["before", "due"]
    assert SEQ.remaining_after(due, jst(2026, 5, 27, 10, 0))
    assert not SEQ.remaining_after(due, jst(2026, 5, 30, 10, 0))
    assert SEQ.slots(None, jst(2026, 5, 27)) == []


def test_sequence_crossing_month_and_year_ends() -> None:
    planned = SEQ.planned(date(2026, 12, 30))
    assert [s.at.astimezone(JST).date() for s in planned if s.at] == [
        date(2026, 12, 27),
        date(2026, 12, 30),
        date(2027, 1, 2),
    ]


@pytest.mark.parametrize(
    "steps",
    [
        (),
        (Step("a", 0), Step("a", 1)),
        (Step("late", 3), Step("early", -3)),
        (Step(ONCE_KEY, 0),),
        (Step("2026-05", 0),),
    ],
)
def test_bad_sequences(steps: tuple[Step, ...]) -> None:
    with pytest.raises(ScheduleError):
        ReminderSequence(steps)


def test_pick_due_sends_the_latest_and_skips_the_rest() -> None:
    a, b, c = Slot("before", None, 0), Slot("due", None, 1), Slot("overdue", None, 2)
    assert pick_due([a, b, c], []) == (c, [a, b])
    assert pick_due([a, b], ["before"]) == (b, [])
    assert pick_due([a, b], ["before", "due"]) == (None, [])
    assert pick_due([], []) == (None, [])


def test_once() -> None:
    assert Once().slots(None, jst(2026, 5, 27)) == [Slot(ONCE_KEY, None)]
    later = jst(2026, 6, 1)
    assert Once(later).slots(None, jst(2026, 5, 27)) == [Slot(ONCE_KEY, later)]
    assert Once.handoff_early
    assert not Monthly.handoff_early
    with pytest.raises(ScheduleError):
        Once(datetime(2026, 6, 1))
    spec = ScheduleSpec(kind="once", at="2026-06-01T10:00")
    built = spec.build()
    assert isinstance(built, Once)
    assert built.at == jst(2026, 6, 1)
    override = spec.build(send_at=jst(2026, 6, 2))
    assert isinstance(override, Once)
    assert override.at == jst(2026, 6, 2)


def test_unbounded_monthly_always_has_more() -> None:
    m = Monthly(1, start=date(2026, 1, 1))
    assert m.remaining_after(None, jst(2026, 5, 27) + timedelta(days=3000))
