"""The dunning workflow, step by step: create -> preview -> approve -> send -> report.

Each failure mode the source articles describe is a checked step here:

=================================  ===========================================================
failure mode                       step that stops it
=================================  ===========================================================
malformed / duplicate numbers      `create`: validation report with line numbers (nothing sent)
wrong data merged into the text    `create`: typed fields; `preview`: every rendered message
over-long messages                 `preview` lists them; `approve` refuses
fraud-looking wording / senders    `preview` lint; `approve` refuses errors without a reason
one person's mistake               `approve` by a *different* operator, names and times kept
contact at night                   `preview` flags a night-time schedule (``quiet_hours``);
                                   `send`: quiet hours defer; validity capped at window close
a reassigned number (他人接続)     `send`: owner check first; ``changed`` excluded, exportable
opted-out / paid / replied         `send`: suppression list, paid marks, linked replies stop it
a send repeated after a crash      `send`: (line, slot) claimed before hand-off, reconciled
=================================  ===========================================================

Time is always the ``now`` argument (epoch seconds, the store's convention); the pure cores
(`gateway.policy.quiet`, `schedule`) take aware datetimes. The runner's I/O is the repository
(SQLite), the `StoreView` (read back states, replies, suppressions), the `OwnerCheckClient`
(`gateway.ownercheck`) and the `Submitter`. Repository calls are short synchronous SQLite
transactions, made on the caller's thread (also from `send`, between awaits).
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from gateway.campaigns.config import CampaignConfig, TemplateSpec
from gateway.campaigns.csvimport import (
    DUE_DATE,
    OBTAINED_DATE,
    TIMEZONE,
    WINDOW,
    FieldMap,
    ImportResult,
    RowStatus,
    read_csv,
    resolve_mapping,
    validate_rows,
)
from gateway.campaigns.errors import (
    ApprovalError,
    CampaignError,
    ColumnMappingError,
    NotApprovedError,
    OwnerCheckRequired,
)
from gateway.campaigns.lint import Finding, LintRule, Severity
from gateway.campaigns.preview import (
    MAIN_VARIANT,
    Preview,
    Variant,
    build_preview,
    compile_variants,
    render_values,
)
from gateway.campaigns.repository import (
    CampaignRecord,
    CampaignRepository,
    RowRecord,
    SendRecord,
    SendStatus,
)
from gateway.campaigns.schedule import Once, Schedule, Slot, pick_due
from gateway.campaigns.state import CampaignEvent, CampaignState, advance
from gateway.campaigns.submit import ClientRefLookup, StoreView, Submitter
from gateway.campaigns.values import FieldType, parse_timezone
from gateway.ownercheck import NoDataPolicy, OwnerCheckClient, OwnerStatus
from gateway.policy.quiet import DailyWindow, is_allowed, next_open, send_slot
from gateway.store import MessageSummary
from sms.numbers import InvalidNumber, try_parse
from sms.segments import MessageTooLong, plan

__all__ = [
    "MIN_OVERRIDE_REASON",
    "CampaignRunner",
    "CreateResult",
    "DueSend",
    "SendResult",
    "campaign_messages",
    "replied_numbers",
]

log = logging.getLogger("smsh.gateway.campaigns")

#: Shortest accepted written reason for overriding lint errors.
MIN_OVERRIDE_REASON: Final[int] = 10
#: Page size for reading the store.
_PAGE: Final = 5000


def _dt(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC)


def _operator(name: str | None, what: str) -> str:
    folded = unicodedata.normalize("NFKC", name or "").strip()
    if not folded:
        raise CampaignError(f"{what}: an operator name is required (--by NAME)")
    return folded


def _same_operator(a: str, b: str) -> bool:
    return _operator(a, "").casefold() == _operator(b, "").casefold()


def campaign_messages(store: StoreView, campaign_id: str) -> Iterator[MessageSummary]:
    """Every message of a campaign in the store, by id (read page by page)."""
    after = 0
    while True:
        page = store.list_messages(campaign_id=campaign_id, after_id=after, limit=_PAGE)
        if not page:
            return
        yield from page
        after = page[-1].id


def replied_numbers(
    store: StoreView, campaign_id: str, destinations: Mapping[int, str] | None = None
) -> set[str]:
    """Destinations of the campaign's messages that an MO (reply) was linked to.

    Reads the store's public API: the campaign's messages, then every stored MO.

    Args:
        store: The store's read side.
        campaign_id: The campaign.
        destinations: The campaign's messages (id -> destination) when the caller has
            already listed them.
    """
    if destinations is None:
        destinations = {m.id: m.destination for m in campaign_messages(store, campaign_id)}
    replied: set[str] = set()
    after = 0
    while True:
        mos = store.list_mo(after_id=after, limit=_PAGE)
        if not mos:
            break
        for mo in mos:
            if mo.linked_message_id is not None and mo.linked_message_id in destinations:
                replied.add(destinations[mo.linked_message_id])
        after = mos[-1].id
    return replied


@dataclass(frozen=True, slots=True)
class CreateResult:
    """What `CampaignRunner.create` stored."""

    campaign_id: str
    """The new campaign's id."""
    result: ImportResult
    """The validation report."""
    variants: Mapping[str, Variant]
    """The compiled message bodies."""


