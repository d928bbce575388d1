"""`CampaignProgressPublisher`: `CampaignProgress` on an `InMemoryBus` when a campaign's state
or counts change, at most once per `min_interval` per campaign, coalescing what changed between."""

from __future__ import annotations

import asyncio
import inspect
import itertools
from datetime import date

import pytest

from gateway.campaigns.ownercheck import FakeOwnerCheckClient
from gateway.campaigns.progress import CampaignProgressPublisher
from gateway.campaigns.repository import CampaignRepository
from gateway.campaigns.runner import CampaignRunner, SendResult
from gateway.campaigns.submit import StoreSubmitter
from gateway.store import MessageStore
from sms.bus import Publisher
from sms.bus.events import CampaignProgress
from sms.bus.memory import InMemoryBus
from sms.clock import ManualClock
from tests.unit.campaigns.conftest import jst
from tests.unit.campaigns.test_runner import ROWS, approved, create, hand_to_smsc, send

T0 = jst(2026, 5, 27, 10)
TOPIC = "smsh/v1/gateway/gw1/campaign_progress"


def collect(
    repo: CampaignRepository, store: MessageStore, steps: list[tuple[float, object]]
) -> list[tuple[str, CampaignProgress]]:
    """Run `poll` at each (time, action-before-poll) on a fresh bus; return what was published."""

    async def go() -> list[tuple[str, CampaignProgress]]:
        async with InMemoryBus() as bus, bus.subscribe("smsh/v1/#") as sub:
            progress = CampaignProgressPublisher(
                repo, store, Publisher(bus, "gateway", "gw1"), min_interval=1.0
            )
            for when, action in steps:
                if callable(action):
                    done = action()
                    if inspect.isawaitable(done):
                        await done
                progress.poll(when)
            out: list[tuple[str, CampaignProgress]] = []
            for topic, event in sub.drain():
                assert isinstance(event, CampaignProgress)
                out.append((topic, event))
            assert progress.published == len(out)
            return out

    return asyncio.run(go())


def test_first_poll_publishes_each_campaign_then_only_changes(
    runner: CampaignRunner, repo: CampaignRepository, store: MessageStore
) -> None:
    draft = create(runner)
    events = collect(repo, store, [(T0, None), (T0 + 5, None), (T0 + 10, None)])
    assert [(t, e.campaign_id, e.state) for t, e in events] == [(TOPIC, draft, "draft")]
    [(_, event)] = events
    assert (event.created_by, event.approved_by, event.recipients) == ("alice", None, 3)
    assert (event.sent, event.states, event.cost, event.at) == (0, {}, "0", T0)


def test_state_and_counts_changes_are_published_at_most_once_a_second(
    runner: CampaignRunner, repo: CampaignRepository, store: MessageStore
) -> None:
    cid = approved(runner)
    steps: list[tuple[float, object]] = [
        (T0, None),
        (T0 + 0.2, lambda: asend(runner, store, cid, T0 + 0.1)),  # inside the interval
        (T0 + 0.5, lambda: hand_to_smsc(store, T0 + 0.4)),  # still inside
        (T0 + 1.0, None),  # one event with both changes
        (T0 + 1.5, lambda: store.record_receipt(f"s{first_id(store, cid)}-1", "DELIVRD", T0)),
        (T0 + 2.1, None),
        (T0 + 9.0, None),  # nothing changed: nothing published
    ]
    events = [e for _, e in collect(repo, store, steps)]
    assert [(e.at, e.state, e.sent, e.states) for e in events] == [
        (T0, "approved", 0, {}),
        (T0 + 1.0, "done", 3, {"submitted": 3}),
        (T0 + 2.1, "done", 3, {"delivered": 1, "submitted": 2}),
    ]
    assert events[1].approved_by == "bob"
    assert events[1].cost == "9"
    gaps = [b.at - a.at for a, b in itertools.pairwise(events)]
    assert min(gaps) >= 1.0


async def asend(runner: CampaignRunner, store: MessageStore, cid: str, now: float) -> SendResult:
    return await runner.send(cid, StoreSubmitter(store, ManualClock(now)), now)


def first_id(store: MessageStore, cid: str) -> int:
    return store.list_messages(campaign_id=cid, limit=1)[0].id


