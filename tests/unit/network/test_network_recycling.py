"""Recycled numbers: misdelivery unless the owner check excludes them; stale databases."""

from __future__ import annotations

from datetime import date, timedelta

from simulator.network import EventKind
from tests.unit.network.helpers import DAY, EPOCH, events, msg, network, receipts, sub

NUMBER = "09055556666"
RECYCLED = sub(
    NUMBER,
    ownership=[
        {"owner": "alice", "active_from": "2015-01-01", "active_to": "2025-03-01"},
        {"owner": "bob", "active_from": "2025-09-01"},
    ],
)


def test_message_to_new_owner_is_delivrd_but_misdelivery() -> None:
    net = network(subscribers=[RECYCLED])
    net.submit(msg(NUMBER, b"Alice, you owe 5,000 yen", intended_owner="alice"), EPOCH)
    effects = net.advance(EPOCH + DAY)
    assert [r.stat for r in receipts(effects)] == ["DELIVRD"]
    (incident,) = events(effects, EventKind.MISDELIVERY)
    assert incident.detail["owner"] == "bob"
    assert incident.detail["intended_owner"] == "alice"
    (message,) = net.handset(NUMBER).threads[0].messages
    assert "misdelivery" in message.flags


def test_obtained_date_also_detects_the_new_owner() -> None:
    net = network(subscribers=[RECYCLED])
    net.submit(msg(NUMBER, obtained_date=date(2019, 4, 1)), EPOCH)
    net.submit(msg(NUMBER, b"fresh", obtained_date=date(2025, 10, 1)), EPOCH + 1)
    incidents = events(net.advance(EPOCH + DAY), EventKind.MISDELIVERY)
    assert len(incidents) == 1
    assert incidents[0].detail["obtained_date"] == "2019-04-01"


def test_owner_check_excludes_the_recycled_number() -> None:
    net = network(subscribers=[RECYCLED])
    check = net.owner_check(NUMBER, date(2019, 4, 1), EPOCH)
    assert check.status == "changed"
    if check.status != "changed":  # the gateway's rule: only unchanged numbers are sent to
        net.submit(msg(NUMBER, obtained_date=date(2019, 4, 1)), EPOCH)
    assert events(net.advance(EPOCH + DAY), EventKind.MISDELIVERY) == []


def test_stale_database_lets_exactly_the_lagged_changes_through() -> None:
    """60 numbers reassigned 1..60 days ago; with a 30-day lag the newest slip through."""
    today = date(2026, 1, 1)
    subscribers = [
        sub(
            f"090{d:08d}",
            ownership=[
                {
                    "owner": "old",
                    "active_from": "2015-01-01",
                    "active_to": (today - timedelta(days=d + 1)).isoformat(),
                },
                {"owner": "new", "active_from": (today - timedelta(days=d)).isoformat()},
            ],
        )
        for d in range(1, 61)
    ]
    lag = 30
    net = network(subscribers=subscribers, owner_check={"db_lag_days": lag})
    obtained = date(2020, 1, 1)
    sent = 0
    for s in subscribers:
        if net.owner_check(s["number"], obtained, EPOCH).status == "unchanged":
            net.submit(msg(s["number"], obtained_date=obtained), EPOCH + sent)
            sent += 1
    incidents = events(net.advance(EPOCH + DAY), EventKind.MISDELIVERY)
    # Visible means the change (disconnect d+1 days ago) is at least `lag` days old.
    expected = sum(1 for d in range(1, 61) if d + 1 < lag)
    assert sent == len(incidents) == expected == 28


def test_stale_database_count_on_a_generated_population() -> None:
    """Heavy churn, short quarantine: misdeliveries = changes the lagged database cannot see."""

    def run(lag: int) -> tuple[int, int]:
        net = network(
            seed=11,
            population={"size": 3000, "reject_all_share": 0.0, "dangerous_filter_share": 0.0},
            recycling={
                "annual_disconnect_rate": 3.0,
                "quarantine": {"median_days": 3, "min_days": 1, "sigma": 0.0},
            },
            owner_check={"db_lag_days": lag},
            routes={
                "domestic_direct": {
                    "outcomes": {
                        "delivered": 1.0,
                        "expired": 0.0,
                        "unknown_subscriber": 0.0,
                        "rejected": 0.0,
                        "unknown": 0.0,
                    }
                }
            },
        )
        obtained = date(2025, 6, 1)
        cutoff = date(2026, 1, 1) - timedelta(days=lag)
        expected = 0
        for i, number in enumerate(net.population.numbers()):
            history = net.history(number)
            assert history is not None
            if net.owner_check(number, obtained, EPOCH).status != "unchanged":
                continue
            net.submit(msg(number, b"n%d" % i, obtained_date=obtained), EPOCH + i * 0.01)
            today = date(2026, 1, 1)
            true_changes = [d for d in history.change_days() if obtained < d <= today]
            if true_changes:
                assert all(d > cutoff for d in true_changes)
                # A number still in quarantine is UNDELIV: nobody receives it.
                expected += history.tenure_at(EPOCH + i * 0.01) is not None
        found = len(events(net.advance(EPOCH + DAY), EventKind.MISDELIVERY))
        return found, expected

    found, expected = run(lag=30)
    assert found == expected > 20
    assert run(lag=0) == (0, 0)
