"""The campaigns inside the gateway daemon (`gateway.campaigns.service`), and the policy move:
the campaign modules re-export the gateway core's owner check, quiet hours and their errors.

`running_campaigns` runs here over a stand-in gateway that hands messages to a real
`MessageStore` (the daemon path over a real gateway and simulator is
tests/integration/test_campaign_daemon.py).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import pytest

import gateway.campaigns.errors as campaign_errors
import gateway.campaigns.ownercheck as campaign_ownercheck
import gateway.campaigns.quiet as campaign_quiet
import gateway.errors as gateway_errors
import gateway.ownercheck as core_ownercheck
import gateway.policy.quiet as core_quiet
from gateway.campaigns.errors import CAMPAIGN_ERRORS, CampaignError, QuietHoursError
from gateway.campaigns.ownercheck import FakeOwnerCheckClient, HttpOwnerCheckClient
from gateway.campaigns.repository import CampaignRepository
from gateway.campaigns.runner import CampaignRunner, SendResult
from gateway.campaigns.scheduler import CampaignScheduler
from gateway.campaigns.service import owner_check_for, running_campaigns
from gateway.campaigns.submit import StoreSubmitter, Submitter
from gateway.config import GatewayConfig, config_from_dict
from gateway.store import MessageStore, MessageSummary
from sms.bus import Publisher
from sms.bus.events import CampaignProgress
from sms.bus.memory import InMemoryBus
from sms.clock import ManualClock
from tests.unit.campaigns.conftest import jst
from tests.unit.campaigns.test_runner import ROWS, approved

# --- the move --------------------------------------------------------------------------------


def test_campaign_modules_re_export_the_gateway_core_objects() -> None:
    for name in campaign_quiet.__all__:
        assert getattr(campaign_quiet, name) is getattr(core_quiet, name), name
    for name in campaign_ownercheck.__all__:
        assert getattr(campaign_ownercheck, name) is getattr(core_ownercheck, name), name
    assert campaign_errors.OwnerCheckError is gateway_errors.OwnerCheckError
    assert campaign_errors.QuietHoursError is gateway_errors.QuietHoursError


def test_campaign_errors_covers_the_moved_errors() -> None:
    caught: list[str] = []
    for exc in (
        campaign_errors.OwnerCheckError("down"),
        campaign_errors.QuietHoursError("no time"),
        campaign_errors.ScheduleError("bad"),
    ):
        try:
            raise exc
        except CAMPAIGN_ERRORS as got:
            caught.append(type(got).__name__)
    assert caught == ["OwnerCheckError", "QuietHoursError", "ScheduleError"]
    # Still what the gateway's and the scenario runner's edges catch.
    assert issubclass(QuietHoursError, gateway_errors.GatewayError)
    assert issubclass(QuietHoursError, ValueError)
    assert not issubclass(QuietHoursError, CampaignError)


class _NoWindowRunner(CampaignRunner):
    """A runner whose sends of one campaign find no contact window (as `send_slot` raises)."""

    def __init__(self, *args: Any, broken: str, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.broken = broken

    async def send(self, campaign_id: str, submitter: Submitter, now: float) -> SendResult:
        if campaign_id == self.broken:
            raise QuietHoursError("window 22:00-23:00 in Asia/Tokyo allows no time")
        return await super().send(campaign_id, submitter, now)


def test_a_quiet_hours_error_fails_one_campaign_not_the_tick(
    repo: CampaignRepository, store: MessageStore, owner: FakeOwnerCheckClient
) -> None:
    plain = CampaignRunner(repo, store=store, owner_check=owner)
    broken = approved(plain)
    fine = approved(plain)
    runner = _NoWindowRunner(repo, store=store, owner_check=owner, broken=broken)
    now = jst(2026, 5, 27, 10)
    scheduler = CampaignScheduler(runner, StoreSubmitter(store, ManualClock(now)))
    result = asyncio.run(scheduler.tick(now))
    assert list(result.failed) == [broken]
    assert result.failed[broken].startswith("QuietHoursError: window 22:00-23:00")
    assert [(r.campaign_id, r.handed_over) for r in result.sent] == [(fine, len(ROWS))]


# --- the daemon service ----------------------------------------------------------------------


def _config(**owner_check: Any) -> GatewayConfig:
    return config_from_dict(
        {
            "binds": [{"name": "a", "system_id": "x", "password": "p"}],
            "routes": [{"name": "jp", "default_sender": "0005012345"}],
            "owner_check": owner_check,
        }
    )


def test_owner_check_comes_from_the_gateway_config() -> None:
    assert owner_check_for(_config()) is None
    client = owner_check_for(_config(url="http://127.0.0.1:8081/", timeout=3.5, batch_size=7))
    assert isinstance(client, HttpOwnerCheckClient)
    assert client.url == "http://127.0.0.1:8081/v1/owner-check/bulk"


class _StandInGateway:
    """What the service uses of `Gateway`: config, clock, store, events, submit, list."""

    def __init__(self, store: MessageStore, clock: ManualClock, events: Publisher) -> None:
        self.config = _config()
        self.clock = clock
        self.store = store
        self.events = events
        self.submitted: list[str] = []
        self._store_submitter = StoreSubmitter(store, clock)

    async def submit(
        self,
        destination: str,
        text: str,
        *,
        source: str | None = None,
        client_ref: str | None = None,
        priority: int = 0,
        validity: float | None = None,
        not_before: float | None = None,
        route: str | None = None,
        campaign_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tlvs: Sequence[tuple[int, bytes]] = (),
    ) -> int:
        assert campaign_id is not None
        assert client_ref is not None
        assert source is not None
        self.submitted.append(client_ref)
        until = None if validity is None else self.clock.now() + validity
        return await self._store_submitter.submit(
            destination,
            text,
            source=source,
            campaign_id=campaign_id,
            client_ref=client_ref,
            not_before=not_before,
            validity_until=until,
            metadata=metadata or {},
        )

    async def list_messages(self, **filters: Any) -> list[MessageSummary]:
        return self.store.list_messages(**filters)


async def _until(check: Any) -> None:
    """Poll `check` until true (pytest-timeout bounds it)."""
    while True:
        if check():
            return
        await asyncio.sleep(0.01)


def test_running_campaigns_sends_at_start_and_when_poked_then_stops(
    db_path: Path, store: MessageStore, repo: CampaignRepository, owner: FakeOwnerCheckClient
) -> None:
    runner = CampaignRunner(repo, store=store, owner_check=owner)
    first = approved(runner)

    async def go() -> tuple[list[str], list[CampaignProgress], Any]:
        clock = ManualClock(jst(2026, 5, 27, 10))
        async with InMemoryBus() as bus, bus.subscribe("smsh/v1/gateway/+/#") as sub:
            gw = _StandInGateway(store, clock, Publisher(bus, "gateway", "gw1"))
            async with running_campaigns(
                cast(Any, gw), path=db_path, owner_check=owner, interval=3600.0
            ) as service:
                await _until(lambda: len(gw.submitted) == len(ROWS))  # the first tick
                second = approved(runner)
                await asyncio.sleep(0.05)
                assert len(gw.submitted) == len(ROWS)  # not before the next tick...
                service.changed(second)  # ...or a poke (what the API's on_change does)
                await _until(lambda: len(gw.submitted) == 2 * len(ROWS))
                task_repo = service.repository
            await asyncio.sleep(0.05)
            events = [e for _, e in sub.drain() if isinstance(e, CampaignProgress)]
            return gw.submitted, events, task_repo

    submitted, events, closed_repo = asyncio.run(go())
    assert sorted({ref.split(":")[0] for ref in submitted}) == [first, "cmp-2"]
    assert {e.campaign_id for e in events} >= {first}
    with pytest.raises(sqlite3.ProgrammingError):
        closed_repo.list_campaigns()
