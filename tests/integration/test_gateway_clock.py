"""The gateway's waits run on its clock (`gateway.timing`): under a scaled clock a throttle
pause of several clock seconds takes a fraction of a real second, over real loopback TCP."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bench.fast_smsc import FastSmsc
from gateway.gateway import Gateway, open_store
from sms.bus import InMemoryBus
from sms.clock import ScaledClock
from tests.integration.test_gateway_loopback import make_config, wait_for

pytestmark = pytest.mark.asyncio

SPEED = 50.0
PAUSE_S = 5.0  # clock seconds per throttle episode: 0.1 real seconds at SPEED


async def test_throttle_pauses_take_clock_time(tmp_path: Path) -> None:
    clock = ScaledClock(1_767_225_600.0, SPEED)
    async with asyncio.timeout(20), FastSmsc(throttle_every=3, receipts=False) as smsc:
        config = make_config(
            smsc.port,
            bind={"window": 1},
            throttle={"backoff": {"base": PAUSE_S, "factor": 1.0, "cap": PAUSE_S}},
        )
        store = open_store(config, path=tmp_path / "g.db")
        try:
            async with InMemoryBus() as bus, Gateway(config, store, bus, clock) as gw:
                started, clock0 = time.monotonic(), clock.now()
                for i in range(9):
                    await gw.submit("09012345678", f"msg {i}")
                await wait_for(lambda: len(smsc.accepted()) == 9)
                real, simulated = time.monotonic() - started, clock.now() - clock0
                throttled = gw.stats.throttled
        finally:
            store.close()
    assert throttled >= 3
    # Each episode paused PAUSE_S clock seconds; in real time that is PAUSE_S / SPEED.
    assert simulated >= throttled * PAUSE_S * 0.9
    assert real < throttled * PAUSE_S / 2  # real-second sleeps would take >= throttled * 5 s
