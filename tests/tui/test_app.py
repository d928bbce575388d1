"""Pilot tests of the screens, fed through an in-memory bus."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from sms.alphabet import Encoding
from sms.bus.bus import BusStats
from sms.bus.events import Event, ExpectationStatus, MessageAccepted, ScenarioProgress
from sms.bus.memory import InMemoryBus
from sms.bus.topics import event_topic
from tests.tui import sample
from tests.tui.conftest import fed, make_app, settle, text_of
from tui.screens import (
    CampaignsScreen,
    HandsetScreen,
    MessagesScreen,
    OverviewScreen,
    ScenarioScreen,
)
from tui.widgets import LiveTable


@pytest.mark.asyncio
async def test_overview_shows_binds_queues_receipts_latency_errors_faults_alerts(
    bus: InMemoryBus,
) -> None:
    app = make_app(bus)
    async with asyncio.timeout(30), app.run_test(size=(120, 36)) as pilot:
        assert isinstance(app.screen, OverviewScreen)
        await fed(app, pilot, bus, sample.sample_events())
        binds = app.screen.query_one("#binds", LiveTable)
        labels = [binds.cell_text(key, 0) for key in binds.row_keys]
        assert labels == ["gw-1/b1", "gw-1/b2", "sim-1/s1 (sim)"]
        first, second, _ = binds.row_keys
        assert (binds.cell_text(first, 1), binds.cell_text(first, 2)) == ("bound", "12/64")
        assert binds.cell_text(second, 1) == "paused"
        assert binds.cell_text(first, 6) == "5"  # throttles on b1
        queues = text_of(app, "#queues")
        assert "queued" in queues
        assert "1.2k" in queues
        assert "250" in queues
        assert "DELIVRD  85.0%" in text_of(app, "#receipts")
        latency = text_of(app, "#latency")
        assert "submit_res" in latency
        assert "31ms" in latency
        assert "0x58 ESME_RTHROTTLED" in text_of(app, "#errors")
        assert "tps_throttle → acme" in text_of(app, "#faults")
        alerts = text_of(app, "#alerts").splitlines()
        assert "misdelivery 09012340007" in alerts[0]  # newest first
        assert len(alerts) == 4
        banner = app.screen.query_one("#alert-banner")
        assert banner.has_class("-alarm")
        assert "⚠ 4 new  misdelivery 1  spoof→thread 1  after STOP 0  quiet hrs 1  other 1" in (
            text_of(app, "#alert-banner")
        )
        assert "⚠ 4 new alerts" in app.sub_title
        severity, title, message = app.notes[0]  # one pop-up for the burst, most urgent first
        assert (severity, title) == ("error", "4 new alerts")
        assert message.splitlines()[0].startswith("misdelivery 09012340007")
        await pilot.press("a")
        await settle(pilot, lambda: not banner.has_class("-alarm"))
        assert "all seen" in text_of(app, "#alert-banner")


@pytest.mark.asyncio
async def test_messages_search_follow_and_lifecycle(bus: InMemoryBus) -> None:
    app = make_app(bus)
    async with asyncio.timeout(30), app.run_test(size=(120, 36)) as pilot:
        await fed(app, pilot, bus, sample.sample_events())
        await pilot.press("2")
        await settle(pilot, lambda: isinstance(app.screen, MessagesScreen))
        table = app.screen.query_one("#messages", LiveTable)
        assert len(table.row_keys) == sample.MESSAGES + 1
        assert table.row_keys[0] == "mo-0001"  # newest first
        await pilot.press("slash", *"undeliverable")
        await settle(pilot, lambda: len(table.row_keys) < sample.MESSAGES)
        assert table.row_keys == ["m0018", "m0011", "m0004"]
        await pilot.press("enter")  # back to the table
        await pilot.press("down")
        await settle(pilot, lambda: "m0011" in text_of(app, "#detail"))
        detail = text_of(app, "#detail")
        assert "ACME → 09012340003" in detail
        assert "submit_sm part 1/1 on b1" in detail
        assert "SMSC received on s1: accepted" in detail
        assert "receipt part 1: UNDELIV err 001" in detail
        assert "final: undeliverable (UNDELIV err 001)" in detail
        await pilot.press("escape")
        await settle(pilot, lambda: len(table.row_keys) == sample.MESSAGES + 1)

        await pilot.press("f")  # freeze: new messages do not move the rows
        assert "FROZEN" in text_of(app, "#match-count")
        late = MessageAccepted(
            at=sample.T0 + 900,
            message_id="m-late",
            destination="0909",
            parts=1,
            encoding=Encoding.GSM7,
        )
        await fed(app, pilot, bus, [(event_topic("gateway", "gw-1", late.kind), late)])
        assert "m-late" not in table.row_keys
        await pilot.press("f")
        await settle(pilot, lambda: table.row_keys[:1] == ["m-late"])
        assert "following" in text_of(app, "#match-count")


@pytest.mark.asyncio
async def test_handset_shows_threads_of_one_number(bus: InMemoryBus) -> None:
    app = make_app(bus)
    async with asyncio.timeout(30), app.run_test(size=(120, 36)) as pilot:
        await fed(app, pilot, bus, sample.sample_events())
        await pilot.press("3")
        await settle(pilot, lambda: isinstance(app.screen, HandsetScreen))
        screen = app.screen
        assert isinstance(screen, HandsetScreen)
        assert screen.number == sample.REPLIER  # numbers with alerts come first
        threads = text_of(app, "#threads")
        assert "ACME" in threads
        assert "“STOP”  received" in threads
        assert "spoof delivered into thread" in threads
        await pilot.press("slash", *sample.number(7), "enter")
        await settle(pilot, lambda: screen.number == sample.number(7))
        threads = text_of(app, "#threads")
        assert "⚠ misdelivery" in threads
        assert threads.count("◀") == 3  # three messages to this handset
        await pilot.press("slash", *"0000", "enter")
        await settle(pilot, lambda: "Nothing seen for 0000" in text_of(app, "#threads"))


@pytest.mark.asyncio
async def test_handset_threads_show_mt_text_spoofs_relabels_and_quiet_hours(
    bus: InMemoryBus,
) -> None:
    app = make_app(bus)
    async with asyncio.timeout(30), app.run_test(size=(120, 36)) as pilot:
        await fed(app, pilot, bus, sample.sample_events())
        await pilot.press("3")
        await settle(pilot, lambda: isinstance(app.screen, HandsetScreen))
        screen = app.screen
        assert isinstance(screen, HandsetScreen)
        before = text_of(app, "#threads")
        assert "invoice 1001" not in before  # nothing landed yet: the shape is shown
        assert "GSM7 message" in before
        await fed(app, pilot, bus, sample.handset_night())
        threads = text_of(app, "#threads")
        assert screen.number == sample.REPLIER
        assert f"“{sample.dunning_text(1)}”" in threads
        assert f"“{sample.SPOOF_TEXT}”  delivered  ⚠ SPOOF" in threads
        assert "⚠ spoof in this thread" in threads
        assert "sent after opt out: STOP received" in threads
        assert threads.index(" ACME ") < threads.index(" (alerts) ")  # newest thread first
        assert " ACME   4 messages  1 alert" in threads  # the handset's count of the thread
        await pilot.press("slash", *sample.number(sample.RELABELLED), "enter")
        await settle(pilot, lambda: screen.number == sample.number(sample.RELABELLED))
        threads = text_of(app, "#threads")
        assert sample.RELABEL in threads
        assert "(sent as ACME)" in threads
        assert "⚠ relabelled" in threads
        await pilot.press("slash", *sample.number(2), "enter")
        await settle(pilot, lambda: "⚠ quiet hours" in text_of(app, "#threads"))
        await pilot.press("slash", *sample.number(7), "enter")
        await settle(pilot, lambda: "⚠ misdelivered" in text_of(app, "#threads"))
        assert text_of(app, "#threads").count("◀") == 3  # upgraded in place, not duplicated
        await pilot.press("1")
        await settle(pilot, lambda: isinstance(app.screen, OverviewScreen))
        newest = text_of(app, "#alerts").splitlines()[0]
        assert f"sent after opt out {sample.REPLIER} ←ACME STOP received" in newest
        assert "after STOP 1" in text_of(app, "#alert-banner")


@pytest.mark.asyncio
async def test_campaigns_list_figures_and_flag_an_unapproved_send(bus: InMemoryBus) -> None:
    app = make_app(bus)
    async with asyncio.timeout(30), app.run_test(size=(120, 36)) as pilot:
        await pilot.press("5")
        await settle(pilot, lambda: isinstance(app.screen, CampaignsScreen))
        screen = app.screen
        assert isinstance(screen, CampaignsScreen)
        assert "No campaigns yet" in text_of(app, "#campaign-detail")
        await fed(app, pilot, bus, sample.campaign_night())
        table = screen.query_one("#campaigns", LiveTable)
        assert table.row_keys == ["promo-x", "dunning-feb", "dunning-jan"]
        assert [screen.cell("dunning-jan", c) for c in range(10)] == [
            "January dunn…",
            "sending",
            "900",
            "22",
            "700",
            "150",
            "610",
            "25",
            "19",
            "3080.00",
        ]
        assert screen.cell("promo-x", 0) == "Promo X"
        detail = text_of(app, "#campaign-detail")  # the cursor starts on the newest
        assert "Promo X" in detail
        assert "approved by NOBODY: sending unapproved" in detail
        await pilot.press("down", "down")
        await settle(pilot, lambda: screen.selected == "dunning-jan")
        detail = text_of(app, "#campaign-detail")
        assert "created by sato  approved by tanaka" in detail
        assert "excluded 22 (invalid number 12, opted out 7, owner changed 3)" in detail
        assert "delivered 610 · queued 65 · failed 20 · expired 5" in detail
        assert "cost 3080.00" in detail
        assert "2 progress events" in detail


@pytest.mark.asyncio
async def test_scenario_expectations_turn_green_and_red_live(bus: InMemoryBus) -> None:
    def progress(at: float, phase: str, a: str, b: str, value: float) -> list[tuple[str, Event]]:
        event = ScenarioProgress(
            at=at,
            run_id="run-9",
            scenario="night",
            phase=phase,  # type: ignore[arg-type]
            elapsed_s=at - sample.T0,
            progress=value,
            expectations=(
                ExpectationStatus(name="delivered", status=a),  # type: ignore[arg-type]
                ExpectationStatus(name="quiet", status=b),  # type: ignore[arg-type]
            ),
        )
        return [(event_topic("scenario", "run-9", event.kind), event)]

    app = make_app(bus)
    async with asyncio.timeout(30), app.run_test(size=(120, 36)) as pilot:
        await pilot.press("4")
        await settle(pilot, lambda: isinstance(app.screen, ScenarioScreen))
        screen = app.screen
        assert isinstance(screen, ScenarioScreen)
        assert "No scenario running" in text_of(app, "#scenario-head")
        await fed(app, pilot, bus, progress(sample.T0, "running", "pending", "pending", 0.1))
        assert screen.expectation_status("delivered") == "pending"
        assert "0 passed" in text_of(app, "#tally")
        await fed(app, pilot, bus, progress(sample.T0 + 60, "evaluating", "pass", "fail", 1.0))
        assert screen.expectation_status("delivered") == "pass"
        assert screen.expectation_status("quiet") == "fail"
        assert "1 passed" in text_of(app, "#tally")
        assert "1 failed" in text_of(app, "#tally")
        assert "✔ running" in text_of(app, "#phases")
        assert "0:01:00" in text_of(app, "#scenario-head")


@pytest.mark.asyncio
async def test_every_screen_and_form_renders_at_80x24(bus: InMemoryBus) -> None:
    app = make_app(bus)
    async with asyncio.timeout(30), app.run_test(size=(80, 24)) as pilot:
        await fed(app, pilot, bus, sample.sample_events())
        for key, screen_type in (
            ("2", MessagesScreen),
            ("3", HandsetScreen),
            ("4", ScenarioScreen),
            ("5", CampaignsScreen),
            ("1", OverviewScreen),
        ):
            await pilot.press(key)
            await settle(pilot, lambda t=screen_type: isinstance(app.screen, t))  # type: ignore[misc]
            assert app.screen.size.width == 80
            assert app.screen.has_class("-narrow")
        for key in ("r", "i", "c", "d"):
            await pilot.press(key)
            await settle(pilot, lambda: len(app.screen_stack) == 2)
            await pilot.press("escape")
            await settle(pilot, lambda: len(app.screen_stack) == 1)
        assert app.control_results == []  # every form was cancelled
        assert app.return_code is None  # no crash so far


@pytest.mark.asyncio
async def test_a_flood_of_events_leaves_the_console_responsive(bus: InMemoryBus) -> None:
    """20,000 events as fast as the bus takes them: totals converge, keys still work."""
    messages = 5_000
    app = make_app(bus)
    async with asyncio.timeout(60), app.run_test(size=(120, 36)) as pilot:
        await app.wait_until_subscribed()
        flood = [item for n in range(messages) for item in _short_life(n)]
        assert len(flood) == 20_000
        switched_after: float | None = None
        for start in range(0, len(flood), 1_000):
            for topic, event in flood[start : start + 1_000]:
                bus.publish_nowait(topic, event)
            if start == 10_000:
                pressed = time.monotonic()
                await pilot.press("2")
                await settle(pilot, lambda: isinstance(app.screen, MessagesScreen), within=5)
                switched_after = time.monotonic() - pressed
            await asyncio.sleep(0)
        await settle(pilot, lambda: app.state.events_seen == len(flood), within=30)
        await settle(pilot, lambda: app.shown_version >= app.state.version)
        state = app.state
        assert app.subscription is not None
        assert app.subscription.dropped == 0
        assert state.final_counts["delivered"] == messages
        assert len(state.messages) == messages
        assert state.status_counts["delivered"] == messages
        assert state.binds[("gateway", "gw-1", "b1")].submits == messages
        assert switched_after is not None
        assert switched_after < 5
        # coalescing: far fewer repaints than events, and the table shows the newest
        assert 1 <= app.updates_handled < len(flood) // 100
        table = app.screen.query_one("#messages", LiveTable)
        assert table.row_keys[0] == f"f{messages - 1}"


def _short_life(n: int) -> list[tuple[str, Event]]:
    from sms.bus.events import MessageFinal, PartSubmitted, SubmitResponded

    mid, at = f"f{n}", sample.T0 + n / 1000
    events: list[Event] = [
        MessageAccepted(at=at, message_id=mid, destination="0901", parts=1, encoding=Encoding.GSM7),
        PartSubmitted(at=at, message_id=mid, part=1, sequence_number=1, bind_id="b1"),
        SubmitResponded(
            at=at,
            message_id=mid,
            part=1,
            bind_id="b1",
            sequence_number=1,
            command_status=0,
            smsc_message_id=f"S{n}",
            latency_ms=3.0,
        ),
        MessageFinal(at=at, message_id=mid, state="delivered"),
    ]
    return [(event_topic("gateway", "gw-1", e.kind), e) for e in events]


class _FlakyBus(InMemoryBus):
    """An in-memory bus whose connection state a test can flip (as an MQTT bus's would)."""

    connected = True

    @property
    def stats(self) -> BusStats:
        return dataclasses.replace(super().stats, connected=self.connected)


@pytest.mark.asyncio
async def test_the_header_tells_when_the_bus_is_down_or_closed() -> None:
    flaky = _FlakyBus()
    app = make_app(flaky)
    async with asyncio.timeout(30), app.run_test(size=(80, 24)) as pilot:
        await fed(app, pilot, flaky, sample.binds())
        assert app.sub_title == "3 events"
        flaky.connected = False
        await settle(pilot, lambda: "bus DISCONNECTED" in app.sub_title)  # within a second
        await flaky.close()
        await settle(pilot, lambda: app.sub_title.startswith("bus closed"))
        assert app.subscription is None
