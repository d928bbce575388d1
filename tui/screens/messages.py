"""Messages: a live, searchable table of the tracked messages and one message's lifecycle.

The table shows the newest `ROW_LIMIT` messages matching the search (every word must match the
id, key, numbers, status, campaign, bind, direction, MO text or SMSC ids). While *following*,
new messages appear on top and the cursor stays on the newest; press ``f`` to freeze the rows and
inspect (statuses still update in place). The lifecycle pane shows every event of the message
under the cursor.
"""

from __future__ import annotations

import time
from typing import Final

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, Static

from tui.describe import describe, final_tone, topic_origin
from tui.format import clock_text
from tui.screens.base import TONE_STYLES, StateScreen
from tui.state import MessageRecord
from tui.widgets import LiveTable, Row

__all__ = ["ROW_LIMIT", "MessagesScreen"]

#: Most rows the table shows at once (the newest matches).
ROW_LIMIT: Final[int] = 500


class MessagesScreen(StateScreen):
    """Search the messages and follow one through its life."""

    AUTO_FOCUS = "#messages"
    BINDINGS = [  # noqa: RUF012 - Textual's declaration style
        Binding("slash", "search", "Search"),
        Binding("f", "toggle_follow", "Live", tooltip="Follow new messages, or freeze the rows"),
        Binding("escape", "clear_search", "Clear", show=False),
    ]

    query_text: str = ""
    """The current search."""
    follow: bool = True
    """True: newest matches on top, cursor follows; False: rows frozen."""
    _last_build: float = 0.0
    _pending: Timer | None = None
    _detail_key: str | None = None
    _row_cache: dict[str, tuple[int, Row]] | None = None

    def compose(self) -> ComposeResult:
        """Search bar, table, lifecycle pane."""
        yield Header()
        with Horizontal(id="search-bar"):
            yield Input(
                placeholder="/ search: id, number, status, campaign, text…",
                id="search",
                compact=True,
            )
            yield Static(id="match-count")
        yield LiveTable(
            [
                ("seen", "Seen"),
                ("id", "Message"),
                ("to", "To"),
                ("status", "Status"),
                ("tries", "Try"),
                ("receipt", "Receipt"),
                ("from", "From"),
                ("parts", "Parts"),
            ],
            id="messages",
        )
        with VerticalScroll(id="detail-scroll"):
            yield Static(id="detail")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        """Title the panes and show what is there."""
        self.ready = True
        self.query_one("#messages", LiveTable).border_title = "Messages"
        self.query_one("#detail-scroll").border_title = "Lifecycle"
        self._rebuild()

    # -- actions ----------------------------------------------------------------------------------

    def action_search(self) -> None:
        """Focus the search box."""
        self.query_one("#search", Input).focus()

    def action_clear_search(self) -> None:
        """Clear the search and go back to the table."""
        search = self.query_one("#search", Input)
        search.value = ""
        self.query_one("#messages", LiveTable).focus()

    def action_toggle_follow(self) -> None:
        """Follow new messages, or freeze the rows to inspect them."""
        self.follow = not self.follow
        self._rebuild()

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.query_text = event.value
        self._rebuild(new_query=True)

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#messages", LiveTable).focus()

    @on(DataTable.RowHighlighted, "#messages")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_detail(event.row_key.value)

    # -- rendering --------------------------------------------------------------------------------

    def redraw(self) -> None:
        """Rebuild the table, at most once per `table_interval` (a trailing rebuild is kept)."""
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

    def _rebuild(self, *, new_query: bool = False) -> None:
        if not self.ready:
            return
        self._last_build = time.monotonic()
        state = self.state
        table = self.query_one("#messages", LiveTable)
        records: list[MessageRecord]
        if self.follow or new_query or not table.row_keys:
            records = state.find_messages(self.query_text, ROW_LIMIT)
        else:
            records = [r for k in table.row_keys if (r := state.messages.get(k)) is not None]
        cache = self._row_cache or {}
        rows = [self._cached_row(r, cache) for r in records]
        self._row_cache = {key: cache[key] for key, _ in rows}
        table.sync(rows, follow=self.follow)
        counter = Text.assemble(
            (f" {len(records):,}", "bold"),
            f" shown of {len(state.messages):,} tracked ",
            ("following" if self.follow else "FROZEN", "green" if self.follow else "bold yellow"),
        )
        if state.messages_evicted:
            counter.append(f"  ({state.messages_evicted:,} older let go)", style="dim")
        self.query_one("#match-count", Static).update(counter)
        self._show_detail(table.selected_key)

    def _cached_row(self, record: MessageRecord, cache: dict[str, tuple[int, Row]]) -> Row:
        cached = cache.get(record.message_id)
        if cached is not None and cached[0] == record.version:
            return cached[1]
        row = self._row(record)
        cache[record.message_id] = (record.version, row)
        return row

    def _row(self, record: MessageRecord) -> Row:
        tz = self.context.tz
        message_id = record.message_id
        shown_id = message_id if len(message_id) <= 14 else message_id[:13] + "…"
        receipts = ",".join(sorted(set(record.receipts.values())))
        arrow = "◀ " if record.direction == "mo" else "▶ "
        cells = (
            Text(clock_text(record.first_seen, tz), style="dim"),
            Text.assemble((arrow, "cyan" if record.direction == "mo" else "dim"), shown_id),
            Text(record.destination),
            Text(record.status, style=TONE_STYLES[final_tone(record.status)]),
            Text(str(record.attempts), justify="right"),
            Text(receipts),
            Text(record.source or ""),
            Text(str(record.parts), justify="right"),
        )
        return (message_id, cells)

    def _show_detail(self, key: str | None) -> None:
        self._detail_key = key
        detail = self.query_one("#detail", Static)
        record = self.state.messages.get(key) if key is not None else None
        if record is None:
            detail.update(Text("Select a message to see its lifecycle.", style="dim"))
            return
        detail.update(self._lifecycle(record))

    def _lifecycle(self, record: MessageRecord) -> Text:
        tz = self.context.tz
        head = Text(no_wrap=False)
        head.append(record.message_id, style="bold")
        if record.message_key:
            head.append(f"  key {record.message_key}")
        head.append(f"  {record.direction.upper()} ")
        head.append(f"{record.source or '?'} → {record.destination or '?'}", style="bold")
        head.append(f"  {record.parts} part(s) {record.encoding}".rstrip())
        if record.campaign_id:
            head.append(f"  campaign {record.campaign_id}")
        head.append("\nstatus ")
        head.append(record.status, style=TONE_STYLES[final_tone(record.status)])
        head.append(f" · attempts {record.attempts}")
        if record.smsc_ids:
            head.append(f" · SMSC ids {', '.join(record.smsc_ids)}")
        if record.reason:
            head.append(f" · {record.reason}")
        if record.text is not None:
            head.append("\ntext ")
            head.append(record.text, style="italic")
        lines = [head]
        if record.steps_dropped:
            lines.append(Text(f"… {record.steps_dropped} earlier step(s) not kept", style="dim"))
        for topic, event in record.steps:
            words, tone = describe(event)
            lines.append(
                Text.assemble(
                    (clock_text(event.at, tz), "dim"),
                    (f" {topic_origin(topic):<16} ", "dim"),
                    (words, TONE_STYLES[tone]),
                )
            )
        return Text("\n").join(lines)
