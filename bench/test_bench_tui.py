"""Load benchmark of the operator console: 50,000 bus events/s into a headless `SmshApp`.

Run: `.venv/bin/pytest bench/test_bench_tui.py --benchmark-only -p no:cacheprovider -s`
(or `.venv/bin/python -m bench.test_bench_tui` for the figures alone).

A publisher task in the app's own event loop (as in `smsh run` with an `InMemoryBus`) offers a
seeded mix of per-message facts at `RATE` events/s for `SECONDS` s, paced every 10 ms. Measured
over that window:
    * ``published/s``: what the publisher managed to offer (the loop is shared with the UI);
    * ``folded/s``: events the console folded into its state;
    * ``updates/s``: coalesced `StateChanged` messages handled, i.e. screen updates;
    * ``frames/s``: compositor updates the app produced (calls of `App._display` with content);
    * ``key_ms``: worst time from a key event (switching screens, posted as a terminal driver
      would) to the new screen being current, one second into the flood;
    * ``cpu``: process CPU seconds per second (1.0: the one event loop is saturated);
    * ``dropped``: events the console's subscription had to drop.
The goal is at least 10 updates/s while the flood lasts.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any, Final

import pytest
from pytest_benchmark.fixture import BenchmarkFixture
from rich.console import RenderableType
from textual import events
from textual.screen import Screen

from sms.alphabet import Encoding
from sms.bus.events import (
    BindStateChanged,
    Event,
    MessageAccepted,
    MessageFinal,
    PartSubmitted,
    ReceiptReceived,
    SubmitResponded,
)
from sms.bus.memory import InMemoryBus
from sms.bus.topics import event_topic
from sms.clock import SystemClock
from tui.app import SmshApp

RATE: Final[int] = 50_000
SECONDS: Final[float] = 4.0
SEED: Final[int] = 20261124
T0: Final[float] = 1_767_225_600.0


class CountingApp(SmshApp):
    """The console, counting the frames its compositor produces."""

    frames = 0

    def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
        if renderable is not None:
            self.frames += 1
        super()._display(screen, renderable)


def workload(count: int, rng: random.Random) -> list[tuple[str, Event]]:
    """`count` events: whole message lives (accept, submit, resp, receipt, final) on 4 binds."""
    events: list[tuple[str, Event]] = []
    binds = [f"b{i}" for i in range(1, 5)]
    for bind in binds:
        event = BindStateChanged(
            at=T0,
            component="gateway",
            instance="gw-1",
            bind_id=bind,
            system_id="acme",
            mode="transceiver",
            state="bound",
            peer="127.0.0.1:2775",
        )
        events.append((event_topic("gateway", "gw-1", event.kind), event))
    n = 0
    while len(events) < count:
        at = T0 + n / 10_000
        mid, bind = f"m{n}", binds[n % len(binds)]
        stat = "DELIVRD" if rng.random() < 0.95 else "UNDELIV"
        life: list[Event] = [
            MessageAccepted(
                at=at,
                message_id=mid,
                source="ACME",
                destination=f"090{rng.randrange(10**8):08d}",
                parts=1,
                encoding=Encoding.GSM7,
            ),
            PartSubmitted(
                at=at, message_id=mid, part=1, sequence_number=n % 1000 + 1, bind_id=bind
            ),
            SubmitResponded(
                at=at,
                message_id=mid,
                part=1,
                bind_id=bind,
                sequence_number=n % 1000 + 1,
                command_status=0 if rng.random() < 0.98 else 0x58,
                smsc_message_id=f"S{n:08X}",
                latency_ms=rng.lognormvariate(2.5, 0.5),
            ),
            ReceiptReceived(at=at, message_id=mid, smsc_message_id=f"S{n:08X}", stat=stat),
            MessageFinal(
                at=at, message_id=mid, state="delivered" if stat == "DELIVRD" else "undeliverable"
            ),
        ]
        events.extend((event_topic("gateway", "gw-1", e.kind), e) for e in life)
        n += 1
    return events[:count]


async def measure(
    mode: str = "overview", rate: int = RATE, seconds: float = SECONDS, update_hz: float = 20.0
) -> dict[str, float]:
    """Flood a headless console and return the figures (see the module docstring)."""
    flood = workload(int(rate * seconds), random.Random(SEED))
    async with InMemoryBus() as bus:
        app = CountingApp(bus, clock=SystemClock(), notify_alerts=False, update_hz=update_hz)
        async with app.run_test(size=(120, 36)) as pilot:
            await app.wait_until_subscribed()
            if mode != "overview":
                await pilot.press({"messages": "2", "handset": "3", "scenario": "4"}[mode])
                await pilot.pause(0.2)
            loop = asyncio.get_running_loop()
            updates0, frames0, folded0 = app.updates_handled, app.frames, app.state.events_seen
            key_ms = 0.0
            cpu0 = time.process_time()
            start = loop.time()
            sent = 0
            next_key = start + 1.0
            home, away = ("1", "2") if mode == "overview" else ("2", "1")
            while (elapsed := loop.time() - start) < seconds:
                due = min(len(flood), int((elapsed + 0.01) * rate))
                while sent < due:
                    bus.publish_nowait(*flood[sent])
                    sent += 1
                if loop.time() >= next_key:
                    for key in (away, home):
                        before = app.screen
                        pressed = time.perf_counter()
                        app.post_message(events.Key(key, key))  # as a terminal driver does
                        while app.screen is before:  # noqa: ASYNC110 - measuring the switch
                            await asyncio.sleep(0.001)
                        key_ms = max(key_ms, (time.perf_counter() - pressed) * 1000)
                    next_key = loop.time() + seconds  # once: keys cost repaints too
                await asyncio.sleep(0.01)
            span = loop.time() - start
            cpu = (time.process_time() - cpu0) / span
            figures = {
                "published/s": sent / span,
                "folded/s": (app.state.events_seen - folded0) / span,
                "updates/s": (app.updates_handled - updates0) / span,
                "frames/s": (app.frames - frames0) / span,
                "key_ms": key_ms,
                "cpu": cpu,
                "dropped": float(app.subscription.dropped if app.subscription is not None else -1),
            }
    return figures


@pytest.mark.parametrize("mode", ["overview", "messages"])
def test_bench_tui_flood(benchmark: BenchmarkFixture, mode: str) -> None:
    figures: dict[str, float] = {}

    def run() -> None:
        figures.update(asyncio.run(measure(mode)))

    benchmark.pedantic(run, rounds=1, iterations=1)  # type: ignore[no-untyped-call]
    benchmark.extra_info.update(figures)
    print(f"\n{mode}: " + ", ".join(f"{k} {v:,.1f}" for k, v in figures.items()))
    assert figures["updates/s"] >= 10


if __name__ == "__main__":
    for screen in ("overview", "messages"):
        result = asyncio.run(measure(screen))
        print(f"{screen}: " + ", ".join(f"{k} {v:,.1f}" for k, v in result.items()))