@dataclass(frozen=True, slots=True)
class DueSend:
    """A (recipient, slot) the schedule calls for now and that was not handled yet."""

    campaign_id: str
    """Campaign."""
    line: int
    """Recipient's CSV line."""
    e164: str
    """Recipient's number."""
    slot: Slot
    """The slot to send."""
    superseded: tuple[Slot, ...] = ()
    """Earlier unsent slots that this one replaces (catch-up rule)."""


@dataclass(slots=True)
class SendResult:
    """What one `CampaignRunner.send` call did."""

    campaign_id: str
    """Campaign."""
    state: CampaignState
    """State afterwards."""
    handed_over: int = 0
    """Messages the submitter accepted."""
    deferred: int = 0
    """Of those, moved to the next window by quiet hours."""
    excluded: dict[str, int] = field(default_factory=dict)
    """Recipients not sent to, per reason (owner_changed, owner_no_data, suppressed)."""
    skipped: int = 0
    """Slots superseded by a later one."""
    errors: list[tuple[int, str, str]] = field(default_factory=list)
    """(line, slot, error) of hand-offs that raised (retried on the next send)."""
    reconciled: int = 0
    """Pending hand-offs from an interrupted send found in the gateway."""
    in_doubt: int = 0
    """Pending hand-offs from an interrupted send not found (not resent)."""
    units: int = 0
    """Billing units handed over."""
    cost: Decimal = Decimal(0)
    """Their cost (tax excluded)."""
    owner_checked: int = 0
    """Numbers sent to the owner check."""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "campaign_id": self.campaign_id,
            "state": str(self.state),
            "handed_over": self.handed_over,
            "deferred": self.deferred,
            "excluded": dict(self.excluded),
            "skipped": self.skipped,
            "errors": [{"line": ln, "slot": s, "error": e} for ln, s, e in self.errors],
            "reconciled": self.reconciled,
            "in_doubt": self.in_doubt,
            "units": self.units,
            "cost": str(self.cost),
            "owner_checked": self.owner_checked,
        }


@dataclass(frozen=True, slots=True)
class _Context:
    record: CampaignRecord
    spec: TemplateSpec
    config: CampaignConfig
    types: Mapping[str, FieldType]
    variants: Mapping[str, Variant]
    schedule: Schedule


@dataclass(frozen=True, slots=True)
class _Outgoing:
    record: SendRecord
    e164: str
    text: str
    obtained: str | None = None


