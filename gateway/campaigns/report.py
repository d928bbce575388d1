"""Per-campaign report: what was imported, excluded, sent, delivered, replied, and what it cost.

Sources: the campaign tables (import outcome, owner check, paid marks, hand-offs) and the
gateway store through `StoreView` (message states of the messages with this ``campaign_id``,
and MO replies linked to them). The message states are the store's; this module only counts.

Counts (recipients are valid, unique rows in the segment; messages are hand-offs):

    rows          data rows in the file (blank lines not counted)
    filtered      rows outside the segment (filters)
    invalid       rows with a problem, per first problem code
    duplicates    rows repeating an earlier row's number
    recipients    rows left: valid, unique, in the segment
    excluded      recipients not sent to at a hand-off, per reason: owner_changed,
                  owner_no_data, suppressed (STOP / opt-out)
    stopped       recipients whose later slots the stop rules cancel: paid, replied
    sent          messages handed to the gateway (deferred: of those, moved by quiet hours)
    queued ... delivered / failed / rejected / expired / unknown / partially_delivered /
                  cancelled: the store's current state of those messages
    replied       recipients with a reply linked to one of the campaign's messages
    units, cost   billing units of the messages handed over, x price (tax excluded)

Invariant: ``rows == filtered + sum(invalid) + duplicates + recipients``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from gateway.campaigns.config import CampaignConfig
from gateway.campaigns.csvimport import NAME, RowStatus
from gateway.campaigns.repository import CampaignRepository, SendStatus
from gateway.campaigns.runner import campaign_messages, replied_numbers
from gateway.campaigns.submit import StoreView
from gateway.store import MessageState

__all__ = [
    "DETAIL_COLUMNS",
    "EXCLUDED_COLUMNS",
    "CampaignReport",
    "build_report",
    "detail_csv",
    "excluded_csv",
    "problems_csv",
]

#: Columns of `detail_csv`.
DETAIL_COLUMNS: Final[tuple[str, ...]] = (
    "line",
    "phone",
    "e164",
    "name",
    "row_status",
    "reason",
    "owner_check",
    "paid",
    "replied",
    "slot",
    "send_status",
    "send_reason",
    "message_id",
    "message_state",
    "not_before",
    "validity_until",
    "deferred",
    "units",
)
#: Columns of `excluded_csv`.
EXCLUDED_COLUMNS: Final[tuple[str, ...]] = (
    "line",
    "phone",
    "e164",
    "name",
    "reason",
    "owner_check",
    "last_change_date",
)


@dataclass(slots=True)
class CampaignReport:
    """The counts of one campaign (see the module docstring)."""

    campaign_id: str
    name: str
    state: str
    created_by: str
    created_at: float
    approved_by: str | None
    approved_at: float | None
    override_reason: str | None
    rows: int = 0
    filtered: int = 0
    invalid: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    recipients: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    stopped: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    deferred: int = 0
    skipped: int = 0
    errors: int = 0
    in_doubt: int = 0
    states: dict[str, int] = field(default_factory=dict)
    replied: int = 0
    paid: int = 0
    units: int = 0
    price_per_unit: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)

    @property
    def invalid_total(self) -> int:
        """All invalid rows."""
        return sum(self.invalid.values())

    def state_count(self, state: MessageState) -> int:
        """Messages of this campaign in `state` in the store."""
        return self.states.get(state.value, 0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (money as strings)."""
        return {
            "campaign_id": self.campaign_id,
            "name": self.name,
            "state": self.state,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "approved_by": self.approved_by,
            "approved_at": self.approved_at,
            "override_reason": self.override_reason,
            "rows": self.rows,
            "filtered": self.filtered,
            "invalid": self.invalid_total,
            "invalid_by_reason": dict(self.invalid),
            "duplicates": self.duplicates,
            "recipients": self.recipients,
            "excluded": dict(self.excluded),
            "stopped": dict(self.stopped),
            "sent": self.sent,
            "deferred": self.deferred,
            "skipped": self.skipped,
            "submit_errors": self.errors,
            "in_doubt": self.in_doubt,
            "delivered": self.state_count(MessageState.DELIVERED),
            "failed": self.state_count(MessageState.FAILED),
            "rejected": self.state_count(MessageState.REJECTED),
            "expired": self.state_count(MessageState.EXPIRED),
            "unknown": self.state_count(MessageState.UNKNOWN),
            "message_states": dict(self.states),
            "replied": self.replied,
            "paid": self.paid,
            "units": self.units,
            "price_per_unit": str(self.price_per_unit),
            "cost": str(self.cost),
        }


def _messages(store: StoreView, campaign_id: str) -> tuple[dict[int, str], dict[int, str]]:
    """The campaign's messages: id -> state, and id -> destination."""
    states: dict[int, str] = {}
    destinations: dict[int, str] = {}
    for m in campaign_messages(store, campaign_id):
        states[m.id] = m.state.value
        destinations[m.id] = m.destination
    return states, destinations


