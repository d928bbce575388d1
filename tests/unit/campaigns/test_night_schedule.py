"""Issue #8 acceptance, second bullet: a night-time schedule gives the deferral a user expects.

The preview says (rule ``quiet_hours``) that the schedule's time is outside the allowed hours
and until when its messages will wait; the scheduler releases them at the scheduled time and
the store holds them until 08:00 JST, with the validity capped at 21:00 so carrier retries
cannot reach the handset at night. A config can make the finding an error, which then blocks
approval unless overridden with a written reason.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from gateway.campaigns.errors import ApprovalError
from gateway.campaigns.lint import LintRule, Severity
from gateway.campaigns.quiet import JST
from gateway.campaigns.runner import CampaignRunner
from gateway.campaigns.scheduler import CampaignScheduler
from gateway.campaigns.submit import StoreSubmitter
from gateway.store import MessageState, MessageStore
from sms.clock import ManualClock
from tests.unit.campaigns.conftest import config, jst, template
from tests.unit.campaigns.test_runner import SEQUENCE, approved, create


def night_findings(runner: CampaignRunner, cid: str) -> list[str]:
    return [f.message for f in runner.preview(cid).findings if f.rule is LintRule.QUIET_HOURS]


def release(runner: CampaignRunner, store: MessageStore, now: float) -> int:
    scheduler = CampaignScheduler(runner, StoreSubmitter(store, ManualClock(now)))
    return asyncio.run(scheduler.tick(now)).handed_over


def test_a_reminder_sequence_at_2230_is_flagged_and_held_until_0800(
    runner: CampaignRunner, store: MessageStore
) -> None:
    cid = approved(runner, tpl=template(schedule={**SEQUENCE, "at": "22:30"}))
    assert night_findings(runner, cid) == [
        "the schedule sends at 22:30 Asia/Tokyo, outside the allowed hours 08:00-21:00: its "
        "messages will wait until the next day 08:00 (validity capped at the window's close)"
    ]
    assert runner.preview(cid).lint_errors == []  # a warning by default: approval is not blocked
    assert release(runner, store, jst(2026, 5, 24, 22, 29)) == 0
    assert release(runner, store, jst(2026, 5, 24, 22, 30)) == 3  # "before" step: due - 3 days
    for m in store.list_messages(campaign_id=cid):
        assert m.state is MessageState.SCHEDULED
        assert m.next_attempt_at == jst(2026, 5, 25, 8, 0)
        assert store.status(m.id).validity_deadline == jst(2026, 5, 25, 21, 0)
    assert store.claim(jst(2026, 5, 25, 7, 59), 10).messages == ()


def test_a_once_send_at_2300_is_flagged_and_held_until_0800(
    runner: CampaignRunner, store: MessageStore
) -> None:
    cid = approved(runner)
    at = datetime(2026, 5, 27, 23, 0, tzinfo=JST)
    runner.set_send_at(cid, at, now=jst(2026, 5, 27, 10), by="bob")
    [message] = night_findings(runner, cid)
    assert "sends at 23:00 Asia/Tokyo" in message
    assert "wait until the next day 08:00" in message
    assert release(runner, store, jst(2026, 5, 27, 22, 59)) == 0
    assert release(runner, store, jst(2026, 5, 27, 23, 0)) == 3
    assert {m.next_attempt_at for m in store.list_messages(campaign_id=cid)} == {
        jst(2026, 5, 28, 8, 0)
    }


def test_an_early_morning_schedule_waits_until_0800_the_same_day(runner: CampaignRunner) -> None:
    cid = create(runner, tpl=template(schedule={"kind": "monthly", "day": 27, "at": "06:30"}))
    [message] = night_findings(runner, cid)
    assert "sends at 06:30 Asia/Tokyo" in message
    assert "wait until 08:00" in message


def test_a_daytime_schedule_gives_no_finding(runner: CampaignRunner) -> None:
    assert night_findings(runner, create(runner, tpl=template(schedule=SEQUENCE))) == []
    assert night_findings(runner, create(runner)) == []  # send now: placed at the send


def test_as_an_error_it_blocks_approval_unless_overridden(runner: CampaignRunner) -> None:
    strict = config(
        lint={"registered_senders": ["0005012345"], "severity": {"quiet_hours": "error"}}
    )
    cid = create(runner, tpl=template(schedule={**SEQUENCE, "at": "21:30"}), cfg=strict)
    [finding] = [f for f in runner.preview(cid).lint_errors if f.rule is LintRule.QUIET_HOURS]
    assert finding.severity is Severity.ERROR
    with pytest.raises(ApprovalError, match=r"1 lint errors \(quiet_hours\)"):
        runner.approve(cid, by="bob", now=jst(2026, 5, 20, 10))
    runner.approve(
        cid,
        by="bob",
        now=jst(2026, 5, 20, 10),
        override_reason="the debtor asked to be reminded after work; held until 08:00 anyway",
    )
