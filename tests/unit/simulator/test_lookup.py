"""`simulator.lookup`: every endpoint and error through aiohttp's test client, over a real
`CarrierNetwork` and a `ManualClock` (owner check, stale database, handsets, history, health)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer

from simulator.lookup import BULK_PATH, create_lookup_app
from simulator.network import CarrierNetwork
from sms.clock import ManualClock
from tests.unit.network.helpers import DAY, EPOCH, HOUR, msg, network, sub

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(20)]

TOKYO = ZoneInfo("Asia/Tokyo")
TIMEOUT = 10.0
RECYCLED = "09055556666"
RECYCLED_E164 = "+819055556666"
STABLE = "09011112222"
UNLISTED = "09099998888"  # valid, but the network has no record of it (population size 0)
OWNERSHIP = [
    {"owner": "alice", "active_from": "2015-01-01", "active_to": "2025-03-01"},
    {"owner": "bob", "active_from": "2025-09-01"},
]


def recycling_network(**sections: Any) -> CarrierNetwork:
    """A recycled number (alice -> bob, disconnect 2025-03-01, reassigned 2025-09-01) and a
    number held by one owner since 2015."""
    subscribers = [
        sub(RECYCLED, ownership=OWNERSHIP),
        sub(STABLE, ownership=[{"owner": "carol", "active_from": "2015-01-01"}]),
    ]
    return network(subscribers=subscribers, **sections)


@asynccontextmanager
async def served(
    net: CarrierNetwork, clock: ManualClock | None = None, *, max_batch: int = 1000
) -> AsyncIterator[TestClient[Any, Any]]:
    """A test client over the lookup app, under a timeout."""
    app = create_lookup_app(net, clock or ManualClock(EPOCH), max_batch=max_batch)
    async with asyncio.timeout(TIMEOUT), TestClient(TestServer(app)) as client:
        yield client


async def get_json(
    client: TestClient[Any, Any], path: str, status: int = 200, /, **params: str
) -> Any:
    resp = await client.get(path, params=params)
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    return await resp.json()


async def bulk(
    client: TestClient[Any, Any], payload: Any, status: int = 200, *, raw: bytes | None = None
) -> Any:
    if raw is None:
        resp = await client.post(BULK_PATH, json=payload)
    else:
        resp = await client.post(BULK_PATH, data=raw, headers={"Content-Type": "application/json"})
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    return await resp.json()


# --- health --------------------------------------------------------------------------------------


async def test_health_states_the_database_settings() -> None:
    async with served(recycling_network(), max_batch=250) as client:
        body = await get_json(client, "/v1/health")
    assert body["status"] == "ok"
    assert (body["scenario_id"], body["seed"], body["subscribers"]) == ("test", 1, 2)
    assert body["max_batch"] == 250
    # Epoch 2026-01-01 09:00 JST, default lag 30 days.
    assert body["as_of"] == "2025-12-02"
    assert body["queried_at"] == "2026-01-01T09:00:00+09:00"
    assert body["database"] == {
        "history_start": "2016-01-02",  # epoch - round(10 * 365.25) days
        "db_lag_days": 30.0,
        "same_day_counts": True,
        "unknown_number": "unchanged",
        "timezone": "Asia/Tokyo",
    }


@pytest.mark.parametrize("explicit", [None, "2021-01-27"])
async def test_history_start_is_the_one_the_network_applies(explicit: str | None) -> None:
    """The API's stated history_start is exactly the model's no_data boundary."""
    net = recycling_network(owner_check={"history_start": explicit})
    async with served(net) as client:
        body = await get_json(client, "/v1/health")
    start = date.fromisoformat(body["database"]["history_start"])
    if explicit is not None:
        assert start == date.fromisoformat(explicit)
    assert net.owner_check(STABLE, start - timedelta(days=1), EPOCH).status == "no_data"
    assert net.owner_check(STABLE, start, EPOCH).status == "unchanged"


# --- single owner check --------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", [RECYCLED_E164, RECYCLED, "090-5555-6666", "+81 90 5555 6666"])
async def test_get_recycled_number_is_changed(spelling: str) -> None:
    async with served(recycling_network()) as client:
        body = await get_json(
            client, "/v1/owner-check", number=spelling, reference_date="2019-04-01"
        )
    assert body["number"] == spelling  # echoed exactly as queried
    assert body["e164"] == RECYCLED_E164
    assert body["result"] == "changed"
    assert body["last_change_date"] == "2025-03-01"  # the disconnect, the only date RND keeps
    assert body["reference_date"] == "2019-04-01"
    assert body["as_of"] == "2025-12-02"


@pytest.mark.parametrize(
    ("number", "reference", "result", "last"),
    [
        (RECYCLED, "2025-10-01", "unchanged", "2025-03-01"),  # obtained from bob: fine
        (RECYCLED, "2010-01-01", "no_data", None),  # older than the 10-year history
        (STABLE, "2019-04-01", "unchanged", None),
        (UNLISTED, "2019-04-01", "unchanged", None),  # unknown_number: unchanged (RND "no")
    ],
)
async def test_get_unchanged_and_no_data(
    number: str, reference: str, result: str, last: str | None
) -> None:
    async with served(recycling_network()) as client:
        body = await get_json(client, "/v1/owner-check", number=number, reference_date=reference)
    assert (body["result"], body["last_change_date"]) == (result, last)


async def test_unknown_number_policy_no_data() -> None:
    net = recycling_network(owner_check={"unknown_number": "no_data"})
    async with served(net) as client:
        body = await get_json(
            client, "/v1/owner-check", number=UNLISTED, reference_date="2019-04-01"
        )
    assert body["result"] == "no_data"
    assert body["database"]["unknown_number"] == "no_data"


@pytest.mark.parametrize(("same_day_counts", "result"), [(True, "changed"), (False, "unchanged")])
async def test_same_day_counts(same_day_counts: bool, result: str) -> None:
    """A reassignment on the reference date itself: RND says changed, IMAoS does not."""
    net = recycling_network(owner_check={"same_day_counts": same_day_counts})
    async with served(net) as client:
        body = await get_json(
            client, "/v1/owner-check", number=RECYCLED, reference_date="2025-09-01"
        )
        assert body["database"]["same_day_counts"] is same_day_counts
        assert body["result"] == result
        day_after = await get_json(
            client, "/v1/owner-check", number=RECYCLED, reference_date="2025-09-02"
        )
        assert day_after["result"] == "unchanged"


async def test_stale_database_hides_a_recent_reassignment_until_the_lag_passes() -> None:
    """Disconnected 2025-12-20, reassigned 2025-12-21; db_lag_days 30; queried from 2026-01-01."""
    number = "09077778888"
    net = network(
        subscribers=[
            sub(
                number,
                ownership=[
                    {"owner": "old", "active_from": "2015-01-01", "active_to": "2025-12-20"},
                    {"owner": "new", "active_from": "2025-12-21"},
                ],
            )
        ],
        owner_check={"db_lag_days": 30},
    )
    clock = ManualClock(EPOCH)
    query = {"number": number, "reference_date": "2019-04-01"}
    async with served(net, clock) as client:
        inside = await get_json(client, "/v1/owner-check", **query)
        assert (inside["as_of"], inside["result"], inside["last_change_date"]) == (
            "2025-12-02",
            "unchanged",
            None,
        )
        history = await get_json(client, f"/v1/handsets/{number}/history")
        assert history["current_owner"] == "new"  # the truth the stale database cannot see
        assert [c["visible"] for c in history["changes"]] == [False, False]

        clock.advance(18 * DAY)  # 2026-01-19: as_of 2025-12-20 shows the disconnect only
        half = await bulk(client, {"queries": [query]})
        assert half["as_of"] == "2025-12-20"
        assert half["results"][0]["result"] == "changed"
        assert half["results"][0]["last_change_date"] == "2025-12-20"

        clock.advance(2 * DAY)  # 2026-01-21: as_of 2025-12-22, both changes visible
        after = await get_json(client, "/v1/owner-check", **query)
        assert (after["as_of"], after["result"], after["last_change_date"]) == (
            "2025-12-22",
            "changed",
            "2025-12-20",
        )
        history = await get_json(client, f"/v1/handsets/{number}/history")
        assert [c["visible"] for c in history["changes"]] == [True, True]


@pytest.mark.parametrize(
    ("params", "error", "field"),
    [
        ({"reference_date": "2019-04-01"}, "invalid_request", "number"),
        ({"number": " ", "reference_date": "2019-04-01"}, "invalid_request", "number"),
        ({"number": RECYCLED}, "invalid_request", "reference_date"),
        ({"number": RECYCLED, "reference_date": "2019-02-30"}, "invalid_date", "reference_date"),
        ({"number": RECYCLED, "reference_date": "20190401"}, "invalid_date", "reference_date"),
        ({"number": RECYCLED, "reference_date": "2019/04/01"}, "invalid_date", "reference_date"),
        ({"number": "03-1234-5678", "reference_date": "2019-04-01"}, "invalid_number", "number"),
        ({"number": "9055556666", "reference_date": "2019-04-01"}, "invalid_number", "number"),
    ],
)
async def test_get_errors(params: dict[str, str], error: str, field: str) -> None:
    async with served(recycling_network()) as client:
        body = await get_json(client, "/v1/owner-check", 400, **params)
    assert body["error"] == error
    assert body["field"] == field
    assert field in body["detail"]
    assert "index" not in body


async def test_get_invalid_number_gives_the_reason() -> None:
    async with served(recycling_network()) as client:
        body = await get_json(
            client, "/v1/owner-check", 400, number="03-1234-5678", reference_date="2019-04-01"
        )
    assert body["reason"] == "landline"


# --- bulk ----------------------------------------------------------------------------------------


async def test_bulk_answers_in_order_and_echoes_numbers() -> None:
    queries = [
        {"number": RECYCLED_E164, "reference_date": "2019-04-01"},
        {"number": "+819011112222", "reference_date": "2019-04-01"},
        {"number": "０９０５５５５６６６６", "reference_date": "2010-01-01"},  # full width
        {"number": "03-1234-5678", "reference_date": "2019-04-01"},
        {"number": "9055556666", "reference_date": "2019-04-01"},
        {"number": RECYCLED_E164, "reference_date": "2025-10-01"},  # duplicates are answered
    ]
    async with served(recycling_network()) as client:
        body = await bulk(client, {"queries": queries})
    results = body["results"]
    assert [r["number"] for r in results] == [q["number"] for q in queries]
    assert [r["result"] for r in results] == [
        "changed",
        "unchanged",
        "no_data",
        "invalid",
        "invalid",
        "unchanged",
    ]
    assert results[0]["last_change_date"] == "2025-03-01"
    assert results[2]["e164"] == RECYCLED_E164
    assert (results[3]["reason"], results[3]["e164"]) == ("landline", None)
    assert results[4]["reason"] == "leading_zero_lost"
    assert "detail" in results[4]
    assert body["as_of"] == "2025-12-02"
    assert body["database"]["db_lag_days"] == 30.0


async def test_bulk_empty_batch() -> None:
    async with served(recycling_network()) as client:
        assert (await bulk(client, {"queries": []}))["results"] == []


async def test_bulk_batch_limit() -> None:
    query = {"number": STABLE, "reference_date": "2019-04-01"}
    async with served(recycling_network(), max_batch=3) as client:
        full = await bulk(client, {"queries": [query] * 3})
        assert len(full["results"]) == 3
        body = await bulk(client, {"queries": [query] * 4}, 413)
    assert body["error"] == "batch_too_large"
    assert (body["max_batch"], body["size"], body["field"]) == (3, 4, "queries")
    assert "at most 3" in body["detail"]


async def test_default_batch_limit_is_1000() -> None:
    queries = [{"number": f"090{i:08d}", "reference_date": "2019-04-01"} for i in range(1001)]
    async with served(recycling_network()) as client:
        assert len((await bulk(client, {"queries": queries[:1000]}))["results"]) == 1000
        body = await bulk(client, {"queries": queries}, 413)
    assert body["max_batch"] == 1000


async def test_oversized_body_is_413_json() -> None:
    async with served(recycling_network(), max_batch=1) as client:
        raw = b'{"queries": [], "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
        body = await bulk(client, None, 413, raw=raw)
    assert body["error"] == "body_too_large"


GOOD = {"number": RECYCLED, "reference_date": "2019-04-01"}
REQ, DATE, REF = "invalid_request", "invalid_date", "reference_date"


def dated(value: object) -> dict[str, object]:
    return {**GOOD, REF: value}


@pytest.mark.parametrize(
    ("payload", "error", "field", "index"),
    [
        ([GOOD], REQ, None, None),
        ({"queries": None}, REQ, "queries", None),
        ({}, REQ, "queries", None),
        ({"queries": {"0": GOOD}}, REQ, "queries", None),
        ({"queries": [GOOD], "extra": 1}, REQ, "extra", None),
        ({"queries": [GOOD, "09055556666"]}, REQ, None, 1),
        ({"queries": [GOOD, {REF: "2019-04-01"}]}, REQ, "number", 1),
        ({"queries": [{"number": 9055556666, REF: "2019-04-01"}]}, REQ, "number", 0),
        ({"queries": [GOOD, {**GOOD, "owner": "x"}]}, REQ, "owner", 1),
        ({"queries": [GOOD, {"number": RECYCLED}]}, REQ, REF, 1),
        ({"queries": [GOOD, GOOD, dated("2024-13-01")]}, DATE, REF, 2),
        ({"queries": [dated("2024-02-30")]}, DATE, REF, 0),
        ({"queries": [dated("01/04/2024")]}, DATE, REF, 0),
        ({"queries": [dated("20240401")]}, DATE, REF, 0),
        ({"queries": [dated(20240401)]}, DATE, REF, 0),
        ({"queries": [GOOD, dated("2024-04-01T00:00")]}, DATE, REF, 1),
    ],
)
async def test_bulk_request_errors_name_the_field_and_index(
    payload: Any, error: str, field: str | None, index: int | None
) -> None:
    async with served(recycling_network()) as client:
        body = await bulk(client, payload, 400)
    assert body["error"] == error
    assert body.get("field") == field
    assert body.get("index") == index
    if index is not None:
        assert f"queries[{index}]" in body["detail"]


async def test_bulk_body_not_json() -> None:
    async with served(recycling_network()) as client:
        body = await bulk(client, None, 400, raw=b"{not json")
    assert body["error"] == "invalid_request"
    assert "not JSON" in body["detail"]


# --- handsets ------------------------------------------------------------------------------------

VICTIM = "09012340000"
ACCOUNTS: dict[str, Any] = {
    "docomo": {"route": "domestic_direct", "alphanumeric_policy": "allow"},
    "fraud": {"route": "international", "attacker": True},
    "acme": {"route": "domestic_direct", "sender_codes": ["00051234"]},
}


def jst(day: int, hour: int) -> float:
    return datetime(2026, 1, day, hour, tzinfo=TOKYO).timestamp()


def sender_network(mode: str) -> CarrierNetwork:
    return network(
        subscribers=[sub(VICTIM), sub(RECYCLED, ownership=OWNERSHIP)],
        accounts=ACCOUNTS,
        registry={"mode": mode, "protected": [{"sender_id": "NTT DOCOMO", "accounts": ["docomo"]}]},
        quiet_hours={"enabled": True},
        absence={"p_absent": 0.0},
    )


def deliver_genuine_then_spoof(net: CarrierNetwork) -> ManualClock:
    """docomo's notice at 12:00 JST, a spoof at 22:00 JST (quiet hours); handsets filled."""
    net.submit(
        msg(VICTIM, b"Your bill is ready", account="docomo", source="NTT DOCOMO", source_ton=5),
        jst(5, 12),
    )
    net.submit(
        msg(VICTIM, b"Unpaid! pay here", account="fraud", source="NTT DOCOMO", source_ton=5),
        jst(5, 22),
    )
    net.advance(jst(6, 12))
    return ManualClock(jst(6, 12))


