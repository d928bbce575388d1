"""Quiet hours: when a dunning SMS may be handed to the carrier, in the recipient's local time.

Policy (DOMAIN §5, §6.6): JP dunning contact is allowed 08:00-21:00 Asia/Tokyo by default
(貸金業法 21条1項1号, applied to SMS by policy); a debtor-requested window (21条1項2号) comes from
the recipient's CSV row and is intersected with the policy window (the law's hours still
bind); a recipient in another zone is evaluated in that zone, DST included.

Rules this module implements (pure functions of a window, a zone and an instant):

1. Deferral. A send asked for at an instant outside every allowed window is moved to the next
   window opening (`send_slot(...).deferred` is True).
2. Validity cap: ``validity_until <= close of the window the send starts in``. The carrier
   retries an undelivered SMS until its validity period ends (docomo/Rakuten up to 72 h,
   DOMAIN §3), and a retry can reach the handset at any hour. Capping the validity at the
   window close means no carrier retry can deliver inside quiet hours: a submit at 20:55 JST
   gets at most 5 minutes, whatever validity the campaign asked for (the asked validity is the
   other bound: ``validity_until = min(start + validity, close)``).
3. Minimum validity. A window with less than `min_validity` left (default 60 s) is not worth
   starting: the send is deferred to the next window instead, so a 20:59:30 submit does not
   go out with a 30-second validity that the SMSC may refuse (ESME_RINVEXPIRY).
4. Windows are wall-clock times of day. ``HH:MM-HH:MM``; an end at or before the start wraps
   past midnight (``22:00-06:00``); ``24:00`` is the end of the day; several intervals are
   comma-separated (``09:00-12:00,13:00-18:00``). Local wall times are resolved with
   ``fold=0`` (PEP 495): on a DST spring-forward day a time inside the gap (02:30 in New York)
   maps to the instant one hour later on the new offset's wall clock, and on a fall-back day an
   ambiguous time means its first occurrence. Asia/Tokyo has had no DST since 1951, so JST
   windows are exactly 13 hours every day.

Invariants:
    * Pure: instants are timezone-aware `datetime` arguments; results are aware UTC datetimes.
    * `send_slot` never returns ``not_before`` outside an allowed window, and never a
      ``validity_until`` past that window's close.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from gateway.errors import QuietHoursError

__all__ = [
    "DEFAULT_MIN_VALIDITY",
    "DEFAULT_WINDOW",
    "JST",
    "DailyWindow",
    "SendSlot",
    "is_allowed",
    "next_open",
    "open_windows",
    "send_slot",
]

#: Japan Standard Time (no DST).
JST: Final[ZoneInfo] = ZoneInfo("Asia/Tokyo")

_DAY: Final = 86_400
_TIME_RE: Final = re.compile(r"([01]?[0-9]|2[0-4]):([0-5][0-9])")
#: How far ahead `send_slot` looks for an allowed window before giving up.
_SEARCH_DAYS: Final = 8


def _parse_time(text: str, whole: str) -> int:
    match = _TIME_RE.fullmatch(text.strip())
    if match is None:
        raise QuietHoursError(f"{whole!r}: {text.strip()!r} is not a time HH:MM")
    hours, minutes = int(match.group(1)), int(match.group(2))
    seconds = hours * 3600 + minutes * 60
    if seconds > _DAY:
        raise QuietHoursError(f"{whole!r}: {text.strip()!r} is after 24:00")
    return seconds


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


@dataclass(frozen=True, slots=True)
class DailyWindow:
    """The times of day at which contact is allowed, in some zone's wall-clock time."""

    intervals: tuple[tuple[int, int], ...]
    """Sorted, disjoint [start, end) intervals in seconds since local midnight (0..86400)."""

    @classmethod
    def parse(cls, text: str) -> DailyWindow:
        """Parse ``HH:MM-HH:MM[,HH:MM-HH:MM...]`` (see rule 4 of the module docstring).

        Raises:
            QuietHoursError: Malformed, or an interval that starts and ends at the same time.
        """
        pieces: list[tuple[int, int]] = []
        for chunk in text.split(","):
            start_text, dash, end_text = chunk.partition("-")
            if not dash:
                raise QuietHoursError(f"{text!r}: expected HH:MM-HH:MM")
            start = _parse_time(start_text, text)
            end = _parse_time(end_text, text)
            if start == _DAY:
                start = 0
            if start == end or (start == 0 and end == 0):
                raise QuietHoursError(f"{text!r}: an interval must not start and end together")
            if end > start:
                pieces.append((start, end))
            else:  # wraps past midnight
                pieces.append((start, _DAY))
                if end:
                    pieces.append((0, end))
        return cls(_normalise(pieces))

    def intersect(self, other: DailyWindow) -> DailyWindow:
        """The times allowed by both windows (e.g. the law's hours and the debtor's request)."""
        out: list[tuple[int, int]] = []
        for a0, a1 in self.intervals:
            for b0, b1 in other.intervals:
                lo, hi = max(a0, b0), min(a1, b1)
                if lo < hi:
                    out.append((lo, hi))
        return DailyWindow(_normalise(out))

    @property
    def empty(self) -> bool:
        """True when no time of day is allowed."""
        return not self.intervals

    def __str__(self) -> str:
        if self.empty:
            return "(never)"
        return ",".join(f"{_hhmm(a)}-{_hhmm(b)}" for a, b in self.intervals)


