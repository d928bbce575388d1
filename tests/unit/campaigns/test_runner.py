"""The workflow: approval rules, quiet hours at send, schedules with stop rules, owner check,
suppression, retries and crash reconciliation. Real `MessageStore`, fake owner check."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from gateway.campaigns.config import CampaignConfig, TemplateSpec
from gateway.campaigns.errors import (
    ApprovalError,
    CampaignError,
    IllegalCampaignTransition,
    NotApprovedError,
    OwnerCheckRequired,
)
from gateway.campaigns.ownercheck import FakeOwnerCheckClient
from gateway.campaigns.quiet import JST
from gateway.campaigns.report import build_report, detail_csv, excluded_csv
from gateway.campaigns.repository import CampaignRepository, SendRecord, SendStatus
from gateway.campaigns.runner import CampaignRunner, SendResult
from gateway.campaigns.state import CampaignState
from gateway.campaigns.submit import StoreSubmitter
from gateway.store import MessageState, MessageStore
from sms.clock import ManualClock
from tests.unit.campaigns.conftest import config, csv_bytes, jst, template

ROWS = [
    ["090-1000-0001", "山田 太郎", "85000", "2026-05-27"],
    ["090-1000-0002", "佐藤 花子", "72000", "2026-05-27"],
    ["090-1000-0003", "鈴木 一郎", "64000", "2026-05-27"],
]
E164 = ["+819010000001", "+819010000002", "+819010000003"]


def create(
    runner: CampaignRunner,
    *,
    rows: list[list[str]] | None = None,
    header: list[str] | None = None,
    tpl: TemplateSpec | None = None,
    cfg: CampaignConfig | None = None,
    now: float | None = None,
) -> str:
    return runner.create(
        csv_data=csv_bytes(rows or ROWS, header=header),
        csv_path="rent.csv",
        template=tpl or template(),
        config=cfg or config(),
        created_by="alice",
        now=now or jst(2026, 5, 20, 9),
    ).campaign_id


def approved(runner: CampaignRunner, **kw: Any) -> str:
    cid = create(runner, **kw)
    runner.approve(cid, by="bob", now=jst(2026, 5, 20, 9, 30))
    return cid


def send(runner: CampaignRunner, store: MessageStore, cid: str, now: float) -> SendResult:
    return asyncio.run(runner.send(cid, StoreSubmitter(store, ManualClock(now)), now))


def messages(store: MessageStore, cid: str) -> Mapping[str, Any]:
    return {m.destination: m for m in store.list_messages(campaign_id=cid, limit=1000)}


def hand_to_smsc(store: MessageStore, now: float) -> None:
    """What the ESME would do: claim and get ESME_ROK for every queued message."""
    for m in store.claim(now, 1000).messages:
        for seq in m.pending_parts:
            store.record_part_submit(m.id, seq, now)
            store.record_resp(m.id, seq, now, command_status=0, smsc_message_id=f"s{m.id}-{seq}")


# --- create / approve ------------------------------------------------------------------------


def test_create_stores_a_draft_and_sends_nothing(
    runner: CampaignRunner, repo: CampaignRepository, store: MessageStore
) -> None:
    cid = create(runner)
    record = repo.get(cid)
    assert (record.state, record.created_by) == (CampaignState.DRAFT, "alice")
    assert record.summary["ok"] == 3
    assert sum(store.counts().values()) == 0
    assert [e.event for e in repo.events(cid)] == ["created"]


def test_unapproved_campaign_refuses_to_send(
    runner: CampaignRunner, store: MessageStore, repo: CampaignRepository
) -> None:
    cid = create(runner)
    with pytest.raises(NotApprovedError) as info:
        send(runner, store, cid, jst(2026, 5, 27, 10))
    assert "not approved: nothing was sent" in str(info.value)
    assert "approve" in str(info.value)
    assert sum(store.counts().values()) == 0
    assert repo.get(cid).state is CampaignState.DRAFT


@pytest.mark.parametrize("same", ["alice", "Alice", " ａｌｉｃｅ "])
def test_same_operator_cannot_approve(runner: CampaignRunner, same: str) -> None:
    cid = create(runner)
    with pytest.raises(ApprovalError, match="different operator"):
        runner.approve(cid, by=same, now=jst(2026, 5, 20, 10))


def test_approval_records_names_and_times(runner: CampaignRunner, repo: CampaignRepository) -> None:
    cid = create(runner)
    runner.approve(cid, by="bob", now=jst(2026, 5, 20, 10))
    record = repo.get(cid)
    assert (record.state, record.approved_by, record.approved_at) == (
        CampaignState.APPROVED,
        "bob",
        jst(2026, 5, 20, 10),
    )
    assert record.override_reason is None
    with pytest.raises(IllegalCampaignTransition):
        runner.approve(cid, by="carol", now=jst(2026, 5, 20, 11))


def test_operator_name_required(runner: CampaignRunner) -> None:
    cid = create(runner)
    with pytest.raises(CampaignError, match="operator name is required"):
        runner.approve(cid, by="  ", now=jst(2026, 5, 20, 10))


LONG_HEADER = ["phone", "name", "amount", "due_date", "note"]


def long_rows(note_lengths: list[int]) -> list[list[str]]:
    return [
        [f"090-2000-{i:04d}", "山田", "1000", "2026-05-27", "あ" * n]
        for i, n in enumerate(note_lengths, start=1)
    ]


def test_template_over_670_for_some_recipients_blocks_approval(runner: CampaignRunner) -> None:
    body = "{name}様 {note} 03-1234-5678"  # 17 characters + the note
    cid = create(
        runner,
        rows=long_rows([100, 653, 700, 654]),
        header=LONG_HEADER,
        tpl=template(body, profile="jp-au"),
    )
    preview = runner.preview(cid)
    assert [(m.line, m.chars, m.limit) for m in preview.overlength] == [
        (4, 717, 670),
        (5, 671, 670),
    ]
    assert [m.parts for m in preview.messages] == [2, 10, 0, 0]
    with pytest.raises(ApprovalError) as info:
        runner.approve(cid, by="bob", now=jst(2026, 5, 20, 10), override_reason="x" * 50)
    assert "2 messages exceed the jp-au limit of 670 characters" in str(info.value)
    assert "line 4: 717" in str(info.value)
    assert "line 5: 671" in str(info.value)


def test_docomo_660_is_stricter_than_670(runner: CampaignRunner) -> None:
    body = "{name}様 {note} 03-1234-5678"
    rows = long_rows([650])  # 667 characters
    docomo = runner.preview(create(runner, rows=rows, header=LONG_HEADER, tpl=template(body)))
    au = runner.preview(
        create(runner, rows=rows, header=LONG_HEADER, tpl=template(body, profile="jp-au"))
    )
    assert [(m.chars, m.limit) for m in docomo.overlength] == [(667, 660)]
    assert au.overlength == []


def test_preview_prices_billing_units(runner: CampaignRunner) -> None:
    body = "{name}様 {note} 03-1234-5678"
    cid = create(runner, rows=long_rows([53, 54, 117, 118]), header=LONG_HEADER, tpl=template(body))
    preview = runner.preview(cid)
    # 17 + note: 70 -> 1 unit, 71 -> 2, 134 -> 2, 135 -> 3 (DOMAIN §1.5)
    assert [(m.chars, m.units, m.cost) for m in preview.messages] == [
        (70, 1, Decimal(3)),
        (71, 2, Decimal(6)),
        (134, 2, Decimal(6)),
        (135, 3, Decimal(9)),
    ]
    assert (preview.units, preview.cost) == (8, Decimal(24))


def test_lint_errors_block_approval_unless_overridden_with_a_reason(
    runner: CampaignRunner, repo: CampaignRepository
) -> None:
    body = "お客様 家賃のお支払いがない場合は法的措置を取ります。bit.ly/pay 03-1234-5678"
    cid = create(runner, tpl=template(body))
    with pytest.raises(ApprovalError, match="name_present, short_link, threatening_phrase"):
        runner.approve(cid, by="bob", now=jst(2026, 5, 20, 10))
    with pytest.raises(ApprovalError, match="must say why"):
        runner.approve(cid, by="bob", now=jst(2026, 5, 20, 10), override_reason="ok")
    reason = "法務部確認済み 2026-05-19 (ticket 123)"
    runner.approve(cid, by="bob", now=jst(2026, 5, 20, 10), override_reason=reason)
    record = repo.get(cid)
    assert (record.state, record.override_reason) == (CampaignState.APPROVED, reason)
    override = [e for e in repo.events(cid) if e.event == "lint_override"]
    assert len(override) == 1
    assert override[0].operator == "bob"
    assert reason in override[0].detail
    assert "threatening_phrase" in override[0].detail


def test_warnings_do_not_block(runner: CampaignRunner, repo: CampaignRepository) -> None:
    cid = create(runner, tpl=template("{name}様 お支払いをお願いします。"))
    preview = runner.approve(cid, by="bob", now=jst(2026, 5, 20, 10))
    assert {str(f.rule) for f in preview.findings} == {"contact_number"}
    assert repo.get(cid).state is CampaignState.APPROVED


def test_cancelled_campaign_cannot_be_approved_or_sent(
    runner: CampaignRunner, store: MessageStore
) -> None:
    cid = create(runner)
    runner.cancel(cid, by="alice", now=jst(2026, 5, 20, 10), reason="wrong list")
    with pytest.raises(IllegalCampaignTransition):
        runner.approve(cid, by="bob", now=jst(2026, 5, 20, 11))
    with pytest.raises(IllegalCampaignTransition):
        send(runner, store, cid, jst(2026, 5, 20, 11))


# --- quiet hours at send --------------------------------------------------------------------------


def test_night_time_send_is_deferred_to_0800_jst(
    runner: CampaignRunner, store: MessageStore, repo: CampaignRepository
) -> None:
    cid = approved(runner)
    result = send(runner, store, cid, jst(2026, 5, 27, 23, 30))
    assert (result.handed_over, result.deferred, result.state) == (3, 3, CampaignState.DONE)
    for m in messages(store, cid).values():
        assert m.state is MessageState.SCHEDULED
        assert m.next_attempt_at == jst(2026, 5, 28, 8, 0)
        assert store.status(m.id).validity_deadline == jst(2026, 5, 28, 21, 0)
    # Nothing is claimable before 08:00, everything at 08:00.
    assert store.claim(jst(2026, 5, 28, 7, 59), 10).messages == ()
    assert len(store.claim(jst(2026, 5, 28, 8, 0), 10).messages) == 3
    report = build_report(repo, store, cid)
    assert (report.sent, report.deferred) == (3, 3)


def test_2055_send_gets_a_five_minute_validity(runner: CampaignRunner, store: MessageStore) -> None:
    cid = approved(runner)
    result = send(runner, store, cid, jst(2026, 5, 27, 20, 55))
    assert result.deferred == 0
    for m in messages(store, cid).values():
        assert m.state is MessageState.QUEUED
        assert store.status(m.id).validity_deadline == jst(2026, 5, 27, 21, 0)


def test_per_recipient_window_and_zone(runner: CampaignRunner, store: MessageStore) -> None:
    header = ["phone", "name", "amount", "due_date", "window", "timezone"]
    rows = [
        ["090-1000-0001", "山田", "1", "2026-05-27", "", ""],
        ["090-1000-0002", "佐藤", "1", "2026-05-27", "", "America/New_York"],
        ["090-1000-0003", "鈴木", "1", "2026-05-27", "12:00-13:00", ""],
    ]
    cid = approved(runner, rows=rows, header=header)
    send(runner, store, cid, jst(2026, 7, 1, 23, 0))  # 10:00 EDT in New York
    got = messages(store, cid)
    assert got[E164[0]].next_attempt_at == jst(2026, 7, 2, 8, 0)
    assert got[E164[1]].state is MessageState.QUEUED
    assert store.status(got[E164[1]].id).validity_deadline == jst(2026, 7, 2, 10, 0)  # 21:00 EDT
    assert got[E164[2]].next_attempt_at == jst(2026, 7, 2, 12, 0)
    assert store.status(got[E164[2]].id).validity_deadline == jst(2026, 7, 2, 13, 0)


def test_send_at_a_future_time(
    runner: CampaignRunner, store: MessageStore, repo: CampaignRepository
) -> None:
    cid = approved(runner)
    runner.set_send_at(cid, from_jst(2026, 6, 1, 10), now=jst(2026, 5, 27, 10), by="bob")
    result = send(runner, store, cid, jst(2026, 5, 27, 10))
    assert (result.handed_over, result.deferred) == (3, 0)
    assert {m.next_attempt_at for m in messages(store, cid).values()} == {jst(2026, 6, 1, 10)}
    assert repo.get(cid).state is CampaignState.DONE
    with pytest.raises(CampaignError, match="too late"):
        runner.set_send_at(cid, from_jst(2026, 6, 2, 10), now=jst(2026, 5, 27, 11), by="bob")


def from_jst(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=JST)


# --- sequences, replies, paid ---------------------------------------------------------------------


SEQUENCE = {
    "kind": "sequence",
    "at": "10:00",
    "steps": [
        {"key": "before", "offset_days": -3, "stage": "reminder"},
        {"key": "due", "offset_days": 0, "stage": "reminder"},
        {
            "key": "overdue",
            "offset_days": 3,
            "stage": "reminder",
            "body": "{name}様 {amount:,}円のお引き落としが確認できませんでした。0120-123-456",
        },
    ],
}


def test_reminder_sequence_stops_after_a_reply_or_payment(
    runner: CampaignRunner, store: MessageStore, repo: CampaignRepository
) -> None:
    cid = approved(runner, tpl=template(schedule=SEQUENCE))
    assert runner.due_sends(jst(2026, 5, 24, 9, 59)) == []
    first = send(runner, store, cid, jst(2026, 5, 24, 10))
    assert (first.handed_over, first.state) == (3, CampaignState.SENDING)
    hand_to_smsc(store, jst(2026, 5, 24, 10, 1))
    # Recipient 1 replies; recipient 2 pays.
    mo = store.record_mo(E164[0], "0005012345", "払いました", jst(2026, 5, 25, 12))
    assert mo.linked_message_id is not None
    runner.mark_paid(cid, "090-1000-0002", now=jst(2026, 5, 26, 9), by="carol")
    # Nothing new before the due day; then only recipient 3.
    assert send(runner, store, cid, jst(2026, 5, 26, 10)).handed_over == 0
    due = runner.due_sends(jst(2026, 5, 27, 10))
    assert [(d.line, d.slot.key) for d in due] == [(4, "due")]
    second = send(runner, store, cid, jst(2026, 5, 27, 10))
    assert second.handed_over == 1
    third = send(runner, store, cid, jst(2026, 5, 30, 10))
    assert (third.handed_over, third.state) == (1, CampaignState.DONE)
    texts = [store.status(m.id).text for m in store.list_messages(campaign_id=cid)]
    assert sum("確認できませんでした" in t for t in texts) == 1
    assert [(s.line, s.slot) for s in repo.sends(cid)] == [
        (2, "before"),
        (3, "before"),
        (4, "before"),
        (4, "due"),
        (4, "overdue"),
    ]
    report = build_report(repo, store, cid)
    assert (report.sent, report.replied, report.paid) == (5, 1, 1)
    assert report.stopped == {"paid": 1, "replied": 1}


def test_catch_up_sends_only_the_latest_due_step(
    runner: CampaignRunner, store: MessageStore, repo: CampaignRepository
) -> None:
    cid = approved(runner, tpl=template(schedule=SEQUENCE))
    result = send(runner, store, cid, jst(2026, 5, 28, 9))
    assert (result.handed_over, result.skipped) == (3, 3)
    statuses = {(s.line, s.slot): s.status for s in repo.sends(cid)}
    assert statuses[(2, "before")] == SendStatus.SKIPPED
    assert statuses[(2, "due")] == SendStatus.SUBMITTED
    assert send(runner, store, cid, jst(2026, 5, 28, 12)).handed_over == 0


def test_sequence_needs_a_due_date_column(runner: CampaignRunner) -> None:
    from gateway.campaigns.errors import ColumnMappingError

    with pytest.raises(ColumnMappingError, match="due_date"):
        create(
            runner,
            rows=[["090-1000-0001", "山田", "1"]],
            header=["phone", "name", "amount"],
            tpl=template("{name}様 {amount}円 03-1234-5678", schedule=SEQUENCE),
        )


def test_monthly_recurring_on_day_31(
    runner: CampaignRunner, store: MessageStore, repo: CampaignRepository
) -> None:
    schedule = {"kind": "monthly", "day": 31, "at": "09:00", "start": "2026-01-01", "count": 3}
    cid = approved(runner, tpl=template(schedule=schedule))
    assert send(runner, store, cid, jst(2026, 1, 31, 8, 59)).handed_over == 0
    assert send(runner, store, cid, jst(2026, 1, 31, 9)).handed_over == 3
    assert send(runner, store, cid, jst(2026, 2, 27, 9)).handed_over == 0
    feb = send(runner, store, cid, jst(2026, 2, 28, 9))  # no 31 February: the last day
    assert (feb.handed_over, feb.state) == (3, CampaignState.SENDING)
    march = send(runner, store, cid, jst(2026, 3, 31, 9))
    assert (march.handed_over, march.state) == (3, CampaignState.DONE)
    assert sorted({s.slot for s in repo.sends(cid)}) == ["2026-01", "2026-02", "2026-03"]


def test_mark_paid_unknown_number(runner: CampaignRunner) -> None:
    cid = create(runner)
    with pytest.raises(CampaignError, match="not a recipient"):
        runner.mark_paid(cid, "090-9999-9999", now=jst(2026, 5, 20), by="bob")
    with pytest.raises(CampaignError, match="not a valid number"):
        runner.mark_paid(cid, "12", now=jst(2026, 5, 20), by="bob")


# --- owner check and suppression ------------------------------------------------------------------


OWNER_HEADER = ["phone", "name", "amount", "due_date", "obtained_date"]
OWNER_ROWS = [
    ["090-1000-0001", "山田", "1", "2026-05-27", "2019-04-01"],
    ["090-1000-0002", "佐藤", "1", "2026-05-27", "2010-01-01"],
    ["090-1000-0003", "鈴木", "1", "2026-05-27", "2022-01-01"],
    ["090-1000-0004", "高橋", "1", "2026-05-27", ""],
]


def test_owner_check_excludes_changed_and_holds_no_data(
    repo: CampaignRepository, store: MessageStore
) -> None:
    fake = FakeOwnerCheckClient({E164[0]: date(2024, 1, 1)}, history_start=date(2016, 1, 1))
    runner = CampaignRunner(repo, store=store, owner_check=fake)
    cid = approved(runner, rows=OWNER_ROWS, header=OWNER_HEADER)
    result = send(runner, store, cid, jst(2026, 5, 27, 10))
    assert result.excluded == {"owner_changed": 1, "owner_no_data": 1}
    assert result.handed_over == 2
    assert result.owner_checked == 3  # the row without a date is not checked
    assert set(messages(store, cid)) == {E164[2], "+819010000004"}
    exported = excluded_csv(repo, cid).splitlines()
    assert exported[0] == "line,phone,e164,name,reason,owner_check,last_change_date"
    assert exported[1] == "2,090-1000-0001,+819010000001,山田,owner_changed,changed,2024-01-01"
    assert exported[2].startswith("3,090-1000-0002,+819010000002,佐藤,owner_no_data,no_data")


def test_owner_check_no_data_policy_send(repo: CampaignRepository, store: MessageStore) -> None:
    fake = FakeOwnerCheckClient(history_start=date(2016, 1, 1))
    runner = CampaignRunner(repo, store=store, owner_check=fake)
    cfg = config(owner_check={"no_data": "send"})
    cid = approved(runner, rows=OWNER_ROWS, header=OWNER_HEADER, cfg=cfg)
    assert send(runner, store, cid, jst(2026, 5, 27, 10)).handed_over == 4


def test_owner_check_required_without_a_client(
    repo: CampaignRepository, store: MessageStore
) -> None:
    runner = CampaignRunner(repo, store=store)
    cid = approved(runner, rows=OWNER_ROWS, header=OWNER_HEADER)
    with pytest.raises(OwnerCheckRequired, match="3 recipients"):
        send(runner, store, cid, jst(2026, 5, 27, 10))
    assert sum(store.counts().values()) == 0
    assert repo.get(cid).state is CampaignState.APPROVED
    lax = approved(
        runner, rows=OWNER_ROWS, header=OWNER_HEADER, cfg=config(owner_check={"required": False})
    )
    assert send(runner, store, lax, jst(2026, 5, 27, 10)).handed_over == 4


def test_owner_check_is_repeated_only_when_stale(
    repo: CampaignRepository, store: MessageStore
) -> None:
    fake = FakeOwnerCheckClient()
    runner = CampaignRunner(repo, store=store, owner_check=fake)
    cid = approved(runner, rows=OWNER_ROWS, header=OWNER_HEADER, tpl=template(schedule=SEQUENCE))
    send(runner, store, cid, jst(2026, 5, 24, 10))
    send(runner, store, cid, jst(2026, 5, 24, 20))  # nothing due
    send(runner, store, cid, jst(2026, 5, 27, 10))  # due, checked 3 days ago: stale
    assert [len(c) for c in fake.calls] == [3, 3]
    # The number changed hands between the first and the last step.
    fake.changed[E164[2]] = date(2026, 5, 28)
    result = send(runner, store, cid, jst(2026, 5, 30, 10))
    assert result.excluded == {"owner_changed": 1}
    assert result.handed_over == 3


def test_suppressed_numbers_are_excluded(
    runner: CampaignRunner, store: MessageStore, repo: CampaignRepository
) -> None:
    store.suppress(E164[0], "opt_out", jst(2026, 5, 1))
    store.suppress("09010000002", "stop", jst(2026, 5, 1))  # national form
    cid = approved(runner)
    result = send(runner, store, cid, jst(2026, 5, 27, 10))
    assert result.excluded == {"suppressed": 2}
    assert set(messages(store, cid)) == {E164[2]}
    assert build_report(repo, store, cid).excluded == {"suppressed": 2}


# --- hand-off failures ----------------------------------------------------------------------------


class FlakySubmitter:
    """Fails for one destination until told otherwise; delegates the rest to the store."""

    def __init__(self, store: MessageStore, now: float, failing: str) -> None:
        self.inner = StoreSubmitter(store, ManualClock(now))
        self.failing: str | None = failing

    async def submit(self, destination: str, text: str, **kw: Any) -> int:
        if destination == self.failing:
            raise RuntimeError("ESME_RTHROTTLED")
        return await self.inner.submit(destination, text, **kw)


def test_failed_hand_off_is_recorded_and_retried(
    runner: CampaignRunner, store: MessageStore, repo: CampaignRepository
) -> None:
    cid = approved(runner)
    now = jst(2026, 5, 27, 10)
    flaky = FlakySubmitter(store, now, E164[1])
    result = asyncio.run(runner.send(cid, flaky, now))
    assert result.handed_over == 2
    assert result.errors == [(3, "once", "RuntimeError: ESME_RTHROTTLED")]
    assert result.state is CampaignState.SENDING
    assert build_report(repo, store, cid).errors == 1
    flaky.failing = None
    retry = asyncio.run(runner.send(cid, flaky, now + 60))
    assert (retry.handed_over, retry.state, retry.errors) == (1, CampaignState.DONE, [])
    assert len(messages(store, cid)) == 3
    with pytest.raises(IllegalCampaignTransition):
        asyncio.run(runner.send(cid, flaky, now + 120))


def test_interrupted_hand_off_is_reconciled_not_resent(
    runner: CampaignRunner, store: MessageStore, repo: CampaignRepository
) -> None:
    cid = approved(runner)
    now = jst(2026, 5, 27, 10)
    submitter = StoreSubmitter(store, ManualClock(now))
    # A crash after line 2's message reached the store but before its record was completed,
    # and another before line 3's reached it at all.
    asyncio.run(
        submitter.submit(
            E164[0],
            "x",
            source="0005012345",
            campaign_id=cid,
            client_ref=f"{cid}:2:once",
            not_before=None,
            validity_until=None,
            metadata={},
        )
    )
    pending = [
        SendRecord(
            line,
            "once",
            SendStatus.PENDING,
            None,
            None,
            now,
            f"{cid}:{line}:once",
            None,
            now,
            now + 3600,
            False,
            2,
            80,
            2,
        )
        for line in (2, 3)
    ]
    repo.claim_sends(cid, pending)
    result = send(runner, store, cid, now + 60)
    assert (result.reconciled, result.in_doubt, result.handed_over) == (1, 1, 1)
    assert len(store.list_messages(campaign_id=cid)) == 2  # line 2 once, line 3 not resent
    report = build_report(repo, store, cid)
    assert (report.sent, report.in_doubt) == (2, 1)


def test_report_detail_csv(
    runner: CampaignRunner, store: MessageStore, repo: CampaignRepository
) -> None:
    rows = [*ROWS, ["03-1234-5678", "田中", "1", "2026-05-27"]]
    cid = approved(runner, rows=rows)
    send(runner, store, cid, jst(2026, 5, 27, 22))
    lines = detail_csv(repo, store, cid).splitlines()
    assert lines[0].startswith(
        "line,phone,e164,name,row_status,reason,owner_check,paid,replied,slot"
    )
    assert len(lines) == 5
    assert lines[1].split(",")[9:14] == ["once", "submitted", "", "1", "scheduled"]
    assert lines[4].split(",")[4:6] == ["invalid", "landline"]


def test_due_sends_lists_only_approved_campaigns(runner: CampaignRunner) -> None:
    draft = create(runner)
    ready = approved(runner)
    due = runner.due_sends(jst(2026, 5, 27, 10))
    assert {d.campaign_id for d in due} == {ready}
    assert draft not in {d.campaign_id for d in due}
    assert runner.due_sends(jst(2026, 5, 27, 10), ready)[0].slot.key == "once"
