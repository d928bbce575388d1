"""Run results and the evaluation of a scenario's expectations against them.

    results = ledger.results()                       # a RunResults (see scenarios.ledger)
    for r in evaluate(scenario.expectations, results):
        print(r.name, r.passed, r.margin)            # "delivered_ratio 0.962 < 0.98 by 0.018"

    live = LiveExpectations(scenario.expectations)   # during the run, once a second:
    statuses = live.statuses(ledger.results(light=True))   # pending / pass / fail

`RunResults` is the one object every later stage reads: the counters of the metric catalogue
(`scenarios.schema.METRICS`), latency statistics, the receipt mix, per-message outcomes (keyed by
message key) and time-bucketed series for the report's charts. The ledger builds it; nothing else
needs to know how the facts were collected.

Invariants:
    * Pure: evaluation reads a `RunResults` and returns values; no clock, no I/O.
    * Every expectation yields exactly one `ExpectationResult`, in the scenario's order, with a
      margin text that says how far the observation is from the threshold, in which direction.
    * An observation that cannot be made (a ratio over zero, a latency series without samples, a
      rate with fewer than two occurrences) fails, and says why; it is never a silent pass.
    * Live status decides early only what can no longer change: a monotone counter that already
      exceeds a `<=`/`<`/`==` bound has failed, one that reached a `>=`/`>` bound has passed.
      Everything else stays pending until the final evaluation. A decided status never reverts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from scenarios.schema import (
    METRICS,
    AllTerminalExpectation,
    CountExpectation,
    ExpectationSpec,
    LatencyExpectation,
    MoReassembledExpectation,
    RatioExpectation,
    ThroughputExpectation,
    compare,
)
from sms.bus.events import ExpectationState, ExpectationStatus, ScenarioPhase, ScenarioProgress

__all__ = [
    "ExpectationResult",
    "LatencyStats",
    "LiveExpectations",
    "MessageOutcome",
    "RunResults",
    "Series",
    "evaluate",
    "evaluate_one",
    "format_number",
]


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """Exact statistics of one latency series, in milliseconds (nearest-rank percentiles)."""

    count: int
    """Samples."""
    p50: float
    """Median."""
    p90: float
    """90th percentile."""
    p95: float
    """95th percentile."""
    p99: float
    """99th percentile."""
    max: float
    """Largest sample."""
    mean: float
    """Arithmetic mean."""

    @classmethod
    def from_samples(cls, samples: Iterable[float]) -> LatencyStats:
        """Summarise samples.

        Args:
            samples: Milliseconds, any order.

        Returns:
            The statistics (all 0 when there are no samples).
        """
        values = sorted(samples)
        n = len(values)
        if n == 0:
            return cls(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)

        def rank(q: float) -> float:
            return values[max(0, math.ceil(q * n) - 1)]

        return cls(
            n, rank(0.5), rank(0.9), rank(0.95), rank(0.99), values[-1], math.fsum(values) / n
        )

    def get(self, statistic: str) -> float:
        """One statistic by name (`p50`, `p90`, `p95`, `p99`, `max`, `mean`)."""
        value: float = getattr(self, statistic)
        return value


@dataclass(frozen=True, slots=True)
class MessageOutcome:
    """What became of one message: the unit `compare_ledgers` compares across runs."""

    key: str
    """Message key."""
    stream: str
    """Traffic stream ("" when unknown, e.g. a message seen only by the gateway)."""
    destination: str
    """Recipient as planned."""
    text_digest: str
    """Short digest of the text (equal texts, equal digests)."""
    parts: int
    """Parts the gateway planned (0 when never accepted)."""
    accepted: bool
    """The gateway accepted it."""
    refused: str | None
    """Why the gateway refused it at acceptance, if it did."""
    state: str | None
    """Terminal state (delivered, undeliverable, expired, ...), None when not terminal."""
    reason: str | None
    """Why, as the gateway put it."""
    part_stats: tuple[str | None, ...]
    """Final receipt stat per part (index = part - 1); None: no final receipt."""
    events: tuple[str, ...]
    """Audit facts about it, sorted and unique (misdelivery, spoof_blocked, ...)."""
    attempts: int
    """submit_sm written for it over all parts and retries (depends on timing: not compared)."""

    @property
    def terminal(self) -> bool:
        """True when the message reached a terminal state (or was refused at acceptance)."""
        return self.state is not None or self.refused is not None


@dataclass(frozen=True, slots=True)
class Series:
    """Time-bucketed series for charts: rates per second and latency percentiles per bucket."""

    start: float
    """Start of the first bucket (seconds since 1970, scenario clock)."""
    bucket_s: float
    """Bucket width in seconds."""
    values: Mapping[str, tuple[float | None, ...]]
    """Series name -> one value per bucket (None: no sample in that bucket). Rates are
    ``<counter>_per_s``; latencies ``<series>_p50`` / ``<series>_p99``."""

    @property
    def buckets(self) -> int:
        """Number of buckets."""
        return max((len(v) for v in self.values.values()), default=0)


@dataclass(frozen=True)
class RunResults:
    """Everything a run produced, as numbers (built by `scenarios.ledger`)."""

    scenario: str
    """Scenario name."""
    run_id: str
    """Run identifier (the run directory's name)."""
    seed: int
    """The scenario seed."""
    start_at: float
    """Scenario clock at the start (seconds since 1970)."""
    end_at: float
    """Scenario clock at the end (or at the latest fact, for live results)."""
    counters: Mapping[str, int]
    """Counters by catalogue name (missing: 0)."""
    spans: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    """First and last occurrence of each counter's fact (for throughput)."""
    latencies: Mapping[str, LatencyStats] = field(default_factory=dict)
    """Latency statistics by catalogue name."""
    receipt_mix: Mapping[str, int] = field(default_factory=dict)
    """Final receipts by stat (DELIVRD, UNDELIV, ...)."""
    errors: Mapping[str, int] = field(default_factory=dict)
    """Error answers by command_status (``0x00000058``)."""
    outcomes: Mapping[str, MessageOutcome] = field(default_factory=dict)
    """Per-message outcomes by key (empty in light results)."""
    series: Series | None = None
    """Time-bucketed series (None in light results)."""
    wall_s: float | None = None
    """Real seconds the run took, when known."""

    @property
    def duration_s(self) -> float:
        """Simulated seconds covered."""
        return max(0.0, self.end_at - self.start_at)

    def counter(self, name: str) -> int:
        """A counter's value (0 when it never moved)."""
        return self.counters.get(name, 0)

    def ratio(self, name: str) -> tuple[float | None, str]:
        """A ratio of the catalogue and a note on how it was formed.

        Returns:
            `(value, note)`; value None when the denominator is 0.
        """
        info = METRICS[name]
        assert info.numerator is not None
        assert info.denominator is not None
        top, bottom = self.counter(info.numerator), self.counter(info.denominator)
        if bottom == 0:
            return None, f"{info.denominator} is 0"
        return top / bottom, f"{top}/{bottom}"

    def rate(self, name: str) -> tuple[float | None, str]:
        """A counter's rate per second of the scenario clock over its active span.

        Returns:
            `(value, note)`; value None with fewer than two occurrences or a zero span.
        """
        n = self.counter(name)
        first, last = self.spans.get(name, (0.0, 0.0))
        if n < 2 or last <= first:
            return None, f"{name} occurred {n} time(s), no span to measure a rate over"
        # n events over [first, last] are n - 1 gaps.
        return (n - 1) / (last - first), f"{n} over {format_number(last - first)} s"

    def to_json(self, *, outcomes: bool = False) -> dict[str, Any]:
        """A JSON-ready dict (the report's `results` member).

        Args:
            outcomes: Include every per-message outcome (large for big runs).
        """
        doc: dict[str, Any] = {
            "scenario": self.scenario,
            "run_id": self.run_id,
            "seed": self.seed,
            "start_at": self.start_at,
            "end_at": self.end_at,
            "duration_s": self.duration_s,
            "wall_s": self.wall_s,
            "counters": dict(sorted(self.counters.items())),
            "ratios": {
                name: self.ratio(name)[0] for name, info in METRICS.items() if info.kind == "ratio"
            },
            "latencies": {
                name: {
                    "count": s.count,
                    "p50": s.p50,
                    "p90": s.p90,
                    "p95": s.p95,
                    "p99": s.p99,
                    "max": s.max,
                    "mean": s.mean,
                }
                for name, s in sorted(self.latencies.items())
            },
            "receipt_mix": dict(sorted(self.receipt_mix.items())),
            "errors": dict(sorted(self.errors.items())),
        }
        if self.series is not None:
            doc["series"] = {
                "start": self.series.start,
                "bucket_s": self.series.bucket_s,
                "values": {k: list(v) for k, v in self.series.values.items()},
            }
        if outcomes:
            doc["outcomes"] = {
                key: {
                    "stream": o.stream,
                    "destination": o.destination,
                    "parts": o.parts,
                    "accepted": o.accepted,
                    "refused": o.refused,
                    "state": o.state,
                    "reason": o.reason,
                    "part_stats": list(o.part_stats),
                    "events": list(o.events),
                    "attempts": o.attempts,
                }
                for key, o in sorted(self.outcomes.items())
            }
        return doc


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------


def format_number(value: float) -> str:
    """A number for people: integers plainly, others with four significant digits.

    Args:
        value: The number.

    Returns:
        ``3``, ``0.962``, ``0.018``, ``512.3``, ``15000``.
    """
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if abs(value) < 1e15 and round(value, 9) == int(round(value, 9)):
        return str(int(round(value, 9)))
    if abs(value) >= 1000:
        return f"{value:.0f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.4g}"


@dataclass(frozen=True, slots=True)
class ExpectationResult:
    """The verdict on one expectation."""

    name: str
    """The expectation's name (or its shorthand text)."""
    kind: str
    """Its kind (ratio, count, latency, ...)."""
    passed: bool
    """True when it holds."""
    observed: float | None
    """The observed value; None when it could not be observed."""
    threshold: float | None
    """The bound; None for kinds without one."""
    op: str | None
    """The comparison; None for kinds without one."""
    margin: str
    """How far and which way, e.g. ``delivered_ratio 0.962 < 0.98 by 0.018``."""
    detail: str = ""
    """More context (how a ratio was formed, which messages are stuck, ...)."""

    def status(self) -> ExpectationStatus:
        """The bus status of this verdict."""
        state: ExpectationState = "pass" if self.passed else "fail"
        return ExpectationStatus(name=self.name, status=state, detail=self.margin)


def _margin(label: str, observed: float, op: str, threshold: float, passed: bool) -> str:
    obs, thr = format_number(observed), format_number(threshold)
    diff = format_number(abs(observed - threshold))
    if passed:
        if op in ("==",):
            return f"{label} {obs} == {thr}"
        if op == "!=":
            return f"{label} {obs} != {thr} (off by {diff})"
        return f"{label} {obs} {op} {thr} (margin {diff})"
    actual = "<" if observed < threshold else ">" if observed > threshold else "=="
    if actual == "==":
        return f"{label} {obs} == {thr}, expected {op} {thr}"
    return f"{label} {obs} {actual} {thr} by {diff}"


def _compared(
    spec: ExpectationSpec,
    label: str,
    observed: float | None,
    op: str,
    threshold: float,
    note: str,
) -> ExpectationResult:
    name = spec.label
    if observed is None:
        return ExpectationResult(
            name, spec.kind, False, None, threshold, op, f"{label} undefined: {note}", note
        )
    passed = compare(observed, op, threshold)
    return ExpectationResult(
        name,
        spec.kind,
        passed,
        observed,
        threshold,
        op,
        _margin(label, observed, op, threshold, passed),
        note,
    )


_STUCK_SHOWN: Final[int] = 5


def evaluate_one(spec: ExpectationSpec, results: RunResults) -> ExpectationResult:
    """Evaluate one expectation.

    Args:
        spec: The expectation.
        results: The run's results.

    Returns:
        The verdict.
    """
    if isinstance(spec, RatioExpectation):
        value, note = results.ratio(spec.metric)
        return _compared(spec, spec.metric, value, spec.op, spec.threshold, note)
    if isinstance(spec, CountExpectation):
        count = results.counter(spec.metric)
        return _compared(spec, spec.metric, float(count), spec.op, float(spec.threshold), "")
    if isinstance(spec, LatencyExpectation):
        label = f"{spec.percentile} {spec.metric}"
        stats = results.latencies.get(spec.metric)
        if stats is None or stats.count == 0:
            return _compared(spec, label, None, spec.op, spec.threshold, "no samples")
        return _compared(
            spec,
            label,
            stats.get(spec.percentile),
            spec.op,
            spec.threshold,
            f"{stats.count} samples",
        )
    if isinstance(spec, ThroughputExpectation):
        rate, note = results.rate(spec.metric)
        return _compared(spec, f"throughput {spec.metric}", rate, spec.op, spec.threshold, note)
    if isinstance(spec, AllTerminalExpectation):
        stuck = results.counter("messages_not_terminal")
        accepted = results.counter("messages_accepted")
        keys = sorted(k for k, o in results.outcomes.items() if o.accepted and o.state is None)
        shown = ", ".join(keys[:_STUCK_SHOWN]) + (" ..." if len(keys) > _STUCK_SHOWN else "")
        detail = f"not terminal: {shown}" if keys else f"{accepted} accepted, all terminal"
        passed = stuck == 0
        margin = (
            f"all {accepted} accepted messages terminal"
            if passed
            else f"{stuck} of {accepted} accepted messages not terminal"
        )
        return ExpectationResult(
            spec.label, spec.kind, passed, float(stuck), 0.0, "==", margin, detail
        )
    if isinstance(spec, MoReassembledExpectation):
        sent, received = results.counter("mo_sent"), results.counter("mo_received")
        mismatched = results.counter("mo_mismatched")
        reassembled = results.counter("mo_reassembled")
        passed = mismatched == 0
        margin = (
            f"{received} MO received equal the {sent} sent ({reassembled} reassembled)"
            if passed
            else f"{mismatched} MO differ between {sent} sent and {received} received"
        )
        return ExpectationResult(
            spec.label,
            spec.kind,
            passed,
            float(mismatched),
            0.0,
            "==",
            margin,
            f"{reassembled} reassembled from parts",
        )
    raise TypeError(f"unknown expectation {spec!r}")  # pragma: no cover - the union is closed


def evaluate(
    expectations: Sequence[ExpectationSpec], results: RunResults
) -> list[ExpectationResult]:
    """Evaluate every expectation of a scenario.

    Args:
        expectations: The scenario's expectations, in order.
        results: The run's results.

    Returns:
        One verdict per expectation, in the same order.
    """
    return [evaluate_one(spec, results) for spec in expectations]


# ---------------------------------------------------------------------------------------------
# Live status
# ---------------------------------------------------------------------------------------------


def _early(spec: ExpectationSpec, results: RunResults) -> ExpectationState:
    if not isinstance(spec, CountExpectation) or not METRICS[spec.metric].monotone:
        return "pending"
    observed = results.counter(spec.metric)
    if spec.op in ("<=", "<", "==") and observed > spec.threshold:
        return "fail"
    if spec.op == "<" and observed == spec.threshold:
        return "fail"
    if spec.op in (">=", ">") and compare(observed, spec.op, spec.threshold):
        return "pass"
    return "pending"


def _so_far(spec: ExpectationSpec, results: RunResults) -> str:
    if isinstance(spec, CountExpectation):
        return f"{spec.metric} {results.counter(spec.metric)} so far"
    if isinstance(spec, RatioExpectation):
        value, note = results.ratio(spec.metric)
        shown = "undefined" if value is None else format_number(value)
        return f"{spec.metric} {shown} so far ({note})"
    if isinstance(spec, LatencyExpectation):
        stats = results.latencies.get(spec.metric)
        if stats is None or stats.count == 0:
            return f"{spec.metric}: no samples yet"
        return f"{spec.percentile} {spec.metric} {format_number(stats.get(spec.percentile))} so far"
    if isinstance(spec, ThroughputExpectation):
        rate, _ = results.rate(spec.metric)
        shown = "undefined" if rate is None else format_number(rate)
        return f"throughput {spec.metric} {shown}/s so far"
    if isinstance(spec, AllTerminalExpectation):
        return f"{results.counter('messages_not_terminal')} not terminal yet"
    return f"{results.counter('mo_received')} of {results.counter('mo_sent')} MO so far"


class LiveExpectations:
    """Pending / pass / fail of every expectation while a run goes on."""

    def __init__(self, expectations: Sequence[ExpectationSpec]) -> None:
        """Start with everything pending.

        Args:
            expectations: The scenario's expectations.
        """
        self._specs = tuple(expectations)
        self._decided: dict[int, ExpectationStatus] = {}
        self._last: tuple[ExpectationStatus, ...] = tuple(
            ExpectationStatus(name=s.label, status="pending") for s in self._specs
        )
        self._changed: tuple[ExpectationStatus, ...] = ()

    @property
    def changed(self) -> tuple[ExpectationStatus, ...]:
        """Statuses whose state changed at the last `statuses` call (for alerts)."""
        return self._changed

    def statuses(
        self, results: RunResults, *, final: bool = False
    ) -> tuple[ExpectationStatus, ...]:
        """Every expectation's status now.

        Args:
            results: Results so far (light results are enough unless `final`).
            final: The run is over: decide everything (from a full `RunResults`).

        Returns:
            One status per expectation, in order.
        """
        out: list[ExpectationStatus] = []
        for i, spec in enumerate(self._specs):
            decided = self._decided.get(i)
            if final and decided is None:
                status = evaluate_one(spec, results).status()
            elif decided is not None:
                status = decided
            else:
                state = _early(spec, results)
                status = ExpectationStatus(
                    name=spec.label, status=state, detail=_so_far(spec, results)
                )
            if status.status != "pending":
                self._decided[i] = status
            out.append(status)
        self._changed = tuple(
            new for old, new in zip(self._last, out, strict=True) if old.status != new.status
        )
        self._last = tuple(out)
        return self._last

    def progress(
        self,
        results: RunResults,
        *,
        at: float,
        phase: ScenarioPhase,
        elapsed_s: float,
        progress: float | None = None,
        final: bool = False,
    ) -> ScenarioProgress:
        """A `ScenarioProgress` event with the current statuses.

        Args:
            results: Results so far.
            at: Event time (scenario clock).
            phase: The run's phase.
            elapsed_s: Simulated seconds since the start.
            progress: Share of the planned traffic done, when known.
            final: Decide everything.

        Returns:
            The event to publish.
        """
        return ScenarioProgress(
            at=at,
            run_id=results.run_id,
            scenario=results.scenario,
            phase=phase,
            elapsed_s=max(0.0, elapsed_s),
            progress=None if progress is None else min(1.0, max(0.0, progress)),
            expectations=self.statuses(results, final=final),
        )
