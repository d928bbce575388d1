"""Campaigns: where each dunning campaign stands, from the campaign layer's `CampaignProgress`.

One row per campaign (newest first): state, recipients, excluded, sent, deferred, delivered,
failed, replied and cost. Below the table, the highlighted campaign in full: who created and who
approved it, exclusions by reason, messages by gateway state. A campaign that is sending without
an approver is shown in red: the four-eyes rule was broken and someone must look now.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Final

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import DataTable, Footer, Header, Static

from tui.format import clock_text, human_count
from tui.screens.base import StateScreen
from tui.state import CampaignView
from tui.widgets import LiveTable, Row

__all__ = ["FAILED_STATES", "CampaignsScreen", "unapproved"]

#: Gateway message states counted as failed in the table (a partial delivery is a failure to
#: the person who got half a reminder). Values of the gateway's ``MessageState`` (the tests
#: check that each one is).
FAILED_STATES: Final[tuple[str, ...]] = (
    "failed",
    "rejected",
    "expired",
    "unknown",
    "partially_delivered",
)
#: Campaign states in which messages go out (an approver is required by then); values of the
#: gateway's ``CampaignState``, as `CampaignProgress.state` carries them.
_SENDING_STATES: Final[frozenset[str]] = frozenset({"sending", "done"})
_STATE_STYLES: Final[dict[str, str]] = {
    "draft": "dim",
    "approved": "cyan",
    "sending": "bold green",
    "done": "green",
    "cancelled": "dim",
}
#: Longest campaign name shown in the table (the detail shows it whole).
_NAME_WIDTH: Final[int] = 13


def unapproved(view: CampaignView) -> bool:
    """True when a campaign sends (or sent) with nobody recorded as its approver."""
    return view.progress.state in _SENDING_STATES and not view.progress.approved_by


class CampaignsScreen(StateScreen):
    """Every campaign's figures, and the highlighted one in full."""

    AUTO_FOCUS = "#campaigns"

    selected: str | None = None
    """Campaign id under the cursor."""

    def compose(self) -> ComposeResult:
        """Table on top, detail below."""
        yield Header()
        yield LiveTable(
            [
                ("name", "Campaign"),
                ("state", "State"),
                ("recipients", "Rcpt"),
                ("excluded", "Excl"),
                ("sent", "Sent"),
                ("deferred", "Dfr"),
                ("delivered", "Dlvd"),
                ("failed", "Fail"),
                ("replied", "Rply"),
                ("cost", "Cost"),
            ],
            id="campaigns",
        )
        yield Static(id="campaign-detail", classes="panel")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        """Title the panes and show what is there."""
        self.ready = True
        self.query_one("#campaigns").border_title = "Campaigns"
        self.query_one("#campaign-detail").border_title = "Campaign"
        self.refresh_view()

    @on(DataTable.RowHighlighted, "#campaigns")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.selected = event.row_key.value
        self._detail()

    def redraw(self) -> None:
        """Re-read the campaigns."""
        views = self.state.campaign_list()
        table = self.query_one("#campaigns", LiveTable)
        table.sync([_row(view) for view in views])
        table.border_subtitle = f"{len(views)}" if views else ""
        if self.selected not in self.state.campaigns:
            self.selected = table.selected_key
        self._detail()

    def cell(self, campaign_id: str, column: int) -> str:
        """The text of one table cell (for tests).

        Args:
            campaign_id: The row.
            column: The column index.

        Returns:
            The cell's text, or an empty string.
        """
        return self.query_one("#campaigns", LiveTable).cell_text(campaign_id, column)

    def _detail(self) -> None:
        view = self.state.campaigns.get(self.selected) if self.selected else None
        widget = self.query_one("#campaign-detail", Static)
        if view is None:
            widget.border_subtitle = ""
            self.put(
                "#campaign-detail",
                Text("No campaigns yet: waiting for campaign progress.", style="dim"),
            )
            return
        widget.border_subtitle = f"{view.source[0]}/{view.source[1]}"
        self.put("#campaign-detail", _detail_text(view, self.context.tz))


def _row(view: CampaignView) -> Row:
    p = view.progress
    name = p.name or p.campaign_id
    if len(name) > _NAME_WIDTH:
        name = name[: _NAME_WIDTH - 1] + "…"
    failed = view.state_count(*FAILED_STATES)
    bad = unapproved(view)
    cells = (
        Text(name, style="bold red" if bad else ""),
        Text(p.state, style="bold red reverse" if bad else _STATE_STYLES.get(p.state, "")),
        _num(p.recipients),
        _num(view.excluded_total, "yellow"),
        _num(p.sent),
        _num(p.deferred, "cyan"),
        _num(view.state_count("delivered"), "green"),
        _num(failed, "red"),
        _num(p.replied),
        Text(p.cost, justify="right"),
    )
    return (p.campaign_id, cells)


def _num(value: int, style: str = "") -> Text:
    return Text(human_count(value), style=style if value else "dim", justify="right")


def _detail_text(view: CampaignView, tz: tzinfo) -> Text:
    p = view.progress
    lines: list[Text] = []
    head = Text.assemble((p.name or p.campaign_id, "bold"), (f"  {p.campaign_id}", "dim"))
    head.append(f"  {p.state}", style=_STATE_STYLES.get(p.state, ""))
    lines.append(head)
    who = Text.assemble(("created by ", "dim"), p.created_by or "?", ("  approved by ", "dim"))
    if p.approved_by:
        who.append(p.approved_by, style="green")
    elif unapproved(view):
        who.append("NOBODY: sending unapproved", style="bold red reverse")
    else:
        who.append("not yet", style="yellow")
    lines.append(who)
    excluded = Text.assemble(
        ("recipients ", "dim"),
        (f"{p.recipients:,}", "bold"),
        ("  excluded ", "dim"),
        (f"{view.excluded_total:,}", "bold yellow" if view.excluded_total else "bold"),
    )
    if p.excluded:
        excluded.append(
            " (" + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in _by_count(p.excluded)) + ")"
        )
    lines.append(excluded)
    lines.append(
        Text.assemble(
            ("sent ", "dim"),
            (f"{p.sent:,}", "bold"),
            ("  deferred ", "dim"),
            (f"{p.deferred:,}", "bold cyan" if p.deferred else "bold"),
            ("  replied ", "dim"),
            (f"{p.replied:,}", "bold"),
            ("  cost ", "dim"),
            (p.cost, "bold"),
        )
    )
    states = Text("states ", style="dim")
    if p.states:
        for index, (state, count) in enumerate(_by_count(p.states)):
            if index:
                states.append(" · ", style="dim")
            style = "green" if state == "delivered" else "red" if state in FAILED_STATES else ""
            states.append(f"{state} {count:,}", style=style)
    else:
        states.append("none yet", style="dim")
    lines.append(states)
    lines.append(
        Text(f"updated {clock_text(p.at, tz)} · {view.updates} progress events", style="dim")
    )
    return Text("\n").join(lines)


def _by_count(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