def build_report(
    repository: CampaignRepository, store: StoreView | None, campaign_id: str
) -> CampaignReport:
    """Count everything about one campaign.

    Args:
        repository: Campaign tables.
        store: The gateway store's read side; None leaves message states and replies at 0.
        campaign_id: The campaign.

    Raises:
        UnknownCampaign: No such campaign.
    """
    record = repository.get(campaign_id)
    config = CampaignConfig.model_validate(record.config)
    report = CampaignReport(
        campaign_id=record.id,
        name=record.name,
        state=record.state.value,
        created_by=record.created_by,
        created_at=record.created_at,
        approved_by=record.approved_by,
        approved_at=record.approved_at,
        override_reason=record.override_reason,
        price_per_unit=config.price_per_unit,
    )
    rows = repository.rows(campaign_id, with_values=False)
    report.rows = len(rows)
    for row in rows:
        if row.status is RowStatus.FILTERED:
            report.filtered += 1
        elif row.status is RowStatus.DUPLICATE:
            report.duplicates += 1
        elif row.status is RowStatus.INVALID:
            key = row.reason or "invalid"
            report.invalid[key] = report.invalid.get(key, 0) + 1
        else:
            report.recipients += 1
            if row.paid_at is not None:
                report.paid += 1
    report.invalid = dict(sorted(report.invalid.items(), key=lambda kv: (-kv[1], kv[0])))
    ok_lines = {r.line: r for r in rows if r.status is RowStatus.OK}

    excluded_lines: dict[str, set[int]] = {}
    for s in repository.sends(campaign_id):
        if s.status == SendStatus.SUBMITTED:
            report.sent += 1
            report.deferred += int(s.deferred)
            report.units += s.units
        elif s.status == SendStatus.EXCLUDED:
            excluded_lines.setdefault(s.reason or "excluded", set()).add(s.line)
        elif s.status == SendStatus.SKIPPED:
            report.skipped += 1
        elif s.status == SendStatus.ERROR:
            report.errors += 1
        elif s.status == SendStatus.IN_DOUBT:
            report.in_doubt += 1
    report.cost = report.units * config.price_per_unit

    replied: set[str] = set()
    if store is not None:
        states, destinations = _messages(store, campaign_id)
        for state in states.values():
            report.states[state] = report.states.get(state, 0) + 1
        replied = replied_numbers(store, campaign_id, destinations)
    report.replied = sum(1 for r in ok_lines.values() if r.e164 in replied)

    spec_schedule = record.template.get("schedule", {})
    if spec_schedule.get("stop_on_paid", True):
        report.stopped["paid"] = report.paid
    if spec_schedule.get("stop_on_reply", True):
        report.stopped["replied"] = sum(
            1 for r in ok_lines.values() if r.e164 in replied and r.paid_at is None
        )
    report.excluded = {k: len(v) for k, v in sorted(excluded_lines.items())}
    report.states = dict(sorted(report.states.items()))
    return report


def _write(header: tuple[str, ...], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def detail_csv(repository: CampaignRepository, store: StoreView | None, campaign_id: str) -> str:
    """One line per (row, slot): import outcome, hand-off and message state (`DETAIL_COLUMNS`).

    Rows never handed over appear once with empty send columns.
    """
    states: dict[int, str] = {}
    replied: set[str] = set()
    if store is not None:
        states, destinations = _messages(store, campaign_id)
        replied = replied_numbers(store, campaign_id, destinations)
    sends: dict[int, list[Any]] = {}
    for s in repository.sends(campaign_id):
        sends.setdefault(s.line, []).append(s)
    out: list[list[Any]] = []
    for row in repository.rows(campaign_id):
        base = [
            row.line,
            row.phone_raw,
            row.e164 or "",
            row.values.get(NAME, ""),
            row.status.value,
            row.reason or "",
            row.owner_status or "",
            "yes" if row.paid_at is not None else "",
            "yes" if row.e164 in replied else "",
        ]
        for s in sends.get(row.line, []) or [None]:
            if s is None:
                out.append([*base, "", "", "", "", "", "", "", "", ""])
                continue
            out.append(
                [
                    *base,
                    s.slot,
                    s.status,
                    s.reason or "",
                    s.message_id if s.message_id is not None else "",
                    states.get(s.message_id, "") if s.message_id is not None else "",
                    s.not_before if s.not_before is not None else "",
                    s.validity_until if s.validity_until is not None else "",
                    "yes" if s.deferred else "",
                    s.units,
                ]
            )
    return _write(DETAIL_COLUMNS, out)


def excluded_csv(repository: CampaignRepository, campaign_id: str) -> str:
    """Recipients excluded at send (owner changed, no data held, suppressed), one line each,
    with the owner check's answer (`EXCLUDED_COLUMNS`): the list a vendor hands back after
    他人接続判定, for the client to fix its records."""
    rows = {r.line: r for r in repository.rows(campaign_id)}
    seen: set[int] = set()
    out: list[list[Any]] = []
    for s in repository.sends(campaign_id):
        if s.status != SendStatus.EXCLUDED or s.line in seen:
            continue
        seen.add(s.line)
        row = rows[s.line]
        out.append(
            [
                row.line,
                row.phone_raw,
                row.e164 or "",
                row.values.get(NAME, ""),
                s.reason or "",
                row.owner_status or "",
                row.owner_last_change or "",
            ]
        )
    return _write(EXCLUDED_COLUMNS, out)


def problems_csv(repository: CampaignRepository, campaign_id: str) -> str:
    """The validation report: line, code, field, column, value, detail."""
    return _write(
        ("line", "code", "field", "column", "value", "detail"),
        [
            [p.line, p.code, p.field, p.column, p.value, p.detail]
            for p in repository.problems(campaign_id)
        ],
    )