def test_excluded_counts_name_the_reasons(repo: CampaignRepository, store: MessageStore) -> None:
    owner = FakeOwnerCheckClient({"+819010000001": date(2024, 1, 1)})
    runner = CampaignRunner(repo, store=store, owner_check=owner)
    header = ["phone", "name", "amount", "due_date", "obtained_date"]
    rows = [[*r, "2019-04-01"] for r in ROWS] + [
        ["090-1000-0002", "佐藤 花子", "1", "2026-05-27", "2019-04-01"],  # duplicate
        ["12", "誰か", "1", "2026-05-27", "2019-04-01"],  # invalid
    ]
    cid = approved(runner, rows=rows, header=header)
    send(runner, store, cid, T0)
    runner.mark_paid(cid, "090-1000-0003", now=T0 + 60, by="carol")
    [(_, event)] = collect(repo, store, [(T0 + 120, None)])
    assert event.excluded == {
        "invalid": 1,
        "duplicate": 1,
        "owner_changed": 1,
        "stopped_paid": 1,
    }
    assert (event.recipients, event.sent) == (3, 2)


def test_deferred_counts_messages_waiting_for_their_window(
    runner: CampaignRunner, repo: CampaignRepository, store: MessageStore
) -> None:
    cid = approved(runner)
    night = jst(2026, 5, 27, 23, 30)
    send(runner, store, cid, night)
    [(_, event)] = collect(repo, store, [(night, None)])
    assert (event.deferred, event.states) == (3, {"scheduled": 3})


def test_settled_campaigns_are_read_again_only_every_settled_interval(
    runner: CampaignRunner, repo: CampaignRepository, store: MessageStore
) -> None:
    cid = approved(runner)
    send(runner, store, cid, T0)
    hand_to_smsc(store, T0)
    for m in store.list_messages(campaign_id=cid):
        store.record_receipt(f"s{m.id}-1", "DELIVRD", T0 + 1)
    reads: list[str] = []

    async def go() -> int:
        async with InMemoryBus() as bus:
            progress = CampaignProgressPublisher(
                repo, store, Publisher(bus, "gateway", "gw1"), settled_interval=60.0
            )
            assert len(progress.poll(T0)) == 1
            store.record_mo("+819010000001", "0005012345", "払いました", T0 + 10)
            # The reply links to a delivered message of a done campaign: the campaign is settled,
            # so the change shows only after the settled interval.
            assert progress.poll(T0 + 30) == []
            [late] = progress.poll(T0 + 61)
            reads.append(late.campaign_id)
            return late.replied

    assert asyncio.run(go()) == 1
    assert reads == [cid]


def test_run_polls_on_the_clock_until_stopped(
    runner: CampaignRunner, repo: CampaignRepository, store: MessageStore
) -> None:
    clock = ManualClock(T0)
    cid = approved(runner)

    async def go() -> list[CampaignProgress]:
        async with InMemoryBus() as bus, bus.subscribe("smsh/v1/#") as sub:
            progress = CampaignProgressPublisher(
                repo, store, Publisher(bus, "gateway", "gw1"), min_interval=0.02
            )
            stop = asyncio.Event()
            task = asyncio.create_task(progress.run(clock, stop))
            await asyncio.sleep(0.1)
            clock.advance(1.0)
            await asend(runner, store, cid, clock.now())
            seen: list[CampaignProgress] = []
            for _ in range(200):
                seen += [e for _, e in sub.drain() if isinstance(e, CampaignProgress)]
                if seen and seen[-1].state == "done":
                    break
                await asyncio.sleep(0.01)
                clock.advance(0.05)
            stop.set()
            await asyncio.wait_for(task, 5)
            return seen

    events = asyncio.run(go())
    assert (events[0].state, events[0].sent) == ("approved", 0)
    assert (events[-1].state, events[-1].sent) == ("done", 3)  # maybe "sending" in between


def test_min_interval_must_be_positive(repo: CampaignRepository, store: MessageStore) -> None:
    with pytest.raises(ValueError, match="min_interval"):
        CampaignProgressPublisher(
            repo, store, Publisher(InMemoryBus(), "gateway", "g"), min_interval=0
        )
