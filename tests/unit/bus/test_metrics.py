"""MetricsAggregator and LogHistogram: deterministic with a manual clock; percentile error bound."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from sms.bus.errors import MetricsError
from sms.bus.events import QueueDepths, WindowUse, decode_event, encode_event
from sms.bus.metrics import (
    BIND_SUBMITTED,
    BIND_THROTTLED,
    MAX_TRACKED_MS,
    MIN_TRACKED_MS,
    RELATIVE_ERROR_BOUND,
    LogHistogram,
    MetricsAggregator,
)
from sms.clock import ManualClock


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def test_error_bound_constant() -> None:
    assert abs(RELATIVE_ERROR_BOUND - 0.0443) < 1e-4


@pytest.mark.parametrize(
    "sampler",
    [
        pytest.param(lambda r: r.lognormvariate(math.log(20), 1.0), id="lognormal-20ms"),
        pytest.param(lambda r: r.expovariate(1 / 150), id="exponential-150ms"),
        pytest.param(lambda r: r.uniform(0.5, 5000), id="uniform"),
        pytest.param(lambda r: r.choice([1.0, 2.0, 3.0, 1000.0]), id="discrete"),
    ],
)
def test_percentiles_within_the_documented_bound(
    sampler: Callable[[random.Random], float], rng: random.Random
) -> None:
    values = [max(MIN_TRACKED_MS, float(sampler(rng))) for _ in range(20_000)]
    hist = LogHistogram()
    for value in values:
        hist.record(value)
    for q in (0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999):
        exact = nearest_rank(values, q)
        estimate = hist.quantile(q)
        assert abs(estimate - exact) <= exact * RELATIVE_ERROR_BOUND + 1e-12, (q, exact, estimate)
    assert hist.quantile(1.0) == max(values)
    assert hist.max == max(values)
    assert hist.min == min(values)
    assert hist.count == len(values)


def test_every_bucket_edge_is_within_the_bound() -> None:
    # Values exactly on, just below and just above each bucket edge (float rounding of log2).
    hist = LogHistogram()
    edge = MIN_TRACKED_MS
    while edge < MAX_TRACKED_MS:
        for value in (edge, math.nextafter(edge, 0), math.nextafter(edge, math.inf)):
            if value < MIN_TRACKED_MS:
                continue
            hist.clear()
            hist.record(value)
            hist.record(value)  # two samples so p50 is not the exact max
            estimate = hist.quantile(0.5)
            assert abs(estimate - value) <= value * RELATIVE_ERROR_BOUND * (1 + 1e-9)
        edge *= 2 ** (1 / 8)


def test_tiny_and_huge_values() -> None:
    hist = LogHistogram()
    for value in (0.0, 0.001, 0.004):
        hist.record(value)
    assert 0.0 <= hist.quantile(0.5) <= MIN_TRACKED_MS
    huge = LogHistogram()
    for value in (MAX_TRACKED_MS * 2, MAX_TRACKED_MS * 3, MAX_TRACKED_MS * 4):
        huge.record(value)
    assert huge.quantile(0.5) == MAX_TRACKED_MS * 4  # overflow bucket reports the exact max


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_bad_samples(bad: float) -> None:
    with pytest.raises(MetricsError):
        LogHistogram().record(bad)


@pytest.mark.parametrize("q", [0.0, -0.1, 1.5])
def test_bad_quantiles(q: float) -> None:
    with pytest.raises(MetricsError):
        LogHistogram().quantile(q)


def test_empty_histogram() -> None:
    hist = LogHistogram()
    assert hist.quantile(0.5) == 0.0
    assert hist.summary().count == 0


def test_snapshot_once_per_interval() -> None:
    clock = ManualClock(start=1000.0)
    agg = MetricsAggregator(interval=1.0)
    assert agg.snapshot(clock.now()) is None  # starts the first interval
    for _ in range(512):
        agg.record_count("submitted", now=clock.now())
        clock.advance(1 / 1024)  # exact in binary: 512 steps are 0.5 s
    assert agg.snapshot(clock.now()) is None  # 0.5 s in: not yet
    assert not agg.due(clock.now())
    clock.advance(0.5)
    assert agg.due(clock.now())
    snap = agg.snapshot(clock.now())
    assert snap is not None
    assert snap.seq == 0
    assert snap.at == clock.now()
    assert snap.interval_s == pytest.approx(1.0)
    assert snap.counts == {"submitted": 512}
    assert snap.rates["submitted"] == pytest.approx(512.0)
    assert agg.snapshot(clock.now()) is None  # at most one per interval


def test_counts_cumulate_and_rates_cover_the_interval() -> None:
    clock = ManualClock(start=100.0)
    agg = MetricsAggregator(interval=1.0, start=100.0)
    agg.record_count("submitted", 10, now=clock.now())
    agg.record_count("receipts", 4, now=clock.now())
    clock.advance(1.0)
    first = agg.snapshot(clock.now())
    agg.record_count("submitted", 30, now=clock.now())
    clock.advance(2.0)  # a late snapshot: the rate divides by the actual 2 s
    second = agg.snapshot(clock.now())
    assert first is not None
    assert second is not None
    assert first.counts == {"submitted": 10, "receipts": 4}
    assert second.seq == 1
    assert second.counts == {"submitted": 40, "receipts": 4}
    assert second.interval_s == pytest.approx(2.0)
    assert second.rates == {"submitted": pytest.approx(15.0), "receipts": 0.0}


def test_latency_interval_and_total(rng: random.Random) -> None:
    clock = ManualClock()
    agg = MetricsAggregator(start=clock.now())
    first = [rng.uniform(1, 10) for _ in range(1000)]
    for ms in first:
        agg.record_latency("submit_resp", ms, now=clock.now())
    clock.advance(1)
    snap1 = agg.snapshot(clock.now())
    second = [rng.uniform(100, 200) for _ in range(1000)]
    for ms in second:
        agg.record_latency("submit_resp", ms, now=clock.now())
    clock.advance(1)
    snap2 = agg.snapshot(clock.now())
    clock.advance(1)
    snap3 = agg.snapshot(clock.now())
    assert snap1 is not None
    assert snap2 is not None
    assert snap3 is not None
    lat1, lat2 = snap1.latency["submit_resp"], snap2.latency["submit_resp"]
    assert lat1.count == 1000
    assert lat2.count == 1000
    for summary, values in ((lat1, first), (lat2, second)):
        for q, got in ((0.5, summary.p50_ms), (0.95, summary.p95_ms), (0.99, summary.p99_ms)):
            exact = nearest_rank(values, q)
            assert abs(got - exact) <= exact * RELATIVE_ERROR_BOUND
        assert summary.max_ms == max(values)
    total = snap2.latency_total["submit_resp"]
    assert total.count == 2000
    assert abs(total.p50_ms - nearest_rank(first + second, 0.5)) <= 200 * RELATIVE_ERROR_BOUND
    assert snap3.latency["submit_resp"].count == 0  # nothing in the third interval
    assert snap3.latency_total["submit_resp"].count == 2000


def test_gauges_queues_windows_errors_receipts() -> None:
    clock = ManualClock()
    agg = MetricsAggregator(start=clock.now())
    agg.record_gauge("tokens", 3, now=clock.now())
    agg.record_gauge("tokens", 7.5, now=clock.now())
    agg.record_queues(now=clock.now(), queued=10, in_flight=3, awaiting_receipt=40, scheduled=2)
    agg.record_window("b1", 3, 10, now=clock.now())
    agg.record_window("b2", 0, 10, now=clock.now())
    agg.forget_window("b2")
    agg.record_error(0x58, now=clock.now())
    agg.record_error(0x58, 2, now=clock.now())
    agg.record_error("timeout", now=clock.now())
    agg.record_receipt("DELIVRD", 5, now=clock.now())
    agg.record_receipt("UNDELIV", now=clock.now())
    clock.advance(1)
    snap = agg.snapshot(clock.now())
    assert snap is not None
    assert snap.gauges == {"tokens": 7.5}
    assert snap.queues == QueueDepths(queued=10, in_flight=3, awaiting_receipt=40, scheduled=2)
    assert snap.windows == {"b1": WindowUse(in_flight=3, size=10)}
    assert snap.errors == {"0x00000058": 3, "timeout": 1}
    assert snap.receipts == {"DELIVRD": 5, "UNDELIV": 1}
    assert decode_event(encode_event(snap)) == snap


def test_first_record_starts_the_interval() -> None:
    agg = MetricsAggregator(interval=2.0)
    agg.record_count("x", now=50.0)
    assert agg.snapshot(51.0) is None
    snap = agg.snapshot(52.0)
    assert snap is not None
    assert snap.interval_s == 2.0


def test_same_inputs_same_snapshots() -> None:
    def run() -> list[bytes]:
        rng = random.Random(7)
        clock = ManualClock()
        agg = MetricsAggregator(start=clock.now())
        out = []
        for _ in range(3000):
            clock.advance(rng.uniform(0, 0.002))
            agg.record_count("submitted", now=clock.now())
            agg.record_latency("submit_resp", rng.expovariate(0.1), now=clock.now())
            snap = agg.snapshot(clock.now())
            if snap is not None:
                out.append(encode_event(snap))
        return out

    first = run()
    assert len(first) >= 2
    assert first == run()


def test_bind_counts_cumulate_and_bind_rates_cover_the_interval() -> None:
    agg = MetricsAggregator(interval=1.0, start=0.0)
    for _ in range(6):
        agg.record_bind_count("b1", BIND_SUBMITTED, now=0.5)
    agg.record_bind_count("b2", BIND_SUBMITTED, 3, now=0.5)
    agg.record_bind_count("b1", BIND_THROTTLED, now=0.5)
    first = agg.snapshot(2.0)  # a late snapshot: rates divide by the actual 2 s
    agg.record_bind_count("b1", BIND_SUBMITTED, 4, now=2.5)
    second = agg.snapshot(3.0)
    agg.forget_bind("b2")
    third = agg.snapshot(4.0)
    assert first is not None
    assert second is not None
    assert third is not None
    assert first.bind_counts == {"b1": {"submitted": 6, "throttled": 1}, "b2": {"submitted": 3}}
    assert first.bind_rates == {
        "b1": {"submitted": 3.0, "throttled": 0.5},
        "b2": {"submitted": 1.5},
    }
    assert second.bind_counts["b1"] == {"submitted": 10, "throttled": 1}
    assert second.bind_rates == {
        "b1": {"submitted": 4.0, "throttled": 0.0},
        "b2": {"submitted": 0.0},
    }
    assert list(third.bind_counts) == ["b1"]
    assert decode_event(encode_event(second)) == second


def test_counts_recorded_between_snapshots_are_in_the_next_one_only() -> None:
    # Counts go into the interval first and join the totals when a snapshot closes it.
    agg = MetricsAggregator(interval=1.0, start=0.0)
    agg.record_count("sent", 0, now=0.1)  # a name with nothing yet is still reported
    agg.record_bind_count("b1", BIND_SUBMITTED, 2, now=0.1)
    agg.record_bind_count("b2", BIND_SUBMITTED, now=0.1)
    agg.forget_bind("b2")  # forgotten before its first snapshot: not reported at all
    first = agg.snapshot(1.0)
    agg.record_count("sent", 5, now=1.5)
    agg.record_bind_count("b3", BIND_THROTTLED, now=1.5)  # a bind first seen later
    assert agg.snapshot(1.5) is None  # the interval is not over: nothing folded twice
    second = agg.snapshot(2.0)
    third = agg.snapshot(3.0)
    assert first is not None
    assert second is not None
    assert third is not None
    assert first.counts == {"sent": 0}
    assert first.bind_counts == {"b1": {"submitted": 2}}
    assert second.counts == {"sent": 5}
    assert second.rates == {"sent": 5.0}
    assert second.bind_counts == {"b1": {"submitted": 2}, "b3": {"throttled": 1}}
    assert second.bind_rates == {"b1": {"submitted": 0.0}, "b3": {"throttled": 1.0}}
    assert third.counts == {"sent": 5}
    assert third.rates == {"sent": 0.0}
    assert third.bind_counts == second.bind_counts


def test_bad_records() -> None:
    agg = MetricsAggregator()
    with pytest.raises(MetricsError):
        agg.record_count("x", -1, now=0)
    with pytest.raises(MetricsError):
        agg.record_latency("x", -0.5, now=0)
    with pytest.raises(MetricsError):
        agg.record_error(1, -1, now=0)
    with pytest.raises(MetricsError):
        agg.record_receipt("DELIVRD", -1, now=0)
    with pytest.raises(MetricsError):
        agg.record_bind_count("b1", BIND_SUBMITTED, -1, now=0)
    with pytest.raises(MetricsError):
        MetricsAggregator(interval=0)