async def test_handset_spoof_lands_in_the_genuine_thread() -> None:
    net = sender_network("none")
    clock = deliver_genuine_then_spoof(net)
    async with served(net, clock) as client:
        body = await get_json(client, "/v1/handsets/+819012340000")
    assert (body["number"], body["e164"], body["known"]) == (VICTIM, "+819012340000", True)
    assert list(body["threads"]) == ["NTT DOCOMO"]
    thread = body["threads"]["NTT DOCOMO"]
    assert (thread["has_genuine"], thread["has_spoof"]) == (True, True)
    genuine, spoof = thread["messages"]
    assert (genuine["text"], spoof["text"]) == ("Your bill is ready", "Unpaid! pay here")
    assert genuine["flags"]["genuine"]
    assert not genuine["flags"]["spoofed"]
    assert not genuine["flags"]["quiet_hours"]
    assert spoof["flags"]["spoofed"]
    assert spoof["flags"]["quiet_hours"]  # 22:00 JST: inside 21:00-08:00
    assert spoof["account"] == "fraud"
    assert spoof["time"].startswith("2026-01-05T22:")
    assert spoof["time"].endswith("+09:00")
    assert datetime.fromisoformat(spoof["time"]).timestamp() == pytest.approx(spoof["at"])
    assert (spoof["parts"], spoof["missing"]) == (1, [])


