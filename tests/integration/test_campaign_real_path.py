"""Acceptance of issue #8 through the real path: 10,000 CSV rows with planted faults go
create -> preview -> approve -> send into a real `gateway.gateway.Gateway` bound over loopback
TCP to a real simulator (`CarrierNetworkHandler` over a `CarrierNetwork`), whose owner-check API
(`simulator.lookup.running_lookup`) answers the campaign's 他人接続判定 over HTTP.

Planted (seeded, `tests.integration.test_campaign_planted_faults.plant`): 3% malformed numbers,
2% duplicates written differently, 1% numbers reassigned to someone else after the date the
company obtained them. The reassignments live in the simulator's ownership timelines, so the
lookup API says ``changed`` for them, and a message that reaches one of them is recorded by the
carrier model as a misdelivery (it reads the harness vendor TLVs 0x1500-0x1502 that the
campaign's `GatewaySubmitter` attaches).

With the owner check on, the report's counts equal the planted faults and the simulator records
zero misdeliveries; with it off (the control), it records exactly one per reassigned number, so
the zero means something.

Every clock (gateway, simulator, lookup) is one `ScaledClock` that starts at 10:00 JST on the
due date and runs 20x faster than real time; the carrier's latency is a fixed simulated second.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.campaigns import (
    CampaignConfig,
    CampaignProgressPublisher,
    CampaignReport,
    CampaignRepository,
    CampaignRunner,
    CampaignState,
    GatewaySubmitter,
    HttpOwnerCheckClient,
    build_report,
    parse_template_text,
)
from gateway.config import config_from_dict
from gateway.gateway import Gateway, open_store
from gateway.store import TERMINAL_STATES, MessageState
from simulator.carrier import CarrierNetworkHandler
from simulator.lookup import running_lookup
from simulator.network import CarrierNetwork, NetworkConfig
from simulator.testing import running_simulator
from sms.bus.events import Alert, CampaignProgress
from sms.bus.memory import InMemoryBus
from sms.clock import ScaledClock
from tests.integration.test_campaign_planted_faults import (
    N_DUPLICATES,
    N_MALFORMED,
    N_REASSIGNED,
    N_ROWS,
    OBTAINED,
    Planted,
    plant,
)

SENDER = "0005012345"
SPEED = 20.0
PROGRESS_S = 20.0
START = datetime.fromisoformat("2026-05-27T10:00:00+09:00").timestamp()
N_VALID = N_ROWS - sum(N_MALFORMED.values()) - N_DUPLICATES
TEMPLATE = f"""---
sender: "{SENDER}"
profile: jp-docomo
stage: first_notice
---
{{name}}様 ○○カードです。{{amount:,}}円のお振込みをお願いします。お問い合わせ 0120-123-456"""


@pytest.fixture(scope="module")
def planted() -> Planted:
    return plant(20261124)


def _national(e164: str) -> str:
    return "0" + e164[3:]


def _subscribers(planted: Planted) -> Iterator[dict[str, Any]]:
    """Every valid number is a subscriber; the reassigned ones changed hands after OBTAINED."""
    for e164 in planted.recipients:
        changed = planted.reassigned.get(e164)
        if changed is None:
            ownership = [{"owner": f"c-{e164[3:]}", "active_from": "2015-01-01"}]
        else:
            ownership = [
                {
                    "owner": f"c-{e164[3:]}",
                    "active_from": "2015-01-01",
                    "active_to": (changed - timedelta(days=200)).isoformat(),
                },
                {"owner": f"n-{e164[3:]}", "active_from": changed.isoformat()},
            ]
        yield {"number": _national(e164), "outcome": "delivered", "ownership": ownership}


def carrier(planted: Planted) -> CarrierNetwork:
    config = NetworkConfig.model_validate(
        {
            "population": {"size": 0},
            "subscribers": list(_subscribers(planted)),
            "two_way": {"enabled": False},
            "quiet_hours": {"enabled": False},
            "absence": {"p_absent": 0.0},
            "receipts": {"loss_rate": 0.0},
            "routes": {"domestic_direct": {"latency": {"kind": "fixed", "seconds": 1.0}}},
            "default_account": {"sender_codes": [SENDER], "max_tps": None},
            "owner_check": {"db_lag_days": 0},
        }
    )
    return CarrierNetwork(config, 20261124, "campaign-real-path")


def gateway_config(port: int) -> Any:
    return config_from_dict(
        {
            "binds": [
                {
                    "name": "b",
                    "port": port,
                    "system_id": "esme",
                    "password": "pw",
                    "count": 2,
                    "window": 200,
                    "response_timeout": 10.0,
                    "reconnect": {"base": 0.05, "factor": 2.0, "cap": 0.5},
                }
            ],
            "routes": [
                {
                    "name": "jp",
                    "default_sender": SENDER,
                    "profile": "jp-docomo",
                    "harness_tlvs": False,  # the GatewaySubmitter passes them itself
                }
            ],
            "store": {"synchronous": "NORMAL"},
            "dispatch": {"poll_interval": 0.05, "maintenance_interval": 0.2},
        }
    )


def misdeliveries(net: CarrierNetwork, numbers: set[str]) -> dict[str, int]:
    """Messages the carrier model flagged as misdelivered, per number (from the handsets)."""
    out: dict[str, int] = {}
    for number in numbers:
        view = net.handset(number)
        hits = sum(
            1 for thread in view.threads for m in thread.messages if "misdelivery" in m.flags
        )
        if hits:
            out[number] = hits
    return out


async def run_campaign(
    tmp_path: Path, planted: Planted, *, owner_check: bool
) -> tuple[CampaignReport, CarrierNetwork, dict[str, Any]]:
    net = carrier(planted)
    clock = ScaledClock(START, speed=SPEED)
    handler = CarrierNetworkHandler(net)
    db = tmp_path / "smsh.sqlite3"
    figures: dict[str, Any] = {}
    sim_bus = InMemoryBus()
    async with (
        sim_bus.subscribe("smsh/v1/simulator/#", maxsize=100_000) as alerts,
        running_simulator(None, handler=handler, clock=clock, bus=sim_bus) as sim,
        running_lookup(net, clock) as lookup_url,
    ):
        config = gateway_config(sim.port)
        store = open_store(config, path=db)
        try:
            async with (
                InMemoryBus() as bus,
                bus.subscribe("smsh/v1/gateway/+/campaign_progress") as progress_events,
                Gateway(config, store, bus, clock) as gw,
            ):
                with CampaignRepository(db) as repo:
                    client = HttpOwnerCheckClient(lookup_url, timeout=10) if owner_check else None
                    runner = CampaignRunner(repo, store=store, owner_check=client, concurrency=500)
                    # Progress on the gateway's bus: at most one event per PROGRESS_S clock
                    # seconds (one real second at SPEED) per campaign.
                    progress = CampaignProgressPublisher(
                        repo, store, gw.events, min_interval=PROGRESS_S
                    )
                    stop_progress = asyncio.Event()
                    progress_task = asyncio.create_task(progress.run(clock, stop_progress))
                    cfg = CampaignConfig.model_validate(
                        {
                            "lint": {"registered_senders": [SENDER]},
                            "owner_check": {"required": owner_check},
                        }
                    )
                    t0 = time.perf_counter()
                    cid = runner.create(
                        csv_data=planted.csv,
                        csv_path="cards.csv",
                        template=parse_template_text(TEMPLATE, source="notice.txt"),
                        config=cfg,
                        created_by="alice",
                        now=clock.now(),
                    ).campaign_id
                    preview = runner.preview(cid)
                    assert preview.recipients == N_VALID
                    assert preview.overlength == []
                    assert preview.findings == []
                    runner.approve(cid, by="bob", now=clock.now())
                    sent = await runner.send(
                        cid, GatewaySubmitter(gw, route="jp", harness=True), clock.now()
                    )
                    figures["send_s"] = time.perf_counter() - t0
                    assert not sent.errors
                    assert sent.state is CampaignState.DONE

                    async def settled() -> None:
                        while True:
                            counts = await gw.counts()
                            active = sum(n for s, n in counts.items() if s not in TERMINAL_STATES)
                            if active == 0 and sum(counts.values()) == sent.handed_over:
                                return
                            await asyncio.sleep(0.1)

                    await settled()
                    figures["final_s"] = time.perf_counter() - t0
                    figures["sent"] = sent
                    t1 = time.perf_counter()
                    report = build_report(repo, store, cid)
                    figures["report_s"] = time.perf_counter() - t1
                    await asyncio.sleep(clock.to_real(PROGRESS_S) * 1.5)  # the last change
                    stop_progress.set()
                    await progress_task
                    figures["progress"] = [
                        e for _, e in progress_events.drain() if isinstance(e, CampaignProgress)
                    ]
        finally:
            store.close()
        # Let the model file the last deliveries in the handsets (1 simulated s after the send).
        await asyncio.sleep(0.2)
        sim.server.wake()
        await asyncio.sleep(0.1)
        figures["accepted"] = sim.server.stats.accepted
        figures["alerts"] = Counter(e.alert_kind for _, e in alerts.drain() if isinstance(e, Alert))
    await sim_bus.close()
    return report, net, figures


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_planted_faults_through_gateway_and_simulator(
    tmp_path: Path, planted: Planted, capsys: pytest.CaptureFixture[str]
) -> None:
    report, net, figures = await run_campaign(tmp_path, planted, owner_check=True)
    assert report.rows == N_ROWS
    assert report.invalid == dict(sorted(N_MALFORMED.items(), key=lambda kv: (-kv[1], kv[0])))
    assert report.duplicates == N_DUPLICATES
    assert report.recipients == N_VALID
    assert report.excluded == {"owner_changed": N_REASSIGNED}
    assert report.sent == N_VALID - N_REASSIGNED
    assert report.state_count(MessageState.DELIVERED) == N_VALID - N_REASSIGNED
    assert report.state_count(MessageState.FAILED) == 0
    assert report.state_count(MessageState.EXPIRED) == 0
    assert figures["accepted"] == N_VALID - N_REASSIGNED
    assert misdeliveries(net, set(planted.recipients)) == {}
    assert figures["alerts"]["misdelivery"] == 0
    events: list[CampaignProgress] = figures["progress"]
    last = events[-1]
    assert (last.state, last.recipients, last.sent) == ("done", N_VALID, N_VALID - N_REASSIGNED)
    assert last.states == {"delivered": N_VALID - N_REASSIGNED}
    assert last.excluded == {
        "invalid": sum(N_MALFORMED.values()),
        "duplicate": N_DUPLICATES,
        "owner_changed": N_REASSIGNED,
    }
    assert all(b.at - a.at >= PROGRESS_S for a, b in itertools.pairwise(events))
    with capsys.disabled():
        print(
            f"\n[real path, owner check on] send {figures['send_s']:.1f} s, "
            f"all final {figures['final_s']:.1f} s, report {figures['report_s'] * 1000:.0f} ms, "
            f"{len(events)} progress events"
        )


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_without_the_owner_check_every_reassigned_number_is_misdelivered(
    tmp_path: Path, planted: Planted, capsys: pytest.CaptureFixture[str]
) -> None:
    report, net, figures = await run_campaign(tmp_path, planted, owner_check=False)
    assert report.excluded == {}
    assert report.sent == N_VALID
    assert report.state_count(MessageState.DELIVERED) == N_VALID
    wrong = misdeliveries(net, set(planted.recipients))
    assert set(wrong) == set(planted.reassigned)
    assert sum(wrong.values()) == N_REASSIGNED
    assert figures["alerts"]["misdelivery"] == N_REASSIGNED
    with capsys.disabled():
        print(
            f"\n[real path, owner check off] send {figures['send_s']:.1f} s, "
            f"all final {figures['final_s']:.1f} s"
        )


def test_planted_reassignments_postdate_the_obtained_date(planted: Planted) -> None:
    assert len(planted.reassigned) == N_REASSIGNED
    assert all(d - timedelta(days=200) > OBTAINED for d in planted.reassigned.values())
    assert len(set(planted.recipients)) == len(planted.recipients) == N_VALID
