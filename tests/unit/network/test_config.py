"""Network configuration: DOMAIN §6 defaults, strictness and whole-config validation."""

from __future__ import annotations

from datetime import time

import pytest
from pydantic import TypeAdapter, ValidationError

from simulator.network.config import (
    OUTCOMES,
    NetworkConfig,
    OutcomeMix,
    RetrySchedule,
    SubscriberSpec,
)
from simulator.network.distributions import LognormalLatency
from simulator.network.faults import CarrierOutageFault, Fault, TpsThrottleFault

HOUR = 3600.0


def test_defaults_come_from_domain() -> None:
    cfg = NetworkConfig()
    assert cfg.population.carrier_mix == {
        "docomo": 0.36,
        "au": 0.27,
        "SoftBank": 0.21,
        "Rakuten": 0.06,
        "MVNO": 0.10,
    }
    assert cfg.population.ported_share == 0.15
    assert cfg.population.reject_international_share == 0.05
    assert cfg.population.reject_all_share == 0.01
    mix = cfg.routes.domestic_direct.outcomes
    assert mix.shares() == (0.985, 0.008, 0.004, 0.002, 0.001, 0.0, 0.0)
    latency = cfg.routes.domestic_direct.latency
    assert isinstance(latency, LognormalLatency)
    assert (latency.median_s, latency.p95_s, latency.p99_s) == (3.0, 15.0, 60.0)
    assert cfg.absence.p_absent == 0.02
    assert cfg.absence.return_mean_s == 2 * HOUR
    assert cfg.receipts.loss_rate == 0.001
    assert cfg.receipts.fake_delivered_rate == 0.0
    assert cfg.default_account.max_tps == 600
    assert cfg.recycling.annual_disconnect_rate == 0.08
    assert cfg.recycling.reassigned_share == 0.6
    assert (cfg.recycling.quarantine.median_days, cfg.recycling.quarantine.min_days) == (180, 90)
    assert cfg.owner_check.db_lag_days == 30
    assert cfg.owner_check.same_day_counts is True
    assert (cfg.quiet_hours.start, cfg.quiet_hours.end) == (time(21, 0), time(8, 0))
    assert cfg.timezone == "Asia/Tokyo"
    assert cfg.registry.mode == "none"
    assert cfg.errors.absent == 27
    assert cfg.errors.unknown_subscriber == 1
    assert cfg.errors.call_barred == 13
    assert cfg.errors.system_failure == 34
    assert cfg.errors.memory_full == 40


def test_carrier_retry_defaults() -> None:
    carriers = NetworkConfig().carriers
    docomo = carriers["docomo"].retry.offsets()
    assert docomo[-1] <= 72 * HOUR < docomo[-1] + carriers["docomo"].retry.interval_s
    assert carriers["Rakuten"].retry.offsets() == docomo
    softbank = carriers["SoftBank"].retry.offsets()
    assert softbank[-1] <= 24 * HOUR
    assert carriers["SoftBank"].max_validity_s == 24 * HOUR
    au = carriers["au"].retry
    assert au.offsets() == (3600.0,)
    assert au.expire_after_last_retry


def test_retry_backoff_and_cap() -> None:
    schedule = RetrySchedule(
        first_retry_s=10, interval_s=10, backoff=2.0, max_interval_s=40, window_s=200
    )
    assert schedule.offsets() == (10, 20, 40, 80, 120, 160, 200)
    assert RetrySchedule(max_retries=0).offsets() == ()


def test_mix_must_sum_to_one() -> None:
    with pytest.raises(ValidationError, match="sum"):
        OutcomeMix(delivered=0.9)
    assert OUTCOMES[0] == "delivered"


def test_unknown_keys_are_errors() -> None:
    with pytest.raises(ValidationError, match="extra"):
        NetworkConfig.model_validate({"populaton": {}})


def test_unknown_carrier_is_named() -> None:
    with pytest.raises(ValidationError, match=r"subscribers\[09012345678\]\.carrier"):
        NetworkConfig.model_validate({"subscribers": [{"number": "09012345678", "carrier": "x"}]})
    with pytest.raises(ValidationError, match="carrier_mix"):
        NetworkConfig.model_validate({"population": {"carrier_mix": {"docomo": 0.5}}})


def test_ownership_periods_must_be_ordered_and_closed() -> None:
    with pytest.raises(ValidationError, match="ownership"):
        SubscriberSpec.model_validate(
            {
                "number": "09012345678",
                "ownership": [
                    {"owner": "a", "active_from": "2020-01-01"},
                    {"owner": "b", "active_from": "2021-01-01"},
                ],
            }
        )


def test_bad_time_zone() -> None:
    with pytest.raises(ValidationError, match="time zone"):
        NetworkConfig(timezone="Mars/Olympus")


def test_faults_discriminated_on_kind() -> None:
    adapter: TypeAdapter[Fault] = TypeAdapter(Fault)
    assert isinstance(
        adapter.validate_python({"kind": "tps_throttle", "max_tps": 5}), TpsThrottleFault
    )
    outage = adapter.validate_python({"kind": "carrier_outage", "carrier": "au", "end_s": 60})
    assert isinstance(outage, CarrierOutageFault)
    with pytest.raises(ValidationError):
        adapter.validate_python({"kind": "no_such_fault"})
    with pytest.raises(ValidationError, match="end_s"):
        adapter.validate_python({"kind": "stall", "start_s": 10, "end_s": 5})


def test_schema_documents_every_field() -> None:
    schema = NetworkConfig.model_json_schema()
    missing = [
        f"{model}.{name}"
        for model, body in schema["$defs"].items()
        for name, prop in body.get("properties", {}).items()
        if "description" not in prop
    ]
    assert missing == []