async def test_handset_relabelled_thread() -> None:
    net = sender_network("relabel")
    clock = deliver_genuine_then_spoof(net)
    async with served(net, clock) as client:
        body = await get_json(client, f"/v1/handsets/{VICTIM}")
    assert list(body["threads"]) == ["NTT DOCOMO", "Likely-SCAM"]
    (scam,) = body["threads"]["Likely-SCAM"]["messages"]
    assert scam["flags"]["relabelled"]
    assert scam["flags"]["spoofed"]
    assert not body["threads"]["NTT DOCOMO"]["messages"][0]["flags"]["relabelled"]


async def test_handset_misdelivered_to_the_new_owner() -> None:
    net = sender_network("none")
    net.submit(msg(RECYCLED, b"Alice, you owe 5,000 yen", obtained_date=date(2019, 4, 1)), EPOCH)
    net.advance(EPOCH + HOUR)
    async with served(net, ManualClock(EPOCH + HOUR)) as client:
        body = await get_json(client, "/v1/handsets/090-5555-6666")
    (message,) = body["threads"]["00051234"]["messages"]
    assert message["flags"]["misdelivered"]
    assert not message["flags"]["spoofed"]


async def test_handset_of_a_number_without_messages() -> None:
    async with served(sender_network("none")) as client:
        known = await get_json(client, f"/v1/handsets/{VICTIM}")
        unknown = await get_json(client, f"/v1/handsets/{UNLISTED}")
    assert (known["known"], known["threads"]) == (True, {})
    assert (unknown["known"], unknown["threads"]) == (False, {})


