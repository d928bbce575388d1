"""Campaigns inside the gateway daemon, built with the functions ``smsh gateway serve`` uses
(`gateway.campaigns.service.running_campaigns`, `gateway.http.start_http` with the campaign API
under ``/campaigns``), on loopback TCP with a running simulator and its owner-check API.

A campaign is created with ``smsh campaign create`` on the gateway's store file by operator
alice. Over HTTP, alice's own approval is refused (409) and nothing reaches the simulator; bob's
approval is accepted and pokes the scheduler (its interval is an hour, so only the poke can
explain a prompt send), which hands the messages to the gateway: they reach the simulator,
except the number that changed hands since it was obtained, which the owner check (URL from the
gateway config's ``owner_check`` section) excludes.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.campaigns.service import running_campaigns
from gateway.config import config_from_dict
from gateway.gateway import Gateway, open_store
from gateway.http import start_http
from scenarios.commands import campaign as campaign_cli
from simulator.carrier import CarrierNetworkHandler
from simulator.lookup import running_lookup
from simulator.network import CarrierNetwork, NetworkConfig
from simulator.testing import running_simulator
from sms.bus.events import CampaignProgress
from sms.bus.memory import InMemoryBus
from sms.clock import ScaledClock

SENDER = "0005012345"
START = datetime.fromisoformat("2026-05-27T10:00:00+09:00")
TIMEOUT = 30.0
#: national number -> changed hands on (None: same owner since 2015).
SUBSCRIBERS: dict[str, str | None] = {
    "09011110001": None,
    "09011110002": None,
    "09011110003": "2025-01-15",
}
TEMPLATE = f"""---
sender: "{SENDER}"
profile: jp-docomo
stage: first_notice
---
{{name}}様 ○○カードです。{{amount:,}}円のお振込みをお願いします。お問い合わせ 0120-123-456
"""


def carrier() -> CarrierNetwork:
    subscribers: list[dict[str, Any]] = []
    for number, changed in SUBSCRIBERS.items():
        if changed is None:
            ownership = [{"owner": f"c-{number}", "active_from": "2015-01-01"}]
        else:
            ownership = [
                {"owner": f"c-{number}", "active_from": "2015-01-01", "active_to": "2024-06-30"},
                {"owner": f"n-{number}", "active_from": changed},
            ]
        subscribers.append({"number": number, "outcome": "delivered", "ownership": ownership})
    config = NetworkConfig.model_validate(
        {
            "population": {"size": 0},
            "subscribers": subscribers,
            "two_way": {"enabled": False},
            "quiet_hours": {"enabled": False},
            "absence": {"p_absent": 0.0},
            "receipts": {"loss_rate": 0.0},
            "routes": {"domestic_direct": {"latency": {"kind": "fixed", "seconds": 0.2}}},
            "default_account": {"sender_codes": [SENDER], "max_tps": None},
            "owner_check": {"db_lag_days": 0},
        }
    )
    return CarrierNetwork(config, 20261124, "campaign-daemon")


def gateway_config(smsc_port: int, lookup_url: str) -> Any:
    return config_from_dict(
        {
            "binds": [
                {
                    "name": "b",
                    "port": smsc_port,
                    "system_id": "esme",
                    "password": "pw",
                    "reconnect": {"base": 0.05, "factor": 2.0, "cap": 0.5},
                }
            ],
            "routes": [{"name": "jp", "default_sender": SENDER, "profile": "jp-docomo"}],
            "store": {"synchronous": "NORMAL"},
            "dispatch": {"poll_interval": 0.05, "maintenance_interval": 0.2},
            "owner_check": {"url": lookup_url, "timeout": 5.0},
        }
    )


def smsh_campaign(db: Path, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="smsh campaign")
    campaign_cli.add_arguments(parser)
    return campaign_cli.run(parser.parse_args([*argv, "--db", str(db)]))


def write_inputs(tmp_path: Path) -> tuple[Path, Path]:
    rows = ["phone,name,amount,due_date,obtained_date"]
    for i, number in enumerate(SUBSCRIBERS, 1):
        rows.append(f"{number},顧客{i},{1000 * i},2026-05-20,2024-04-01")
    csv = tmp_path / "cards.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    template = tmp_path / "notice.txt"
    template.write_text(TEMPLATE, encoding="utf-8")
    return csv, template


async def wait_for(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll `check` until true (the test's overall timeout bounds it)."""
    while True:
        if await check():
            return
        await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_campaign_approved_over_http_by_a_second_operator_reaches_the_simulator(
    tmp_path: Path,
) -> None:
    net = carrier()
    clock = ScaledClock(START.timestamp())
    db = tmp_path / "gateway.sqlite3"
    csv, template = write_inputs(tmp_path)
    async with (
        asyncio.timeout(TIMEOUT),
        running_simulator(None, handler=CarrierNetworkHandler(net), clock=clock) as sim,
        running_lookup(net, clock) as lookup_url,
    ):
        config = gateway_config(sim.port, lookup_url)
        store = open_store(config, path=db)
        try:
            async with (
                InMemoryBus() as bus,
                bus.subscribe("smsh/v1/gateway/+/campaign_progress") as progress_events,
                Gateway(config, store, bus, clock) as gw,
                running_campaigns(gw, interval=3600.0) as service,
            ):
                runner, port = await start_http(gw, "127.0.0.1", 0, campaigns=service.app())
                base = f"http://127.0.0.1:{port}"
                try:
                    # Created by the CLI on the daemon's store file (another connection).
                    now = datetime.fromtimestamp(clock.now(), START.tzinfo).isoformat()
                    created = smsh_campaign(
                        db,
                        "create",
                        "--csv",
                        str(csv),
                        "--template",
                        str(template),
                        "--by",
                        "alice",
                        "--now",
                        now,
                    )
                    assert created == 0
                    async with aiohttp.ClientSession() as http:
                        listed = await (await http.get(f"{base}/campaigns")).json()  # 308 to /
                        assert [(c["id"], c["state"]) for c in listed["campaigns"]] == [
                            ("cmp-1", "draft")
                        ]

                        own = await http.post(
                            f"{base}/campaigns/cmp-1/approve", json={"by": "alice"}
                        )
                        assert own.status == 409
                        assert (await own.json())["error"] == "approval_refused"
                        await asyncio.sleep(0.3)  # a send, were there one, would start now
                        assert sim.server.stats.accepted == 0
                        assert sum((await gw.counts()).values()) == 0

                        ok = await http.post(f"{base}/campaigns/cmp-1/approve", json={"by": "bob"})
                        assert ok.status == 200, await ok.text()

                        async def all_delivered() -> bool:
                            r = await http.get(f"{base}/campaigns/cmp-1")
                            body = await r.json()
                            return bool(body["message_states"] == {"delivered": 2})

                        await wait_for(all_delivered)
                        report = await (await http.get(f"{base}/campaigns/cmp-1")).json()
                        # Sanity: the other gateway endpoints are still served beside it.
                        health = await http.get(f"{base}/health")
                        assert health.status == 200
                    # The publisher's own loop reports the settled counts (at most 1/s).
                    events: list[CampaignProgress] = []

                    async def settled_event() -> bool:
                        events.extend(
                            e for _, e in progress_events.drain() if isinstance(e, CampaignProgress)
                        )
                        return bool(events) and events[-1].states == {"delivered": 2}

                    await wait_for(settled_event)
                finally:
                    await runner.cleanup()
                assert service.scheduler.interval == 3600.0
        finally:
            store.close()
    assert report["approved_by"] == "bob"
    assert report["created_by"] == "alice"
    assert report["state"] == "done"
    assert report["sent"] == 2
    assert report["excluded"] == {"owner_changed": 1}
    assert sim.server.stats.accepted == 2
    last = events[-1]
    assert (last.state, last.approved_by, last.sent) == ("done", "bob", 2)
    assert last.excluded == {"owner_changed": 1}