def _normalise(pieces: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(pieces):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


#: The JP dunning default: 08:00-21:00 (DOMAIN §6.6).
DEFAULT_WINDOW: Final[DailyWindow] = DailyWindow.parse("08:00-21:00")
#: Shortest validity worth starting a send with (rule 3).
DEFAULT_MIN_VALIDITY: Final[timedelta] = timedelta(seconds=60)


def _local(day: date, seconds: int, zone: ZoneInfo) -> datetime:
    if seconds == _DAY:
        day, seconds = day + timedelta(days=1), 0
    wall = datetime.combine(day, time(seconds // 3600, seconds % 3600 // 60), tzinfo=zone)
    return wall.astimezone(UTC)


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise QuietHoursError(f"{at!r} is a naive datetime: pass an aware instant")


def open_windows(
    window: DailyWindow, zone: ZoneInfo, around: datetime, *, days: int = _SEARCH_DAYS
) -> list[tuple[datetime, datetime]]:
    """The allowed [open, close) spans from the local day before `around` for `days` days.

    Spans that touch across midnight (``22:00-06:00``) are merged into one.

    Args:
        window: Allowed times of day.
        zone: The recipient's zone.
        around: An aware instant.
        days: Local days to cover after the day of `around`.

    Returns:
        Aware UTC (open, close) pairs in time order.
    """
    _require_aware(around)
    first = around.astimezone(zone).date() - timedelta(days=1)
    spans: list[tuple[datetime, datetime]] = []
    for offset in range(days + 2):
        day = first + timedelta(days=offset)
        for start, end in window.intervals:
            opened, closed = _local(day, start, zone), _local(day, end, zone)
            if closed <= opened:  # a span swallowed by a DST gap
                continue
            if spans and opened <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], closed))
            else:
                spans.append((opened, closed))
    return spans


def is_allowed(window: DailyWindow, zone: ZoneInfo, at: datetime) -> bool:
    """True when `at` lies inside an allowed window of `zone`'s local time."""
    return any(opened <= at < closed for opened, closed in open_windows(window, zone, at, days=1))


def next_open(window: DailyWindow, zone: ZoneInfo, at: datetime) -> datetime:
    """`at` itself when allowed, otherwise the next window opening.

    Raises:
        QuietHoursError: The window allows no time at all.
    """
    for opened, closed in open_windows(window, zone, at):
        if at < closed:
            return max(at, opened)
    raise QuietHoursError(f"window {window} in {zone.key} allows no time")


@dataclass(frozen=True, slots=True)
class SendSlot:
    """When a message may be handed to the carrier, and until when the carrier may try."""

    not_before: datetime
    """Earliest hand-off (aware, UTC): the asked time, or the next window opening."""
    validity_until: datetime
    """End of the validity period (aware, UTC): at most the close of that window."""
    deferred: bool
    """True when quiet hours moved the send (``not_before`` later than asked)."""


def send_slot(
    window: DailyWindow,
    zone: ZoneInfo,
    at: datetime,
    *,
    validity: timedelta,
    min_validity: timedelta = DEFAULT_MIN_VALIDITY,
) -> SendSlot:
    """Where a send asked for at `at` goes, under rules 1-3 of the module docstring.

    Args:
        window: Allowed times of day (policy window, already intersected with the debtor's).
        zone: The recipient's zone.
        at: The asked send time (aware).
        validity: The validity the campaign asks for (e.g. 72 h).
        min_validity: Windows with less time left than this are skipped.

    Returns:
        The slot.

    Raises:
        QuietHoursError: No window with at least `min_validity` within the next 8 days, or a
            non-positive `validity`.
    """
    if validity <= timedelta(0):
        raise QuietHoursError(f"validity must be positive, got {validity}")
    for opened, closed in open_windows(window, zone, at):
        start = max(at, opened)
        if closed - start >= min_validity:
            until = min(start + validity, closed)
            return SendSlot(start.astimezone(UTC), until.astimezone(UTC), start > at)
    raise QuietHoursError(
        f"window {window} in {zone.key} has no time with {min_validity} left within "
        f"{_SEARCH_DAYS} days of {at.isoformat()}"
    )
