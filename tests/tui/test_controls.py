"""Every control key: the console publishes a `Control`, a fake component answers, and the
console shows the verdict."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack

import pytest
import pytest_asyncio
from pydantic import JsonValue

from sms.bus.control import ControlChannel, ControlRefused
from sms.bus.events import Control, ControlAction
from sms.bus.memory import InMemoryBus
from sms.clock import ManualClock
from tests.tui import sample
from tests.tui.conftest import RecordingApp, fed, make_app, settle
from tui.screens import ClearFaultScreen, ConfirmScreen, FaultScreen, RateScreen


class FakeComponents:
    """A gateway and a simulator that answer controls and remember them."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, dict[str, JsonValue]]] = []

    async def gateway(self, control: Control) -> Mapping[str, JsonValue]:
        self.received.append(("gateway", control.action, dict(control.args)))
        rate = control.args.get("rate")
        if isinstance(rate, float) and rate > 1000:
            raise ControlRefused("rate above the account's contract (1000/s)")
        return {"done": control.action}

    async def simulator(self, control: Control) -> None:
        self.received.append(("simulator", control.action, dict(control.args)))


@pytest_asyncio.fixture
async def components(bus: InMemoryBus) -> AsyncIterator[FakeComponents]:
    fake = FakeComponents()
    gateway = ControlChannel(bus, "gateway", "gw-1", clock=ManualClock())
    gateway_actions: tuple[ControlAction, ...] = ("pause_bind", "resume_bind", "set_rate", "drain")
    for action in gateway_actions:
        gateway.on(action, fake.gateway)
    simulator = ControlChannel(bus, "simulator", "sim-1", clock=ManualClock())
    simulator_actions: tuple[ControlAction, ...] = ("inject_fault", "clear_fault")
    for action in simulator_actions:
        simulator.on(action, fake.simulator)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(gateway)
        await stack.enter_async_context(simulator)
        yield fake


async def answered(app: RecordingApp, pilot: object, count: int) -> None:
    from textual.pilot import Pilot

    assert isinstance(pilot, Pilot)
    await settle(pilot, lambda: len(app.control_results) >= count)


@pytest.mark.asyncio
async def test_pause_and_resume_the_selected_bind(
    bus: InMemoryBus, components: FakeComponents
) -> None:
    app = make_app(bus)
    async with asyncio.timeout(30), app.run_test(size=(120, 36)) as pilot:
        await fed(app, pilot, bus, sample.sample_events())
        await pilot.press("p")  # b1 is selected and bound: pause it
        await answered(app, pilot, 1)
        await pilot.press("down", "p")  # b2 is paused: resume it
        await answered(app, pilot, 2)
    assert components.received == [
        ("gateway", "pause_bind", {"bind_id": "b1"}),
        ("gateway", "resume_bind", {"bind_id": "b2"}),
    ]
    assert [(r.action, r.target, r.ok) for r in app.control_results] == [
        ("pause_bind", "gateway/gw-1", True),
        ("resume_bind", "gateway/gw-1", True),
    ]
    acks = [note for note in app.notes if note[1] == "Control acknowledged"]
    assert acks[0] == ("information", "Control acknowledged", "pause bind — gateway/gw-1 ok")


@pytest.mark.asyncio
async def test_set_rate_acknowledged_then_refused(
    bus: InMemoryBus, components: FakeComponents
) -> None:
    app = make_app(bus)
    async with asyncio.timeout(30), app.run_test(size=(120, 36)) as pilot:
        await fed(app, pilot, bus, sample.sample_events())
        await pilot.press("r")
        await settle(pilot, lambda: isinstance(app.screen, RateScreen))
        await pilot.press(*"abc", "enter")  # type="number" ignores letters
        await pilot.press(*"50", "enter")
        await answered(app, pilot, 1)
        await pilot.press("r")
        await settle(pilot, lambda: isinstance(app.screen, RateScreen))
        await pilot.press(*"5000", "enter")
        await answered(app, pilot, 2)
    assert components.received == [
        ("gateway", "set_rate", {"bind_id": "b1", "rate": 50.0}),
        ("gateway", "set_rate", {"bind_id": "b1", "rate": 5000.0}),
    ]
    assert [r.ok for r in app.control_results] == [True, False]
    severity, title, message = app.notes[-1]
    assert (severity, title) == ("error", "Control refused")
    assert "rate above the account's contract" in message


