"""When a campaign's messages are due: once, monthly, or a reminder sequence around a due date.

Three kinds of schedule, each a pure function of ``now`` (and, for sequences, the recipient's
due date) that lists *slots*. A slot is one message per recipient, named by a stable key that
the repository uses to remember what was sent (so a slot is never sent twice):

* `Once` — key ``once``. ``at`` None means "when the campaign is sent"; a future ``at`` is
  handed to the gateway at once with ``not_before = at`` (`handoff_early` is True): the store
  keeps it ``scheduled`` until then.
* `Monthly` — key ``YYYY-MM``, on ``day`` of every month at ``at`` local time, from ``start``,
  for ``count`` occurrences or until ``until``. **Day 29-31 in a shorter month is that month's
  last day** (a reminder "on the 31st" goes out on 28/29 February, 30 April...), never the
  first days of the next month: a reminder before a direct debit must stay in its month.
* `Sequence` — one key per step (``before``, ``due``, ``overdue``...), at ``due_date +
  offset_days`` at ``at`` local time, for each recipient's own due date.

Monthly and sequence slots are handed over only when due (``handoff_early`` False), so that a
recipient who replied or paid in the meantime is not sent the next one (the runner checks
that at each hand-off).

Catch-up rule (`pick_due`): when several slots of one recipient are due and unsent (the runner
was not called for a while), only the latest is sent and the earlier ones are recorded as
skipped: a debtor gets "overdue" once, not "3 days before", "due today" and "overdue" at once.

Invariants:
    * Pure: ``now`` and dates are arguments; results are aware datetimes.
    * Slot keys are unique within a schedule and stable across calls.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from gateway.campaigns.errors import ScheduleError
from gateway.policy.quiet import JST

__all__ = [
    "ONCE_KEY",
    "Monthly",
    "Once",
    "ReminderSequence",
    "Schedule",
    "Slot",
    "Step",
    "monthly_date",
    "pick_due",
]

#: The key of the single slot of a `Once` schedule.
ONCE_KEY: Final[str] = "once"


@dataclass(frozen=True, slots=True)
class Slot:
    """One message per recipient that a schedule calls for."""

    key: str
    """Stable name (``once``, ``2026-05``, ``overdue``)."""
    at: datetime | None
    """Planned instant (aware); None for an immediate `Once`."""
    step: int = 0
    """Index of the sequence step (0 for once / monthly)."""


def monthly_date(year: int, month: int, day: int) -> date:
    """Day `day` of the month, or the month's last day when it is shorter (31 -> 28 Feb).

    Raises:
        ScheduleError: `day` outside 1..31.
    """
    if not 1 <= day <= 31:
        raise ScheduleError(f"monthly day must be 1..31, got {day}")
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _at(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Once:
    """A single send."""

    at: datetime | None = None
    """When (aware); None: as soon as the campaign is sent."""

    handoff_early = True

    def __post_init__(self) -> None:
        if self.at is not None and self.at.utcoffset() is None:
            raise ScheduleError("Once.at must be an aware datetime")

    def slots(self, due_date: date | None, now: datetime) -> list[Slot]:
        """The one slot, whatever `now` is (it is handed over early)."""
        del due_date, now
        return [Slot(ONCE_KEY, self.at)]

    def remaining_after(self, due_date: date | None, now: datetime) -> bool:
        """Whether slots come after `now` (never: the one slot is handed over at once)."""
        del due_date, now
        return False


@dataclass(frozen=True, slots=True)
class Monthly:
    """A recurring send on a day of every month."""

    day: int
    """Day of the month, 1..31 (clamped to the month's last day)."""
    at: time = time(10, 0)
    """Local time of day."""
    zone: ZoneInfo = JST
    """Zone of `at`."""
    start: date = date(1970, 1, 1)
    """No occurrence before this date."""
    count: int | None = None
    """Number of occurrences from `start` (None: unbounded unless `until`)."""
    until: date | None = None
    """No occurrence after this date."""

    handoff_early = False

    def __post_init__(self) -> None:
        if not 1 <= self.day <= 31:
            raise ScheduleError(f"monthly day must be 1..31, got {self.day}")
        if self.count is not None and self.count < 1:
            raise ScheduleError(f"monthly count must be >= 1, got {self.count}")

    def occurrences(self, through: date) -> list[Slot]:
        """Occurrences from `start` up to and including the month of `through`, capped by
        `count` and `until`."""
        out: list[Slot] = []
        year, month = self.start.year, self.start.month
        while (year, month) <= (through.year, through.month):
            day = monthly_date(year, month, self.day)
            if self.until is not None and day > self.until:
                break
            if day >= self.start:
                out.append(Slot(f"{year:04d}-{month:02d}", _at(day, self.at, self.zone)))
                if self.count is not None and len(out) >= self.count:
                    break
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out

    def slots(self, due_date: date | None, now: datetime) -> list[Slot]:
        """Occurrences planned at or before `now`."""
        del due_date
        return [
            s for s in self.occurrences(now.astimezone(self.zone).date()) if s.at and s.at <= now
        ]

    def remaining_after(self, due_date: date | None, now: datetime) -> bool:
        """Whether an occurrence is planned after `now`."""
        del due_date
        local = now.astimezone(self.zone).date()
        horizon = date(local.year + 1, local.month, 1)
        return any(s.at is not None and s.at > now for s in self.occurrences(horizon))


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a reminder sequence."""

    key: str
    """Slot key (``before``, ``due``, ``overdue``)."""
    offset_days: int
    """Days from the recipient's due date (negative: before it)."""
    body: str | None = None
    """This step's template body; None: the template's main body."""
    stage: str | None = None
    """This step's notice stage (lint: threatening phrases only matter in a first notice)."""


@dataclass(frozen=True, slots=True)
class ReminderSequence:
    """Messages at offsets from each recipient's due date."""

    steps: tuple[Step, ...]
    """The steps, in offset order."""
    at: time = time(10, 0)
    """Local time of day of every step."""
    zone: ZoneInfo = JST
    """Zone of `at`."""

    handoff_early = False

    def __post_init__(self) -> None:
        if not self.steps:
            raise ScheduleError("a reminder sequence needs at least one step")
        keys = [s.key for s in self.steps]
        if len(set(keys)) != len(keys):
            raise ScheduleError(f"step keys must be unique, got {keys}")
        if ONCE_KEY in keys or any(not k or "-" in k for k in keys):
            raise ScheduleError(f"step keys must be non-empty, without '-', not {ONCE_KEY!r}")
        offsets = [s.offset_days for s in self.steps]
        if offsets != sorted(offsets):
            raise ScheduleError(f"steps must be in offset order, got {offsets}")

    def planned(self, due_date: date) -> list[Slot]:
        """Every step's slot for a recipient due on `due_date`."""
        return [
            Slot(step.key, _at(due_date + timedelta(days=step.offset_days), self.at, self.zone), i)
            for i, step in enumerate(self.steps)
        ]

    def slots(self, due_date: date | None, now: datetime) -> list[Slot]:
        """Steps planned at or before `now` (none without a due date)."""
        if due_date is None:
            return []
        return [s for s in self.planned(due_date) if s.at is not None and s.at <= now]

    def remaining_after(self, due_date: date | None, now: datetime) -> bool:
        """Whether a step is planned after `now`."""
        if due_date is None:
            return False
        return any(s.at is not None and s.at > now for s in self.planned(due_date))


#: Any schedule.
Schedule = Once | Monthly | ReminderSequence


def pick_due(due: Sequence[Slot], done: Iterable[str]) -> tuple[Slot | None, list[Slot]]:
    """Apply the catch-up rule to one recipient's due slots.

    Args:
        due: Slots planned at or before now, in time order.
        done: Keys already sent, skipped or excluded for this recipient.

    Returns:
        The slot to send now (the latest due one not done, or None) and the earlier undone
        slots it supersedes.
    """
    finished = set(done)
    open_slots = [s for s in due if s.key not in finished]
    if not open_slots:
        return None, []
    return open_slots[-1], open_slots[:-1]
