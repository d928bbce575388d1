"""Campaign progress on the bus: `sms.bus.events.CampaignProgress` when a campaign's state or
counts change, at most once per `min_interval` per campaign (the TUI's campaigns screen reads it).

Theory of operation:
    `CampaignProgressPublisher.poll(now)` builds each watched campaign's report
    (`gateway.campaigns.report.build_report`: the campaign tables plus the store's message
    states and replies), turns it into a `CampaignProgress` (`progress_of`), and publishes it
    when it differs from the last one published for that campaign (``at`` aside) and the last
    publication is at least `min_interval` old. A change inside the interval is not lost: it
    is published by the first poll after the interval (coalescing, like toolong's
    ``SizeChanged``), with the counts of that moment. Whoever changes a campaign (the
    scheduler, ``smsh campaign run``) calls `poll` after the step; `run` polls every
    `min_interval` in between (and never spends more than about a fifth of the event loop's
    time on it: a poll reads whole campaigns), so receipts and replies that arrive later show
    up too.

    A campaign is *settled* when it is done or cancelled and none of its messages is in an
    active gateway state; settled campaigns are re-read only every `settled_interval` (a late
    reply can still change them), so a database with many old campaigns costs little.

Invariants:
    * Publishes only facts read back from the repository and the store; it never changes them.
    * At most one event per campaign per `min_interval` of the given clock; an unchanged
      campaign publishes nothing (the first poll publishes every campaign once).
    * ``CampaignProgress.excluded`` lists, with non-zero counts only: ``invalid`` (rows with
      a malformed number or a missing field), ``duplicate``, ``filtered`` (outside the
      segment), the hand-off exclusions (``owner_changed``, ``owner_no_data``,
      ``suppressed``), and the stop rules (``stopped_paid``, ``stopped_replied``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from gateway.campaigns.report import CampaignReport, build_report
from gateway.campaigns.repository import CampaignRepository
from gateway.campaigns.state import CampaignState
from gateway.campaigns.submit import StoreView
from gateway.store import TERMINAL_STATES
from gateway.timing import to_real
from sms.bus import Publisher
from sms.bus.events import CampaignProgress
from sms.clock import Clock

__all__ = ["CampaignProgressPublisher", "progress_of"]

log = logging.getLogger("smsh.gateway.campaigns.progress")

#: `run` waits at least this many times as long as its last poll took (real time).
_BUSY_FACTOR: Final = 4.0
_TERMINAL: Final[frozenset[str]] = frozenset(s.value for s in TERMINAL_STATES)
_FINISHED: Final[frozenset[str]] = frozenset(
    {CampaignState.DONE.value, CampaignState.CANCELLED.value}
)


def progress_of(report: CampaignReport, at: float) -> CampaignProgress:
    """The bus event for one campaign report.

    Args:
        report: The campaign's counts.
        at: The event's time.

    Returns:
        The event (``deferred`` = messages the store still holds ``scheduled``).
    """
    excluded: dict[str, int] = {
        "invalid": report.invalid_total,
        "duplicate": report.duplicates,
        "filtered": report.filtered,
        **report.excluded,
        **{f"stopped_{k}": v for k, v in report.stopped.items()},
    }
    return CampaignProgress(
        at=at,
        campaign_id=report.campaign_id,
        name=report.name,
        state=report.state,
        created_by=report.created_by,
        approved_by=report.approved_by,
        recipients=report.recipients,
        excluded={k: v for k, v in excluded.items() if v},
        sent=report.sent,
        deferred=report.states.get("scheduled", 0),
        states=dict(report.states),
        replied=report.replied,
        cost=str(report.cost),
    )


def _content(event: CampaignProgress) -> dict[str, Any]:
    return event.model_dump(exclude={"at"})


@dataclass(slots=True)
class _Seen:
    content: dict[str, Any]
    """What was last published (``at`` aside)."""
    published_at: float
    """When."""
    read_at: float
    """When the campaign was last read."""
    settled: bool
    """Finished and no message active."""


class CampaignProgressPublisher:
    """Publishes `CampaignProgress` for changed campaigns (see the module docstring).

    Args:
        repository: Campaign tables.
        store: The store's read side (message states, replies); None: counts from the
            campaign tables only.
        publisher: Where the events go (the gateway's ``Publisher``, component ``gateway``).
        min_interval: Least time between two events of one campaign (clock seconds).
        settled_interval: How often a settled campaign is read again (clock seconds).
    """

    def __init__(
        self,
        repository: CampaignRepository,
        store: StoreView | None,
        publisher: Publisher,
        *,
        min_interval: float = 1.0,
        settled_interval: float = 60.0,
    ) -> None:
        if min_interval <= 0:
            raise ValueError(f"min_interval must be positive, got {min_interval}")
        self.repository = repository
        self.store = store
        self.publisher = publisher
        self.min_interval = min_interval
        self.settled_interval = settled_interval
        self._seen: dict[str, _Seen] = {}
        self.published = 0
        """Events published so far."""

    def poll(self, now: float, campaign_ids: Iterable[str] | None = None) -> list[CampaignProgress]:
        """Publish the campaigns that changed (and may publish now).

        Args:
            now: The clock's time.
            campaign_ids: Only these campaigns (default: every campaign).

        Returns:
            The events published, in campaign order.
        """
        ids = (
            list(campaign_ids)
            if campaign_ids is not None
            else [c.id for c in self.repository.list_campaigns()]
        )
        out: list[CampaignProgress] = []
        for cid in ids:
            seen = self._seen.get(cid)
            if seen is not None:
                if now - seen.published_at < self.min_interval:
                    continue
                if seen.settled and now - seen.read_at < self.settled_interval:
                    continue
            event = progress_of(build_report(self.repository, self.store, cid), now)
            content = _content(event)
            settled = event.state in _FINISHED and all(s in _TERMINAL for s in event.states)
            if seen is not None and seen.content == content:
                seen.read_at = now
                seen.settled = settled
                continue
            self.publisher.publish_nowait(event)
            self.published += 1
            self._seen[cid] = _Seen(content, now, now, settled)
            out.append(event)
        return out

    async def run(self, clock: Clock, stop: asyncio.Event | None = None) -> None:
        """Poll every `min_interval` until `stop` is set (or the task is cancelled).

        Args:
            clock: The time source (`min_interval` is in its seconds; a scaled clock sleeps
                its real equivalent, `gateway.timing.to_real`).
            stop: Set it to end the loop.
        """
        pause = to_real(clock, self.min_interval)
        stop = stop or asyncio.Event()
        while not stop.is_set():
            started = time.perf_counter()
            try:
                self.poll(clock.now())
            except Exception:  # reported, and the next poll tries again
                log.exception("smsh.gateway.campaigns.progress_failed")
            # Reading a 10,000-row campaign takes ~0.2 s on the caller's loop: never spend more
            # than a fifth of the loop's time on progress, however short `min_interval` is.
            busy = time.perf_counter() - started
            try:
                async with asyncio.timeout(max(pause, _BUSY_FACTOR * busy)):
                    await stop.wait()
            except TimeoutError:
                pass
