"""The simulator's HTTP JSON API (aiohttp): owner check (他人接続判定), handset views, health.

Endpoints::

    GET  /v1/health
    GET  /v1/owner-check?number=...&reference_date=YYYY-MM-DD
    POST /v1/owner-check/bulk        {"queries": [{"number": "+8190...",
                                                   "reference_date": "YYYY-MM-DD"}, ...]}
    GET  /v1/handsets/{number}
    GET  /v1/handsets/{number}/history

The bulk endpoint speaks the contract of `gateway.ownercheck.HttpOwnerCheckClient`::

    200 {"as_of": "2025-12-02", "queried_at": "...", "database": {...},
         "results": [{"number": "+8190...", "e164": "+8190...", "reference_date": "...",
                      "result": "changed" | "unchanged" | "no_data" | "invalid",
                      "last_change_date": "YYYY-MM-DD" | null}, ...]}

Owner-check semantics are the carrier model's (`CarrierNetwork.owner_check`, built on
`simulator.network.ownership.OwnershipDatabase`; DOMAIN §2, §6.3, FCC RND): ``changed`` when a
visible change date (disconnect or reassignment) is on or after the reference date
(``same_day_counts``; otherwise from the next day on), ``no_data`` when the reference date is
before the database's ``history_start``, else ``unchanged``. ``last_change_date`` is the most
recent *disconnect* date the database can see (RND keeps only that one), or null. The
database is stale by ``db_lag_days``: ``as_of`` is the newest change date it knows (today's
local date in the network's zone minus the lag), so a reassignment after ``as_of`` still reads
``unchanged``. The ``database`` block states these settings in every answer.

Handsets: ``GET /v1/handsets/{number}`` gives ``{"number", "e164", "known", "threads"}`` with
``threads`` an object keyed by the exact displayed sender (the handset's thread key, in order of
each thread's first message); each message has ``text``, ``at`` (epoch s), ``time`` (ISO, the
recipient's zone), ``account``, ``keys``, ``parts``, ``missing`` and boolean ``flags``:
``spoofed``, ``misdelivered``, ``quiet_hours``, ``relabelled``, ``genuine``, ``replaced``,
``incomplete`` (from the model's message flags; ``quiet_hours`` is evaluated at the time the
message became visible, in the recipient's zone, when the network's quiet-hours audit is
enabled). ``/history`` gives the true ownership timeline (not lagged: an oracle for tests)
with each change marked ``visible`` when the database can see it at ``as_of``.

Errors: every error body is ``{"error": CODE, "detail": TEXT}`` with a stable CODE, plus
``field`` and ``index`` when one request field is to blame:

    400 invalid_request   body not JSON / not an object / ``queries`` missing or not a list /
                          an item not an object, a missing or non-string field, an unknown field
    400 invalid_date      a ``reference_date`` that is not an ISO ``YYYY-MM-DD`` calendar date
    400 invalid_number    the number of ``GET /v1/owner-check`` or of a handset path
                          (in bulk, an invalid number is a per-item ``"result": "invalid"``
                          with ``reason`` and ``detail``: the rest of the batch is answered)
    404 unknown_number    the history of a number the network has never held
    404 not_found, 405 method_not_allowed, 413 batch_too_large / body_too_large, 500 internal

Invariants:
    * Read-only: the API calls only `owner_check`, `history`, `subscriber` and `handset`. They
      may fill the population's memo (a subscriber is a pure function of seed and number), so
      lookups cannot change any message's fate.
    * ``now`` comes from the injected `sms.clock.Clock`, read once per request: every item of a
      batch is answered at the same instant (one ``as_of``).
    * Numbers are normalised with `sms.numbers.try_parse` under the population's policy
      (060 and M2M allowed) before the model sees them; answers echo each number exactly as
      queried (the client keys results by the string it sent).
    * A batch is checked whole before any item is answered: a malformed item or date fails the
      request (400, naming ``queries[i].field``); more than ``max_batch`` items fail it (413).
    * The handler runs on the event loop of the server that owns the network; nothing here
      blocks or sleeps; a 1,000-item batch takes about 25 ms end to end on loopback.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Final
from zoneinfo import ZoneInfo

from aiohttp import web

from simulator.network import CarrierNetwork, HandsetView, InboxMessage, NumberHistory
from simulator.network.ownership import OwnershipDatabase
from simulator.network.quiet import QuietHours
from sms.clock import Clock
from sms.numbers import InvalidNumber, Msisdn, try_parse

__all__ = [
    "BULK_PATH",
    "DEFAULT_MAX_BATCH",
    "HANDSET_PATH",
    "HEALTH_PATH",
    "HISTORY_PATH",
    "OWNER_CHECK_PATH",
    "create_lookup_app",
    "running_lookup",
]

logger = logging.getLogger("smsh.simulator.lookup")

HEALTH_PATH: Final[str] = "/v1/health"
OWNER_CHECK_PATH: Final[str] = "/v1/owner-check"
BULK_PATH: Final[str] = "/v1/owner-check/bulk"
HANDSET_PATH: Final[str] = "/v1/handsets/{number}"
HISTORY_PATH: Final[str] = "/v1/handsets/{number}/history"

#: Most queries in one bulk request unless configured otherwise.
DEFAULT_MAX_BATCH: Final[int] = 1000
#: Request body budget per allowed query (a query is about 60 bytes of JSON), and the floor.
_BODY_BYTES_PER_QUERY: Final[int] = 512
_MIN_BODY_BYTES: Final[int] = 1024 * 1024
_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_QUERY_FIELDS: Final = frozenset({"number", "reference_date"})
_YEAR_DAYS: Final[float] = 365.25


class _RequestProblem(Exception):
    """A request the API refuses as a whole (turned into a JSON error response)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        field: str | None = None,
        index: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.index = index
        self.extra = dict(extra or {})

    def response(self) -> web.Response:
        body: dict[str, Any] = {"error": self.code, "detail": self.detail}
        if self.field is not None:
            body["field"] = self.field
        if self.index is not None:
            body["index"] = self.index
        body.update(self.extra)
        return _json(body, self.status)


