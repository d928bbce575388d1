"""Outcome mix, latency and the subscriber-state rules of `CarrierNetwork.submit`."""

from __future__ import annotations

import statistics
from collections import Counter

import pytest

from simulator.network import EventKind, NetworkConfig
from simulator.network.config import OUTCOMES
from simulator.smpp.constants import CommandStatus
from tests.unit.network.helpers import DAY, EPOCH, events, msg, network, receipts, sub

STAT_OF = {
    "delivered": "DELIVRD",
    "expired": "EXPIRED",
    "unknown_subscriber": "UNDELIV",
    "rejected": "REJECTD",
    "unknown": "UNKNOWN",
}


def test_receipt_mix_over_100k_messages_matches_configuration() -> None:
    """100,000 messages: every stat within ±0.5 percentage points of DOMAIN §6.5's mix."""
    net = network(
        seed=2026,
        population={
            "size": 20_000,
            "reject_international_share": 0.0,
            "reject_all_share": 0.0,
            "dangerous_filter_share": 0.0,
        },
        recycling={"annual_disconnect_rate": 0.0},
    )
    numbers = net.population.numbers()
    n = 100_000
    for i in range(n):
        now = EPOCH + i * 0.01
        outcome = net.submit(msg(numbers[i % len(numbers)], b"m%d" % i), now)
        assert outcome.status == 0
    stats = Counter(r.stat for r in receipts(net.advance(EPOCH + 4 * DAY)))
    assert sum(stats.values()) == n
    mix = NetworkConfig().routes.domestic_direct.outcomes
    for name, share in zip(OUTCOMES, mix.shares(), strict=True):
        stat = STAT_OF.get(name)
        if stat is None:
            assert share == 0.0
            continue
        measured = stats[stat] / n
        assert measured == pytest.approx(share, abs=0.005), (stat, measured, share)


def test_latency_of_direct_deliveries_follows_the_distribution() -> None:
    net = network(subscribers=[sub("09011112222")], absence={"p_absent": 0.0})
    latencies = []
    for i in range(4000):
        fate = net.submit(msg("09011112222", b"l%d" % i), EPOCH + i * 0.01).fate
        assert fate is not None
        latencies.append(fate.final_after_s)
    q = statistics.quantiles(latencies, n=100)
    assert q[49] == pytest.approx(3.0, rel=0.1)
    assert q[94] == pytest.approx(15.0, rel=0.15)
    assert q[98] == pytest.approx(60.0, rel=0.3)


def test_number_not_in_service_is_undeliv_err_1_at_once() -> None:
    net = network()
    outcome = net.submit(msg("09099998888"), EPOCH)
    assert outcome.status == 0
    assert outcome.fate is not None
    assert (outcome.fate.stat, outcome.fate.err, outcome.fate.final_after_s) == ("UNDELIV", 1, 0)
    assert [r.stat for r in receipts(net.advance(EPOCH))] == ["UNDELIV"]


def test_invalid_destination_is_refused() -> None:
    outcome = network().submit(msg("0312345678"), EPOCH)  # a landline
    assert outcome.status == CommandStatus.ESME_RINVDSTADR
    assert outcome.message_id is None
    assert outcome.fate is None
    assert outcome.events[0].kind is EventKind.REFUSED


def test_disconnected_number_is_unknown_subscriber() -> None:
    net = network(
        subscribers=[
            sub(
                "09011112222",
                ownership=[{"owner": "a", "active_from": "2015-01-01", "active_to": "2025-12-01"}],
            )
        ]
    )
    fate = net.submit(msg("09011112222"), EPOCH).fate
    assert fate is not None
    assert (fate.stat, fate.err, fate.reason) == ("UNDELIV", 1, "disconnected")


@pytest.mark.parametrize(
    ("flags", "route", "account", "reason"),
    [
        ({"reject_all": True}, "domestic_direct", "acme", "reject_all"),
        ({"reject_international": True}, "international", "intl", "reject_international"),
        ({"dangerous_filter": True}, "international", "fraud", "dangerous_sms"),
    ],
)
def test_recipient_filters_reject(
    flags: dict[str, bool], route: str, account: str, reason: str
) -> None:
    net = network(
        subscribers=[sub("09011112222", **flags)],
        accounts={
            "intl": {"route": "international"},
            "fraud": {"route": "international", "attacker": True},
        },
    )
    source = "00051234" if route == "domestic_direct" else "Shop"
    outcome = net.submit(msg("09011112222", account=account, source=source, source_ton=5), EPOCH)
    assert outcome.fate is not None
    assert (outcome.fate.stat, outcome.fate.err, outcome.fate.reason) == ("REJECTD", 13, reason)
    effects = net.advance(EPOCH + DAY)
    assert [e.detail["reason"] for e in events(effects, EventKind.FILTERED)] == [reason]
    assert net.handset("09011112222").threads == ()


def test_dangerous_url_hosts() -> None:
    net = network(
        subscribers=[sub("09011112222", dangerous_filter=True)],
        dangerous={"url_hosts": ["evil.example"]},
    )
    bad = net.submit(msg("09011112222", b"pay at https://EVIL.example/x"), EPOCH).fate
    good = net.submit(msg("09011112222", b"pay at https://bank.example/x"), EPOCH).fate
    assert bad is not None
    assert bad.reason == "dangerous_sms"
    assert good is not None
    assert good.stat == "DELIVRD"


def test_outcome_overrides_by_prefix_and_carrier() -> None:
    always = {k: 0.0 for k in OUTCOMES}
    net = network(
        subscribers=[
            sub("07011112222", outcome=None),
            sub("09011112222", outcome=None, carrier="au"),
        ],
        outcome_overrides=[
            {"prefix": "070", "outcomes": {**always, "unknown": 1.0}},
            {"carrier": "au", "outcomes": {**always, "rejected": 1.0}},
        ],
    )
    a = net.submit(msg("07011112222"), EPOCH).fate
    b = net.submit(msg("09011112222"), EPOCH).fate
    assert a is not None
    assert a.stat == "UNKNOWN"
    assert b is not None
    assert b.stat == "REJECTD"


def test_default_population_gives_emergent_figures() -> None:
    """Defaults: filters add to the mix, so domestic DELIVRD ≈ 0.985 - 0.01 (reject_all)."""
    net = network(seed=5, population={"size": 5000}, recycling={"annual_disconnect_rate": 0.0})
    numbers = net.population.numbers()
    stats: Counter[str] = Counter()
    for i, number in enumerate(numbers):
        fate = net.submit(msg(number, b"x%d" % i), EPOCH + i * 0.01).fate
        assert fate is not None
        stats[fate.stat] += 1
    assert stats["DELIVRD"] / len(numbers) == pytest.approx(0.975, abs=0.01)
    assert stats["REJECTD"] / len(numbers) == pytest.approx(0.012, abs=0.006)


def test_carrier_is_per_subscriber_not_per_prefix() -> None:
    net = network(seed=9, population={"size": 3000})
    carriers: Counter[str] = Counter()
    by_prefix: dict[str, set[str]] = {}
    for number in net.population.numbers():
        subscriber = net.subscriber(number)
        assert subscriber is not None
        carriers[subscriber.carrier] += 1
        by_prefix.setdefault(number[:3], set()).add(subscriber.carrier)
    assert carriers["docomo"] / 3000 == pytest.approx(0.36, abs=0.03)
    assert all(len(found) == 5 for found in by_prefix.values())
