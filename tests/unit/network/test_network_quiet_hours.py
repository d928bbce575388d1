"""Quiet-hours audit: deliveries 21:00-08:00 recipient-local time (DOMAIN §5, §6.6)."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time

import pytest

from simulator.network import EventKind
from simulator.network.quiet import QuietHours
from tests.unit.network.helpers import DAY, EPOCH, HOUR, events, msg, network, sub

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


def _at(hour: int, minute: int = 0) -> float:
    return datetime(2026, 1, 5, hour, minute, tzinfo=TOKYO).timestamp()


@pytest.mark.parametrize(
    ("hour", "minute", "quiet"),
    [
        (20, 59, False),
        (21, 0, True),
        (23, 30, True),
        (3, 0, True),
        (7, 59, True),
        (8, 0, False),
        (12, 0, False),
    ],
)
def test_window_crosses_midnight(hour: int, minute: int, quiet: bool) -> None:
    assert QuietHours(time(21), time(8)).is_quiet(_at(hour, minute), TOKYO) is quiet


def test_segment_cache_is_consistent() -> None:
    q = QuietHours(time(21), time(8))
    fresh = [QuietHours(time(21), time(8)).is_quiet(EPOCH + i * 600.0, TOKYO) for i in range(300)]
    assert [q.is_quiet(EPOCH + i * 600.0, TOKYO) for i in range(300)] == fresh
    assert sum(fresh) == 2 * 11 * 6  # 50 h from 09:00: two 11-hour nights, 6 samples/h


def test_delivery_in_quiet_hours_is_recorded() -> None:
    net = network(
        subscribers=[sub("09011112222")], quiet_hours={"enabled": True}, absence={"p_absent": 0.0}
    )
    net.submit(msg("09011112222", b"evening"), _at(22))
    net.submit(msg("09011112222", b"noon"), _at(12) + DAY)
    effects = net.advance(_at(12) + 2 * DAY)
    (quiet,) = events(effects, EventKind.DELIVERED_IN_QUIET_HOURS)
    assert quiet.number == "09011112222"
    assert len(events(effects, EventKind.DELIVERED)) == 2


def test_late_evening_submit_delivered_after_retries_in_the_night() -> None:
    """20:55 submit to an absent handset that returns at 23:00: delivered inside quiet hours."""
    start = _at(20, 55)
    net = network(
        subscribers=[
            sub(
                "09011112222",
                handset=[{"state": "off", "start_s": start - EPOCH, "end_s": _at(23) - EPOCH}],
            )
        ],
        quiet_hours={"enabled": True},
    )
    net.submit(msg("09011112222"), start)
    assert len(events(net.advance(start + DAY), EventKind.DELIVERED_IN_QUIET_HOURS)) == 1


def test_recipient_time_zone_override() -> None:
    net = network(
        subscribers=[sub("09011112222", timezone="America/New_York")],
        quiet_hours={"enabled": True},
    )
    # 12:00 in Tokyo is 22:00 the day before in New York.
    net.submit(msg("09011112222"), _at(12))
    assert len(events(net.advance(_at(12) + HOUR), EventKind.DELIVERED_IN_QUIET_HOURS)) == 1


def test_disabled() -> None:
    net = network(subscribers=[sub("09011112222")])
    net.submit(msg("09011112222"), _at(23))
    assert events(net.advance(_at(23) + HOUR), EventKind.DELIVERED_IN_QUIET_HOURS) == []
