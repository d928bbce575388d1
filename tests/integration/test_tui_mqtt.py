"""The operator console and a scenario run in two processes, talking only through Mosquitto.

A subprocess runs ``smsh run SCENARIO --mqtt URL`` (simulator + gateway, bridged to the broker);
this process runs the real `SmshApp` on an `MqttBus` under Textual's pilot, as ``smsh tui
--mqtt URL`` does. The console must show the run's binds, messages and handset deliveries, and a
``pause_bind`` sent from the console (the ``p`` key) must be acknowledged by the gateway in the
other process, which then reports the bind paused. Waits poll generously (the machine is busy);
nothing sleeps for a fixed time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from textual.pilot import Pilot

from sms.bus.mqtt import MqttBus
from sms.bus.url import bus_from_url
from tests.integration.mqtt_broker import MosquittoBroker, require_mosquitto, running_mosquitto
from tui.app import SmshApp
from tui.state import BindKey, OpsState
from tui.widgets import LiveTable

pytestmark = pytest.mark.mqtt

ROOT = Path(__file__).resolve().parents[2]

#: A run long enough to be watched and paused: 5 messages/s for a minute of real time.
SCENARIO = """\
schema_version: 1
name: tui-mqtt
description: Steady light traffic for the two-process console test.
seed: 7
speed: 1
drain: 10s
simulator:
  accounts:
    - {system_id: ops, password: ops, bind_modes: [transceiver], max_binds: 1, max_tps: 100}
  network:
    population: {size: 200, reject_all_share: 0, reject_international_share: 0}
    absence: {p_absent: 0}
    receipts: {loss_rate: 0}
    routes:
      domestic_direct:
        outcomes: {delivered: 1.0, expired: 0, unknown_subscriber: 0, rejected: 0, unknown: 0}
        latency: {kind: fixed, seconds: 1}
gateway:
  binds:
    - {system_id: ops, password: ops, mode: transceiver}
  window: 10
  rate: 50
traffic:
  - kind: generator
    name: main
    phases:
      - {kind: steady, rate: 5, duration: 60s}
    text: {gsm7: 1}
    destinations: {kind: population}
expectations:
  - all_terminal
"""
#: Most seconds any one condition may take to come true on a busy machine.
WAIT = 30.0


@pytest_asyncio.fixture
async def broker() -> AsyncIterator[MosquittoBroker]:
    async with running_mosquitto(require_mosquitto()) as running:
        yield running


@contextlib.asynccontextmanager
async def scenario_run(broker: MosquittoBroker, tmp_path: Path) -> AsyncIterator[Path]:
    """``smsh run`` in a subprocess, publishing to `broker`; interrupted at the end.

    Yields:
        The file its stderr goes to (for failure messages).
    """
    scenario = tmp_path / "tui-mqtt.yaml"
    scenario.write_text(SCENARIO)
    stderr_path = tmp_path / "run.stderr"
    with stderr_path.open("wb") as stderr, (tmp_path / "run.stdout").open("wb") as stdout:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "scenarios.cli",
            "run",
            str(scenario),
            "--no-tui",
            "--runs",
            str(tmp_path / "runs"),
            "--mqtt",
            f"{broker.url}?client_id=run-{os.getpid()}",
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        yield stderr_path
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


async def until(
    pilot: Pilot[Any], condition: Callable[[], bool], what: str, stderr: Path, within: float = WAIT
) -> None:
    """Let the app run until `condition` holds; fail naming `what` (and the run's stderr)."""
    try:
        async with asyncio.timeout(within):
            while not condition():
                await pilot.pause(0.05)
    except TimeoutError:
        pytest.fail(f"no {what} within {within:g} s; the run's stderr ends:\n{_tail(stderr)}")
    await pilot.pause()


def _tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def gateway_bind(state: OpsState) -> BindKey | None:
    """The first bound gateway session the console knows."""
    for bind in state.bind_list():
        if bind.component == "gateway" and bind.state == "bound":
            return bind.key
    return None


@pytest.mark.asyncio
async def test_console_watches_a_run_in_another_process_and_pauses_its_bind(
    broker: MosquittoBroker, tmp_path: Path
) -> None:
    bus = bus_from_url(f"{broker.url}?client_id=ops-console")
    assert isinstance(bus, MqttBus)
    async with asyncio.timeout(90), bus:
        await bus.wait_connected()
        app = SmshApp(
            bus, instance="ops-console", notify_alerts=False, table_interval=0, control_timeout=10
        )
        async with app.run_test(size=(120, 36)) as pilot:
            await app.wait_until_subscribed()  # the broker acknowledged the subscription
            async with scenario_run(broker, tmp_path) as stderr:
                state = app.state
                await until(pilot, lambda: gateway_bind(state) is not None, "bound bind", stderr)
                await until(
                    pilot,
                    lambda: (
                        state.final_counts["delivered"] >= 3
                        and state.handset_deliveries_matched >= 1
                    ),
                    "delivered messages",
                    stderr,
                )
                key = gateway_bind(state)
                assert key is not None
                assert key[:2] == ("gateway", "gw-1")
                assert ("simulator", "sim-1") in state.sources
                assert state.binds[key].submits > 0
                # the simulator's delivery found the gateway's message across processes
                landed = [
                    r for r in state.messages.values() if r.entry is not None and r.entry.delivered
                ]
                assert landed
                assert landed[0].entry is not None
                assert landed[0].entry.text  # the MT text, as the handset shows it

                app.selected_bind = key
                await pilot.press("p")
                await until(pilot, lambda: bool(app.control_results), "pause ack", stderr)
                answer = app.control_results[0]
                assert (answer.action, answer.target, answer.ok) == (
                    "pause_bind",
                    "gateway/gw-1",
                    True,
                ), answer.detail
                # the gateway in the other process reports the bind paused, and the overview
                # shows it
                await until(pilot, lambda: state.binds[key].paused, "paused bind", stderr)
                table = app.screen.query_one("#binds", LiveTable)
                row = "\x1f".join(key)
                await until(pilot, lambda: table.cell_text(row, 1) == "paused", "row", stderr)

                await pilot.press("p")
                await until(pilot, lambda: len(app.control_results) >= 2, "resume ack", stderr)
                resumed = app.control_results[1]
                assert (resumed.action, resumed.ok) == ("resume_bind", True), resumed.detail
                await until(pilot, lambda: not state.binds[key].paused, "resumed bind", stderr)
    assert bus.stats.decode_errors == 0
