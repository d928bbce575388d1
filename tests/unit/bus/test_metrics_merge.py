"""`LogHistogram.merge` and the aggregator's lazily merged totals equal recording every sample
in one histogram (the totals are merged at each snapshot instead of updated per sample)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sms.bus.metrics import LogHistogram, MetricsAggregator

samples = st.lists(st.floats(0.0, 1e8, allow_nan=False), max_size=60)


def _state(h: LogHistogram) -> tuple[object, ...]:
    return (h._buckets, h.count, h.total, h.min, h.max)


def _one(values: list[float]) -> LogHistogram:
    h = LogHistogram()
    for v in values:
        h.record(v)
    return h


@given(a=samples, b=samples)
def test_merge_equals_recording_both(a: list[float], b: list[float]) -> None:
    merged = _one(a)
    merged.merge(_one(b))
    both = _one(a + b)
    assert merged._buckets == both._buckets
    assert (merged.count, merged.min, merged.max) == (both.count, both.min, both.max)
    assert abs(merged.total - both.total) <= 1e-6 * max(1.0, both.total)
    copy = merged.copy()
    assert _state(copy) == _state(merged)
    copy.record(1.0)
    assert copy.count == merged.count + 1  # independent


@given(batches=st.lists(samples, min_size=1, max_size=5))
def test_totals_cover_every_sample(batches: list[list[float]]) -> None:
    agg = MetricsAggregator(interval=1.0, start=0.0)
    everything: list[float] = []
    now = 0.0
    for batch in batches:
        for v in batch:
            agg.record_latency("x", v, now=now)
        everything += batch
        total = agg.latency_total("x")
        assert total._buckets == _one(everything)._buckets
        assert total.count == len(everything)
        now += 1.0
        snap = agg.snapshot(now)
        assert snap is not None
        if everything:
            assert snap.latency_total["x"] == _one(everything).summary()
            assert snap.latency["x"] == _one(batch).summary()
    assert agg.latency_total("unknown").count == 0
