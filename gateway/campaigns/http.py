"""The campaigns' HTTP JSON API (aiohttp): list, report, preview, approve, cancel, mark paid.

`make_campaign_app(runner)` is an `aiohttp.web.Application` meant to be mounted under the
gateway's API (``app.add_subapp("/campaigns", make_campaign_app(runner))``; ``smsh gateway
serve`` does so through `gateway.campaigns.service.CampaignService.app` and
``gateway.http.make_app(gateway, campaigns=...)``) or served alone.
Paths below are relative to the mount point:

    * ``GET /`` — every campaign: id, name, state, created_by / approved_by with times.
    * ``GET /{id}`` — the report (`CampaignReport.to_dict`); ``{id}`` is ``cmp-7`` or ``7``.
    * ``GET /{id}/preview?limit=N`` — the preview: per-recipient text, characters, parts,
      units, cost, over-length messages and lint findings.
    * ``POST /{id}/approve`` ``{"by": OPERATOR, "override_reason": TEXT?}`` — approval by a
      second operator (the same rules as ``smsh campaign approve``): 200 with the new state;
      409 ``approval_refused`` (same operator, over-length messages, lint errors without a
      reason) or ``illegal_transition`` (not a draft).
    * ``POST /{id}/cancel`` ``{"by": OPERATOR, "reason": TEXT?}`` — 200, or 409.
    * ``POST /{id}/paid`` ``{"phone": NUMBER, "by": OPERATOR?}`` — mark a recipient paid
      (later reminders stop); 200 with the lines marked, 422 ``invalid_request`` for a number
      that is not a recipient.

Invariants:
    * Every error body is ``{"error": CODE, "detail": TEXT}`` with a stable CODE, like the
      gateway's API; 404 ``unknown_campaign`` for an unknown id.
    * The operator's name is taken from the request body and recorded with the time of the
      injected clock; this API authenticates no one (put it behind the operators' proxy).
    * A change (approve, cancel, paid) calls `on_change(campaign_id)`, so a scheduler can
      tick at once and the progress publisher can report it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.campaigns.errors import (
    CAMPAIGN_ERRORS,
    ApprovalError,
    IllegalCampaignTransition,
    UnknownCampaign,
)
from gateway.campaigns.report import build_report
from gateway.campaigns.runner import CampaignRunner
from sms.clock import Clock, SystemClock

__all__ = [
    "RUNNER_KEY",
    "ApproveBody",
    "CancelBody",
    "PaidBody",
    "make_campaign_app",
]

RUNNER_KEY: Final = web.AppKey("campaign_runner", CampaignRunner)
_CLOCK_KEY: Final = web.AppKey("campaign_clock", Clock)
_CHANGED_KEY: Final[web.AppKey[Callable[[str], None]]] = web.AppKey("campaign_on_change")
#: Largest accepted request body.
MAX_BODY: Final[int] = 64 * 1024
#: Most recipients a preview lists.
MAX_PREVIEW: Final[int] = 1000


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApproveBody(_Body):
    """The JSON body of ``POST /{id}/approve``."""

    by: str = Field(min_length=1, max_length=100)
    """The approving operator (must differ from the creator)."""
    override_reason: str | None = Field(default=None, max_length=2000)
    """Why the lint errors are acceptable (needed only when there are errors)."""


class CancelBody(_Body):
    """The JSON body of ``POST /{id}/cancel``."""

    by: str = Field(min_length=1, max_length=100)
    """The cancelling operator."""
    reason: str = Field(default="", max_length=2000)
    """Why."""


class PaidBody(_Body):
    """The JSON body of ``POST /{id}/paid``."""

    phone: str = Field(min_length=1, max_length=64)
    """The recipient's number, in any spelling."""
    by: str | None = Field(default=None, max_length=100)
    """The operator recording the payment."""


def _error(status: int, code: str, detail: str) -> web.Response:
    return web.json_response({"error": code, "detail": detail}, status=status)


_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except UnknownCampaign as exc:
        return _error(404, "unknown_campaign", str(exc))
    except ApprovalError as exc:
        return _error(409, "approval_refused", str(exc))
    except IllegalCampaignTransition as exc:
        return _error(409, "illegal_transition", str(exc))
    except CAMPAIGN_ERRORS as exc:  # CampaignError, or a moved OwnerCheck/QuietHours error
        return _error(422, "invalid_request", str(exc))


