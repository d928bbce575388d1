"""A pure per-interval metrics aggregator: record per message, publish once per interval.

Components call ``record_*`` for every message (a count, a latency sample, a gauge, ...) and
`MetricsAggregator.snapshot` on a timer; `snapshot(now)` returns a `MetricsSnapshot` at most
once per interval and None otherwise, so 10,000 messages a second still make one event a second.

Invariants:
    * Pure: no clock reads, no I/O, no randomness. `now` is always an argument (seconds on the
      component's clock, which may be simulated).
    * Every ``record_*`` is O(1) and memory is bounded by the number of distinct names (and bind
      ids), not by the number of samples: latencies go into fixed log-scale histograms
      (`LogHistogram`).
    * Counters, per-bind counters, errors and receipt counts in a snapshot are cumulative;
      `rates`, `bind_rates` and `latency` cover only the interval since the previous snapshot;
      `latency_total` covers everything (each sample is recorded once, in the interval
      histogram, which a snapshot merges into the total before summarising both;
      `MetricsAggregator.latency_total` gives the same union between snapshots). Counters
      are kept the same way: a count goes into the interval's counter only, and a snapshot
      adds the interval's counters to the totals before reporting both.
    * An interval starts at the first `record_*` or `snapshot` call (or at `start`), and each
      snapshot starts the next interval at its own `now`. Rates divide by the actual span, so a
      late snapshot does not inflate them.

Percentile error bound:
    `LogHistogram` has `BUCKETS_PER_OCTAVE` = 8 buckets per doubling from `MIN_TRACKED_MS`
    (0.01 ms) to `MAX_TRACKED_MS` (about 1.07e7 ms, three hours). A percentile is reported as the
    geometric middle of the bucket holding the nearest-rank sample, clamped to the exact min and
    max seen. For samples inside the tracked range the reported value is within a factor of
    2**(1/16) of the exact nearest-rank value: a relative error of at most 4.43 %
    (`RELATIVE_ERROR_BOUND`). Samples below 0.01 ms share one bucket (reported at most 0.01 ms
    off); samples above the range share one bucket reported as the exact max. p100 is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from sms.bus.errors import MetricsError
from sms.bus.events import LatencySummary, MetricsSnapshot, QueueDepths, WindowUse

__all__ = [
    "BIND_SUBMITTED",
    "BIND_THROTTLED",
    "BUCKETS_PER_OCTAVE",
    "MAX_TRACKED_MS",
    "MIN_TRACKED_MS",
    "RELATIVE_ERROR_BOUND",
    "LogHistogram",
    "MetricsAggregator",
]

#: Per-bind counter of submit_sm PDUs written (every part and retry): the bind's submit rate.
BIND_SUBMITTED: Final[str] = "submitted"
#: Per-bind counter of throttling responses (ESME_RTHROTTLED) read.
BIND_THROTTLED: Final[str] = "throttled"

#: Lower edge of the first regular bucket, in milliseconds (10 µs).
MIN_TRACKED_MS: Final[float] = 0.01
#: Buckets per doubling of the value.
BUCKETS_PER_OCTAVE: Final[int] = 8
#: Doublings covered above `MIN_TRACKED_MS`.
_OCTAVES: Final[int] = 30
_REGULAR_BUCKETS: Final[int] = BUCKETS_PER_OCTAVE * _OCTAVES
#: Upper edge of the last regular bucket, in milliseconds (about 3 hours).
MAX_TRACKED_MS: Final[float] = MIN_TRACKED_MS * float(2**_OCTAVES)
#: Largest relative error of a reported percentile for samples inside the tracked range.
RELATIVE_ERROR_BOUND: Final[float] = float(2.0 ** (1.0 / (2 * BUCKETS_PER_OCTAVE))) - 1.0

_INV_MIN: Final[float] = 1.0 / MIN_TRACKED_MS
# Bucket 0 holds samples below MIN_TRACKED_MS, buckets 1..N the regular range, N+1 the overflow.
_OVERFLOW: Final[int] = _REGULAR_BUCKETS + 1


def _bucket_mid(index: int) -> float:
    """Geometric middle of a regular bucket (1-based index)."""
    return MIN_TRACKED_MS * float(2.0 ** ((index - 1 + 0.5) / BUCKETS_PER_OCTAVE))


_MIDS: Final[tuple[float, ...]] = (
    MIN_TRACKED_MS / 2,
    *(_bucket_mid(i) for i in range(1, _REGULAR_BUCKETS + 1)),
    math.inf,  # the overflow bucket is reported as the exact max (clamping does it)
)


class LogHistogram:
    """A fixed log-scale histogram of non-negative values (milliseconds).

    O(1) `record`, O(buckets) `quantile`, constant memory. See the module docstring for the
    error bound.
    """

    __slots__ = ("_buckets", "count", "max", "min", "total")

    def __init__(self) -> None:
        self._buckets = [0] * (_OVERFLOW + 1)
        self.count = 0
        """Samples recorded."""
        self.total = 0.0
        """Sum of the samples."""
        self.min = math.inf
        """Smallest sample (exact; inf when empty)."""
        self.max = 0.0
        """Largest sample (exact; 0 when empty)."""

    def record(self, value: float) -> None:
        """Add one sample.

        Args:
            value: A non-negative, finite number.

        Raises:
            MetricsError: The value is negative, NaN or infinite.
        """
        if not 0.0 <= value < math.inf:
            raise MetricsError(f"a latency must be finite and >= 0, got {value!r}")
        if value < MIN_TRACKED_MS:
            index = 0
        elif value >= MAX_TRACKED_MS:
            index = _OVERFLOW
        else:
            index = int(math.log2(value * _INV_MIN) * BUCKETS_PER_OCTAVE) + 1
            if index > _REGULAR_BUCKETS:  # rounding at the very top edge
                index = _REGULAR_BUCKETS
        self._buckets[index] += 1
        self.count += 1
        self.total += value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value

    def merge(self, other: LogHistogram) -> None:
        """Add every sample of `other` (as if each had been recorded here)."""
        if other.count == 0:
            return
        buckets = self._buckets
        for index, n in enumerate(other._buckets):
            if n:
                buckets[index] += n
        self.count += other.count
        self.total += other.total
        if other.min < self.min:
            self.min = other.min
        if other.max > self.max:
            self.max = other.max

    def copy(self) -> LogHistogram:
        """An independent histogram with the same samples."""
        twin = LogHistogram()
        twin.merge(self)
        return twin

    def quantile(self, q: float) -> float:
        """Estimate the nearest-rank `q` quantile.

        Args:
            q: In (0, 1]; 0.5 is the median.

        Returns:
            The estimate (0.0 when empty).

        Raises:
            MetricsError: `q` is outside (0, 1].
        """
        if not 0.0 < q <= 1.0:
            raise MetricsError(f"a quantile must be in (0, 1], got {q!r}")
        if self.count == 0:
            return 0.0
        rank = max(1, math.ceil(q * self.count))
        if rank >= self.count:
            return self.max
        seen = 0
        for index, n in enumerate(self._buckets):
            seen += n
            if seen >= rank:
                return min(max(_MIDS[index], self.min), self.max)
        return self.max  # pragma: no cover - the counts always reach `rank`

    def summary(self) -> LatencySummary:
        """p50, p95, p99 and max as an event part."""
        return LatencySummary(
            count=self.count,
            p50_ms=self.quantile(0.50),
            p95_ms=self.quantile(0.95),
            p99_ms=self.quantile(0.99),
            max_ms=self.max,
        )

    def clear(self) -> None:
        """Forget every sample."""
        self._buckets = [0] * (_OVERFLOW + 1)
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = 0.0


@dataclass(slots=True)
class _Latency:
    interval: LogHistogram
    """Samples since the last snapshot."""
    total: LogHistogram
    """Samples before the last snapshot (the interval is merged in when a snapshot is made:
    one histogram update per sample instead of two)."""


class MetricsAggregator:
    """Collects one component instance's metrics and emits one `MetricsSnapshot` per interval."""

    def __init__(self, *, interval: float = 1.0, start: float | None = None) -> None:
        """Create an empty aggregator.

        Args:
            interval: Shortest span between two snapshots, in clock seconds.
            start: When the first interval starts; the first `record_*`/`snapshot` call when None.

        Raises:
            MetricsError: `interval` is not positive.
        """
        if not interval > 0:
            raise MetricsError(f"interval must be positive, got {interval!r}")
        self._interval = float(interval)
        self._started_at: float | None = start
        self._seq = 0
        self._counts: dict[str, int] = {}
        self._interval_counts: dict[str, int] = {}
        self._gauges: dict[str, float] = {}
        self._latency: dict[str, _Latency] = {}
        self._errors: dict[str, int] = {}
        self._receipts: dict[str, int] = {}
        self._queues = QueueDepths()
        self._windows: dict[str, WindowUse] = {}
        self._bind_counts: dict[str, dict[str, int]] = {}
        self._bind_interval: dict[str, dict[str, int]] = {}

    @property
    def interval(self) -> float:
        """Shortest span between two snapshots, in clock seconds."""
        return self._interval

    def _touch(self, now: float) -> None:
        if self._started_at is None:
            self._started_at = now

    # -- recording --------------------------------------------------------------------------------

    def record_count(self, name: str, n: int = 1, *, now: float) -> None:
        """Add `n` to counter `name` (for example ``submitted``, ``accepted``, ``mo``).

        Raises:
            MetricsError: `n` is negative.
        """
        if n < 0:
            raise MetricsError(f"a count cannot go down ({name} += {n})")
        if self._started_at is None:  # _touch, inlined (called per message)
            self._started_at = now
        # Only the interval's count: the totals take it in when the interval closes
        # (`_fold_counts`), one dictionary update per call instead of two.
        interval = self._interval_counts
        interval[name] = interval.get(name, 0) + n

    def record_latency(self, name: str, ms: float, *, now: float) -> None:
        """Add a latency sample, in milliseconds, to series `name` (``submit_resp``, ``receipt``).

        Raises:
            MetricsError: `ms` is negative, NaN or infinite.
        """
        if self._started_at is None:  # _touch, inlined (called per message)
            self._started_at = now
        series = self._latency.get(name)
        if series is None:
            series = self._latency[name] = _Latency(LogHistogram(), LogHistogram())
        series.interval.record(ms)

    def latency_total(self, name: str) -> LogHistogram:
        """Every sample of series `name` so far (a copy; empty for an unknown name)."""
        series = self._latency.get(name)
        if series is None:
            return LogHistogram()
        merged = series.total.copy()
        merged.merge(series.interval)
        return merged

    def record_gauge(self, name: str, value: float, *, now: float) -> None:
        """Set gauge `name` to its current value (last value wins)."""
        self._touch(now)
        self._gauges[name] = float(value)

    def record_error(self, code: int | str, n: int = 1, *, now: float) -> None:
        """Count an error by code: a command_status (shown as ``0x00000058``) or a name.

        Raises:
            MetricsError: `n` is negative.
        """
        if n < 0:
            raise MetricsError(f"a count cannot go down (error {code} += {n})")
        if self._started_at is None:  # _touch, inlined (called per message)
            self._started_at = now
        key = f"0x{code:08X}" if isinstance(code, int) else code
        self._errors[key] = self._errors.get(key, 0) + n

    def record_receipt(self, stat: str, n: int = 1, *, now: float) -> None:
        """Count a delivery receipt by its ``stat`` (``DELIVRD``, ``UNDELIV``, ...).

        Raises:
            MetricsError: `n` is negative.
        """
        if n < 0:
            raise MetricsError(f"a count cannot go down (receipt {stat} += {n})")
        if self._started_at is None:  # _touch, inlined (called per message)
            self._started_at = now
        self._receipts[stat] = self._receipts.get(stat, 0) + n

    def record_queues(
        self,
        *,
        now: float,
        queued: int = 0,
        in_flight: int = 0,
        awaiting_receipt: int = 0,
        retrying: int = 0,
        scheduled: int = 0,
    ) -> None:
        """Set the pipeline stage depths (last values win)."""
        self._touch(now)
        self._queues = QueueDepths(
            queued=queued,
            in_flight=in_flight,
            awaiting_receipt=awaiting_receipt,
            retrying=retrying,
            scheduled=scheduled,
        )

    def record_window(self, bind_id: str, in_flight: int, size: int, *, now: float) -> None:
        """Set one bind's window use (last value wins)."""
        self._touch(now)
        self._windows[bind_id] = WindowUse(in_flight=in_flight, size=size)

    def record_bind_count(self, bind_id: str, name: str, n: int = 1, *, now: float) -> None:
        """Add `n` to counter `name` of one bind (for example `BIND_SUBMITTED` per submit_sm).

        The snapshot carries each bind's cumulative counts (`MetricsSnapshot.bind_counts`) and
        their rates over the interval (`MetricsSnapshot.bind_rates`), so a viewer can show every
        bind's submit rate even when it drops per-message events.

        Raises:
            MetricsError: `n` is negative.
        """
        if n < 0:
            raise MetricsError(f"a count cannot go down ({bind_id}.{name} += {n})")
        if self._started_at is None:  # _touch, inlined (called per message)
            self._started_at = now
        interval = self._bind_interval.get(bind_id)  # the totals: `_fold_counts`
        if interval is None:
            interval = self._bind_interval[bind_id] = {}
        interval[name] = interval.get(name, 0) + n

    def forget_window(self, bind_id: str) -> None:
        """Stop reporting a bind's window (it was closed); its counters stay."""
        self._windows.pop(bind_id, None)

    def forget_bind(self, bind_id: str) -> None:
        """Stop reporting a bind altogether: its window and its counters."""
        self._windows.pop(bind_id, None)
        self._bind_counts.pop(bind_id, None)
        self._bind_interval.pop(bind_id, None)

    def _fold_counts(self) -> None:
        """Add the interval's counts (`record_count`, `record_bind_count`) to the totals."""
        counts = self._counts
        for name, n in self._interval_counts.items():
            counts[name] = counts.get(name, 0) + n
        for bind_id, interval in self._bind_interval.items():
            totals = self._bind_counts.get(bind_id)
            if totals is None:
                totals = self._bind_counts[bind_id] = {}
            for name, n in interval.items():
                totals[name] = totals.get(name, 0) + n

    # -- snapshots --------------------------------------------------------------------------------

    def due(self, now: float) -> bool:
        """True when `snapshot(now)` would return a snapshot."""
        return self._started_at is not None and now - self._started_at >= self._interval

    def snapshot(self, now: float) -> MetricsSnapshot | None:
        """Close the interval and summarise it, if it is at least `interval` long.

        Args:
            now: The current time on the component's clock.

        Returns:
            The snapshot, or None when the interval is not over yet (or just started).
        """
        if self._started_at is None:
            self._started_at = now
            return None
        span = now - self._started_at
        if span < self._interval:
            return None
        for series in self._latency.values():
            series.total.merge(series.interval)
        self._fold_counts()
        snap = MetricsSnapshot(
            at=now,
            seq=self._seq,
            interval_s=span,
            counts=dict(self._counts),
            rates={name: self._interval_counts.get(name, 0) / span for name in self._counts},
            gauges=dict(self._gauges),
            queues=self._queues,
            windows=dict(self._windows),
            bind_counts={bind: dict(counts) for bind, counts in self._bind_counts.items()},
            bind_rates={
                bind: {
                    name: self._bind_interval.get(bind, {}).get(name, 0) / span for name in counts
                }
                for bind, counts in self._bind_counts.items()
            },
            latency={name: s.interval.summary() for name, s in self._latency.items()},
            latency_total={name: s.total.summary() for name, s in self._latency.items()},
            errors=dict(self._errors),
            receipts=dict(self._receipts),
        )
        self._seq += 1
        self._started_at = now
        self._interval_counts.clear()
        self._bind_interval.clear()
        for series in self._latency.values():
            series.interval.clear()
        return snap
