"""The simulator's lookup API on a real loopback port (`running_lookup`), driven by the gateway's
real owner-check client (`HttpOwnerCheckClient`) and a plain aiohttp session."""

from __future__ import annotations

import asyncio
from datetime import date

import aiohttp
import pytest

from gateway.campaigns.errors import OwnerCheckError
from gateway.campaigns.ownercheck import HttpOwnerCheckClient, OwnerStatus
from simulator.lookup import running_lookup
from simulator.network import CarrierNetwork
from sms.clock import ManualClock
from tests.unit.network.helpers import DAY, EPOCH, network, sub

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(30)]

TIMEOUT = 15.0
RECYCLED = "+819055556666"
STABLE = "+819011112222"
RECENT = "+819077778888"  # disconnected 2025-12-20, reassigned 2025-12-21: inside the lag
OBTAINED = date(2019, 4, 1)


def carrier() -> CarrierNetwork:
    return network(
        subscribers=[
            sub(
                "09055556666",
                ownership=[
                    {"owner": "alice", "active_from": "2015-01-01", "active_to": "2025-03-01"},
                    {"owner": "bob", "active_from": "2025-09-01"},
                ],
            ),
            sub("09011112222", ownership=[{"owner": "carol", "active_from": "2015-01-01"}]),
            sub(
                "09077778888",
                ownership=[
                    {"owner": "dan", "active_from": "2015-01-01", "active_to": "2025-12-20"},
                    {"owner": "erin", "active_from": "2025-12-21"},
                ],
            ),
        ],
        owner_check={"db_lag_days": 30},
    )


async def test_real_client_sees_recycled_number_as_changed() -> None:
    clock = ManualClock(EPOCH)
    async with asyncio.timeout(TIMEOUT), running_lookup(carrier(), clock) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        client = HttpOwnerCheckClient(base_url, batch_size=2, timeout=5)
        answers = await client.check_many(
            [(RECYCLED, OBTAINED), (STABLE, OBTAINED), (RECENT, OBTAINED)]
        )  # two requests: batch_size 2
        assert answers[RECYCLED].status is OwnerStatus.CHANGED
        assert answers[RECYCLED].last_change_date == date(2025, 3, 1)
        assert answers[STABLE].status is OwnerStatus.UNCHANGED
        assert answers[RECENT].status is OwnerStatus.UNCHANGED  # the stale database
        assert answers[RECENT].last_change_date is None
        too_old = await client.check_many([(STABLE, date(2001, 1, 1))])
        assert too_old[STABLE].status is OwnerStatus.NO_DATA

        clock.advance(21 * DAY)  # past the 30-day lag for the December changes
        later = await client.check_many([(RECENT, OBTAINED)])
        assert later[RECENT].status is OwnerStatus.CHANGED
        assert later[RECENT].last_change_date == date(2025, 12, 20)


async def test_raw_http_health_handset_and_history() -> None:
    async with (
        asyncio.timeout(TIMEOUT),
        running_lookup(carrier(), ManualClock(EPOCH)) as base_url,
        aiohttp.ClientSession() as session,
    ):
        async with session.get(f"{base_url}/v1/health") as resp:
            assert resp.status == 200
            health = await resp.json()
        assert health["as_of"] == "2025-12-02"
        async with session.get(f"{base_url}/v1/handsets/{RECYCLED}/history") as resp:
            history = await resp.json()
        assert history["current_owner"] == "bob"
        async with session.get(f"{base_url}/v1/handsets/{RECYCLED}") as resp:
            assert (await resp.json())["threads"] == {}
        async with session.get(
            f"{base_url}/v1/owner-check",
            params={"number": RECYCLED, "reference_date": "2019-04-01"},
        ) as resp:
            assert (await resp.json())["result"] == "changed"


async def test_server_batch_limit_fails_the_client_closed() -> None:
    """A client batching above the server's limit gets 413 and raises (it never guesses)."""
    async with (
        asyncio.timeout(TIMEOUT),
        running_lookup(carrier(), ManualClock(EPOCH), max_batch=2) as base_url,
    ):
        fits = HttpOwnerCheckClient(base_url, batch_size=2, timeout=5)
        queries = [(RECYCLED, OBTAINED), (STABLE, OBTAINED), (RECENT, OBTAINED)]
        assert len(await fits.check_many(queries)) == 3
        too_big = HttpOwnerCheckClient(base_url, batch_size=3, timeout=5)
        with pytest.raises(OwnerCheckError, match="HTTP 413"):
            await too_big.check_many(queries)


async def test_invalid_number_in_a_batch_fails_the_client_closed() -> None:
    """The API answers "invalid" per item; the campaign client does not know that answer and
    refuses the batch rather than treat the number as unchanged."""
    async with (
        asyncio.timeout(TIMEOUT),
        running_lookup(carrier(), ManualClock(EPOCH)) as base_url,
    ):
        client = HttpOwnerCheckClient(base_url, timeout=5)
        with pytest.raises(OwnerCheckError, match="malformed"):
            await client.check_many([(RECYCLED, OBTAINED), ("+81312345678", OBTAINED)])


async def test_port_is_released_on_exit() -> None:
    async with asyncio.timeout(TIMEOUT):
        async with running_lookup(carrier(), ManualClock(EPOCH)) as base_url:
            pass
        with pytest.raises(OwnerCheckError, match="failed"):
            await HttpOwnerCheckClient(base_url, timeout=2).check_many([(RECYCLED, OBTAINED)])
