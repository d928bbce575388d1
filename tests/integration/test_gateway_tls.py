"""The gateway bound over TLS to the simulator's TLS listener (self-signed certificate, pinned
with the bind's ``tls.ca_file``): traffic and receipts flow, and a wrong CA fails each connect
with a reason that says TLS while the bind keeps retrying."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.config import GatewayConfig
from gateway.gateway import Gateway, open_store
from gateway.store import MessageState
from simulator.testing import running_simulator
from sms.bus import BindStateChanged, InMemoryBus
from tests.integration.test_gateway_loopback import Events, final, make_config, wait_for
from tests.integration.test_simulator_accounts import make_certificate

pytestmark = pytest.mark.asyncio

TIMEOUT = 30.0


def tls_config(port: int, tls: dict[str, Any]) -> GatewayConfig:
    return make_config(port, bind={"tls": tls})


@contextlib.asynccontextmanager
async def running_tls(db: Path, config: GatewayConfig, events: Events) -> AsyncIterator[Gateway]:
    store = open_store(config, path=db)
    bus = InMemoryBus()
    ready = asyncio.Event()
    collector = asyncio.create_task(events.run(bus, ready))
    await ready.wait()
    try:
        gateway = Gateway(config, store, bus)
        async with gateway:
            yield gateway
    finally:
        await bus.close()
        await collector
        store.close()


async def test_submits_and_receipts_over_tls(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path, "server")
    sim_config = {
        "receipts": {"delay_s": 0.05},
        "tls": {"port": 0, "cert_file": str(cert), "key_file": str(key)},
    }
    events = Events()
    async with (
        asyncio.timeout(TIMEOUT),
        running_simulator(sim_config, stop_grace=0.1) as sim,
    ):
        assert sim.tls_port is not None
        config = tls_config(sim.tls_port, {"ca_file": str(cert), "server_hostname": "localhost"})
        async with running_tls(tmp_path / "g.db", config, events) as gw:
            ids = [
                await gw.submit("09012345678", "Hello over TLS"),
                await gw.submit("09012345678", "日本語のメッセージ" * 10),  # two UCS-2 parts
            ]
            statuses = await final(gw, ids)
            receipts = dict(gw.stats.receipt_status)
            bind = gw.binds()[0]
    assert [s.state for s in statuses] == [MessageState.DELIVERED] * 2
    assert statuses[1].parts_total == 2
    assert receipts == {"matched": 3}
    assert (bind.ups, bind.last_error) == (1, None)
    assert sim.server.stats.accepted == 3


async def test_host_name_defaults_to_the_bind_host(tmp_path: Path) -> None:
    # The certificate names IP:127.0.0.1 too, so the bind's host alone passes the check.
    cert, key = make_certificate(tmp_path, "server")
    sim_config = {"tls": {"port": 0, "cert_file": str(cert), "key_file": str(key)}}
    async with (
        asyncio.timeout(TIMEOUT),
        running_simulator(sim_config, stop_grace=0.1) as sim,
    ):
        assert sim.tls_port is not None
        config = tls_config(sim.tls_port, {"ca_file": str(cert)})
        async with running_tls(tmp_path / "g.db", config, Events()) as gw:
            await wait_for(lambda: gw.binds()[0].state == "bound")


async def test_wrong_ca_fails_the_bind_with_a_tls_reason_and_keeps_retrying(
    tmp_path: Path,
) -> None:
    cert, key = make_certificate(tmp_path, "server")
    other, _ = make_certificate(tmp_path, "other")
    sim_config = {"tls": {"port": 0, "cert_file": str(cert), "key_file": str(key)}}
    events = Events()

    def attempts() -> int:
        return sum(1 for e in events.of(BindStateChanged) if e.state == "connecting")

    async with (
        asyncio.timeout(TIMEOUT),
        running_simulator(sim_config, stop_grace=0.1) as sim,
    ):
        assert sim.tls_port is not None
        config = tls_config(sim.tls_port, {"ca_file": str(other), "server_hostname": "localhost"})
        async with running_tls(tmp_path / "g.db", config, events) as gw:
            await wait_for(lambda: attempts() >= 3)
            bind = gw.binds()[0]
            closed = [e for e in events.of(BindStateChanged) if e.state == "closed"]
            message_id = await gw.submit("09012345678", "never leaves")
            await asyncio.sleep(0.2)
            status = await gw.status(message_id)
    assert bind.ups == 0
    assert bind.last_error is not None
    assert "TLS handshake with 127.0.0.1:" in bind.last_error
    assert "certificate verify failed" in bind.last_error
    assert len(closed) >= 2
    assert all("TLS handshake" in (e.reason or "") for e in closed)
    assert status.state not in (MessageState.SUBMITTED, MessageState.DELIVERED)
    assert sim.server.stats.accepted == 0


async def test_a_disabled_section_connects_in_plain_tcp(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path, "server")
    sim_config = {"tls": {"port": 0, "cert_file": str(cert), "key_file": str(key)}}
    async with (
        asyncio.timeout(TIMEOUT),
        running_simulator(sim_config, stop_grace=0.1) as sim,
    ):
        config = tls_config(sim.port, {"enabled": False, "ca_file": str(tmp_path / "absent.pem")})
        async with running_tls(tmp_path / "g.db", config, Events()) as gw:
            await wait_for(lambda: gw.binds()[0].state == "bound")
