"""Number ownership timelines (recycling) and the 他人接続判定 owner check (DOMAIN §2, §6.3).

A number's life: ACTIVE(owner) -> DISCONNECTED(day d) -> quarantine -> ACTIVE(new owner, day r)
-> ... A `NumberHistory` holds the tenures, oldest first; gaps between tenures are the
disconnected / quarantine periods, during which the number is unassigned (UNDELIV err 1).

Generated histories (for the population) are built backwards from the epoch, because every
generated subscriber is in service at the epoch: the current tenure's age is Exp(annual rate)
(the backward recurrence time of a Poisson process), before it lies a quarantine, before that the
previous owner's tenure, and so on until the history start. Forwards, within the horizon, the
current owner may disconnect; the number is then reassigned after quarantine with probability
`reassigned_share`, or stays unassigned.

The owner check answers (number, reference date) like the FCC Reassigned Numbers Database and the
JP vendors (DOMAIN §6.3):

    changed    some visible change date d (a disconnect or a reassignment) has d >= reference
               (`same_day_counts`, RND semantics), or d > reference (IMAoS: from the next day)
    unchanged  the database knows the number and no visible change qualifies
    no_data    the reference date is before the database's history start

Only the most recent visible disconnect date is returned (RND data minimisation). A change is
visible at `now` when its date is at least `db_lag_days` before today's date: a stale database
lets recent reassignments through.

Invariants:
    * Tenure boundaries are whole local days: a tenure covers [start day 00:00, end day 00:00)
      in the network time zone, so a disconnect date is the first day without the old owner.
    * Tenures are disjoint and ordered; owner ids are unique per number
      (`<number>@<first day>`, or `<number>@origin` for a tenure older than the history).
    * Pure: the generator draws only from the `FateRandom` it is given; `now` is an argument.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum

from simulator.network.config import OwnerCheckConfig, OwnershipSpec, RecyclingConfig
from simulator.network.fate import FateRandom

__all__ = [
    "NumberHistory",
    "OwnerCheckResult",
    "OwnerStatus",
    "OwnershipDatabase",
    "Tenure",
    "generate_history",
    "history_from_spec",
]

_DAY = 86_400.0
_YEAR_DAYS = 365.25


class OwnerStatus(StrEnum):
    """Answer of the owner check."""

    CHANGED = "changed"
    """The number changed hands (or was disconnected) on or after the reference date."""
    UNCHANGED = "unchanged"
    """No visible change since the reference date."""
    NO_DATA = "no_data"
    """The reference date is older than the database's history."""


@dataclass(frozen=True, slots=True)
class Tenure:
    """One owner's holding of a number."""

    owner: str
    """Owner id."""
    first_day: date | None
    """First local day held; None when older than the generated history."""
    end_day: date | None
    """Disconnect day (first day no longer held); None while still held."""
    start: float
    """`first_day` 00:00 local as epoch seconds (-inf when `first_day` is None)."""
    end: float
    """`end_day` 00:00 local as epoch seconds (+inf when `end_day` is None)."""


@dataclass(frozen=True, slots=True)
class NumberHistory:
    """A number's ownership timeline."""

    number: str
    """National form."""
    tenures: tuple[Tenure, ...]
    """Tenures, oldest first, disjoint."""

    def tenure_at(self, when: float) -> Tenure | None:
        """The tenure in force at `when`, or None while unassigned.

        Args:
            when: Epoch seconds.

        Returns:
            The tenure whose [start, end) contains `when`.
        """
        for tenure in reversed(self.tenures):
            if tenure.start <= when:
                return tenure if when < tenure.end else None
        return None

    def disconnect_days(self) -> tuple[date, ...]:
        """Disconnect days, ascending."""
        return tuple(t.end_day for t in self.tenures if t.end_day is not None)

    def change_days(self) -> tuple[date, ...]:
        """Every change day (disconnects and reassignments), ascending."""
        days: list[date] = []
        for i, tenure in enumerate(self.tenures):
            if i > 0 and tenure.first_day is not None:
                days.append(tenure.first_day)
            if tenure.end_day is not None:
                days.append(tenure.end_day)
        return tuple(sorted(days))

    def changed_since(self, obtained: date, when: float) -> bool:
        """True when the number changed hands between the `obtained` day and `when`.

        Args:
            obtained: The day the sender obtained the number.
            when: The instant of interest (epoch seconds), e.g. a delivery.

        Returns:
            Whether the tenure in force at `when` began after `obtained`, or no tenure is in
            force at `when` (disconnected / quarantined).
        """
        tenure = self.tenure_at(when)
        return tenure is None or (tenure.first_day is not None and tenure.first_day > obtained)


