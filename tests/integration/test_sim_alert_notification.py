"""alert_notification over TCP (SMPP 3.4 §4.12): a submit_sm with set_dpf=1 finds the handset off;
when the carrier model makes it reachable again, the account's receiver gets alert_notification
with ms_availability_status."""

from __future__ import annotations

import asyncio

import pytest

from simulator.carrier import CarrierNetworkHandler
from simulator.network import CarrierNetwork, NetworkConfig
from simulator.smpp.constants import Tag
from simulator.smpp.pdu import AlertNotification, SubmitSm, SubmitSmResp, tlv_u8
from simulator.testing import SmppTestClient, running_simulator
from sms.clock import ManualClock

pytestmark = pytest.mark.asyncio

EPOCH = 1_767_225_600.0
HOUR = 3600.0
OFF = "09011112222"


def _handler() -> CarrierNetworkHandler:
    config = NetworkConfig.model_validate(
        {
            "population": {"size": 0},
            "two_way": {"enabled": False},
            "subscribers": [
                {
                    "number": OFF,
                    "outcome": "delivered",
                    "handset": [{"state": "off", "start_s": 0, "end_s": 2 * HOUR}],
                }
            ],
        }
    )
    return CarrierNetworkHandler(CarrierNetwork(config, 1, "alerts"))


async def _submit(client: SmppTestClient, *, set_dpf: bool) -> None:
    pdu = SubmitSm(
        source_addr="00051234",
        source_addr_ton=2,
        dest_addr_ton=0,
        dest_addr_npi=1,
        destination_addr=OFF,
        short_message=b"please pay",
        registered_delivery=0,
        tlvs=(tlv_u8(Tag.SET_DPF, 1),) if set_dpf else (),
    )
    resp = await client.request(pdu, 2.0)
    assert isinstance(resp, SubmitSmResp)
    assert resp.command_status == 0


async def test_alert_notification_reaches_the_transceiver_when_the_handset_returns() -> None:
    clock = ManualClock(EPOCH)
    async with (
        asyncio.timeout(20),
        running_simulator(None, handler=_handler(), clock=clock) as sim,
    ):
        client = await SmppTestClient.connect(sim.host, sim.port)
        await client.bind("acme", "pw")
        await _submit(client, set_dpf=True)
        await _submit(client, set_dpf=False)
        clock.advance(HOUR)
        sim.server.wake()
        with pytest.raises(TimeoutError):
            await client.expect(AlertNotification, 0.3)  # still off
        clock.advance(2 * HOUR)
        sim.server.wake()
        alert = await client.expect(AlertNotification, 2.0)
        assert (alert.source_addr, alert.source_addr_ton, alert.source_addr_npi) == (OFF, 0, 1)
        assert (alert.esme_addr, alert.esme_addr_ton) == ("00051234", 2)
        assert alert.ms_availability_status == 0
        assert sim.server.stats.alerts_sent == 1
        clock.advance(3 * 86_400)
        sim.server.wake()
        with pytest.raises(TimeoutError):
            await client.expect(AlertNotification, 0.3)  # one alert, for the set_dpf submit only
        await client.close()


async def test_an_alert_waits_for_a_receiver_to_bind() -> None:
    clock = ManualClock(EPOCH)
    async with (
        asyncio.timeout(20),
        running_simulator(None, handler=_handler(), clock=clock) as sim,
    ):
        tx = await SmppTestClient.connect(sim.host, sim.port)
        await tx.bind("acme", "pw", mode="transmitter")
        await _submit(tx, set_dpf=True)
        clock.advance(3 * HOUR)
        sim.server.wake()
        await asyncio.sleep(0.1)
        assert sim.server.stats.alerts_sent == 0
        rx = await SmppTestClient.connect(sim.host, sim.port)
        await rx.bind("acme", "pw", mode="receiver")
        alert = await rx.expect(AlertNotification, 2.0)
        assert alert.source_addr == OFF
        assert sim.server.stats.alerts_sent == 1
        await tx.close()
        await rx.close()
