"""A dunning campaign's owner check against the simulator's lookup API on a real port.

The gateway side is real (`CampaignRunner`, `HttpOwnerCheckClient`, `StoreSubmitter` into a
`MessageStore` on a temporary file); the answers come from the carrier model through
`simulator.lookup.running_lookup`. A number recycled long ago is excluded; one recycled inside
the database's reporting lag slips through (the stale-database hazard of DOMAIN §6.3), and the
carrier model then records its delivery as a misdelivery. With no lag, both are excluded.
"""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest

from gateway.campaigns import CampaignRepository, CampaignRunner, StoreSubmitter
from gateway.campaigns.ownercheck import HttpOwnerCheckClient
from gateway.campaigns.report import excluded_csv
from gateway.store import MessageStore
from simulator.lookup import running_lookup
from simulator.network import CarrierNetwork, EventKind
from sms.clock import ManualClock
from tests.unit.campaigns.conftest import config, csv_bytes, jst, template
from tests.unit.network.helpers import DAY, events, msg, network, sub

TIMEOUT = 20.0
OBTAINED = "2019-04-01"
HEADER = ["phone", "name", "amount", "due_date", "obtained_date"]
ROWS = [
    ["090-5555-6666", "山田", "85000", "2026-05-27", OBTAINED],  # recycled 2025: changed
    ["090-1111-2222", "佐藤", "72000", "2026-05-27", OBTAINED],  # same owner since 2015
    ["090-7777-8888", "鈴木", "64000", "2026-05-27", OBTAINED],  # recycled 2026-05-15
]
SEND_AT = jst(2026, 5, 27, 10)


def carrier(lag_days: int) -> CarrierNetwork:
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
                    {"owner": "dan", "active_from": "2015-01-01", "active_to": "2026-05-10"},
                    {"owner": "erin", "active_from": "2026-05-15"},
                ],
            ),
        ],
        owner_check={"db_lag_days": lag_days},
    )


@pytest.mark.parametrize(
    ("lag_days", "sent", "excluded"),
    [
        (30, {"+819011112222", "+819077778888"}, 1),  # as_of 2026-04-27: May's change unseen
        (0, {"+819011112222"}, 2),
    ],
)
@pytest.mark.timeout(60)
@pytest.mark.asyncio
async def test_campaign_excludes_numbers_the_simulator_reports_changed(
    tmp_path: Path, lag_days: int, sent: set[str], excluded: int
) -> None:
    net = carrier(lag_days)
    db = tmp_path / "smsh.sqlite3"
    async with asyncio.timeout(TIMEOUT), running_lookup(net, ManualClock(SEND_AT)) as base_url:
        with MessageStore(db, synchronous="NORMAL") as store, CampaignRepository(db) as repo:
            client = HttpOwnerCheckClient(base_url, timeout=5)
            runner = CampaignRunner(repo, store=store, owner_check=client)
            cid = runner.create(
                csv_data=csv_bytes(ROWS, header=HEADER),
                csv_path="rent.csv",
                template=template(),
                config=config(),
                created_by="alice",
                now=jst(2026, 5, 20, 9),
            ).campaign_id
            runner.approve(cid, by="bob", now=jst(2026, 5, 20, 9, 30))

            result = await runner.send(cid, StoreSubmitter(store, ManualClock(SEND_AT)), SEND_AT)

            assert not result.errors
            assert result.owner_checked == 3
            assert result.excluded == {"owner_changed": excluded}
            stored = {m.destination for m in store.list_messages(campaign_id=cid, limit=100)}
            assert stored == sent
            report = excluded_csv(repo, cid).splitlines()
            assert "2,090-5555-6666,+819055556666,山田,owner_changed,changed,2025-03-01" in report

    # Play the carrier for what was handed over: the stale answer becomes a misdelivery.
    for i, destination in enumerate(sorted(sent)):
        net.submit(msg(destination, obtained_date=date.fromisoformat(OBTAINED)), SEND_AT + i)
    incidents = events(net.advance(SEND_AT + DAY), EventKind.MISDELIVERY)
    assert [e.number for e in incidents] == (["09077778888"] if lag_days else [])
