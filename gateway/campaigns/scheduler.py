"""The campaign scheduler: releases the due sends of approved campaigns by the clock.

One `tick(now)` looks at every approved or sending campaign and calls `CampaignRunner.send`
for those whose schedule has something due: a once campaign at its send time (or at once when
it has none), a monthly campaign on its day, a reminder sequence's steps (before due / on due
/ overdue) for each recipient's own due date, skipping recipients who paid or replied (the
runner's stop rules). `run` ticks every `interval` until stopped; ``smsh campaign run`` runs
it, and ``smsh gateway serve`` runs it beside its dispatcher with a `GatewaySubmitter`
(`gateway.campaigns.service.running_campaigns`).

Theory of operation:
    The scheduler decides only *whether* to call `send` now; everything about *what* is sent
    stays in the runner, which claims each (recipient, slot) in the campaign tables before the
    hand-off and settles interrupted hand-offs by client_ref. So a restart, a second
    scheduler on the same database, or a manual ``smsh campaign send`` never sends a slot
    twice: the next tick simply finds nothing due.

    A once campaign with a send time is released ``lead`` seconds before it (default 0:
    at the time), not when approved: until then it can still be cancelled and nothing has
    reached the gateway. (``smsh campaign send`` hands it over early on purpose: the store
    keeps it ``scheduled`` until its time.)

Invariants:
    * Time is the ``now`` argument (`tick`) or the injected clock (`run`); no other clock.
    * A campaign whose send fails (owner check down, ...) is reported in `TickResult.failed`
      and retried on the next tick; it never stops the other campaigns.
    * Campaigns are visited in creation order, one send at a time (the runner's concurrency
      applies inside a send).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from gateway.campaigns.errors import CAMPAIGN_ERRORS
from gateway.campaigns.progress import CampaignProgressPublisher
from gateway.campaigns.repository import SendStatus
from gateway.campaigns.runner import CampaignRunner, DueSend, SendResult
from gateway.campaigns.schedule import ONCE_KEY
from gateway.campaigns.state import CampaignState
from gateway.campaigns.submit import Submitter
from gateway.timing import to_real
from sms.clock import Clock

__all__ = ["CampaignScheduler", "TickResult", "run_campaign_service"]

log = logging.getLogger("smsh.gateway.campaigns.scheduler")

_ACTIVE = (CampaignState.APPROVED, CampaignState.SENDING)


@dataclass(slots=True)
class TickResult:
    """What one `CampaignScheduler.tick` did."""

    at: float
    """The tick's time."""
    sent: list[SendResult] = field(default_factory=list)
    """One result per campaign that had something due."""
    waiting: dict[str, float] = field(default_factory=dict)
    """Once campaigns not yet due: campaign id -> their send time."""
    failed: dict[str, str] = field(default_factory=dict)
    """Campaign id -> why its send failed (retried on the next tick)."""

    @property
    def handed_over(self) -> int:
        """Messages handed to the gateway in this tick."""
        return sum(r.handed_over for r in self.sent)


class CampaignScheduler:
    """Calls `CampaignRunner.send` for each campaign with due sends (see the module docstring).

    Args:
        runner: The campaign runner (its repository and owner check).
        submitter: Where messages go (`GatewaySubmitter`, or `StoreSubmitter` for a gateway
            in another process on the same store).
        interval: Clock seconds between two ticks in `run`.
        lead: Release a once campaign this many seconds before its send time.
        progress: Publish `CampaignProgress` for the campaigns a tick sent.
    """

    def __init__(
        self,
        runner: CampaignRunner,
        submitter: Submitter,
        *,
        interval: float = 60.0,
        lead: float = 0.0,
        progress: CampaignProgressPublisher | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be positive, got {interval}")
        if lead < 0:
            raise ValueError(f"lead must be >= 0, got {lead}")
        self.runner = runner
        self.submitter = submitter
        self.interval = interval
        self.lead = lead
        self.progress = progress
        self._wake = asyncio.Event()

    def _releasable(self, due: list[DueSend], now: float) -> tuple[bool, float | None]:
        """Whether to send now, and the send time of a once campaign that is not due yet."""
        later: float | None = None
        for d in due:
            if d.slot.key == ONCE_KEY and d.slot.at is not None:
                at = d.slot.at.timestamp()
                if at - self.lead > now:
                    later = at if later is None else min(later, at)
                    continue
            return True, None
        return False, later

    async def tick(self, now: float) -> TickResult:
        """Send what is due at `now` for every approved or sending campaign.

        Args:
            now: The time (epoch seconds).

        Returns:
            What was sent, what waits, what failed.
        """
        result = TickResult(now)
        changed: list[str] = []
        for record in self.runner.repository.list_campaigns():
            if record.state not in _ACTIVE:
                continue
            cid = record.id
            try:
                due = self.runner.due_sends(now, cid)
                pending = any(
                    s.status == SendStatus.PENDING for s in self.runner.repository.sends(cid)
                )
                go, later = self._releasable(due, now)
                if not go and not pending:
                    if later is not None:
                        result.waiting[cid] = later
                    continue
                sent = await self.runner.send(cid, self.submitter, now)
            except CAMPAIGN_ERRORS as exc:
                result.failed[cid] = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "smsh.gateway.campaigns.scheduler.send_failed",
                    extra={"campaign_id": cid, "error": str(exc)},
                )
                continue
            result.sent.append(sent)
            changed.append(cid)
        if self.progress is not None and changed:
            self.progress.poll(now, changed)
        if result.sent or result.failed:
            log.info(
                "smsh.gateway.campaigns.scheduler.tick",
                extra={
                    "campaigns": len(result.sent),
                    "handed_over": result.handed_over,
                    "failed": len(result.failed),
                },
            )
        return result

    def poke(self) -> None:
        """Tick now instead of at the end of the interval (after an approval, say)."""
        self._wake.set()

    async def run(self, clock: Clock, stop: asyncio.Event | None = None) -> None:
        """Tick every `interval` (or when poked) until `stop` is set or the task is cancelled.

        Args:
            clock: The time source (`interval` is in its seconds; a scaled clock sleeps the
                real equivalent, `gateway.timing.to_real`).
            stop: Set it to end the loop (after the current tick).
        """
        pause = to_real(clock, self.interval)
        stop = stop or asyncio.Event()
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.tick(clock.now())
            except asyncio.CancelledError:
                raise
            except Exception:  # logged; the next tick tries again
                log.exception("smsh.gateway.campaigns.scheduler.tick_failed")
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            try:
                await asyncio.wait(waiters, timeout=pause, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()


async def run_campaign_service(
    scheduler: CampaignScheduler,
    clock: Clock,
    stop: asyncio.Event,
    progress: CampaignProgressPublisher | None = None,
) -> None:
    """Run the scheduler (and the progress publisher) until `stop` is set.

    What ``smsh campaign run`` does, and what a gateway process does to send its campaigns
    itself: ``await run_campaign_service(CampaignScheduler(runner, GatewaySubmitter(gw)),
    gw.clock, stop, CampaignProgressPublisher(repo, gw.store, gw.events))``.

    Args:
        scheduler: Releases due sends.
        clock: The time source of both loops.
        stop: Set it to end both loops.
        progress: Publishes `CampaignProgress` every ``min_interval`` (None: not at all).
    """
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(scheduler.run(clock, stop), name="campaign-scheduler")
        if progress is not None:
            tasks.create_task(progress.run(clock, stop), name="campaign-progress")
