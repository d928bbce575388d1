"""Opt-out over the wire: an MO STOP / 停止 suppresses the handset, publishes an ``opted_out``
alert naming it (and the message it answered), and a later submit to it is refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.routing import RejectReason, SubmitRejected
from simulator.testing import running_simulator
from sms.bus import Alert
from tests.integration.test_gateway_loopback import Events, final, make_config, running, wait_for

pytestmark = pytest.mark.asyncio


async def test_stop_publishes_opted_out_and_suppresses(tmp_path: Path) -> None:
    events = Events()
    async with (
        asyncio.timeout(30),
        running_simulator({"receipts": {"delay_s": 0.05}}) as sim,
        running(tmp_path / "g.db", make_config(sim.port), events) as gw,
    ):
        first = await gw.submit("09012345678", "お支払いのお願い")
        await final(gw, [first])
        sim.server.inject_mo("esme", "819012345678", "SENDER", "停止")
        sim.server.inject_mo("esme", "819087654321", "SENDER", "hello")  # not an opt-out
        await wait_for(lambda: gw.stats.mo == 2)
        await wait_for(lambda: events.of(Alert))
        with pytest.raises(SubmitRejected) as refused:
            await gw.submit("+819012345678", "again")
        await gw.submit("+819087654321", "still fine")
    alerts = [a for a in events.of(Alert) if a.alert_kind == "opted_out"]
    assert [(a.destination, a.message_id, a.severity) for a in alerts] == [
        ("+819012345678", str(first), "info")
    ]
    assert "停止" in alerts[0].detail
    assert refused.value.reason is RejectReason.SUPPRESSED
