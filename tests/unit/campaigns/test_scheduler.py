"""`CampaignScheduler`: releases due sends by a `ManualClock`; idempotent across restarts.

Real `MessageStore` and campaign tables on one file, the fake owner check, `StoreSubmitter`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import pytest

from gateway.campaigns.errors import OwnerCheckError
from gateway.campaigns.ownercheck import FakeOwnerCheckClient, OwnerResult
from gateway.campaigns.progress import CampaignProgressPublisher
from gateway.campaigns.quiet import JST
from gateway.campaigns.repository import CampaignRepository
from gateway.campaigns.runner import CampaignRunner
from gateway.campaigns.scheduler import CampaignScheduler, TickResult
from gateway.campaigns.state import CampaignState
from gateway.campaigns.submit import StoreSubmitter
from gateway.store import MessageStore
from sms.bus import Publisher
from sms.bus.events import CampaignProgress
from sms.bus.memory import InMemoryBus
from sms.clock import ManualClock
from tests.unit.campaigns.conftest import jst, template
from tests.unit.campaigns.test_runner import ROWS, SEQUENCE, approved, create, hand_to_smsc


def scheduler(
    runner: CampaignRunner,
    store: MessageStore,
    clock: ManualClock,
    *,
    interval: float = 60.0,
    lead: float = 0.0,
) -> CampaignScheduler:
    return CampaignScheduler(runner, StoreSubmitter(store, clock), interval=interval, lead=lead)


def tick(s: CampaignScheduler, clock: ManualClock, when: float) -> TickResult:
    clock.set(when)
    return asyncio.run(s.tick(when))


def sent_slots(repo: CampaignRepository, cid: str) -> list[tuple[int, str, str]]:
    return sorted((s.line, s.slot, str(s.status)) for s in repo.sends(cid))


def test_reminder_sequence_is_released_step_by_step_and_stops_for_reply_and_paid(
    runner: CampaignRunner, store: MessageStore, repo: CampaignRepository
) -> None:
    clock = ManualClock(jst(2026, 5, 20, 9))
    s = scheduler(runner, store, clock)
    cid = approved(runner, tpl=template(schedule=SEQUENCE))
    draft = create(runner, tpl=template(schedule=SEQUENCE))  # never approved: never sent

    assert tick(s, clock, jst(2026, 5, 24, 9, 59)).handed_over == 0
    first = tick(s, clock, jst(2026, 5, 24, 10))  # due 05-27, "before" = -3 days
    assert first.handed_over == 3
    assert [r.campaign_id for r in first.sent] == [cid]
    assert tick(s, clock, jst(2026, 5, 24, 10, 1)).sent == []  # nothing new: no second call
    hand_to_smsc(store, jst(2026, 5, 24, 10, 2))
    store.record_mo("+819010000001", "0005012345", "払いました", jst(2026, 5, 25, 12))
    runner.mark_paid(cid, "090-1000-0002", now=jst(2026, 5, 26, 9), by="carol")

    assert tick(s, clock, jst(2026, 5, 27, 10)).handed_over == 1  # only the third recipient
    last = tick(s, clock, jst(2026, 5, 30, 10))
    assert last.handed_over == 1
    assert repo.get(cid).state is CampaignState.DONE
    assert tick(s, clock, jst(2026, 6, 30, 10)).sent == []  # done campaigns are left alone
    assert repo.get(draft).state is CampaignState.DRAFT
    assert repo.sends(draft) == []
    assert [(line, slot) for line, slot, _ in sent_slots(repo, cid)] == [
        (2, "before"),
        (3, "before"),
        (4, "before"),
        (4, "due"),
        (4, "overdue"),
    ]
    assert len(store.list_messages(campaign_id=cid, limit=100)) == 5


def test_a_restart_does_not_send_twice(
    db_path: Path, runner: CampaignRunner, store: MessageStore, repo: CampaignRepository
) -> None:
    clock = ManualClock(jst(2026, 5, 20, 9))
    cid = approved(runner, tpl=template(schedule=SEQUENCE))
    assert tick(scheduler(runner, store, clock), clock, jst(2026, 5, 24, 10)).handed_over == 3
    # A new process: new repository connection, runner and scheduler on the same file.
    with CampaignRepository(db_path) as repo2:
        runner2 = CampaignRunner(repo2, store=store, owner_check=FakeOwnerCheckClient())
        again = scheduler(runner2, store, clock)
        assert tick(again, clock, jst(2026, 5, 24, 10, 5)).handed_over == 0
        assert tick(again, clock, jst(2026, 5, 27, 10)).handed_over == 3
        # And the first process, still running, sees the second one's sends.
        assert tick(scheduler(runner, store, clock), clock, jst(2026, 5, 27, 11)).sent == []
    assert len(store.list_messages(campaign_id=cid, limit=100)) == 6


def test_monthly_campaign_is_released_on_its_day_each_month(
    runner: CampaignRunner, store: MessageStore, repo: CampaignRepository
) -> None:
    schedule = {"kind": "monthly", "day": 31, "at": "09:00", "start": "2026-01-01", "count": 3}
    cid = approved(runner, tpl=template(schedule=schedule))
    clock = ManualClock(jst(2026, 1, 1))
    s = scheduler(runner, store, clock)
    handed = [
        tick(s, clock, jst(*day)).handed_over
        for day in [
            (2026, 1, 31, 8, 59),
            (2026, 1, 31, 9, 0),
            (2026, 1, 31, 9, 1),
            (2026, 2, 27, 9, 0),
            (2026, 2, 28, 9, 0),  # day 31 in February: the month's last day
            (2026, 3, 31, 9, 0),
            (2026, 4, 30, 9, 0),  # count 3: no April
        ]
    ]
    assert handed == [0, 3, 0, 0, 3, 3, 0]
    assert repo.get(cid).state is CampaignState.DONE


def test_once_campaign_waits_for_its_send_time_and_can_be_cancelled_before(
    runner: CampaignRunner, store: MessageStore, repo: CampaignRepository
) -> None:
    at = datetime(2026, 6, 1, 10, tzinfo=JST)
    keep = approved(runner)
    runner.set_send_at(keep, at, now=jst(2026, 5, 27, 10), by="bob")
    drop = approved(runner)
    runner.set_send_at(drop, at, now=jst(2026, 5, 27, 10), by="bob")
    clock = ManualClock(jst(2026, 5, 27, 10))
    s = scheduler(runner, store, clock, lead=300.0)

    early = tick(s, clock, jst(2026, 5, 31, 9))
    assert early.sent == []
    assert early.waiting == {keep: at.timestamp(), drop: at.timestamp()}
    runner.cancel(drop, by="bob", now=jst(2026, 5, 31, 12), reason="customer paid")
    assert tick(s, clock, jst(2026, 6, 1, 9, 54)).sent == []
    released = tick(s, clock, jst(2026, 6, 1, 9, 55))  # lead: five minutes before
    assert [(r.campaign_id, r.handed_over) for r in released.sent] == [(keep, 3)]
    assert {m.next_attempt_at for m in store.list_messages(campaign_id=keep)} == {at.timestamp()}
    assert store.list_messages(campaign_id=drop) == []
    assert repo.get(keep).state is CampaignState.DONE


def test_an_immediate_once_campaign_goes_at_the_first_tick(
    runner: CampaignRunner, store: MessageStore
) -> None:
    cid = approved(runner)
    clock = ManualClock(jst(2026, 5, 27, 10))
    result = tick(scheduler(runner, store, clock), clock, jst(2026, 5, 27, 10))
    assert [(r.campaign_id, r.handed_over) for r in result.sent] == [(cid, len(ROWS))]


class _FailingOwnerCheck(FakeOwnerCheckClient):
    def __init__(self) -> None:
        super().__init__()
        self.down = True

    async def check_many(self, queries: Sequence[tuple[str, date]]) -> dict[str, OwnerResult]:
        if self.down:
            raise OwnerCheckError("owner check API unreachable")
        return await super().check_many(queries)


def test_a_failing_campaign_is_retried_and_does_not_block_the_others(
    repo: CampaignRepository, store: MessageStore
) -> None:
    owner = _FailingOwnerCheck()
    runner = CampaignRunner(repo, store=store, owner_check=owner)
    header = ["phone", "name", "amount", "due_date", "obtained_date"]
    rows = [[*r, "2019-04-01"] for r in ROWS]
    checked = approved(runner, rows=rows, header=header)
    plain = approved(runner)
    clock = ManualClock(jst(2026, 5, 27, 10))
    s = scheduler(runner, store, clock)
    first = tick(s, clock, jst(2026, 5, 27, 10))
    assert list(first.failed) == [checked]
    assert "unreachable" in first.failed[checked]
    assert [(r.campaign_id, r.handed_over) for r in first.sent] == [(plain, 3)]
    owner.down = False
    second = tick(s, clock, jst(2026, 5, 27, 10, 1))
    assert [(r.campaign_id, r.handed_over) for r in second.sent] == [(checked, 3)]
    assert second.failed == {}


def test_tick_publishes_progress_for_the_campaigns_it_sent(
    runner: CampaignRunner, store: MessageStore, repo: CampaignRepository
) -> None:
    async def go() -> list[CampaignProgress]:
        async with InMemoryBus() as bus, bus.subscribe("smsh/v1/gateway/+/#") as sub:
            progress = CampaignProgressPublisher(repo, store, Publisher(bus, "gateway", "gw1"))
            cid = approved(runner)
            s = CampaignScheduler(
                runner, StoreSubmitter(store, ManualClock(jst(2026, 5, 27, 10))), progress=progress
            )
            await s.tick(jst(2026, 5, 27, 10))
            events = [e for _, e in sub.drain() if isinstance(e, CampaignProgress)]
            assert [e.campaign_id for e in events] == [cid]
            return events

    [event] = asyncio.run(go())
    assert (event.state, event.sent, event.states) == ("done", 3, {"queued": 3})


def test_run_loop_ticks_on_the_clock_and_when_poked(
    runner: CampaignRunner, store: MessageStore
) -> None:
    clock = ManualClock(jst(2026, 5, 27, 10))
    s = scheduler(runner, store, clock, interval=3600.0)

    async def go() -> int:
        stop = asyncio.Event()
        task = asyncio.create_task(s.run(clock, stop))
        await asyncio.sleep(0.05)  # first tick: nothing approved yet
        cid = approved(runner)
        s.poke()
        for _ in range(100):
            if store.list_messages(campaign_id=cid):
                break
            await asyncio.sleep(0.01)
        stop.set()
        s.poke()
        await asyncio.wait_for(task, 5)
        return len(store.list_messages(campaign_id=cid))

    assert asyncio.run(go()) == 3


def test_bad_arguments(runner: CampaignRunner, store: MessageStore) -> None:
    clock = ManualClock()
    with pytest.raises(ValueError, match="interval"):
        scheduler(runner, store, clock, interval=0.0)
    with pytest.raises(ValueError, match="lead"):
        scheduler(runner, store, clock, lead=-1.0)
