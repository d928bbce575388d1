"""Micro benchmarks: event codec, in-memory fan-out, metrics recording.

Run: `.venv/bin/pytest bench/test_bench_bus.py --benchmark-only -p no:cacheprovider`.
Each round processes a fixed, seeded batch of `BATCH` items, so per-item cost = mean / BATCH.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from sms.alphabet import Encoding
from sms.bus.bus import Subscription
from sms.bus.events import (
    Event,
    LatencySummary,
    MessageAccepted,
    MessageFinal,
    MetricsSnapshot,
    QueueDepths,
    SubmitResponded,
    WindowUse,
    decode_event,
    encode_event,
)
from sms.bus.memory import InMemoryBus
from sms.bus.metrics import MetricsAggregator
from sms.bus.topics import event_topic

BATCH = 1_000
SEED = 20261124


def _message_events(rng: random.Random) -> list[Event]:
    """A seeded mix of the per-message facts the gateway publishes most."""
    events: list[Event] = []
    for i in range(BATCH):
        at = 1_767_225_600 + i / 1000
        choice = rng.randrange(3)
        if choice == 0:
            events.append(
                MessageAccepted(
                    at=at,
                    message_id=f"m{i}",
                    message_key=f"row-{i}",
                    destination=f"8190{rng.randrange(10**8):08d}",
                    parts=rng.randint(1, 3),
                    encoding=rng.choice([Encoding.GSM7, Encoding.UCS2]),
                )
            )
        elif choice == 1:
            events.append(
                SubmitResponded(
                    at=at,
                    message_id=f"m{i}",
                    part=1,
                    bind_id="b1",
                    sequence_number=i + 1,
                    command_status=0,
                    smsc_message_id=f"{rng.getrandbits(40):X}",
                    latency_ms=rng.expovariate(1 / 20),
                )
            )
        else:
            events.append(MessageFinal(at=at, message_id=f"m{i}", state="delivered", parts=1))
    return events


@pytest.fixture
def message_events() -> list[Event]:
    return _message_events(random.Random(SEED))


def test_bench_encode_event(benchmark: BenchmarkFixture, message_events: list[Event]) -> None:
    def run() -> int:
        return sum(len(encode_event(event)) for event in message_events)

    assert benchmark(run) > 0
    benchmark.extra_info["items_per_round"] = BATCH


def test_bench_decode_event(benchmark: BenchmarkFixture, message_events: list[Event]) -> None:
    payloads = [encode_event(event) for event in message_events]

    def run() -> list[Event]:
        return [decode_event(payload) for payload in payloads]

    assert benchmark(run) == message_events
    benchmark.extra_info["items_per_round"] = BATCH


def test_bench_encode_decode_metrics_snapshot(benchmark: BenchmarkFixture) -> None:
    snapshot = MetricsSnapshot(
        at=1.0,
        seq=1,
        interval_s=1.0,
        counts={f"c{i}": i for i in range(10)},
        rates={f"c{i}": float(i) for i in range(10)},
        queues=QueueDepths(queued=5, in_flight=3),
        windows={f"b{i}": WindowUse(in_flight=i, size=10) for i in range(4)},
        latency={"submit_resp": LatencySummary(count=9, p50_ms=1, p95_ms=2, p99_ms=3, max_ms=4)},
        errors={"0x00000058": 2},
        receipts={"DELIVRD": 10, "UNDELIV": 1},
    )

    def run() -> int:
        return sum(len(encode_event(decode_event(encode_event(snapshot)))) for _ in range(100))

    assert benchmark(run) > 0
    benchmark.extra_info["items_per_round"] = 100


@pytest.fixture
def memory_subscription() -> Iterator[tuple[InMemoryBus, Subscription]]:
    loop = asyncio.new_event_loop()
    bus = InMemoryBus()
    sub = bus.subscribe("smsh/v1/gateway/+/#", maxsize=BATCH)
    loop.run_until_complete(sub.__aenter__())
    try:
        yield bus, sub
    finally:
        loop.run_until_complete(bus.close())
        loop.close()


def test_bench_memory_publish_one_subscriber(
    benchmark: BenchmarkFixture,
    memory_subscription: tuple[InMemoryBus, Subscription],
    message_events: list[Event],
) -> None:
    bus, sub = memory_subscription
    items = [(event_topic("gateway", "gw-1", e.kind), e) for e in message_events]

    def run() -> int:
        for topic, event in items:
            bus.publish_nowait(topic, event)
        return len(sub.drain())

    assert benchmark(run) == BATCH
    assert sub.dropped == 0
    benchmark.extra_info["items_per_round"] = BATCH


def test_bench_memory_async_producer_consumer(
    benchmark: BenchmarkFixture, message_events: list[Event]
) -> None:
    """Publish from one task, consume with `async for` in another: includes task switches."""
    items = [(event_topic("gateway", "gw-1", e.kind), e) for e in message_events]

    async def one_round() -> int:
        async with InMemoryBus() as bus, bus.subscribe("smsh/v1/#", maxsize=64) as sub:

            async def consume() -> int:
                got = 0
                async for _ in sub:
                    got += 1
                    if got == BATCH:
                        break
                return got

            consumer = asyncio.create_task(consume())
            for n, (topic, event) in enumerate(items):
                bus.publish_nowait(topic, event)
                if n % 32 == 31:
                    await asyncio.sleep(0)  # let the consumer keep up, as a real producer would
            got = await consumer
            assert sub.dropped == 0
            return got

    loop = asyncio.new_event_loop()
    try:
        assert benchmark(lambda: loop.run_until_complete(one_round())) == BATCH
    finally:
        loop.close()
    benchmark.extra_info["items_per_round"] = BATCH


def test_bench_metrics_record(benchmark: BenchmarkFixture) -> None:
    rng = random.Random(SEED)
    latencies = [rng.lognormvariate(3, 1) for _ in range(BATCH)]
    statuses = [rng.choice([0, 0, 0, 0, 0x58]) for _ in range(BATCH)]
    aggregator = MetricsAggregator()
    now = 1_767_225_600.0

    def run() -> int:
        for latency, status in zip(latencies, statuses, strict=True):
            aggregator.record_count("submitted", now=now)
            aggregator.record_latency("submit_resp", latency, now=now)
            if status:
                aggregator.record_error(status, now=now)
        return BATCH

    assert benchmark(run) == BATCH
    benchmark.extra_info["items_per_round"] = BATCH
    benchmark.extra_info["records_per_item"] = "count + latency (+ error 20%)"
