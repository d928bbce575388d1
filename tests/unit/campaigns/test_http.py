"""The campaigns' HTTP API: approval by a second operator over HTTP, with the same rules as the
CLI, plus list, report, preview, cancel and paid. aiohttp's test server on loopback."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.campaigns.http import make_campaign_app
from gateway.campaigns.runner import CampaignRunner
from sms.clock import ManualClock
from tests.unit.campaigns.conftest import jst, template
from tests.unit.campaigns.test_runner import create

APPROVED_AT = jst(2026, 5, 20, 9, 30)


async def call(app: web.Application, requests: list[tuple[str, str, Any]]) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    async with TestClient(TestServer(app)) as client:
        for method, path, body in requests:
            if method == "GET":
                resp = await client.get(path)
            else:
                resp = await client.post(path, json=body)
            out.append((resp.status, await resp.json()))
    return out


def test_approval_over_http_needs_a_second_operator(runner: CampaignRunner) -> None:
    cid = create(runner)
    changed: list[str] = []
    app = make_campaign_app(runner, clock=ManualClock(APPROVED_AT), on_change=changed.append)
    answers = asyncio.run(
        call(
            app,
            [
                ("POST", f"/{cid}/approve", {"by": "alice"}),
                ("POST", "/1/approve", {"by": "bob"}),
                ("POST", f"/{cid}/approve", {"by": "carol"}),
                ("GET", "/", None),
            ],
        )
    )
    (s1, same), (s2, ok), (s3, again), (s4, listing) = answers
    assert (s1, same["error"]) == (409, "approval_refused")
    assert "different operator" in same["detail"]
    assert s2 == 200
    assert (ok["state"], ok["created_by"], ok["approved_by"], ok["approved_at"]) == (
        "approved",
        "alice",
        "bob",
        APPROVED_AT,
    )
    assert (s3, again["error"]) == (409, "illegal_transition")
    assert s4 == 200
    assert [(c["id"], c["state"], c["approved_by"]) for c in listing["campaigns"]] == [
        (cid, "approved", "bob")
    ]
    assert changed == [cid]


def test_lint_errors_need_a_written_reason_over_http(runner: CampaignRunner) -> None:
    cid = create(runner, tpl=template("お支払いをお願いします。03-1234-5678"))  # no name
    app = make_campaign_app(runner, clock=ManualClock(APPROVED_AT))
    (s1, refused), (s2, ok) = asyncio.run(
        call(
            app,
            [
                ("POST", f"/{cid}/approve", {"by": "bob"}),
                (
                    "POST",
                    f"/{cid}/approve",
                    {
                        "by": "bob",
                        "override_reason": "名前なしの一斉連絡として法務確認済み (2026-05-19)",
                    },
                ),
            ],
        )
    )
    assert (s1, refused["error"]) == (409, "approval_refused")
    assert "name_present" in refused["detail"]
    assert (s2, ok["state"]) == (200, "approved")
    assert ok["override_reason"].startswith("名前なし")


def test_report_preview_cancel_paid_and_errors(runner: CampaignRunner) -> None:
    cid = create(runner)
    other = create(runner)
    app = make_campaign_app(runner, clock=ManualClock(APPROVED_AT))
    answers = asyncio.run(
        call(
            app,
            [
                ("GET", f"/{cid}", None),
                ("GET", f"/{cid}/preview?limit=1", None),
                ("GET", f"/{cid}/preview?limit=x", None),
                ("POST", f"/{cid}/paid", {"phone": "090-1000-0002", "by": "carol"}),
                ("POST", f"/{cid}/paid", {"phone": "090-9999-9999"}),
                ("POST", f"/{other}/cancel", {"by": "bob", "reason": "duplicate upload"}),
                ("POST", f"/{other}/approve", {"by": "bob"}),
                ("POST", f"/{cid}/approve", {"by": "bob", "extra": 1}),
                ("GET", "/cmp-99", None),
            ],
        )
    )
    codes = [status for status, _ in answers]
    assert codes == [200, 200, 400, 200, 422, 200, 409, 400, 404]
    report, preview = answers[0][1], answers[1][1]
    assert (report["recipients"], report["state"], report["created_by"]) == (3, "draft", "alice")
    assert (preview["recipients"], len(preview["sample"]), preview["cost"]) == (3, 1, "9")
    assert answers[3][1] == {"id": cid, "lines": [3]}
    assert "not a recipient" in answers[4][1]["detail"]
    assert answers[5][1] == {"id": other, "state": "cancelled"}
    assert answers[7][1]["error"] == "invalid_request"
    assert answers[8][1]["error"] == "unknown_campaign"
