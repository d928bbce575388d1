"""Expectations: the evaluation table, margins, undefined observations, live status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import TypeAdapter

from scenarios.expectations import (
    LatencyStats,
    LiveExpectations,
    MessageOutcome,
    RunResults,
    evaluate,
    format_number,
)
from scenarios.schema import Expectation, ExpectationSpec

_ADAPTER: TypeAdapter[ExpectationSpec] = TypeAdapter(Expectation)


def _spec(text: str | dict[str, Any]) -> ExpectationSpec:
    return _ADAPTER.validate_python(text)


def _results(
    counters: Mapping[str, int] | None = None,
    *,
    latencies: Mapping[str, LatencyStats] | None = None,
    spans: Mapping[str, tuple[float, float]] | None = None,
    outcomes: Mapping[str, MessageOutcome] | None = None,
) -> RunResults:
    return RunResults(
        scenario="t",
        run_id="t-1",
        seed=1,
        start_at=1000.0,
        end_at=1100.0,
        counters=dict(counters or {}),
        spans=dict(spans or {}),
        latencies=dict(latencies or {}),
        outcomes=dict(outcomes or {}),
    )


BASE = _results(
    {
        "messages_accepted": 1000,
        "messages_delivered": 962,
        "messages_terminal": 1000,
        "misdeliveries": 3,
        "throttled": 12,
        "submit_attempts": 1200,
        "submit_ok": 1189,
        "mo_sent": 5,
        "mo_received": 5,
        "mo_reassembled": 3,
    },
    latencies={"submit_to_resp_ms": LatencyStats.from_samples([10.0] * 98 + [400.0, 900.0])},
    spans={"submit_ok": (1000.0, 1099.0)},
)


@pytest.mark.parametrize(
    ("expectation", "passed", "observed", "margin"),
    [
        ("delivered_ratio >= 0.98", False, 0.962, "delivered_ratio 0.962 < 0.98 by 0.018"),
        ("delivered_ratio >= 0.95", True, 0.962, "delivered_ratio 0.962 >= 0.95 (margin 0.012)"),
        ("misdeliveries == 0", False, 3, "misdeliveries 3 > 0 by 3"),
        ("spoof_blocked == 0", True, 0, "spoof_blocked 0 == 0"),
        ("throttled > 0", True, 12, "throttled 12 > 0 (margin 12)"),
        ("throttled != 12", False, 12, "throttled 12 == 12, expected != 12"),
        ("p99 submit_to_resp_ms <= 500", True, 400,
         "p99 submit_to_resp_ms 400 <= 500 (margin 100)"),
        ("max submit_to_resp_ms <= 500", False, 900, "max submit_to_resp_ms 900 > 500 by 400"),
        ("p50 submit_to_resp_ms < 20", True, 10, "p50 submit_to_resp_ms 10 < 20 (margin 10)"),
        ("throughput submit_ok >= 10", True, 12, "throughput submit_ok 12 >= 10 (margin 2)"),
        ("throughput submit_ok >= 15", False, 12, "throughput submit_ok 12 < 15 by 3"),
        ("all_terminal", True, 0, "all 1000 accepted messages terminal"),
        ("mo_reassembled_equals_sent", True, 0, "5 MO received equal the 5 sent (3 reassembled)"),
    ],
)  # fmt: skip
def test_evaluation_table(expectation: str, passed: bool, observed: float, margin: str) -> None:
    (verdict,) = evaluate([_spec(expectation)], BASE)
    assert verdict.name == expectation
    assert verdict.passed is passed
    assert verdict.observed == pytest.approx(observed)
    assert verdict.margin == margin


@pytest.mark.parametrize(
    ("expectation", "margin"),
    [
        ("delivered_ratio >= 0.9", "delivered_ratio undefined: messages_accepted is 0"),
        ("p99 submit_to_resp_ms <= 5", "p99 submit_to_resp_ms undefined: no samples"),
        ("throughput submit_ok >= 1",
         "throughput submit_ok undefined: submit_ok occurred 0 time(s), no span to measure a "
         "rate over"),
    ],
)  # fmt: skip
def test_what_cannot_be_observed_fails(expectation: str, margin: str) -> None:
    (verdict,) = evaluate([_spec(expectation)], _results())
    assert not verdict.passed
    assert verdict.observed is None
    assert verdict.margin == margin


def test_all_terminal_names_the_stuck_messages() -> None:
    stuck = {
        f"m-{i}": MessageOutcome(f"m-{i}", "m", "090", "d", 1, True, None, None, None, (None,),
                                 (), 1)
        for i in range(7)
    }  # fmt: skip
    results = _results({"messages_accepted": 9, "messages_not_terminal": 7}, outcomes=stuck)
    (verdict,) = evaluate([_spec("all_terminal")], results)
    assert not verdict.passed
    assert verdict.margin == "7 of 9 accepted messages not terminal"
    assert verdict.detail == "not terminal: m-0, m-1, m-2, m-3, m-4 ..."


def test_mo_mismatch_fails() -> None:
    results = _results({"mo_sent": 3, "mo_received": 2, "mo_mismatched": 1})
    (verdict,) = evaluate([_spec("mo_reassembled_equals_sent")], results)
    assert not verdict.passed
    assert verdict.margin == "1 MO differ between 3 sent and 2 received"


def test_named_expectation_and_order() -> None:
    specs = [_spec({"kind": "count", "metric": "misdeliveries", "name": "nobody wrong"}),
             _spec("all_terminal")]  # fmt: skip
    verdicts = evaluate(specs, BASE)
    assert [v.name for v in verdicts] == ["nobody wrong", "all_terminal"]
    assert verdicts[0].status().status == "fail"


def test_latency_stats_are_nearest_rank() -> None:
    stats = LatencyStats.from_samples(float(x) for x in range(1, 101))
    assert (stats.p50, stats.p90, stats.p95, stats.p99, stats.max) == (50, 90, 95, 99, 100)
    assert stats.mean == 50.5
    assert LatencyStats.from_samples([]).count == 0


def test_format_number() -> None:
    assert [format_number(x) for x in (3.0, 0.962, 0.018000000000000016, 512.34, 15000.2)] == [
        "3", "0.962", "0.018", "512.3", "15000",
    ]  # fmt: skip


def test_live_status_decides_only_what_cannot_change() -> None:
    specs = [
        _spec("misdeliveries == 0"),
        _spec("throttled >= 1"),
        _spec("delivered_ratio >= 0.98"),
        _spec("all_terminal"),
        _spec("messages_not_terminal == 0"),
    ]
    live = LiveExpectations(specs)
    early = live.statuses(_results({"messages_accepted": 10, "messages_not_terminal": 10}))
    assert [s.status for s in early] == ["pending"] * 5
    assert early[2].detail == "delivered_ratio 0 so far (0/10)"
    later = live.statuses(
        _results({"misdeliveries": 1, "throttled": 2, "messages_accepted": 10,
                  "messages_delivered": 10, "messages_not_terminal": 0})
    )  # fmt: skip
    assert [s.status for s in later] == ["fail", "pass", "pending", "pending", "pending"]
    assert [s.name for s in live.changed] == ["misdeliveries == 0", "throttled >= 1"]
    # Decided statuses stick, the rest is decided at the end.
    final = live.statuses(
        _results({"messages_accepted": 10, "messages_delivered": 10, "messages_terminal": 10}),
        final=True,
    )
    assert [s.status for s in final] == ["fail", "pass", "pass", "pass", "pass"]


def test_progress_event() -> None:
    live = LiveExpectations([_spec("all_terminal")])
    event = live.progress(BASE, at=1050.0, phase="running", elapsed_s=50.0, progress=1.5)
    assert event.kind == "scenario_progress"
    assert (event.run_id, event.scenario, event.progress) == ("t-1", "t", 1.0)
    assert event.expectations[0].status == "pending"


def test_results_json_shape() -> None:
    doc = BASE.to_json()
    assert set(doc) >= {"scenario", "run_id", "seed", "counters", "ratios", "latencies",
                        "receipt_mix", "errors", "duration_s"}  # fmt: skip
    assert doc["ratios"]["delivered_ratio"] == pytest.approx(0.962)
    assert doc["ratios"]["receipt_match_ratio"] is None
