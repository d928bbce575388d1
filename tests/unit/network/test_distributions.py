"""Delay distributions: quantile functions hit their anchors exactly."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from simulator.network.distributions import (
    ExponentialLatency,
    FixedLatency,
    LognormalLatency,
    compile_latency,
)


def test_lognormal_hits_median_p95_p99() -> None:
    sample = compile_latency(LognormalLatency())
    assert sample(0.5) == pytest.approx(3.0)
    assert sample(0.95) == pytest.approx(15.0)
    assert sample(0.99) == pytest.approx(60.0)
    assert sample(0.25) < 3.0 < sample(0.75)


def test_plain_lognormal_without_p99() -> None:
    sample = compile_latency(LognormalLatency(median_s=3, p95_s=15, p99_s=None))
    sigma = math.log(5) / 1.6448536269514722
    assert sample(0.99) == pytest.approx(3 * math.exp(sigma * 2.3263478740408408))


def test_clamp_and_monotone() -> None:
    sample = compile_latency(LognormalLatency(max_s=20.0))
    values = [sample(u / 100) for u in range(1, 100)]
    assert values == sorted(values)
    assert max(values) == 20.0


def test_fixed_and_exponential() -> None:
    assert compile_latency(FixedLatency(seconds=7))(0.123) == 7
    exp = compile_latency(ExponentialLatency(mean_s=10, min_s=1))
    assert exp(0.5) == pytest.approx(1 + 10 * math.log(2))


def test_percentiles_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="p95_s"):
        LognormalLatency(median_s=10, p95_s=5)
    with pytest.raises(ValidationError, match="p99_s"):
        LognormalLatency(p95_s=15, p99_s=10)
