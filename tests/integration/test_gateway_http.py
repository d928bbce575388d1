"""The HTTP JSON API over a real gateway bound to bench.fast_smsc (aiohttp test client)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer

from bench.fast_smsc import FastSmsc, serve_in_thread
from gateway.http import make_app
from sms.alphabet import encode_gsm7
from tests.integration.test_gateway_loopback import final, make_config, running, wait_for

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 20.0


@pytest.mark.asyncio
async def test_http_api_submit_status_list_mo_health(tmp_path: Path) -> None:
    async with (
        asyncio.timeout(TIMEOUT),
        FastSmsc(receipt_delay=0.01) as smsc,
        running(tmp_path / "g.db", make_config(smsc.port)) as gw,
    ):
        await wait_for(lambda: gw.binds()[0].state == "bound")
        async with TestClient(TestServer(make_app(gw))) as client:
            resp = await client.post(
                "/messages",
                json={"destination": "090-1234-5678", "text": "via http", "client_ref": "h1"},
            )
            assert resp.status == 202
            body = await resp.json()
            assert body["state"] == "queued"
            mid = body["id"]

            async def delivered() -> bool:
                r = await client.get(f"/messages/{mid}")
                state: str = (await r.json())["state"]
                return state == "delivered"

            await wait_for(delivered)
            status = await (await client.get(f"/messages/{mid}")).json()
            assert status["destination"] == "+819012345678"
            assert status["client_ref"] == "h1"
            assert status["parts"][0]["smsc_message_id"]
            assert len(status["attempt_log"]) == 1

            batch = await client.post(
                "/messages",
                json=[{"destination": "09012345678", "text": f"b{i}"} for i in range(3)],
            )
            assert batch.status == 202
            assert len((await batch.json())["ids"]) == 3

            listed = await (await client.get("/messages?state=delivered&limit=10")).json()
            assert [m["id"] for m in listed["messages"]] == [mid]

            rejected = await client.post("/messages", json={"destination": "12", "text": "x"})
            assert rejected.status == 422
            assert (await rejected.json())["error"] == "invalid_number"

            too_long = await client.post(
                "/messages",
                json={"destination": "09012345678", "text": "x" * 40_000},
            )
            assert too_long.status == 422
            assert (await too_long.json())["error"] == "too_long"

            invalid = await client.post("/messages", json={"text": "no destination"})
            assert invalid.status == 400
            error = await invalid.json()
            assert error["error"] == "invalid_request"
            assert "destination" in error["detail"]

            not_json = await client.post("/messages", data=b"{nope")
            assert not_json.status == 400

            missing = await client.get("/messages/999999")
            assert missing.status == 404
            assert (await missing.json())["error"] == "not_found"

            bad_state = await client.get("/messages?state=lost")
            assert bad_state.status == 400

            nowhere = await client.get("/nowhere")
            assert nowhere.status == 404
            assert (await nowhere.json())["error"] == "not_found"
            for path in ("/campaigns", "/campaigns/"):  # make_app without campaigns=
                no_campaigns = await client.get(path, allow_redirects=False)
                assert no_campaigns.status == 404
                assert (await no_campaigns.json())["error"] == "not_found"

            assert smsc.send_mo("819012345678", "12345", encode_gsm7("STOP"))
            await wait_for(lambda: gw.stats.mo == 1)
            mo = await (await client.get("/mo")).json()
            assert [(m["source"], m["text"]) for m in mo["mo"]] == [("+819012345678", "STOP")]
            suppressed = await client.post(
                "/messages", json={"destination": "09012345678", "text": "again"}
            )
            assert suppressed.status == 422
            assert (await suppressed.json())["error"] == "suppressed"

            health = await client.get("/health")
            assert health.status == 200
            state = await health.json()
            assert state["status"] == "ok"
            assert state["binds"][0]["state"] == "bound"
            assert state["counts"]["delivered"] >= 1


@pytest.mark.asyncio
async def test_http_submit_while_draining_is_503_draining(tmp_path: Path) -> None:
    from gateway.control import GatewayControls
    from sms.bus.control import ControlChannel
    from sms.clock import SystemClock

    async with (
        asyncio.timeout(TIMEOUT),
        FastSmsc(receipt_delay=0.01) as smsc,
        running(tmp_path / "g.db", make_config(smsc.port)) as gw,
        GatewayControls(gw),
    ):
        await wait_for(lambda: gw.binds()[0].state == "bound")
        requester = ControlChannel(gw.bus, "test", "ops", clock=SystemClock())
        async with requester:
            ack = await requester.request("gateway", gw.config.instance, "drain", {})
        assert ack.ok
        async with TestClient(TestServer(make_app(gw))) as client:
            resp = await client.post(
                "/messages", json={"destination": "09012345678", "text": "after drain"}
            )
            assert resp.status == 503
            assert (await resp.json())["error"] == "draining"


@pytest.mark.asyncio
async def test_http_submit_carries_tlvs_to_every_part(tmp_path: Path) -> None:
    body = {"destination": "09012345678", "text": "x" * 300, "client_ref": "k-7"}
    tlvs = [{"tag": 0x1500, "hex": b"k-7\x00".hex()}, {"tag": 0x1600, "hex": "ff00"}]
    reserved = [{"tag": 0x020C, "hex": ""}]  # sar_msg_ref_num: the gateway's own
    async with (
        asyncio.timeout(TIMEOUT),
        FastSmsc(receipt_delay=0.01) as smsc,
        running(tmp_path / "g.db", make_config(smsc.port)) as gw,
        TestClient(TestServer(make_app(gw))) as client,
    ):
        resp = await client.post("/messages", json={**body, "tlvs": tlvs})
        accepted = (resp.status, await resp.json())
        bad = await client.post("/messages", json={**body, "tlvs": reserved})
        refused = (bad.status, (await bad.json())["error"])
        odd = await client.post("/messages", json={**body, "tlvs": [{"tag": 1, "hex": "f"}]})
        invalid = (odd.status, (await odd.json())["error"])
        await final(gw, [accepted[1]["id"]])
    assert accepted[0] == 202
    assert refused == (422, "invalid_request")
    assert invalid == (400, "invalid_request")
    parts = [r for r in smsc.submits if r.destination.endswith("9012345678")]
    assert len(parts) == 2  # 300 GSM characters: two UDH parts of up to 153
    for record in parts:
        assert record.tlvs[0x1500] == b"k-7\x00"
        assert record.tlvs[0x1600] == b"\xff\x00"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(60)
def test_gateway_serve_daemon_over_a_real_port(tmp_path: Path) -> None:
    """`smsh gateway serve --config FILE`: a real process, real HTTP port, the campaign API
    under /campaigns/, SIGTERM stop."""
    http_port = _free_port()
    with serve_in_thread(receipt_delay=0.01) as smsc:
        config = tmp_path / "gateway.yaml"
        config.write_text(
            f"""
