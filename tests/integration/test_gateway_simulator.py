"""The gateway (aiosmpplib's codec) against the simulated SMSC (the project's own codec), via
`simulator.testing.running_simulator`: two independent codecs checking each other."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from gateway.store import MessageState
from simulator.testing import running_simulator
from tests.integration.test_gateway_loopback import JP_670, final, make_config, running, wait_for

pytestmark = pytest.mark.asyncio

TIMEOUT = 30.0


def sim_config(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"receipts": {"delay_s": 0.05}}
    base.update(extra)
    return base


@pytest.mark.parametrize(
    ("message_ids", "seconds_in_dates"),
    [
        ({"format": "hex", "width": 10}, False),
        ({"format": "decimal"}, True),  # 12-digit dates: aiosmpplib's own parser would raise
        ({"format": "uuid", "seed": 3}, False),
    ],
)
async def test_gsm_ucs2_and_long_japanese_are_delivered(
    tmp_path: Path, message_ids: dict[str, Any], seconds_in_dates: bool
) -> None:
    config = sim_config(
        message_ids=message_ids, receipts={"delay_s": 0.05, "seconds_in_dates": seconds_in_dates}
    )
    routes = [{"name": "jp", "default_sender": "SENDER", "profile": "jp-au", "method": "sar"}]
    async with (
        asyncio.timeout(TIMEOUT),
        running_simulator(config) as sim,
        running(tmp_path / "g.db", make_config(sim.port, routes=routes)) as gw,
    ):
        ids = [
            await gw.submit("09012345678", "Hello from the gateway"),
            await gw.submit("09012345678", "日本語のメッセージ"),
            await gw.submit("09012345678", JP_670),
        ]
        statuses = await final(gw, ids)
        outcomes = dict(gw.stats.receipt_status)
    assert [s.state for s in statuses] == [MessageState.DELIVERED] * 3
    assert statuses[2].parts_total == 10
    assert outcomes == {"matched": 12}
    assert sim.server.stats.accepted == 12


async def test_concatenated_mo_from_the_simulator_is_reassembled(tmp_path: Path) -> None:
    text = "長いメッセージ、" * 20  # 160 UCS-2 characters: three UDH16 parts
    async with (
        asyncio.timeout(TIMEOUT),
        running_simulator(sim_config()) as sim,
        running(tmp_path / "g.db", make_config(sim.port)) as gw,
    ):
        await wait_for(lambda: gw.binds()[0].state == "bound")
        parts = sim.server.inject_mo("esme", "819012345678", "12345", text, method="udh16")
        sim.server.inject_mo("esme", "819087654321", "12345", "STOP")
        await wait_for(lambda: gw.stats.mo == 2)
        mos = await gw.list_mo()
        suppressed = await gw.store.aio.is_suppressed("+819087654321")
    assert parts == 3
    assert [(m.source, m.text, m.parts) for m in mos] == [
        ("+819012345678", text, 3),
        ("+819087654321", "STOP", 1),
    ]
    assert suppressed


async def test_simulator_throttling_keeps_the_order(tmp_path: Path) -> None:
    config = sim_config(default_account={"max_tps": 50, "burst": 2})
    async with (
        asyncio.timeout(TIMEOUT),
        running_simulator(config) as sim,
        running(tmp_path / "g.db", make_config(sim.port, bind={"window": 1})) as gw,
    ):
        ids = [await gw.submit("09012345678", f"t{i}") for i in range(15)]
        statuses = await final(gw, ids)
        throttled = gw.stats.throttled
    assert all(s.state is MessageState.DELIVERED for s in statuses)
    assert throttled == sim.server.stats.throttled
    first_sent = [s.first_submitted_at or 0.0 for s in statuses]
    assert first_sent == sorted(first_sent)  # FIFO despite the throttling