def _json(data: Mapping[str, Any], status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False))


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _where(index: int | None, name: str) -> str:
    return name if index is None else f"queries[{index}].{name}"


def _parse_date(value: object, *, index: int | None) -> date:
    """An ISO ``YYYY-MM-DD`` calendar date, or a 400 naming the field (and the item)."""
    where = _where(index, "reference_date")
    if value is None:
        raise _RequestProblem(
            400, "invalid_request", f"{where} is required", field="reference_date", index=index
        )
    if not isinstance(value, str):
        raise _RequestProblem(
            400,
            "invalid_date",
            f"{where} must be a string YYYY-MM-DD, got {type(value).__name__}",
            field="reference_date",
            index=index,
        )
    # date.fromisoformat alone also takes "20240401" and week dates: the contract is YYYY-MM-DD.
    if _DATE_RE.fullmatch(value) is None:
        raise _RequestProblem(
            400,
            "invalid_date",
            f"{where} must be YYYY-MM-DD, got {value[:40]!r}",
            field="reference_date",
            index=index,
        )
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise _RequestProblem(
            400,
            "invalid_date",
            f"{where} is not a calendar date: {value!r} ({exc})",
            field="reference_date",
            index=index,
        ) from None


def _parse_number(raw: str) -> Msisdn | InvalidNumber:
    # The population reads numbers with 060 and M2M allowed; so does the database.
    return try_parse(raw, allow_060=True, allow_m2m=True)


@dataclass(frozen=True, slots=True)
class _Query:
    """One validated bulk item."""

    raw: str
    """The number exactly as queried (echoed back)."""
    number: Msisdn | InvalidNumber
    """The normalised number, or why it is not one."""
    reference: date
    """The reference date."""


