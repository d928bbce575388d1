"""Dunning (督促) campaigns: each way a reminder campaign goes wrong is a checked, tested step.

Modules, from pure to I/O:

* `values` — typed conversion of CSV cells (amounts, dates, zones).
* `template` — merge-field templates with a formatter that cannot reach into Python objects.
* `quiet` — re-export of `gateway.policy.quiet` (quiet hours in the recipient's local time;
  deferral; validity capped at window close), kept for the old import path.
* `schedule` — once / monthly (day 31 -> last day) / reminder sequences; the catch-up rule.
* `lint` — name present, numeric registered sender, no threats in a first notice, allowlisted
  URLs, no link shorteners, a contact number.
* `state` — the campaign state machine (draft -> approved -> sending -> done / cancelled).
* `csvimport` — decode (UTF-8 / CP932), map columns, validate rows with line numbers.
* `preview` — render, count characters / parts / billing units, price, lint.
* `config` — the campaign config and template-file models (pydantic).
* `ownercheck` — re-export of `gateway.ownercheck` (the 他人接続判定 client protocol, its HTTP
  client and a fake), kept for the old import path.
* `submit` — the `Submitter` port to the gateway, `GatewaySubmitter` over a running `Gateway`
  (with the harness vendor TLVs) and `StoreSubmitter` straight into `MessageStore`.
* `repository` — campaign tables in the gateway's SQLite file, own connection.
* `runner` — `CampaignRunner`: create, preview, approve, send, mark paid, due sends.
* `report` — per-campaign counts and CSV / JSON exports.
* `progress` — `CampaignProgress` events on the bus when a campaign changes (at most ~1/s).
* `scheduler` — `CampaignScheduler`: releases due sends by the clock (``smsh campaign run``).
* `http` — the campaigns' HTTP API (list, report, preview, approve, cancel, paid); not
  imported here (aiohttp), mount it with ``add_subapp("/campaigns", make_campaign_app(...))``.
* `service` — `running_campaigns(gateway)`: runner, scheduler, progress publisher and API
  of a running gateway, what ``smsh gateway serve`` runs; not imported here.

`gateway.campaigns` never imports `simulator` (ARCHITECTURE rule 2).
"""

from __future__ import annotations

from gateway.campaigns.config import (
    CampaignConfig,
    TemplateSpec,
    load_config,
    load_template,
    parse_template_text,
)
from gateway.campaigns.errors import (
    CAMPAIGN_ERRORS,
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
    ScheduleError,
    TemplateError,
    UnknownCampaign,
)
from gateway.campaigns.preview import Preview
from gateway.campaigns.progress import CampaignProgressPublisher, progress_of
from gateway.campaigns.report import CampaignReport, build_report
from gateway.campaigns.repository import CampaignRepository
from gateway.campaigns.runner import CampaignRunner, CreateResult, DueSend, SendResult
from gateway.campaigns.scheduler import CampaignScheduler, TickResult, run_campaign_service
from gateway.campaigns.state import CampaignEvent, CampaignState
from gateway.campaigns.submit import GatewaySubmitter, StoreSubmitter, StoreView, Submitter
from gateway.ownercheck import (
    FakeOwnerCheckClient,
    HttpOwnerCheckClient,
    OwnerCheckClient,
    OwnerResult,
    OwnerStatus,
)

__all__ = [
    "CAMPAIGN_ERRORS",
    "ApprovalError",
    "CampaignConfig",
    "CampaignConfigError",
    "CampaignError",
    "CampaignEvent",
    "CampaignProgressPublisher",
    "CampaignReport",
    "CampaignRepository",
    "CampaignRunner",
    "CampaignScheduler",
    "CampaignState",
    "ColumnMappingError",
    "CreateResult",
    "CsvReadError",
    "DueSend",
    "FakeOwnerCheckClient",
    "GatewaySubmitter",
    "HttpOwnerCheckClient",
    "IllegalCampaignTransition",
    "NotApprovedError",
    "OwnerCheckClient",
    "OwnerCheckError",
    "OwnerCheckRequired",
    "OwnerResult",
    "OwnerStatus",
    "Preview",
    "QuietHoursError",
    "ScheduleError",
    "SendResult",
    "StoreSubmitter",
    "StoreView",
    "Submitter",
    "TemplateError",
    "TemplateSpec",
    "TickResult",
    "UnknownCampaign",
    "build_report",
    "load_config",
    "load_template",
    "parse_template_text",
    "progress_of",
    "run_campaign_service",
]
