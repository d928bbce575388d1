"""Cost of the carrier model per message: `submit` + `advance`, default configuration.

Run: .venv/bin/pytest bench/test_bench_network.py --benchmark-only -p no:cacheprovider -s

Each round pushes a fixed, seeded batch of `BATCH` single-part UCS-2 dunning messages to the
default population (10,000 subscribers) the way the server would at window 100: `advance` after
every 100 submits, simulated time moving 0.2 s per 100 (500 submits/s, under max_tps 600), and a
final `advance` three days later that drains retries, expiries and replies. Per-message cost =
mean / BATCH; it is printed and stored in `extra_info["us_per_message"]`. The "-quiet" case runs the
model with `events=False`, as a server without a bus does (no audit facts built).

`test_bench_handler` is the simulator's own capacity run (`smsh bench --only sim`, carrier model
on) without the sockets: the adapter (`simulator.carrier.CarrierNetworkHandler`) over the model
built from `bench.capacity.simulator_config`, fed the `Submission`s the server builds for the
pipelined client's submit_sm (sender "ACME", receipts requested, the 10,000 carrier
destinations in turn), `advance` after every 100 with simulated time moving 5 s per message (the
86,400x clock at ~17,000 submit_sm/s), no bus. Its µs per message is the model's share of the
server's CPU per message in that run, measured in isolation (in the server it costs about 1.3x
more: caches are shared with the codec and the sessions).
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from bench.capacity import carrier_destinations, simulator_config
from simulator.carrier import CarrierNetworkHandler, carrier_handler
from simulator.config import config_from_mapping
from simulator.network import CarrierNetwork, NetworkConfig, SubmittedMessage
from simulator.smpp.constants import CommandId
from simulator.smsc import Submission

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


def _bench_handler() -> tuple[
    tuple[CarrierNetworkHandler, list[Submission], float], dict[str, Any]
]:
    section = config_from_mapping(
        simulator_config(carrier=True, delivery_window=100, receipt_delay=0.0)
    ).network
    assert section is not None
    handler, _clock = carrier_handler(section)
    handler.set_publishing(False)  # as the server does without a bus
    destinations = carrier_destinations()
    submissions = [
        Submission(
            "bench0",
            1,
            int(CommandId.SUBMIT_SM),
            str(i),
            "",
            5,
            0,
            "ACME",
            1,
            1,
            destinations[i % len(destinations)],
            0,
            1,
            0,
            b"",
            b"pipelined benchmark message",
            None,
            0.0,
        )
        for i in range(len(destinations) + BATCH)
    ]
    # Warm-up as the suite's: every subscriber reached once, so the round rates steady state.
    _, end = _drive(handler, submissions[: len(destinations)], section.config.epoch_s)
    return (handler, submissions[len(destinations) :], end), {}


def _drive(
    handler: CarrierNetworkHandler, submissions: list[Submission], start: float
) -> tuple[int, float]:
    """Submit at the bench's pace; returns (orders returned, the last `advance` time)."""
    now = start
    orders = 0
    for i, submission in enumerate(submissions):
        if i % WINDOW == 0:
            now += WINDOW * 5.0
            orders += len(handler.advance(now))
        submission.submitted_at = now
        handler.handle_submit(submission, now)
    end = now + 4 * 86_400
    return orders + len(handler.advance(end)), end


def test_bench_handler(benchmark: Any) -> None:
    result = benchmark.pedantic(
        lambda handler, submissions, start: _drive(handler, submissions, start)[0],
        setup=_bench_handler,
        rounds=5,
        iterations=1,
    )
    assert result == BATCH  # one receipt per message (the bench turns receipt loss off)
    stats = benchmark.stats
    assert stats is not None
    per_message = stats.stats.mean / BATCH * 1e6
    benchmark.extra_info["us_per_message"] = round(per_message, 2)
    print(
        f"\n{benchmark.name}: {per_message:.1f} µs per message "
        f"(min {stats.stats.min / BATCH * 1e6:.1f})"
    )
