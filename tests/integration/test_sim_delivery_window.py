"""The deliver_sm window: per account (``delivery_window``), else ``delivery.window`` (10)."""

from __future__ import annotations

import asyncio

import pytest

from simulator.config import config_from_mapping
from simulator.errors import ConfigError
from simulator.smpp.pdu import DeliverSm, DeliverSmResp
from simulator.testing import SmppTestClient, running_simulator


async def unanswered(client: SmppTestClient, within: float = 0.4) -> list[DeliverSm]:
    """Read deliver_sm without answering until nothing more comes for ``within`` seconds."""
    got: list[DeliverSm] = []
    while True:
        try:
            pdu = await client.read(within)
        except TimeoutError:
            return got
        assert isinstance(pdu, DeliverSm)
        got.append(pdu)


@pytest.mark.asyncio
async def test_account_window_overrides_the_server_default() -> None:
    config = {
        "delivery": {"window": 5},
        "accounts": [
            {"system_id": "narrow", "password": "pw", "delivery_window": 2},
            {"system_id": "wide", "password": "pw"},
        ],
    }
    async with asyncio.timeout(20), running_simulator(config) as sim:
        narrow = await SmppTestClient.connect(sim.host, sim.port)
        await narrow.bind("narrow", "pw")
        wide = await SmppTestClient.connect(sim.host, sim.port)
        await wide.bind("wide", "pw")
        for i in range(8):
            sim.server.inject_mo("narrow", "819011112222", "12345", f"n{i}")
            sim.server.inject_mo("wide", "819011112222", "12345", f"w{i}")
        first = await unanswered(narrow)
        assert len(first) == 2
        assert len(await unanswered(wide)) == 5
        narrow.send(DeliverSmResp(first[0].sequence_number))
        assert len(await unanswered(narrow)) == 1  # one slot freed, one more written
        await narrow.close()
        await wide.close()


def test_the_default_is_ten_and_the_field_is_validated() -> None:
    config = config_from_mapping({"accounts": [{"system_id": "a", "password": "pw"}]})
    assert config.delivery.window == 10
    assert config.accounts[0].delivery_window is None
    raised = config_from_mapping(
        {"accounts": [{"system_id": "a", "password": "pw", "delivery_window": 500}]}
    )
    assert raised.accounts[0].delivery_window == 500
    with pytest.raises(ConfigError, match="delivery_window"):
        config_from_mapping(
            {"accounts": [{"system_id": "a", "password": "pw", "delivery_window": 0}]}
        )