instance: gw-test
store: {{path: gw.sqlite3, synchronous: NORMAL}}
binds:
  - {{name: carrier, port: {smsc.port}, system_id: esme, password: pw, window: 5}}
routes:
  - {{name: default, default_sender: SENDER}}
http: {{host: 127.0.0.1, port: {http_port}}}
""",
            encoding="utf-8",
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "scenarios.commands.gateway", "serve", "--config", str(config)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().decode()
            assert "(campaigns on /campaigns/)" in line
            assert f"http://127.0.0.1:{http_port}" in line, (
                proc.stderr.read().decode()[-2000:] if proc.stderr else line
            )

            async def exercise() -> dict[str, Any]:
                async with asyncio.timeout(20), ClientSession() as http:
                    base = f"http://127.0.0.1:{http_port}"
                    async with http.post(
                        f"{base}/messages", json={"destination": "09012345678", "text": "daemon"}
                    ) as r:
                        assert r.status == 202
                        mid = (await r.json())["id"]
                    while True:
                        async with http.get(f"{base}/messages/{mid}") as r:
                            status: dict[str, Any] = await r.json()
                        if status["state"] == "delivered":
                            break
                        await asyncio.sleep(0.02)
                    # The daemon serves the campaign API on its store file's campaign tables.
                    async with http.get(f"{base}/campaigns/") as r:
                        assert r.status == 200
                        assert await r.json() == {"campaigns": []}
                    async with http.post(f"{base}/campaigns/cmp-9/approve", json={"by": "b"}) as r:
                        assert r.status == 404
                        assert (await r.json())["error"] == "unknown_campaign"
                    return status

            status = asyncio.run(exercise())
            assert status["parts"][0]["state"] == "delivered"
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            finally:
                if proc.poll() is None:
                    proc.kill()
        assert proc.returncode == 0
        assert (tmp_path / "gw.sqlite3").exists()


def test_gateway_check_names_file_and_field(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("binds:\n  - {name: a, system_id: x, window: 0}\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "scenarios.commands.gateway", "check", "--config", str(config)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        check=False,
        timeout=30,
    )
    assert proc.returncode == 2
    assert f"{config}: binds.0.window" in proc.stderr.decode()


@pytest.mark.timeout(60)
def test_smsh_load_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    from scenarios.commands import load

    with serve_in_thread(receipt_delay=0.01, record=False) as smsc:
        started = time.monotonic()
        code = load.main(
            [
                "--smsc",
                f"127.0.0.1:{smsc.port}",
                "--system-id",
                "load",
                "--password",
                "pw",
                "--count",
                "300",
                "--window",
                "20",
                "--binds",
                "2",
                "--sync",
                "NORMAL",
                "--json",
            ]
        )
        assert time.monotonic() - started < 30
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("submitted", "receipts", "submit_rate", "receipt_rate", "states", "latency_ms"):
        assert key in report
    assert report["submitted"] == 300
    assert report["receipts"] == 300
    assert report["states"] == {"delivered": 300}
    assert report["submit_rate"] > 0
    assert report["receipt_rate"] > 0
    assert set(report["latency_ms"]) == {"submit_to_resp", "submit_to_receipt"}
