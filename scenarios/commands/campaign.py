"""`smsh campaign`: dunning campaigns — create, preview, approve, send, report, mark paid, list.

Usage::

    smsh campaign create --csv FILE --template FILE [--config FILE] [--name N] [--by OPERATOR]
                         [--map COLUMN=FIELD ...] [--filter COLUMN=VALUE ...] [--encoding ENC]
    smsh campaign preview ID [--limit N] [--json]
    smsh campaign approve ID --by OPERATOR [--override-lint REASON]
    smsh campaign send ID [--at ISO] [--owner-check-url URL]
    smsh campaign run [--once] [--interval S] [--lead S] [--owner-check-url URL]
                      [--bus URL] [--instance NAME]
    smsh campaign report ID [--json | --csv FILE]
    smsh campaign export ID {problems,excluded} --csv FILE
    smsh campaign mark-paid ID --phone NUMBER [--by OPERATOR]
    smsh campaign cancel ID --by OPERATOR [--reason TEXT]
    smsh campaign list

Every subcommand takes ``--db PATH`` (default ``$SMSH_DB`` or ``smsh.sqlite3``: the gateway
store's file; the campaign tables live beside the store's) and ``--now ISO`` (pretend it is
that time: tests and replays; default the system clock).

``run`` is the scheduler (`gateway.campaigns.scheduler`): it releases the due sends of every
approved campaign by the clock (a once campaign at its time, monthly on its day, reminder steps
per recipient, stopping for paid or replied recipients) into the store, where ``smsh gateway
serve`` on the same file picks them up; with ``--bus`` it publishes `CampaignProgress`. It ticks
every ``--interval`` seconds until interrupted; ``--once`` (or ``--now``) ticks once. Restarting
it never sends a slot twice.

Exit codes: 0 done (``create`` exits 0 even when rows are invalid: the report says so);
1 refused or partly failed (approval refused, campaign not approved, owner check failed or
missing, some hand-offs failed); 2 unusable input (unreadable CSV, a mapping or filter naming
a missing column, a template or config error, an unknown campaign).

Tables are aligned by display width (`unicodedata.east_asian_width`: full-width and wide
characters take two columns), so Japanese names line up in a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import os
import signal
import sys
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from gateway.campaigns.config import CampaignConfig, load_config, load_template
from gateway.campaigns.csvimport import RowStatus
from gateway.campaigns.errors import (
    ApprovalError,
    CampaignConfigError,
    CampaignError,
    ColumnMappingError,
    CsvReadError,
    IllegalCampaignTransition,
    NotApprovedError,
    OwnerCheckError,
    OwnerCheckRequired,
    QuietHoursError,
    TemplateError,
    UnknownCampaign,
)
from gateway.campaigns.lint import Severity
from gateway.campaigns.ownercheck import HttpOwnerCheckClient, OwnerCheckClient
from gateway.campaigns.preview import Preview
from gateway.campaigns.progress import CampaignProgressPublisher
from gateway.campaigns.quiet import JST
from gateway.campaigns.report import (
    CampaignReport,
    build_report,
    detail_csv,
    excluded_csv,
    problems_csv,
)
from gateway.campaigns.repository import CampaignRepository
from gateway.campaigns.runner import CampaignRunner
from gateway.campaigns.scheduler import CampaignScheduler, TickResult, run_campaign_service
from gateway.campaigns.state import CampaignState
from gateway.campaigns.submit import StoreSubmitter
from gateway.store import MessageState, MessageStore
from sms.clock import Clock, ManualClock, SystemClock

#: The help line for `smsh --help` (registered in scenarios/cli.py).
HELP: Final[str] = (
    "dunning campaigns: import a CSV, preview, approve (second operator), send, report"
)
DEFAULT_DB: Final[str] = "smsh.sqlite3"
_PROBLEMS_SHOWN: Final = 20


# --- display width ---------------------------------------------------------------------------


def display_width(text: str) -> int:
    """Terminal columns `text` takes: 2 for wide / full-width characters, 0 for combining."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def fit(text: str, width: int) -> str:
    """Cut `text` to at most `width` columns, ending with … when cut."""
    text = text.replace("\n", "⏎")
    if display_width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = display_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def pad(text: str, width: int, *, right: bool = False) -> str:
    """Pad `text` with spaces to `width` columns (right-aligned when `right`)."""
    gap = " " * max(0, width - display_width(text))
    return gap + text if right else text + gap


