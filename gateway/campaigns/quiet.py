"""Quiet hours for campaigns: a re-export of `gateway.policy.quiet`, their home.

The contact-hours rules (deferral to the next window opening, validity capped at the window
close, minimum validity, wall-clock windows in the recipient's zone) moved to the gateway core
so that single submits and campaigns obey one implementation; see `gateway.policy.quiet` for
the theory of operation. This module only keeps the old import path working:
``gateway.campaigns.quiet.DailyWindow is gateway.policy.quiet.DailyWindow``.

Invariants:
    * No code of its own: every name is the very object of `gateway.policy.quiet`, and errors
      are `gateway.errors.QuietHoursError` (re-exported by `gateway.campaigns.errors`).
"""

from __future__ import annotations

from gateway.policy.quiet import (
    DEFAULT_MIN_VALIDITY,
    DEFAULT_WINDOW,
    JST,
    DailyWindow,
    SendSlot,
    is_allowed,
    next_open,
    open_windows,
    send_slot,
)

__all__ = [
    "DEFAULT_MIN_VALIDITY",
    "DEFAULT_WINDOW",
    "JST",
    "DailyWindow",
    "SendSlot",
    "is_allowed",
    "next_open",
    "open_windows",
    "send_slot",
]
