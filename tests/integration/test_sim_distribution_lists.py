"""submit_multi with distribution lists (dest_flag=2, SMPP 3.4 §4.5.1.2): an account's named lists
expand to their members; an unknown name fails alone with ESME_RINVDLNAME (§5.1.3)."""

from __future__ import annotations

import asyncio

import pytest

from simulator.config import config_from_mapping
from simulator.errors import ConfigError
from simulator.smpp.constants import CommandStatus as S
from simulator.smpp.pdu import (
    DistributionListDestAddress,
    SmeDestAddress,
    SubmitMulti,
    SubmitMultiResp,
)
from simulator.testing import SmppTestClient, running_simulator

pytestmark = pytest.mark.asyncio

CONFIG = {
    "receipts": {"delay_s": 0},
    "accounts": [
        {
            "system_id": "acme",
            "password": "pw",
            "distribution_lists": {
                "staff": ["+819011111111", "09022222222"],
                "managers": ["819044444444"],
            },
        },
        {"system_id": "other", "password": "pw"},
    ],
}


def _multi(*dests: SmeDestAddress | DistributionListDestAddress) -> SubmitMulti:
    return SubmitMulti(
        source_addr_ton=5,
        source_addr="ACME",
        dest_addresses=dests,
        short_message=b"team notice",
        registered_delivery=1,
    )


async def test_lists_expand_to_their_members_and_unknown_names_fail_alone() -> None:
    async with asyncio.timeout(20), running_simulator(CONFIG) as sim:
        client = await SmppTestClient.connect(sim.host, sim.port)
        await client.bind("acme", "pw")
        response = await client.request(
            _multi(
                DistributionListDestAddress("staff"),
                DistributionListDestAddress("customers"),  # not defined for acme
                SmeDestAddress(1, 1, "819055555555"),
                DistributionListDestAddress("managers"),
            )
        )
        assert isinstance(response, SubmitMultiResp)
        assert response.command_status == 0
        failed = {
            (u.dest_addr_ton, u.dest_addr_npi, u.destination_addr, u.error_status_code)
            for u in response.unsuccess_smes
        }
        assert failed == {(0, 0, "customers", S.ESME_RINVDLNAME)}
        receipts = await client.deliveries(4, 5.0)
        assert {r.receipted_message_id for r in receipts} == {response.message_id}
        assert {r.source_addr for r in receipts} == {
            "819011111111",  # "+" dropped: TON 1 says international
            "09022222222",
            "819055555555",
            "819044444444",
        }
        record = sim.server.store.get(response.message_id)
        assert record is not None
        assert record.destinations == 4
        await client.close()


async def test_lists_belong_to_their_account() -> None:
    async with asyncio.timeout(20), running_simulator(CONFIG) as sim:
        client = await SmppTestClient.connect(sim.host, sim.port)
        await client.bind("other", "pw")
        response = await client.request(_multi(DistributionListDestAddress("staff")))
        assert isinstance(response, SubmitMultiResp)
        assert [(u.destination_addr, u.error_status_code) for u in response.unsuccess_smes] == [
            ("staff", S.ESME_RINVDLNAME)
        ]
        assert sim.server.stats.accepted == 0
        await client.close()


@pytest.mark.parametrize(
    ("lists", "problem"),
    [
        ({"x" * 21: ["819011111111"]}, "1 to 20 characters"),
        ({"empty": []}, "no members"),
        ({"long": ["8" * 21]}, "1-20 digits"),
        ({"typo": ["81903333x333"]}, "1-20 digits"),
    ],
)
async def test_bad_lists_are_refused_at_load_time(
    lists: dict[str, list[str]], problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        config_from_mapping({"accounts": [{"system_id": "a", "distribution_lists": lists}]})
