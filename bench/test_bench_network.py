"""Cost of the carrier model per message: `submit` + `advance`, default configuration.

Run: .venv/bin/pytest bench/test_bench_network.py --benchmark-only -p no:cacheprovider -s

Each round pushes a fixed, seeded batch of `BATCH` single-part UCS-2 dunning messages to the
default population (10,000 subscribers) the way the server would at window 100: `advance` after
every 100 submits, simulated time moving 0.2 s per 100 (500 submits/s, under max_tps 600), and a
final `advance` three days later that drains retries, expiries and replies. Per-message cost =
mean / BATCH; it is printed and stored in `extra_info["us_per_message"]`. The "-quiet" case runs the
model with `events=False`, as a server without a bus does (no audit facts built).
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from simulator.network import CarrierNetwork, NetworkConfig, SubmittedMessage

EPOCH = 1_767_225_600.0
BATCH = 5_000
WINDOW = 100
CONFIG = NetworkConfig()
TEXT = "様、{}月分のご利用料金が未払いです。お支払いをお願いいたします。"


def _messages(network: CarrierNetwork) -> list[SubmittedMessage]:
    rng = random.Random(20261124)
    numbers = network.population.numbers()
    out = []
    for i in range(BATCH):
        body = (f"{i:05d}" + TEXT.format(rng.randint(1, 12))).encode("utf-16-be")
        out.append(SubmittedMessage("acme", "00051234", rng.choice(numbers), body, 0x08))
    return out


def _fresh(
    warm: bool, events: bool = True
) -> tuple[tuple[CarrierNetwork, list[SubmittedMessage]], dict[str, Any]]:
    network = CarrierNetwork(CONFIG, 1, "bench", events=events)
    messages = _messages(network)
    if warm:  # steady state: every subscriber already looked up once
        for number in network.population.numbers():
            network.population.get(number)
    return (network, messages), {}


def _pump(network: CarrierNetwork, messages: list[SubmittedMessage], drain: bool) -> int:
    effects = 0
    now = EPOCH
    for i, message in enumerate(messages):
        if i % WINDOW == 0:
            now = EPOCH + (i // WINDOW) * 0.2
            if drain:
                effects += len(network.advance(now))
        network.submit(message, now)
    if drain:
        effects += len(network.advance(now + 3 * 86_400))
    return effects


@pytest.mark.parametrize(
    ("warm", "drain", "events"),
    [(True, True, True), (False, True, True), (True, False, True), (True, True, False)],
    ids=[
        "submit+advance-warm",
        "submit+advance-cold",
        "submit-only-warm",
        "submit+advance-warm-quiet",
    ],
)
def test_bench_network(benchmark: Any, warm: bool, drain: bool, events: bool) -> None:
    result = benchmark.pedantic(
        lambda network, messages: _pump(network, messages, drain),
        setup=lambda: _fresh(warm, events),
        rounds=5,
        iterations=1,
    )
    assert result > BATCH or not drain
    stats = benchmark.stats
    assert stats is not None
    per_message = stats.stats.mean / BATCH * 1e6
    benchmark.extra_info["us_per_message"] = round(per_message, 2)
    print(
        f"\n{benchmark.name}: {per_message:.1f} µs per message "
        f"(min {stats.stats.min / BATCH * 1e6:.1f})"
    )
