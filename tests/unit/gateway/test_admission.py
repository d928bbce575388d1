"""Sending policies at submit (`gateway.admission`): the owner check and quiet hours, through
`Gateway.submit_many` on a real store (the gateway is not started: nothing is sent)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio

from gateway.config import config_from_dict
from gateway.errors import OwnerCheckError
from gateway.gateway import Gateway, SubmitRequest, open_store
from gateway.ownercheck import FakeOwnerCheckClient, OwnerResult
from gateway.routing import RejectReason, SubmitRejected
from gateway.store import MessageState
from sms.bus import InMemoryBus
from sms.clock import ManualClock

TOKYO = ZoneInfo("Asia/Tokyo")
OBTAINED = "2020-05-01"
CHANGED = "+819012340001"
STEADY = "+819012340002"
UNKNOWN = "+819012340003"


def at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, 1, day, hour, minute, tzinfo=TOKYO).timestamp()


class FailingClient:
    """An owner-check service that is down."""

    async def check_many(self, queries: Sequence[tuple[str, date]]) -> dict[str, OwnerResult]:
        raise OwnerCheckError("connection refused")


def fake() -> FakeOwnerCheckClient:
    return FakeOwnerCheckClient({CHANGED: date(2025, 6, 30)}, no_data=[UNKNOWN])


@pytest_asyncio.fixture
async def make(tmp_path: Path) -> AsyncIterator[Any]:
    made: list[Gateway] = []

    def build(extra: dict[str, Any], *, client: Any = None, now: float | None = None) -> Gateway:
        data: dict[str, Any] = {
            "binds": [{"name": "b", "system_id": "esme"}],
            "routes": [{"name": "default", "default_sender": "SENDER"}],
            "store": {"synchronous": "NORMAL"},
            **extra,
        }
        config = config_from_dict(data)
        store = open_store(config, path=tmp_path / f"g{len(made)}.db")
        clock = ManualClock(now if now is not None else at(15, 12))
        gateway = Gateway(config, store, InMemoryBus(), clock, owner_check=client)
        made.append(gateway)
        return gateway

    yield build
    for gateway in made:
        gateway.store.close()


def request(destination: str, obtained: str | None = OBTAINED, **kw: Any) -> SubmitRequest:
    metadata = {"obtained": obtained} if obtained is not None else {}
    return SubmitRequest(destination, "hello", metadata=metadata, **kw)


@pytest.mark.asyncio
async def test_owner_check_refuses_changed_and_no_data_numbers(make: Any) -> None:
    gw = make({"owner_check": {"enabled": True}}, client=fake())
    ok = await gw.submit_many([request(STEADY)])
    unchecked = await gw.submit_many([request(CHANGED, obtained=None)])
    with pytest.raises(SubmitRejected) as blocked:
        await gw.submit_many([request(CHANGED)])
    with pytest.raises(SubmitRejected) as no_data:
        await gw.submit_many([request(UNKNOWN)])
    assert blocked.value.reason is RejectReason.OWNER_CHECK_BLOCKED
    assert "changed hands since 2020-05-01 (last change 2025-06-30)" in blocked.value.detail
    assert no_data.value.reason is RejectReason.OWNER_CHECK_NO_DATA
    assert len(ok) == len(unchecked) == 1
    assert sum((await gw.counts()).values()) == 2  # nothing refused was stored


@pytest.mark.asyncio
async def test_owner_check_no_data_may_send_and_a_batch_is_checked_in_one_call(make: Any) -> None:
    client = fake()
    gw = make({"owner_check": {"enabled": True, "no_data": "send"}}, client=client)
    ids = await gw.submit_many([request(STEADY), request(UNKNOWN), request(STEADY)])
    with pytest.raises(SubmitRejected, match="message 1: ") as caught:
        await gw.submit_many([request(STEADY), request(CHANGED)])
    assert len(ids) == 3
    assert caught.value.reason is RejectReason.OWNER_CHECK_BLOCKED
    assert [sorted(n for n, _ in call) for call in client.calls] == [
        [STEADY, UNKNOWN],
        [CHANGED, STEADY],
    ]
    assert sum((await gw.counts()).values()) == 3


@pytest.mark.parametrize("client", [None, FailingClient()])
@pytest.mark.asyncio
async def test_owner_check_fails_closed(make: Any, client: Any) -> None:
    gw = make({"owner_check": {"enabled": True}}, client=client)
    with pytest.raises(SubmitRejected) as caught:
        await gw.submit_many([request(STEADY)])
    assert caught.value.reason is RejectReason.OWNER_CHECK_FAILED
    assert await gw.submit_many([request(STEADY, obtained=None)])  # nothing to check


@pytest.mark.asyncio
async def test_a_bad_obtained_date_is_an_invalid_request(make: Any) -> None:
    gw = make({"owner_check": {"enabled": True}}, client=fake())
    with pytest.raises(SubmitRejected) as caught:
        await gw.submit_many([request(STEADY, obtained="yesterday")])
    assert caught.value.reason is RejectReason.INVALID_REQUEST


QUIET = {"quiet_hours": {"enabled": True, "window": "08:00-21:00", "timezone": "Asia/Tokyo"}}


@pytest.mark.asyncio
async def test_quiet_hours_defer_to_the_next_opening_and_cap_validity(make: Any) -> None:
    gw = make(QUIET, now=at(15, 22, 30))
    (late,) = await gw.submit_many([request(STEADY, obtained=None, validity=72 * 3600.0)])
    status = await gw.status(late)
    assert status.state is MessageState.SCHEDULED
    assert status.next_attempt_at == at(16, 8)
    assert status.validity_deadline == at(16, 21)  # capped at the close


@pytest.mark.asyncio
async def test_quiet_hours_inside_the_window_only_cap(make: Any) -> None:
    gw = make({**QUIET, "validity": 3 * 3600.0}, now=at(15, 19, 30))
    long_id, short_id = await gw.submit_many(
        [request(STEADY, obtained=None), request(STEADY, obtained=None, validity=600.0)]
    )
    long_, short = await gw.status(long_id), await gw.status(short_id)
    assert long_.state is short.state is MessageState.QUEUED
    assert long_.validity_deadline == at(15, 21)
    assert short.validity_deadline == at(15, 19, 40)


@pytest.mark.asyncio
async def test_quiet_hours_respect_a_later_not_before_and_uncapped_validity(make: Any) -> None:
    uncapped = {"quiet_hours": {**QUIET["quiet_hours"], "cap_validity": False}}
    gw = make(uncapped, now=at(15, 12))
    (mid,) = await gw.submit_many(
        [request(STEADY, obtained=None, validity=12 * 3600.0, not_before=at(15, 23))]
    )
    status = await gw.status(mid)
    assert status.next_attempt_at == at(16, 8)
    # 1 h of the asked validity was left at the asked 23:00 start; it counts from 08:00.
    assert status.validity_deadline == at(16, 9)


@pytest.mark.asyncio
async def test_quiet_hours_with_less_than_min_validity_left_move_on(make: Any) -> None:
    gw = make(QUIET, now=at(15, 20, 59) + 30)
    (mid,) = await gw.submit_many([request(STEADY, obtained=None)])
    status = await gw.status(mid)
    assert status.next_attempt_at == at(16, 8)


def test_quiet_hours_config_is_checked() -> None:
    base: dict[str, Any] = {"binds": [{"name": "b", "system_id": "esme"}]}
    for bad in ({"window": "25:00-26:00"}, {"timezone": "Mars/Olympus"}):
        with pytest.raises(ValueError, match="quiet_hours"):
            config_from_dict({**base, "quiet_hours": {"enabled": True, **bad}})