@pytest.mark.asyncio
async def test_inject_and_clear_a_fault(bus: InMemoryBus, components: FakeComponents) -> None:
    app = make_app(bus)
    async with asyncio.timeout(30), app.run_test(size=(120, 36)) as pilot:
        await fed(app, pilot, bus, sample.sample_events())
        await pilot.press("i")
        await settle(pilot, lambda: isinstance(app.screen, FaultScreen))
        await pilot.press("down", "enter")  # queue_full; focus moves to the target
        await pilot.press(*"acme", "tab")  # focus selects the example params, typing
        await pilot.press(*'{"rate": 0.5}', "tab", *"30", "enter")  # replace them
        await answered(app, pilot, 1)
        await pilot.press("c")
        await settle(pilot, lambda: isinstance(app.screen, ClearFaultScreen))
        await pilot.press("enter")
        await answered(app, pilot, 2)
    assert components.received == [
        (
            "simulator",
            "inject_fault",
            {
                "fault_kind": "queue_full",
                "params": {"rate": 0.5},
                "target": "acme",
                "duration_s": 30.0,
            },
        ),
        ("simulator", "clear_fault", {"fault_id": "f-1"}),
    ]
    assert [(r.action, r.target, r.ok) for r in app.control_results] == [
        ("inject_fault", "simulator/sim-1", True),
        ("clear_fault", "simulator/sim-1", True),
    ]


@pytest.mark.asyncio
async def test_fault_form_rejects_bad_params_without_sending(
    bus: InMemoryBus, components: FakeComponents
) -> None:
    app = make_app(bus)
    async with asyncio.timeout(30), app.run_test(size=(120, 36)) as pilot:
        await pilot.press("c")  # nothing to clear yet
        await settle(pilot, lambda: bool(app.notes))
        assert app.notes[-1][2] == "No active faults."
        await pilot.press("i")
        await settle(pilot, lambda: isinstance(app.screen, FaultScreen))
        await pilot.press("enter", "tab", *"[1]", "enter")
        await pilot.pause()
        assert isinstance(app.screen, FaultScreen)
        assert "must be a JSON object" in str(app.screen.query_one(".form-error").render())
        await pilot.press("escape")
        await settle(pilot, lambda: not isinstance(app.screen, FaultScreen))
    assert components.received == []


@pytest.mark.asyncio
async def test_drain_asks_first(bus: InMemoryBus, components: FakeComponents) -> None:
    app = make_app(bus)
    async with asyncio.timeout(30), app.run_test(size=(120, 36)) as pilot:
        await fed(app, pilot, bus, sample.sample_events())
        await pilot.press("d")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await settle(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        await pilot.press("d")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await answered(app, pilot, 1)
    assert components.received == [("gateway", "drain", {})]
    assert app.control_results[0].ok is True


@pytest.mark.asyncio
async def test_no_answer_is_shown_as_a_warning(bus: InMemoryBus) -> None:
    app = make_app(bus, control_timeout=0.2)
    async with asyncio.timeout(30), app.run_test(size=(120, 36)) as pilot:
        await pilot.press("p")  # no binds known yet
        await settle(pilot, lambda: bool(app.notes))
        assert app.notes[-1] == ("warning", "Controls", "No bind to act on yet.")
        await fed(app, pilot, bus, sample.sample_events())
        await pilot.press("p")
        await answered(app, pilot, 1)
        await pilot.press("d", "y")  # one gateway instance known: it is addressed directly
        await answered(app, pilot, 2)
    first, second = app.control_results
    assert (first.action, first.ok, first.detail) == ("pause_bind", None, "no answer in 0.2 s")
    assert (second.action, second.target, second.ok) == ("drain", "gateway/gw-1", None)
    assert app.notes[-1][:2] == ("warning", "No answer")
