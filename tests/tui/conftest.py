"""Fixtures of the console tests: a bus, an app on a frozen clock, and ways to wait for it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import pytest_asyncio
from rich.text import Text
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Static

from sms.bus.events import Event
from sms.bus.memory import InMemoryBus
from sms.clock import ManualClock
from tests.tui.sample import T0
from tui.app import SmshApp

#: The viewer's frozen clock reading in every test (ten minutes into the sample night).
NOW: float = T0 + 700


class RecordingApp(SmshApp):
    """The console, recording every notification it shows."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notes: list[tuple[str, str, str]] = []

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Any = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        self.notes.append((severity, title, message))
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)


def make_app(bus: InMemoryBus, **options: Any) -> RecordingApp:
    """A console for tests: frozen clock, no table throttling, fixed instance id."""
    settings: dict[str, Any] = {
        "clock": ManualClock(NOW),
        "table_interval": 0.0,
        "instance": "ops-test",
        "control_timeout": 2.0,
    }
    settings.update(options)
    return RecordingApp(bus, **settings)


@pytest_asyncio.fixture
async def bus() -> AsyncIterator[InMemoryBus]:
    """A fresh in-memory bus."""
    async with InMemoryBus() as memory_bus:
        yield memory_bus


async def publish(bus: InMemoryBus, items: Iterable[tuple[str, Event]]) -> int:
    """Publish events in order; returns how many."""
    count = 0
    for topic, event in items:
        await bus.publish(topic, event)
        count += 1
    return count


async def settle(pilot: Pilot[Any], until: Callable[[], bool], *, within: float = 10.0) -> None:
    """Let the app run until a condition holds (or fail after `within` seconds)."""
    async with asyncio.timeout(within):
        while not until():
            await pilot.pause(0.01)
    await pilot.pause()


async def fed(app: SmshApp, pilot: Pilot[Any], bus: InMemoryBus, items: list[Any]) -> None:
    """Publish `items` once the app listens, and wait until its screens show them."""
    await app.wait_until_subscribed()
    target = app.state.events_seen + await publish(bus, items)
    await settle(pilot, lambda: app.state.events_seen >= target)
    await settle(pilot, lambda: app.shown_version >= app.state.version)


def text_of(app: App[Any], selector: str) -> str:
    """The plain text a Static shows."""
    content = app.screen.query_one(selector, Static).content
    return content.plain if isinstance(content, Text) else str(content)
