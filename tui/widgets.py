"""Widgets shared by the screens: a DataTable that syncs to a list of rows without flicker."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey

__all__ = ["LiveTable", "Row"]

Row = tuple[str, tuple[Text, ...]]
"""A row key and its cells."""


class LiveTable(DataTable[Text]):
    """A `DataTable` fed whole lists of rows at a time.

    `sync` updates only the cells that changed while the row keys stay the same, and rebuilds
    the table (keeping the cursor on the same row key) when they do not.
    """

    DEFAULT_CSS = """
    LiveTable {
        height: 1fr;
    }
    """

    def __init__(
        self,
        columns: Sequence[tuple[str, str]],
        *,
        id: str | None = None,  # noqa: A002 - Textual's own parameter name
        classes: str | None = None,
    ) -> None:
        """Create the table.

        Args:
            columns: ``(key, label)`` of each column, in order.
            id: Widget id.
            classes: CSS classes.
        """
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=False)
        self._column_spec = list(columns)
        self._column_keys: list[ColumnKey] = []
        self._row_keys: list[str] = []
        self._cells: dict[str, tuple[Text, ...]] = {}

    def on_mount(self) -> None:
        """Add the columns."""
        self._column_keys = [self.add_column(label, key=key) for key, label in self._column_spec]

    @property
    def row_keys(self) -> list[str]:
        """The row keys shown, top to bottom."""
        return list(self._row_keys)

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor, if any."""
        if not self._row_keys or not 0 <= self.cursor_row < len(self._row_keys):
            return None
        return self._row_keys[self.cursor_row]

    def cell_text(self, key: str, column: int) -> str:
        """The plain text of one cell (for tests and copy).

        Args:
            key: Row key.
            column: Column index.

        Returns:
            The text, or an empty string when there is no such cell.
        """
        cells = self._cells.get(key)
        return cells[column].plain if cells is not None and column < len(cells) else ""

    def sync(self, rows: Sequence[Row], *, follow: bool = False) -> bool:
        """Show exactly these rows.

        Args:
            rows: ``(key, cells)`` top to bottom; keys must be unique.
            follow: After a rebuild, put the cursor on the first row (instead of keeping it on
                the same key) when it was there before.

        Returns:
            True when the table was rebuilt, False when only cells changed (or nothing did).
        """
        keys = [key for key, _ in rows]
        if keys == self._row_keys:
            for key, cells in rows:
                old = self._cells.get(key)
                if old == cells:
                    continue
                for index, cell in enumerate(cells):
                    if old is None or index >= len(old) or old[index] != cell:
                        with contextlib.suppress(CellDoesNotExist):
                            self.update_cell(key, self._column_keys[index], cell)
                self._cells[key] = cells
            return False
        selected = self.selected_key
        at_top = self.cursor_row <= 0
        self.clear()
        for key, cells in rows:
            self.add_row(*cells, key=key)
        self._row_keys = keys
        self._cells = dict(rows)
        if follow and at_top:
            target = 0
        elif selected is not None and selected in self._cells:
            target = keys.index(selected)
        else:
            target = 0
        if keys:
            self.move_cursor(row=target, animate=False, scroll=True)
        return True

    def key_of(self, row_key: RowKey) -> str | None:
        """The string key of a `RowKey` (from a DataTable event)."""
        return row_key.value
