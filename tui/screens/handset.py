"""Handset: what one number sees, as conversations with each sender or short code.

Messages delivered to the handset (◀), messages it sent (▶), and alerts about it (⚠) are
grouped per peer, like the threads on a phone: one thread per sender *as the handset displays
it*, the most recently active thread first, each thread oldest line first. A message that landed
(`HandsetDelivered`) shows its words in quotes and its flags in red: SPOOF (an attacker's sender
in the thread), relabelled (the registry changed the sender shown; the line says what it was
sent as), misdelivered (a recycled number's new owner got it), quiet hours (it arrived at night).
A message still on its way shows its shape (parts and encoding) and status instead. The number
list puts numbers with alerts (⚠) or flagged deliveries (⚑) first.
"""

from __future__ import annotations

import time
from datetime import tzinfo
from typing import Final

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import Footer, Header, Input, OptionList, Static
from textual.widgets.option_list import Option, OptionDoesNotExist

from tui.describe import final_tone
from tui.format import clock_text
from tui.screens.base import TONE_STYLES, StateScreen
from tui.state import Handset, HandsetEntry

__all__ = ["FLAG_LABELS", "HANDSET_LIMIT", "HandsetScreen"]

#: Most handsets listed (the ones with alerts first, then by number).
HANDSET_LIMIT: Final[int] = 300
#: How each handset flag reads on a line (other flags are alert kinds, shown with spaces).
FLAG_LABELS: Final[dict[str, str]] = {
    "spoofed": "SPOOF",
    "sender_relabelled": "relabelled",
    "misdelivery": "misdelivered",
    "delivered_in_quiet_hours": "quiet hours",
}
_ARROWS: Final[dict[str, tuple[str, str]]] = {
    "in": ("◀", "cyan"),
    "out": ("▶", "green"),
    "alert": ("⚠", "bold red"),
}