def _midnight(day: date, tz: tzinfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def _day_of(when: float, tz: tzinfo) -> date:
    return datetime.fromtimestamp(when, tz).date()


def _tenure(number: str, first: date | None, end: date | None, tz: tzinfo) -> Tenure:
    owner = f"{number}@{first.isoformat() if first is not None else 'origin'}"
    return Tenure(
        owner=owner,
        first_day=first,
        end_day=end,
        start=-math.inf if first is None else _midnight(first, tz),
        end=math.inf if end is None else _midnight(end, tz),
    )


def history_from_spec(number: str, periods: Sequence[OwnershipSpec], tz: tzinfo) -> NumberHistory:
    """A history from an explicit timeline.

    Args:
        number: National form.
        periods: Tenures, oldest first (validated disjoint by the config).
        tz: The network time zone.

    Returns:
        The history, with the given owner ids.
    """
    tenures = tuple(
        Tenure(
            owner=p.owner,
            first_day=p.active_from,
            end_day=p.active_to,
            start=_midnight(p.active_from, tz),
            end=math.inf if p.active_to is None else _midnight(p.active_to, tz),
        )
        for p in periods
    )
    return NumberHistory(number, tenures)


def _quarantine_days(rng: FateRandom, cfg: RecyclingConfig) -> float:
    q = cfg.quarantine
    days = q.median_days * math.exp(q.sigma * rng.gauss(0.0, 1.0)) if q.sigma else q.median_days
    days = max(days, q.min_days)
    if q.max_days is not None:
        days = min(days, q.max_days)
    return days


def generate_history(
    number: str, rng: FateRandom, epoch: float, cfg: RecyclingConfig, tz: tzinfo
) -> NumberHistory:
    """Generate a history for a number in service at the epoch.

    Args:
        number: National form.
        rng: The number's own stream.
        epoch: Scenario epoch (epoch seconds).
        cfg: Recycling parameters.
        tz: The network time zone (tenures snap to its midnights).

    Returns:
        The history.
    """
    rate_per_day = cfg.annual_disconnect_rate / _YEAR_DAYS
    history_start = epoch - cfg.history_years * _YEAR_DAYS * _DAY
    # Backwards: (first day, end day) pairs, newest first. Continuous times snap to days.
    spans: list[tuple[float | None, float | None]] = []
    current_start: float | None = (
        epoch - rng.expovariate(rate_per_day) * _DAY if rate_per_day > 0 else None
    )
    # Forwards from the epoch: the current owner may leave within the horizon.
    current_end: float | None = None
    future: list[tuple[float | None, float | None]] = []
    if rate_per_day > 0 and cfg.horizon_days > 0:
        leave = epoch + rng.expovariate(rate_per_day) * _DAY
        horizon = epoch + cfg.horizon_days * _DAY
        if leave < horizon:
            current_end = leave
            if rng.random() < cfg.reassigned_share:
                future.append((leave + _quarantine_days(rng, cfg) * _DAY, None))
    while current_start is not None and current_start > history_start:
        spans.append((current_start, current_end))
        previous_end = current_start - _quarantine_days(rng, cfg) * _DAY
        current_end = previous_end
        current_start = previous_end - rng.expovariate(rate_per_day) * _DAY
    spans.append((None, current_end))
    spans.reverse()
    spans.extend(future)
    tenures: list[Tenure] = []
    for first_s, end_s in spans:
        first = None if first_s is None else _day_of(first_s, tz)
        end = None if end_s is None else _day_of(end_s, tz)
        if tenures and first is not None and tenures[-1].end_day is not None:
            first = max(first, tenures[-1].end_day + timedelta(days=1))
        if end is not None and first is not None and end <= first:
            end = first + timedelta(days=1)
        tenures.append(_tenure(number, first, end, tz))
    return NumberHistory(number, tuple(tenures))


# ---------------------------------------------------------------------------------------------
# Owner check
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OwnerCheckResult:
    """One owner-check answer."""

    number: str
    """The number as queried."""
    reference_date: date
    """The reference date (e.g. when the number was obtained / consent given)."""
    status: OwnerStatus
    """changed / unchanged / no_data."""
    last_disconnect: date | None
    """The most recent disconnect date visible to the database (only that one: RND)."""


class OwnershipDatabase:
    """The owner-check view of histories: stale by `db_lag_days`, bounded by `history_start`."""

    def __init__(self, cfg: OwnerCheckConfig, history_start: date, tz: tzinfo) -> None:
        """Bind the database semantics.

        Args:
            cfg: Owner-check settings.
            history_start: Reference dates before this give no_data.
            tz: The network time zone (dates are local).
        """
        self._cfg = cfg
        self._history_start = history_start
        self._tz = tz
        self._lag = timedelta(days=cfg.db_lag_days)

    @property
    def history_start(self) -> date:
        """Reference dates before this give no_data."""
        return self._history_start

    def visible_until(self, now: float) -> date:
        """The newest change date the database knows at `now`.

        Args:
            now: Epoch seconds.

        Returns:
            Today's local date minus the reporting lag.
        """
        return _day_of(now, self._tz) - self._lag

    def check(
        self, number: str, history: NumberHistory | None, reference: date, now: float
    ) -> OwnerCheckResult:
        """Answer one query.

        Args:
            number: The number as queried (echoed back).
            history: The number's history, or None when the database has no record of it.
            reference: The reference date.
            now: Epoch seconds of the query.

        Returns:
            The answer.
        """
        if reference < self._history_start:
            return OwnerCheckResult(number, reference, OwnerStatus.NO_DATA, None)
        if history is None:
            status = (
                OwnerStatus.NO_DATA
                if self._cfg.unknown_number == "no_data"
                else OwnerStatus.UNCHANGED
            )
            return OwnerCheckResult(number, reference, status, None)
        cutoff = self.visible_until(now)
        changes = history.change_days()
        visible = changes[: bisect.bisect_right(changes, cutoff)]
        threshold = reference if self._cfg.same_day_counts else reference + timedelta(days=1)
        changed = bool(visible) and visible[-1] >= threshold
        disconnects = [d for d in history.disconnect_days() if d <= cutoff]
        last = disconnects[-1] if disconnects else None
        return OwnerCheckResult(
            number,
            reference,
            OwnerStatus.CHANGED if changed else OwnerStatus.UNCHANGED,
            last,
        )
