"""Campaigns inside the gateway daemon: scheduler, progress publisher and HTTP API wired to a
running `gateway.gateway.Gateway` (what ``smsh gateway serve`` runs).

`running_campaigns(gateway)` opens the campaign tables in the gateway's own SQLite file (the
file ``smsh campaign --db`` works on), builds a `CampaignRunner` over them with the gateway's
store as its `StoreView`, a `CampaignProgressPublisher` on the gateway's bus publisher, and a
`CampaignScheduler` that hands messages to the gateway itself (`GatewaySubmitter`), and runs
`run_campaign_service` as a task for the duration of the ``async with`` block.
`CampaignService.app()` is the campaign API (`gateway.campaigns.http.make_campaign_app`) to
mount under ``/campaigns`` on the gateway's HTTP app (`gateway.http.make_app`).

Theory of operation:
    Operators create campaigns with ``smsh campaign create`` (another process, same file) and
    approve, cancel or mark them paid over HTTP (or with the CLI). The scheduler ticks every
    `interval` clock seconds; an API change pokes it, so an approved campaign that is due is
    handed over at once instead of at the next tick, and the change is published as
    `CampaignProgress` right away. A change made by the CLI in another process is seen at the
    next tick. The runner claims each (recipient, slot) before the hand-off, so a second
    scheduler on the same file (``smsh campaign run``) or a restart never sends a slot twice.

    The owner check (他人接続判定) of campaign rows uses the gateway config's ``owner_check``
    section: its ``url``, ``timeout`` and ``batch_size`` (its ``enabled`` flag is about single
    submits; a campaign's own config says whether its rows require the check). With no URL,
    rows that need the check make the campaign's send fail with `OwnerCheckRequired` (reported
    by the scheduler, retried next tick) unless the campaign says ``owner_check.required:
    false``.

Invariants:
    * Time is the gateway's clock (sends, approvals, progress events).
    * Leaving the block stops the scheduler and the publisher (after a grace period for the
      tick in progress, then by cancellation) and closes the campaign tables' connection; the
      gateway and its store are the caller's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

from gateway.campaigns.progress import CampaignProgressPublisher
from gateway.campaigns.repository import CampaignRepository
from gateway.campaigns.runner import CampaignRunner
from gateway.campaigns.scheduler import CampaignScheduler, run_campaign_service
from gateway.campaigns.submit import GatewaySubmitter
from gateway.config import GatewayConfig
from gateway.ownercheck import HttpOwnerCheckClient, OwnerCheckClient

if TYPE_CHECKING:
    from aiohttp import web

    from gateway.gateway import Gateway

__all__ = [
    "DEFAULT_INTERVAL",
    "CampaignService",
    "owner_check_for",
    "running_campaigns",
]

log = logging.getLogger("smsh.gateway.campaigns.service")

#: Clock seconds between two scheduler ticks when nothing pokes it.
DEFAULT_INTERVAL: Final[float] = 60.0
#: Real seconds the tick in progress gets to finish on shutdown before it is cancelled.
STOP_GRACE: Final[float] = 5.0


def owner_check_for(config: GatewayConfig) -> OwnerCheckClient | None:
    """The campaigns' owner-check client from the gateway config's ``owner_check`` section.

    Args:
        config: The gateway configuration.

    Returns:
        An HTTP client on ``owner_check.url``, or None when no URL is configured.
    """
    section = config.owner_check
    if not section.url:
        return None
    return HttpOwnerCheckClient(section.url, timeout=section.timeout, batch_size=section.batch_size)


class CampaignService:
    """The campaign runner, publisher and scheduler of one gateway (see the module docstring).

    Built and run by `running_campaigns`; its attributes are for the HTTP app and for tests.

    Args:
        gateway: The running gateway.
        repository: The campaign tables (in the gateway's store file).
        owner_check: The 他人接続判定 client (None: none configured).
        interval: Clock seconds between two scheduler ticks.
        lead: Release a once campaign this many seconds before its send time.
    """

    def __init__(
        self,
        gateway: Gateway,
        repository: CampaignRepository,
        *,
        owner_check: OwnerCheckClient | None = None,
        interval: float = DEFAULT_INTERVAL,
        lead: float = 0.0,
    ) -> None:
        self.gateway = gateway
        self.repository = repository
        self.runner = CampaignRunner(repository, store=gateway.store, owner_check=owner_check)
        self.progress = CampaignProgressPublisher(repository, gateway.store, gateway.events)
        # harness=False: a route with ``harness_tlvs: true`` derives the vendor TLVs itself.
        self.scheduler = CampaignScheduler(
            self.runner,
            GatewaySubmitter(gateway),
            interval=interval,
            lead=lead,
            progress=self.progress,
        )

    def changed(self, campaign_id: str) -> None:
        """React to a change made over the API: publish it and tick the scheduler now.

        Args:
            campaign_id: The campaign that changed.
        """
        try:
            self.progress.poll(self.gateway.clock.now(), [campaign_id])
        except Exception:  # the change is committed; the publisher's loop retries
            log.exception("smsh.gateway.campaigns.service.progress_failed")
        self.scheduler.poke()

    def app(self) -> web.Application:
        """The campaign API on this service's runner, to mount under ``/campaigns``.

        Returns:
            A new `aiohttp.web.Application` (`gateway.campaigns.http.make_campaign_app`) whose
            changes call `changed`.
        """
        from gateway.campaigns.http import make_campaign_app

        return make_campaign_app(self.runner, clock=self.gateway.clock, on_change=self.changed)


@contextlib.asynccontextmanager
async def running_campaigns(
    gateway: Gateway,
    *,
    path: str | Path | None = None,
    owner_check: OwnerCheckClient | None = None,
    interval: float = DEFAULT_INTERVAL,
    lead: float = 0.0,
) -> AsyncIterator[CampaignService]:
    """Run the campaign scheduler and progress publisher of `gateway` for a block.

    Args:
        gateway: A started gateway (``async with Gateway(...)``).
        path: The file holding the campaign tables (default: the gateway store's file).
        owner_check: The 他人接続判定 client (default: `owner_check_for` the gateway's config).
        interval: Clock seconds between two scheduler ticks.
        lead: Release a once campaign this many seconds before its send time.

    Yields:
        The service (mount ``service.app()`` under ``/campaigns``).

    Raises:
        CampaignError: The campaign tables cannot be opened.
    """
    repository = CampaignRepository(path if path is not None else gateway.store.path)
    try:
        service = CampaignService(
            gateway,
            repository,
            owner_check=owner_check if owner_check is not None else owner_check_for(gateway.config),
            interval=interval,
            lead=lead,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_campaign_service(service.scheduler, gateway.clock, stop, service.progress),
            name="campaign-service",
        )
        try:
            yield service
        finally:
            stop.set()
            try:
                await asyncio.wait_for(task, STOP_GRACE)  # cancels the task on timeout
            except TimeoutError:
                log.warning("smsh.gateway.campaigns.service.cancelled_on_stop")
            except Exception:
                log.exception("smsh.gateway.campaigns.service.failed")
    finally:
        repository.close()
