"""The owner check (他人接続判定): has this number changed hands since we obtained it?

A number that was disconnected and reassigned reaches a stranger: a dunning SMS to it leaks
the debt to another person (seed 004, DOMAIN §2, §6.3). Before sending, every recipient whose
CSV row gives the date the number was obtained (``obtained_date``) is checked, and
``changed`` rows are excluded.

The HTTP API (to be served by the simulator's ``lookup.py``; a vendor adapter may speak it)::

    POST {base_url}/v1/owner-check/bulk
    Content-Type: application/json
    {"queries": [{"number": "+819012345678", "reference_date": "2024-04-01"}, ...]}

    200 OK
    {"results": [{"number": "+819012345678", "result": "changed",
                  "last_change_date": "2025-01-15"}, ...]}

* ``number`` is E.164 (``+81...``); ``reference_date`` is ISO ``YYYY-MM-DD``.
* ``result`` is ``changed`` (disconnected or reassigned on or after the reference date),
  ``unchanged``, or ``no_data`` (the reference date is older than the database's history).
* ``last_change_date`` is the most recent visible change (ISO date) or null.
* One result per query, in any order; a missing or unknown result is an error, never
  "unchanged". Batches are at most `HttpOwnerCheckClient.batch_size` queries.

Invariants:
    * A client never answers ``unchanged`` for a number it was not told about.
    * Failures raise `OwnerCheckError`; the gateway (`GatewayConfig.owner_check`) and the
      campaign runner then send nothing (fail closed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Final, Protocol

import aiohttp
from pydantic import BaseModel, ConfigDict, ValidationError

from gateway.errors import OwnerCheckError

__all__ = [
    "BULK_PATH",
    "FakeOwnerCheckClient",
    "HttpOwnerCheckClient",
    "NoDataPolicy",
    "OwnerCheckClient",
    "OwnerResult",
    "OwnerStatus",
]

#: Path of the bulk endpoint under the configured base URL.
BULK_PATH: Final[str] = "/v1/owner-check/bulk"


class OwnerStatus(StrEnum):
    """Answer of the owner check for one number."""

    CHANGED = "changed"
    """Disconnected or reassigned on or after the reference date: do not send."""
    UNCHANGED = "unchanged"
    """No change since the reference date."""
    NO_DATA = "no_data"
    """The database's history does not reach back to the reference date."""


class NoDataPolicy(StrEnum):
    """What to do with a ``no_data`` answer."""

    HOLD = "hold"
    """Exclude the recipient (the safe default): nobody vouches for the number."""
    SEND = "send"
    """Send anyway."""


@dataclass(frozen=True, slots=True)
class OwnerResult:
    """The owner check's answer for one number."""

    number: str
    """E.164 number."""
    status: OwnerStatus
    """changed / unchanged / no_data."""
    last_change_date: date | None = None
    """The most recent visible change, when the service gives it."""


class OwnerCheckClient(Protocol):
    """Anything that answers owner checks in bulk."""

    async def check_many(self, queries: Sequence[tuple[str, date]]) -> dict[str, OwnerResult]:
        """Check numbers against the dates they were obtained.

        Args:
            queries: (E.164 number, reference date) pairs; numbers are unique.

        Returns:
            One result per queried number, keyed by the number.

        Raises:
            OwnerCheckError: The service failed or omitted a number.
        """
        ...


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str
    reference_date: date


class _Result(BaseModel):
    model_config = ConfigDict(extra="ignore")
    number: str
    result: OwnerStatus
    last_change_date: date | None = None


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore")
    results: list[_Result]


class HttpOwnerCheckClient:
    """`OwnerCheckClient` over HTTP (aiohttp), speaking the API of the module docstring.

    Args:
        base_url: E.g. ``http://127.0.0.1:8081``; `BULK_PATH` is appended.
        session: An aiohttp session to use (the caller closes it); None: one per call.
        timeout: Seconds per request.
        batch_size: Most queries per request.
        headers: Extra request headers (e.g. an API key).
    """

    def __init__(
        self,
        base_url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
        batch_size: int = 1000,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.url = base_url.rstrip("/") + BULK_PATH
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._batch_size = batch_size
        self._headers = dict(headers or {})

    async def check_many(self, queries: Sequence[tuple[str, date]]) -> dict[str, OwnerResult]:
        """See `OwnerCheckClient.check_many`."""
        if not queries:
            return {}
        if self._session is not None:
            return await self._run(self._session, queries)
        async with aiohttp.ClientSession() as session:
            return await self._run(session, queries)

    async def _run(
        self, session: aiohttp.ClientSession, queries: Sequence[tuple[str, date]]
    ) -> dict[str, OwnerResult]:
        out: dict[str, OwnerResult] = {}
        for i in range(0, len(queries), self._batch_size):
            out.update(await self._batch(session, queries[i : i + self._batch_size]))
        return out

    async def _batch(
        self, session: aiohttp.ClientSession, queries: Sequence[tuple[str, date]]
    ) -> dict[str, OwnerResult]:
        body = {
            "queries": [
                _Query(number=n, reference_date=d).model_dump(mode="json") for n, d in queries
            ]
        }
        try:
            async with session.post(
                self.url, json=body, timeout=self._timeout, headers=self._headers
            ) as resp:
                text = await resp.text()
                if resp.status != 200:
                    raise OwnerCheckError(
                        f"owner check {self.url} answered HTTP {resp.status}: {text[:200]}"
                    )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise OwnerCheckError(
                f"owner check {self.url} failed: {type(exc).__name__}: {exc}"
            ) from exc
        try:
            parsed = _Response.model_validate_json(text)
        except ValidationError as exc:
            raise OwnerCheckError(
                f"owner check {self.url} sent a malformed answer: {exc.errors()[0]['msg']}"
            ) from exc
        wanted = {n for n, _ in queries}
        results = {
            r.number: OwnerResult(r.number, r.result, r.last_change_date)
            for r in parsed.results
            if r.number in wanted
        }
        missing = wanted - results.keys()
        if missing:
            sample = ", ".join(sorted(missing)[:3])
            raise OwnerCheckError(
                f"owner check {self.url} gave no result for {len(missing)} numbers ({sample})"
            )
        return results


class FakeOwnerCheckClient:
    """An in-memory `OwnerCheckClient` for tests.

    Args:
        changed: Numbers that changed hands, with the change date. A number is ``changed``
            when that date is on or after the reference date, else ``unchanged``.
        history_start: Reference dates before this give ``no_data``.
        no_data: Numbers that always give ``no_data``.
    """

    def __init__(
        self,
        changed: Mapping[str, date] | None = None,
        *,
        history_start: date | None = None,
        no_data: Sequence[str] = (),
    ) -> None:
        self.changed = dict(changed or {})
        self.history_start = history_start
        self.no_data = set(no_data)
        self.calls: list[list[tuple[str, date]]] = []
        """Every `check_many` call's queries, for assertions."""

    async def check_many(self, queries: Sequence[tuple[str, date]]) -> dict[str, OwnerResult]:
        """See `OwnerCheckClient.check_many`."""
        self.calls.append(list(queries))
        out: dict[str, OwnerResult] = {}
        for number, reference in queries:
            change = self.changed.get(number)
            if number in self.no_data or (
                self.history_start is not None and reference < self.history_start
            ):
                out[number] = OwnerResult(number, OwnerStatus.NO_DATA, None)
            elif change is not None and change >= reference:
                out[number] = OwnerResult(number, OwnerStatus.CHANGED, change)
            else:
                out[number] = OwnerResult(number, OwnerStatus.UNCHANGED, change)
        return out
