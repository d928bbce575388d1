"""Ownership timelines and the owner check (他人接続判定, DOMAIN §6.3)."""

from __future__ import annotations

import itertools
import zoneinfo
from datetime import date, timedelta

import pytest

from simulator.network.config import OwnerCheckConfig, OwnershipSpec, RecyclingConfig
from simulator.network.fate import FateSource
from simulator.network.ownership import (
    OwnershipDatabase,
    OwnerStatus,
    generate_history,
    history_from_spec,
)
from tests.unit.network.helpers import DAY, EPOCH, network, sub

TZ = zoneinfo.ZoneInfo("Asia/Tokyo")
NUMBER = "09055556666"
TODAY = date(2026, 1, 1)  # EPOCH is 2026-01-01 09:00 in Tokyo


RECYCLED = history_from_spec(
    NUMBER,
    [
        OwnershipSpec(owner="alice", active_from=date(2015, 1, 1), active_to=date(2020, 6, 1)),
        OwnershipSpec(owner="bob", active_from=date(2020, 12, 1), active_to=date(2025, 3, 1)),
        OwnershipSpec(owner="carol", active_from=date(2025, 9, 1)),
    ],
    TZ,
)


def _db(**cfg: object) -> OwnershipDatabase:
    return OwnershipDatabase(OwnerCheckConfig.model_validate(cfg), date(2016, 1, 1), TZ)


def test_tenure_at_and_gaps() -> None:
    assert RECYCLED.tenure_at(EPOCH) is not None
    tenure = RECYCLED.tenure_at(EPOCH)
    assert tenure is not None
    assert tenure.owner == "carol"
    quarantine = RECYCLED.tenures[1].end + 10 * DAY
    assert RECYCLED.tenure_at(quarantine) is None
    assert RECYCLED.changed_since(date(2019, 1, 1), EPOCH)
    assert not RECYCLED.changed_since(date(2025, 10, 1), EPOCH)
    # Only changes up to the instant asked about count.
    assert not RECYCLED.changed_since(date(2019, 1, 1), RECYCLED.tenures[0].end - DAY)


def test_changed_returns_only_the_latest_disconnect() -> None:
    result = _db(db_lag_days=0).check(NUMBER, RECYCLED, date(2018, 1, 1), EPOCH)
    assert result.status is OwnerStatus.CHANGED
    assert result.last_disconnect == date(2025, 3, 1)


def test_unchanged_after_last_change() -> None:
    result = _db(db_lag_days=0).check(NUMBER, RECYCLED, date(2025, 9, 2), EPOCH)
    assert result.status is OwnerStatus.UNCHANGED
    assert result.last_disconnect == date(2025, 3, 1)


@pytest.mark.parametrize(("same_day", "expected"), [(True, "changed"), (False, "unchanged")])
def test_same_day_counts(same_day: bool, expected: str) -> None:
    # Reference date == reassignment day (2025-09-01), the last change of the number.
    result = _db(db_lag_days=0, same_day_counts=same_day).check(
        NUMBER, RECYCLED, date(2025, 9, 1), EPOCH
    )
    assert result.status == expected


def test_no_data_before_history_start() -> None:
    result = _db().check(NUMBER, RECYCLED, date(2015, 12, 31), EPOCH)
    assert result.status is OwnerStatus.NO_DATA
    assert result.last_disconnect is None


@pytest.mark.parametrize(
    ("setting", "expected"), [("unchanged", "unchanged"), ("no_data", "no_data")]
)
def test_unknown_number(setting: str, expected: str) -> None:
    result = _db(unknown_number=setting).check("09000000000", None, date(2020, 1, 1), EPOCH)
    assert result.status == expected


def test_reporting_lag_hides_recent_changes() -> None:
    recent = history_from_spec(
        NUMBER,
        [
            OwnershipSpec(owner="a", active_from=date(2015, 1, 1), active_to=TODAY - timedelta(20)),
            OwnershipSpec(owner="b", active_from=TODAY - timedelta(10)),
        ],
        TZ,
    )
    assert _db(db_lag_days=30).check(NUMBER, recent, date(2020, 1, 1), EPOCH).status == "unchanged"
    assert _db(db_lag_days=15).check(NUMBER, recent, date(2020, 1, 1), EPOCH).status == "changed"
    assert _db(db_lag_days=0).check(NUMBER, recent, date(2020, 1, 1), EPOCH).status == "changed"
    # The lag passes: 30 days later the change is visible.
    later = EPOCH + 30 * DAY
    assert _db(db_lag_days=30).check(NUMBER, recent, date(2020, 1, 1), later).status == "changed"


def test_generated_histories_are_well_formed() -> None:
    cfg = RecyclingConfig(annual_disconnect_rate=0.5)
    fates = FateSource(3, "hist")
    changed = 0
    for i in range(300):
        number = f"0901000{i:04d}"
        history = generate_history(number, fates.rng("history", number), EPOCH, cfg, TZ)
        assert history == generate_history(number, fates.rng("history", number), EPOCH, cfg, TZ)
        tenures = history.tenures
        assert tenures[0].first_day is None
        # In service at the epoch, tenures ordered and separated by at least the quarantine.
        assert history.tenure_at(EPOCH) is not None
        for before, after in itertools.pairwise(tenures):
            assert before.end_day is not None
            assert after.first_day is not None
            assert (after.first_day - before.end_day).days >= cfg.quarantine.min_days - 1
        assert len({t.owner for t in tenures}) == len(tenures)
        changed += len(tenures) > 1
    assert 150 < changed < 300  # 0.5/year over 10 years: most numbers changed hands


def test_network_owner_check_bulk_and_forms() -> None:
    net = network(
        subscribers=[
            sub(
                NUMBER,
                ownership=[
                    {"owner": "alice", "active_from": "2015-01-01", "active_to": "2025-03-01"},
                    {"owner": "bob", "active_from": "2025-09-01"},
                ],
            )
        ],
        owner_check={"db_lag_days": 0},
    )
    results = net.owner_check_many(
        [
            (NUMBER, date(2020, 1, 1)),
            ("+819055556666", date(2025, 10, 1)),
            ("819055556666", date(2000, 1, 1)),
        ],
        EPOCH,
    )
    assert [r.status for r in results] == ["changed", "unchanged", "no_data"]
    assert results[0].last_disconnect == date(2025, 3, 1)
    assert results[1].number == "+819055556666"
