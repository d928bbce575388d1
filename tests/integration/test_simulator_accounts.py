"""Accounts and limits over loopback TCP: bind modes, max_binds, IP allowlist (from 127.0.0.2),
lockout, throughput, open mode, max_connections, and the TLS listener with a pinned certificate."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from simulator.smpp.constants import CommandStatus as S
from simulator.smpp.pdu import SubmitSm
from simulator.testing import RunningSimulator, SmppTestClient, running_simulator

pytestmark = pytest.mark.asyncio

ACCOUNTS: dict[str, Any] = {
    "accounts": [
        {"system_id": "tx_only", "password": "pw", "bind_modes": ["transmitter"]},
        {"system_id": "local", "password": "pw", "allow_from": ["127.0.0.1/32"]},
        {"system_id": "two", "password": "pw", "max_binds": 2},
        {"system_id": "fast", "password": "pw", "max_tps": 20, "burst": 5},
    ],
    "lockout": {"max_failures": 2, "window_s": 60, "lockout_s": 0.5},
}


@asynccontextmanager
async def simulator(config: Mapping[str, Any], **kwargs: Any) -> AsyncIterator[RunningSimulator]:
    async with (
        asyncio.timeout(15),
        running_simulator(dict(config), stop_grace=0.1, **kwargs) as sim,
    ):
        yield sim


KEEP: list[SmppTestClient] = []  # bound clients stay referenced (and so connected) per test


async def bind_status(
    sim: RunningSimulator, system_id: str, mode: str = "transceiver", source: str | None = None
) -> int:
    """Bind a new connection; a bound one is kept open until the test ends."""
    if source is None:
        client = await SmppTestClient.connect(sim.host, sim.port)
    else:
        reader, writer = await asyncio.open_connection(sim.host, sim.port, local_addr=(source, 0))
        client = SmppTestClient(reader, writer)
    response = await client.bind(system_id, "pw", mode)
    if response.command_status:
        assert await client.closed()
    else:
        KEEP.append(client)
    return response.command_status


@pytest.fixture(autouse=True)
def _forget_clients() -> None:
    KEEP.clear()


async def test_bind_modes_and_max_binds() -> None:
    async with simulator(ACCOUNTS) as sim:
        assert await bind_status(sim, "tx_only", "transmitter") == 0
        assert await bind_status(sim, "tx_only", "receiver") == S.ESME_RBINDFAIL
        assert await bind_status(sim, "tx_only", "transceiver") == S.ESME_RBINDFAIL
        assert await bind_status(sim, "two") == 0
        assert await bind_status(sim, "two", "receiver") == 0
        assert await bind_status(sim, "two", "transmitter") == S.ESME_RBINDFAIL
        assert sim.server.stats.binds == 3


async def test_ip_allowlist_from_another_loopback_address() -> None:
    async with simulator(ACCOUNTS) as sim:
        assert await bind_status(sim, "local") == 0
        assert await bind_status(sim, "local", source="127.0.0.2") == S.ESME_RBINDFAIL
        assert await bind_status(sim, "two", source="127.0.0.2") == 0


async def test_lockout_expires() -> None:
    async with simulator(ACCOUNTS) as sim:
        for _ in range(2):
            client = await SmppTestClient.connect(sim.host, sim.port)
            assert (await client.bind("two", "bad")).command_status == S.ESME_RINVPASWD
        assert await bind_status(sim, "two") == S.ESME_RBINDFAIL
        assert await bind_status(sim, "two", source="127.0.0.3") == 0  # per address
        await asyncio.sleep(0.6)
        assert await bind_status(sim, "two") == 0


async def test_throughput_limit_is_shared_by_the_account_sessions() -> None:
    async with simulator(ACCOUNTS) as sim:
        sessions = [await SmppTestClient.connect(sim.host, sim.port) for _ in range(2)]
        for client in sessions:
            assert (await client.bind("fast", "pw")).command_status == 0
        statuses = []
        for i in range(10):
            response = await sessions[i % 2].request(
                SubmitSm(source_addr="A", destination_addr="8190", short_message=b"x")
            )
            statuses.append(response.command_status)
        assert statuses.count(0) >= 5
        assert statuses.count(S.ESME_RTHROTTLED) >= 3
        assert set(statuses) <= {0, S.ESME_RTHROTTLED}


async def test_open_mode_binds_anything() -> None:
    async with simulator({}) as sim:
        client = await SmppTestClient.connect(sim.host, sim.port)
        assert (await client.bind("whoever", "whatever")).command_status == 0
        response = await client.request(
            SubmitSm(source_addr="A", destination_addr="8190", registered_delivery=1)
        )
        assert response.command_status == 0


async def test_max_connections() -> None:
    async with simulator({"limits": {"max_connections": 2}}) as sim:
        keep = [await SmppTestClient.connect(sim.host, sim.port) for _ in range(2)]
        for client in keep:
            assert (await client.bind()).command_status == 0
        extra = await SmppTestClient.connect(sim.host, sim.port)
        assert await extra.closed()
        assert sim.server.stats.connections_refused == 1


def make_certificate(directory: Path, name: str) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed")
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


async def test_tls_listener_with_a_pinned_certificate(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path, "server")
    other, _ = make_certificate(tmp_path, "other")
    config = {"tls": {"port": 0, "cert_file": str(cert), "key_file": str(key)}}
    async with simulator(config) as sim:
        assert sim.tls_port is not None
        assert sim.tls_port != sim.port
        pinned = ssl.create_default_context(cafile=str(cert))
        client = await SmppTestClient.connect(
            sim.host, sim.tls_port, ssl_context=pinned, server_hostname="localhost"
        )
        assert (await client.bind()).command_status == 0
        response = await client.request(
            SubmitSm(source_addr="A", destination_addr="8190", short_message=b"over TLS")
        )
        assert response.command_status == 0
        await client.close()
        # A client pinning another certificate refuses the server.
        wrong = ssl.create_default_context(cafile=str(other))
        with pytest.raises(ssl.SSLCertVerificationError):
            await SmppTestClient.connect(
                sim.host, sim.tls_port, ssl_context=wrong, server_hostname="localhost"
            )
        # The plain listener still works.
        plain = await SmppTestClient.connect(sim.host, sim.port)
        assert (await plain.bind()).command_status == 0
