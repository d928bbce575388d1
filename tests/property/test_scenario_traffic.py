"""Properties of the traffic generator: determinism, ordering, and rates per phase."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from scenarios.schema import GeneratorStream, Scenario
from scenarios.traffic import arrival_offsets, generate

_rates = st.floats(min_value=0.5, max_value=50, allow_nan=False)
_durations = st.floats(min_value=0.5, max_value=20, allow_nan=False)
_phase = st.one_of(
    st.builds(lambda r, d: {"kind": "steady", "rate": r, "duration": d}, _rates, _durations),
    st.builds(
        lambda a, b, d: {"kind": "ramp", "from_rate": a, "to_rate": b, "duration": d},
        _rates,
        _rates,
        _durations,
    ),
    st.builds(
        lambda rs, h: {"kind": "step", "rates": rs, "hold": h},
        st.lists(_rates, min_size=1, max_size=3),
        _durations,
    ),
    st.builds(lambda c: {"kind": "burst", "count": c}, st.integers(1, 20)),
)


def _scenario(phases: list[dict[str, Any]], seed: int, arrivals: str) -> Scenario:
    return Scenario.model_validate(
        {
            "schema_version": 1,
            "name": "prop",
            "seed": seed,
            "traffic": [
                {
                    "kind": "generator",
                    "name": "g",
                    "phases": phases,
                    "arrivals": arrivals,
                    "text": {"gsm7": 1, "ucs2": 1},
                    "destinations": {"kind": "range", "first": "09000000000",
                                     "last": "09099999999"},
                }
            ],
        }
    )  # fmt: skip


def _expected(phase: dict[str, Any]) -> float:
    kind = phase["kind"]
    if kind == "steady":
        return float(phase["rate"] * phase["duration"])
    if kind == "ramp":
        return float((phase["from_rate"] + phase["to_rate"]) / 2 * phase["duration"])
    if kind == "step":
        return float(sum(phase["rates"]) * phase["hold"])
    return float(phase["count"])


def _length(phase: dict[str, Any]) -> float:
    kind = phase["kind"]
    if kind == "step":
        return float(len(phase["rates"]) * phase["hold"])
    if kind == "burst":
        return 0.0
    return float(phase["duration"])


@settings(max_examples=60)
@given(
    phases=st.lists(_phase, min_size=1, max_size=4),
    seed=st.integers(0, 2**32),
    arrivals=st.sampled_from(["uniform", "poisson"]),
)
def test_same_seed_same_stream(phases: list[dict[str, Any]], seed: int, arrivals: str) -> None:
    first = list(generate(_scenario(phases, seed, arrivals)))
    second = list(generate(_scenario(phases, seed, arrivals)))
    assert first == second
    offsets = [m.offset_s for m in first]
    assert offsets == sorted(offsets)
    assert len({m.key for m in first}) == len(first)


@settings(max_examples=100)
@given(phases=st.lists(_phase, min_size=1, max_size=4))
def test_uniform_counts_per_phase_match_the_rate_profile(phases: list[dict[str, Any]]) -> None:
    stream = _scenario(phases, 0, "uniform").traffic[0]
    assert isinstance(stream, GeneratorStream)
    offsets = list(arrival_offsets(stream.phases))
    # Message n goes out when the integral of the rate reaches n (n = 0, 1, ...), so before the
    # end of every phase with a length, ceil(integral) messages have gone (within one for the
    # rounding at the boundary). A burst is an instant: the total covers it.
    assert len(offsets) == math.ceil(sum(_expected(p) for p in phases) - 1e-9)
    end = 0.0
    integral = 0.0
    for phase in phases:
        end += _length(phase)
        integral += _expected(phase)
        if phase["kind"] == "burst":
            continue
        sent = sum(1 for t in offsets if t < end - 1e-9)
        assert math.ceil(integral - 1e-6) - 1 <= sent <= math.ceil(integral + 1e-6) + 1


@settings(max_examples=30)
@given(rate=st.floats(5, 50), seed=st.integers(0, 1000))
def test_poisson_rate_within_tolerance(rate: float, seed: int) -> None:
    duration = 2000 / rate  # about 2000 messages: a 4-sigma band of about 9 %
    scenario = _scenario([{"kind": "steady", "rate": rate, "duration": duration}], seed, "poisson")
    count = sum(1 for _ in generate(scenario))
    assert abs(count - 2000) <= 4 * 2000**0.5