def table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[int] = ()
) -> str:
    """A plain table aligned by display width; columns in `right` are right-aligned."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [display_width(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], display_width(cell))
    lines = ["  ".join(pad(h, widths[i], right=i in right) for i, h in enumerate(headers))]
    lines.extend(
        "  ".join(pad(c, widths[i], right=i in right) for i, c in enumerate(row)).rstrip()
        for row in cells
    )
    return "\n".join(line.rstrip() for line in lines)


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, JST).strftime("%Y-%m-%d %H:%M JST")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _yen(amount: object) -> str:
    return f"¥{amount}"


# --- arguments -------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=os.environ.get("SMSH_DB", DEFAULT_DB),
        metavar="PATH",
        help="the gateway store file that holds the campaign tables "
        f"(default: $SMSH_DB or {DEFAULT_DB})",
    )
    parser.add_argument(
        "--now",
        metavar="ISO",
        help="pretend the current time is ISO (with offset; for tests and replays)",
    )


def _pair(text: str) -> tuple[str, str]:
    column, sep, value = text.partition("=")
    if not sep or not column.strip():
        raise argparse.ArgumentTypeError(f"expected COLUMN=VALUE, got {text!r}")
    return column.strip(), value.strip()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the sub-subcommands of `smsh campaign`."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = sub.add_parser("create", help="import a CSV and a template into a draft campaign")
    p.add_argument("--csv", required=True, metavar="FILE", help="recipients (UTF-8 or Shift_JIS)")
    p.add_argument("--template", required=True, metavar="FILE", help="message template file")
    p.add_argument("--config", metavar="FILE", help="campaign config YAML (mapping, policies)")
    p.add_argument("--name", help="campaign name (default: the CSV file name)")
    p.add_argument(
        "--by",
        default=os.environ.get("SMSH_OPERATOR"),
        metavar="OPERATOR",
        help="creating operator (default: $SMSH_OPERATOR or the login name)",
    )
    p.add_argument(
        "--map",
        action="append",
        type=_pair,
        default=[],
        metavar="COLUMN=FIELD",
        help="feed FIELD (phone, name, amount, due_date, obtained_date, window, timezone, "
        "or a custom name) from CSV column COLUMN; repeatable",
    )
    p.add_argument(
        "--filter",
        action="append",
        type=_pair,
        default=[],
        metavar="COLUMN=VALUE",
        help="keep rows whose COLUMN equals VALUE; columns AND-ed, values of one column OR-ed",
    )
    p.add_argument(
        "--encoding", help="CSV encoding (default: UTF-8 with or without BOM, else CP932)"
    )
    p.add_argument("--sender", help="sender for a template file without front matter")
    p.add_argument(
        "--show",
        type=int,
        default=_PROBLEMS_SHOWN,
        metavar="N",
        help=f"problems to list (default: {_PROBLEMS_SHOWN})",
    )
    _common(p)

    p = sub.add_parser("preview", help="show every recipient's text, length, parts, cost, lint")
    p.add_argument("id", metavar="ID")
    p.add_argument("--limit", type=int, default=20, metavar="N", help="recipients to list")
    p.add_argument("--json", action="store_true", help="print JSON")
    _common(p)

    p = sub.add_parser("approve", help="approve a draft (a different operator than the creator)")
    p.add_argument("id", metavar="ID")
    p.add_argument("--by", required=True, metavar="OPERATOR", help="approving operator")
    p.add_argument(
        "--override-lint",
        metavar="REASON",
        help="approve despite lint errors; the written reason is recorded with your name",
    )
    _common(p)

    p = sub.add_parser("send", help="hand the due messages of an approved campaign to the gateway")
    p.add_argument("id", metavar="ID")
    p.add_argument(
        "--at", metavar="ISO", help="once schedule: send at this time (e.g. 2026-05-27T10:00+09:00)"
    )
    p.add_argument(
        "--owner-check-url", metavar="URL", help="owner-check API base URL (overrides config)"
    )
    p.add_argument("--by", default=os.environ.get("SMSH_OPERATOR"), metavar="OPERATOR")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    _common(p)

    p = sub.add_parser("run", help="release due sends of approved campaigns by the clock")
    p.add_argument("--once", action="store_true", help="one tick, then exit (cron)")
    p.add_argument(
        "--interval", type=float, default=60.0, metavar="S", help="seconds between ticks (60)"
    )
    p.add_argument(
        "--lead",
        type=float,
        default=0.0,
        metavar="S",
        help="release a once campaign S seconds before its send time (0)",
    )
    p.add_argument(
        "--owner-check-url",
        default=os.environ.get("SMSH_OWNER_CHECK_URL"),
        metavar="URL",
        help="owner-check API base URL (default: $SMSH_OWNER_CHECK_URL, else the one URL "
        "the active campaigns' configs name)",
    )
    p.add_argument("--bus", metavar="URL", help="publish campaign progress (mqtt://HOST:PORT)")
    p.add_argument(
        "--instance", default="gw-1", metavar="NAME", help="bus instance id (default gw-1)"
    )
    _common(p)

    p = sub.add_parser("report", help="counts: invalid, excluded, sent, delivered, replied, cost")
    p.add_argument("id", metavar="ID")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print JSON")
    out.add_argument("--csv", metavar="FILE", help="write one line per recipient and slot")
    _common(p)

    p = sub.add_parser("export", help="write the validation problems or the excluded recipients")
    p.add_argument("id", metavar="ID")
    p.add_argument("what", choices=["problems", "excluded"])
    p.add_argument("--csv", required=True, metavar="FILE", help="output file ('-' for stdout)")
    _common(p)

    p = sub.add_parser("mark-paid", help="mark a recipient paid: later reminders stop")
    p.add_argument("id", metavar="ID")
    p.add_argument("--phone", required=True, metavar="NUMBER")
    p.add_argument("--by", default=os.environ.get("SMSH_OPERATOR"), metavar="OPERATOR")
    _common(p)

    p = sub.add_parser("cancel", help="cancel a campaign (handed-over messages are not recalled)")
    p.add_argument("id", metavar="ID")
    p.add_argument("--by", required=True, metavar="OPERATOR")
    p.add_argument("--reason", default="", metavar="TEXT")
    _common(p)

    p = sub.add_parser("list", help="list campaigns")
    _common(p)


# --- helpers -----------------------------------------------------------------------------------


class _Usage(Exception):
    """An input problem reported with exit code 2."""


def _clock(args: argparse.Namespace) -> Clock:
    if args.now is None:
        return SystemClock()
    return ManualClock(_parse_iso(args.now, "--now").timestamp())


def _parse_iso(text: str, option: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _Usage(f"{option}: {text!r} is not an ISO date-time") from None
    if value.utcoffset() is None:
        raise _Usage(f"{option}: {text!r} needs an offset, e.g. +09:00")
    return value.astimezone(UTC)


def _operator(value: str | None) -> str:
    if value:
        return value
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        raise _Usage("give the operator with --by or $SMSH_OPERATOR") from None


def _config(args: argparse.Namespace) -> CampaignConfig:
    config = load_config(args.config)
    columns = dict(config.columns)
    for column, field_name in args.map:
        columns[column] = field_name
    filters: dict[str, str | list[str]] = dict(config.filters)
    cli_filters: dict[str, list[str]] = {}
    for column, value in args.filter:
        cli_filters.setdefault(column, []).append(value)
    filters.update(cli_filters)
    update: dict[str, object] = {"columns": columns, "filters": filters}
    if args.encoding:
        update["encoding"] = args.encoding
    return CampaignConfig.model_validate({**config.model_dump(), **update})


# --- actions -----------------------------------------------------------------------------------


def _create(args: argparse.Namespace, repo: CampaignRepository, now: float) -> int:
    config = _config(args)
    template = load_template(args.template, sender=args.sender or config.sender)
    path = Path(args.csv)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CsvReadError(f"cannot read: {exc.strerror}", path=str(path)) from None
    operator = _operator(args.by)
    runner = CampaignRunner(repo)
    created = runner.create(
        csv_data=data,
        csv_path=str(path),
        template=template,
        config=config,
        created_by=operator,
        now=now,
        name=args.name,
    )
    result = created.result
    cid = created.campaign_id
    by_reason = result.invalid_by_reason()
    print(
        f"campaign {cid} created (draft) by {operator} from {path} "
        f"({result.table.encoding}, header on line {result.table.header_line})"
    )
    counts = [
        ("rows", len(result.rows), ""),
        ("recipients", result.count(RowStatus.OK), "valid, unique, in the segment"),
        (
            "invalid",
            result.count(RowStatus.INVALID),
            ", ".join(f"{k} {v}" for k, v in by_reason.items()),
        ),
        ("duplicates", result.count(RowStatus.DUPLICATE), "same number after normalisation"),
        ("filtered", result.count(RowStatus.FILTERED), "outside the segment"),
    ]
    print(table(["", "count", ""], counts, right=(1,)))
    if result.problems:
        shown = result.problems[: max(0, args.show)]
        print(
            f"\n{len(result.problems)} problems; the first {len(shown)} "
            f"(all: smsh campaign export {cid} problems --csv FILE):"
        )
        print(
            table(
                ["line", "code", "column", "value", "detail"],
                [[p.line, p.code, p.column, fit(p.value, 20), fit(p.detail, 60)] for p in shown],
                right=(0,),
            )
        )
    else:
        print("\nno problems found")
    print(f"\nnothing was sent. next: smsh campaign preview {cid}")
    return 0


def _print_preview(cid: str, state: str, sender: str, preview: Preview, limit: int) -> None:
    hist = ", ".join(
        f"{n} part{'s' if n != 1 else ''}: {c}" for n, c in preview.parts_histogram().items() if n
    )
    print(f"campaign {cid}  {state}  profile {preview.profile}  sender {sender}")
    print(
        f"recipients {preview.recipients}  messages {len(preview.messages)}  "
        f"units {preview.units}  cost {_yen(preview.cost)} "
        f"({_yen(preview.price_per_unit)}/unit, tax excl.)  [{hist}]"
    )
    shown = preview.messages[: max(0, limit)]
    if shown:
        print()
        print(
            table(
                ["line", "number", "name", "step", "chars", "parts", "units", "cost", "text"],
                [
                    [
                        m.line,
                        m.e164,
                        fit(m.name, 14),
                        m.variant,
                        m.chars,
                        m.parts if not m.too_long else "TOO LONG",
                        m.units,
                        _yen(m.cost),
                        fit(m.text, 48),
                    ]
                    for m in shown
                ],
                right=(0, 4, 5, 6, 7),
            )
        )
        if len(preview.messages) > len(shown):
            print(f"... {len(preview.messages) - len(shown)} more (--limit N)")
    over = preview.overlength
    if over:
        print(f"\n{_n(len(over), 'message')} over the {preview.profile} limit (approval blocked):")
        print(
            table(
                ["line", "name", "step", "chars", "limit"],
                [[m.line, fit(m.name, 14), m.variant, m.chars, m.limit] for m in over],
                right=(0, 3, 4),
            )
        )
    if preview.findings:
        print("\nlint:")
        rows = []
        ordered = sorted(preview.findings, key=lambda f: f.severity is not Severity.ERROR)
        for f in ordered:
            where = "campaign"
            if f.lines:
                head = ", ".join(map(str, f.lines[:5]))
                more = ", ..." if len(f.lines) > 5 else ""
                where = f"{len(f.lines)} (lines {head}{more})"
            rows.append([str(f.severity).upper(), str(f.rule), where, f.message])
        print(table(["severity", "rule", "recipients", "message"], rows))
    else:
        print("\nlint: clean")
    if over:
        print("\napproval: blocked (messages too long)")
    elif preview.lint_errors:
        print(
            f"\napproval: blocked by {len(preview.lint_errors)} lint errors unless overridden "
            "(smsh campaign approve ID --by NAME --override-lint REASON)"
        )
    else:
        print("\napproval: ready (a different operator than the creator must approve)")


def _preview(args: argparse.Namespace, repo: CampaignRepository) -> int:
    cid = repo.resolve_id(args.id)
    record = repo.get(cid)
    preview = CampaignRunner(repo).preview(cid)
    if args.json:
        print(
            json.dumps(
                {"campaign_id": cid, **preview.to_dict(limit=args.limit)}, ensure_ascii=False
            )
        )
        return 0
    _print_preview(cid, record.state.value, str(record.template.get("sender")), preview, args.limit)
    return 0


def _approve(args: argparse.Namespace, repo: CampaignRepository, now: float) -> int:
    cid = repo.resolve_id(args.id)
    preview = CampaignRunner(repo).approve(
        cid, by=args.by, now=now, override_reason=args.override_lint
    )
    record = repo.get(cid)
    print(
        f"campaign {cid} approved by {record.approved_by} at {_when(record.approved_at)} "
        f"(created by {record.created_by})"
    )
    print(
        f"  {preview.recipients} recipients, {len(preview.messages)} messages, "
        f"{preview.units} units, {_yen(preview.cost)} tax excl."
    )
    if record.override_reason:
        print(f"  lint errors overridden: {record.override_reason}")
    print(f"next: smsh campaign send {cid}")
    return 0


def _send(args: argparse.Namespace, repo: CampaignRepository, clock: Clock) -> int:
    cid = repo.resolve_id(args.id)
    now = clock.now()
    record = repo.get(cid)
    config = CampaignConfig.model_validate(record.config)
    url = args.owner_check_url or config.owner_check.url
    client = (
        HttpOwnerCheckClient(
            url, timeout=config.owner_check.timeout_s, batch_size=config.owner_check.batch_size
        )
        if url
        else None
    )
    with MessageStore(args.db) as store:
        runner = CampaignRunner(repo, store=store, owner_check=client)
        if args.at:
            runner.set_send_at(cid, _parse_iso(args.at, "--at"), now=now, by=args.by)
        result = asyncio.run(runner.send(cid, StoreSubmitter(store, clock), now))
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        excluded = ", ".join(f"{k} {v}" for k, v in result.excluded.items()) or "none"
        print(f"campaign {cid}: handed {result.handed_over} messages to the gateway")
        print(
            table(
                ["", "count"],
                [
                    ["handed over", result.handed_over],
                    ["  deferred (quiet hours)", result.deferred],
                    ["excluded", sum(result.excluded.values())],
                    ["skipped (superseded)", result.skipped],
                    ["errors", len(result.errors)],
                    ["owner checks", result.owner_checked],
                ],
                right=(1,),
            )
        )
        print(f"excluded: {excluded}")
        print(f"units {result.units}, cost {_yen(result.cost)} tax excl.; state {result.state}")
        if result.in_doubt:
            print(f"{result.in_doubt} interrupted hand-offs were not found and were not resent")
        for line, slot, error in result.errors[:10]:
            print(f"  error line {line} ({slot}): {error}")
    return 1 if result.errors else 0


def _run_owner_check(args: argparse.Namespace, repo: CampaignRepository) -> OwnerCheckClient | None:
    """The owner check for `run`: --owner-check-url, else the one URL active campaigns name."""
    active = (CampaignState.APPROVED, CampaignState.SENDING)
    configs = [
        CampaignConfig.model_validate(c.config) for c in repo.list_campaigns() if c.state in active
    ]
    url = args.owner_check_url
    if not url:
        urls = sorted({c.owner_check.url for c in configs if c.owner_check.url})
        if len(urls) > 1:
            raise _Usage(
                f"active campaigns name {len(urls)} owner-check URLs ({', '.join(urls)}): "
                "choose one with --owner-check-url"
            )
        url = urls[0] if urls else None
    if not url:
        return None
    cfg = configs[0].owner_check if configs else CampaignConfig().owner_check
    return HttpOwnerCheckClient(url, timeout=cfg.timeout_s, batch_size=cfg.batch_size)


def _print_tick(tick: TickResult) -> None:
    for result in tick.sent:
        excluded = sum(result.excluded.values())
        print(
            f"{_when(tick.at)}: campaign {result.campaign_id}: handed over "
            f"{result.handed_over} (deferred {result.deferred}), excluded {excluded}, "
            f"errors {len(result.errors)}; {result.state}",
            flush=True,
        )
    for cid, why in tick.failed.items():
        print(f"{_when(tick.at)}: campaign {cid}: {why} (retried next tick)", file=sys.stderr)


class _PrintingScheduler(CampaignScheduler):
    async def tick(self, now: float) -> TickResult:
        result = await super().tick(now)
        _print_tick(result)
        return result


async def _run_loop(
    args: argparse.Namespace, repo: CampaignRepository, store: MessageStore, clock: Clock
) -> int:
    from sms.bus import Publisher, bus_from_url

    runner = CampaignRunner(repo, store=store, owner_check=_run_owner_check(args, repo))
    submitter = StoreSubmitter(store, clock)
    if args.once or args.now is not None:
        tick = await CampaignScheduler(runner, submitter, lead=args.lead).tick(clock.now())
        _print_tick(tick)
        if not tick.sent and not tick.failed:
            waiting = ", ".join(f"{c} at {_when(at)}" for c, at in tick.waiting.items())
            print(f"nothing due{'; waiting: ' + waiting if waiting else ''}")
        return 1 if tick.failed or any(r.errors for r in tick.sent) else 0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    print(f"smsh campaign run: every {args.interval:g} s on {args.db}; Ctrl-C stops", flush=True)
    async with bus_from_url(args.bus) as bus:
        progress = (
            CampaignProgressPublisher(repo, store, Publisher(bus, "gateway", args.instance))
            if args.bus
            else None
        )
        scheduler = _PrintingScheduler(
            runner, submitter, interval=args.interval, lead=args.lead, progress=progress
        )
        await run_campaign_service(scheduler, clock, stop, progress)
    return 0


def _run(args: argparse.Namespace, repo: CampaignRepository, clock: Clock) -> int:
    if args.interval <= 0 or args.lead < 0:
        raise _Usage("--interval must be positive and --lead not negative")
    with MessageStore(args.db) as store:
        return asyncio.run(_run_loop(args, repo, store, clock))


def _print_report(report: CampaignReport) -> None:
    print(f"campaign {report.campaign_id} ({report.name}): {report.state}")
    print(f"  created by {report.created_by} at {_when(report.created_at)}")
    if report.approved_by:
        print(f"  approved by {report.approved_by} at {_when(report.approved_at)}")
    if report.override_reason:
        print(f"  lint override: {report.override_reason}")
    rows: list[list[object]] = [
        ["rows", report.rows],
        ["filtered", report.filtered],
        ["invalid", report.invalid_total],
    ]
    rows.extend([f"  {k}", v] for k, v in report.invalid.items())
    rows.append(["duplicates", report.duplicates])
    rows.append(["recipients", report.recipients])
    rows.append(["excluded", sum(report.excluded.values())])
    rows.extend([f"  {k}", v] for k, v in report.excluded.items())
    rows.extend([f"stopped ({k})", v] for k, v in report.stopped.items())
    rows.append(["sent", report.sent])
    rows.append(["  deferred (quiet hours)", report.deferred])
    for state in (
        MessageState.DELIVERED,
        MessageState.FAILED,
        MessageState.EXPIRED,
        MessageState.PARTIALLY_DELIVERED,
        MessageState.CANCELLED,
    ):
        rows.append([f"  {state}", report.state_count(state)])
    in_flight = sum(
        report.state_count(s)
        for s in (
            MessageState.QUEUED,
            MessageState.SCHEDULED,
            MessageState.SUBMITTING,
            MessageState.SUBMITTED,
        )
    )
    rows.append(["  in flight", in_flight])
    if report.errors or report.in_doubt or report.skipped:
        rows.append(["submit errors", report.errors])
        rows.append(["in doubt", report.in_doubt])
        rows.append(["skipped (superseded)", report.skipped])
    rows.append(["replied", report.replied])
    rows.append(["paid", report.paid])
    rows.append(["units", report.units])
    rows.append(["cost (tax excl.)", _yen(report.cost)])
    print(table(["", "count"], rows, right=(1,)))


def _report(args: argparse.Namespace, repo: CampaignRepository) -> int:
    cid = repo.resolve_id(args.id)
    with MessageStore(args.db) as store:
        report = build_report(repo, store, cid)
        if args.csv:
            Path(args.csv).write_text(detail_csv(repo, store, cid), encoding="utf-8")
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        _print_report(report)
        if args.csv:
            print(f"detail written to {args.csv}")
    return 0


def _export(args: argparse.Namespace, repo: CampaignRepository) -> int:
    cid = repo.resolve_id(args.id)
    text = problems_csv(repo, cid) if args.what == "problems" else excluded_csv(repo, cid)
    if args.csv == "-":
        sys.stdout.write(text)
    else:
        Path(args.csv).write_text(text, encoding="utf-8")
        print(f"{args.what} of {cid}: {text.count(chr(10)) - 1} lines written to {args.csv}")
    return 0


def _mark_paid(args: argparse.Namespace, repo: CampaignRepository, now: float) -> int:
    cid = repo.resolve_id(args.id)
    lines = CampaignRunner(repo).mark_paid(cid, args.phone, now=now, by=_operator(args.by))
    print(f"campaign {cid}: {args.phone} marked paid (line {', '.join(map(str, lines))})")
    return 0


def _cancel(args: argparse.Namespace, repo: CampaignRepository, now: float) -> int:
    cid = repo.resolve_id(args.id)
    CampaignRunner(repo).cancel(cid, by=args.by, now=now, reason=args.reason)
    print(f"campaign {cid} cancelled by {args.by}")
    return 0


def _list(repo: CampaignRepository) -> int:
    campaigns = repo.list_campaigns()
    if not campaigns:
        print("no campaigns")
        return 0
    print(
        table(
            ["id", "name", "state", "created by", "approved by", "rows", "recipients", "created"],
            [
                [
                    c.id,
                    fit(c.name, 30),
                    c.state.value,
                    c.created_by,
                    c.approved_by or "-",
                    c.summary.get("rows", 0),
                    c.summary.get("ok", 0),
                    _when(c.created_at),
                ]
                for c in campaigns
            ],
            right=(5, 6),
        )
    )
    return 0


def run(args: argparse.Namespace) -> int:
    """Run one `smsh campaign` action; returns the exit code."""
    prog = f"smsh campaign {args.action}"
    try:
        clock = _clock(args)
        now = clock.now()
        with CampaignRepository(args.db) as repo:
            if args.action == "create":
                return _create(args, repo, now)
            if args.action == "preview":
                return _preview(args, repo)
            if args.action == "approve":
                return _approve(args, repo, now)
            if args.action == "send":
                return _send(args, repo, clock)
            if args.action == "run":
                return _run(args, repo, clock)
            if args.action == "report":
                return _report(args, repo)
            if args.action == "export":
                return _export(args, repo)
            if args.action == "mark-paid":
                return _mark_paid(args, repo, now)
            if args.action == "cancel":
                return _cancel(args, repo, now)
            return _list(repo)
    except (
        _Usage,
        CsvReadError,
        ColumnMappingError,
        TemplateError,
        CampaignConfigError,
        UnknownCampaign,
    ) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except (
        ApprovalError,
        NotApprovedError,
        IllegalCampaignTransition,
        OwnerCheckRequired,
        OwnerCheckError,
        QuietHoursError,
        CampaignError,
    ) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
