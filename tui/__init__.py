"""Textual operator UI. Sees the system only through `sms.bus` events and control messages.

`SmshApp` is the console; `run_tui` runs it in the caller's event loop (the scenario runner uses
it with an `InMemoryBus`); `tui.state.OpsState` is the pure model of what the console shows.
Textual is imported only when the console is used, so `tui.state` stays importable (and testable)
without it.
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from typing import TYPE_CHECKING

from sms.bus import Bus
from sms.clock import Clock
from tui.state import OpsState

if TYPE_CHECKING:
    from tui.app import SmshApp

__all__ = ["OpsState", "SmshApp", "run_tui"]


def __getattr__(name: str) -> object:
    if name == "SmshApp":
        from tui.app import SmshApp

        return SmshApp
    raise AttributeError(f"module 'tui' has no attribute {name!r}")


async def run_tui(
    bus: Bus,
    *,
    clock: Clock | None = None,
    title: str | None = None,
    tz: tzinfo = UTC,
    instance: str | None = None,
    headless: bool = False,
) -> int:
    """Run the console until the operator quits, in the running event loop.

    Args:
        bus: A started bus (``async with`` entered by the caller), in memory or MQTT.
        clock: The viewer's clock (the system clock when None).
        title: Header title.
        tz: Zone to show times in.
        instance: The console's instance id on the bus.
        headless: Run without a terminal (for automation).

    Returns:
        The process exit code: 0 when the operator quit, 1 when the app ended on an error.
    """
    from tui.app import SmshApp

    app = SmshApp(bus, clock=clock, title=title, tz=tz, instance=instance)
    await app.run_async(headless=headless)
    return app.return_code or 0
