"""The carrier model behind the real server: ``CarrierNetworkHandler`` over loopback TCP.

A raw ``SmppTestClient`` binds as a transceiver, submits, and reads the receipts; the simulated
clock is a ``ManualClock`` moved forward by the test (then ``server.wake()``), so every run sees
the same simulated times.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from scenarios.commands import simulator as command
from simulator.carrier import CarrierNetworkHandler
from simulator.config import LookupConfig, config_from_mapping
from simulator.network import CarrierNetwork, NetworkConfig
from simulator.smpp.constants import MessageState
from simulator.smpp.pdu import (
    DeliverSm,
    DeliverSmResp,
    QuerySm,
    QuerySmResp,
    SmeDestAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Tlv,
)
from simulator.testing import SmppTestClient, running_simulator
from sms.bus.events import Alert
from sms.bus.memory import InMemoryBus
from sms.clock import ManualClock
from sms.receipt import parse_receipt

EPOCH = 1_767_225_600.0
DAY = 86_400.0
OK = "09011112222"
ABSENT = "09033334444"
RECYCLED = "09055556666"
STRANGER = "09077778888"

BASE: dict[str, Any] = {
    "population": {"size": 0},
    "two_way": {"enabled": False},
    "receipts": {"loss_rate": 0.0},
    "quiet_hours": {"enabled": False},
    "subscribers": [
        {"number": OK, "outcome": "delivered"},
        {"number": ABSENT, "outcome": "unknown_subscriber"},
        {
            "number": RECYCLED,
            "outcome": "delivered",
            "ownership": [
                {"owner": "alice", "active_from": "2015-01-01", "active_to": "2025-03-01"},
                {"owner": "bob", "active_from": "2025-09-01"},
            ],
        },
    ],
    "accounts": {
        "acme": {"route": "domestic_direct", "sender_codes": ["00051234"]},
        "docomo": {"route": "domestic_direct", "alphanumeric_policy": "allow"},
        "fraud": {"route": "international", "attacker": True},
    },
    "registry": {
        "mode": "protected",
        "protected": [{"sender_id": "NTT DOCOMO", "accounts": ["docomo"]}],
    },
}


def handler(seed: int = 7) -> CarrierNetworkHandler:
    """A handler over the test network."""
    network = CarrierNetwork(NetworkConfig.model_validate(BASE), seed, "it")
    return CarrierNetworkHandler(network, keep_outcomes=100)


def sms(
    dest: str,
    text: str = "hello",
    *,
    source: str = "00051234",
    ton: int = 0,
    tlvs: tuple[Tlv, ...] = (),
) -> SubmitSm:
    """A submit_sm asking for every receipt."""
    return SubmitSm(
        source_addr_ton=ton,
        source_addr=source,
        destination_addr=dest,
        registered_delivery=1,
        short_message=text.encode("ascii"),
        tlvs=tlvs,
    )


def key_tlv(key: str) -> Tlv:
    """Vendor TLV 0x1500: the harness message key."""
    return (0x1500, key.encode("ascii") + b"\x00")


async def bound(host: str, port: int, system_id: str) -> SmppTestClient:
    """A bound transceiver."""
    client = await SmppTestClient.connect(host, port)
    await client.bind(system_id, "pw", "transceiver")
    return client


async def submit(client: SmppTestClient, pdu: SubmitSm) -> str:
    """Submit and return the message id from submit_sm_resp."""
    resp = await client.request(pdu)
    assert isinstance(resp, SubmitSmResp)
    assert resp.command_status == 0
    return resp.message_id


def stats_by_id(receipts: list[DeliverSm]) -> dict[str, tuple[str, int]]:
    """receipted id -> (stat, err), checking the text agrees with the TLV."""
    out: dict[str, tuple[str, int]] = {}
    for pdu in receipts:
        assert pdu.esm_class == 0x04
        text = parse_receipt(pdu.short_message.decode("ascii"))
        receipted = pdu.get_tlv(0x001E)
        assert receipted is not None
        assert receipted.rstrip(b"\x00").decode("ascii") == text.message_id
        out[text.message_id] = (text.stat, int(text.err))
    return out


async def receipts(client: SmppTestClient, count: int) -> list[DeliverSm]:
    """``count`` receipts: those already read by ``request`` (answered there), then new ones."""
    early = [pdu for pdu in client.unsolicited if isinstance(pdu, DeliverSm)]
    client.unsolicited.clear()
    return early + await client.deliveries(count - len(early), within=10)


async def finish(sim: Any, clock: ManualClock, seconds: float = DAY) -> None:
    """Move simulated time on and let the server run what fell due."""
    clock.advance(seconds)
    sim.server.wake()
    await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_receipts_carry_the_networks_stat_and_err_and_query_sm_works() -> None:
    clock = ManualClock(EPOCH)
    h = handler()
    async with asyncio.timeout(20), running_simulator(None, handler=h, clock=clock) as sim:
        client = await bound(sim.host, sim.port, "acme")
        ok_id = await submit(client, sms(OK))
        absent_id = await submit(client, sms(ABSENT))
        stranger_id = await submit(client, sms(STRANGER))
        assert len({ok_id, absent_id, stranger_id}) == 3
        assert set(h.outcomes) == {ok_id, absent_id, stranger_id}
        await finish(sim, clock)
        got = stats_by_id(await receipts(client, 3))
        query = await client.request(QuerySm(message_id=absent_id, source_addr="00051234"))
        await client.close()
    assert set(got) == {ok_id, absent_id, stranger_id}
    for message_id, (stat, err) in got.items():
        fate = h.outcomes[message_id].fate
        assert fate is not None
        assert (stat, err) == (fate.stat, fate.err)
    assert got[ok_id][0] == "DELIVRD"
    assert got[absent_id][0] == "UNDELIV"
    assert got[absent_id][1] != 0
    assert got[stranger_id][0] == "UNDELIV"
    assert isinstance(query, QuerySmResp)
    assert query.command_status == 0
    assert query.message_id == absent_id
    assert query.message_state == MessageState.UNDELIVERABLE


@pytest.mark.asyncio
async def test_submit_multi_receipts_use_one_id_per_message_for_every_destination() -> None:
    clock = ManualClock(EPOCH)
    # The server's own ids look exactly like the network's (and start where they would clash).
    ids = {"message_ids": {"start": 5}}
    async with asyncio.timeout(20), running_simulator(ids, handler=handler(), clock=clock) as sim:
        client = await bound(sim.host, sim.port, "acme")
        plain = await submit(client, sms(OK, "first a plain one"))
        multi = SubmitMulti(
            source_addr="00051234",
            dest_addresses=(SmeDestAddress(0, 0, OK), SmeDestAddress(0, 0, ABSENT)),
            registered_delivery=1,
            short_message=b"to both",
        )
        resp = await client.request(multi)
        assert isinstance(resp, SubmitMultiResp)
        assert resp.command_status == 0
        assert resp.unsuccess_smes == ()
        assert resp.message_id != plain
        later = [await submit(client, sms(OK, f"later {i}")) for i in range(4)]
        assert len({plain, resp.message_id, *later}) == 6
        await finish(sim, clock)
        everything = await receipts(client, 7)
        multi_ids = {resp.message_id}
        got = [
            r for r in everything if parse_receipt(r.short_message.decode()).message_id in multi_ids
        ]
        query = await client.request(QuerySm(message_id=resp.message_id, source_addr="00051234"))
        await client.close()
    by_handset = {}
    for pdu in got:
        text = parse_receipt(pdu.short_message.decode("ascii"))
        assert text.message_id == resp.message_id
        by_handset[pdu.source_addr] = text.stat
    assert by_handset == {OK: "DELIVRD", ABSENT: "UNDELIV"}
    assert isinstance(query, QuerySmResp)
    assert query.message_state == MessageState.UNDELIVERABLE


@pytest.mark.asyncio
async def test_spoofed_brand_on_international_route_is_blocked_with_an_alert() -> None:
    clock = ManualClock(EPOCH)
    bus = InMemoryBus()
    async with (
        asyncio.timeout(20),
        bus,
        bus.subscribe("smsh/v1/simulator/#", maxsize=1000) as events,
        running_simulator(None, handler=handler(), clock=clock, bus=bus) as sim,
    ):
        client = await bound(sim.host, sim.port, "fraud")
        spoof_id = await submit(client, sms(OK, "Unpaid! pay here", source="NTT DOCOMO", ton=5))
        await finish(sim, clock)
        got = stats_by_id(await receipts(client, 1))
        await client.close()
        await asyncio.sleep(0.05)
        seen = events.drain()
    assert got[spoof_id][0] == "REJECTD"
    alerts = [e for _, e in seen if isinstance(e, Alert)]
    assert [a.alert_kind for a in alerts] == ["spoof_blocked"]
    assert "NTT DOCOMO" in alerts[0].detail


@pytest.mark.asyncio
async def test_recycled_number_yields_a_misdelivery_alert() -> None:
    clock = ManualClock(EPOCH)
    bus = InMemoryBus()
    async with (
        asyncio.timeout(20),
        bus,
        bus.subscribe("smsh/v1/simulator/#", maxsize=1000) as events,
        running_simulator(None, handler=handler(), clock=clock, bus=bus) as sim,
    ):
        client = await bound(sim.host, sim.port, "acme")
        owner = (0x1501, b"alice\x00")
        message_id = await submit(client, sms(RECYCLED, "Alice, you owe 5,000 yen", tlvs=(owner,)))
        await finish(sim, clock)
        got = stats_by_id(await receipts(client, 1))
        await client.close()
        await asyncio.sleep(0.05)
        seen = events.drain()
    assert got[message_id][0] == "DELIVRD"
    alerts = [e for _, e in seen if isinstance(e, Alert)]
    assert [a.alert_kind for a in alerts] == ["misdelivery"]
    assert alerts[0].destination == RECYCLED
    assert "owner=bob" in alerts[0].detail


async def _run_window(window: int) -> dict[str, tuple[str, int]]:
    """Submit the same keyed messages with ``window`` requests in flight; stat per key."""
    clock = ManualClock(EPOCH)
    messages = [
        sms(dest, f"m{i}", tlvs=(key_tlv(f"k{i}"),))
        for i, dest in enumerate([OK, ABSENT, STRANGER, RECYCLED] * 5)
    ]
    async with running_simulator(None, handler=handler(seed=3), clock=clock) as sim:
        client = await bound(sim.host, sim.port, "acme")
        ids: dict[str, str] = {}
        early: list[DeliverSm] = []
        for start in range(0, len(messages), window):
            batch = messages[start : start + window]
            seqs = {client.send(pdu): pdu for pdu in batch}
            while seqs:
                resp = await client.read()
                if isinstance(resp, DeliverSm):  # unassigned numbers fail at once
                    client.send(DeliverSmResp(resp.sequence_number))
                    early.append(resp)
                    continue
                assert isinstance(resp, SubmitSmResp)
                pdu = seqs.pop(resp.sequence_number)
                assert resp.command_status == 0
                key = pdu.get_tlv(0x1500)
                assert key is not None
                ids[resp.message_id] = key.rstrip(b"\x00").decode("ascii")
        await finish(sim, clock)
        got = stats_by_id(early + await client.deliveries(len(messages) - len(early), within=10))
        await client.close()
    return {ids[message_id]: outcome for message_id, outcome in got.items()}


@pytest.mark.asyncio
async def test_outcomes_per_key_do_not_depend_on_the_window() -> None:
    async with asyncio.timeout(40):
        one = await _run_window(1)
        twenty = await _run_window(20)
    assert len(one) == 20
    assert one == twenty
    stats: Mapping[str, int] = {}
    for stat, _ in one.values():
        stats = {**stats, stat: stats.get(stat, 0) + 1}
    assert set(stats) == {"DELIVRD", "UNDELIV"}


@pytest.mark.asyncio
async def test_cli_serve_runs_the_carrier_model_and_the_lookup_api() -> None:
    config = config_from_mapping(
        {"port": 0, "network": {"seed": 7, "scenario_id": "cli", "speed": 100_000, "config": BASE}}
    )
    out = io.StringIO()
    stop = asyncio.Event()
    async with asyncio.timeout(30):
        task = asyncio.create_task(
            command.serve(
                config,
                host=None,
                port=0,
                bus=None,
                out=out,
                live=False,
                stop=stop,
                lookup=LookupConfig(port=0),
            )
        )
        try:
            for _ in range(2000):  # the banner is printed once the listeners are up
                if "Ctrl-C" in out.getvalue():
                    break
                await asyncio.sleep(0.01)
            banner = out.getvalue()
            address = re.search(r"listening on ([\d.]+):(\d+)", banner)
            url = re.search(r"lookup API on (http://\S+)", banner)
            assert address is not None
            assert url is not None
            assert "carrier model: seed 7, scenario cli" in banner
            client = await bound(address[1], int(address[2]), "acme")
            message_id = await submit(client, sms(OK, "via the cli"))
            got = stats_by_id(await receipts(client, 1))
            await client.close()
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{url[1]}/v1/handsets/{OK}") as resp,
            ):
                assert resp.status == 200
                handset = await resp.json()
        finally:
            stop.set()
            await task
    assert got[message_id][0] == "DELIVRD"
    assert handset["known"] is True
    texts = [m["text"] for thread in handset["threads"].values() for m in thread["messages"]]
    assert texts == ["via the cli"]


def test_cli_refuses_a_lookup_api_without_a_network(tmp_path: Path) -> None:
    file = tmp_path / "sim.yaml"
    file.write_text("port: 0\n", encoding="utf-8")
    args = argparse.Namespace(
        config=str(file), host=None, port=0, bus=None, quiet=True, http_port=0
    )
    assert command.run(args) == 2
