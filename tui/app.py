"""`SmshApp`: the operator console, fed by the bus and acting through control messages.

How events reach the screen:
    One worker (`SmshApp.consume_bus`, exclusive in group ``bus``) holds a subscription to
    ``smsh/v1/#`` with a large, drop-oldest buffer. It waits for one event, then drains whatever
    else is buffered (up to `CHUNK`) and folds the lot into the pure `OpsState`, yielding to the
    event loop between chunks. It posts a `StateChanged` at most `update_hz` times a second (and
    once more when things go quiet), and `StateChanged` coalesces in the app's queue, so a flood
    of 50,000 events/s costs the UI at most `update_hz` repaints a second. Only the screens of the
    current mode repaint; the others catch up when they are shown again.

How the operator acts:
    Key bindings (see the footer) open a small form where needed and publish a `Control` through
    a `ControlChannel` (component ``tui``). A worker awaits the `ControlAcknowledged` and the app
    shows the verdict as a notification: ok, refused (with the component's reason), or no answer.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, tzinfo
from pathlib import Path
from typing import ClassVar, Final

from pydantic import JsonValue
from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen

from sms.bus import ALL_INSTANCES, Bus, BusError, ControlChannel, ControlTimeout, Subscription
from sms.bus.events import ControlAction
from sms.clock import Clock, SystemClock
from tui.messages import BindSelected, ControlAnswered, StateChanged
from tui.screens.base import StateScreen, ViewContext
from tui.screens.campaigns import CampaignsScreen
from tui.screens.controls import (
    ClearFaultScreen,
    ConfirmScreen,
    FaultRequest,
    FaultScreen,
    RateScreen,
)
from tui.screens.handset import HandsetScreen
from tui.screens.messages import MessagesScreen
from tui.screens.overview import OverviewScreen
from tui.screens.scenario import ScenarioScreen
from tui.state import KEY_ALERT_KINDS, MAX_MESSAGES, BindKey, BindView, OpsState

__all__ = ["BUS_PATTERN", "CHUNK", "DEFAULT_BUFFER", "MODES", "SmshApp"]

#: Everything the console listens to.
BUS_PATTERN: Final[str] = "smsh/v1/#"
#: Capacity of the console's subscription (drop-oldest beyond it; drops are shown).
DEFAULT_BUFFER: Final[int] = 100_000
#: Events folded between two yields to the event loop.
CHUNK: Final[int] = 2_000
#: The screens, in key order.
MODES: Final[tuple[str, ...]] = ("overview", "messages", "handset", "scenario", "campaigns")
#: Actions that send controls or switch screens (disabled while a form is open).
_GLOBAL_ACTIONS: Final[frozenset[str]] = frozenset(
    {"show", "pause_resume", "set_rate", "inject_fault", "clear_fault", "drain", "ack_alerts"}
)
#: Least seconds between two alert notifications (the overview banner shows every alert).
_ALERT_TOAST_INTERVAL: Final[float] = 2.0


class SmshApp(App[None]):
    """The operator console. See the module docstring for how it is fed and how it acts."""

    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "smsh"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]  # noqa: RUF012 - Textual's
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "1",
            "show('overview')",
            "Screens",
            key_display="1-5",
            tooltip="1 overview, 2 messages, 3 handset, 4 scenario, 5 campaigns",
        ),
        Binding("2", "show('messages')", "Messages", show=False),
        Binding("3", "show('handset')", "Handset", show=False),
        Binding("4", "show('scenario')", "Scenario", show=False),
        Binding("5", "show('campaigns')", "Campaigns", show=False),
        Binding("p", "pause_resume", "Pause", tooltip="Pause or resume the selected bind"),
        Binding("r", "set_rate", "Rate", tooltip="Set the submit rate of the selected bind"),
        Binding("i", "inject_fault", "Fault", tooltip="Inject a fault into the simulator"),
        Binding("c", "clear_fault", "Clear", tooltip="Clear an active fault"),
        Binding("d", "drain", "Drain", tooltip="Drain the gateway"),
        Binding("a", "ack_alerts", "Ack", tooltip="Acknowledge the alerts so far"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        bus: Bus,
        *,
        clock: Clock | None = None,
        title: str | None = None,
        tz: tzinfo = UTC,
        instance: str | None = None,
        update_hz: float = 20.0,
        buffer: int = DEFAULT_BUFFER,
        max_messages: int = MAX_MESSAGES,
        control_timeout: float = 5.0,
        table_interval: float = 0.5,
        notify_alerts: bool = True,
    ) -> None:
        """Create the console (it subscribes once it runs).

        Args:
            bus: The bus to watch and to send controls on (entered by the caller).
            clock: The viewer's clock: times of controls and rate buckets (system clock if None).
            title: Shown in the header.
            tz: Zone to show times in.
            instance: This console's instance id on the bus (``tui-<pid>`` if None).
            update_hz: Most screen updates per second.
            buffer: Capacity of the subscription, in events.
            max_messages: Messages kept for the messages screen.
            control_timeout: Seconds to wait for a control's acknowledgement.
            table_interval: Least seconds between rebuilds of the large tables.
            notify_alerts: Pop up a notification for new alerts (at most one per 2 s).
        """
        super().__init__()
        if update_hz <= 0:
            raise ValueError(f"update_hz must be positive, got {update_hz}")
        self.bus = bus
        """The bus."""
        self.clock: Clock = clock or SystemClock()
        """The viewer's clock."""
        self.state = OpsState(max_messages=max_messages)
        """The state model every screen reads."""
        self.controls = ControlChannel(
            bus, "tui", instance or f"tui-{os.getpid()}", clock=self.clock
        )
        """Sends the operator's controls."""
        self.update_hz = update_hz
        """Most screen updates per second."""
        self.buffer = buffer
        """Subscription capacity."""
        self.control_timeout = control_timeout
        """Seconds to wait for an acknowledgement."""
        self.notify_alerts = notify_alerts
        """Whether new alerts pop up a notification."""
        self.selected_bind: BindKey | None = None
        """The bind the controls act on (the overview's cursor)."""
        self.subscription: Subscription | None = None
        """The live subscription, while the worker runs."""
        self.updates_posted = 0
        """`StateChanged` messages posted by the worker."""
        self.updates_handled = 0
        """`StateChanged` messages handled (screen updates) after coalescing."""
        self.shown_version = -1
        """`OpsState.version` the screens last showed."""
        self.control_results: list[ControlAnswered] = []
        """Every control verdict shown, oldest first."""
        self._view_context = ViewContext(self.state, self.clock, tz, table_interval)
        self._subscribed = asyncio.Event()
        self._alerts_notified = 0
        self._last_alert_toast = -_ALERT_TOAST_INTERVAL
        if title is not None:
            self.title = title
        self.add_mode("overview", lambda: OverviewScreen(self._view_context))
        self.add_mode("messages", lambda: MessagesScreen(self._view_context))
        self.add_mode("handset", lambda: HandsetScreen(self._view_context))
        self.add_mode("scenario", lambda: ScenarioScreen(self._view_context))
        self.add_mode("campaigns", lambda: CampaignsScreen(self._view_context))

    async def on_mount(self) -> None:
        """Show the overview, start listening, and watch the bus connection."""
        await self.switch_mode("overview")
        self.consume_bus()
        self.set_interval(1.0, self._update_sub_title, name="bus status")

    async def wait_until_subscribed(self) -> None:
        """Return once the bus subscription is live (events published later are seen)."""
        await self._subscribed.wait()

    # -- the bus worker ---------------------------------------------------------------------------

    @work(exclusive=True, group="bus", exit_on_error=False, description="bus subscription")
    async def consume_bus(self) -> None:
        """Fold bus events into the state and post coalesced `StateChanged` messages."""
        try:
            await self._consume(
                self.bus.subscribe(BUS_PATTERN, maxsize=self.buffer, overflow="drop_oldest")
            )
        except BusError as exc:
            self.notify(str(exc), title="Bus", severity="error", timeout=30, markup=False)
            raise
        finally:
            self.subscription = None
            if self.is_running:
                self.sub_title = "bus closed: restart the console to listen again"

    async def _consume(self, subscription: Subscription) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.update_hz
        async with subscription as sub:
            self.subscription = sub
            self._subscribed.set()
            pending = 0
            next_post = loop.time()
            while True:
                try:
                    if pending:
                        async with asyncio.timeout_at(next_post):
                            first = await anext(sub)
                    else:
                        first = await anext(sub)
                except TimeoutError:
                    self._post_update(pending)
                    pending = 0
                    next_post = loop.time() + interval
                    continue
                except StopAsyncIteration:
                    break
                batch = [first, *sub.drain(CHUNK - 1)]
                pending += self.state.apply_many(batch, self.clock.now())
                now = loop.time()
                if now >= next_post:
                    self._post_update(pending)
                    pending = 0
                    # keep the cadence, but never owe a burst of updates after a stall
                    next_post = max(next_post + interval, now)
                await asyncio.sleep(0)
            if pending:
                self._post_update(pending)

    def _post_update(self, events: int) -> None:
        self.updates_posted += 1
        self.post_message(StateChanged(self.state.version, events))

    @on(StateChanged)
    def _state_changed(self, message: StateChanged) -> None:
        if not self.is_running:  # shutting down: the screens are being taken apart
            return
        self.updates_handled += 1
        self.shown_version = max(self.shown_version, message.version)
        self._update_sub_title()
        self._toast_new_alerts()
        for screen in self.screen_stack:
            if isinstance(screen, StateScreen):
                screen.refresh_view()

    def _update_sub_title(self) -> None:
        state = self.state
        parts = [f"{state.events_seen:,} events"]
        new = state.unacknowledged_alerts
        if new:
            parts.append(f"⚠ {new} new alert{'s' if new != 1 else ''}")
        sub = self.subscription
        if sub is not None and sub.dropped:
            parts.append(f"{sub.dropped:,} dropped")
        if not self.bus.stats.connected:
            parts.append("bus DISCONNECTED")
        self.sub_title = " · ".join(parts)

    def _toast_new_alerts(self) -> None:
        state = self.state
        new = state.alerts_total - self._alerts_notified
        if not new or not self.notify_alerts:
            return
        now = time.monotonic()
        if now - self._last_alert_toast < _ALERT_TOAST_INTERVAL:
            return
        recent = list(state.alerts)[-min(new, 3) :]
        urgent = any(a.severity == "critical" or a.alert_kind in KEY_ALERT_KINDS for a in recent)
        lines = [
            " ".join(
                part
                for part in (a.alert_kind.replace("_", " "), a.destination or "", a.detail)
                if part
            )
            for a in reversed(recent)
        ]
        if new > len(recent):
            lines.append(f"… and {new - len(recent)} more")
        self.notify(
            "\n".join(lines),
            title=f"{new} new alert{'s' if new != 1 else ''}",
            severity="error" if urgent else "warning",
            markup=False,
        )
        self._alerts_notified = state.alerts_total
        self._last_alert_toast = now

    # -- selection --------------------------------------------------------------------------------

    @on(BindSelected)
    def _bind_selected(self, message: BindSelected) -> None:
        self.selected_bind = message.key

    def selected_bind_view(self) -> BindView | None:
        """The bind the controls act on: the selected one, else the first listed."""
        if self.selected_bind is not None:
            bind = self.state.binds.get(self.selected_bind)
            if bind is not None:
                return bind
        binds = self.state.bind_list()
        return binds[0] if binds else None

    # -- actions ----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Disable screen switching and controls while a form is open."""
        return not (action in _GLOBAL_ACTIONS and isinstance(self.screen, ModalScreen))

    def action_show(self, mode: str) -> None:
        """Switch to one of the screens."""
        if mode in MODES:
            self.switch_mode(mode)

    def action_ack_alerts(self) -> None:
        """Mark the alerts so far as seen (the banner calms down)."""
        self.state.acknowledge_alerts()
        self._alerts_notified = self.state.alerts_total
        self.post_message(StateChanged(self.state.version, 0))

    def _need_bind(self) -> BindView | None:
        bind = self.selected_bind_view()
        if bind is None:
            self.notify("No bind to act on yet.", title="Controls", severity="warning")
        return bind

    def action_pause_resume(self) -> None:
        """Pause the selected bind, or resume it when paused."""
        bind = self._need_bind()
        if bind is None:
            return
        action: ControlAction = "resume_bind" if bind.paused else "pause_bind"
        self.send_control(bind.component, bind.instance, action, {"bind_id": bind.bind_id})

    def action_set_rate(self) -> None:
        """Ask for a rate and set it on the selected bind."""
        bind = self._need_bind()
        if bind is None:
            return

        def chosen(rate: float | None) -> None:
            if rate is not None:
                self.send_control(
                    bind.component,
                    bind.instance,
                    "set_rate",
                    {"bind_id": bind.bind_id, "rate": rate},
                )

        self.push_screen(RateScreen(f"{bind.component}/{bind.instance} {bind.bind_id}"), chosen)

    def action_inject_fault(self) -> None:
        """Ask for a fault and inject it into the simulator."""
        instances = self.state.instances("simulator")
        instance = instances[0] if len(instances) == 1 else ALL_INSTANCES

        def chosen(request: FaultRequest | None) -> None:
            if request is not None:
                self.send_control("simulator", instance, "inject_fault", request.args())

        self.push_screen(FaultScreen(), chosen)

    def action_clear_fault(self) -> None:
        """Pick an active fault and clear it."""
        faults = sorted(self.state.faults.values(), key=lambda f: (f.at, f.fault_id))
        if not faults:
            self.notify("No active faults.", title="Clear fault", severity="warning")
            return

        def chosen(fault_id: str | None) -> None:
            fault = self.state.faults.get(fault_id) if fault_id is not None else None
            if fault is not None:
                component, instance = fault.source
                self.send_control(component, instance, "clear_fault", {"fault_id": fault_id})

        self.push_screen(ClearFaultScreen(faults, self._view_context.tz), chosen)

    def action_drain(self) -> None:
        """Ask the gateway (the selected bind's, or all) to drain, after a confirmation."""
        bind = self.selected_bind_view()
        gateways = self.state.instances("gateway")
        if bind is not None and bind.component == "gateway":
            instance = bind.instance
        elif len(gateways) == 1:
            instance = gateways[0]
        else:
            instance = ALL_INSTANCES
        name = "every gateway" if instance == ALL_INSTANCES else f"gateway {instance}"

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.send_control("gateway", instance, "drain", {})

        self.push_screen(
            ConfirmScreen(
                f"Drain {name}?",
                "It stops taking new messages and finishes the ones already accepted.",
            ),
            confirmed,
        )

    # -- sending controls -------------------------------------------------------------------------

    @work(group="control", exit_on_error=False, description="control request")
    async def send_control(
        self,
        component: str,
        instance: str,
        action: ControlAction,
        args: dict[str, JsonValue],
    ) -> None:
        """Publish a control and post what came back as `ControlAnswered`.

        Args:
            component: The component addressed.
            instance: Its instance, or ``all`` for every instance.
            action: The action.
            args: Its arguments.
        """
        target = f"{component}/{instance}"
        timeout = self.control_timeout
        try:
            if instance == ALL_INSTANCES:
                known = len(self.state.instances(component))
                acks = await self.controls.broadcast(
                    component, action, args, wait=timeout, expected=known or None
                )
                if not acks:
                    self.post_message(
                        ControlAnswered(
                            action, target, None, f"no instance answered in {timeout:g} s"
                        )
                    )
            else:
                acks = [
                    await self.controls.request(
                        component, instance, action, args, ack_timeout=timeout
                    )
                ]
        except ControlTimeout as exc:
            self.post_message(
                ControlAnswered(
                    action, target, None, f"no answer in {timeout:g} s", exc.correlation_id
                )
            )
            return
        except BusError as exc:
            self.post_message(ControlAnswered(action, target, False, str(exc)))
            return
        for ack in acks:
            self.post_message(
                ControlAnswered(
                    action,
                    f"{ack.component}/{ack.instance}",
                    ack.ok,
                    ack.detail,
                    ack.correlation_id,
                )
            )

    @on(ControlAnswered)
    def _control_answered(self, message: ControlAnswered) -> None:
        self.control_results.append(message)
        what = message.action.replace("_", " ")
        if message.ok is True:
            note = f": {message.detail}" if message.detail else ""
            self.notify(
                f"{what} — {message.target} ok{note}",
                title="Control acknowledged",
                markup=False,
            )
        elif message.ok is False:
            self.notify(
                f"{what} — refused by {message.target}: {message.detail or 'no reason given'}",
                title="Control refused",
                severity="error",
                markup=False,
            )
        else:
            self.notify(
                f"{what} — {message.target}: {message.detail}",
                title="No answer",
                severity="warning",
                markup=False,
            )