class HandsetScreen(StateScreen):
    """Pick a number; read its threads."""

    AUTO_FOCUS = "#handsets"
    BINDINGS = [  # noqa: RUF012 - Textual's declaration style
        Binding("slash", "find_number", "Find number"),
    ]

    number: str | None = None
    """The number shown (None: the first listed)."""
    _last_build: float = 0.0
    _pending: Timer | None = None
    _listed: tuple[tuple[str, int, int, int], ...] = ()

    def compose(self) -> ComposeResult:
        """Number list on the left, threads on the right."""
        yield Header()
        with Horizontal(id="handset-body"):
            with Vertical(id="handset-side"):
                yield Input(placeholder="/ number…", id="number", compact=True)
                yield OptionList(id="handsets")
            with VerticalScroll(id="threads-scroll"):
                yield Static(id="threads")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        """Title the panes and show what is there."""
        self.ready = True
        self.query_one("#handset-side").border_title = "Handsets"
        self.query_one("#threads-scroll").border_title = "Threads"
        self._rebuild()

    def action_find_number(self) -> None:
        """Focus the number box."""
        self.query_one("#number", Input).focus()

    def show_number(self, number: str) -> None:
        """Show one number's threads (whether or not it is listed).

        Args:
            number: The MSISDN as it appears on the bus.
        """
        self.number = number.strip() or None
        self._rebuild()

    @on(Input.Submitted, "#number")
    def _number_submitted(self, event: Input.Submitted) -> None:
        self.show_number(event.value)
        self.query_one("#handsets", OptionList).focus()

    @on(OptionList.OptionHighlighted, "#handsets")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is not None and event.option.id != self.number:
            self.number = event.option.id
            self._show_threads()

    def redraw(self) -> None:
        """Update the list and the threads, at most once per `table_interval`."""
        interval = self.context.table_interval
        waited = time.monotonic() - self._last_build
        if interval <= 0 or waited >= interval:
            self._rebuild()
        elif self._pending is None:
            self._pending = self.set_timer(interval - waited, self._trailing)

    def _trailing(self) -> None:
        self._pending = None
        if self.is_running and self.is_attached:
            self._rebuild()

    def _rebuild(self) -> None:
        if not self.ready:
            return
        self._last_build = time.monotonic()
        handsets = sorted(
            self.state.handsets.values(),
            key=lambda h: (h.alerts == 0 and h.flagged == 0, h.number),
        )[:HANDSET_LIMIT]
        listed = tuple((h.number, h.alerts, h.flagged, len(h.threads)) for h in handsets)
        options = self.query_one("#handsets", OptionList)
        if listed != self._listed:
            self._listed = listed
            options.clear_options()
            options.add_options([Option(_handset_prompt(h), id=h.number) for h in handsets])
        if self.number is None and handsets:
            self.number = handsets[0].number
        if self.number is not None:
            try:
                index: int | None = options.get_option_index(self.number)
            except OptionDoesNotExist:
                index = None
            if index is not None and options.highlighted != index:
                options.highlighted = index
        self.query_one("#handset-side").border_subtitle = f"{len(self.state.handsets):,}"
        self._show_threads()

    def _show_threads(self) -> None:
        view = self.query_one("#threads", Static)
        scroll = self.query_one("#threads-scroll")
        if self.number is None:
            scroll.border_subtitle = ""
            view.update(Text("No handset activity yet.", style="dim"))
            return
        handset = self.state.handsets.get(self.number)
        scroll.border_subtitle = self.number
        if handset is None:
            view.update(Text(f"Nothing seen for {self.number}.", style="dim"))
            return
        view.update(self._render_handset(handset))

    def _render_handset(self, handset: Handset) -> Text:
        tz = self.context.tz
        lines: list[Text] = []
        for peer, entries in handset.ordered_threads():
            header = Text(f" {peer} ", style="bold reverse")
            size = handset.thread_size(peer)
            alerts = sum(1 for entry in entries if entry.direction == "alert")
            if size:
                header.append(f"  {size} message{'s' if size != 1 else ''}", style="dim")
            if alerts:
                header.append(f"  {alerts} alert{'s' if alerts != 1 else ''}", style="red")
            if any("spoofed" in entry.flags for entry in entries):
                header.append("  ⚠ spoof in this thread", style="bold red")
            lines.append(header)
            lines.extend(_entry_line(entry, tz) for entry in entries)
            lines.append(Text(""))
        return Text("\n").join(lines)


def _handset_prompt(handset: Handset) -> Text:
    prompt = Text(handset.number)
    if handset.alerts:
        prompt.append(f" ⚠{handset.alerts}", style="bold red")
    if handset.flagged:
        prompt.append(f" ⚑{handset.flagged}", style="red")
    prompt.append(f" {len(handset.threads)}t", style="dim")
    return prompt


def _entry_line(entry: HandsetEntry, tz: tzinfo) -> Text:
    arrow, style = _ARROWS[entry.direction]
    line = Text(no_wrap=False)
    line.append(f" {clock_text(entry.at, tz)} ", style="dim")
    line.append(f"{arrow} ", style=style)
    if entry.direction == "out" or entry.delivered:
        line.append(f"“{entry.text}”", style="bold red" if "spoofed" in entry.flags else "")
    elif entry.direction == "alert":
        line.append(entry.text, style="red")
    else:
        line.append(entry.text, style="italic")
    if entry.direction == "alert":
        return line
    if entry.sent_as is not None:
        line.append(f"  (sent as {entry.sent_as})", style="dim")
    if entry.delivered and entry.parts > 1:
        line.append(f"  {entry.parts} parts", style="dim")
    line.append(f"  {entry.status}", style=TONE_STYLES[final_tone(entry.status)])
    for flag in entry.flags:
        line.append(f"  ⚠ {FLAG_LABELS.get(flag, flag.replace('_', ' '))}", style="bold red")
    return line
