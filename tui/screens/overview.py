"""Overview: binds, throughput, queues, receipt mix, latency, errors, faults and alerts at a glance.

Laid out to fit 80×24: one line of alert counts that turns red while there are unacknowledged
alerts (the `KEY_ALERT_KINDS` one by one, every other kind as "other"), one line of throughput
sparklines, the binds table, three small metric panels, and the errors/faults and alerts panels
filling the rest.

A bind's submit rate and sparkline come from its publisher's metrics snapshots when they report
the bind (`MetricsSnapshot.bind_rates`: one point per snapshot, per second of the publisher's
clock, complete even when this console drops events), else from the `PartSubmitted` /
`SubmitReceived` events counted per second of the viewer's clock. The table's subtitle says which.
"""

from __future__ import annotations

from typing import Final

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Static

from tui.format import clock_text, error_label, human_count, millis, percent, sparkline
from tui.messages import BindSelected
from tui.screens.base import StateScreen
from tui.state import KEY_ALERT_KINDS, BindKey, BindView
from tui.widgets import LiveTable, Row

__all__ = ["OverviewScreen"]

#: Short labels of the alert kinds that always show in the banner.
KEY_ALERT_LABELS: Final[dict[str, str]] = {
    "misdelivery": "misdelivery",
    "spoof_delivered_into_thread": "spoof→thread",
    "sent_after_opt_out": "after STOP",
    "delivered_in_quiet_hours": "quiet hrs",
}
_SEVERITY_MARK: Final[dict[str, tuple[str, str]]] = {
    "critical": ("✖", "bold red"),
    "warning": ("▲", "yellow"),
    "info": ("·", "dim"),
}
_STATE_STYLE: Final[dict[str, str]] = {
    "bound": "green",
    "connecting": "yellow",
    "open": "yellow",
    "unbinding": "yellow",
    "closed": "bold red",
}
#: Points in a bind's sparkline (seconds of events, or metrics snapshots).
SPARK_WIDTH: Final[int] = 20
_QUEUE_LABELS: Final[tuple[tuple[str, str], ...]] = (
    ("queued", "queued"),
    ("in_flight", "in flight"),
    ("awaiting_receipt", "awaiting rcpt"),
    ("retrying", "retrying"),
    ("scheduled", "scheduled"),
)
_MAX_ALERT_LINES: Final[int] = 40


def _bind_row_key(key: BindKey) -> str:
    return "\x1f".join(key)


