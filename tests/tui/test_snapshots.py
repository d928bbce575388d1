"""Visual snapshots of every screen at 80x24 (the overview also at 120x36), fed the sample night.

Deterministic by construction: a frozen viewer clock (`ManualClock`), times shown in UTC, no table
throttling (`table_interval=0`), no alert pop-ups, and the sample has no randomness. Update the
baselines with ``pytest tests/tui/test_snapshots.py --snapshot-update`` on the baseline Python
only (the rendering of a few glyphs may differ between versions).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from sms.bus.memory import InMemoryBus
from tests.tui import sample
from tests.tui.conftest import fed, make_app, settle
from tui.app import SmshApp
from tui.screens import CampaignsScreen, HandsetScreen, MessagesScreen, ScenarioScreen

pytestmark = [
    pytest.mark.snapshot,
    pytest.mark.skipif(
        sys.version_info[:2] != (3, 11), reason="snapshot baselines are made on Python 3.11"
    ),
]

NARROW = (80, 24)
WIDE = (120, 36)


def _app() -> tuple[SmshApp, InMemoryBus]:
    bus = InMemoryBus()
    return make_app(bus, notify_alerts=False), bus


@pytest.mark.parametrize("size", [NARROW, WIDE], ids=["80x24", "120x36"])
def test_overview(snap_compare: Callable[..., bool], size: tuple[int, int]) -> None:
    """The overview with two gateway binds, a simulator session, metrics, a fault and alerts."""
    app, bus = _app()

    async def feed(pilot: Pilot[Any]) -> None:
        await fed(app, pilot, bus, sample.sample_events())

    assert snap_compare(app, terminal_size=size, run_before=feed)


def test_messages(snap_compare: Callable[..., bool]) -> None:
    """The messages table with the third row selected and its lifecycle shown."""
    app, bus = _app()

    async def feed(pilot: Pilot[Any]) -> None:
        await fed(app, pilot, bus, sample.sample_events())
        await pilot.press("2")
        await settle(pilot, lambda: isinstance(app.screen, MessagesScreen))
        await pilot.press("down", "down")
        await pilot.pause()

    assert snap_compare(app, terminal_size=NARROW, run_before=feed)


def test_handset(snap_compare: Callable[..., bool]) -> None:
    """The replier's threads: MT text, a spoof in the ACME thread, an opt-out breach, a relabel."""
    app, bus = _app()

    async def feed(pilot: Pilot[Any]) -> None:
        await fed(app, pilot, bus, sample.sample_events() + sample.handset_night())
        await pilot.press("3")
        await settle(pilot, lambda: isinstance(app.screen, HandsetScreen))
        await pilot.pause()

    assert snap_compare(app, terminal_size=NARROW, run_before=feed)


def test_campaigns(snap_compare: Callable[..., bool]) -> None:
    """Three campaigns, the unapproved one highlighted in the detail."""
    app, bus = _app()

    async def feed(pilot: Pilot[Any]) -> None:
        await fed(app, pilot, bus, sample.campaign_night())
        await pilot.press("5")
        await settle(pilot, lambda: isinstance(app.screen, CampaignsScreen))
        await pilot.pause()

    assert snap_compare(app, terminal_size=NARROW, run_before=feed)


def test_scenario(snap_compare: Callable[..., bool]) -> None:
    """The scenario run part way: phase stepper, progress, one expectation of each status."""
    app, bus = _app()

    async def feed(pilot: Pilot[Any]) -> None:
        await fed(app, pilot, bus, sample.sample_events())
        await pilot.press("4")
        await settle(pilot, lambda: isinstance(app.screen, ScenarioScreen))
        await pilot.pause()

    assert snap_compare(app, terminal_size=NARROW, run_before=feed)
