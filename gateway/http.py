"""The gateway's HTTP JSON API (aiohttp), a thin layer over `Gateway`.

Endpoints:
    * ``POST /messages`` — submit one message (a JSON object) or several (a JSON array, all or
      none). 202 ``{"id": 17, "state": "queued"}`` (or ``{"ids": [...]}``) once stored;
      400 ``invalid_request`` for a body that does not validate; 503 ``draining`` while an operator
      drains the gateway (retry later or elsewhere) and ``owner_check_failed`` while the owner
      check cannot be made; 422 with the rejection ``reason`` (``invalid_number``,
      ``suppressed``, ``too_long``, ``owner_check_blocked``, ``quiet_hours``...). A message may
      carry ``tlvs`` (``[{"tag": 5376, "hex": "..."}]``), sent on every part.
    * ``GET /messages/{id}`` — the stored status with parts and attempts; 404 if unknown.
    * ``GET /messages?state=&destination=&client_ref=&campaign_id=&after_id=&limit=`` —
      summaries by id with keyset paging (``next_after_id``).
    * ``GET /mo?source=&after_id=&limit=`` — stored MO messages.
    * ``GET /health`` — binds, message counts and counters; 200 when every bind is bound
      ("ok"), 200 "degraded" when some are, 503 "down" when none is.
    * ``/campaigns/...`` — when the daemon runs the campaigns (`make_app` ``campaigns=``): the
      campaign API of `gateway.campaigns.http` mounted there (``GET /campaigns/``,
      ``GET /campaigns/{id}``, ``GET /campaigns/{id}/preview``, ``POST /campaigns/{id}/approve``,
      ``/cancel``, ``/paid``; see that module for bodies and codes). ``GET /campaigns``
      redirects (308) to ``/campaigns/``.

Invariants:
    * Every error body is ``{"error": CODE, "detail": TEXT}`` with a stable CODE.
    * A 202 means the message is committed (the `Gateway.submit` contract).
    * Request bodies are validated by pydantic models that forbid unknown fields.
"""

from __future__ import annotations

import dataclasses
import json
from enum import Enum
from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.errors import UnknownMessageError
from gateway.gateway import Gateway, SubmitRequest
from gateway.routing import RejectReason, SubmitRejected
from gateway.store import MessageState

__all__ = ["GATEWAY_KEY", "SubmitBody", "make_app", "start_http"]

GATEWAY_KEY: Final = web.AppKey("gateway", Gateway)
#: Largest accepted request body (a batch of a few thousand messages).
MAX_BODY: Final[int] = 8 * 1024 * 1024
MAX_LIMIT: Final[int] = 1000


class TlvBody(BaseModel):
    """One optional parameter of a submitted message (e.g. a vendor TLV)."""

    model_config = ConfigDict(extra="forbid")

    tag: int = Field(ge=0, le=0xFFFF)
    """The 2-octet tag."""
    hex: str = Field(pattern=r"^(?:[0-9A-Fa-f]{2})*$", max_length=2 * 0xFFFF)
    """The value octets in hex."""


class SubmitBody(BaseModel):
    """The JSON body of ``POST /messages`` (one message)."""

    model_config = ConfigDict(extra="forbid")

    destination: str = Field(min_length=1, max_length=64)
    """Recipient number."""
    text: str = Field(min_length=1)
    """Message text."""
    source: str | None = None
    """Sender ID (default: the route's)."""
    client_ref: str | None = Field(default=None, max_length=200)
    """Your reference."""
    priority: int = Field(default=0, ge=0, le=9)
    """Higher goes first."""
    validity: float | None = Field(default=None, gt=0)
    """Seconds the message stays sendable."""
    not_before: float | None = None
    """Epoch seconds before which it is not sent."""
    route: str | None = None
    """Route name."""
    campaign_id: str | None = None
    """Owning campaign."""
    metadata: dict[str, Any] | None = None
    """Free JSON data kept with the message."""
    tlvs: list[TlvBody] = []
    """Optional parameters sent on every part (``{"tag": 5376, "hex": "6b2d3100"}``)."""

    def request(self) -> SubmitRequest:
        """The gateway request."""
        fields = self.model_dump(exclude={"tlvs"})
        return SubmitRequest(**fields, tlvs=[(t.tag, bytes.fromhex(t.hex)) for t in self.tlvs])


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def _default(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=_default)


def _error(status: int, code: str, detail: str) -> web.Response:
    return _json({"error": code, "detail": detail}, status)