class _Lookup:
    """The request handlers over one network and clock."""

    def __init__(self, network: CarrierNetwork, clock: Clock, max_batch: int) -> None:
        config = network.config
        self._network = network
        self._clock = clock
        self._max_batch = max_batch
        self._tz = ZoneInfo(config.timezone)
        cfg = config.owner_check
        # The network keeps its OwnershipDatabase private; this twin is built from the same
        # configuration with the same rule for the default history start, so `as_of` and
        # `history_start` are what `network.owner_check` applies (a unit test pins the two).
        history_start = cfg.history_start or (
            config.epoch.astimezone(self._tz).date()
            - timedelta(days=round(config.recycling.history_years * _YEAR_DAYS))
        )
        self._database = OwnershipDatabase(cfg, history_start, self._tz)
        quiet = config.quiet_hours
        self._quiet = QuietHours(quiet.start, quiet.end) if quiet.enabled else None
        self._subscribers = len(network.population)  # fixed once the network is built

    # -- helpers ---------------------------------------------------------------------------

    def _settings(self) -> dict[str, Any]:
        cfg = self._network.config.owner_check
        return {
            "history_start": self._database.history_start.isoformat(),
            "db_lag_days": cfg.db_lag_days,
            "same_day_counts": cfg.same_day_counts,
            "unknown_number": cfg.unknown_number,
            "timezone": self._network.config.timezone,
        }

    def _stamp(self, now: float) -> dict[str, Any]:
        return {
            "as_of": self._database.visible_until(now).isoformat(),
            "queried_at": datetime.fromtimestamp(now, self._tz).isoformat(),
            "database": self._settings(),
        }

    def _answer(self, query: _Query, now: float) -> dict[str, Any]:
        number = query.number
        if isinstance(number, InvalidNumber):
            return {
                "number": query.raw,
                "e164": None,
                "reference_date": query.reference.isoformat(),
                "result": "invalid",
                "reason": number.reason.value,
                "detail": number.detail,
                "last_change_date": None,
            }
        national = number.national or number.e164
        result = self._network.owner_check(national, query.reference, now)
        return {
            "number": query.raw,
            "e164": number.e164,
            "reference_date": query.reference.isoformat(),
            "result": result.status.value,
            "last_change_date": _iso(result.last_disconnect),
        }

    def _path_number(self, request: web.Request) -> Msisdn:
        raw = request.match_info["number"]
        number = _parse_number(raw)
        if isinstance(number, InvalidNumber):
            raise _RequestProblem(
                400,
                "invalid_number",
                f"number: {number.detail} (input {raw!r})",
                field="number",
                extra={"reason": number.reason.value},
            )
        return number

    async def _body(self, request: web.Request) -> object:
        try:
            data = await request.read()
        except web.HTTPRequestEntityTooLarge as exc:
            raise _RequestProblem(
                413,
                "body_too_large",
                f"request body larger than {request.client_max_size} bytes "
                f"(batches hold at most {self._max_batch} queries)",
                extra={"max_batch": self._max_batch},
            ) from exc
        try:
            return json.loads(data)
        except ValueError as exc:
            raise _RequestProblem(400, "invalid_request", f"body is not JSON: {exc}") from None

    def _queries(self, payload: object) -> list[_Query]:
        if not isinstance(payload, dict):
            raise _RequestProblem(
                400, "invalid_request", 'body must be a JSON object {"queries": [...]}'
            )
        unknown = sorted(set(payload) - {"queries"})
        if unknown:
            raise _RequestProblem(
                400, "invalid_request", f"unknown field {unknown[0]!r}", field=unknown[0]
            )
        items = payload.get("queries")
        if not isinstance(items, list):
            what = "missing" if items is None else f"a {type(items).__name__}, not a list"
            raise _RequestProblem(400, "invalid_request", f"queries is {what}", field="queries")
        if len(items) > self._max_batch:
            raise _RequestProblem(
                413,
                "batch_too_large",
                f"{len(items)} queries in one request; at most {self._max_batch} are allowed: "
                "split the batch",
                field="queries",
                extra={"max_batch": self._max_batch, "size": len(items)},
            )
        return [self._query(item, i) for i, item in enumerate(items)]

    @staticmethod
    def _query(item: object, index: int) -> _Query:
        if not isinstance(item, dict):
            raise _RequestProblem(
                400,
                "invalid_request",
                f"queries[{index}] must be an object with number and reference_date",
                index=index,
            )
        unknown = sorted(set(item) - _QUERY_FIELDS)
        if unknown:
            raise _RequestProblem(
                400,
                "invalid_request",
                f"queries[{index}] has an unknown field {unknown[0]!r}",
                field=unknown[0],
                index=index,
            )
        raw = item.get("number")
        if not isinstance(raw, str):
            what = "missing" if raw is None else f"a {type(raw).__name__}, not a string"
            raise _RequestProblem(
                400,
                "invalid_request",
                f"queries[{index}].number is {what}",
                field="number",
                index=index,
            )
        reference = _parse_date(item.get("reference_date"), index=index)
        return _Query(raw, _parse_number(raw), reference)

    # -- handlers --------------------------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        """``GET /v1/health``: liveness and the database's settings."""
        del request
        network = self._network
        now = self._clock.now()
        return _json(
            {
                "status": "ok",
                "scenario_id": network.scenario_id,
                "seed": network.seed,
                "subscribers": self._subscribers,
                "max_batch": self._max_batch,
                **self._stamp(now),
            }
        )

    async def owner_check(self, request: web.Request) -> web.Response:
        """``GET /v1/owner-check?number=&reference_date=``: one query."""
        raw = request.query.get("number")
        if raw is None or not raw.strip():
            raise _RequestProblem(400, "invalid_request", "number is required", field="number")
        reference = _parse_date(request.query.get("reference_date"), index=None)
        number = _parse_number(raw)
        if isinstance(number, InvalidNumber):
            raise _RequestProblem(
                400,
                "invalid_number",
                f"number: {number.detail} (input {raw!r})",
                field="number",
                extra={"reason": number.reason.value},
            )
        now = self._clock.now()
        return _json({**self._stamp(now), **self._answer(_Query(raw, number, reference), now)})

    async def owner_check_bulk(self, request: web.Request) -> web.Response:
        """``POST /v1/owner-check/bulk``: up to ``max_batch`` queries, answered in order."""
        queries = self._queries(await self._body(request))
        now = self._clock.now()
        results = [self._answer(q, now) for q in queries]
        logger.debug(
            "owner check: %d queries",
            len(results),
            extra={"event": "smsh.simulator.lookup.bulk", "size": len(results)},
        )
        return _json({**self._stamp(now), "results": results})

    async def handset(self, request: web.Request) -> web.Response:
        """``GET /v1/handsets/{number}``: threads keyed by displayed sender."""
        number = self._path_number(request)
        national = number.national or number.e164
        view: HandsetView = self._network.handset(national)
        subscriber = self._network.subscriber(national)
        tz: tzinfo = self._tz if subscriber is None or subscriber.tz is None else subscriber.tz
        threads = {
            thread.sender: {
                "sender": thread.sender,
                "has_genuine": thread.has_genuine,
                "has_spoof": thread.has_spoof,
                "messages": [self._message(m, tz) for m in thread.messages],
            }
            for thread in view.threads
        }
        return _json(
            {
                "number": view.number,
                "e164": number.e164,
                "known": subscriber is not None,
                "threads": threads,
            }
        )

    def _message(self, message: InboxMessage, tz: tzinfo) -> dict[str, Any]:
        flags = message.flags
        quiet = "quiet_hours" in flags or (
            self._quiet is not None and self._quiet.is_quiet(message.at, tz)
        )
        return {
            "text": message.text,
            "at": message.at,
            "time": datetime.fromtimestamp(message.at, tz).isoformat(),
            "account": message.account,
            "keys": list(message.keys),
            "parts": message.parts,
            "missing": list(message.missing),
            "flags": {
                "spoofed": "spoof" in flags,
                "misdelivered": "misdelivery" in flags,
                "quiet_hours": quiet,
                "relabelled": "relabelled" in flags,
                "genuine": "genuine" in flags,
                "replaced": "replaced" in flags,
                "incomplete": "incomplete" in flags,
            },
        }

    async def history(self, request: web.Request) -> web.Response:
        """``GET /v1/handsets/{number}/history``: the true ownership timeline (not lagged)."""
        number = self._path_number(request)
        national = number.national or number.e164
        history: NumberHistory | None = self._network.history(national)
        if history is None:
            raise _RequestProblem(
                404,
                "unknown_number",
                f"the network has no ownership record of {number.e164}",
                field="number",
            )
        now = self._clock.now()
        as_of = self._database.visible_until(now)
        current = history.tenure_at(now)
        changes: list[tuple[date, str]] = []
        for i, tenure in enumerate(history.tenures):
            if i > 0 and tenure.first_day is not None:
                changes.append((tenure.first_day, "reassigned"))
            if tenure.end_day is not None:
                changes.append((tenure.end_day, "disconnected"))
        changes.sort()
        return _json(
            {
                "number": history.number,
                "e164": number.e164,
                "current_owner": None if current is None else current.owner,
                "tenures": [
                    {
                        "owner": t.owner,
                        "first_day": _iso(t.first_day),
                        "end_day": _iso(t.end_day),
                    }
                    for t in history.tenures
                ],
                "changes": [
                    {"date": day.isoformat(), "kind": kind, "visible": day <= as_of}
                    for day, kind in changes
                ],
                **self._stamp(now),
            }
        )