async def _parse(request: web.Request, model: type[_Body]) -> Any:
    try:
        data = json.loads(await request.read() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "invalid_request", "detail": f"not JSON: {exc}"}),
            content_type="application/json",
        ) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "invalid_request", "detail": detail}),
            content_type="application/json",
        ) from None


def _campaign_id(request: web.Request) -> str:
    return request.app[RUNNER_KEY].repository.resolve_id(request.match_info["id"])


def _changed(request: web.Request, campaign_id: str) -> None:
    request.app[_CHANGED_KEY](campaign_id)


async def _list(request: web.Request) -> web.Response:
    runner = request.app[RUNNER_KEY]
    return web.json_response(
        {
            "campaigns": [
                {
                    "id": c.id,
                    "name": c.name,
                    "state": c.state.value,
                    "created_by": c.created_by,
                    "created_at": c.created_at,
                    "approved_by": c.approved_by,
                    "approved_at": c.approved_at,
                }
                for c in runner.repository.list_campaigns()
            ]
        }
    )


async def _report(request: web.Request) -> web.Response:
    runner = request.app[RUNNER_KEY]
    report = build_report(runner.repository, runner.store, _campaign_id(request))
    return web.json_response(report.to_dict())


async def _preview(request: web.Request) -> web.Response:
    runner = request.app[RUNNER_KEY]
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        return _error(400, "invalid_request", "limit must be an integer")
    if not 0 <= limit <= MAX_PREVIEW:
        return _error(400, "invalid_request", f"limit must be 0..{MAX_PREVIEW}")
    preview = runner.preview(_campaign_id(request))
    return web.json_response(preview.to_dict(limit=limit))


async def _approve(request: web.Request) -> web.Response:
    runner = request.app[RUNNER_KEY]
    cid = _campaign_id(request)
    body: ApproveBody = await _parse(request, ApproveBody)
    runner.approve(
        cid,
        by=body.by,
        now=request.app[_CLOCK_KEY].now(),
        override_reason=body.override_reason,
    )
    _changed(request, cid)
    record = runner.repository.get(cid)
    return web.json_response(
        {
            "id": cid,
            "state": record.state.value,
            "created_by": record.created_by,
            "approved_by": record.approved_by,
            "approved_at": record.approved_at,
            "override_reason": record.override_reason,
        }
    )


async def _cancel(request: web.Request) -> web.Response:
    runner = request.app[RUNNER_KEY]
    cid = _campaign_id(request)
    body: CancelBody = await _parse(request, CancelBody)
    runner.cancel(cid, by=body.by, now=request.app[_CLOCK_KEY].now(), reason=body.reason)
    _changed(request, cid)
    return web.json_response({"id": cid, "state": runner.repository.get(cid).state.value})


async def _paid(request: web.Request) -> web.Response:
    runner = request.app[RUNNER_KEY]
    cid = _campaign_id(request)
    body: PaidBody = await _parse(request, PaidBody)
    lines = runner.mark_paid(cid, body.phone, now=request.app[_CLOCK_KEY].now(), by=body.by)
    _changed(request, cid)
    return web.json_response({"id": cid, "lines": lines})


def make_campaign_app(
    runner: CampaignRunner,
    *,
    clock: Clock | None = None,
    on_change: Callable[[str], None] | None = None,
) -> web.Application:
    """The campaigns API (see the module docstring).

    Args:
        runner: The campaign runner (its repository, store view and owner check).
        clock: Time of approvals and marks (default: the system clock).
        on_change: Called with the campaign id after a change.

    Returns:
        The application, to mount with ``add_subapp`` or to serve alone.
    """
    app = web.Application(middlewares=[_errors], client_max_size=MAX_BODY)
    app[RUNNER_KEY] = runner
    app[_CLOCK_KEY] = clock or SystemClock()
    app[_CHANGED_KEY] = on_change or (lambda _cid: None)
    app.router.add_get("/", _list)
    app.router.add_get("/{id}", _report)
    app.router.add_get("/{id}/preview", _preview)
    app.router.add_post("/{id}/approve", _approve)
    app.router.add_post("/{id}/cancel", _cancel)
    app.router.add_post("/{id}/paid", _paid)
    return app
