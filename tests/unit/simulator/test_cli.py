"""scenarios.commands.simulator: banner, counter line, a short serve() run, config errors."""

from __future__ import annotations

import argparse
import asyncio
import io
from pathlib import Path

import pytest

from scenarios.commands import simulator as command
from simulator.config import config_from_mapping
from simulator.server import ServerStats, SimulatorServer
from simulator.smpp.pdu import SubmitSm, Unbind, UnbindResp
from simulator.testing import SmppTestClient


def test_banner_lists_accounts_and_limits() -> None:
    config = config_from_mapping(
        {
            "accounts": [
                {"system_id": "acme", "password": "secret", "max_tps": 50, "window": 10,
                 "allow_from": ["10.0.0.0/8"], "max_binds": 2},
            ]
        }
    )  # fmt: skip
    server = SimulatorServer(config)
    server.address = ("127.0.0.1", 2775)
    text = "\n".join(command.describe(config, server))
    assert "127.0.0.1:2775" in text
    assert "account acme" in text
    assert "max_tps 50" in text
    assert "from 10.0.0.0/8" in text
    assert "secret" not in text
    assert "open mode" not in text
    assert "open mode" in "\n".join(command.describe(config_from_mapping({}), server))


def test_counter_line() -> None:
    before = ServerStats(submits=100, receipts_sent=10)
    now = ServerStats(binds=2, submits=300, receipts_sent=60, accepted=290, throttled=10)
    line = command.counters(now, before, 7, 2.0)
    assert line.startswith("binds 2 | submits/s 100 | receipts/s 25 | queued receipts 7")


def test_serve_prints_and_stops_cleanly() -> None:
    async def scenario() -> str:
        out = io.StringIO()
        stop = asyncio.Event()
        task = asyncio.create_task(
            command.serve(
                config_from_mapping({"port": 0}),
                host=None,
                port=0,
                bus=None,
                out=out,
                live=True,
                stop=stop,
            )
        )
        async with asyncio.timeout(10):
            while "listening on" not in out.getvalue():  # noqa: ASYNC110 - polls a buffer
                await asyncio.sleep(0.01)
            port = int(out.getvalue().split("listening on ")[1].split()[0].rsplit(":", 1)[1])
            client = await SmppTestClient.connect("127.0.0.1", port)
            assert (await client.bind()).command_status == 0
            stop.set()
            unbind = await client.expect(Unbind)  # Ctrl-C unbinds every session ...
            client.send(UnbindResp(unbind.sequence_number))
            assert await client.closed()  # ... and closes once answered
            await task
        return out.getvalue()

    text = asyncio.run(scenario())
    assert "stopped: 1 binds" in text


def test_run_reports_config_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("accounts:\n  - system_id: a\n    password: far-too-long\n", encoding="utf-8")
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    assert command.run(parser.parse_args(["--config", str(path)])) == 2
    assert f"{path}: accounts[0].password" in capsys.readouterr().err


def test_runs_on_uvloop() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def scenario() -> int:
        async with asyncio.timeout(10):
            server = SimulatorServer(config_from_mapping({"receipts": {"delay_s": 0}}))
            await server.start(port=0)
            try:
                assert server.address is not None
                client = await SmppTestClient.connect(*server.address)
                assert (await client.bind()).command_status == 0
                await client.request(
                    SubmitSm(source_addr="A", destination_addr="8190", registered_delivery=1)
                )
                await client.deliveries(1)
                return server.stats.accepted
            finally:
                await server.stop(grace=0.2)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(scenario()) == 1