class OverviewScreen(StateScreen):
    """The first screen: is the system healthy, and what needs attention now."""

    def compose(self) -> ComposeResult:
        """Lay out the panels."""
        yield Header()
        yield Static(id="alert-banner")
        yield Static(id="throughput")
        yield LiveTable(
            [
                ("bind", "Bind"),
                ("state", "State"),
                ("window", "Window"),
                ("spark", f"Submits/s (last {SPARK_WIDTH})"),
                ("rate", "/s"),
                ("errors", "Err"),
                ("throttles", "Thr"),
            ],
            id="binds",
        )
        with Horizontal(id="metrics-row"):
            yield Static(id="queues", classes="panel")
            yield Static(id="receipts", classes="panel")
            yield Static(id="latency", classes="panel")
        with Horizontal(id="bottom-row"):
            with Vertical(id="left-col"):
                yield Static(id="errors", classes="panel")
                yield Static(id="faults", classes="panel")
            yield Static(id="alerts", classes="panel")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        """Name the panels."""
        self.ready = True
        titles = {
            "#binds": "Binds",
            "#queues": "Queues",
            "#receipts": "Receipts",
            "#latency": "Latency p50/p95/p99",
            "#errors": "Errors",
            "#faults": "Faults",
            "#alerts": "Alerts",
        }
        for selector, title in titles.items():
            self.query_one(selector).border_title = title
        self.refresh_view()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Tell the app which bind the controls act on."""
        event.stop()
        value = event.row_key.value
        parts = tuple(value.split("\x1f")) if value else ()
        key: BindKey | None = (parts[0], parts[1], parts[2]) if len(parts) == 3 else None
        self.post_message(BindSelected(key))

    # -- rendering --------------------------------------------------------------------------------

    def redraw(self) -> None:
        """Re-read the model into every panel."""
        state = self.state
        now = self.context.clock.now()
        self._banner()
        self.put("#throughput", self._throughput(now))
        table = self.query_one("#binds", LiveTable)
        binds = state.bind_list()
        table.sync([self._bind_row(bind, now) for bind in binds])
        origins = sorted({bind.submit_rate(now)[1] for bind in binds})
        rates = f"rates: {'+'.join(origins)} · " if origins else ""
        table.border_subtitle = f"{rates}throttled {human_count(state.throttled)}"
        depths, origin = state.queue_depths()
        queues = self.put(
            "#queues",
            Text("\n").join(
                _label_value(label, human_count(getattr(depths, name)))
                for name, label in _QUEUE_LABELS
            ),
        )
        queues.border_subtitle = origin
        self._receipts()
        self._latency()
        self._errors()
        self._faults()
        self._alerts()

    def _banner(self) -> None:
        state = self.state
        new = state.unacknowledged_alerts
        text = Text()
        # sized for 80 columns: the lead, four key kinds and "other", with 3-digit counts
        if new:
            text.append(f" ⚠ {human_count(new)} new", style="bold")
        else:
            text.append(" ✔ all seen", style="bold")
        for kind in KEY_ALERT_KINDS:
            count = state.alert_counts[kind]
            text.append(f"  {KEY_ALERT_LABELS[kind]} ")
            text.append(human_count(count), style="bold" if count else "")
        other = state.other_alerts()
        if other:
            text.append(f"  other {human_count(other)}", style="dim")
        self.put("#alert-banner", text).set_class(new > 0, "-alarm")

    def _throughput(self, now: float) -> Text:
        state = self.state
        text = Text(no_wrap=True, overflow="ellipsis")
        for name, label in (("submitted", "submit"), ("receipts", "rcpt"), ("final", "final")):
            series = state.throughput[name]
            text.append(f"{label} ")
            text.append(f"{human_count(series.rate(now))}/s ", style="bold")
            text.append(sparkline(series.values(now, 10)), style="cyan")
            text.append("  ")
        text.append(f"MO {human_count(state.throughput['mo'].total)}  ")
        text.append(f"msgs {human_count(len(state.messages))}", style="dim")
        return text

    def _bind_row(self, bind: BindView, now: float) -> Row:
        state_text = "paused" if bind.paused and bind.state == "bound" else bind.state
        state_style = "bold yellow" if state_text == "paused" else _STATE_STYLE.get(bind.state, "")
        window = (
            f"{bind.window_in_flight}/{bind.window_size}"
            if bind.window_size is not None and bind.window_in_flight is not None
            else "-"
        )
        rate, _origin = bind.submit_rate(now)
        cells = (
            Text(bind.label if bind.component == "gateway" else f"{bind.label} (sim)"),
            Text(state_text, style=state_style),
            Text(window, justify="right"),
            Text(sparkline(bind.submit_history(now, SPARK_WIDTH)), style="green"),
            Text(human_count(rate), justify="right"),
            Text(human_count(bind.errors), style="red" if bind.errors else "", justify="right"),
            Text(
                human_count(bind.throttles),
                style="yellow" if bind.throttles else "",
                justify="right",
            ),
        )
        return (_bind_row_key(bind.key), cells)

    def _receipts(self) -> None:
        mix, origin = self.state.receipt_mix()
        total = sum(count for _, count in mix)
        lines = [
            Text.assemble(
                (f"{stat:<8}", _stat_style(stat)),
                f"{percent(count, total):>6} ",
                (f"{human_count(count):>5}", "dim"),
            )
            for stat, count in mix[:5]
        ]
        if self.state.unmatched_receipts:
            lines.append(
                Text(f"unmatched {human_count(self.state.unmatched_receipts)}", style="yellow")
            )
        widget = self.put(
            "#receipts", Text("\n").join(lines) if lines else Text("no receipts yet", style="dim")
        )
        widget.border_subtitle = origin if mix else ""

    def _latency(self) -> None:
        rows = self.state.latency_rows()
        lines = [
            Text.assemble(
                (f"{row.series[:10]:<10}", "bold"),
                f" {millis(row.p50_ms):>5}",
                f" {millis(row.p95_ms):>5}",
                (f" {millis(row.p99_ms):>5}", "yellow" if row.p99_ms >= 1000 else ""),
            )
            for row in rows[:5]
        ]
        widget = self.put(
            "#latency", Text("\n").join(lines) if lines else Text("no samples yet", style="dim")
        )
        widget.border_subtitle = rows[0].origin if rows else ""

    def _errors(self) -> None:
        errors, origin = self.state.error_counts()
        lines = [
            Text.assemble(
                (f"{error_label(key):<22}", "red"),
                f"{human_count(count):>6}",
            )
            for key, count in errors[:6]
        ]
        widget = self.put("#errors", Text("\n").join(lines) if lines else Text("none", style="dim"))
        widget.border_subtitle = origin if errors else ""

    def _faults(self) -> None:
        faults = sorted(self.state.faults.values(), key=lambda f: (f.at, f.fault_id))
        lines = [
            Text.assemble(
                (fault.fault_kind, "bold magenta"),
                f" → {fault.target}" if fault.target else " (all)",
                (f" {clock_text(fault.at, self.context.tz)}", "dim"),
            )
            for fault in faults
        ]
        widget = self.put(
            "#faults", Text("\n").join(lines) if lines else Text("none active", style="dim")
        )
        widget.set_class(bool(faults), "-active")

    def _alerts(self) -> None:
        state = self.state
        lines: list[Text] = []
        new = state.unacknowledged_alerts
        for index, alert in enumerate(reversed(state.alerts)):
            if index >= _MAX_ALERT_LINES:
                break
            mark, style = _SEVERITY_MARK.get(alert.severity, ("·", ""))
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(clock_text(alert.at, self.context.tz), style="dim")
            line.append(f" {mark} ", style=style)
            line.append(alert.alert_kind.replace("_", " "), style=style)
            if alert.destination:
                line.append(f" {alert.destination}", style="bold")
            if alert.sender:
                line.append(f" ←{alert.sender}", style="cyan")
            if alert.detail:
                line.append(f" {alert.detail}")
            if index < new:
                line.stylize("reverse", 0, 8)
            lines.append(line)
        widget = self.put(
            "#alerts", Text("\n").join(lines) if lines else Text("no alerts", style="dim")
        )
        widget.border_subtitle = f"{state.alerts_total} total" if state.alerts_total else ""
        widget.set_class(new > 0, "-alarm")


def _label_value(label: str, value: str) -> Text:
    return Text.assemble(f"{label:<13}", (f"{value:>7}", "bold"))


def _stat_style(stat: str) -> str:
    if stat == "DELIVRD":
        return "green"
    if stat in ("ENROUTE", "ACCEPTD"):
        return ""
    return "red"
