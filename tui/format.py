"""Pure text formatting for the operator screens: numbers, times, sparklines, SMPP status names.

Invariants:
    * Pure: no Textual, no clock reads. Every function is a function of its arguments, so the
      screens render the same state to the same text (snapshot tests rely on it).
    * Times are shown in the zone the caller passes (UTC by default), never the host's zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Final

__all__ = [
    "SMPP_STATUS_NAMES",
    "SPARK_BARS",
    "clock_text",
    "error_label",
    "human_count",
    "millis",
    "percent",
    "sparkline",
    "status_name",
]

#: Eight heights of a sparkline bar, lowest first (a space stands for zero).
SPARK_BARS: Final[str] = "▁▂▃▄▅▆▇█"

#: SMPP 3.4 §5.1.3 command_status names an operator meets most (the rest show as hex).
SMPP_STATUS_NAMES: Final[dict[int, str]] = {
    0x00: "ESME_ROK",
    0x01: "ESME_RINVMSGLEN",
    0x02: "ESME_RINVCMDLEN",
    0x03: "ESME_RINVCMDID",
    0x04: "ESME_RINVBNDSTS",
    0x05: "ESME_RALYBND",
    0x06: "ESME_RINVPRTFLG",
    0x07: "ESME_RINVREGDLVFLG",
    0x08: "ESME_RSYSERR",
    0x0A: "ESME_RINVSRCADR",
    0x0B: "ESME_RINVDSTADR",
    0x0C: "ESME_RINVMSGID",
    0x0D: "ESME_RBINDFAIL",
    0x0E: "ESME_RINVPASWD",
    0x0F: "ESME_RINVSYSID",
    0x11: "ESME_RCANCELFAIL",
    0x13: "ESME_RREPLACEFAIL",
    0x14: "ESME_RMSGQFUL",
    0x15: "ESME_RINVSERTYP",
    0x33: "ESME_RINVNUMDESTS",
    0x34: "ESME_RINVDLNAME",
    0x40: "ESME_RINVDESTFLAG",
    0x42: "ESME_RINVSUBREP",
    0x43: "ESME_RINVESMCLASS",
    0x44: "ESME_RCNTSUBDL",
    0x45: "ESME_RSUBMITFAIL",
    0x48: "ESME_RINVSRCTON",
    0x49: "ESME_RINVSRCNPI",
    0x50: "ESME_RINVDSTTON",
    0x51: "ESME_RINVDSTNPI",
    0x53: "ESME_RINVSYSTYP",
    0x54: "ESME_RINVREPFLAG",
    0x55: "ESME_RINVNUMMSGS",
    0x58: "ESME_RTHROTTLED",
    0x61: "ESME_RINVSCHED",
    0x62: "ESME_RINVEXPIRY",
    0x63: "ESME_RINVDFTMSGID",
    0x64: "ESME_RX_T_APPN",
    0x65: "ESME_RX_P_APPN",
    0x66: "ESME_RX_R_APPN",
    0x67: "ESME_RQUERYFAIL",
    0xC0: "ESME_RINVOPTPARSTREAM",
    0xC1: "ESME_ROPTPARNOTALLWD",
    0xC2: "ESME_RINVPARLEN",
    0xC3: "ESME_RMISSINGOPTPARAM",
    0xC4: "ESME_RINVOPTPARAMVAL",
    0xFE: "ESME_RDELIVERYFAILURE",
    0xFF: "ESME_RUNKNOWNERR",
}


def status_name(code: int) -> str:
    """Name an SMPP command_status.

    Args:
        code: The command_status.

    Returns:
        The spec name (``ESME_RTHROTTLED``), or the code in hex when it has no known name.
    """
    return SMPP_STATUS_NAMES.get(code, f"0x{code:08X}")


def error_label(key: str) -> str:
    """Label an error-count key as a `MetricsSnapshot` writes it.

    Args:
        key: ``0x00000058`` for a command_status, or a free name.

    Returns:
        ``0x58 ESME_RTHROTTLED`` for a known status, ``0x1234`` for an unknown one, else the key.
    """
    if key[:2].lower() == "0x":
        try:
            code = int(key, 16)
        except ValueError:
            return key
        name = SMPP_STATUS_NAMES.get(code)
        return f"0x{code:02X} {name}" if name else f"0x{code:X}"
    return key


def human_count(value: float) -> str:
    """Shorten a count for a narrow column: 999, 1.2k, 34k, 5.6M.

    Args:
        value: A non-negative count or rate.

    Returns:
        At most five characters for values below a billion.
    """
    if value < 1000:
        return f"{value:.0f}" if float(value).is_integer() or value >= 100 else f"{value:.1f}"
    for limit, suffix in ((1e6, "k"), (1e9, "M")):
        if value < limit:
            scaled = value / (limit / 1000)
            return f"{scaled:.1f}{suffix}" if scaled < 10 else f"{scaled:.0f}{suffix}"
    return f"{value / 1e9:.1f}G"


def millis(value: float) -> str:
    """Show a latency in at most five characters: 0.4ms, 12ms, 1.3s, 95s, 12m, 3.5h.

    Args:
        value: Milliseconds.

    Returns:
        A short string with a unit.
    """
    if value < 9.95:
        return f"{value:.1f}ms"
    if value < 999.5:
        return f"{value:.0f}ms"
    if value < 9_950:
        return f"{value / 1000:.1f}s"
    if value < 599_500:
        return f"{value / 1000:.0f}s"
    if value < 5_970_000:
        return f"{value / 60_000:.0f}m"
    return f"{value / 3_600_000:.1f}h"


def percent(part: int, whole: int) -> str:
    """Show a share as a percentage with one decimal.

    Args:
        part: The count.
        whole: The total (0 gives ``-``).

    Returns:
        ``95.1%`` or ``-``.
    """
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


def clock_text(at: float, tz: tzinfo = UTC, *, with_date: bool = False) -> str:
    """Show an event time of day.

    Args:
        at: Seconds since the Unix epoch (the publisher's clock).
        tz: The zone to show it in.
        with_date: Prefix the date.

    Returns:
        ``HH:MM:SS`` (or ``YYYY-MM-DD HH:MM:SS``).
    """
    when = datetime.fromtimestamp(at, tz)
    return when.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def sparkline(values: Sequence[float], width: int | None = None) -> str:
    """Draw values as a row of block characters scaled to their maximum.

    Args:
        values: Oldest first.
        width: Keep only the newest `width` values (all when None).

    Returns:
        One character per value; zero is drawn as a space, any positive value as at least ``▁``.
    """
    shown = list(values[-width:] if width else values)
    top = max(shown, default=0)
    if top <= 0:
        return " " * len(shown)
    last = len(SPARK_BARS) - 1
    return "".join(
        " " if v <= 0 else SPARK_BARS[min(last, int(v / top * last + 0.5))] for v in shown
    )
