"""Scenario schema: committed JSON schema drift, the metric catalogue, cross-field rules."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from scenarios.commands import schema as schema_command
from scenarios.schema import (
    METRICS,
    SCHEMA_PATH,
    CounterMetric,
    LatencyMetric,
    RatioMetric,
    Scenario,
    parse_address,
    parse_duration,
    parse_expectation,
    schema_json,
)
from simulator.network.faults import CarrierOutageFault, TpsThrottleFault

# Models we reuse but do not own: their fields carry no attribute docstrings.
_FOREIGN_DEFS = {"RetryConfig", "RuleConfig", "BackoffConfig", "RetryAction", "IdBase", "Method"}


def _scenario(**fields: Any) -> Scenario:
    doc: dict[str, Any] = {"schema_version": 1, "name": "t", "duration": 10}
    doc.update(fields)
    return Scenario.model_validate(doc)


def test_committed_schema_matches_the_models() -> None:
    committed = SCHEMA_PATH.read_text(encoding="utf-8")
    assert committed == schema_json(), (
        "scenarios/schema.json drifted from scenarios/schema.py: "
        "run `.venv/bin/python scripts/write_schema.py`"
    )


def test_schema_check_command_reports_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "schema.json"
    stale.write_text("{}\n", encoding="utf-8")
    args = argparse.Namespace(write=False, check=True, path=stale)
    assert schema_command.run(args) == 1
    assert "out of date" in capsys.readouterr().err
    assert schema_command.run(argparse.Namespace(write=False, check=True, path=SCHEMA_PATH)) == 0
    written = tmp_path / "new.json"
    assert schema_command.run(argparse.Namespace(write=True, check=False, path=written)) == 0
    assert written.read_text(encoding="utf-8") == schema_json()


def test_every_field_of_our_models_is_documented_in_the_schema() -> None:
    schema = json.loads(schema_json())
    undocumented = [
        f"{name}.{prop}"
        for name, definition in schema["$defs"].items()
        if name not in _FOREIGN_DEFS
        for prop, spec in definition.get("properties", {}).items()
        if not spec.get("description")
    ]
    undocumented += [p for p, s in schema["properties"].items() if not s.get("description")]
    assert undocumented == []


def test_catalogue_and_literal_types_agree() -> None:
    by_kind = {
        kind: {name for name, info in METRICS.items() if info.kind == kind}
        for kind in ("counter", "ratio", "latency")
    }
    assert set(get_args(CounterMetric)) == by_kind["counter"]
    assert set(get_args(RatioMetric)) == by_kind["ratio"]
    assert set(get_args(LatencyMetric)) == by_kind["latency"]
    for info in METRICS.values():
        assert info.description
        if info.kind == "ratio":
            assert info.numerator
            assert info.denominator


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(5, 5.0), (2.5, 2.5), ("90s", 90.0), ("500ms", 0.5), ("5m", 300.0), ("1h30m", 5400.0),
     ("72h", 259200.0), ("3d", 259200.0), ("1 h 15 m", 4500.0)],
)  # fmt: skip
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "ten", "5 parsecs", "-3s", True, -1, float("inf"), "1h 2"])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_addresses() -> None:
    assert parse_address("127.0.0.1:2775") == ("127.0.0.1", 2775)
    assert parse_address("[::1]:0") == ("::1", 0)
    for bad in ("localhost", "host:99999", ":2775"):
        with pytest.raises(ValueError):
            parse_address(bad)


@pytest.mark.parametrize(
    ("text", "full"),
    [
        ("delivered_ratio >= 0.98",
         {"kind": "ratio", "metric": "delivered_ratio", "op": ">=", "threshold": 0.98}),
        ("misdeliveries == 0",
         {"kind": "count", "metric": "misdeliveries", "op": "==", "threshold": 0}),
        ("p99 submit_to_resp_ms <= 500",
         {"kind": "latency", "metric": "submit_to_resp_ms", "percentile": "p99", "op": "<=",
          "threshold": 500.0}),
        ("throughput submit_ok >= 50",
         {"kind": "throughput", "metric": "submit_ok", "op": ">=", "threshold": 50.0}),
        ("all_terminal", {"kind": "all_terminal"}),
        (" mo_reassembled_equals_sent ", {"kind": "mo_reassembled_equals_sent"}),
    ],
)  # fmt: skip
def test_shorthand_expectations(text: str, full: dict[str, Any]) -> None:
    assert parse_expectation(text) == full
    scenario = _scenario(expectations=[text])
    assert scenario.expectations[0].label == text.strip()


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("delivered_ratio => 0.98", "cannot read"),
        ("delivred_ratio >= 0.98", "did you mean 'delivered_ratio'"),
        ("p99 misdeliveries <= 1", "needs a latency series"),
        ("throughput delivered_ratio >= 1", "needs a counter"),
        ("misdeliveries <= 0.5", "whole number"),
    ],
)
def test_bad_shorthand(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_expectation(text)


def test_expectation_names_must_be_unique() -> None:
    with pytest.raises(ValidationError, match="duplicate expectation"):
        _scenario(expectations=["all_terminal", {"kind": "all_terminal"}])
    named = _scenario(expectations=["all_terminal", {"kind": "all_terminal", "name": "again"}])
    assert [e.label for e in named.expectations] == ["all_terminal", "again"]


def test_run_must_be_bounded() -> None:
    open_ended = {
        "kind": "generator",
        "name": "g",
        "phases": [{"kind": "steady", "rate": 1}],
    }
    doc = {"schema_version": 1, "name": "t", "traffic": [open_ended]}
    with pytest.raises(ValidationError, match="last phase never ends"):
        Scenario.model_validate(doc)
    Scenario.model_validate({**doc, "messages": 10})
    Scenario.model_validate({**doc, "duration": "1m"})
    Scenario.model_validate({**doc, "traffic": [{**open_ended, "messages": 3}]})


def test_only_the_last_phase_may_be_open() -> None:
    phases = [{"kind": "steady", "rate": 1}, {"kind": "steady", "rate": 2, "duration": 5}]
    with pytest.raises(ValidationError, match="only the last phase"):
        _scenario(traffic=[{"kind": "generator", "name": "g", "phases": phases}])


def test_topologies() -> None:
    both = _scenario()
    assert both.runs_simulator
    assert both.runs_gateway
    smsc = _scenario(external={"smsc": {"address": "10.0.0.1:2775", "system_id": "me"}})
    assert smsc.runs_gateway
    assert not smsc.runs_simulator
    esme = _scenario(external={"esme": {"listen": "0.0.0.0:2775"}})
    assert esme.runs_simulator
    assert not esme.runs_gateway
    with pytest.raises(ValidationError, match="exactly one of smsc or esme"):
        _scenario(external={})
    with pytest.raises(ValidationError, match="must be 1 with an external system"):
        _scenario(speed=10, external={"esme": {}})
    with pytest.raises(ValidationError, match="their SMSC replaces ours"):
        _scenario(simulator={}, external={"smsc": {"address": "h:1", "system_id": "me"}})
    with pytest.raises(ValidationError, match="their ESME is the client"):
        _scenario(gateway={}, external={"esme": {}})
    with pytest.raises(ValidationError, match=r"binds use external\.smsc"):
        _scenario(gateway={"binds": [{}]}, external={"smsc": {"address": "h:1", "system_id": "x"}})


def test_gateway_binds_must_match_simulator_accounts() -> None:
    sim = {"accounts": [{"system_id": "acme", "password": "pw", "bind_modes": ["transmitter"],
                         "max_binds": 1}]}  # fmt: skip
    ok = {"system_id": "acme", "password": "pw", "mode": "transmitter"}
    _scenario(simulator=sim, gateway={"binds": [ok]})
    cases = [
        ({**ok, "system_id": "other"}, "no SMSC account 'other'"),
        ({**ok, "password": "nope"}, "does not match simulator account"),
        ({**ok, "mode": "transceiver"}, "may bind only as transmitter"),
        ({**ok, "count": 2}, "allows 1 binds"),
    ]
    for bind, why in cases:
        with pytest.raises(ValidationError, match=why):
            _scenario(simulator=sim, gateway={"binds": [bind]})


def test_streams_refer_to_existing_accounts_and_routes() -> None:
    stream = {"kind": "generator", "name": "g", "phases": [{"kind": "burst", "count": 1}]}
    with pytest.raises(ValidationError, match="no gateway bind with system_id 'x'"):
        _scenario(traffic=[{**stream, "account": "x"}])
    with pytest.raises(ValidationError, match="no gateway route 'x'"):
        _scenario(traffic=[{**stream, "route": "x"}])
    with pytest.raises(ValidationError, match="duplicate stream"):
        _scenario(traffic=[stream, stream])


def test_network_config_gets_start_and_fault_timeline() -> None:
    scenario = _scenario(
        start="2026-01-15T20:55:00+09:00",
        simulator={
            "network": {"faults": [{"kind": "tps_throttle", "max_tps": 5}]},
            "faults": [{"kind": "carrier_outage", "carrier": "au", "start_s": 10, "end_s": 20}],
        },
    )
    config = scenario.network_config()
    assert config.epoch.isoformat() == "2026-01-15T20:55:00+09:00"
    assert scenario.start_s == config.epoch_s
    assert [type(f) for f in config.faults] == [TpsThrottleFault, CarrierOutageFault]


def test_fault_timeline_carriers_are_checked() -> None:
    with pytest.raises(ValidationError, match="unknown carrier 'nope'"):
        _scenario(simulator={"faults": [{"kind": "carrier_outage", "carrier": "nope"}]})


def test_passwords_are_secret() -> None:
    scenario = _scenario(gateway={"binds": [{"system_id": "a", "password": "hunter2"}]})
    assert "hunter2" not in repr(scenario)
    with pytest.raises(ValidationError, match="at most 8 characters"):
        _scenario(gateway={"binds": [{"system_id": "a", "password": "123456789"}]})


def test_retry_rules_are_checked_at_load_time() -> None:
    with pytest.raises(ValidationError, match="unknown command_status"):
        _scenario(gateway={"retry": {"rules": {"ESME_RNOPE": {"action": "retry_later"}}}})
