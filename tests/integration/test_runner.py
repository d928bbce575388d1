"""The scenario runner end to end: simulator + gateway in one process over loopback TCP.

Each test runs a real scenario (smoke.yaml, or smoke.yaml with its expectations replaced) into a
temporary runs directory and checks the verdicts, the run directory and the command's output.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.app import App
from textual.widgets import Static

from scenarios.commands import demo as demo_command
from scenarios.commands import run as run_command
from scenarios.ledger import LedgerReader
from scenarios.loader import load_scenario, load_scenario_text
from scenarios.runner import (
    PROGRESS_COMPONENT,
    PROGRESS_INSTANCE,
    RunOutcome,
    UnsupportedScenario,
    run_scenario,
)
from sms.bus.events import ScenarioProgress
from sms.bus.memory import InMemoryBus

LIBRARY = Path(__file__).resolve().parents[2] / "scenarios" / "library"
SMOKE = LIBRARY / "smoke.yaml"
#: Every run must finish well within this (smoke takes about half a second at speed 10).
RUN_TIMEOUT_S = 20.0

IMPOSSIBLE = """
expectations:
  - delivered_ratio <= 0.5
  - all_terminal
  - kind: count
    name: one more than planned
    metric: messages_planned
    op: "=="
    threshold: 21
"""


def impossible_smoke() -> str:
    """smoke.yaml with expectations that cannot all hold."""
    text = SMOKE.read_text(encoding="utf-8")
    head, _, _ = text.partition("\nexpectations:")
    return head + "\n" + IMPOSSIBLE


async def run(text_or_path: str | Path, root: Path, **kwargs: object) -> RunOutcome:
    """Run a scenario (a file path or YAML text) under a timeout."""
    if isinstance(text_or_path, Path):
        scenario = load_scenario(text_or_path)
    else:
        scenario = load_scenario_text(text_or_path, "impossible.yaml")
    async with asyncio.timeout(RUN_TIMEOUT_S):
        return await run_scenario(scenario, root=root, **kwargs)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_smoke_passes_end_to_end(tmp_path: Path) -> None:
    seen: list[ScenarioProgress] = []
    outcome = await run(SMOKE, tmp_path, progress=seen.append, progress_interval=0.1)

    assert outcome.passed, [v.margin for v in outcome.failed]
    assert [v.name for v in outcome.verdicts] == [
        "delivered_ratio >= 0.99",
        "all_terminal",
        "submit_errors == 0",
        "receipts_unmatched == 0",
        "every message planned",
    ]
    results = outcome.results
    assert results.counter("messages_planned") == 20
    assert results.counter("messages_accepted") == 20
    assert results.counter("messages_delivered") == 20
    assert results.counter("receipts_received") == 20
    assert results.counter("binds_lost") == 0  # the shutdown's own bind loss is not counted
    assert outcome.stopped_early  # every message final long before the 30 s drain ends

    run_dir = outcome.run.path
    assert run_dir.parent == tmp_path
    assert run_dir.name.startswith("smoke-")
    for name in ("scenario.yaml", "run.json", "ledger.sqlite", "results.json", "report.html"):
        assert (run_dir / name).is_file(), name
    written = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert written["passed"] is True
    assert written["scenario"] == "smoke"
    reader = LedgerReader(outcome.run.ledger_file)
    try:
        outcomes = reader.outcomes()
    finally:
        reader.close()
    assert sorted(outcomes) == [f"main-{n:06d}" for n in range(1, 21)]
    assert all(o.terminal for o in outcomes.values())

    assert seen, "no progress reported"
    assert seen[-1].phase == "finished"
    assert seen[-1].progress == 1.0


@pytest.mark.asyncio
async def test_a_run_on_the_callers_bus_publishes_its_progress_there(tmp_path: Path) -> None:
    seen: list[ScenarioProgress] = []
    topic = f"smsh/v1/{PROGRESS_COMPONENT}/{PROGRESS_INSTANCE}/scenario_progress"
    async with InMemoryBus() as bus:
        async with (
            bus.subscribe(topic, maxsize=10_000) as progress,
            bus.subscribe("smsh/v1/gateway/+/message_final", maxsize=10_000) as finals,
        ):
            outcome = await run(
                SMOKE, tmp_path, bus=bus, progress=seen.append, progress_interval=0.1
            )
            published = [event for _topic, event in progress.drain()]
            final_states = [event for _topic, event in finals.drain()]
        assert not bus.closed  # the caller's bus: the runner leaves it open

    assert outcome.passed, [v.margin for v in outcome.failed]
    assert published == seen  # published once each, in order, before the callback saw it
    assert len(published) >= 2
    last = published[-1]
    assert isinstance(last, ScenarioProgress)
    assert (last.phase, last.progress) == ("finished", 1.0)
    assert len(final_states) == outcome.results.counter("messages_delivered") == 20


@pytest.mark.asyncio
async def test_impossible_expectations_fail_with_name_and_margin(tmp_path: Path) -> None:
    outcome = await run(impossible_smoke(), tmp_path, speed=20.0)

    assert not outcome.passed
    failed = {v.name: v.margin for v in outcome.failed}
    assert set(failed) == {"delivered_ratio <= 0.5", "one more than planned"}
    assert failed["delivered_ratio <= 0.5"] == "delivered_ratio 1 > 0.5 by 0.5"
    assert failed["one more than planned"] == "messages_planned 20 < 21 by 1"
    assert outcome.report["passed"] is False


def test_command_json_exit_code_names_failures(tmp_path: Path) -> None:
    scenario_file = tmp_path / "impossible.yaml"
    scenario_file.write_text(impossible_smoke(), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()

    code = run_command.execute(
        scenario_file, as_json=True, speed=20.0, runs=tmp_path / "runs", out=out, err=err
    )

    assert code == 1
    report = json.loads(out.getvalue())
    assert report["passed"] is False
    assert report["scenario"] == "smoke"
    messages = err.getvalue()
    assert "FAILED delivered_ratio <= 0.5: delivered_ratio 1 > 0.5 by 0.5" in messages
    assert "FAILED one more than planned: messages_planned 20 < 21 by 1" in messages
    assert "all_terminal" not in messages
    match = re.search(r"run directory (\S+)", messages)
    assert match is not None
    assert (Path(match.group(1)) / "report.html").is_file()


def test_command_table_passes_on_smoke(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()

    code = run_command.execute(SMOKE, speed=20.0, runs=tmp_path, out=out, err=err)

    assert code == 0, err.getvalue()
    assert "PASSED: all 5 expectations hold" in out.getvalue()


def test_command_refuses_unloadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nname: bad\nspeeed: 3\n", encoding="utf-8")
    err = io.StringIO()

    code = run_command.execute(bad, runs=tmp_path, out=io.StringIO(), err=err)

    assert code == 2
    assert "bad.yaml" in err.getvalue()
    assert not any(tmp_path.glob("bad-*"))


def test_external_topology_is_refused_up_front(tmp_path: Path) -> None:
    text = (
        "schema_version: 1\nname: ext\nduration: 10s\n"
        "external: {esme: {listen: '127.0.0.1:0'}}\ntraffic: []\nexpectations: []\n"
    )
    scenario = load_scenario_text(text, "ext.yaml")

    async def attempt() -> None:
        async with asyncio.timeout(RUN_TIMEOUT_S):
            await run_scenario(scenario, root=tmp_path)

    with pytest.raises(UnsupportedScenario, match="external"):
        asyncio.run(attempt())
    assert not any(tmp_path.iterdir())


def test_progress_line() -> None:
    event = ScenarioProgress(
        at=0.0,
        run_id="r",
        scenario="s",
        phase="running",
        elapsed_s=12.0,
        progress=0.4,
        expectations=(),
    )
    assert run_command.progress_line(event) == (
        "[running      12.0s sim  40%] pass 0  fail 0  pending 0"
    )


@pytest.mark.parametrize(
    "name",
    [
        "recycled-owner-check-on",  # the owner check over the simulator's lookup API
        "quiet-hours",  # quiet hours: validity capped at the window's close, so some expire
    ],
)
@pytest.mark.asyncio
async def test_sending_policies_library_scenarios_pass(tmp_path: Path, name: str) -> None:
    outcome = await run(LIBRARY / f"{name}.yaml", tmp_path)

    assert outcome.passed, [v.margin for v in outcome.failed]
    if name == "recycled-owner-check-on":
        assert outcome.results.counter("owner_check_blocked") >= 1
    else:
        assert outcome.results.counter("messages_expired") >= 1
        assert outcome.results.counter("delivered_in_quiet_hours") == 0


def test_demo_command_runs_the_library_demo() -> None:
    parser = argparse.ArgumentParser(prog="smsh demo")
    demo_command.add_arguments(parser)
    args = parser.parse_args(["--json", "--speed", "20"])

    assert demo_command.DEMO_FILE == LIBRARY / "demo.yaml"
    assert load_scenario(demo_command.DEMO_FILE).name == "demo"
    assert args.json is True
    assert args.speed == 20.0


def _plain(app: App[Any], selector: str) -> str:
    content = app.screen.query_one(selector, Static).content
    return content.plain if isinstance(content, Text) else str(content)


@pytest.mark.asyncio
async def test_the_console_shows_the_demo_run(tmp_path: Path) -> None:
    from tui.screens import ScenarioScreen

    scenario = load_scenario(demo_command.DEMO_FILE)
    async with InMemoryBus() as bus:
        app = run_command.make_console(scenario, bus, speed=None, title="smsh demo · demo")
        async with asyncio.timeout(60), app.run_test(size=(120, 36)) as pilot:
            await app.wait_until_subscribed()
            outcome = await run_scenario(scenario, root=tmp_path, bus=bus)
            await pilot.press("4")
            async with asyncio.timeout(10):
                while not (
                    isinstance(app.screen, ScenarioScreen)
                    and app.shown_version >= app.state.version
                    and app.state.scenario is not None
                    and app.state.scenario.phase == "finished"
                ):
                    await pilot.pause(0.05)

            state = app.state
            results = outcome.results
            # Every message the run delivered, the console saw delivered, through the bus.
            assert results.counter("messages_delivered") > 0
            assert state.final_counts["delivered"] == results.counter("messages_delivered")
            assert state.kinds["message_accepted"] == results.counter("messages_accepted")
            assert {component for component, _, _ in state.binds} >= {"gateway", "simulator"}
            # The runner's progress reached the scenario screen, with every expectation.
            screen = app.screen
            assert isinstance(screen, ScenarioScreen)
            for verdict in outcome.verdicts:
                status = "pass" if verdict.passed else "fail"
                assert screen.expectation_status(verdict.name) == status, verdict.name
            assert "demo" in _plain(app, "#scenario-head")
            assert f"{sum(v.passed for v in outcome.verdicts)} passed" in _plain(app, "#tally")


def test_watch_run_closes_the_console_and_returns_the_outcome(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = load_scenario(SMOKE)
    borrowed: list[InMemoryBus] = []

    def lend() -> InMemoryBus:
        bus = InMemoryBus()
        borrowed.append(bus)
        return bus

    monkeypatch.setattr("scenarios.commands.run.InMemoryBus", lend)
    err = io.StringIO()

    async def main() -> RunOutcome:
        async with asyncio.timeout(60):
            return await run_command.watch_run(
                scenario, runs=tmp_path, title="t", err=err, headless=True, stay_open=False
            )

    outcome = asyncio.run(main())

    assert outcome.passed
    assert outcome.results.counter("messages_delivered") == 20
    assert err.getvalue() == ""  # the console was open for the whole run: no progress lines