_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Every error leaves as ``{"error": CODE, "detail": TEXT}``."""
    try:
        return await handler(request)
    except _RequestProblem as problem:
        return problem.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
            exc.status, "http_error"
        )
        return _json({"error": code, "detail": exc.reason}, exc.status)
    except Exception:
        logger.exception(
            "lookup API failed on %s %s",
            request.method,
            request.path,
            extra={"event": "smsh.simulator.lookup.error"},
        )
        return _json({"error": "internal", "detail": "internal error (logged)"}, 500)


def create_lookup_app(
    network: CarrierNetwork, clock: Clock, *, max_batch: int = DEFAULT_MAX_BATCH
) -> web.Application:
    """The aiohttp application serving the lookup API over `network`.

    Args:
        network: The carrier model (read only; the simulator keeps advancing it).
        clock: Simulated time; read once per request for ``now``.
        max_batch: Most queries in one bulk request (more: 413 ``batch_too_large``).

    Returns:
        The application (mount it with `running_lookup`, an ``AppRunner``, or as a sub-app).

    Raises:
        ValueError: ``max_batch`` is below 1.
    """
    if max_batch < 1:
        raise ValueError(f"max_batch must be >= 1, got {max_batch}")
    lookup = _Lookup(network, clock, max_batch)
    app = web.Application(
        client_max_size=max(_MIN_BODY_BYTES, max_batch * _BODY_BYTES_PER_QUERY),
        middlewares=[_errors],
    )
    app.router.add_get(HEALTH_PATH, lookup.health)
    app.router.add_get(OWNER_CHECK_PATH, lookup.owner_check)
    app.router.add_post(BULK_PATH, lookup.owner_check_bulk)
    app.router.add_get(HANDSET_PATH, lookup.handset)
    app.router.add_get(HISTORY_PATH, lookup.history)
    return app


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _bound_port(runner: web.AppRunner, requested: int) -> int:
    addresses: Sequence[Any] = runner.addresses
    for address in addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return requested


@asynccontextmanager
async def running_lookup(
    network: CarrierNetwork,
    clock: Clock,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    max_batch: int = DEFAULT_MAX_BATCH,
) -> AsyncIterator[str]:
    """Serve the lookup API on ``host:port`` for the duration of the block.

    Example::

        async with running_lookup(network, clock) as base_url:
            client = HttpOwnerCheckClient(base_url)

    Args:
        network: The carrier model.
        clock: Simulated time.
        host: Listen address (loopback by default).
        port: Listen port; 0 picks a free one.
        max_batch: See `create_lookup_app`.

    Yields:
        The base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash).

    Raises:
        OSError: The port cannot be bound.
    """
    runner = web.AppRunner(create_lookup_app(network, clock, max_batch=max_batch), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        url = _url(host, _bound_port(runner, port))
        logger.info(
            "lookup API listening on %s", url, extra={"event": "smsh.simulator.lookup.listening"}
        )
        yield url
    finally:
        await runner.cleanup()