class CampaignRunner:
    """Runs campaigns against a repository, a store view and an owner-check client.

    Args:
        repository: Campaign tables.
        store: The gateway store's read side (states, replies, suppressions); None disables
            the reply stop rule and the suppression check (and the report's message states).
        owner_check: The 他人接続判定 client; None: rows with an obtained date cannot be sent
            unless the campaign's config says ``owner_check.required: false``.
        concurrency: Most hand-offs in flight at once (lets the store group-commit).
    """

    def __init__(
        self,
        repository: CampaignRepository,
        *,
        store: StoreView | None = None,
        owner_check: OwnerCheckClient | None = None,
        concurrency: int = 200,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.repository = repository
        self.store = store
        self.owner_check = owner_check
        self._concurrency = concurrency

    # -- create ----------------------------------------------------------------------------

    def create(
        self,
        *,
        csv_data: bytes,
        csv_path: str,
        template: TemplateSpec,
        config: CampaignConfig,
        created_by: str,
        now: float,
        name: str | None = None,
    ) -> CreateResult:
        """Import a CSV, compile the template against its columns, store a draft campaign.

        Nothing is sent. Invalid rows do not fail the call: they are in the report.

        Args:
            csv_data: The CSV file's bytes.
            csv_path: Its name (for the report and errors).
            template: The template file.
            config: The campaign config (mapping, filters, policies).
            created_by: The creating operator.
            now: Creation time.
            name: Campaign name (default: the CSV file name).

        Returns:
            The campaign id and the validation report.

        Raises:
            CsvReadError: The file cannot be decoded or has no header.
            ColumnMappingError: A mapping or filter names a missing column; no phone column.
            TemplateError: The template does not compile against the columns.
            CampaignConfigError: The schedule is invalid.
        """
        by = _operator(created_by, "create")
        table = read_csv(
            csv_data, path=csv_path, encoding=config.encoding, delimiter=config.delimiter
        )
        fields = resolve_mapping(table.headers, config)
        variants = compile_variants(template, fields.types)
        template.schedule.build()
        required: set[str] = set().union(*(v.template.fields for v in variants.values()))
        if template.schedule.kind == "sequence":
            if DUE_DATE not in fields.columns:
                raise ColumnMappingError(
                    "a reminder sequence needs a due_date column (--map COLUMN=due_date)",
                    column=DUE_DATE,
                    available=table.headers,
                )
            required.add(DUE_DATE)
        result = validate_rows(table, fields, config, required=sorted(required))
        summary = {
            "rows": len(result.rows),
            "ok": result.count(RowStatus.OK),
            "invalid": result.count(RowStatus.INVALID),
            "duplicate": result.count(RowStatus.DUPLICATE),
            "filtered": result.count(RowStatus.FILTERED),
            "invalid_by_reason": result.invalid_by_reason(),
            "header_line": table.header_line,
        }
        campaign_id = self.repository.create(
            name=name or csv_path,
            created_by=by,
            now=now,
            source_file=csv_path,
            encoding=table.encoding,
            template=template.model_dump(mode="json"),
            config=config.model_dump(mode="json"),
            fields=_fields_json(fields),
            summary=summary,
            rows=result.rows,
            problems=result.problems,
        )
        log.info(
            "smsh.gateway.campaigns.created",
            extra={"campaign_id": campaign_id, "by": by, **summary},
        )
        return CreateResult(campaign_id, result, variants)

    # -- loading ---------------------------------------------------------------------------

    def _context(self, campaign_id: str) -> _Context:
        record = self.repository.get(campaign_id)
        spec = TemplateSpec.model_validate(record.template)
        config = CampaignConfig.model_validate(record.config)
        types = {k: FieldType(v) for k, v in record.fields["types"].items()}
        variants = compile_variants(spec, types)
        send_at = _dt(record.send_at) if record.send_at is not None else None
        return _Context(record, spec, config, types, variants, spec.schedule.build(send_at=send_at))

    # -- preview and approval --------------------------------------------------------------

    def preview(self, campaign_id: str) -> Preview:
        """Render, price and lint every valid recipient's message(s).

        Raises:
            UnknownCampaign: No such campaign.
        """
        ctx = self._context(campaign_id)
        return self._preview(ctx)

    def _preview(self, ctx: _Context) -> Preview:
        rows = [
            (r.line, r.e164 or "", r.values)
            for r in self.repository.rows(ctx.record.id, RowStatus.OK)
        ]
        settings = ctx.config.lint.settings()
        preview = build_preview(
            ctx.spec,
            ctx.variants,
            ctx.types,
            rows,
            price=ctx.config.price_per_unit,
            lint=settings,
        )
        level = settings.level(LintRule.QUIET_HOURS)
        if level is not Severity.OFF:
            message = _night_schedule(ctx)
            if message is not None:
                preview.findings.append(Finding(LintRule.QUIET_HOURS, level, message))
        return preview

    def approve(
        self,
        campaign_id: str,
        *,
        by: str,
        now: float,
        override_reason: str | None = None,
    ) -> Preview:
        """Approve a draft: a different operator, no over-length message, lint errors only
        with a written reason (recorded with the operator and time).

        Args:
            campaign_id: The campaign.
            by: The approving operator (must differ from the creator).
            now: Approval time.
            override_reason: Why the lint errors are acceptable (at least
                `MIN_OVERRIDE_REASON` characters); needed only when there are errors.

        Returns:
            The preview the approval was based on.

        Raises:
            ApprovalError: Same operator, over-length messages, no recipients, or lint errors
                without a reason.
            IllegalCampaignTransition: The campaign is not a draft.
        """
        approver = _operator(by, "approve")
        ctx = self._context(campaign_id)
        advance(campaign_id, ctx.record.state, CampaignEvent.APPROVE)
        if _same_operator(ctx.record.created_by, approver):
            raise ApprovalError(
                f"created by {ctx.record.created_by}, who cannot approve it: a different "
                "operator must check and approve (二重チェック)",
                campaign_id=campaign_id,
            )
        preview = self._preview(ctx)
        over = preview.overlength
        if over:
            shown = ", ".join(f"line {m.line}: {m.chars}" for m in over[:5])
            raise ApprovalError(
                f"{len(over)} messages exceed the {preview.profile} limit of "
                f"{over[0].limit} characters ({shown}{', ...' if len(over) > 5 else ''}); "
                "shorten the template",
                campaign_id=campaign_id,
            )
        if preview.recipients == 0:
            raise ApprovalError("no valid recipients to send to", campaign_id=campaign_id)
        errors = preview.lint_errors
        reason = (override_reason or "").strip()
        if errors and not reason:
            rules = ", ".join(sorted({str(f.rule) for f in errors}))
            raise ApprovalError(
                f"{len(errors)} lint errors ({rules}); fix the template, or approve with "
                "--override-lint REASON to record why they are acceptable",
                campaign_id=campaign_id,
            )
        if errors and len(reason) < MIN_OVERRIDE_REASON:
            raise ApprovalError(
                f"the override reason must say why (at least {MIN_OVERRIDE_REASON} characters)",
                campaign_id=campaign_id,
            )
        self.repository.transition(
            campaign_id,
            CampaignState.DRAFT,
            CampaignState.APPROVED,
            now,
            operator=approver,
            event="approved",
            detail=(
                f"{preview.recipients} recipients, {len(preview.messages)} messages, "
                f"{preview.units} units, ¥{preview.cost} (tax excl.)"
            ),
            approved_by=approver,
            override_reason=reason if errors else None,
        )
        if errors:
            overridden = "; ".join(f"{f.rule}: {f.message}" for f in errors)
            self.repository.log(
                campaign_id,
                now,
                "lint_override",
                f"reason: {reason} | overridden: {overridden}",
                operator=approver,
            )
        log.info(
            "smsh.gateway.campaigns.approved",
            extra={"campaign_id": campaign_id, "by": approver, "overrides": len(errors)},
        )
        return preview

    def cancel(self, campaign_id: str, *, by: str, now: float, reason: str = "") -> None:
        """Cancel a campaign (messages already handed to the gateway are not recalled).

        Raises:
            IllegalCampaignTransition: Already done or cancelled.
        """
        operator = _operator(by, "cancel")
        record = self.repository.get(campaign_id)
        new = advance(campaign_id, record.state, CampaignEvent.CANCEL)
        self.repository.transition(
            campaign_id, record.state, new, now, operator=operator, event="cancelled", detail=reason
        )

    def set_send_at(self, campaign_id: str, at: datetime, *, now: float, by: str | None) -> None:
        """Set the time of a once schedule (``smsh campaign send --at``), before its first send.

        Raises:
            CampaignError: Not a once schedule, already sending, or a naive datetime.
        """
        ctx = self._context(campaign_id)
        if not isinstance(ctx.schedule, Once):
            raise CampaignError(
                f"campaign {campaign_id} has a {ctx.spec.schedule.kind} schedule: --at only "
                "applies to a once schedule"
            )
        if ctx.record.state not in (CampaignState.DRAFT, CampaignState.APPROVED):
            raise CampaignError(f"campaign {campaign_id} is {ctx.record.state}: too late for --at")
        if at.utcoffset() is None:
            raise CampaignError("--at needs a time zone offset (e.g. 2026-05-27T10:00+09:00)")
        self.repository.set_send_at(campaign_id, at.timestamp(), now)
        self.repository.log(campaign_id, now, "send_at", at.isoformat(), operator=by)

    # -- schedule --------------------------------------------------------------------------

    def _stopped(self, ctx: _Context, rows: Iterable[RowRecord]) -> dict[int, str]:
        """Lines that get nothing more, with why (paid / replied)."""
        out: dict[int, str] = {}
        rows = list(rows)
        if ctx.spec.schedule.stop_on_paid:
            out.update((r.line, "paid") for r in rows if r.paid_at is not None)
        if ctx.spec.schedule.stop_on_reply and self.store is not None:
            replied = replied_numbers(self.store, ctx.record.id)
            out.update((r.line, "replied") for r in rows if r.e164 in replied and r.line not in out)
        return out

    def _due(self, ctx: _Context, now: datetime, rows: Sequence[RowRecord]) -> list[DueSend]:
        done: dict[int, set[str]] = {}
        for s in self.repository.sends(ctx.record.id):
            if s.status != SendStatus.ERROR:
                done.setdefault(s.line, set()).add(s.slot)
        stopped = self._stopped(ctx, rows)
        due: list[DueSend] = []
        for row in rows:
            if row.line in stopped or row.e164 is None:
                continue
            slots = ctx.schedule.slots(_due_date(row), now)
            chosen, superseded = pick_due(slots, done.get(row.line, ()))
            if chosen is not None:
                due.append(DueSend(ctx.record.id, row.line, row.e164, chosen, tuple(superseded)))
        return due

    def due_sends(self, now: float, campaign_id: str | None = None) -> list[DueSend]:
        """What the schedules call for at `now` and was not handled yet.

        Only approved or sending campaigns; paid and replied recipients are left out (per the
        schedule's stop rules). Owner check and suppression are applied by `send`, at the
        hand-off, not here.

        Args:
            now: The time.
            campaign_id: One campaign, or all.
        """
        ids = (
            [campaign_id]
            if campaign_id is not None
            else [c.id for c in self.repository.list_campaigns()]
        )
        out: list[DueSend] = []
        for cid in ids:
            ctx = self._context(cid)
            if ctx.record.state not in (CampaignState.APPROVED, CampaignState.SENDING):
                continue
            rows = self.repository.rows(cid, RowStatus.OK)
            out.extend(self._due(ctx, _dt(now), rows))
        return out

    def _remaining(self, ctx: _Context, now: datetime, rows: Sequence[RowRecord]) -> bool:
        sends = self.repository.sends(ctx.record.id)
        if any(s.status in (SendStatus.ERROR, SendStatus.PENDING) for s in sends):
            return True
        stopped = self._stopped(ctx, rows)
        excluded_for_good = {
            s.line for s in sends if s.status == SendStatus.EXCLUDED and s.reason == "owner_changed"
        }
        return any(
            ctx.schedule.remaining_after(_due_date(r), now)
            for r in rows
            if r.line not in stopped and r.line not in excluded_for_good
        )

    # -- send ------------------------------------------------------------------------------

    async def send(self, campaign_id: str, submitter: Submitter, now: float) -> SendResult:
        """Hand every due, non-excluded recipient's message to `submitter`.

        Order: refuse unless approved; settle hand-offs an interruption left pending; list
        the due (recipient, slot) pairs; owner-check them (``changed`` -> excluded, ``no_data``
        -> per policy); drop suppressed numbers; place each send in its recipient's allowed
        window with a capped validity; claim the pairs; hand them over concurrently; record
        message ids; finish the campaign when its schedule has nothing left.

        Args:
            campaign_id: The campaign.
            submitter: The gateway (or `StoreSubmitter`).
            now: The time (epoch seconds).

        Returns:
            What was done.

        Raises:
            NotApprovedError: The campaign is a draft.
            IllegalCampaignTransition: The campaign is done or cancelled.
            OwnerCheckRequired: Rows need the owner check and no client is configured.
            OwnerCheckError: The owner check failed (nothing is sent).
        """
        ctx = self._context(campaign_id)
        state = ctx.record.state
        if state is CampaignState.DRAFT:
            raise NotApprovedError(campaign_id, state.value)
        advance(campaign_id, state, CampaignEvent.SEND)
        result = SendResult(campaign_id, state)
        now_dt = _dt(now)
        await self._reconcile(ctx, submitter, now, result)
        rows = self.repository.rows(campaign_id, RowStatus.OK)
        by_line = {r.line: r for r in rows}
        due = self._due(ctx, now_dt, rows)

        owner = await self._owner_check(ctx, [by_line[d.line] for d in due], now, result)
        suppressed = self._suppressed([d.e164 for d in due])

        records: list[SendRecord] = []
        outgoing: dict[tuple[int, str], _Outgoing] = {}
        validity = timedelta(hours=ctx.config.quiet_hours.validity_hours)
        min_validity = timedelta(seconds=ctx.config.quiet_hours.min_validity_s)
        for d in due:
            row = by_line[d.line]
            planned = d.slot.at.timestamp() if d.slot.at is not None else None
            for old in d.superseded:
                records.append(
                    _record(
                        d.line, old.key, SendStatus.SKIPPED, now, old, f"superseded by {d.slot.key}"
                    )
                )
            reason = owner.get(d.line)
            if reason is None and d.e164 in suppressed:
                reason = "suppressed"
            if reason is not None:
                records.append(
                    _record(d.line, d.slot.key, SendStatus.EXCLUDED, now, d.slot, reason)
                )
                continue
            variant = ctx.variants.get(d.slot.key) or ctx.variants[MAIN_VARIANT]
            text = variant.template.render(
                render_values(row.values, ctx.types, variant.template.fields)
            )
            try:
                planned_text = plan(text, ctx.spec.profile)
            except MessageTooLong as exc:
                records.append(_record(d.line, d.slot.key, SendStatus.ERROR, now, d.slot, str(exc)))
                continue
            window, zone = self._window(ctx.config, row)
            asked = max(now_dt, d.slot.at) if d.slot.at is not None else now_dt
            placed = send_slot(window, zone, asked, validity=validity, min_validity=min_validity)
            record = SendRecord(
                line=d.line,
                slot=d.slot.key,
                status=SendStatus.PENDING,
                reason=None,
                planned_at=planned,
                at=now,
                client_ref=f"{campaign_id}:{d.line}:{d.slot.key}",
                message_id=None,
                not_before=placed.not_before.timestamp(),
                validity_until=placed.validity_until.timestamp(),
                deferred=placed.deferred,
                units=planned_text.units,
                chars=planned_text.chars,
                parts=len(planned_text.parts),
            )
            records.append(record)
            outgoing[(d.line, d.slot.key)] = _Outgoing(
                record, d.e164, text, row.values.get(OBTAINED_DATE) or None
            )

        if state is CampaignState.APPROVED:
            self.repository.transition(
                campaign_id,
                CampaignState.APPROVED,
                CampaignState.SENDING,
                now,
                event="send",
                detail=f"{len(outgoing)} to hand over",
            )
        else:
            self.repository.log(campaign_id, now, "send", f"{len(outgoing)} to hand over")
        result.state = CampaignState.SENDING
        claimed = self.repository.claim_sends(campaign_id, records)
        for r in records:
            if (r.line, r.slot) not in claimed:
                continue
            if r.status == SendStatus.EXCLUDED and r.reason is not None:
                result.excluded[r.reason] = result.excluded.get(r.reason, 0) + 1
            elif r.status == SendStatus.SKIPPED:
                result.skipped += 1
            elif r.status == SendStatus.ERROR:
                result.errors.append((r.line, r.slot, r.reason or "error"))
        to_send = [o for key, o in outgoing.items() if key in claimed]
        outcomes = await self._hand_over(ctx, submitter, to_send)
        self.repository.complete_sends(campaign_id, outcomes, now)
        price = ctx.config.price_per_unit
        sent = {
            (line, slot) for line, slot, status, _, _ in outcomes if status == SendStatus.SUBMITTED
        }
        for o in to_send:
            if (o.record.line, o.record.slot) in sent:
                result.handed_over += 1
                result.deferred += int(o.record.deferred)
                result.units += o.record.units
        result.cost = result.units * price
        result.errors.extend(
            (line, slot, reason or "error")
            for line, slot, status, _, reason in outcomes
            if status == SendStatus.ERROR
        )
        if not self._remaining(ctx, now_dt, rows):
            self.repository.transition(
                campaign_id, CampaignState.SENDING, CampaignState.DONE, now, event="done"
            )
            result.state = CampaignState.DONE
        log.info("smsh.gateway.campaigns.send", extra=result.to_dict())
        return result

    async def _hand_over(
        self, ctx: _Context, submitter: Submitter, outgoing: Sequence[_Outgoing]
    ) -> list[tuple[int, str, str, int | None, str | None]]:
        gate = asyncio.Semaphore(self._concurrency)
        cid = ctx.record.id

        async def one(o: _Outgoing) -> tuple[int, str, str, int | None, str | None]:
            r = o.record
            metadata: dict[str, Any] = {
                "campaign": cid,
                "line": r.line,
                "slot": r.slot,
                "profile": ctx.spec.profile,
                "route": str(ctx.spec.route),
                "units": r.units,
                "deferred": r.deferred,
            }
            if o.obtained:
                metadata["obtained"] = o.obtained
            async with gate:
                try:
                    message_id = await submitter.submit(
                        o.e164,
                        o.text,
                        source=ctx.spec.sender,
                        campaign_id=cid,
                        client_ref=r.client_ref or "",
                        not_before=r.not_before,
                        validity_until=r.validity_until,
                        metadata=metadata,
                    )
                except Exception as exc:  # recorded per recipient and retried on the next send
                    log.warning(
                        "smsh.gateway.campaigns.submit_failed",
                        extra={
                            "campaign_id": cid,
                            "line": r.line,
                            "slot": r.slot,
                            "error": repr(exc),
                        },
                    )
                    return (r.line, r.slot, SendStatus.ERROR, None, f"{type(exc).__name__}: {exc}")
            return (r.line, r.slot, SendStatus.SUBMITTED, message_id, None)

        return list(await asyncio.gather(*(one(o) for o in outgoing)))

    async def _reconcile(
        self, ctx: _Context, submitter: Submitter, now: float, result: SendResult
    ) -> None:
        pending = [
            s for s in self.repository.sends(ctx.record.id) if s.status == SendStatus.PENDING
        ]
        if not pending:
            return
        outcomes: list[tuple[int, str, str, int | None, str | None]] = []
        for s in pending:
            found: int | None = None
            if isinstance(submitter, ClientRefLookup) and s.client_ref:
                found = await submitter.find_client_ref(ctx.record.id, s.client_ref)
            if found is not None:
                outcomes.append((s.line, s.slot, SendStatus.SUBMITTED, found, "reconciled"))
                result.reconciled += 1
            else:
                outcomes.append(
                    (
                        s.line,
                        s.slot,
                        SendStatus.IN_DOUBT,
                        None,
                        "interrupted hand-off not found in the gateway: not resent",
                    )
                )
                result.in_doubt += 1
        self.repository.complete_sends(ctx.record.id, outcomes, now)

    async def _owner_check(
        self, ctx: _Context, rows: Sequence[RowRecord], now: float, result: SendResult
    ) -> dict[int, str]:
        """Exclusion reasons by line from the owner check (checking stale rows first)."""
        cfg = ctx.config.owner_check
        with_date = [r for r in rows if r.values.get(OBTAINED_DATE) and r.e164]
        if not with_date:
            return {}
        max_age = cfg.max_age_hours * 3600
        stale = [
            r for r in with_date if r.owner_checked_at is None or now - r.owner_checked_at > max_age
        ]
        statuses = {r.line: (r.owner_status, r.owner_last_change) for r in with_date}
        if stale:
            if self.owner_check is None:
                if cfg.required:
                    raise OwnerCheckRequired(ctx.record.id, len(stale))
                return {}
            queries = [(r.e164 or "", date.fromisoformat(r.values[OBTAINED_DATE])) for r in stale]
            answers = await self.owner_check.check_many(queries)
            result.owner_checked = len(queries)
            stored: list[tuple[int, str, str | None]] = []
            for r in stale:
                answer = answers[r.e164 or ""]
                change = answer.last_change_date.isoformat() if answer.last_change_date else None
                stored.append((r.line, answer.status.value, change))
                statuses[r.line] = (answer.status.value, change)
            self.repository.set_owner_results(ctx.record.id, stored, now)
        out: dict[int, str] = {}
        for line, (status, _) in statuses.items():
            if status == OwnerStatus.CHANGED:
                out[line] = "owner_changed"
            elif status == OwnerStatus.NO_DATA and cfg.no_data is NoDataPolicy.HOLD:
                out[line] = "owner_no_data"
        return out

    def _suppressed(self, numbers: Sequence[str]) -> set[str]:
        """E.164 numbers on the store's suppression list (stored as E.164 or JP national)."""
        if self.store is None or not numbers:
            return set()
        national = {n: "0" + n[3:] for n in numbers if n.startswith("+81")}
        hits = self.store.suppressed_among([*numbers, *national.values()])
        return {n for n in numbers if n in hits or national.get(n) in hits}

    @staticmethod
    def _window(config: CampaignConfig, row: RowRecord) -> tuple[DailyWindow, ZoneInfo]:
        policy = DailyWindow.parse(config.quiet_hours.window)
        zone = parse_timezone(row.values.get(TIMEZONE) or config.quiet_hours.timezone)
        own = row.values.get(WINDOW)
        if own:
            mine = DailyWindow.parse(own)
            window = (
                mine if config.quiet_hours.recipient_window == "replace" else mine.intersect(policy)
            )
            return window, zone
        return policy, zone

    # -- paid ------------------------------------------------------------------------------

    def mark_paid(self, campaign_id: str, phone: str, *, now: float, by: str | None) -> list[int]:
        """Mark a recipient paid: later schedule slots are not sent (``stop_on_paid``).

        Returns:
            The lines marked.

        Raises:
            CampaignError: The number is invalid or not a recipient of the campaign.
        """
        self.repository.get(campaign_id)
        parsed = try_parse(phone)
        if isinstance(parsed, InvalidNumber):
            raise CampaignError(f"{phone!r} is not a valid number: {parsed.detail}")
        lines = self.repository.mark_paid(campaign_id, parsed.e164, now, by)
        if not lines:
            raise CampaignError(f"{parsed.e164} is not a recipient of campaign {campaign_id}")
        return lines


def _record(
    line: int, slot: str, status: str, now: float, planned: Slot, reason: str
) -> SendRecord:
    return SendRecord(
        line=line,
        slot=slot,
        status=status,
        reason=reason,
        planned_at=planned.at.timestamp() if planned.at is not None else None,
        at=now,
        client_ref=None,
        message_id=None,
        not_before=None,
        validity_until=None,
        deferred=False,
        units=0,
        chars=0,
        parts=0,
    )


def _night_schedule(ctx: _Context) -> str | None:
    """Why the schedule's time of day falls outside the policy window, or None.

    A once schedule is checked at its instant; a monthly or sequence schedule at its time of
    day on the campaign's creation date (in the schedule's zone).
    """
    schedule = ctx.schedule
    if isinstance(schedule, Once):
        if schedule.at is None:
            return None
        at = schedule.at
    else:
        day = datetime.fromtimestamp(ctx.record.created_at, schedule.zone).date()
        at = datetime.combine(day, schedule.at, tzinfo=schedule.zone)
    policy = DailyWindow.parse(ctx.config.quiet_hours.window)
    zone = parse_timezone(ctx.config.quiet_hours.timezone)
    if is_allowed(policy, zone, at):
        return None
    local = at.astimezone(zone)
    opens = next_open(policy, zone, at).astimezone(zone)
    later = "the next day " if opens.date() > local.date() else ""
    return (
        f"the schedule sends at {local:%H:%M} {zone.key}, outside the allowed hours {policy}: "
        f"its messages will wait until {later}{opens:%H:%M} (validity capped at the window's "
        "close)"
    )


def _due_date(row: RowRecord) -> date | None:
    value = row.values.get(DUE_DATE)
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def _fields_json(fields: FieldMap) -> dict[str, Any]:
    return {
        "columns": dict(fields.columns),
        "headers": list(fields.headers),
        "types": {k: str(v) for k, v in fields.types.items()},
    }