def _int_query(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise web.HTTPBadRequest(
            text=_dumps({"error": "invalid_request", "detail": f"{name} must be an integer"}),
            content_type="application/json",
        ) from None
    return max(lo, min(hi, value))


async def _submit(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY_KEY]
    try:
        payload = await request.json(loads=json.loads)
    except ValueError as exc:
        return _error(400, "invalid_request", f"body is not JSON: {exc}")
    batch = isinstance(payload, list)
    items = payload if batch else [payload]
    bodies: list[SubmitBody] = []
    for i, item in enumerate(items):
        try:
            bodies.append(SubmitBody.model_validate(item))
        except ValidationError as exc:
            where = f"[{i}]." if batch else ""
            problems = "; ".join(
                f"{where}{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            return _error(400, "invalid_request", problems)
    if not bodies:
        return _error(400, "invalid_request", "no messages")
    try:
        ids = await gateway.submit_many([b.request() for b in bodies])
    except SubmitRejected as exc:
        # Draining is temporary (another instance, or this one after a restart, takes the
        # message), so is an owner check that could not be made: 503 tells an HTTP client to
        # retry; everything else is the request's fault.
        temporary = {RejectReason.DRAINING, RejectReason.OWNER_CHECK_FAILED}
        status = 503 if exc.reason in temporary else 422
        return _error(status, exc.reason.value, exc.detail)
    if batch:
        return _json({"ids": ids, "state": "queued"}, 202)
    return _json({"id": ids[0], "state": "queued"}, 202)


async def _status(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY_KEY]
    try:
        message_id = int(request.match_info["id"])
    except ValueError:
        return _error(400, "invalid_request", "message id must be an integer")
    try:
        status = await gateway.status(message_id)
    except UnknownMessageError:
        return _error(404, "not_found", f"no message with id {message_id}")
    return _json(dataclasses.asdict(status))


async def _list(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY_KEY]
    state: MessageState | None = None
    if "state" in request.query:
        try:
            state = MessageState(request.query["state"])
        except ValueError:
            known = ", ".join(s.value for s in MessageState)
            return _error(400, "invalid_request", f"state must be one of: {known}")
    limit = _int_query(request, "limit", 100, 1, MAX_LIMIT)
    rows = await gateway.list_messages(
        state=state,
        destination=request.query.get("destination"),
        client_ref=request.query.get("client_ref"),
        campaign_id=request.query.get("campaign_id"),
        after_id=_int_query(request, "after_id", 0, 0, 2**62),
        limit=limit,
    )
    return _json(
        {
            "messages": [dataclasses.asdict(r) for r in rows],
            "next_after_id": rows[-1].id if len(rows) == limit else None,
        }
    )


async def _mo(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY_KEY]
    limit = _int_query(request, "limit", 100, 1, MAX_LIMIT)
    rows = await gateway.list_mo(
        source=request.query.get("source"),
        after_id=_int_query(request, "after_id", 0, 0, 2**62),
        limit=limit,
    )
    return _json(
        {
            "mo": [dataclasses.asdict(r) for r in rows],
            "next_after_id": rows[-1].id if len(rows) == limit else None,
        }
    )


async def _health(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY_KEY]
    binds = gateway.binds()
    bound = sum(1 for b in binds if b.state == "bound")
    status = "ok" if bound == len(binds) else ("degraded" if bound else "down")
    counts = await gateway.counts()
    stats = gateway.stats
    body = {
        "status": status,
        "instance": gateway.config.instance,
        "binds": [dataclasses.asdict(b) for b in binds],
        "counts": {state.value: n for state, n in counts.items()},
        "stats": {
            "parts_sent": stats.parts_sent,
            "responses_ok": stats.resp_ok,
            "receipts": stats.receipts,
            "mo": stats.mo,
            "throttled": stats.throttled,
            "timeouts": stats.timeouts,
            "errors": dict(stats.errors),
            "unmatched_receipts": gateway.unmatched_receipts,
        },
    }
    return _json(body, 503 if status == "down" else 200)


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Unknown paths and methods answer with the JSON error body too."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException as exc:
        if exc.content_type == "application/json":
            raise
        return _error(exc.status, "not_found" if exc.status == 404 else "http_error", exc.reason)


def make_app(gateway: Gateway, *, campaigns: web.Application | None = None) -> web.Application:
    """The aiohttp application serving `gateway`.

    Args:
        gateway: A started gateway (the app does not start or stop it).
        campaigns: The campaign API to mount under ``/campaigns`` (for instance
            `gateway.campaigns.service.CampaignService.app`); None: no campaign endpoints.

    Returns:
        The application.
    """
    app = web.Application(client_max_size=MAX_BODY, middlewares=[_errors])
    app[GATEWAY_KEY] = gateway
    app.router.add_post("/messages", _submit)
    app.router.add_get("/messages", _list)
    app.router.add_get("/messages/{id}", _status)
    app.router.add_get("/mo", _mo)
    app.router.add_get("/health", _health)
    if campaigns is not None:
        app.router.add_get("/campaigns", _to_campaigns)  # before the prefix, which 404s it
        app.add_subapp("/campaigns", campaigns)
    return app


async def _to_campaigns(request: web.Request) -> web.Response:
    """``GET /campaigns`` -> 308 to the mounted app's list, ``/campaigns/``."""
    query = f"?{request.query_string}" if request.query_string else ""
    return web.Response(status=308, headers={"Location": f"/campaigns/{query}"})


async def start_http(
    gateway: Gateway, host: str, port: int, *, campaigns: web.Application | None = None
) -> tuple[web.AppRunner, int]:
    """Serve the API on `host:port` (port 0: any free port).

    Args:
        gateway: A started gateway.
        host: Listen address.
        port: Listen port (0: any free port).
        campaigns: The campaign API to mount under ``/campaigns`` (see `make_app`).

    Returns:
        The runner (call ``await runner.cleanup()`` to stop) and the bound port.
    """
    runner = web.AppRunner(make_app(gateway, campaigns=campaigns), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = port
    for address in runner.addresses:
        bound = int(address[1])
        break
    return runner, bound