@pytest.mark.parametrize("path", ["/v1/handsets/0312345678", "/v1/handsets/abc/history"])
async def test_handset_invalid_number(path: str) -> None:
    async with served(sender_network("none")) as client:
        body = await get_json(client, path, 400)
    assert (body["error"], body["field"]) == ("invalid_number", "number")
    assert body["reason"] in {"landline", "non_digit"}


# --- history -------------------------------------------------------------------------------------


async def test_history_timeline() -> None:
    async with served(recycling_network()) as client:
        body = await get_json(client, f"/v1/handsets/{RECYCLED_E164}/history")
    assert (body["number"], body["e164"], body["current_owner"]) == (
        RECYCLED,
        RECYCLED_E164,
        "bob",
    )
    assert body["tenures"] == [
        {"owner": "alice", "first_day": "2015-01-01", "end_day": "2025-03-01"},
        {"owner": "bob", "first_day": "2025-09-01", "end_day": None},
    ]
    assert body["changes"] == [
        {"date": "2025-03-01", "kind": "disconnected", "visible": True},
        {"date": "2025-09-01", "kind": "reassigned", "visible": True},
    ]
    assert body["as_of"] == "2025-12-02"


async def test_history_of_an_unknown_number_is_404() -> None:
    async with served(recycling_network()) as client:
        body = await get_json(client, f"/v1/handsets/{UNLISTED}/history", 404)
    assert body["error"] == "unknown_number"


# --- routing and construction ---------------------------------------------------------------------


async def test_unknown_path_and_wrong_method_are_json() -> None:
    async with served(recycling_network()) as client:
        missing = await get_json(client, "/v2/owner-check", 404)
        assert missing["error"] == "not_found"
        resp = await client.get(BULK_PATH)
        assert resp.status == 405
        assert json.loads(await resp.text())["error"] == "method_not_allowed"


async def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        create_lookup_app(recycling_network(), ManualClock(EPOCH), max_batch=0)
